/**
 * Rollout: sample K responses per prompt, grade them, and fill the step's batch through the
 * accuracy filter (PRIME §3.4, DESIGN §2 steps 1–3).
 *
 * Surplus groups (kept by the filter beyond the batch) are handled by `rollout.buffer`:
 *   'prompts' (PRIME's reference): their prompts are re-queued and sampled again by the next step's
 *     policy, so no response from an older policy is trained on;
 *   'responses': the groups themselves wait in the buffer, old responses and log-probs included.
 */
import { generate } from '../../lm/index.js';
import type { PromptRow } from '../data.js';
import { filterByAccuracy, type Group } from '../filter.js';
import type { Metrics } from '../metrics.js';
import type { PrimeTrainer, RolloutGroup } from '../trainer.js';
import { RewardComponents } from '../reward_functions.js';
import { rewardFunctionName } from '../config.js';
import { requeueSeed, rolloutSeed } from './seeds.js';
import { generationFlops } from '../perf.js';

/**
 * Samples K responses for each row and scores them with the verifier. With
 * rollout.continuous_batching: one generate call, `rollout.micro_batch` sequences decoding at
 * once, and with `seeds` (one per row) each row's samples draw from generators of their own
 * derived from its seed (generate's `seeds`). Otherwise micro-batches in turn, and with `seeds`
 * each row in a generate call of its own that first seeds libtorch's generator with its seed.
 * Either way a seeded row's samples do not depend on the other rows.
 */
export async function rolloutGroups(t: PrimeTrainer, rows: PromptRow[], opts: {
  greedy?: boolean; n?: number; seeds?: number[];
  /** Collects reward.functions terms (reward/<name> metrics). */
  components?: RewardComponents;
  /** Counts samples / generated tokens and reports them as the step's rollout progress. */
  progress?: { done: number; total: number; tokens: number };
} = {}): Promise<Group<RolloutGroup>[]> {
  const c = t.cfg.rollout;
  const n = opts.n ?? c.n;
  if (opts.seeds && opts.seeds.length !== rows.length) throw new RangeError(`rollout: ${opts.seeds.length} seeds for ${rows.length} rows`);
  // rollout.continuous_batching: micro_batch rows decode at once over all the rows' samples (a
  // finished sample's row takes the next waiting one); otherwise (and for the op-by-op loop)
  // micro-batches in turn
  const fused = t.policy.fused && c.continuous_batching;
  const perCall = fused ? rows.length : opts.seeds ? 1 : Math.max(1, Math.floor(c.micro_batch / n));
  const groups: Group<RolloutGroup>[] = [];
  for (let i = 0; i < rows.length; i += perCall) {
    const chunk = rows.slice(i, i + perCall);
    const tokens0 = opts.progress?.tokens ?? 0;
    const samples = generate(t.policy, chunk.map((r) => t.promptIds(r)), {
      n, maxNewTokens: t.cfg.data.max_response_length, temperature: c.temperature, topP: c.top_p, topK: c.top_k,
      greedy: opts.greedy ?? false, stopTokenIds: t.stopTokenIds, stopStrings: c.stop, tokenizer: t.tokenizer, padTokenId: t.padId,
      ...(fused ? { maxBatchRows: c.micro_batch } : {}),
      // per-sample generators; the op-by-op loop reseeds the global generator per prompt instead
      ...(opts.seeds ? (fused ? { seeds: opts.seeds.slice(i, i + perCall) } : { seed: opts.seeds[i]! }) : {}),
      // generated tokens as they come (every 16 steps)
      onStep: opts.progress ? (step, B) => {
        opts.progress!.tokens += B;
        if (step % 16 === 15) t.onProgress({ phase: 'rollout', step: t.step + 1, ...opts.progress! });
      } : undefined,
    });
    if (opts.progress) opts.progress.tokens = tokens0;
    // grade the whole chunk at once, so a code verifier's pool sees every sample
    const results = await Promise.all(samples.map((s, k) => t.verifier(chunk[Math.floor(k / n)]!, s.text)));
    const scores = results.map((v) => v.score);
    opts.components?.add(results);
    if (opts.progress) {
      opts.progress.done += samples.length;
      opts.progress.tokens += samples.reduce((a, s) => a + s.tokenIds.length, 0);
      t.onProgress({ phase: 'rollout', step: t.step + 1, ...opts.progress });
    }
    for (const [j, row] of chunk.entries()) {
      const mine = samples.slice(j * n, (j + 1) * n);
      groups.push({
        scores: scores.slice(j * n, (j + 1) * n),
        truncated: mine.some((s) => s.finishReason === 'length'),
        sample: {
          row, promptIds: t.promptIds(row),
          responses: mine.map((s) => ({ ids: s.tokenIds, logprobs: s.logprobs, text: s.text, finish: s.finishReason })),
        },
      });
    }
  }
  return groups;
}

/**
 * Fills the batch: draws `oversample`× the missing prompts per round (re-queued prompts first),
 * keeps groups in the accuracy band. After `max_rounds` it trains on what it has. Returns this
 * rank's groups for the step and writes rollout metrics into `m`.
 *
 * With W ranks, each needs B/W groups: every round all ranks draw the same rows, sized by the
 * rank that misses most (W × its deficit × oversample), and sample their share (row i of the
 * draw on rank i mod W). Ranks agree on the fewest groups any rank holds, so all run the same
 * rounds and take the same number of groups. Re-queued prompts are gathered from every rank, so
 * the queue is the same everywhere.
 */
