/**
 * Weights packed once for XNNPACK's fully-connected operator, as libtorch ships it
 * (`prepacked::linear_clamp_prepack` / `linear_clamp_run`, the ops behind PyTorch's mobile
 * optimizer; registered in libtorch builds with XNNPACK, such as Debian's 1.13, and absent from
 * PyPI's 2.x wheels: there `packedLinearAvailable()` is false). For products with few rows on the
 * CPU, where OpenBLAS's GEMM re-packs the whole weight on every call: lm_head 151,936 × 896,
 * 2 threads, 4 rows 50–53 → 15 ms (native/src/packed.cc has the measurements).
 */
import { N } from './native.js';
import { DTYPE_BYTES, Tensor, wrap } from './tensor.js';

/** Whether this libtorch has XNNPACK's prepacked linear (packLinear works). */
export const packedLinearAvailable = (): boolean => N.packLinearAvailable();

/**
 * A float32 weight (out, in) and optional bias (out) packed for XNNPACK, on the CPU. The packed
 * copy is as large as the weight and does not follow later changes to it; `dispose()` frees it
 * (the GC would, later). Its output rows are split into `parts` pieces run in parallel, one per
 * intra-op (OpenMP) thread, each by XNNPACK on its own thread.
 */
export class PackedLinear {
  readonly handle: unknown;
  readonly outFeatures: number;
  readonly inFeatures: number;
  /** Bytes of the packed copy (the weight's and bias's sizes). */
  readonly bytes: number;
  #disposed = false;

  constructor(weight: Tensor, bias: Tensor | null = null, o: { parts?: number } = {}) {
    if (weight.ndim !== 2) throw new Error(`packLinear: weight must be 2-D (out, in), got shape [${weight.shape}]`);
    const [out, inF] = weight.shape as [number, number];
    const parts = o.parts ?? 4 * N.getNumThreads();
    if (!Number.isInteger(parts) || parts < 1) throw new RangeError(`packLinear: parts must be a positive integer, got ${parts}`);
    this.handle = N.packLinear(weight.handle, bias ? bias.handle : null, parts);
    this.outFeatures = out;
    this.inFeatures = inF;
    this.bytes = (weight.numel + (bias ? bias.numel : 0)) * DTYPE_BYTES[weight.dtype];
  }

  /** x (rows, in) float32 CPU → x · weightᵀ + bias (rows, out). No grad. */
  forward(x: Tensor): Tensor {
    if (this.#disposed) throw new Error('PackedLinear: used after dispose()');
    return wrap(N.packedLinear(x.handle, this.handle));
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    N.releasePacked(this.handle);
  }
}

/** `new PackedLinear(weight, bias, o)`: see PackedLinear. Throws where packedLinearAvailable() is false. */
export const packLinear = (weight: Tensor, bias: Tensor | null = null, o: { parts?: number } = {}): PackedLinear => new PackedLinear(weight, bias, o);
