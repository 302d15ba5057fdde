/** Creates a randomly initialised Qwen2-architecture checkpoint with the demo's char tokenizer. */
import * as torch from '../../torch/index.js';
import { CausalLM, makeConfig, savePretrained, type ConfigSpec } from '../../lm/index.js';
import { writeCharTokenizer, SPECIAL_TOKENS } from './tokenizer.js';

export type ModelShape = Pick<ConfigSpec, 'hiddenSize' | 'intermediateSize' | 'numLayers' | 'numHeads' | 'numKvHeads' | 'maxPositionEmbeddings'>;

/** Writes tokenizer files and a random model (HF layout) into `dir`; returns its parameter count. */
export function createRandomModel(dir: string, shape: ModelShape, seed = 0): number {
  const vocab = writeCharTokenizer(dir);
  torch.manualSeed(seed);
  const eos = SPECIAL_TOKENS.indexOf('<|im_end|>');
  const pad = SPECIAL_TOKENS.indexOf('<|endoftext|>');
  const model = new CausalLM(makeConfig({ modelType: 'qwen2', vocabSize: vocab, tieWordEmbeddings: true, eosTokenId: eos, padTokenId: pad, ...shape }));
  savePretrained(dir, model);
  const n = model.numParameters();
  model.dispose();
  return n;
}
