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
/** (x − mean) / sqrt(var + eps) over valid tokens; masked positions are set to 0. */
export function maskedWhiten(x: Tensor, mask: Tensor, eps = 1e-8): Tensor {
  return tidy(() => {
    const mu = maskedMean(x, mask);
    const sd = maskedVar(x, mask).add(eps).sqrt();
    return x.sub(mu).div(sd).where(mask.bool(), 0);
  });
}
