/**
 * The Tensor class: a typed face over a libtorch tensor handle, with PyTorch semantics
 * (broadcasting, type promotion, JS numbers as Python scalars, autograd).
 *
 * Ownership: every tensor owns native memory. Free it with `dispose()`, `using`, or a `tidy`
 * scope; the GC finalizer is a safety net. Using a disposed tensor throws.
 */
import { N, type NativeHandle } from './native.js';
import { track } from './scope.js';

export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';
export type Device = 'cpu' | `cuda:${number}` | 'cuda';
export type Shape = number[];
export type Scalar = number | boolean;
export type TensorLike = Tensor | Scalar;
export type TypedArray = Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array | BigInt64Array;
export type NestedArray = number | boolean | NestedArray[];

export const DTYPE_BYTES: Record<DType, number> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

export interface CreateOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}

type H = NativeHandle;
const h = (x: TensorLike): H | Scalar => (typeof x === 'object' ? x.handle : x);

export class Tensor {
  /** @internal */
  readonly _isTensor = true;
  /** @internal Set by `keep()`: no tidy scope disposes this tensor. */
  kept = false;
  #h: H;
  #meta: [Shape, DType, string] | null = null;

  /** @internal Wraps a native handle; use the factory functions instead. */
  constructor(handle: H) {
    this.#h = handle;
    track(this);
  }

  /** @internal The native handle (throws once disposed). */
  get handle(): H {
    return this.#h;
  }

