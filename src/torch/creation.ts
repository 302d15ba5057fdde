/** Tensor factories: from JS data, constants, ranges and random draws. */
import os from 'node:os';
import { N, nativeAvailable } from './native.js';
import { Tensor, wrap, type CreateOptions, type DType, type NestedArray, type Shape, type TypedArray } from './tensor.js';

function finish(t: Tensor, opts: CreateOptions): Tensor {
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

function inferShape(data: NestedArray): Shape {
  const shape: Shape = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0] as NestedArray;
  }
  return shape;
}

function flattenNested(data: NestedArray, shape: Shape, out: (number | boolean)[], depth = 0): void {
  if (depth === shape.length) {
    if (Array.isArray(data)) throw new TypeError('tensor(): ragged nested array (more nesting than the first element)');
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[depth])
    throw new TypeError(`tensor(): ragged nested array at depth ${depth}: expected length ${shape[depth]}`);
  for (const d of data) flattenNested(d, shape, out, depth + 1);
}

const typedDtype = (a: TypedArray): DType =>
  a instanceof Float32Array ? 'float32'
  : a instanceof Float64Array ? 'float64'
  : a instanceof Int32Array ? 'int32'
  : a instanceof Int16Array ? 'int16'
  : a instanceof Int8Array ? 'int8'
  : a instanceof BigInt64Array ? 'int64'
  : 'uint8';

/**
 * Creates a tensor from a scalar, nested arrays or a typed array (then `shape` gives its shape,
 * default 1-D). The dtype is inferred as PyTorch does (bools → bool, integers → int64, else
 * float32; a typed array keeps its own type) unless `dtype` is given.
 */
export function tensor(data: NestedArray | TypedArray, opts: CreateOptions & { shape?: Shape } = {}): Tensor {
  let base: Tensor;
  if (ArrayBuffer.isView(data)) {
    const arr = data as TypedArray;
    const shape = opts.shape ?? [arr.length];
    base = wrap(N.fromBytes(arr, shape, typedDtype(arr), null));
  } else {
    const shape = opts.shape ?? inferShape(data);
    const flat: (number | boolean)[] = [];
    flattenNested(data, inferShape(data), flat);
    const allBool = flat.length > 0 && flat.every((v) => typeof v === 'boolean');
    const allInt = flat.every((v) => typeof v === 'number' && Number.isInteger(v));
    if (flat.some((v) => typeof v !== 'number' && typeof v !== 'boolean'))
      throw new TypeError('tensor(): elements must be numbers or booleans');
    if (allBool) base = wrap(N.fromBytes(Uint8Array.from(flat, (v) => (v ? 1 : 0)), shape, 'bool', null));
    else if (allInt && !(opts.dtype && opts.dtype.startsWith('float')) && flat.length > 0) {
      base = wrap(N.fromBytes(BigInt64Array.from(flat, (v) => BigInt(v as number)), shape, 'int64', null));
    } else {
      const f64 = wrap(N.fromBytes(Float64Array.from(flat as number[]), shape, 'float64', null));
      base = f64.to(opts.dtype ?? 'float32');
      f64.dispose(); // (when no conversion was needed, `base` shares the storage and keeps it alive)
    }
  }
  if ((opts.dtype && base.dtype !== opts.dtype) || (opts.device && opts.device !== 'cpu')) {
    const conv = wrap(N.to(base.handle, opts.dtype ?? null, opts.device ?? null, false));
    base.dispose();
    base = conv;
  }
  return finish(base, opts);
}

/** A 0-dim tensor. */
export const scalarTensor = (v: number | boolean, opts: CreateOptions = {}): Tensor => tensor(v, opts);

export const zeros = (shape: Shape, o: CreateOptions = {}) => finish(wrap(N.zeros(shape, o.dtype ?? null, o.device ?? null)), o);
export const ones = (shape: Shape, o: CreateOptions = {}) => finish(wrap(N.ones(shape, o.dtype ?? null, o.device ?? null)), o);
export const empty = (shape: Shape, o: CreateOptions = {}) => finish(wrap(N.empty(shape, o.dtype ?? null, o.device ?? null)), o);
export const full = (shape: Shape, value: number | boolean, o: CreateOptions = {}) =>
  finish(wrap(N.full(shape, value, o.dtype ?? null, o.device ?? null)), o);
