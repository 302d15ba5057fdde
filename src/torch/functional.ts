/**
 * Function forms of the ops (PyTorch's `torch.*` / `torch.nn.functional.*`), and the ops that
 * have no natural receiver (cat, stack, where, attention, losses).
 */
import { N } from './native.js';
import { Tensor, wrap, type Scalar, type TensorLike } from './tensor.js';
import { tensor } from './creation.js';

const h = (x: TensorLike) => (typeof x === 'object' ? x.handle : x);
/** Promotes a scalar first operand to a tensor only where a receiver is needed. */
function binary(name: string, a: TensorLike, b: TensorLike): Tensor {
  if (typeof a !== 'object' && typeof b !== 'object') throw new TypeError(`${name}: needs at least one tensor`);
  return wrap(N[name](h(a), h(b)));
}
export const add = (a: TensorLike, b: TensorLike) => binary('add', a, b);
export const sub = (a: TensorLike, b: TensorLike) => binary('sub', a, b);
export const mul = (a: TensorLike, b: TensorLike) => binary('mul', a, b);
export const div = (a: TensorLike, b: TensorLike) => binary('div', a, b);
export const pow = (a: TensorLike, b: TensorLike) => binary('pow', a, b);
export const minimum = (a: TensorLike, b: TensorLike) => binary('minimum', a, b);
export const maximum = (a: TensorLike, b: TensorLike) => binary('maximum', a, b);
export const eq = (a: TensorLike, b: TensorLike) => binary('eq', a, b);
export const ne = (a: TensorLike, b: TensorLike) => binary('ne', a, b);
export const lt = (a: TensorLike, b: TensorLike) => binary('lt', a, b);
export const le = (a: TensorLike, b: TensorLike) => binary('le', a, b);
export const gt = (a: TensorLike, b: TensorLike) => binary('gt', a, b);
export const ge = (a: TensorLike, b: TensorLike) => binary('ge', a, b);
export const logicalAnd = (a: TensorLike, b: TensorLike) => binary('logical_and', a, b);
export const logicalOr = (a: TensorLike, b: TensorLike) => binary('logical_or', a, b);

type Unary = (t: Tensor) => Tensor;
export const neg: Unary = (t) => t.neg();
export const abs: Unary = (t) => t.abs();
export const sign: Unary = (t) => t.sign();
export const exp: Unary = (t) => t.exp();
export const log: Unary = (t) => t.log();
export const log1p: Unary = (t) => t.log1p();
export const sqrt: Unary = (t) => t.sqrt();
export const rsqrt: Unary = (t) => t.rsqrt();
export const sigmoid: Unary = (t) => t.sigmoid();
export const tanh: Unary = (t) => t.tanh();
export const relu: Unary = (t) => t.relu();
export const gelu = (t: Tensor, approximate: 'none' | 'tanh' = 'none') => t.gelu(approximate);
export const silu: Unary = (t) => t.silu();
export const softplus: Unary = (t) => t.softplus();
export const logsigmoid: Unary = (t) => t.logsigmoid();
export const isnan: Unary = (t) => t.isnan();
export const isfinite: Unary = (t) => t.isfinite();
export const clamp = (t: Tensor, min?: TensorLike | null, max?: TensorLike | null) => t.clamp(min, max);
export const sum = (t: Tensor, dim?: number | number[] | null, keepdim = false) => t.sum(dim, keepdim);
export const mean = (t: Tensor, dim?: number | number[] | null, keepdim = false) => t.mean(dim, keepdim);
export const logsumexp = (t: Tensor, dim: number | number[], keepdim = false) => t.logsumexp(dim, keepdim);
export const cumsum = (t: Tensor, dim: number) => t.cumsum(dim);
export const argmax = (t: Tensor, dim?: number, keepdim = false) => t.argmax(dim, keepdim);
export const matmul = (a: Tensor, b: Tensor) => a.matmul(b);
export const bmm = (a: Tensor, b: Tensor) => a.bmm(b);
export const softmax = (t: Tensor, dim: number) => t.softmax(dim);
export const logSoftmax = (t: Tensor, dim: number) => t.logSoftmax(dim);
export const topk = (t: Tensor, k: number, dim = -1) => t.topk(k, dim);
export const sort = (t: Tensor, dim = -1, descending = false) => t.sort(dim, descending);
export const multinomial = (probs: Tensor, n: number, replacement = false) => probs.multinomial(n, replacement);
export const triu = (t: Tensor, k = 0) => t.triu(k);
export const tril = (t: Tensor, k = 0) => t.tril(k);

