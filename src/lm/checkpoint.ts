/**
 * Hugging Face checkpoint directories: load and save in the layout transformers and vLLM read.
 *
 *   config.json                      architecture (see config.ts)
 *   generation_config.json           eos/pad/bos ids, sampling defaults (optional)
 *   model.safetensors                weights, or model-0000i-of-0000n.safetensors shards
 *   model.safetensors.index.json     + its weight_map when sharded
 *   tokenizer.json, tokenizer_config.json, …   copied verbatim
 *
 * Loading checks every tensor name and shape against the architecture before reading any data;
 * a missing, unexpected or mis-shaped tensor is a CheckpointError naming it. Weights stored in
 * bf16/f16/f32/f64 are converted to the compute dtype as they are read, one tensor at a time.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as torch from '../torch/index.js';
import { type DType, type Device, type Tensor, noGrad, readSafetensorsHeader, loadSafetensors, saveSafetensorsDir, INDEX_FILE } from '../torch/index.js';
import { ConfigError, parseConfig, type LMConfig } from './config.js';
import { CausalLM } from './model.js';
import { Tokenizer } from './tokenizer.js';

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** The parts of generation_config.json this module uses; `raw` keeps the rest for saving. */
export interface GenerationConfig {
  eosTokenIds: number[];
  padTokenId: number | null;
  bosTokenId: number | null;
  raw: Record<string, unknown>;
}

export interface Pretrained {
  model: CausalLM;
  tokenizer: Tokenizer | null;
  generationConfig: GenerationConfig;
  /**
   * Token ids that end a response: generation_config's eos ids, config.json's, and the
   * tokenizer's eos token (Qwen2.5-Instruct ends turns with <|im_end|> but pads with <|endoftext|>).
   */
  stopTokenIds: number[];
}

export interface LoadOptions {
  /** Compute dtype; stored weights are converted. Default float32. */
  dtype?: DType;
  /** Device to load the weights onto ('cpu' default, 'cuda', 'cuda:N'); see CausalLMOptions.device. */
  device?: Device;
  /** Load tokenizer.json/tokenizer_config.json too (default true; absent files give null). */
  tokenizer?: boolean;
}

// Buffers some older checkpoints saved that carry no learned state.
const IGNORED = /^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/;
const FLOAT_DTYPES: DType[] = ['float32', 'float16', 'bfloat16', 'float64'];

