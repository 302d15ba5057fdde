/**
 * Policy losses, their aggregation over tokens and sequences, and the KL coefficient controllers.
 * Shapes: (N, T) token tensors with mask (N, T).
 */
import { Tensor, tidy } from '../torch/index.js';
import { maskedMean } from './masked.js';

export interface PpoLossResult {
  /** Token-mean of tokenLoss over valid tokens (aggregateLoss 'token-mean'); differentiable w.r.t. logp. */
  loss: Tensor;
  /** The per-token surrogate max(−A·ratio, −A·clip(ratio, …)) (N, T), zero at masked positions; differentiable. */
  tokenLoss: Tensor;
  /** Fraction of valid tokens where the clipped term was the active one. */
  clipFraction: number;
  /** mean(old_logp − logp) over valid tokens, an estimate of KL(π_old ‖ π_θ). */
  approxKl: number;
}

/**
 * PPO's clipped surrogate (Schulman et al. 2017, eq. 7) with DAPO's decoupled clip range
 * ("Clip-Higher", Yu et al. 2025, arXiv 2503.14476, eq. 10):
 *   ratio = exp(logp − old_logp),
 *   l_t = max(−A·ratio, −A·clip(ratio, 1 − ε_low, 1 + ε_high)),   loss = mean over valid tokens of l_t.
 * ε_high = ε_low (the default) is PPO's symmetric clip; DAPO uses ε_low = 0.2, ε_high = 0.28.
 * Other aggregations of `tokenLoss`: aggregateLoss. Throws unless 0 < ε_low < 1 and ε_high > 0.
 */
export function ppoClipLoss(logp: Tensor, oldLogp: Tensor, advantages: Tensor, mask: Tensor, clipLow = 0.2, clipHigh = clipLow): PpoLossResult {
  if (!(clipLow > 0 && clipLow < 1) || !(clipHigh > 0)) throw new Error(`ppoClipLoss: need 0 < clipLow < 1 and clipHigh > 0, got ${clipLow}, ${clipHigh}`);
  return tidy(() => {
    const logRatio = logp.sub(oldLogp);
    const ratio = logRatio.exp();
    const unclipped = advantages.neg().mul(ratio);
    const clipped = advantages.neg().mul(ratio.clamp(1 - clipLow, 1 + clipHigh));
    const tokenLoss = unclipped.maximum(clipped).where(mask.bool(), 0);
    const loss = maskedMean(tokenLoss, mask);
    const clipFraction = maskedMean(clipped.gt(unclipped).to('float32'), mask).item();
    const approxKl = maskedMean(logRatio.detach().neg(), mask).item();
    return { loss, tokenLoss, clipFraction, approxKl };
  });
}

/**
 * How per-token losses l (N, T) become one loss, by name (verl's `loss_agg_mode`):
 * - 'token-mean': Σ_{i,t} l·m / Σ_{i,t} m — every valid token of the batch weighs the same
 *   (DAPO's token-level loss, arXiv 2503.14476 eq. 12; verl's default).
 * - 'seq-mean-token-mean': (1/N) Σ_i [Σ_t l·m / Σ_t m] — each response weighs the same, its tokens
 *   share that weight (GRPO, Shao et al. 2024 eq. 3; PRIME's released code, which averages per sequence).
 * - 'seq-mean-token-sum': (1/N) Σ_i Σ_t l·m — each token weighs the same within a response, and a
 *   longer response weighs more (verl's option; the sum of a REINFORCE return's terms).
 * - 'seq-mean-token-sum-norm': (1/N) Σ_i Σ_t l·m / L with a constant L (Dr. GRPO, Liu et al. 2025,
 *   arXiv 2503.20783 §3.1: the objective keeps GRPO's 1/G and drops 1/|o_i|; L = the maximum
 *   response length, a constant as their code's normalizer). verl's mode of this name divides
 *   Σ_i Σ_t l·m by the padded T without 1/N: N times this, the same direction.
 */
export type LossAggregation = 'token-mean' | 'seq-mean-token-mean' | 'seq-mean-token-sum' | 'seq-mean-token-sum-norm';
export const LOSS_AGGREGATIONS: readonly LossAggregation[] = ['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm'];

export interface AggregateOptions {
  /** L of 'seq-mean-token-sum-norm' (> 0), e.g. the maximum response length. Required by that mode. */
  normalizer?: number;
  /**
   * Gradient accumulation: valid tokens Σ m of the whole (mini-)batch these rows belong to. When
   * given, 'token-mean' divides this part's Σ l·m by it (not by the part's own token count), so the
   * parts' results sum to the whole batch's token-mean. Default: this part's own count.
   */
  batchTokens?: number;
  /** Likewise: sequences N of the whole (mini-)batch, the divisor of the 'seq-mean-*' modes. Default: this part's rows. */
  batchSequences?: number;
}