export async function collectBatch(t: PrimeTrainer, m: Metrics): Promise<Group<RolloutGroup>[]> {
  const c = t.cfg;
  const dp = t.parallel;
  const W = dp.world, rank = dp.rank;
  const B = c.rollout.batch_prompts / W; // groups this rank contributes
  const step = t.step + 1;
  const fewestBuffered = () => dp.reduce([t.buffer.size], 'min', 'comparing prompt buffers')[0]!;
  let drawn = 0, kept = 0, correct = 0, total = 0, truncated = 0, lenSum = 0, lenMax = 0, requeued = 0;
  let rolloutFlops = 0; // model FLOPs of every sample of this rank (perf.ts), for perf/mfu_rollout
  let fewest = fewestBuffered();
  const components = new RewardComponents();
  const progress = { done: 0, total: 0, tokens: 0 }; // this rank's samples (the total grows each round)
  for (let round = 0; round < c.rollout.max_rounds && fewest < B; round++) {
    const want = Math.ceil((B - fewest) * W * (c.filter.enable ? c.rollout.oversample : 1));
    const fromQueue = t.requeue.splice(0, want);
    requeued += fromQueue.length;
    const draw = [...fromQueue.map((i) => t.dataset.rows[i]!), ...t.dataset.next(want - fromQueue.length)];
    const mine = draw.map((row, i) => ({ row, i })).filter(({ i }) => i % W === rank);
    const seeds = c.rollout.seed_per_prompt
      ? mine.map(({ i }) => (i < fromQueue.length ? requeueSeed(c.trainer.seed, step, round, i) : rolloutSeed(c.trainer.seed, step, round, i - fromQueue.length)))
      : undefined;
    progress.total += mine.length * c.rollout.n;
    t.onProgress({ phase: 'rollout', step, ...progress }); // the phase's (or round's) start
    const groups = await rolloutGroups(t, mine.map(({ row }) => row), { seeds, components, progress });
    drawn += groups.length;
    for (const g of groups) {
      correct += g.scores.reduce((a, b) => a + b, 0);
      total += g.scores.length;
      for (const r of g.sample.responses) {
        lenSum += r.ids.length;
        lenMax = Math.max(lenMax, r.ids.length);
        rolloutFlops += generationFlops(t.policy.config, g.sample.promptIds.length, r.ids.length);
        if (r.finish === 'length') truncated++;
      }
    }
    const accepted = c.filter.enable ? filterByAccuracy(groups, c.filter.low, c.filter.high, { dropTruncated: c.filter.drop_truncated }).kept : groups;
    kept += accepted.length;
    t.buffer.add(accepted);
    fewest = fewestBuffered();
  }
  let bufferSize = t.buffer.size;
  [drawn, kept, correct, total, truncated, lenSum, bufferSize] = dp.reduce([drawn, kept, correct, total, truncated, lenSum, bufferSize], 'sum', 'reducing rollout counts');
  Object.assign(m, {
    'rollout/accuracy': total ? correct / total : 0,
    'rollout/prompts_drawn': drawn,
    'rollout/requeued_prompts': requeued / W,
    'filter/kept_fraction': drawn ? kept / drawn : 0,
    'response/length_mean': total ? lenSum / total : 0,
    'response/length_max': lenMax,
    'response/truncated_fraction': total ? truncated / total : 0,
    'buffer/size_before_take': bufferSize,
    'perf/rollout_flops': rolloutFlops,
    ...components.metrics(c.reward.functions.map(rewardFunctionName), dp.active ? (xs) => dp.reduce(xs, 'sum', 'reducing reward components') : undefined),
  });
  const batch = t.buffer.take(Math.min(B, fewest))!;
  if (c.rollout.buffer === 'prompts') requeueSurplus(t);
  t.policy.releaseDecodeWeights(); // the update changes the weights: free the decoding copies now
  return batch;
}

/**
 * `rollout.buffer: prompts`: moves the surplus groups' prompts to the front of the re-queue (as
 * indices into the dataset's rows), in rank order, the same list on every rank.
 */
function requeueSurplus(t: PrimeTrainer): void {
  const dp = t.parallel;
  const mine = t.buffer.drain().map((g) => t.rowIndex(g.sample.row));
  let all = mine;
  if (dp.active) {
    // all-gather of variable-length lists through a sum: rank r fills its slot of a W × L table
    const [L] = dp.reduce([mine.length], 'max', 'gathering re-queued prompts');
    const table = new Array<number>(dp.world * L!).fill(-1 / dp.world); // −1 after summing: empty slot
    mine.forEach((v, i) => (table[dp.rank * L! + i] = v + (dp.world - 1) / dp.world)); // + the others' (W−1)·(−1/W) = v
    all = dp.reduce(table, 'sum', 'gathering re-queued prompts').map((v) => Math.round(v)).filter((v) => v >= 0);
  }
  t.requeue.unshift(...all);
}
