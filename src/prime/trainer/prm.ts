/**
 * The implicit PRM's part of a step (DESIGN §2 steps 4–5): the reference's and the PRM's
 * log-probs of the response tokens, the PRM's cross-entropy update on the outcome labels, and the
 * log-probs the process rewards are made of, in the order `algorithm.prm_update` says:
 *
 *   'after' (PRIME's released code; default): the PRM's mini-batches are processed in turn; each
 *     mini-batch's log-probs come from the one forward (with gradients) that also computes its
 *     loss — after the updates of the earlier mini-batches of the step, before its own. One PRM
 *     forward per sequence.
 *   'before' (verl's port of PRIME): prm.epochs passes of updates over the whole batch first, then
 *     a no-grad forward re-scores it. Two forwards; the rewards come from a PRM that has seen these
 *     labels.
 *   'none': a frozen PRM (one no-grad forward).
 *
 * Shapes: N sequences on this rank, packed as (N, P + T); response window (N, T) from column P.
 */
import * as torch from '../../torch/index.js';
import { type Tensor, tidy, noGrad } from '../../torch/index.js';
import { logprobs, sharedPromptLogprobs, type CausalLM, type PackedBatch } from '../../lm/index.js';
import { implicitOutcomeLogit, prmCrossEntropyLoss, prmLoss } from '../rewards.js';
import { prmPairwiseAccuracy, prmSignAccuracy, rocAuc } from '../prm_metrics.js';
import type { Metrics } from '../metrics.js';
import { seededPermutation, type PromptRow } from '../data.js';
import type { PrimeTrainer } from '../trainer.js';
import { TrainingDivergedError } from './errors.js';

/**
 * Response-window log-probs (N, T) of `model` over the packed batch, in micro-batches, no grad.
 * `groupSize` K > 1: consecutive groups of K rows share a prompt (as the trainer's batches do),
 * and each micro-batch of whole groups decodes its prompts once (sharedPrompt below).
 */
export function scoreLogprobs(model: CausalLM, batch: PackedBatch, micro: number, opts: { temperature?: number; groupSize?: number; slices?: Slice[] } = {}): Tensor {
  return scoreLogprobsAt(model, batch, micro, [opts.temperature ?? 1], opts.groupSize ?? 1, opts.slices)[0]!;
}

/** Rows [from, from + count) of a batch. */
export type Slice = [from: number, count: number];

/**
 * Response-window log-probs (N, T) at each temperature, from one decoder pass per micro-batch, no
 * grad (groupSize: see scoreLogprobs). `slices`: the micro-batches to use instead of runs of
 * `micro` rows — the PRM update's (prmSlices), so that a PRM equal to its reference scores every
 * row on the same shapes and gives bit-identical log-probs.
 */
export function scoreLogprobsAt(model: CausalLM, batch: PackedBatch, micro: number, temperatures: number[], groupSize = 1, slices?: Slice[]): Tensor[] {
  const N = batch.inputIds.size(0);
  const K = groupSize;
  // micro-batches of whole groups when prompts are shared
  const step = K > 1 ? Math.max(K, micro - (micro % K)) : micro;
  const runs: Slice[] = slices ?? Array.from({ length: Math.ceil(N / step) }, (_, j) => [j * step, Math.min(step, N - j * step)] as Slice);
  return noGrad(() => tidy(() => {
    const parts: Tensor[][] = temperatures.map(() => []);
    for (const [i, c] of runs) responseLogprobs(model, batch, i, c, K, temperatures).forEach((lp, k) => parts[k]!.push(lp));
    return parts.map((ps) => (ps.length ? torch.cat(ps, 0) : torch.zeros([0, batch.inputIds.size(1) - batch.responseStart])));
  }));
}

/**
 * The PRM update's mini-batches on this rank: each global mini-batch of prm.mini_batch sequences
 * (its size over all ranks) and the local micro-batches (of ≤ prm.micro_batch rows) this rank
 * holds of it. Data-parallel: mini-batches are contiguous ranges of the global batch.
 */
export function prmMiniBatches(t: PrimeTrainer, N: number, K: number): { size: number; slices: Slice[] }[] {
  const c = t.cfg;
  const dp = t.parallel;
  const Nall = N * dp.world; // the global batch's
  const mini = Math.min(c.prm.mini_batch, Nall), micro = c.prm.micro_batch;
  const globalIdx = Array.from({ length: N }, (_, l) => dp.globalSeq(l, K));
  /** The first local sequence whose global index is ≥ g. */
  const localFrom = (g: number) => {
    const l = globalIdx.findIndex((x) => x >= g);
    return l < 0 ? N : l;
  };
  const out: { size: number; slices: Slice[] }[] = [];
  for (let s = 0; s < Nall; s += mini) {
    const mb = Math.min(mini, Nall - s);
    const end = localFrom(s + mb);
    const slices: Slice[] = [];
    for (let i = localFrom(s); i < end; i += micro) slices.push([i, Math.min(micro, end - i)]);
    out.push({ size: mb, slices });
  }
  return out;
}

