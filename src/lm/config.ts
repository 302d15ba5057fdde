/**
 * The architecture of a Qwen2-, Qwen3- or Llama-family decoder, read from a Hugging Face `config.json`.
 *
 * Everything the forward pass depends on is parsed and checked here, once: an option this module
 * does not implement (another `model_type`, an activation other than SiLU, a sliding window in
 * use, a RoPE scaling type other than linear/llama3, attention dropout) is a `ConfigError`, never
 * a silent approximation.
 */

/** A config.json that is malformed or asks for something this module does not implement. */
export class ConfigError extends Error {
  constructor(message: string, readonly source = 'config.json') {
    super(`${source}: ${message}`);
    this.name = 'ConfigError';
  }
}

export type ModelType = 'qwen2' | 'qwen3' | 'llama';
export const SUPPORTED_MODEL_TYPES: readonly ModelType[] = ['qwen2', 'qwen3', 'llama'];

/** RoPE frequency scaling (HF `rope_scaling`). */
export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number };

export interface LMConfig {
  modelType: ModelType;
  /** V: rows of the embedding and of lm_head (may exceed the tokenizer's vocabulary: Qwen pads to 151936). */
  vocabSize: number;
  /** D: model width. */
  hiddenSize: number;
  /** Width of the SiLU-gated MLP. */
  intermediateSize: number;
  numLayers: number;
  /** H: query heads. */
  numHeads: number;
  /** Hkv: key/value heads; H / Hkv query heads share each (grouped-query attention). */
  numKvHeads: number;
  /** Dh: per-head width; `head_dim` when given, else D / H (Qwen3: 128, its config's default). */
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  maxPositionEmbeddings: number;
  /** lm_head shares model.embed_tokens.weight (no lm_head.weight tensor in the checkpoint). */
  tieWordEmbeddings: boolean;
  /** Bias on q/k/v projections (Qwen2: always; Llama, Qwen3: `attention_bias`). */
  qkvBias: boolean;
  /** Bias on o_proj (Qwen2: never; Llama, Qwen3: `attention_bias`). */
  oBias: boolean;
  /** Per-head RMSNorm (width Dh) of queries and keys before RoPE: `q_norm` / `k_norm` (Qwen3). */
  qkNorm: boolean;
  /** Bias on gate/up/down projections (Llama `mlp_bias`; Qwen2: never). */
  mlpBias: boolean;
  bosTokenId: number | null;
  /** End-of-sequence ids from config.json (`eos_token_id`, an int or a list). */
  eosTokenIds: number[];
  padTokenId: number | null;
  /** The parsed config.json as read (unknown keys included), kept so a save round-trips it. */
  raw: Record<string, unknown>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function intField(raw: Record<string, unknown>, key: string, dflt?: number, min = 1): number {
  const v = raw[key] ?? dflt;
  if (v === undefined) throw new ConfigError(`missing required field '${key}'`);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ConfigError(`'${key}' must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return v;
}
function numField(raw: Record<string, unknown>, key: string, dflt: number): number {
  const v = raw[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ConfigError(`'${key}' must be a positive number, got ${JSON.stringify(v)}`);
  return v;
}
function boolField(raw: Record<string, unknown>, key: string, dflt: boolean): boolean {
  const v = raw[key] ?? dflt;
  if (typeof v !== 'boolean') throw new ConfigError(`'${key}' must be a boolean, got ${JSON.stringify(v)}`);
  return v;
}
function idList(v: unknown, key: string): number[] {
  if (v === undefined || v === null) return [];
  const arr = Array.isArray(v) ? v : [v];
  for (const x of arr) if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) throw new ConfigError(`'${key}' must be a token id or a list of them, got ${JSON.stringify(v)}`);
  return arr as number[];
}

function parseRopeScaling(v: unknown, maxPos: number): RopeScaling | null {
  if (v === undefined || v === null) return null;
  if (isObj(v) && (v.rope_type ?? v.type) === undefined && Object.keys(v).every((k) => k === 'rope_theta')) return null;
  if (!isObj(v)) throw new ConfigError(`'rope_scaling' must be an object or null, got ${JSON.stringify(v)}`);
  const type = v.rope_type ?? v.type;
  if (type === 'default') return null;
  const factor = v.factor;
  if (typeof factor !== 'number' || !(factor > 0)) throw new ConfigError(`rope_scaling.factor must be a positive number, got ${JSON.stringify(factor)}`);
  if (type === 'linear') return { type, factor };
  if (type === 'llama3') {
    const num = (k: string, d?: number): number => {
      const x = v[k] ?? d;
      if (typeof x !== 'number' || !(x > 0)) throw new ConfigError(`rope_scaling.${k} must be a positive number, got ${JSON.stringify(x)}`);
      return x;
    };
    return {
      type,
      factor,
      lowFreqFactor: num('low_freq_factor'),
      highFreqFactor: num('high_freq_factor'),
      originalMaxPositionEmbeddings: num('original_max_position_embeddings', maxPos),
    };
  }
  throw new ConfigError(`rope_scaling type '${String(type)}' is not supported (supported: default, linear, llama3)`);
}

/** Parses and checks an HF config.json object. */
export function parseConfig(raw: unknown, source = 'config.json'): LMConfig {
  try {
    return parseConfigInner(raw);
  } catch (e) {
    if (e instanceof ConfigError && source !== 'config.json') throw new ConfigError(e.message.replace(/^config\.json: /, ''), source);
    throw e;
  }
}

function parseConfigInner(raw: unknown): LMConfig {
  if (!isObj(raw)) throw new ConfigError('not a JSON object');
  const modelType = raw.model_type;
  if (typeof modelType !== 'string') throw new ConfigError(`missing 'model_type' (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`);
  if (!SUPPORTED_MODEL_TYPES.includes(modelType as ModelType))
    throw new ConfigError(`model_type '${modelType}' is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`);
  const mt = modelType as ModelType;

  const act = raw.hidden_act ?? 'silu';
  if (act !== 'silu') throw new ConfigError(`hidden_act '${String(act)}' is not supported (only 'silu')`);
  const attnDropout = raw.attention_dropout ?? 0;
  if (attnDropout !== 0 && attnDropout !== 0.0) throw new ConfigError(`attention_dropout ${JSON.stringify(attnDropout)} is not supported (only 0)`);
  // Qwen2 applies its sliding window to layers ≥ max_window_layers (default 28) when
  // use_sliding_window is set; newer configs list per-layer 'layer_types'.
  const nLayers = typeof raw.num_hidden_layers === 'number' ? raw.num_hidden_layers : 0;
  const windowFrom = typeof raw.max_window_layers === 'number' ? raw.max_window_layers : 28;
  if (raw.use_sliding_window === true && windowFrom < nLayers)
    throw new ConfigError(`use_sliding_window=true with max_window_layers ${windowFrom} < ${nLayers} layers is not supported (prime-ts/lm has no sliding-window attention)`);
  if (Array.isArray(raw.layer_types) && raw.layer_types.some((t) => t !== 'full_attention'))
    throw new ConfigError(`layer_types ${JSON.stringify(raw.layer_types)} is not supported (only full_attention)`);
  // Llama's pretraining_tp > 1 only splits the same matmuls into slices: the same function, accepted.

  const hiddenSize = intField(raw, 'hidden_size');
  const numHeads = intField(raw, 'num_attention_heads');
  const numKvHeads = intField(raw, 'num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0)
    throw new ConfigError(`num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`);
  const headDimRaw = raw.head_dim ?? (mt === 'qwen3' ? 128 : null);
  let headDim: number;
  if (headDimRaw === null) {
    if (hiddenSize % numHeads !== 0) throw new ConfigError(`hidden_size (${hiddenSize}) is not divisible by num_attention_heads (${numHeads}) and no head_dim is given`);
    headDim = hiddenSize / numHeads;
  } else headDim = intField({ head_dim: headDimRaw }, 'head_dim');
  if (headDim % 2 !== 0) throw new ConfigError(`head_dim (${headDim}) must be even for rotary embeddings`);
  const maxPositionEmbeddings = intField(raw, 'max_position_embeddings', mt === 'llama' ? 2048 : 32768);
  const partialRotary = raw.partial_rotary_factor ?? 1;
  if (partialRotary !== 1) throw new ConfigError(`partial_rotary_factor ${JSON.stringify(partialRotary)} is not supported (only 1)`);

  const attentionBias = boolField(raw, 'attention_bias', false);
  const mlpBias = mt === 'llama' ? boolField(raw, 'mlp_bias', false) : false;
  // transformers ≥ 5 writes `rope_parameters` {rope_type, rope_theta, factor, …} instead of
  // `rope_theta` + `rope_scaling`; both layouts are read.
  const rp = raw.rope_parameters;
  if (rp !== undefined && rp !== null && !isObj(rp)) throw new ConfigError(`'rope_parameters' must be an object or null, got ${JSON.stringify(rp)}`);
  const ropeTheta = isObj(rp) && rp.rope_theta !== undefined ? numField(rp, 'rope_theta', 10000) : numField(raw, 'rope_theta', 10000);
  const ropeScaling = parseRopeScaling(isObj(rp) && raw.rope_scaling == null ? rp : raw.rope_scaling, maxPositionEmbeddings);
  return {
    modelType: mt,
    vocabSize: intField(raw, 'vocab_size'),
    hiddenSize,
    intermediateSize: intField(raw, 'intermediate_size'),
    numLayers: intField(raw, 'num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: numField(raw, 'rms_norm_eps', 1e-6),
    ropeTheta,
    ropeScaling,
    maxPositionEmbeddings,
    tieWordEmbeddings: boolField(raw, 'tie_word_embeddings', false),
    qkvBias: mt === 'qwen2' ? true : attentionBias,
    oBias: mt === 'qwen2' ? false : attentionBias,
    qkNorm: mt === 'qwen3',
    mlpBias,
    bosTokenId: idList(raw.bos_token_id, 'bos_token_id')[0] ?? null,
    eosTokenIds: idList(raw.eos_token_id, 'eos_token_id'),
    padTokenId: idList(raw.pad_token_id, 'pad_token_id')[0] ?? null,
    raw: { ...raw },
  };
}

/** What `makeConfig` needs; everything else takes the HF defaults. */
export interface ConfigSpec {
  modelType: ModelType;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads?: number;
  headDim?: number;
  rmsNormEps?: number;
  ropeTheta?: number;
  maxPositionEmbeddings?: number;
  tieWordEmbeddings?: boolean;
  /** Llama and Qwen3: bias on q/k/v/o (Qwen2 fixes q/k/v on, o off). */
  attentionBias?: boolean;
  bosTokenId?: number | null;
  eosTokenId?: number | number[] | null;
  padTokenId?: number | null;
  /** Extra keys written into config.json as given (e.g. rope_scaling). */
  extra?: Record<string, unknown>;
}

/** Builds the config.json object of a new model, then parses it (so it passes the same checks). */
export function makeConfig(s: ConfigSpec): LMConfig {
  const raw: Record<string, unknown> = {
    architectures: [{ qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM', llama: 'LlamaForCausalLM' }[s.modelType]],
    model_type: s.modelType,
    vocab_size: s.vocabSize,
    hidden_size: s.hiddenSize,
    intermediate_size: s.intermediateSize,
    num_hidden_layers: s.numLayers,
    num_attention_heads: s.numHeads,
    num_key_value_heads: s.numKvHeads ?? s.numHeads,
    hidden_act: 'silu',
    max_position_embeddings: s.maxPositionEmbeddings ?? 4096,
    rms_norm_eps: s.rmsNormEps ?? 1e-6,
    rope_theta: s.ropeTheta ?? 10000,
    tie_word_embeddings: s.tieWordEmbeddings ?? false,
    attention_dropout: 0.0,
    bos_token_id: s.bosTokenId ?? null,
    eos_token_id: s.eosTokenId ?? null,
    torch_dtype: 'float32',
  };
  // Qwen3's config defaults head_dim to 128, not D / H: always written for it
  if (s.headDim !== undefined || s.modelType === 'qwen3') raw.head_dim = s.headDim ?? s.hiddenSize / s.numHeads;
  if (s.modelType === 'llama') {
    raw.attention_bias = s.attentionBias ?? false;
    raw.mlp_bias = false;
  } else {
    if (s.modelType === 'qwen3') raw.attention_bias = s.attentionBias ?? false;
    raw.use_sliding_window = false;
    raw.sliding_window = null;
    raw.max_window_layers = s.numLayers;
  }
  if (s.padTokenId !== undefined && s.padTokenId !== null) raw.pad_token_id = s.padTokenId;
  Object.assign(raw, s.extra ?? {});
  return parseConfig(raw);
}

/** Parameter count implied by a config (embeddings counted once when tied). */
export function countParameters(c: LMConfig): number {
  const D = c.hiddenSize, I = c.intermediateSize, Dh = c.headDim, H = c.numHeads, Hkv = c.numKvHeads;
  const attn = D * H * Dh + 2 * D * Hkv * Dh + H * Dh * D + (c.qkvBias ? (H + 2 * Hkv) * Dh : 0) + (c.oBias ? D : 0);
  const mlp = 3 * D * I + (c.mlpBias ? 2 * I + D : 0);
  const layer = attn + mlp + 2 * D + (c.qkNorm ? 2 * Dh : 0);
  return c.vocabSize * D * (c.tieWordEmbeddings ? 1 : 2) + c.numLayers * layer + D;
}
