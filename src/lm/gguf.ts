/**
 * GGUF (llama.cpp's model file) → a Hugging Face checkpoint directory that `loadPretrained`,
 * transformers and vLLM read:
 *
 *   config.json              from `{arch}.*` metadata (llama, qwen2)
 *   model.safetensors        every tensor dequantized (gguf-dequant.ts) to float32 (or bfloat16),
 *                            renamed to HF's names; llama's q/k rows un-permuted (below)
 *   tokenizer.json           byte-level BPE from `tokenizer.ggml.tokens`/`merges`/`token_type`,
 *                            with the pre-tokenizer `tokenizer.ggml.pre` names
 *   tokenizer_config.json    special tokens, `add_bos_token`, `tokenizer.chat_template`
 *   generation_config.json   bos/eos/pad ids
 *
 * The header (metadata and tensor table) is read by `@huggingface/gguf` (local file, no network);
 * tensor data is read here with `pread`.
 *
 * Rotary layout: llama.cpp's HF→GGUF converter (convert_hf_to_gguf.py, LlamaModel.permute) stores
 * q_proj/k_proj rows of each head h, for n heads of width Dh, as
 *   gguf[h·Dh + 2j + s] = hf[h·Dh + s·Dh/2 + j]   (j < Dh/2, s ∈ {0, 1})
 * (interleaved pairs for its non-NeoX RoPE kernel; n = num_key_value_heads for k_proj). This
 * module inverts it for `llama`; qwen2 files are stored in HF's order (NeoX RoPE) and are copied.
 *
 * Errors (`GgufError`, each naming the file and the tensor or metadata field): a tensor type not in
 * {F32, F16, BF16, Q8_0, Q4_0, Q4_1}, a truncated file, a tensor whose shape contradicts the
 * metadata, a missing or unknown tensor, an architecture or tokenizer model not converted here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gguf as readGgufHeader } from '@huggingface/gguf';
import * as torch from '../torch/index.js';
import { type DType, type Tensor, saveSafetensorsDir } from '../torch/index.js';
import { GGML_TYPES, ggmlTypeName } from './gguf-dequant.js';

export class GgufError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GgufError';
  }
}

/** One tensor of a GGUF file. */
export interface GgufTensor {
  name: string;
  /** ggml type id (see gguf-dequant.ts). */
  type: number;
  /** GGUF order `ne` (fastest dimension first), as the file stores it. */
  ne: number[];
  /** Absolute byte offset of the data in the file. */
  offset: number;
  /** Bytes of data (ne's product / blockSize · typeSize); NaN for types not supported here. */
  nbytes: number;
}

export interface GgufFile {
  file: string;
  version: number;
  /** Metadata key → value (uint64 as number; arrays as arrays). */
  metadata: Record<string, unknown>;
  tensors: GgufTensor[];
}

export const GGUF_ARCHITECTURES = ['llama', 'qwen2'] as const;

const toNum = (v: unknown): unknown => (typeof v === 'bigint' ? Number(v) : Array.isArray(v) ? v.map(toNum) : v);