/** Every micro-batch of the PRM update, in order (for scoring the reference on the same rows). */
export function prmSlices(t: PrimeTrainer, N: number, K: number): Slice[] {
  return prmMiniBatches(t, N, K).flatMap((m) => m.slices);
}

/**
 * Response-window log-probs (count, T) of rows [from, from + count) at each temperature, one
 * decoder pass; differentiable under grad mode. When the rows are whole groups of K > 1 sharing
 * a prompt (and, with gradients, the model does not checkpoint activations), each prompt is
 * decoded once for its K responses (prime-ts/lm's sharedPromptLogprobs: the same values up to
 * float rounding, B·Lp + N·Lr decoder tokens instead of N·(Lp + Lr)), on the rows' own extent
 * (leading prompt padding and trailing response padding of the slice cut off); else as
 * `logprobs` over the packed rows.
 */
export function responseLogprobs(model: CausalLM, batch: PackedBatch, from: number, count: number, K: number, temperatures: number[]): Tensor[] {
  return responseScores(model, batch, from, count, K, temperatures, false).logprobs;
}

/**
 * As responseLogprobs, at one temperature, plus the entropy (count, T) of each response position's
 * distribution at it (for the policy update: `actor/entropy` and the entropy bonus).
 */
export function responseLogprobsAndEntropy(model: CausalLM, batch: PackedBatch, from: number, count: number, K: number, temperature: number): { logprobs: Tensor; entropy: Tensor } {
  const r = responseScores(model, batch, from, count, K, [temperature], true);
  return { logprobs: r.logprobs[0]!, entropy: r.entropy! };
}

function responseScores(model: CausalLM, batch: PackedBatch, from: number, count: number, K: number, temperatures: number[], withEntropy: boolean): { logprobs: Tensor[]; entropy: Tensor | null } {
  const P = batch.responseStart;
  const T = batch.inputIds.size(1) - P;
  const [first, ...rest] = temperatures;
  const also = rest.length ? { alsoTemperatures: rest } : {};
  return tidy(() => {
    const ids = batch.inputIds.narrow(0, from, count);
    const shared = K > 1 && from % K === 0 && count % K === 0 && count > 0 && !(torch.isGradEnabled() && model.gradientCheckpointing);
    if (!shared) {
      const out = logprobs(model, ids, {
        attentionMask: batch.attentionMask.narrow(0, from, count), responseMask: batch.responseMask.narrow(0, from, count),
        responseStart: P, temperature: first, withEntropy, ...also,
      });
      return { logprobs: [out.logprobs, ...(out.logprobsAt ?? [])].map((lp) => lp.narrow(1, P, T)), entropy: out.entropy ? out.entropy.narrow(1, P, T) : null };
    }
    const G = count / K;
    const firsts = torch.arange(0, count, K); // (G): each group's first row
    const promptAll = ids.narrow(1, 0, P);
    const promptIds = promptAll.indexSelect(0, firsts); // (G, P)
    if (!promptAll.view(G, K, P).eq(promptIds.unsqueeze(1)).all().item())
      throw new Error(`internal: rows ${from}…${from + count - 1} are not groups of ${K} sharing a prompt`);
    const promptMask = batch.attentionMask.narrow(0, from, count).narrow(1, 0, P).indexSelect(0, firsts);
    const respMask = batch.responseMask.narrow(0, from, count).narrow(1, P, T);
    const Lp = Math.max(1, promptMask.sum(1).max().item()); // the slice's longest prompt
    const Lr = Math.max(1, respMask.sum(1).max().item()); // and response
    const out = sharedPromptLogprobs(model, promptIds.narrow(1, P - Lp, Lp), promptMask.narrow(1, P - Lp, Lp),
      ids.narrow(1, P, Lr), respMask.narrow(1, 0, Lr), K, { temperature: first, withEntropy, ...also });
    const widen = (lp: Tensor): Tensor => (Lr === T ? lp : torch.cat([lp, torch.zeros([count, T - Lr], { dtype: lp.dtype, device: lp.device as torch.Device })], 1));
    return { logprobs: [out.logprobs, ...(out.logprobsAt ?? [])].map(widen), entropy: out.entropy ? widen(out.entropy) : null };
  });
}

