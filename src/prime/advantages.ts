/**
 * Advantage estimators behind one signature, registered by name (`prime`, `rloo`, `grpo`, `drgrpo`).
 *
 * Shapes: N = B·K responses, rows grouped by prompt (rows g·K … g·K+K−1 answer prompt g);
 * T response tokens; mask (N, T) marks valid tokens.
 */
import { Tensor, tidy, arange, tensor } from '../torch/index.js';
import { globalMaskedMean, maskedMean, maskedMoments, maskedWhiten, type AllReduceSum } from './masked.js';

export interface AdvantageInput {
  /** Outcome scores o_i ∈ [0, 1] (N). */
  outcome: Tensor;
  /** Implicit process rewards r_{i,t} (N, T), zero at masked positions; required by `prime`. */
  tokenRewards?: Tensor | null;
  mask: Tensor;
  /** K, the responses per prompt. */
  groupSize: number;
}

export interface AdvantageConfig {
  /** c_o, weight of the outcome advantage. PRIME reference: 5. */
  outcomeCoef: number;
  /** c_p, weight of the process advantage. PRIME reference: 5. */
  processCoef: number;
  /** γ, discount of the process return. PRIME: 1. */
  gamma: number;
  /** Whiten the final advantages over all valid tokens of the batch (PRIME's code does). */
  whiten: boolean;
  /**
   * The process RLOO baseline: 'paper' (default) subtracts mean_{j≠i}(mean_s r_{j,s}) from r_{i,t};
   * 'code' is PRIME's released code, r_{i,t}·K/(K−1) − Σ_j mean_s r_{j,s}/(K−1): the same response
   * totals, token deviations K/(K−1) times larger. See rlooProcessAdvantage.
   */
  processBaseline?: ProcessBaseline;
  /**
   * How `prime` turns process rewards into returns: 'sum' (default, PRIME: Σ_{s≥t} γ^{s−t} r_s) or
   * 'min' (PURE, Cheng et al. 2025: the rewards are first reweighted by minFormProcessRewards, so the
   * return approaches the minimum reward as the temperature → 0). See minFormProcessRewards.
   */
  processReturn?: ProcessReturn;
  /** Temperature T of the 'min' form's softmin weights, in reward units (PURE: 0.1). */
  minTemperature?: number;
  /**
   * Data-parallel training: sums numbers over all ranks, so that whitening and the advantage
   * mean/std metrics use every valid token of the global batch, not only this rank's share.
   * Default: none (statistics of this batch).
   */
  allReduceSum?: AllReduceSum;
}
export type ProcessBaseline = 'paper' | 'code';
export type ProcessReturn = 'sum' | 'min';
export const DEFAULT_ADVANTAGE_CONFIG: AdvantageConfig = {
  outcomeCoef: 5, processCoef: 5, gamma: 1, whiten: true, processBaseline: 'paper', processReturn: 'sum', minTemperature: 0.1,
};

export interface AdvantageResult {
  /** A (N, T), zero at masked positions. */
  advantages: Tensor;
  metrics: Record<string, number>;
}
export type AdvantageEstimator = (input: AdvantageInput, cfg: AdvantageConfig) => AdvantageResult;

const registry = new Map<string, AdvantageEstimator>();
/** Registers an estimator under a name usable in configs (`algorithm.advantage`). */
export function registerAdvantageEstimator(name: string, fn: AdvantageEstimator): void {
  registry.set(name, fn);
}
export function getAdvantageEstimator(name: string): AdvantageEstimator {
  const fn = registry.get(name);
  if (!fn) throw new Error(`Unknown advantage estimator: '${name}' (known: ${[...registry.keys()].join(', ')})`);
  return fn;
}
export const advantageEstimators = (): string[] => [...registry.keys()];

/**
 * Leave-one-out mean within each group: for row i of group g, mean_{j≠i, j∈g} x_j.
 * x: (N) with N = G·K. Returns (N).
 */
export function leaveOneOutMean(x: Tensor, K: number): Tensor {
  if (K < 2) throw new Error(`leave-one-out baselines need at least 2 samples per prompt, got K=${K}`);
  return tidy(() => {
    const g = x.reshape(-1, K); // (G, K)
    return g.sum(1, true).sub(g).div(K - 1).reshape(-1);
  });
}

/**
 * Discounted reverse cumulative sum along tokens: R_t = Σ_{s≥t} γ^{s−t} x_s. x: (N, T).
 * γ = 1 is flip–cumsum–flip; otherwise a product with the (T, T) matrix Γ[s, t] = γ^{s−t}·[s ≥ t].
 */