/** Reads the header of a GGUF file (metadata and tensor table); checks every tensor lies inside the file. */
export async function readGguf(file: string): Promise<GgufFile> {
  if (!fs.existsSync(file)) throw new GgufError(`${file}: not found`);
  const size = fs.statSync(file).size;
  let h: Awaited<ReturnType<typeof readGgufHeader>>;
  try {
    h = await readGgufHeader(path.resolve(file), { allowLocalFile: true });
  } catch (e) {
    throw new GgufError(`${file}: cannot read the GGUF header (${(e as Error).message}); is it a complete GGUF file?`);
  }
  if (!h.littleEndian) throw new GgufError(`${file}: a big-endian GGUF file; prime-ts reads little-endian files only`);
  const metadata: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(h.metadata)) metadata[k] = toNum(v);
  const base = Number(h.tensorDataOffset);
  const tensors = h.tensorInfos.map((t): GgufTensor => {
    const ne = t.shape.map(Number);
    const ty = GGML_TYPES.get(t.dtype);
    const numel = ne.reduce((a, b) => a * b, 1);
    return { name: t.name, type: t.dtype, ne, offset: base + Number(t.offset), nbytes: ty ? (numel / ty.blockSize) * ty.typeSize : NaN };
  });
  for (const t of tensors) {
    if (Number.isFinite(t.nbytes) && t.offset + t.nbytes > size)
      throw new GgufError(`${file}: tensor '${t.name}' (${ggmlTypeName(t.type)}, ne [${t.ne}]) needs bytes ${t.offset}..${t.offset + t.nbytes} but the file has ${size} bytes: the file is truncated`);
    if (t.offset > size) throw new GgufError(`${file}: tensor '${t.name}' starts at byte ${t.offset}, past the end of the file (${size} bytes): the file is truncated`);
  }
  return { file, version: Number(h.metadata.version), metadata, tensors };
}

/** The metadata fields this module turns into config.json, with the names used in errors. */
interface ArchFields {
  arch: string;
  layers: number;
  hidden: number;
  ffn: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
}

function meta(g: GgufFile, key: string, kind: 'int' | 'num' | 'str' | 'strs' | 'bool', required = false): unknown {
  const v = g.metadata[key];
  if (v === undefined) {
    if (required) throw new GgufError(`${g.file}: missing metadata field '${key}'`);
    return undefined;
  }
  const ok = kind === 'int' ? Number.isInteger(v) && (v as number) >= 0
    : kind === 'num' ? typeof v === 'number' && Number.isFinite(v)
    : kind === 'str' ? typeof v === 'string'
    : kind === 'bool' ? typeof v === 'boolean'
    : Array.isArray(v) && v.every((x) => typeof x === 'string');
  if (!ok) throw new GgufError(`${g.file}: metadata field '${key}' must be ${kind === 'strs' ? 'a string array' : kind === 'int' ? 'a non-negative integer' : `a ${kind}`}, got ${JSON.stringify(v)?.slice(0, 80)}`);
  return v;
}

/** float32 metadata (e.g. 9.999999747e-06) written as the shortest decimal that reads back the same float32 (1e-05). */
function shortF32(v: number): number {
  for (let p = 1; p <= 9; p++) {
    const s = Number(v.toPrecision(p));
    if (Math.fround(s) === Math.fround(v)) return s;
  }
  return v;
}

function archFields(g: GgufFile): ArchFields {
  const arch = meta(g, 'general.architecture', 'str', true) as string;
  if (!(GGUF_ARCHITECTURES as readonly string[]).includes(arch))
    throw new GgufError(`${g.file}: metadata field 'general.architecture' is '${arch}'; prime-ts converts ${GGUF_ARCHITECTURES.join(', ')}`);
  const hidden = meta(g, `${arch}.embedding_length`, 'int', true) as number;
  const heads = meta(g, `${arch}.attention.head_count`, 'int', true) as number;
  const kvHeads = (meta(g, `${arch}.attention.head_count_kv`, 'int') as number | undefined) ?? heads;
  const keyLen = meta(g, `${arch}.attention.key_length`, 'int') as number | undefined;
  const valLen = meta(g, `${arch}.attention.value_length`, 'int') as number | undefined;
  if (heads === 0 || kvHeads === 0 || heads % kvHeads !== 0)
    throw new GgufError(`${g.file}: metadata field '${arch}.attention.head_count' (${heads}) must be a positive multiple of '${arch}.attention.head_count_kv' (${kvHeads})`);
  const headDim = keyLen ?? hidden / heads;
  if (!Number.isInteger(headDim)) throw new GgufError(`${g.file}: metadata field '${arch}.embedding_length' (${hidden}) is not divisible by '${arch}.attention.head_count' (${heads})`);
  if (valLen !== undefined && valLen !== headDim)
    throw new GgufError(`${g.file}: metadata field '${arch}.attention.value_length' (${valLen}) differs from the key length ${headDim} (not supported)`);
  const ropeDim = meta(g, `${arch}.rope.dimension_count`, 'int') as number | undefined;
  if (ropeDim !== undefined && ropeDim !== headDim)
    throw new GgufError(`${g.file}: metadata field '${arch}.rope.dimension_count' (${ropeDim}) differs from the head width ${headDim}: partial rotary embeddings are not supported`);
  const tokens = meta(g, 'tokenizer.ggml.tokens', 'strs') as string[] | undefined;
  const vocab = (meta(g, `${arch}.vocab_size`, 'int') as number | undefined) ?? tokens?.length;
  if (vocab === undefined) throw new GgufError(`${g.file}: neither metadata field '${arch}.vocab_size' nor 'tokenizer.ggml.tokens' gives the vocabulary size`);
  return {
    arch, hidden, heads, kvHeads, headDim, vocab,
    layers: meta(g, `${arch}.block_count`, 'int', true) as number,
    ffn: meta(g, `${arch}.feed_forward_length`, 'int', true) as number,
  };
}

