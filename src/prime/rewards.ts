/**
 * The implicit process reward model (Yuan et al., "Free Process Rewards without Process Labels";
 * Cui et al., "Process Reinforcement through Implicit Rewards", PRIME §3).
 *
 * Shapes: N = B·K responses, T response tokens. Log-probs are of each response token under the
 * PRM π_φ and the frozen reference π_ref; `mask` (N, T) marks valid response tokens.
 */
import { Tensor, tidy } from '../torch/index.js';
import { maskedSum } from './masked.js';

export type RewardGranularity = 'token' | 'whole';

/**
 * Token-level process rewards r_t = β · (log π_φ(y_t | x, y_<t) − log π_ref(y_t | x, y_<t)),
 * zero at masked positions. Granularity `whole` puts Σ_t r_t on each response's last valid token.
 * Returns (N, T).
 */
export function implicitProcessReward(prmLogp: Tensor, refLogp: Tensor, mask: Tensor, beta: number, granularity: RewardGranularity = 'token'): Tensor {
  return tidy(() => {
    const valid = mask.bool();
    const r = prmLogp.sub(refLogp).mul(beta).where(valid, 0);
    if (granularity === 'token') return r;
    if (granularity !== 'whole') throw new Error(`implicitProcessReward: unknown granularity '${granularity as string}' (token | whole)`);
    const total = r.sum(1, true); // (N, 1)
    // index of the last valid token per row: T−1 − argmax over the flipped mask
    const T = mask.size(1);
    const last = mask.to('int64').flip(1).argmax(1, true).neg().add(T - 1); // (N, 1)
    return r.mul(0).scatter(1, last, total).where(valid, 0);
  });
}

/**
 * The implicit PRM's outcome score s = β · Σ_t (log π_φ − log π_ref) over valid tokens: the
 * logit of "this response is correct". Returns (N).
 */
export function implicitOutcomeLogit(prmLogp: Tensor, refLogp: Tensor, mask: Tensor, beta: number): Tensor {
  return tidy(() => maskedSum(prmLogp.sub(refLogp), mask, 1).mul(beta));
}

export interface PrmLossResult {
  /** Mean binary cross-entropy over the N responses (differentiable w.r.t. prmLogp). */
  loss: Tensor;
  /** The outcome logits s (N), detached. */
  logits: Tensor;
  /** Fraction of responses where sign(s) agrees with the label (s > 0 ⇔ o > 0.5). */
  accuracy: number;
}

/**
 * Cross-entropy of the implicit PRM against outcome labels o ∈ [0, 1] (N), in the stable
 * with-logits form:
 *   L = −[o·log σ(s) + (1−o)·log(1−σ(s))] = softplus(s) − s·o,
 * since log σ(s) = −softplus(−s) and log(1−σ(s)) = −softplus(s), and softplus(−s) = softplus(s) − s.
 * libtorch's softplus is computed stably (max(s, 0) + log1p(e^{−|s|}) in value; linear past s = 20)
 * and its gradient is σ(s) everywhere, so ∂L/∂s = σ(s) − o.
 *
 * Why not autograd through max(s, 0) + log1p(exp(−|s|)) directly: at s = 0 exactly its subgradients
 * give ∂L/∂s = 1 − o instead of 1/2 − o (clamp passes the gradient at its bound, |s|' = sign(0) = 0).
 * Every PRIME run starts there — π_φ = π_ref bit for bit, so s = 0 for every response — and that
 * gradient pushes every response's score down (found here: the PRM drifted to s ≈ −2.3 for all
 * responses instead of ranking them).
 */
export function prmCrossEntropyLoss(prmLogp: Tensor, refLogp: Tensor, mask: Tensor, outcome: Tensor, beta: number): PrmLossResult {
  return tidy(() => {
    const s = implicitOutcomeLogit(prmLogp, refLogp, mask, beta);
    const o = outcome.to(s.dtype);
    const loss = s.softplus().sub(s.mul(o)).mean();
    const sd = s.detach();
    const accuracy = sd.gt(0).eq(o.gt(0.5)).to('float32').mean().item();
    return { loss, logits: sd, accuracy };
  });
}