function readJson(file: string): unknown {
  let s: string;
  try {
    s = fs.readFileSync(file, 'utf8');
  } catch {
    const dir = path.dirname(file);
    // a prime run checkpoint holds the models one level down
    const inside = ['policy', 'prm'].filter((d) => fs.existsSync(path.join(dir, d, path.basename(file))));
    throw new CheckpointError(`${file}: not found${inside.length ? ` (${dir} is a run checkpoint: its models are ${inside.map((d) => path.join(dir, d)).join(' and ')})` : ''}`);
  }
  try {
    return JSON.parse(s);
  } catch (e) {
    throw new CheckpointError(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** Reads config.json of a checkpoint directory. */
export function loadConfig(dir: string): LMConfig {
  const file = path.join(dir, 'config.json');
  return parseConfig(readJson(file), file);
}

export function loadGenerationConfig(dir: string, config: LMConfig): GenerationConfig {
  const file = path.join(dir, 'generation_config.json');
  const raw = fs.existsSync(file) ? (readJson(file) as Record<string, unknown>) : {};
  const ids = (v: unknown): number[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]).filter((x): x is number => Number.isInteger(x));
  const eos = ids(raw.eos_token_id);
  return {
    eosTokenIds: eos.length ? eos : config.eosTokenIds,
    padTokenId: ids(raw.pad_token_id)[0] ?? config.padTokenId,
    bosTokenId: ids(raw.bos_token_id)[0] ?? config.bosTokenId,
    raw,
  };
}

/** Where each stored tensor lives: name → {file, dtype, shape}. */
function tensorIndex(dir: string): Map<string, { file: string; dtype: DType; shape: number[] }> {
  const single = path.join(dir, 'model.safetensors');
  const indexFile = path.join(dir, INDEX_FILE);
  const out = new Map<string, { file: string; dtype: DType; shape: number[] }>();
  const addFile = (file: string, only?: Set<string>) => {
    const hdr = readSafetensorsHeader(file);
    for (const [name, e] of hdr.tensors) if (!only || only.has(name)) out.set(name, { file, dtype: e.dtype, shape: e.shape });
    if (only) for (const n of only) if (!hdr.tensors.has(n)) throw new CheckpointError(`${indexFile}: tensor '${n}' is mapped to ${path.basename(file)}, which does not contain it`);
  };
  if (fs.existsSync(single)) addFile(single);
  else if (fs.existsSync(indexFile)) {
    const idx = readJson(indexFile) as { weight_map?: Record<string, string> };
    if (!idx || typeof idx.weight_map !== 'object' || idx.weight_map === null) throw new CheckpointError(`${indexFile}: no 'weight_map' object`);
    const byShard = new Map<string, Set<string>>();
    for (const [name, shard] of Object.entries(idx.weight_map)) {
      if (!byShard.has(shard)) byShard.set(shard, new Set());
      byShard.get(shard)!.add(name);
    }
    for (const [shard, names] of byShard) {
      const f = path.join(dir, shard);
      if (!fs.existsSync(f)) throw new CheckpointError(`${indexFile}: shard '${shard}' (holding '${[...names][0]}') does not exist`);
      addFile(f, names);
    }
  } else throw new CheckpointError(`${dir}: no model.safetensors or ${INDEX_FILE}`);
  return out;
}

/** Loads config.json and the weights of a checkpoint directory into a new CausalLM. */
export function loadModel(dir: string, opts: { dtype?: DType; device?: Device } = {}): CausalLM {
  let config: LMConfig;
  try {
    config = loadConfig(dir);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw e instanceof CheckpointError ? e : new CheckpointError((e as Error).message);
  }
  const stored = tensorIndex(dir);
  const model = new CausalLM(config, { dtype: opts.dtype ?? 'float32', init: { kind: 'empty' }, device: opts.device });
  try {
    const expected = model.stateDict();
    const problems: string[] = [];
    let tiedHead = false;
    for (const [name, s] of stored) {
      if (IGNORED.test(name)) continue;
      if (name === 'lm_head.weight' && config.tieWordEmbeddings) {
        tiedHead = true; // some tied checkpoints store the shared matrix twice; checked equal below
        continue;
      }
      const dst = expected.get(name);
      if (!dst) {
        problems.push(`unexpected tensor '${name}' (shape [${s.shape}])`);
        continue;
      }
      if (s.shape.join(',') !== dst.shape.join(',')) problems.push(`tensor '${name}' has shape [${s.shape}] but config.json implies [${dst.shape}]`);
      if (!FLOAT_DTYPES.includes(s.dtype)) problems.push(`tensor '${name}' is stored as ${s.dtype}, not a float type`);
    }
    for (const name of expected.keys()) {
      if (!stored.has(name)) problems.push(`missing tensor '${name}'${name === 'lm_head.weight' ? ' (config.json says tie_word_embeddings: false)' : ''}`);
    }
    if (problems.length) throw new CheckpointError(`${dir}: ${problems.join('; ')}`);

    noGrad(() => {
      for (const [name, dst] of expected) {
        const { file } = stored.get(name)!;
        const src = loadSafetensors(file, { names: [name] }).get(name)!;
        dst.copy_(src); // converts to the compute dtype
        src.dispose();
      }
      if (tiedHead) {
        const head = loadSafetensors(stored.get('lm_head.weight')!.file, { names: ['lm_head.weight'] }).get('lm_head.weight')!;
        const same = torch.tidy(() => head.shape.join() === model.model.embed_tokens.weight.shape.join() && head.to(model.dtype).equal(model.model.embed_tokens.weight));
        head.dispose();
        if (!same) throw new CheckpointError(`${dir}: tie_word_embeddings is true but the stored 'lm_head.weight' differs from 'model.embed_tokens.weight'`);
      }
    });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/**
 * Every token id of the tokenizer must index a row of the model's embedding: its largest id + 1
 * may not exceed config.json's vocab_size (a model with spare rows is fine, as Qwen's). Throws a
 * CheckpointError naming both files.
 */
export function checkTokenizerFits(tokenizer: Tokenizer, config: LMConfig, dir: string): void {
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new CheckpointError(
      `${path.join(dir, 'tokenizer.json')}: the tokenizer has ${tokenizer.vocabSize} token ids (0…${tokenizer.vocabSize - 1}) ` +
        `but ${path.join(dir, 'config.json')} says vocab_size ${config.vocabSize}: ids ≥ ${config.vocabSize} have no embedding row`,
    );
  }
}

/** Loads a checkpoint directory: model, tokenizer, generation config and the stop token ids. */
export function loadPretrained(dir: string, opts: LoadOptions = {}): Pretrained {
  // The tokenizer first: a mismatch with config.json fails before any weight is read.
  const wantTok = opts.tokenizer ?? true;
  const tokenizer = wantTok && fs.existsSync(path.join(dir, 'tokenizer.json')) ? Tokenizer.fromDir(dir) : null;
  if (tokenizer !== null) checkTokenizerFits(tokenizer, loadConfig(dir), dir);
  const model = loadModel(dir, opts);
  try {
    const generationConfig = loadGenerationConfig(dir, model.config);
    const stop = new Set([...generationConfig.eosTokenIds, ...model.config.eosTokenIds]);
    if (tokenizer?.eosTokenId != null) stop.add(tokenizer.eosTokenId);
    return { model, tokenizer, generationConfig, stopTokenIds: [...stop] };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

export interface SaveOptions {
  tokenizer?: Tokenizer | null;
  /** generation_config.json contents; default: built from config.json's bos/eos/pad ids. */
  generationConfig?: Record<string, unknown> | GenerationConfig | null;
  /** Stored dtype (default the model's). bf16 halves the files; HF and vLLM read any of them. */
  dtype?: DType;
  /** Shard when the weights exceed this many bytes (default 5 GiB, as transformers). */
  maxShardBytes?: number;
  /**
   * Tensors to write instead of the model's own, by state-dict name (e.g. the float32 master
   * weights of a bf16 model); names the model does not have are an error, names left out are
   * taken from the model.
   */
  tensors?: Map<string, Tensor>;
}

/** Saves a model (and tokenizer) as a Hugging Face checkpoint directory. */
export function savePretrained(dir: string, model: CausalLM, opts: SaveOptions = {}): void {
  const dtype = opts.dtype ?? model.dtype;
  fs.mkdirSync(dir, { recursive: true });
  const c = model.config;
  const cfg: Record<string, unknown> = { ...c.raw, torch_dtype: dtype, tie_word_embeddings: c.tieWordEmbeddings };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
  let gen: Record<string, unknown>;
  const g = opts.generationConfig;
  if (g && 'raw' in g && 'eosTokenIds' in g) gen = { ...(g as GenerationConfig).raw };
  else if (g) gen = { ...(g as Record<string, unknown>) };
  else {
    gen = {};
    if (c.bosTokenId !== null) gen.bos_token_id = c.bosTokenId;
    if (c.eosTokenIds.length) gen.eos_token_id = c.eosTokenIds.length === 1 ? c.eosTokenIds[0] : c.eosTokenIds;
    if (c.padTokenId !== null) gen.pad_token_id = c.padTokenId;
  }
  fs.writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify(gen, null, 2) + '\n');
  noGrad(() => {
    const sd = model.stateDict();
    for (const n of opts.tensors?.keys() ?? []) if (!sd.has(n)) throw new Error(`savePretrained: '${n}' in opts.tensors is not in the model's state dict`);
    const out = new Map<string, Tensor>();
    try {
      for (const [n, own] of sd) {
        const t = opts.tensors?.get(n) ?? own;
        if (t.shape.join(',') !== own.shape.join(',')) throw new Error(`savePretrained: opts.tensors '${n}' has shape [${t.shape}] but the model's [${own.shape}]`);
        out.set(n, t.dtype === dtype ? t.detach() : t.to(dtype));
      }
      saveSafetensorsDir(dir, out, { maxShardBytes: opts.maxShardBytes });
    } finally {
      for (const t of out.values()) t.dispose();
    }
  });
  opts.tokenizer?.save(dir);
}