/** where(cond, a, b): elementwise a where cond else b; a and b may be scalars. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  return wrap(N.where(cond.handle, h(a), h(b)));
}
export const cat = (ts: Tensor[], dim = 0): Tensor => wrap(N.cat(ts.map((t) => t.handle), dim));
export const stack = (ts: Tensor[], dim = 0): Tensor => wrap(N.stack(ts.map((t) => t.handle), dim));

/** y = x Wᵀ + b. x: (..., in), weight: (out, in), bias: (out). */
export const linear = (x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor =>
  wrap(N.linear(x.handle, weight.handle, bias ? bias.handle : null));
/** beta·input + alpha·(b1 @ b2), batched. */
export const baddbmm = (input: Tensor, b1: Tensor, b2: Tensor, beta = 1, alpha = 1): Tensor =>
  wrap(N.baddbmm(input.handle, b1.handle, b2.handle, beta, alpha));
export const embedding = (weight: Tensor, ids: Tensor, paddingIdx?: number): Tensor =>
  wrap(N.embedding(weight.handle, ids.handle, paddingIdx ?? null));

export interface LossOptions {
  reduction?: 'none' | 'mean' | 'sum';
  ignoreIndex?: number;
  weight?: Tensor;
}
/** Cross-entropy of logits (N, C) or (N, C, d…) against integer class targets (N) / (N, d…). */
export function crossEntropy(logits: Tensor, target: Tensor, o: LossOptions & { labelSmoothing?: number } = {}): Tensor {
  return wrap(N.crossEntropy(logits.handle, target.handle, o.weight?.handle ?? null, o.reduction ?? 'mean', o.ignoreIndex ?? -100, o.labelSmoothing ?? 0));
}
/** Negative log-likelihood of log-probabilities (N, C) against targets (N). */
export function nllLoss(logp: Tensor, target: Tensor, o: LossOptions = {}): Tensor {
  return wrap(N.nllLoss(logp.handle, target.handle, o.weight?.handle ?? null, o.reduction ?? 'mean', o.ignoreIndex ?? -100));
}
export const layerNorm = (x: Tensor, normalizedShape: number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor =>
  wrap(N.layerNorm(x.handle, normalizedShape, weight?.handle ?? null, bias?.handle ?? null, eps));
/** RMSNorm over the last dim: weight · x / sqrt(mean(x²) + eps), statistics in fp32 for half inputs. */
export const rmsNorm = (x: Tensor, weight: Tensor | null, eps = 1e-6): Tensor => wrap(N.rmsNorm(x.handle, weight?.handle ?? null, eps));
export const dropout = (x: Tensor, p: number, training: boolean): Tensor => wrap(N.dropout(x.handle, p, training));
/** Rotary embedding, rotate-half convention: x·cos + rotate_half(x)·sin. x: (..., T, Dh); cos/sin broadcastable. */
export const applyRope = (x: Tensor, cos: Tensor, sin: Tensor): Tensor => wrap(N.rope(x.handle, cos.handle, sin.handle));

export interface AttentionOptions {
  /** bool (true = may attend) or additive float mask, broadcastable to (B, H, Tq, Tk). */
  mask?: Tensor | null;
  dropoutP?: number;
  /** Causal, bottom-right aligned: query i is at absolute position Tk − Tq + i. */
  isCausal?: boolean;
  scale?: number;
}
/**
 * Scaled dot-product attention softmax(q kᵀ · scale + mask) v.
 * q: (B, H, Tq, D); k, v: (B, Hkv, Tk, D) with Hkv dividing H (grouped-query attention).
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions = {}): Tensor {
  return wrap(N.sdpa(q.handle, k.handle, v.handle, o.mask?.handle ?? null, o.dropoutP ?? 0, o.isCausal ?? false, o.scale ?? null));
}
/** log softmax(logits)[target] along the last dim, in float32 at least. logits (..., V), targets (...). */
export const tokenLogprobs = (logits: Tensor, targets: Tensor): Tensor => wrap(N.tokenLogprobs(logits.handle, targets.handle));
/** Entropy of softmax(logits) along the last dim. */
export const entropyFromLogits = (logits: Tensor): Tensor => wrap(N.entropyFromLogits(logits.handle));
/**
 * Draws one token per row of logits (B, V) → [tokens (B) int64, logp (B) float32]. Temperature
 * scales the logits; top-k (0 = off) and top-p (1 = off) restrict the candidates; `greedy` takes
 * the argmax. logp is the chosen token's log-prob under softmax(logits / temperature) over the
 * whole vocabulary (under T = 1 when greedy), as a PPO learner recomputes it.
 * The uniform of each row's inverse-CDF draw comes from libtorch's global generator (rows in
 * order), or, with `rngStates` (B generator states, see `rngStateForSeed`), row r's from
 * generator state r, advanced in place.
 */
export function sampleNext(logits: Tensor, o: { temperature?: number; topP?: number; topK?: number; greedy?: boolean; rngStates?: Tensor[] } = {}): [Tensor, Tensor] {
  const [a, b] = N.sampleNext(logits.handle, o.temperature ?? 1, o.topP ?? 1, o.topK ?? 0, o.greedy ?? false,
    o.rngStates ? o.rngStates.map((t) => t.handle) : null);
  return [wrap(a), wrap(b)];
}

/** Cast a JS scalar into a 0-dim tensor like `like` (dtype, device). */
export const scalarLike = (v: Scalar, like: Tensor): Tensor => tensor(v, { dtype: like.dtype });