/** Builds the HF config.json object a GGUF file's metadata describes. */
export function ggufConfig(g: GgufFile): Record<string, unknown> {
  const a = archFields(g);
  const { arch } = a;
  const names = new Set(g.tensors.map((t) => t.name));
  const ctx = (meta(g, `${arch}.context_length`, 'int') as number | undefined) ?? (arch === 'qwen2' ? 32768 : 2048);
  const eps = meta(g, `${arch}.attention.layer_norm_rms_epsilon`, 'num', true) as number;
  const theta = (meta(g, `${arch}.rope.freq_base`, 'num') as number | undefined) ?? 10000;
  let ropeScaling: Record<string, unknown> | null = null;
  const scaling = meta(g, `${arch}.rope.scaling.type`, 'str') as string | undefined;
  if (scaling !== undefined && scaling !== 'none') {
    const factor = meta(g, `${arch}.rope.scaling.factor`, 'num', true) as number;
    if (scaling !== 'linear') throw new GgufError(`${g.file}: metadata field '${arch}.rope.scaling.type' is '${scaling}' (supported: none, linear)`);
    ropeScaling = { type: 'linear', factor };
  }
  if (names.has('rope_freqs.weight')) throw new GgufError(`${g.file}: tensor 'rope_freqs.weight' (per-frequency RoPE factors, e.g. Llama 3.1) is not supported`);
  const id = (k: string) => meta(g, `tokenizer.ggml.${k}`, 'int') as number | undefined;
  const bias = names.has('blk.0.attn_q.bias');
  const cfg: Record<string, unknown> = {
    architectures: [arch === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: arch,
    vocab_size: a.vocab,
    hidden_size: a.hidden,
    intermediate_size: a.ffn,
    num_hidden_layers: a.layers,
    num_attention_heads: a.heads,
    num_key_value_heads: a.kvHeads,
    head_dim: a.headDim,
    hidden_act: 'silu',
    max_position_embeddings: ctx,
    rms_norm_eps: shortF32(eps),
    rope_theta: shortF32(theta),
    rope_scaling: ropeScaling,
    tie_word_embeddings: !names.has('output.weight'),
    attention_dropout: 0.0,
    bos_token_id: id('bos_token_id') ?? null,
    eos_token_id: id('eos_token_id') ?? null,
    torch_dtype: 'float32',
  };
  if (id('padding_token_id') !== undefined) cfg.pad_token_id = id('padding_token_id');
  if (arch === 'llama') Object.assign(cfg, { attention_bias: bias, mlp_bias: false });
  else {
    if (!bias) throw new GgufError(`${g.file}: tensor 'blk.0.attn_q.bias' is missing (qwen2 has q/k/v biases)`);
    Object.assign(cfg, { use_sliding_window: false, sliding_window: null, max_window_layers: a.layers });
  }
  return cfg;
}

/**
 * GGUF tensor name → HF name and the HF shape the metadata implies (with the fields it comes from),
 * or null for a name this architecture does not have.
 */
function hfTensor(name: string, a: ArchFields, bias: { qkv: boolean }): { hf: string; shape: number[]; fields: string[] } | null {
  const p = a.arch;
  const D = a.hidden, qDim = a.heads * a.headDim, kvDim = a.kvHeads * a.headDim;
  const fD = `${p}.embedding_length`, fV = `${p}.vocab_size`, fF = `${p}.feed_forward_length`;
  const fQ = [`${p}.attention.head_count`, 'head width'], fK = [`${p}.attention.head_count_kv`, 'head width'];
  if (name === 'token_embd.weight') return { hf: 'model.embed_tokens.weight', shape: [a.vocab, D], fields: [fV, fD] };
  if (name === 'output.weight') return { hf: 'lm_head.weight', shape: [a.vocab, D], fields: [fV, fD] };
  if (name === 'output_norm.weight') return { hf: 'model.norm.weight', shape: [D], fields: [fD] };
  const m = /^blk\.(\d+)\.(.+)$/.exec(name);
  if (!m) return null;
  const i = Number(m[1]);
  if (i >= a.layers) return null;
  const pre = `model.layers.${i}.`;
  const table: Record<string, [string, number[], string[]]> = {
    'attn_norm.weight': ['input_layernorm.weight', [D], [fD]],
    'ffn_norm.weight': ['post_attention_layernorm.weight', [D], [fD]],
    'attn_q.weight': ['self_attn.q_proj.weight', [qDim, D], [...fQ, fD]],
    'attn_k.weight': ['self_attn.k_proj.weight', [kvDim, D], [...fK, fD]],
    'attn_v.weight': ['self_attn.v_proj.weight', [kvDim, D], [...fK, fD]],
    'attn_output.weight': ['self_attn.o_proj.weight', [D, qDim], [fD, ...fQ]],
    'ffn_gate.weight': ['mlp.gate_proj.weight', [a.ffn, D], [fF, fD]],
    'ffn_up.weight': ['mlp.up_proj.weight', [a.ffn, D], [fF, fD]],
    'ffn_down.weight': ['mlp.down_proj.weight', [D, a.ffn], [fD, fF]],
  };
  if (bias.qkv) {
    table['attn_q.bias'] = ['self_attn.q_proj.bias', [qDim], fQ];
    table['attn_k.bias'] = ['self_attn.k_proj.bias', [kvDim], fK];
    table['attn_v.bias'] = ['self_attn.v_proj.bias', [kvDim], fK];
    if (p === 'llama') table['attn_output.bias'] = ['self_attn.o_proj.bias', [D], [fD]];
  }
  const e = table[m[2]!];
  return e ? { hf: pre + e[0], shape: e[1], fields: e[2] } : null;
}

/** Undoes llama.cpp's rotary row permutation of q/k (weight rows or bias entries) in place. */
export function unpermuteRows(x: Float32Array, rows: number, nHeads: number): void {
  const cols = x.length / rows, Dh = rows / nHeads, half = Dh / 2;
  const src = x.slice();
  for (let h = 0; h < nHeads; h++)
    for (let j = 0; j < half; j++)
      for (let s = 0; s < 2; s++) {
        const from = (h * Dh + 2 * j + s) * cols, to = (h * Dh + s * half + j) * cols;
        x.set(src.subarray(from, from + cols), to);
      }
}

/** Reads and dequantizes one tensor to float32 (GGUF element order). */
export function readGgufTensor(g: GgufFile, t: GgufTensor, fd?: number): Float32Array {
  const ty = GGML_TYPES.get(t.type);
  if (!ty) throw new GgufError(`${g.file}: tensor '${t.name}' has type ${ggmlTypeName(t.type)}, which prime-ts does not dequantize (supported: ${[...GGML_TYPES.values()].map((x) => x.name).join(', ')})`);
  const numel = t.ne.reduce((a, b) => a * b, 1);
  if (t.ne[0]! % ty.blockSize !== 0) throw new GgufError(`${g.file}: tensor '${t.name}' (${ty.name}) has a row length ${t.ne[0]} that is not a multiple of the block size ${ty.blockSize}`);
  const buf = Buffer.alloc(t.nbytes);
  const own = fd === undefined;
  const f = own ? fs.openSync(g.file, 'r') : fd;
  try {
    const n = fs.readSync(f, buf, 0, t.nbytes, t.offset);
    if (n !== t.nbytes) throw new GgufError(`${g.file}: tensor '${t.name}': read ${n} of ${t.nbytes} bytes: the file is truncated`);
  } finally {
    if (own) fs.closeSync(f);
  }
  const out = new Float32Array(numel);
  ty.dequantize(new Uint8Array(buf.buffer, buf.byteOffset, buf.length), out);
  return out;
}

/** The tokenizer.json and tokenizer_config.json objects of a GGUF's `tokenizer.ggml.*` metadata. */
export function ggufTokenizer(g: GgufFile): { tokenizerJson: Record<string, unknown>; tokenizerConfig: Record<string, unknown> } {
  const model = meta(g, 'tokenizer.ggml.model', 'str', true) as string;
  if (model !== 'gpt2')
    throw new GgufError(`${g.file}: metadata field 'tokenizer.ggml.model' is '${model}'; prime-ts builds byte-level BPE tokenizers ('gpt2') only`);
  const tokens = meta(g, 'tokenizer.ggml.tokens', 'strs', true) as string[];
  const merges = meta(g, 'tokenizer.ggml.merges', 'strs', true) as string[];
  const types = (g.metadata['tokenizer.ggml.token_type'] as number[] | undefined) ?? [];
  if (types.length && types.length !== tokens.length)
    throw new GgufError(`${g.file}: metadata field 'tokenizer.ggml.token_type' has ${types.length} entries but 'tokenizer.ggml.tokens' has ${tokens.length}`);
  const pre = (meta(g, 'tokenizer.ggml.pre', 'str') as string | undefined) ?? 'default';
  const byteLevel = (useRegex: boolean) => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex });
  // Split patterns: llama.cpp's llama-vocab.cpp (pre-tokenizer types) = the HF tokenizers they were converted from.
  const QWEN2 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  const LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  const split = (re: string) => ({ type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: re }, behavior: 'Isolated', invert: false }, byteLevel(false)] });
  let preTokenizer: Record<string, unknown>;
  let normalizer: Record<string, unknown> | null = null;
  if (pre === 'default' || pre === 'gpt2') preTokenizer = byteLevel(true);
  else if (['smollm', 'starcoder', 'refact'].includes(pre))
    preTokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel(true)] };
  else if (['qwen2', 'deepseek-r1-qwen'].includes(pre)) {
    preTokenizer = split(QWEN2);
    normalizer = { type: 'NFC' };
  } else if (['llama-bpe', 'llama3', 'llama-v3', 'smaug-bpe'].includes(pre)) preTokenizer = split(LLAMA3);
  else throw new GgufError(`${g.file}: metadata field 'tokenizer.ggml.pre' is '${pre}' (supported: default, gpt2, smollm, starcoder, refact, qwen2, deepseek-r1-qwen, llama-bpe)`);

  const tokenAt = (key: string): string | null => {
    const i = meta(g, `tokenizer.ggml.${key}`, 'int') as number | undefined;
    if (i === undefined) return null;
    if (i >= tokens.length) throw new GgufError(`${g.file}: metadata field 'tokenizer.ggml.${key}' (${i}) is outside the vocabulary (${tokens.length} tokens)`);
    return tokens[i]!;
  };
  const bos = tokenAt('bos_token_id'), eos = tokenAt('eos_token_id'), pad = tokenAt('padding_token_id'), unk = tokenAt('unknown_token_id');
  const addBos = (meta(g, 'tokenizer.ggml.add_bos_token', 'bool') as boolean | undefined) ?? false;
  const addEos = (meta(g, 'tokenizer.ggml.add_eos_token', 'bool') as boolean | undefined) ?? false;

  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => { vocab[t] = i; });
  // token_type: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte (llama.cpp's llama_token_type)
  const added: Record<string, unknown>[] = [];
  const addedDecoder: Record<string, unknown> = {};
  types.forEach((ty, i) => {
    if (ty !== 3 && ty !== 4) return;
    const e = { id: i, content: tokens[i], single_word: false, lstrip: false, rstrip: false, normalized: false, special: ty === 3 };
    added.push(e);
    addedDecoder[String(i)] = { content: tokens[i], lstrip: false, normalized: false, rstrip: false, single_word: false, special: ty === 3 };
  });
  const tpl: Record<string, unknown>[] = [];
  const specials: Record<string, unknown> = {};
  if (addBos && bos !== null) {
    tpl.push({ SpecialToken: { id: bos, type_id: 0 } });
    specials[bos] = { id: bos, ids: [vocab[bos]], tokens: [bos] };
  }
  tpl.push({ Sequence: { id: 'A', type_id: 0 } });
  if (addEos && eos !== null) {
    tpl.push({ SpecialToken: { id: eos, type_id: 0 } });
    specials[eos] = { id: eos, ids: [vocab[eos]], tokens: [eos] };
  }
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer,
    pre_tokenizer: preTokenizer,
    post_processor: { type: 'TemplateProcessing', single: tpl, pair: [...tpl, ...tpl.map((x) => ('Sequence' in x ? { Sequence: { id: 'B', type_id: 1 } } : x))], special_tokens: specials },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab,
      merges: merges.map((m, i) => {
        const parts = m.split(' ');
        if (parts.length !== 2) throw new GgufError(`${g.file}: metadata field 'tokenizer.ggml.merges' entry ${i} (${JSON.stringify(m)}) is not two tokens separated by one space`);
        return parts;
      }),
    },
  };
  const arch = meta(g, 'general.architecture', 'str') as string | undefined;
  const tokenizerConfig: Record<string, unknown> = {
    add_bos_token: addBos,
    add_eos_token: addEos,
    added_tokens_decoder: addedDecoder,
    bos_token: bos,
    eos_token: eos,
    pad_token: pad,
    unk_token: unk,
    clean_up_tokenization_spaces: false,
    model_max_length: (arch && (g.metadata[`${arch}.context_length`] as number | undefined)) ?? 2048,
    tokenizer_class: arch === 'qwen2' ? 'Qwen2Tokenizer' : 'GPT2Tokenizer',
  };
  const chat = meta(g, 'tokenizer.chat_template', 'str') as string | undefined;
  if (chat !== undefined) tokenizerConfig.chat_template = chat;
  return { tokenizerJson, tokenizerConfig };
}

