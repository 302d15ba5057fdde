/**
 * Advantage estimators behind one signature, registered by name (`prime`, `rloo`, `grpo`).
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
   * Data-parallel training: sums numbers over all ranks, so that whitening and the advantage
   * mean/std metrics use every valid token of the global batch, not only this rank's share.
   * Default: none (statistics of this batch).
   */
  allReduceSum?: AllReduceSum;
}
export type ProcessBaseline = 'paper' | 'code';
export const DEFAULT_ADVANTAGE_CONFIG: AdvantageConfig = { outcomeCoef: 5, processCoef: 5, gamma: 1, whiten: true, processBaseline: 'paper' };

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

/** `prime`: A = c_o·A_o + c_p·A_p (outcome RLOO at every token + RLOO process returns). */
registerAdvantageEstimator('prime', (inp, cfg) => tidy(() => {
  if (!inp.tokenRewards) throw new Error("advantage 'prime' needs tokenRewards (the implicit PRM's process rewards)");
  const ao = rlooOutcomeAdvantage(inp.outcome.to(inp.tokenRewards.dtype), inp.groupSize).unsqueeze(1); // (N, 1)
  const ap = rlooProcessAdvantage(inp.tokenRewards, inp.mask, inp.groupSize, cfg.gamma, cfg.processBaseline ?? 'paper');
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
