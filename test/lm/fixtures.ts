/**
 * Test fixtures for prime-ts/lm: tiny random models, a byte-level BPE tokenizer built here (not
 * downloaded), and checkpoint directories in a temporary folder.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import type { DType, Tensor } from '../../src/torch/index.js';
import { CausalLM, makeConfig, type ConfigSpec, Tokenizer } from '../../src/lm/index.js';

export const SPECIAL = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];

/**
 * GPT-2's byte → printable character map: bytes that are printable Latin-1 stand for themselves,
 * the other 68 are moved to U+0100 onwards, so every byte string is a string of vocabulary symbols.
 */
export function byteToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const out: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(keep.includes(b) ? b : 256 + extra++);
  return out;
}

/**
 * A byte-level BPE tokenizer.json: 256 byte symbols (ids 0–255), a few merges (ids 256…), then
 * the special tokens. Qwen2-like: ByteLevel pre-tokenizer (GPT-2 split regex) and decoder.
 */
export function byteLevelTokenizerJson(): { json: Record<string, unknown>; vocabSize: number; specialIds: Record<string, number> } {
  const b2u = byteToUnicode();
  const vocab: Record<string, number> = {};
  b2u.forEach((ch, b) => (vocab[ch] = b));
  const G = b2u[0x20]!; // 'Ġ', the space byte
  const merges: [string, string][] = [['h', 'e'], ['l', 'l'], ['he', 'll'], [G, 't'], [G + 't', 'h'], [G + 'th', 'e'], ['o', 'r'], [G, 'w'], [G + 'w', 'or'], ['1', '2']];
  for (const [a, b] of merges) vocab[a + b] = Object.keys(vocab).length;
  const specialIds: Record<string, number> = {};
  const added = SPECIAL.map((content) => {
    const id = Object.keys(vocab).length + Object.keys(specialIds).length;
    specialIds[content] = id;
    return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
  });
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges: merges.map(([a, b]) => `${a} ${b}`) },
  };
  return { json, vocabSize: Object.keys(vocab).length + added.length, specialIds };
}

/** A ChatML template written for these tests: default system turn, generation prompt. */
export const CHAT_TEMPLATE =
  "{%- if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a test.<|im_end|>\\n' }}{%- endif %}" +
  "{%- for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endfor %}" +
  "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}";

export function tokenizerConfigJson(): Record<string, unknown> {
  return {
    add_prefix_space: false,
    bos_token: null,
    eos_token: '<|im_end|>',
    pad_token: '<|endoftext|>',
    unk_token: null,
    chat_template: CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false,
    model_max_length: 4096,
    tokenizer_class: 'Qwen2Tokenizer',
  };
}

export function makeTokenizer(): Tokenizer {
  return new Tokenizer(byteLevelTokenizerJson().json, tokenizerConfigJson());
}

/** The vocabulary of the test tokenizer, rounded up as Qwen does (the model has spare rows). */
export const TEST_VOCAB = 288;

export function tinySpec(over: Partial<ConfigSpec> = {}): ConfigSpec {
  const sp = byteLevelTokenizerJson().specialIds;
  return {
    modelType: 'qwen2', vocabSize: TEST_VOCAB, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2,
    tieWordEmbeddings: false, ropeTheta: 10000, eosTokenId: sp['<|im_end|>'], ...over,
  };
}

/** A random model; std 0.3 makes its distributions peaked enough to test sampling. */
export function tinyModel(over: Partial<ConfigSpec> = {}, dtype: DType = 'float32', seed = 1, std = 0.3): CausalLM {
  torch.manualSeed(seed);
  return new CausalLM(makeConfig(tinySpec(over)), { dtype, init: { kind: 'random', std } });
}

const tmpDirs: string[] = [];
process.on('exit', () => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});
/** A fresh temporary directory, removed when the test process exits. */
export function tmpDir(tag: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `prime-lm-${tag}-`));
  tmpDirs.push(d);
  return d;
}

export function maxAbsDiff(a: Tensor, b: Tensor): number {
  return torch.tidy(() => a.to('float64').sub(b.to('float64')).abs().max().item());
}

/** Asserts max |a − b| ≤ tol and prints the figure. */
export function assertClose(name: string, a: Tensor, b: Tensor, tol: number): void {
  assert.deepEqual(a.shape, b.shape, `${name}: shapes differ`);
  const d = maxAbsDiff(a, b);
  console.log(`${name}: max |diff| = ${d.toExponential(2)} (tol ${tol})`);
  assert.ok(d <= tol, `${name}: max |diff| ${d} > ${tol}`);
}

/** Random token ids below `hi` as JS arrays of the given lengths. */
export function randomPrompts(lengths: number[], hi = 256, seed = 7): number[][] {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % hi);
  return lengths.map((L) => Array.from({ length: L }, next));
}