export interface ConvertOptions {
  /** Stored dtype of the safetensors (default float32; dequantized values are exact in float32). */
  dtype?: Extract<DType, 'float32' | 'bfloat16'>;
}

export interface ConvertResult {
  config: Record<string, unknown>;
  /** Tensors written, by ggml type name. */
  tensorTypes: Record<string, number>;
  /** Parameters written. */
  parameters: number;
}

/**
 * Converts a GGUF file to a Hugging Face checkpoint directory (see the module comment).
 * Everything is checked (types, bounds, names, shapes) before any tensor data is read.
 */
export async function convertGguf(file: string, outDir: string, opts: ConvertOptions = {}): Promise<ConvertResult> {
  const g = await readGguf(file);
  const config = ggufConfig(g);
  const a = archFields(g);
  const tok = g.metadata['tokenizer.ggml.model'] !== undefined ? ggufTokenizer(g) : null;
  const bias = { qkv: g.tensors.some((t) => t.name === 'blk.0.attn_q.bias') };
  const plan: { t: GgufTensor; hf: string; shape: number[] }[] = [];
  const seen = new Set<string>();
  for (const t of g.tensors) {
    const m = hfTensor(t.name, a, bias);
    if (!m) throw new GgufError(`${file}: tensor '${t.name}' is not part of the ${a.arch} architecture prime-ts converts (metadata '${a.arch}.block_count' = ${a.layers})`);
    if (!GGML_TYPES.has(t.type))
      throw new GgufError(`${file}: tensor '${t.name}' has type ${ggmlTypeName(t.type)}, which prime-ts does not dequantize (supported: ${[...GGML_TYPES.values()].map((x) => x.name).join(', ')})`);
    const shape = [...t.ne].reverse();
    if (shape.join() !== m.shape.join())
      throw new GgufError(`${file}: tensor '${t.name}' has shape [${shape}] (GGUF ne [${t.ne}]) but the metadata (${m.fields.join(', ')}) implies [${m.shape}]`);
    plan.push({ t, hf: m.hf, shape });
    seen.add(m.hf);
  }
  const need = [`model.embed_tokens.weight`, 'model.norm.weight'];
  const per = ['input_layernorm.weight', 'post_attention_layernorm.weight', 'self_attn.q_proj.weight', 'self_attn.k_proj.weight', 'self_attn.v_proj.weight', 'self_attn.o_proj.weight', 'mlp.gate_proj.weight', 'mlp.up_proj.weight', 'mlp.down_proj.weight'];
  if (bias.qkv) per.push('self_attn.q_proj.bias', 'self_attn.k_proj.bias', 'self_attn.v_proj.bias');
  for (let i = 0; i < a.layers; i++) for (const p of per) need.push(`model.layers.${i}.${p}`);
  for (const n of need) if (!seen.has(n)) throw new GgufError(`${file}: no tensor for '${n}' (metadata '${a.arch}.block_count' = ${a.layers})`);

  const dtype = opts.dtype ?? 'float32';
  const out = new Map<string, Tensor>();
  const tensorTypes: Record<string, number> = {};
  let parameters = 0;
  const fd = fs.openSync(file, 'r');
  try {
    for (const { t, hf, shape } of plan) {
      const x = readGgufTensor(g, t, fd);
      if (a.arch === 'llama' && /\.self_attn\.[qk]_proj\./.test(hf)) unpermuteRows(x, shape[0]!, hf.includes('q_proj') ? a.heads : a.kvHeads);
      const f = torch.tensor(x, { shape });
      if (dtype === 'float32') out.set(hf, f);
      else {
        out.set(hf, f.to(dtype));
        f.dispose();
      }
      const name = ggmlTypeName(t.type);
      tensorTypes[name] = (tensorTypes[name] ?? 0) + 1;
      parameters += x.length;
    }
    fs.mkdirSync(outDir, { recursive: true });
    saveSafetensorsDir(outDir, out, { metadata: { source: `gguf:${path.basename(file)}` } });
  } finally {
    fs.closeSync(fd);
    for (const x of out.values()) x.dispose();
  }
  config.torch_dtype = dtype;
  fs.writeFileSync(path.join(outDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  const gen: Record<string, unknown> = {};
  for (const k of ['bos_token_id', 'eos_token_id', 'pad_token_id']) if (config[k] !== undefined && config[k] !== null) gen[k] = config[k];
  fs.writeFileSync(path.join(outDir, 'generation_config.json'), JSON.stringify(gen, null, 2) + '\n');
  if (tok) {
    fs.writeFileSync(path.join(outDir, 'tokenizer.json'), JSON.stringify(tok.tokenizerJson));
    fs.writeFileSync(path.join(outDir, 'tokenizer_config.json'), JSON.stringify(tok.tokenizerConfig, null, 2) + '\n');
  }
  return { config, tensorTypes, parameters };
}