/** Events of the PRM's part of a step, in order (for tests of the update modes' order of operations). */
export type PrmEvent = { kind: 'forward'; grad: boolean; from: number; count: number } | { kind: 'step'; index: number };

export interface PrmPhaseResult {
  /** PRM log-probs (N, T) that the process rewards are made of (detached). */
  prmLogp: Tensor;
  metrics: Metrics;
}

/**
 * Runs the PRM's part of the step in the configured mode; returns the log-probs for the rewards
 * and metrics: `prm/loss` (mean prm.loss over the first epoch's update forwards, each before its own
 * mini-batch's step), `prm/grad_norm`, `prm/accuracy` (within-group pairwise accuracy of the
 * reward-giving scores, prmPairwiseAccuracy), `prm/accuracy_sign` (sign(s) = label), `prm/score_mean`.
 *
 * Data-parallel: PRM mini-batches are contiguous ranges of the global batch of `prm.mini_batch`
 * sequences; each rank backpropagates the sequences it holds in the range, each weighted
 * 1/(global mini-batch size), and the gradients are summed over ranks.
 */
export function prmPhase(t: PrimeTrainer, batch: PackedBatch, refLogp: Tensor, mask: Tensor, outcome: Tensor, K: number,
  onEvent?: (e: PrmEvent) => void): PrmPhaseResult {
  const c = t.cfg;
  const mode = t.prmOpt ? c.algorithm.prm_update : 'none';
  const metrics: Metrics = {};
  let prmLogp: Tensor;
  if (mode === 'none') {
    onEvent?.({ kind: 'forward', grad: false, from: 0, count: batch.inputIds.size(0) });
    prmLogp = scoreLogprobs(t.prm, batch, c.prm.micro_batch, { groupSize: t.promptGroupSize(K), slices: prmSlices(t, batch.inputIds.size(0), K) });
  } else if (mode === 'after') {
    const r = prmUpdate(t, batch, refLogp, mask, outcome, K, true, onEvent);
    Object.assign(metrics, r.metrics);
    prmLogp = r.logp!;
  } else if (mode === 'before') {
    Object.assign(metrics, prmUpdate(t, batch, refLogp, mask, outcome, K, false, onEvent).metrics);
    onEvent?.({ kind: 'forward', grad: false, from: 0, count: batch.inputIds.size(0) });
    prmLogp = scoreLogprobs(t.prm, batch, c.prm.micro_batch, { groupSize: t.promptGroupSize(K), slices: prmSlices(t, batch.inputIds.size(0), K) });
  } else throw new Error(`algorithm.prm_update: unknown mode '${mode as string}' (after | before | none)`);
  if (mode !== 'none' && c.prm.replay_steps > 0) Object.assign(metrics, prmReplay(t, batch, refLogp, mask, outcome, K, onEvent));
  const s = tidy(() => implicitOutcomeLogit(prmLogp, refLogp, mask, c.algorithm.beta).toFlatArray());
  const o = tidy(() => outcome.toFlatArray());
  metrics['prm/accuracy'] = prmPairwiseAccuracy(s, o, K);
  metrics['prm/accuracy_sign'] = prmSignAccuracy(s, o);
  metrics['prm/score_mean'] = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
  return { prmLogp, metrics };
}

/** One step's labelled batch kept for PRM replay (`prm.replay_steps`): tensors owned by the trainer. */
export interface PrmReplayEntry { batch: PackedBatch; refLogp: Tensor; mask: Tensor; outcome: Tensor; K: number }

const REPLAY_FIELDS = ['input_ids', 'attention_mask', 'response_mask', 'ref_logp', 'mask', 'outcome'] as const;

/** A replay buffer as safetensors entries `{i}.{field}` (CPU copies) and metadata (count, each entry's response start and K). */
export function replayToSafetensors(buf: readonly PrmReplayEntry[]): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const tensors: Record<string, Tensor> = {};
  const metadata: Record<string, string> = { entries: String(buf.length) };
  buf.forEach((e, i) => {
    const xs = [e.batch.inputIds, e.batch.attentionMask, e.batch.responseMask, e.refLogp, e.mask, e.outcome];
    REPLAY_FIELDS.forEach((f, j) => (tensors[`${i}.${f}`] = xs[j]!.to('cpu').contiguous()));
    metadata[`${i}.response_start`] = String(e.batch.responseStart);
    metadata[`${i}.k`] = String(e.K);
  });
  return { tensors, metadata };
}