/**
 * The implicit PRM's DPO loss within prompt groups ("Free Process Rewards without Process Labels",
 * Yuan et al. 2024, §3: the implicit PRM trained with DPO's objective; Rafailov et al. 2023): over
 * the pairs (i, j) of a group with o_i > o_j, the Bradley–Terry loss on the outcome logits
 * s = β Σ_t log(π_φ/π_ref),
 *   L = Σ_g Σ_{i,j ∈ g, o_i > o_j} (o_i − o_j) · softplus(−(s_i − s_j)) / N,
 * each pair weighted by its outcome gap as prmPairwiseAccuracy weighs it, divided by the number of
 * responses N (so that micro-batches of whole groups weighted by their share give the mini-batch's
 * value). Unlike the cross-entropy it only sees differences within a group: an offset shared by a
 * group's scores (how hard the prompt is, a drift with length that the group shares) earns nothing.
 * Groups whose outcomes are all equal contribute 0.
 *
 * prmLogp, refLogp, mask: (N, T) with N = G·K, rows g·K … g·K+K−1 one group; outcome (N).
 * Returns the loss (differentiable w.r.t. prmLogp) and the detached logits s (N).
 * Throws when N is not a multiple of K.
 */
export function prmPairwiseDpoLoss(prmLogp: Tensor, refLogp: Tensor, mask: Tensor, outcome: Tensor, beta: number, K: number): { loss: Tensor; logits: Tensor } {
  const N = prmLogp.size(0);
  if (!(Number.isInteger(K) && K >= 1) || N % K !== 0) throw new RangeError(`prmPairwiseDpoLoss: ${N} responses do not split into whole groups of K=${K}`);
  return tidy(() => {
    const s = implicitOutcomeLogit(prmLogp, refLogp, mask, beta); // (N)
    const o = outcome.to(s.dtype);
    const sg = s.reshape(-1, K), og = o.reshape(-1, K); // (G, K)
    const diff = sg.unsqueeze(2).sub(sg.unsqueeze(1)); // s_i − s_j, (G, K, K)
    const w = og.unsqueeze(2).sub(og.unsqueeze(1)).clamp(0, null); // (o_i − o_j)⁺
    const loss = w.mul(diff.neg().softplus()).sum().div(Math.max(1, N));
    return { loss, logits: s.detach() };
  });
}

export type PrmLoss = 'ce' | 'dpo';

/**
 * The negative log-likelihood of the correct responses (RPO's term, Pang et al. 2024, "Iterative
 * Reasoning Preference Optimization": DPO + NLL on the chosen; TRL's `rpo_alpha`): the mean over
 * the N responses of o_i · (−Σ_t m_it log π_φ(y_it) / Σ_t m_it), so wrong responses (o = 0) add 0
 * and micro-batches weighted by their share of responses add up to the mini-batch's value.
 * prmLogp, mask: (N, T); outcome (N) in [0, 1]. Returns a scalar, differentiable w.r.t. prmLogp.
 *
 * Why the implicit PRM wants it (measured here, issue #10): pushing down whole wrong responses
 * also pushes down the confident right steps they share, so the PRM grows less sure than π_ref of
 * right arithmetic, and log(π_φ/π_ref) turns positive on slips and negative on the right digit.
 */
export function correctResponseNll(prmLogp: Tensor, mask: Tensor, outcome: Tensor): Tensor {
  return tidy(() => {
    const m = mask.to(prmLogp.dtype);
    const perResponse = prmLogp.mul(m).sum(1).neg().div(m.sum(1).clamp(1, null)); // (N) token-mean NLL
    return perResponse.mul(outcome.to(prmLogp.dtype)).mean();
  });
}

/**
 * The PRM's training loss by name (`prm.loss`): 'ce' = prmCrossEntropyLoss, 'dpo' = prmPairwiseDpoLoss
 * over groups of K; plus `rpoAlpha` × correctResponseNll when rpoAlpha > 0 (`prm.rpo_alpha`).
 */