export function discountedReturns(x: Tensor, gamma: number): Tensor {
  return tidy(() => {
    if (gamma === 1) return x.flip(1).cumsum(1).flip(1);
    const T = x.size(1);
    const idx = arange(T, undefined, 1, { dtype: x.dtype });
    const diff = idx.unsqueeze(1).sub(idx.unsqueeze(0)); // s − t, (T, T)
    const G = tensor(gamma, { dtype: x.dtype }).pow(diff.clamp(0, null)).where(diff.ge(0), 0);
    return x.matmul(G);
  });
}

/** Outcome advantage of RLOO (Ahmadian et al. 2024): A_o(i) = o_i − mean_{j≠i} o_j. (N). */
export function rlooOutcomeAdvantage(outcome: Tensor, K: number): Tensor {
  return tidy(() => outcome.sub(leaveOneOutMean(outcome, K)));
}

/**
 * PRIME's process advantage (DESIGN §2.6), with m_j = mean_s r_{j,s} over valid tokens:
 *   'paper' (PRIME eq. 5):  A_p(i, t) = Σ_{s≥t} γ^{s−t} [ r_{i,s} − mean_{j≠i} m_j ];
 *   'code' (its released code): Σ_{s≥t} γ^{s−t} [ r_{i,s}·K/(K−1) − Σ_j m_j/(K−1) ].
 * The two differ per token by (r_{i,s} − m_i)/(K−1), which sums to 0 over a response: at γ = 1 the
 * returns at the first token agree, and the code's token deviations are K/(K−1) times the paper's.
 * (N, T), zero at masked positions.
 */
export function rlooProcessAdvantage(tokenRewards: Tensor, mask: Tensor, K: number, gamma: number, baseline: ProcessBaseline = 'paper'): Tensor {
  if (K < 2) throw new Error(`leave-one-out baselines need at least 2 samples per prompt, got K=${K}`);
  return tidy(() => {
    const perResponse = maskedMean(tokenRewards, mask, 1); // m_j, (N)
    const valid = mask.bool();
    let centered: Tensor;
    if (baseline === 'paper') centered = tokenRewards.sub(leaveOneOutMean(perResponse, K).unsqueeze(1));
    else if (baseline === 'code') {
      const groupSum = perResponse.reshape(-1, K).sum(1, true).expand([perResponse.size(0) / K, K]).reshape(-1, 1); // Σ_j m_j, (N, 1)
      centered = tokenRewards.mul(K / (K - 1)).sub(groupSum.div(K - 1));
    } else throw new Error(`rlooProcessAdvantage: unknown baseline '${baseline as string}' (paper | code)`);
    return discountedReturns(centered.where(valid, 0), gamma).where(valid, 0);
  });
}

/**
 * PURE's min-form reward transformation (Cheng et al. 2025, "Stop Summation: Min-Form Credit
 * Assignment Is All Process Reward Model Needs for Reasoning", arXiv 2504.15275, §3; its code's
 * temperature T = 0.1): within each response, over its valid positions,
 *   w_{i,t} = exp(−r_{i,t}/T) / Σ_s exp(−r_{i,s}/T)   (a softmin),     r*_{i,t} = w_{i,t} · r_{i,t}.
 * The ordinary return of the transformed rewards, Σ_{s≥t} r*_{i,s}, is then a soft minimum: as
 * T → 0 it is min_s r_{i,s} at every token up to the worst one and 0 after it, so no token's credit
 * grows with the number of high-reward tokens after it (the sum form's hackable property); as
 * T → ∞ the weights are uniform (1/n_i) and r* is the response's mean reward spread over its tokens.
 * T is in reward units: PURE's step rewards lie in [−1, 1]; PRIME's β·log-ratios are much smaller.
 * Here a "step" is whatever carries a reward: every token (granularity 'token') or the last one.
 *
 * tokenRewards, mask: (N, T). Returns r* (N, T), zero at masked positions (and for empty rows).
 * Throws when temperature ≤ 0.
 */
export function minFormProcessRewards(tokenRewards: Tensor, mask: Tensor, temperature: number): Tensor {
  if (!(temperature > 0)) throw new Error(`minFormProcessRewards: temperature must be > 0, got ${temperature}`);
  return tidy(() => {
    const valid = mask.bool();
    const w = tokenRewards.div(-temperature).where(valid, -Infinity).softmax(1); // NaN only in rows with no valid token
    return w.mul(tokenRewards).where(valid, 0);
  });
}