/** The inverse of replayToSafetensors: entries owned by the caller (kept), on `device`. Throws naming `file` on a missing entry. */
export function replayFromSafetensors(tensors: Map<string, Tensor>, metadata: Record<string, string>, file: string, device: torch.Device): PrmReplayEntry[] {
  const n = Number(metadata.entries ?? 0);
  const out: PrmReplayEntry[] = [];
  for (let i = 0; i < n; i++) {
    const get = (f: string): Tensor => {
      const x = tensors.get(`${i}.${f}`);
      if (!x) throw new Error(`${file}: PRM replay entry ${i} lacks '${f}'`);
      return torch.keep(x.device === device ? x.clone() : x.to(device));
    };
    const [inputIds, attentionMask, responseMask, refLogp, mask, outcome] = REPLAY_FIELDS.map(get) as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
    out.push({ batch: { inputIds, attentionMask, responseMask, responseStart: Number(metadata[`${i}.response_start`]) }, refLogp, mask, outcome, K: Number(metadata[`${i}.k`]) });
  }
  return out;
}

/** Frees a replay buffer's tensors. */
export function disposePrmReplay(buf: PrmReplayEntry[]): void {
  for (const e of buf.splice(0)) for (const x of [e.batch.inputIds, e.batch.attentionMask, e.batch.responseMask, e.refLogp, e.mask, e.outcome]) x.dispose();
}

/**
 * PRM replay (`prm.replay_steps` = R > 0): after this step's update, one more pass of PRM updates
 * (prm.epochs passes, in prm.mini_batch mini-batches) over each of the last R steps' labelled
 * batches, newest first; then this step's batch joins the buffer and the oldest leaves it. Each
 * labelled response is so learned from R + 1 times over R + 1 steps instead of once. Not in
 * PRIME's reference, which updates the PRM once on each batch: measured here (README), the implicit
 * PRM's first pass over new samples learns which prompts are hard before it learns to rank within
 * a prompt, and an online PRM that sees each sample once stays in that first pass. The rewards of
 * this step are unaffected (they are taken before). Costs R more PRM updates per step
 * (`time/prm` includes them). A single-process run's checkpoints keep the buffer
 * (`prm-replay.safetensors`), so its resume is exact; a data-parallel run's ranks hold buffers of
 * their own, which its checkpoints do not keep: it resumes with them empty (and says so).
 * Metrics: `prm/replay_loss` (mean loss of the replayed forwards, each before its own step).
 */
function prmReplay(t: PrimeTrainer, batch: PackedBatch, refLogp: Tensor, mask: Tensor, outcome: Tensor, K: number, onEvent?: (e: PrmEvent) => void): Metrics {
  const buf = t.prmReplayBuffer;
  let loss = 0;
  for (const e of buf) loss += prmUpdate(t, e.batch, e.refLogp, e.mask, e.outcome, e.K, false, onEvent).metrics['prm/loss']!;
  const own = (x: Tensor) => torch.keep(x.clone());
  buf.unshift({ batch: { ...batch, inputIds: own(batch.inputIds), attentionMask: own(batch.attentionMask), responseMask: own(batch.responseMask) }, refLogp: own(refLogp), mask: own(mask), outcome: own(outcome), K });
  disposePrmReplay(buf.splice(t.cfg.prm.replay_steps));
  return buf.length > 1 ? { 'prm/replay_loss': loss / (buf.length - 1) } : {};
}

/**
 * prm.epochs passes of AdamW on the PRM's loss (prm.loss: cross-entropy, or DPO within groups) over mini-batches of prm.mini_batch
 * sequences (micro-batches of prm.micro_batch). With `keepLogp`, the first epoch's forwards'
 * log-probs are returned (detached, (N, T)): each taken before its own mini-batch's step.
 */
