/**
 * Policy losses. Shapes: (N, T) token tensors with mask (N, T); token-mean aggregation over all
 * valid tokens of the (mini-)batch.
 */
import { Tensor, tidy } from '../torch/index.js';
import { maskedMean } from './masked.js';

export interface PpoLossResult {
  /** Differentiable w.r.t. logp. */
  loss: Tensor;
  /** Fraction of valid tokens where the clipped term was the active one. */
  clipFraction: number;
  /** mean(old_logp − logp) over valid tokens, an estimate of KL(π_old ‖ π_θ). */
  approxKl: number;
}

/**
 * PPO's clipped surrogate (Schulman et al. 2017):
 *   ratio = exp(logp − old_logp),
 *   L = mean_tokens max(−A·ratio, −A·clip(ratio, 1−ε, 1+ε)).
 */
export function ppoClipLoss(logp: Tensor, oldLogp: Tensor, advantages: Tensor, mask: Tensor, clipEps = 0.2): PpoLossResult {
  return tidy(() => {
    const logRatio = logp.sub(oldLogp);
    const ratio = logRatio.exp();
    const unclipped = advantages.neg().mul(ratio);
    const clipped = advantages.neg().mul(ratio.clamp(1 - clipEps, 1 + clipEps));
    const loss = maskedMean(unclipped.maximum(clipped), mask);
    const clipFraction = maskedMean(clipped.gt(unclipped).to('float32'), mask).item();
    const approxKl = maskedMean(logRatio.detach().neg(), mask).item();
    return { loss, clipFraction, approxKl };
  });
}

export type KlEstimator = 'k1' | 'k3';
/**
 * Per-token estimators of KL(π_θ ‖ π_ref) from samples of π_θ (Schulman, "Approximating KL
 * divergence", 2020): k1 = log π_θ − log π_ref; k3 = exp(ref − logp) − (ref − logp) − 1 (≥ 0,
 * unbiased, lower variance). (N, T), zero at masked positions.
 */
export function klPenalty(logp: Tensor, refLogp: Tensor, mask: Tensor, kind: KlEstimator): Tensor {
  return tidy(() => {
    const d = refLogp.sub(logp);
    const k = kind === 'k1' ? d.neg() : kind === 'k3' ? d.exp().sub(d).sub(1) : null;
    if (!k) throw new Error(`klPenalty: unknown estimator '${kind as string}' (k1 | k3)`);
    return k.where(mask.bool(), 0);
  });
}