function finish(a: Tensor, mask: Tensor, cfg: AdvantageConfig, extra: Record<string, number>): AdvantageResult {
  return tidy(() => {
    const advantages = cfg.whiten ? maskedWhiten(a, mask, 1e-8, cfg.allReduceSum) : a.where(mask.bool(), 0);
    const valid = advantages.maskedSelect(mask.bool());
    const n = valid.numel;
    const metrics: Record<string, number> = {
      ...extra,
      'advantage/mean': n ? valid.mean().item() : 0,
      'advantage/std': n > 1 ? valid.std().item() : 0,
      // max and min of this rank's tokens: the trainer reduces them over ranks with max / min
      'advantage/max': n ? valid.max().item() : 0,
      'advantage/min': n ? valid.min().item() : 0,
    };
    if (cfg.allReduceSum) {
      const g = maskedMoments(advantages, mask, cfg.allReduceSum);
      metrics['advantage/mean'] = g.mean;
      metrics['advantage/std'] = g.count > 1 ? Math.sqrt(g.variance) : 0;
    }
    return { advantages, metrics };
  });
}

/**
 * `prime`: A = c_o·A_o + c_p·A_p (outcome RLOO at every token + RLOO process returns); with
 * processReturn 'min' the process rewards are PURE's transformed r* (minFormProcessRewards) before
 * the RLOO baseline, as PURE subtracts its baseline from the transformed rewards.
 */
registerAdvantageEstimator('prime', (inp, cfg) => tidy(() => {
  if (!inp.tokenRewards) throw new Error("advantage 'prime' needs tokenRewards (the implicit PRM's process rewards)");
  const ao = rlooOutcomeAdvantage(inp.outcome.to(inp.tokenRewards.dtype), inp.groupSize).unsqueeze(1); // (N, 1)
  const ret = cfg.processReturn ?? 'sum';
  if (ret !== 'sum' && ret !== 'min') throw new Error(`advantage 'prime': unknown processReturn '${ret as string}' (sum | min)`);
  const rewards = ret === 'min' ? minFormProcessRewards(inp.tokenRewards, inp.mask, cfg.minTemperature ?? 0.1) : inp.tokenRewards;
  const ap = rlooProcessAdvantage(rewards, inp.mask, inp.groupSize, cfg.gamma, cfg.processBaseline ?? 'paper');
  const a = ao.mul(cfg.outcomeCoef).add(ap.mul(cfg.processCoef)).where(inp.mask.bool(), 0);
  return finish(a, inp.mask, cfg, {
    'advantage/outcome_mean_abs': ao.abs().mean().item(),
    'advantage/process_return_mean': cfg.allReduceSum ? globalMaskedMean(ap, inp.mask, cfg.allReduceSum).mean : maskedMean(ap, inp.mask).item(),
  });
}));

/** `rloo`: outcome-only RLOO, the paper's baseline: A = c_o·A_o at every valid token. */
registerAdvantageEstimator('rloo', (inp, cfg) => tidy(() => {
  const ao = rlooOutcomeAdvantage(inp.outcome.to('float32'), inp.groupSize).unsqueeze(1);
  return finish(ao.mul(cfg.outcomeCoef).expand(inp.mask.shape), inp.mask, cfg, {});
}));

/**
 * `grpo` (Shao et al. 2024, DeepSeekMath): A = c_o·(o_i − mean_g o) / (std_g o + ε) at every
 * valid token, std with Bessel's correction, ε = 1e-6.
 */
registerAdvantageEstimator('grpo', (inp, cfg) => tidy(() => {
  const K = inp.groupSize;
  if (K < 2) throw new Error(`advantage 'grpo' needs at least 2 samples per prompt, got K=${K}`);
  const g = inp.outcome.to('float32').reshape(-1, K);
  const z = g.sub(g.mean(1, true)).div(g.std(1, { keepdim: true }).add(1e-6)).reshape(-1, 1);
  return finish(z.mul(cfg.outcomeCoef).expand(inp.mask.shape), inp.mask, cfg, {});
}));

/**
 * `drgrpo` (Liu et al. 2025, "Understanding R1-Zero-Like Training: A Critical Perspective",
 * arXiv 2503.20783, §3.1): GRPO without the std normalization, A = c_o·(o_i − mean_g o) at every
 * valid token, and never whitened (whitening divides by the batch's std, the normalization Dr. GRPO
 * removes; `whiten` is ignored). Its other half, no division by the response length, is the loss
 * aggregation `seq-mean-token-sum-norm` (aggregateLoss): choose both for Dr. GRPO.
 */
registerAdvantageEstimator('drgrpo', (inp, cfg) => tidy(() => {
  const K = inp.groupSize;
  if (K < 2) throw new Error(`advantage 'drgrpo' needs at least 2 samples per prompt, got K=${K}`);
  const g = inp.outcome.to('float32').reshape(-1, K);
  const centered = g.sub(g.mean(1, true)).reshape(-1, 1);
  return finish(centered.mul(cfg.outcomeCoef).expand(inp.mask.shape), inp.mask, { ...cfg, whiten: false }, {});
}));