function prmUpdate(t: PrimeTrainer, batch: PackedBatch, refLogp: Tensor, mask: Tensor, outcome: Tensor, K: number, keepLogp: boolean,
  onEvent?: (e: PrmEvent) => void): { logp: Tensor | null; metrics: Metrics } {
  const c = t.cfg;
  const dp = t.parallel;
  const N = batch.inputIds.size(0); // this rank's sequences
  const T = batch.inputIds.size(1) - batch.responseStart;
  if (c.prm.loss === 'dpo' && (Math.min(c.prm.mini_batch, N * t.parallel.world) % K !== 0 || c.prm.micro_batch % K !== 0))
    throw new Error(`prm.loss 'dpo' compares responses within a prompt group: prm.mini_batch (${c.prm.mini_batch}) and prm.micro_batch (${c.prm.micro_batch}) must be multiples of rollout.n (${K})`);
  const minis = prmMiniBatches(t, N, K);
  const parts: Tensor[] = [];
  let lossSum = 0, n = 0, gnSum = 0, steps = 0;
  t.prm.train();
  try {
    for (let epoch = 0; epoch < c.prm.epochs; epoch++) {
      for (const { size: mb, slices } of minis) {
        for (const [i, cnt] of slices) {
          onEvent?.({ kind: 'forward', grad: true, from: i, count: cnt });
          tidy(() => {
            const lp = responseLogprobs(t.prm, batch, i, cnt, t.promptGroupSize(K), [1])[0]!; // (cnt, T), with grad
            const loss = prmLoss(c.prm.loss, lp, refLogp.narrow(0, i, cnt), mask.narrow(0, i, cnt), outcome.narrow(0, i, cnt), c.algorithm.beta, K, c.prm.rpo_alpha);
            loss.mul(cnt / mb).backward(); // mean over the (global) mini-batch's responses
            t.prmWeights?.afterBackward(); // bf16: into the float32 masters' gradients
            if (epoch === 0) {
              lossSum += loss.item() * cnt;
              n += cnt;
              if (keepLogp) parts.push(torch.keep(lp.detach()));
            }
          });
        }
        const w = t.prmWeights?.optimized ?? t.prm.parameters(); // the float32 masters under prm.dtype=bfloat16
        dp.allReduceGradients(w, 'PRM');
        const gn = torch.clipGradNorm(w, c.prm.grad_clip);
        if (!Number.isFinite(gn)) throw new TrainingDivergedError('PRM grad norm', t.step, gn);
        onEvent?.({ kind: 'step', index: steps });
        t.prmOpt!.step();
        t.prmOpt!.zeroGrad();
        t.prmWeights?.afterStep();
        gnSum += gn;
        steps++;
      }
    }
  } catch (e) {
    torch.dispose(parts);
    throw e;
  }
  [lossSum, n] = dp.reduce([lossSum, n], 'sum', 'reducing the PRM loss');
  let logp: Tensor | null = null;
  if (keepLogp) {
    logp = N > 0 ? torch.cat(parts, 0) : torch.zeros([0, T]);
    torch.dispose(parts);
  }
  return { logp, metrics: { 'prm/loss': lossSum / Math.max(1, n), 'prm/grad_norm': gnSum / Math.max(1, steps) } };
}

/** A fixed labelled set of samples on which the PRM's ranking is measured every prm.probe_every steps. */
export interface PrmProbeSet {
  prompts: number[][];
  responses: number[][];
  outcomes: number[];
  /** Samples per prompt. */
  k: number;
}

/**
 * The PRM's AUC and within-group pairwise accuracy on the probe set (`prm/heldout_auc`,
 * `prm/heldout_pairwise`; `prm/heldout_pairwise_mixed` over the groups with different outcomes only,
 * as the reference's filtered batch sees it) and its mean cross-entropy there (`prm/heldout_loss`). `refLogp` is the
 * frozen reference's log-probs of the set (computed once by the caller).
 */
export function probePrm(t: PrimeTrainer, probe: PrmProbeSet, batch: PackedBatch, refLogp: Tensor): Metrics {
  return tidy(() => {
    const T = batch.inputIds.size(1) - batch.responseStart;
    const mask = batch.responseMask.narrow(1, batch.responseStart, T);
    const prmLogp = scoreLogprobs(t.prm, batch, t.cfg.prm.micro_batch, { groupSize: t.promptGroupSize(probe.k) });
    const o = torch.tensor(Float32Array.from(probe.outcomes));
    const { loss, logits } = prmCrossEntropyLoss(prmLogp, refLogp, mask, o, t.cfg.algorithm.beta);
    const s = logits.toFlatArray();
    return {
      'prm/heldout_auc': rocAuc(s, probe.outcomes),
      'prm/heldout_pairwise': prmPairwiseAccuracy(s, probe.outcomes, probe.k),
      'prm/heldout_pairwise_mixed': prmPairwiseAccuracy(s, probe.outcomes, probe.k, { mixedOnly: true }),
      'prm/heldout_loss': loss.item(),
    };
  });
}

/**
 * The PRM probe's prompts when they are held out of the training rows (no data.val_files): a seeded
 * draw of `n` of `rows` (the training rows left after dropping over-long prompts, in load order),
 * stream `dataSeed ^ 0x5eed`. Exported so that a caller can keep other data (e.g. an offline PRM
 * fit's prompts) off the probe a run will hold out.
 */
export function probeRowsFromTraining(rows: readonly PromptRow[], dataSeed: number, n: number): PromptRow[] {
  return seededPermutation(rows.length, dataSeed ^ 0x5eed, 0).slice(0, n).map((i) => rows[i]!);
}
