/**
 * Masked statistics over token tensors. `mask` is (N, T) with 1 at valid response tokens and 0 at
 * padding; values at masked positions never influence a result.
 */
import { Tensor, tidy } from '../torch/index.js';

/** Σ x·mask (over `dim`, or all). */
export function maskedSum(x: Tensor, mask: Tensor, dim?: number): Tensor {
  return tidy(() => x.where(mask.bool(), 0).sum(dim ?? null));
}
/** Σ x·mask / Σ mask (over `dim`, or all); 0 where the mask is empty. */
export function maskedMean(x: Tensor, mask: Tensor, dim?: number): Tensor {
  return tidy(() => maskedSum(x, mask, dim).div(mask.to(x.dtype).sum(dim ?? null).clamp(1, null)));
}
/**
 * Variance over valid tokens in two passes (mean first, then mean squared deviation), with
 * Bessel's correction when `unbiased` (n/(n−1)).
 */
export function maskedVar(x: Tensor, mask: Tensor, unbiased = true): Tensor {
  return tidy(() => {
    const mu = maskedMean(x, mask);
    const v = maskedMean(x.sub(mu).square(), mask);
    if (!unbiased) return v;
    const n = mask.sum().item();
    return n > 1 ? v.mul(n / (n - 1)) : v;
  });
}
/**
 * Sums a list of numbers elementwise over every data-parallel rank (an all-reduce); every rank
 * gets the totals. The identity on one process.
 */
export type AllReduceSum = (xs: number[]) => number[];

/** Σ x·mask / Σ mask over every rank's valid tokens (one reduction of [Σ x, count], float64); 0 when there are none. */
export function globalMaskedMean(x: Tensor, mask: Tensor, allReduceSum: AllReduceSum): { mean: number; count: number } {
  const local = tidy(() => [x.double().where(mask.bool(), 0).sum().item(), mask.sum().item()]);
  const [sum, count] = allReduceSum(local) as [number, number];
  return { mean: sum / Math.max(1, count), count };
}

/**
 * Mean and variance of the valid tokens of every rank's batch together, in two passes: the global
 * mean first (one reduction of [Σ x, count]), then the mean squared deviation from it (one
 * reduction of Σ (x − mean)²); Bessel's correction when `unbiased`. Sums are taken in float64.
 */
export function maskedMoments(x: Tensor, mask: Tensor, allReduceSum: AllReduceSum, unbiased = true): { mean: number; variance: number; count: number } {
  const { mean, count } = globalMaskedMean(x, mask, allReduceSum);
  const [squares] = allReduceSum([tidy(() => x.double().sub(mean).square().where(mask.bool(), 0).sum().item())]) as [number];
  const v = squares / Math.max(1, count);
  return { mean, variance: unbiased && count > 1 ? (v * count) / (count - 1) : v, count };
}

/**
 * (x − mean) / sqrt(var + eps) over valid tokens; masked positions are set to 0. With
 * `allReduceSum`, mean and variance are those of every rank's valid tokens together (data-parallel
 * training whitens over the global batch); without it, of this batch (tensor arithmetic, float32).
 */
export function maskedWhiten(x: Tensor, mask: Tensor, eps = 1e-8, allReduceSum?: AllReduceSum): Tensor {
  if (allReduceSum) {
    const { mean, variance } = maskedMoments(x, mask, allReduceSum);
    return tidy(() => x.sub(mean).div(Math.sqrt(variance + eps)).where(mask.bool(), 0));
  }
  return tidy(() => {
    const mu = maskedMean(x, mask);
    const sd = maskedVar(x, mask).add(eps).sqrt();
    return x.sub(mu).div(sd).where(mask.bool(), 0);
  });
}