export const zerosLike = (t: Tensor, o: CreateOptions = {}) => zeros(t.shape, { dtype: t.dtype, device: t.device as CreateOptions['device'], ...o });
export const onesLike = (t: Tensor, o: CreateOptions = {}) => ones(t.shape, { dtype: t.dtype, device: t.device as CreateOptions['device'], ...o });
export const fullLike = (t: Tensor, v: number | boolean, o: CreateOptions = {}) => full(t.shape, v, { dtype: t.dtype, device: t.device as CreateOptions['device'], ...o });

/** `arange(end)` or `arange(start, end, step)`; int64 when all are integers, as in PyTorch. */
export function arange(startOrEnd: number, end?: number, step = 1, o: CreateOptions = {}): Tensor {
  const [a, b] = end === undefined ? [0, startOrEnd] : [startOrEnd, end];
  return finish(wrap(N.arange(a, b, step, o.dtype ?? null, o.device ?? null)), o);
}
export const linspace = (start: number, end: number, steps: number, o: CreateOptions = {}) =>
  finish(wrap(N.linspace(start, end, steps, o.dtype ?? null, o.device ?? null)), o);
export const rand = (shape: Shape, o: CreateOptions = {}) => finish(wrap(N.rand(shape, o.dtype ?? null, o.device ?? null)), o);
export const randn = (shape: Shape, o: CreateOptions = {}) => finish(wrap(N.randn(shape, o.dtype ?? null, o.device ?? null)), o);
/** Integers uniform in [low, high). */
export const randint = (low: number, high: number, shape: Shape, o: CreateOptions = {}) =>
  finish(wrap(N.randint(low, high, shape, o.dtype ?? null, o.device ?? null)), o);

/** A random permutation of 0 … n−1 (int64). */
export const randperm = (n: number, o: CreateOptions = {}) => finish(wrap(N.randperm(n, o.dtype ?? null, o.device ?? null)), o);

/** Seeds libtorch's default generator (CPU, and CUDA where present). */
export const manualSeed = (seed: number): void => N.manualSeed(seed);
/** The default CPU generator's state, as a uint8 tensor (for checkpoints). */
export const getRngState = (): Tensor => wrap(N.getRngState());
export const setRngState = (state: Tensor): void => N.setRngState(state.handle);
/**
 * The state (uint8 tensor) of a fresh CPU generator seeded with `seed`, as `manualSeed(seed)`
 * would leave the default one, without touching the default generator. `sampleNext` and the
 * decoding step advance such states in place (`rngStates`).
 */
export const rngStateForSeed = (seed: number): Tensor => wrap(N.rngStateForSeed(seed));

/** Intra-op threads for libtorch (OpenMP). Defaults to the machine's cores at load. */
export const setNumThreads = (n: number): void => N.setNumThreads(n);
export const getNumThreads = (): number => N.getNumThreads();
if (nativeAvailable) N.setNumThreads(Number(process.env.PRIME_NUM_THREADS ?? 0) || os.availableParallelism());

/** Live native tensors and their bytes. */
export const memory = (): { tensors: number; bytes: number } => N.memory();
/**
 * Bytes of freed CPU blocks (≥ 128 KiB) the native allocator keeps for reuse. Capped by
 * PRIME_CPU_CACHE_MB (default 1024); `emptyCache()` returns them to the system.
 */
export const cachedMemory = (): number => N.cachedMemory();
export const emptyCache = (): void => N.emptyCache();
/** libtorch's version, whether this build has CUDA, and whether its CPU GEMMs run on MKL (else OpenBLAS here). */
export const version = (): { libtorch: string; cuda: boolean; mkl: boolean } => N.version();
export const cudaAvailable = (): boolean => N.cudaAvailable();
/**
 * The attention kernel of prime-ts/lm's fused decoder layer for multi-token queries (prefill,
 * scoring, training): 'sdpa', libtorch's scaled_dot_product_attention (libtorch ≥ 2.5, the
 * default there), or 'composite' (matmul, masked softmax, matmul; the only one on 1.13).
 * Decoding steps always use the composite path. Without an argument, returns the current one.
 */
export const setAttentionKernel = (kind?: 'sdpa' | 'composite'): 'sdpa' | 'composite' => N.setAttentionKernel(kind ?? null);