export function prmLoss(kind: PrmLoss, prmLogp: Tensor, refLogp: Tensor, mask: Tensor, outcome: Tensor, beta: number, K: number, rpoAlpha = 0): Tensor {
  if (!(rpoAlpha >= 0)) throw new RangeError(`prm.rpo_alpha must be ≥ 0, got ${rpoAlpha}`);
  let loss: Tensor;
  if (kind === 'ce') loss = prmCrossEntropyLoss(prmLogp, refLogp, mask, outcome, beta).loss;
  else if (kind === 'dpo') loss = prmPairwiseDpoLoss(prmLogp, refLogp, mask, outcome, beta, K).loss;
  else throw new Error(`prm.loss: unknown loss '${kind as string}' (ce | dpo)`);
  if (rpoAlpha === 0) return loss;
  return tidy(() => loss.add(correctResponseNll(prmLogp, mask, outcome).mul(rpoAlpha)));
}

export type ProcessRewardNorm = 'batch_norm' | 'none';

/**
 * PRIME's process-reward normalization (reference default, `prime_norm: batch_norm`): every token
 * reward of the batch is divided by the largest absolute reverse cumulative sum of any response,
 *   Z = max_i max_t |Σ_{s≥t} r_{i,s}|,   r̃_{i,t} = r_{i,t} / (Z + ε),   ε = 1e-6,
 * so every undiscounted process return Σ_{s≥t} r̃_{i,s} lies in [−1, 1], the outcome's scale, and β
 * acts only through the PRM's loss. `none` returns the rewards unchanged (a copy).
 *
 * tokenRewards, mask: (N, T). `allReduceMax` (data-parallel) maximizes Z over every rank's batch.
 * Returns the normalized rewards (N, T) and Z.
 */
export function normalizeProcessRewards(tokenRewards: Tensor, mask: Tensor, norm: ProcessRewardNorm,
  allReduceMax?: (xs: number[]) => number[]): { rewards: Tensor; scale: number } {
  if (norm === 'none') return { rewards: tidy(() => tokenRewards.mul(1)), scale: 1 };
  if (norm !== 'batch_norm') throw new Error(`normalizeProcessRewards: unknown norm '${norm as string}' (batch_norm | none)`);
  return tidy(() => {
    const r = tokenRewards.where(mask.bool(), 0);
    let z = r.flip(1).cumsum(1).flip(1).abs().max().item(); // max over responses and tokens
    if (allReduceMax) z = allReduceMax([z])[0]!;
    return { rewards: r.div(z + 1e-6), scale: z };
  });
}

/**
 * DAPO's overlong reward shaping (Yu et al. 2025, "DAPO: An Open-Source LLM Reinforcement Learning
 * System at Scale", arXiv 2503.14476, eq. 13), scaled by `factor` (DAPO: 1; verl's
 * overlong_penalty_factor): with L_max = maxLength, L_cache = bufferLen and |y| a response's length,
 *   R_length(y) = 0                                 if |y| ≤ L_max − L_cache
 *               = ((L_max − L_cache) − |y|) / L_cache   if L_max − L_cache < |y| ≤ L_max
 *               = −1                                if |y| > L_max,
 * i.e. clamp(((L_max − L_cache) − |y|)/L_cache, −1, 0): a penalty that grows linearly over the last
 * L_cache tokens before the limit (a response truncated at the limit gets −factor). It is added to
 * the outcome score before the advantage; bufferLen = 0 turns it off (zeros).
 *
 * lengths: (N) response lengths in tokens (any float or integer dtype). Returns (N) float32.
 * Throws unless 0 ≤ bufferLen ≤ maxLength and factor ≥ 0.
 */
export function overlongPenalty(lengths: Tensor, maxLength: number, bufferLen: number, factor = 1): Tensor {
  if (!(Number.isInteger(bufferLen) && bufferLen >= 0 && bufferLen <= maxLength))
    throw new Error(`overlongPenalty: bufferLen must be an integer in [0, maxLength=${maxLength}], got ${bufferLen}`);
  if (!(factor >= 0)) throw new Error(`overlongPenalty: factor must be ≥ 0, got ${factor}`);
  return tidy(() => {
    const len = lengths.to('float32');
    if (bufferLen === 0) return len.mul(0);
    return len.neg().add(maxLength - bufferLen).div(bufferLen).clamp(-1, 0).mul(factor);
  });
}