/**
 * Aggregates per-token losses (N, T) over valid tokens by `mode` (see LossAggregation); masked
 * positions never contribute. With batchTokens / batchSequences, the result is this part's share
 * of the whole batch's aggregate (micro-batches and data-parallel ranks sum their shares).
 * Returns a scalar (differentiable). Throws on an unknown mode or a missing/invalid normalizer.
 */
export function aggregateLoss(tokenLoss: Tensor, mask: Tensor, mode: LossAggregation, opts: AggregateOptions = {}): Tensor {
  if (mode === 'seq-mean-token-sum-norm' && !(opts.normalizer !== undefined && opts.normalizer > 0))
    throw new Error(`aggregateLoss: 'seq-mean-token-sum-norm' needs a normalizer > 0 (e.g. the maximum response length), got ${opts.normalizer}`);
  return tidy(() => {
    const valid = mask.bool();
    const l = tokenLoss.where(valid, 0);
    const seqs = opts.batchSequences ?? tokenLoss.size(0);
    switch (mode) {
      case 'token-mean':
        return l.sum().div(Math.max(1, opts.batchTokens ?? mask.sum().item()));
      case 'seq-mean-token-mean':
        return l.sum(1).div(mask.to(l.dtype).sum(1).clamp(1, null)).sum().div(Math.max(1, seqs));
      case 'seq-mean-token-sum':
        return l.sum().div(Math.max(1, seqs));
      case 'seq-mean-token-sum-norm':
        return l.sum().div(Math.max(1, seqs) * opts.normalizer!);
      default:
        throw new Error(`aggregateLoss: unknown mode '${mode as string}' (${LOSS_AGGREGATIONS.join(' | ')})`);
    }
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

/**
 * Ziegler et al.'s adaptive KL coefficient ("Fine-Tuning Language Models from Human Preferences",
 * arXiv 1909.08593 §2.2, in the horizon form of their released code, as verl's AdaptiveKLController):
 *   e = clip(KL / KL_target − 1, −0.2, 0.2),   β ← β · (1 + e · n / horizon),
 * with KL the measured KL to the reference, n the samples (responses) since the last update.
 * β grows when the policy drifts past the target and shrinks when it stays below it; the ±0.2 clip
 * bounds each change. Returns the new β. Throws unless target > 0, horizon > 0 and n ≥ 0.
 */
export function adaptiveKlCoef(coef: number, currentKl: number, target: number, horizon: number, nSteps: number): number {
  if (!(target > 0) || !(horizon > 0) || !(nSteps >= 0)) throw new Error(`adaptiveKlCoef: need target > 0, horizon > 0, nSteps ≥ 0; got ${target}, ${horizon}, ${nSteps}`);
  if (!Number.isFinite(currentKl)) throw new Error(`adaptiveKlCoef: the measured KL is not finite (${currentKl})`);
  const e = Math.min(0.2, Math.max(-0.2, currentKl / target - 1));
  return coef * (1 + (e * nSteps) / horizon);
}

export type KlControllerKind = 'fixed' | 'adaptive';
/**
 * The KL coefficient β across training steps: 'fixed' keeps its initial value; 'adaptive' follows
 * adaptiveKlCoef after each step. `value` is the β to use now; `state()` / `KlController.restore`
 * carry it through checkpoints (resume continues with the same β).
 */
export class KlController {
  value: number;
  constructor(readonly kind: KlControllerKind, initial: number, readonly target = 0.1, readonly horizon = 10000) {
    if (kind !== 'fixed' && kind !== 'adaptive') throw new Error(`KlController: unknown kind '${kind as string}' (fixed | adaptive)`);
    if (!(initial >= 0)) throw new Error(`KlController: initial coefficient must be ≥ 0, got ${initial}`);
    this.value = initial;
  }
  /** After a step that measured `currentKl` on `nSteps` responses: the next step's β. */
  update(currentKl: number, nSteps: number): number {
    if (this.kind === 'adaptive') this.value = adaptiveKlCoef(this.value, currentKl, this.target, this.horizon, nSteps);
    return this.value;
  }
  state(): { kind: KlControllerKind; value: number } {
    return { kind: this.kind, value: this.value };
  }
  /** Continues from a saved state (its kind must match). */
  load(s: { kind: KlControllerKind; value: number }): void {
    if (s.kind !== this.kind) throw new Error(`KL controller state is '${s.kind}', the config says '${this.kind}'`);
    if (!Number.isFinite(s.value) || s.value < 0) throw new Error(`KL controller state: invalid coefficient ${s.value}`);
    this.value = s.value;
  }
}