  #info(): [Shape, DType, string] {
    if (!this.#meta) {
      const [shape, dtype, device] = N.info(this.#h) as [Shape, DType, string, boolean];
      this.#meta = [shape, dtype, device];
    }
    return this.#meta;
  }
  get shape(): Shape { return this.#info()[0].slice(); }
  get dtype(): DType { return this.#info()[1]; }
  get device(): string { return this.#info()[2]; }
  get ndim(): number { return this.#info()[0].length; }
  get numel(): number { return this.#info()[0].reduce((a, b) => a * b, 1); }
  size(dim: number): number {
    const s = this.#info()[0];
    const d = dim < 0 ? dim + s.length : dim;
    if (d < 0 || d >= s.length) throw new RangeError(`size(${dim}): tensor has ${s.length} dims`);
    return s[d]!;
  }
  get isDisposed(): boolean { return N.isDisposed(this.#h); }
  get isContiguous(): boolean { return N.isContiguous(this.#h); }
  get isLeaf(): boolean { return N.isLeaf(this.#h); }
  get isFloatingPoint(): boolean { return ['float32', 'float64', 'float16', 'bfloat16'].includes(this.dtype); }

  /** Frees the native memory now. Idempotent. */
  dispose(): void { N.dispose(this.#h); }
  [Symbol.dispose](): void { this.dispose(); }

  toString(): string {
    return this.isDisposed ? 'Tensor(disposed)' : `Tensor(shape=[${this.shape}], dtype=${this.dtype}, device=${this.device})`;
  }

  // ---------------------------------------------------------------- read back
  /** The elements as a typed array (row-major). float16/bfloat16 read as Float32Array, int64 as BigInt64Array. */
  data(): TypedArray {
    const dt = this.dtype;
    if (dt === 'float16' || dt === 'bfloat16') {
      const f = this.to('float32');
      try { return f.data(); } finally { f.dispose(); }
    }
    const buf: ArrayBuffer = N.toBytes(this.#h);
    switch (dt) {
      case 'float32': return new Float32Array(buf);
      case 'float64': return new Float64Array(buf);
      case 'int64': return new BigInt64Array(buf);
      case 'int32': return new Int32Array(buf);
      case 'int16': return new Int16Array(buf);
      case 'int8': return new Int8Array(buf);
      default: return new Uint8Array(buf);
    }
  }
  /** The raw bytes of the elements in this tensor's dtype (little-endian, row-major). */
  bytes(): Uint8Array { return new Uint8Array(N.toBytes(this.#h)); }
  /** The elements as a flat array of JS numbers (int64 converted with Number()). */
  toFlatArray(): number[] {
    const d = this.data();
    if (d instanceof BigInt64Array) return Array.from(d, Number);
    return Array.from(d as ArrayLike<number>);
  }
  /** The elements as nested JS arrays (booleans for bool tensors). */
  toArray(): NestedArray {
    const flat = this.toFlatArray();
    const isBool = this.dtype === 'bool';
    const shape = this.shape;
    if (shape.length === 0) return isBool ? flat[0] !== 0 : flat[0]!;
    let i = 0;
    const build = (d: number): NestedArray[] => {
      const out: NestedArray[] = [];
      for (let k = 0; k < shape[d]!; k++) {
        if (d === shape.length - 1) out.push(isBool ? flat[i++] !== 0 : flat[i++]!);
        else out.push(build(d + 1));
      }
      return out;
    };
    return build(0);
  }
  /** The single element as a JS number (or boolean). */
  item(): number;
  item<T extends number | boolean>(): T;
  item(): number | boolean { return N.item(this.#h); }

  // ---------------------------------------------------------------- conversion
  to(dtypeOrDevice: DType | Device, opts: { copy?: boolean } = {}): Tensor {
    const isDevice = dtypeOrDevice === 'cpu' || dtypeOrDevice.startsWith('cuda');
    return wrap(N.to(this.#h, isDevice ? null : dtypeOrDevice, isDevice ? dtypeOrDevice : null, opts.copy ?? false));
  }
  float(): Tensor { return this.to('float32'); }
  double(): Tensor { return this.to('float64'); }
  long(): Tensor { return this.to('int64'); }
  int(): Tensor { return this.to('int32'); }
  bool(): Tensor { return this.to('bool'); }
  clone(): Tensor { return wrap(N.clone(this.#h)); }
  detach(): Tensor { return wrap(N.detach(this.#h)); }
  contiguous(): Tensor { return wrap(N.contiguous_(this.#h)); }

  // ---------------------------------------------------------------- autograd
  get requiresGrad(): boolean { return N.requiresGrad(this.#h); }
  set requiresGrad(v: boolean) { N.setRequiresGrad(this.#h, v); }
  requiresGrad_(v = true): this { N.setRequiresGrad(this.#h, v); return this; }
  /** The accumulated gradient, or null. A new handle each call: dispose it when done. */
  get grad(): Tensor | null {
    const g = N.grad(this.#h);
    return g ? wrap(g) : null;
  }
  set grad(g: Tensor | null) { N.setGrad(this.#h, g ? g.handle : null); }
  /** Drops the gradient (like PyTorch's `zero_grad(set_to_none=True)`). */
  zeroGrad(): void { N.setGrad(this.#h, null); }
  backward(gradient?: Tensor, opts: { retainGraph?: boolean } = {}): void {
    N.backward(this.#h, gradient ? gradient.handle : null, opts.retainGraph ?? false);
  }

  // ---------------------------------------------------------------- elementwise
  add(o: TensorLike, alpha?: number): Tensor { return wrap(alpha === undefined ? N.add(this.#h, h(o)) : N.addScaled(this.#h, h(o), alpha)); }
  sub(o: TensorLike, alpha?: number): Tensor { return wrap(alpha === undefined ? N.sub(this.#h, h(o)) : N.addScaled(this.#h, h(o), -alpha)); }
  mul(o: TensorLike): Tensor { return wrap(N.mul(this.#h, h(o))); }
  div(o: TensorLike, roundingMode?: 'trunc' | 'floor'): Tensor { return wrap(roundingMode ? N.divMode(this.#h, h(o), roundingMode) : N.div(this.#h, h(o))); }
  pow(o: TensorLike): Tensor { return wrap(N.pow(this.#h, h(o))); }
  remainder(o: TensorLike): Tensor { return wrap(N.remainder(this.#h, h(o))); }
  fmod(o: TensorLike): Tensor { return wrap(N.fmod(this.#h, h(o))); }
  floorDivide(o: TensorLike): Tensor { return wrap(N.floor_divide(this.#h, h(o))); }
  atan2(o: TensorLike): Tensor { return wrap(N.atan2(this.#h, h(o))); }
  minimum(o: TensorLike): Tensor { return wrap(N.minimum(this.#h, h(o))); }
  maximum(o: TensorLike): Tensor { return wrap(N.maximum(this.#h, h(o))); }
  eq(o: TensorLike): Tensor { return wrap(N.eq(this.#h, h(o))); }
  ne(o: TensorLike): Tensor { return wrap(N.ne(this.#h, h(o))); }
  lt(o: TensorLike): Tensor { return wrap(N.lt(this.#h, h(o))); }
  le(o: TensorLike): Tensor { return wrap(N.le(this.#h, h(o))); }
  gt(o: TensorLike): Tensor { return wrap(N.gt(this.#h, h(o))); }
  ge(o: TensorLike): Tensor { return wrap(N.ge(this.#h, h(o))); }
  logicalAnd(o: TensorLike): Tensor { return wrap(N.logical_and(this.#h, h(o))); }
  logicalOr(o: TensorLike): Tensor { return wrap(N.logical_or(this.#h, h(o))); }
  logicalXor(o: TensorLike): Tensor { return wrap(N.logical_xor(this.#h, h(o))); }
  logicalNot(): Tensor { return wrap(N.logical_not(this.#h)); }
  bitwiseAnd(o: TensorLike): Tensor { return wrap(N.bitwise_and(this.#h, h(o))); }
  bitwiseOr(o: TensorLike): Tensor { return wrap(N.bitwise_or(this.#h, h(o))); }
  bitwiseNot(): Tensor { return wrap(N.bitwise_not(this.#h)); }
  neg(): Tensor { return wrap(N.neg(this.#h)); }
  abs(): Tensor { return wrap(N.abs(this.#h)); }
  sign(): Tensor { return wrap(N.sign(this.#h)); }
  exp(): Tensor { return wrap(N.exp(this.#h)); }
  expm1(): Tensor { return wrap(N.expm1(this.#h)); }
  log(): Tensor { return wrap(N.log(this.#h)); }
  log1p(): Tensor { return wrap(N.log1p(this.#h)); }
  log2(): Tensor { return wrap(N.log2(this.#h)); }
  sqrt(): Tensor { return wrap(N.sqrt(this.#h)); }
  rsqrt(): Tensor { return wrap(N.rsqrt(this.#h)); }
  square(): Tensor { return wrap(N.square(this.#h)); }
  reciprocal(): Tensor { return wrap(N.reciprocal(this.#h)); }
  sin(): Tensor { return wrap(N.sin(this.#h)); }
  cos(): Tensor { return wrap(N.cos(this.#h)); }
  erf(): Tensor { return wrap(N.erf(this.#h)); }
  floor(): Tensor { return wrap(N.floor(this.#h)); }
  ceil(): Tensor { return wrap(N.ceil(this.#h)); }
  round(): Tensor { return wrap(N.round(this.#h)); }
  trunc(): Tensor { return wrap(N.trunc(this.#h)); }
  sigmoid(): Tensor { return wrap(N.sigmoid(this.#h)); }
  tanh(): Tensor { return wrap(N.tanh(this.#h)); }
  relu(): Tensor { return wrap(N.relu(this.#h)); }
  /** GELU; `approximate: 'tanh'` for the tanh form. */
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor { return wrap(approximate === 'tanh' ? N.gelu_tanh(this.#h) : N.gelu(this.#h)); }
  silu(): Tensor { return wrap(N.silu(this.#h)); }
  softplus(): Tensor { return wrap(N.softplus(this.#h)); }
  logsigmoid(): Tensor { return wrap(N.logsigmoid(this.#h)); }
  isnan(): Tensor { return wrap(N.isnan(this.#h)); }
  isfinite(): Tensor { return wrap(N.isfinite(this.#h)); }
  isinf(): Tensor { return wrap(N.isinf(this.#h)); }
  clamp(min?: TensorLike | null, max?: TensorLike | null): Tensor {
    const m = min === undefined ? null : min, M = max === undefined ? null : max;
    return wrap(N.clamp(this.#h, m === null ? null : h(m), M === null ? null : h(M)));
  }
  lerp(end: Tensor, weight: TensorLike): Tensor { return wrap(N.lerp(this.#h, end.handle, h(weight))); }
  /** where(cond, this, other) */
  where(cond: Tensor, other: TensorLike): Tensor { return wrap(N.where(cond.handle, this.#h, h(other))); }
  allclose(o: Tensor, rtol = 1e-5, atol = 1e-8, equalNan = false): boolean { return N.allclose(this.#h, o.handle, rtol, atol, equalNan); }
  equal(o: Tensor): boolean { return N.equal(this.#h, o.handle); }

  // ---------------------------------------------------------------- reductions
  sum(dim?: number | number[] | null, keepdim = false, dtype?: DType): Tensor { return wrap(N.sum(this.#h, dim ?? null, keepdim, dtype ?? null)); }
  mean(dim?: number | number[] | null, keepdim = false, dtype?: DType): Tensor { return wrap(N.mean(this.#h, dim ?? null, keepdim, dtype ?? null)); }
  prod(dim?: number | null, keepdim = false): Tensor { return wrap(N.prod(this.#h, dim ?? null, keepdim)); }
  /** Max over all elements. */
  max(): Tensor;
  /** Max along `dim`: [values, indices]. */
  max(dim: number, keepdim?: boolean): [Tensor, Tensor];
  max(dim?: number, keepdim = false): Tensor | [Tensor, Tensor] {
    if (dim === undefined) return wrap(N.max(this.#h));
    return wrapPair(N.maxDim(this.#h, dim, keepdim));
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): [Tensor, Tensor];
  min(dim?: number, keepdim = false): Tensor | [Tensor, Tensor] {
    if (dim === undefined) return wrap(N.min(this.#h));
    return wrapPair(N.minDim(this.#h, dim, keepdim));
  }
  argmax(dim?: number | null, keepdim = false): Tensor { return wrap(N.argmax(this.#h, dim ?? null, keepdim)); }
  argmin(dim?: number | null, keepdim = false): Tensor { return wrap(N.argmin(this.#h, dim ?? null, keepdim)); }
  logsumexp(dim: number | number[], keepdim = false): Tensor { return wrap(N.logsumexp(this.#h, dim, keepdim)); }
  /** Variance with Bessel's correction by default (`correction` = 1), as in PyTorch. */
  var(dim?: number | number[] | null, opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return wrap(N.var(this.#h, dim ?? null, opts.correction ?? 1, opts.keepdim ?? false));
  }
  std(dim?: number | number[] | null, opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return wrap(N.std(this.#h, dim ?? null, opts.correction ?? 1, opts.keepdim ?? false));
  }
  cumsum(dim: number, dtype?: DType): Tensor { return wrap(N.cumsum(this.#h, dim, dtype ?? null)); }
  cumprod(dim: number): Tensor { return wrap(N.cumprod(this.#h, dim)); }
  all(dim?: number, keepdim = false): Tensor { return wrap(N.all(this.#h, dim ?? null, keepdim)); }
  any(dim?: number, keepdim = false): Tensor { return wrap(N.any(this.#h, dim ?? null, keepdim)); }
  norm(p = 2, dim?: number | number[] | null, keepdim = false): Tensor { return wrap(N.norm(this.#h, p, dim ?? null, keepdim)); }

  // ---------------------------------------------------------------- linear algebra
  matmul(o: Tensor): Tensor { return wrap(N.matmul(this.#h, o.handle)); }
  mm(o: Tensor): Tensor { return wrap(N.mm(this.#h, o.handle)); }
  bmm(o: Tensor): Tensor { return wrap(N.bmm(this.#h, o.handle)); }
  outer(o: Tensor): Tensor { return wrap(N.outer(this.#h, o.handle)); }
  /** 2-D transpose (`t()`), or swap of two dims with `transpose`. */
  t(): Tensor { return wrap(N.t_(this.#h)); }

  // ---------------------------------------------------------------- shape
  reshape(...shape: number[] | [number[]]): Tensor { return wrap(N.reshape(this.#h, flatShape(shape))); }
  view(...shape: number[] | [number[]]): Tensor { return wrap(N.view(this.#h, flatShape(shape))); }
  transpose(d0: number, d1: number): Tensor { return wrap(N.transpose(this.#h, d0, d1)); }
  permute(...dims: number[] | [number[]]): Tensor { return wrap(N.permute(this.#h, flatShape(dims))); }
  unsqueeze(dim: number): Tensor { return wrap(N.unsqueeze(this.#h, dim)); }
  squeeze(dim?: number): Tensor { return wrap(N.squeeze(this.#h, dim ?? null)); }
  expand(...shape: number[] | [number[]]): Tensor { return wrap(N.expand(this.#h, flatShape(shape))); }
  flatten(startDim = 0, endDim = -1): Tensor { return wrap(N.flatten(this.#h, startDim, endDim)); }
  flip(dims: number | number[]): Tensor { return wrap(N.flip(this.#h, dims)); }
  split(sizeOrSizes: number | number[], dim = 0): Tensor[] { return (N.split(this.#h, sizeOrSizes, dim) as H[]).map(wrap); }
  chunk(chunks: number, dim = 0): Tensor[] { return (N.chunk(this.#h, chunks, dim) as H[]).map(wrap); }
  narrow(dim: number, start: number, length: number): Tensor { return wrap(N.narrow(this.#h, dim, start, length)); }
  /** Python-style slice along one dim: `t.slice(1, 2, -1)` is `t[:, 2:-1]`. */
  slice(dim: number, start: number | null = null, end: number | null = null, step = 1): Tensor {
    return wrap(N.slice(this.#h, dim, start, end, step));
  }
  select(dim: number, index: number): Tensor { return wrap(N.select(this.#h, dim, index)); }
  /** Advanced indexing: one entry per leading dim, an index tensor (int or bool) or null for `:`. */
  index(indices: (Tensor | null)[]): Tensor { return wrap(N.index(this.#h, indices.map((i) => (i ? i.handle : null)))); }
  indexPut(indices: (Tensor | null)[], values: TensorLike, accumulate = false): Tensor {
    return wrap(N.indexPut(this.#h, indices.map((i) => (i ? i.handle : null)), h(values), accumulate));
  }
  indexSelect(dim: number, index: Tensor): Tensor { return wrap(N.indexSelect(this.#h, dim, index.handle)); }
  gather(dim: number, index: Tensor): Tensor { return wrap(N.gather(this.#h, dim, index.handle)); }
  scatter(dim: number, index: Tensor, src: TensorLike): Tensor { return wrap(N.scatter(this.#h, dim, index.handle, h(src))); }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor { return wrap(N.scatterAdd(this.#h, dim, index.handle, src.handle)); }
  maskedFill(mask: Tensor, value: TensorLike): Tensor { return wrap(N.maskedFill(this.#h, mask.handle, h(value))); }
  maskedSelect(mask: Tensor): Tensor { return wrap(N.maskedSelect(this.#h, mask.handle)); }
  triu(diagonal = 0): Tensor { return wrap(N.triu(this.#h, diagonal)); }
  tril(diagonal = 0): Tensor { return wrap(N.tril(this.#h, diagonal)); }
  roll(shifts: number | number[], dims: number | number[]): Tensor { return wrap(N.roll(this.#h, shifts, dims)); }
  repeat(...sizes: number[] | [number[]]): Tensor { return wrap(N.repeat(this.#h, flatShape(sizes))); }
  repeatInterleave(repeats: number | Tensor, dim?: number): Tensor {
    return wrap(N.repeatInterleave(this.#h, typeof repeats === 'number' ? repeats : repeats.handle, dim ?? null));
  }
  nonzero(): Tensor { return wrap(N.nonzero(this.#h)); }

  // ---------------------------------------------------------------- nn-flavoured
  softmax(dim: number): Tensor { return wrap(N.softmax(this.#h, dim)); }
  logSoftmax(dim: number): Tensor { return wrap(N.logSoftmax(this.#h, dim)); }
  topk(k: number, dim = -1, largest = true, sorted = true): [Tensor, Tensor] { return wrapPair(N.topk(this.#h, k, dim, largest, sorted)); }
  sort(dim = -1, descending = false): [Tensor, Tensor] { return wrapPair(N.sort(this.#h, dim, descending)); }
  argsort(dim = -1, descending = false): Tensor { return wrap(N.argsort(this.#h, dim, descending)); }
  multinomial(numSamples: number, replacement = false): Tensor { return wrap(N.multinomial(this.#h, numSamples, replacement)); }

  // ---------------------------------------------------------------- in place (return this)
  add_(o: TensorLike, alpha = 1): this { N.addInPlace(this.#h, h(o), alpha); return this; }
  sub_(o: TensorLike, alpha = 1): this { N.addInPlace(this.#h, h(o), -alpha); return this; }
  mul_(o: TensorLike): this { N.mulInPlace(this.#h, h(o)); return this; }
  div_(o: TensorLike): this { N.divInPlace(this.#h, h(o)); return this; }
  copy_(src: Tensor): this { N.copyInPlace(this.#h, src.handle); return this; }
  zero_(): this { N.zeroInPlace(this.#h); return this; }
  fill_(v: Scalar): this { N.fillInPlace(this.#h, v); return this; }
  clamp_(min: number | null, max: number | null): this { N.clampInPlace(this.#h, min, max); return this; }
  uniform_(low = 0, high = 1): this { N.uniformInPlace(this.#h, low, high); return this; }
  normal_(mean = 0, std = 1): this { N.normalInPlace(this.#h, mean, std); return this; }
  maskedFill_(mask: Tensor, value: Scalar): this { N.maskedFillInPlace(this.#h, mask.handle, value); return this; }
  indexPut_(indices: (Tensor | null)[], values: TensorLike, accumulate = false): this {
    N.indexPutInPlace(this.#h, indices.map((i) => (i ? i.handle : null)), h(values), accumulate);
    return this;
  }
  /** `this.narrow(dim, start, src.size(dim)).copy_(src)`: writes `src` into a slab of this tensor. */
  narrowCopy_(dim: number, start: number, src: Tensor): this { N.narrowCopyInPlace(this.#h, dim, start, src.handle); return this; }
}

function flatShape(args: number[] | [number[]]): number[] {
  return Array.isArray(args[0]) ? (args[0] as number[]) : (args as number[]);
}

/** @internal Wraps a native handle returned by the addon. */
export function wrap(handle: H): Tensor {
  return new Tensor(handle);
}
/** @internal */
export function wrapPair(hs: [H, H]): [Tensor, Tensor] {
  return [wrap(hs[0]), wrap(hs[1])];
}
