/**
 * The PRIME trainer: orchestration only — the math lives in rewards.ts, advantages.ts, ppo.ts
 * and filter.ts. One step (DESIGN §2):
 *
 *   draw prompts → sample K each → verify → filter (oversample, buffer the surplus)
 *   → reference and PRM log-probs → process rewards → PRM update (after | before | none)
 *   → advantages → PPO mini-batches / epochs for the policy → metrics
 *
 * Shapes: B prompts per step, K samples each, N = B·K sequences; packed sequences are
 * (N, P + T) with the response window (N, T) starting at column P.
 *
 * Data-parallel (W ranks, WORLD_SIZE > 1 in the environment, e.g. `prime train --nproc W`): every
 * rank draws the same prompt rows and samples, verifies and scores its share (global prompt i of a
 * round goes to rank i mod W), so rank r holds B/W groups and N/W sequences. Its local group g is
 * global group g·W + r of the step's batch. Rollout rounds continue until every rank has B/W
 * groups; whitening uses the whole batch's statistics; each PRM / policy optimizer step is over a
 * global mini-batch (each rank backpropagates its members, weighted by their share of the global
 * mini-batch, then gradients are summed over ranks); metrics are reduced; rank 0 logs and writes
 * checkpoints. With `rollout.seed_per_prompt` (forced on) the run equals a 1-process run with
 * that option, up to float rounding.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as torch from '../torch/index.js';
import { AdamW, type Tensor, tidy, noGrad } from '../torch/index.js';
import { generate, logprobs, loadPretrained, savePretrained, packSequences, type CausalLM, type Tokenizer, type PackedBatch } from '../lm/index.js';
import type { PrimeConfig } from './config.js';
import { configToYaml } from './config.js';
import { loadPromptFiles, PromptDataset, seededPermutation, type PromptRow, type DatasetState } from './data.js';
import { implicitProcessReward, prmCrossEntropyLoss } from './rewards.js';
import { getAdvantageEstimator } from './advantages.js';
import { ppoClipLoss, klPenalty } from './ppo.js';
import { maskedMean, globalMaskedMean, type AllReduceSum } from './masked.js';
import { filterByAccuracy, PromptBuffer, type Group } from './filter.js';
import { writeCheckpoint, latestCheckpoint, checkpointName } from './checkpoint.js';
import { MetricsLog, type Metrics } from './metrics.js';
import { defaultVerifier, type Verifier } from './verifier.js';

/** One prompt's K rollouts, as kept in the buffer and in checkpoints (plain JSON). */
export interface RolloutGroup {
  row: PromptRow;
  promptIds: number[];
  responses: { ids: number[]; logprobs: number[]; text: string; finish: 'stop' | 'length' }[];
}

/** Raised when a loss or gradient is not finite; the last checkpoint on disk stays good. */
export class TrainingDivergedError extends Error {
  constructor(what: string, step: number, value: number) {
    super(`non-finite ${what} (${value}) at step ${step}: stopping; the last checkpoint is intact`);
    this.name = 'TrainingDivergedError';
  }
}

/** murmur3's 32-bit finalizer: spreads every input bit over the output. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit seed that depends on every part (order matters): fmix32 chained over the parts. */
export function derivedSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) h = fmix32((h ^ fmix32(p >>> 0)) + 0x7f4a7c15);
  return h;
}
/** The seed of one prompt's K samples (`rollout.seed_per_prompt`): independent of which rank or
 * which generate call samples them. `index` is the prompt's position in its round's draw. */
export const rolloutSeed = (seed: number, step: number, round: number, index: number): number => derivedSeed(1, seed, step, round, index);
/** The seed of a PPO epoch's mini-batch shuffle (`rollout.seed_per_prompt`). */
export const ppoShuffleSeed = (seed: number, step: number, epoch: number): number => derivedSeed(2, seed, step, epoch);

/**
 * How a step metric combines over data-parallel ranks. Default 'mean': ranks hold equal shares of
 * the batch, so a per-sequence mean over ranks is the batch's mean. 'global': computed from
 * reduced quantities already, the same on every rank.
 */
function metricReduction(key: string): 'mean' | 'sum' | 'max' | 'min' | 'global' {
  if (key.startsWith('time/')) return 'max'; // the slowest rank sets the pace
  if (key.startsWith('actor/') || key.startsWith('dist/')) return 'global';
  switch (key) {
    case 'rollout/accuracy': case 'rollout/prompts_drawn': case 'filter/kept_fraction': case 'response/length_mean':
    case 'response/truncated_fraction': case 'buffer/size_before_take': case 'prm/loss': case 'prm/grad_norm':
    case 'advantage/mean': case 'advantage/std': case 'advantage/process_return_mean': case 'reward/process_mean':
      return 'global';
    case 'response/length_max': case 'advantage/max':
      return 'max';
    case 'advantage/min':
      return 'min';
    case 'batch/sequences': case 'batch/response_tokens':
      return 'sum';
    default:
      return 'mean';
  }
}

const rankFile = (rank: number): string => `rank-${String(rank).padStart(5, '0')}.json`;

/** This process's place in a data-parallel job. */
interface DataParallel {
  rank: number;
  world: number;
  /** Seconds a collective may wait (trainer.dist_timeout_s). */
  timeoutS: number;
  /** This trainer created the process group (and destroys it in dispose). */
  ownsGroup: boolean;
}

/** What differs between ranks in a checkpoint: each rank's RNG and its buffer of kept groups. */
interface RankState {
  rank: number;
  /** libtorch's CPU generator state, base64. */
  rng: string;
  buffer: Group<RolloutGroup>[];
}

export interface TrainerOptions {
  verifier?: Verifier;
  /** Progress lines (default: console.log). */
  log?: (line: string) => void;
}

export class PrimeTrainer {
  readonly cfg: PrimeConfig;
  policy!: CausalLM;
  prm!: CausalLM;
  ref!: CausalLM;
  tokenizer!: Tokenizer;
  stopTokenIds: number[] = [];
  padId = 0;
  dataset!: PromptDataset;
  buffer = new PromptBuffer<RolloutGroup>();
  policyOpt!: AdamW;
  prmOpt: AdamW | null = null;
  step = 0;
  droppedLongPrompts = 0;
  /** metrics.jsonl; null on ranks other than 0 (rank 0 writes the metrics of the whole job). */
  metricsLog: MetricsLog | null = null;
  readonly verifier: Verifier;
  /** Progress lines; a no-op on ranks other than 0. */
  readonly log: (line: string) => void;
  #promptCache = new Map<string, number[]>();
  readonly #dp: DataParallel | null;
  /** Gradient bytes this rank all-reduced, and collectives it took part in, during the current step. */
  #gradBytes = 0;
  #collectives = 0;

  private constructor(cfg: PrimeConfig, opts: TrainerOptions, dp: DataParallel | null) {
    this.cfg = cfg;
    this.#dp = dp;
    this.verifier = opts.verifier ?? defaultVerifier(cfg);
    this.log = dp && dp.rank !== 0 ? () => {} : (opts.log ?? ((l) => console.log(l)));
  }

  /** This process's rank in a data-parallel job (0 when alone). */
  get rank(): number {
    return this.#dp?.rank ?? 0;
  }
  /** Ranks in the job (1 when alone). */
  get worldSize(): number {
    return this.#dp?.world ?? 1;
  }

  /**
   * Loads models and data; resumes from the latest checkpoint when `trainer.resume` is set.
   * When WORLD_SIZE > 1 in the environment (torchrun's variables, as `prime train --nproc N` sets
   * them) or a process group of several ranks exists, joins the data-parallel job: creates the
   * Gloo process group if needed, turns on `rollout.seed_per_prompt`, checks every rank has the
   * same config, and copies rank 0's policy and PRM parameters to every rank.
   */
  static async create(cfg: PrimeConfig, opts: TrainerOptions = {}): Promise<PrimeTrainer> {
    const dp = PrimeTrainer.#joinJob(cfg);
    if (dp && !cfg.rollout.seed_per_prompt) cfg = { ...cfg, rollout: { ...cfg.rollout, seed_per_prompt: true } };
    const t = new PrimeTrainer(cfg, opts, dp);
    try {
      await t.#load();
    } catch (e) {
      if (dp?.ownsGroup) torch.distributed.destroyProcessGroup();
      throw e;
    }
    return t;
  }

  /** Validates the job's shape, then creates (or adopts) the process group; null when alone. */
  static #joinJob(cfg: PrimeConfig): DataParallel | null {
    const dist = torch.distributed;
    const adopted = dist.isInitialized();
    const world = adopted ? dist.getWorldSize() : (dist.envConfig().worldSize ?? 1);
    if (world <= 1) return null;
    const B = cfg.rollout.batch_prompts;
    if (B % world !== 0)
      throw new Error(`rollout.batch_prompts (${B}) must be divisible by the number of ranks (${world}): each rank contributes batch_prompts / ranks prompt groups per step`);
    const timeoutS = cfg.trainer.dist_timeout_s;
    if (!adopted) dist.initProcessGroup({ backend: 'gloo', timeoutMs: Math.round(timeoutS * 1000) });
    return { rank: dist.getRank(), world, timeoutS, ownsGroup: !adopted };
  }

  async #load(): Promise<void> {
    const cfg = this.cfg;
    if (cfg.trainer.threads > 0) torch.setNumThreads(cfg.trainer.threads);
    torch.manualSeed(cfg.trainer.seed);
    if (this.#dp) this.#checkSameConfig();
    const ckRoot = path.join(cfg.trainer.output_dir, 'checkpoints');
    const resumeFrom = cfg.trainer.resume ? latestCheckpoint(ckRoot) : null;
    if (cfg.trainer.resume && !resumeFrom) this.log(`resume: no checkpoint under ${ckRoot}; starting fresh`);
    const dtype = cfg.model.dtype;
    const pol = loadPretrained(resumeFrom ? path.join(resumeFrom, 'policy') : cfg.model.path, { dtype });
    if (!pol.tokenizer) throw new Error(`${cfg.model.path}: no tokenizer.json; the trainer needs the model's tokenizer`);
    this.policy = pol.model;
    this.tokenizer = pol.tokenizer;
    this.stopTokenIds = pol.stopTokenIds;
    this.padId = pol.tokenizer.padTokenId ?? pol.generationConfig.padTokenId ?? pol.stopTokenIds[0] ?? 0;
    this.ref = loadPretrained(cfg.model.ref_path || cfg.model.path, { dtype, tokenizer: false }).model.eval();
    for (const p of this.ref.parameters()) p.requiresGrad = false;
    const prmDir = resumeFrom ? path.join(resumeFrom, 'prm') : cfg.model.prm_path || cfg.model.path;
    this.prm = loadPretrained(prmDir, { dtype, tokenizer: false }).model;
    if (cfg.algorithm.prm_update === 'none') for (const p of this.prm.parameters()) p.requiresGrad = false;

    const rows = await loadPromptFiles(cfg.data.train_files);
    this.dataset = new PromptDataset(rows, cfg.data.seed);
    this.droppedLongPrompts = this.dataset.dropWhere((r) => this.promptIds(r).length > cfg.data.max_prompt_length);
    if (this.dataset.size === 0) throw new Error(`no training prompts left: all ${rows.length} exceed data.max_prompt_length=${cfg.data.max_prompt_length}`);

    this.policyOpt = new AdamW(this.policy.parameters(), { lr: cfg.actor.lr, weightDecay: cfg.actor.weight_decay });
    if (cfg.algorithm.prm_update !== 'none' && cfg.algorithm.advantage === 'prime')
      this.prmOpt = new AdamW(this.prm.parameters(), { lr: cfg.prm.lr, weightDecay: cfg.prm.weight_decay });

    if (resumeFrom) this.#restore(resumeFrom, rows);
    if (this.#dp) this.#broadcastParameters();
    if (this.rank === 0) {
      this.metricsLog = new MetricsLog(cfg.trainer.output_dir, resumeFrom ? { resumeFromStep: this.step } : {});
      fs.writeFileSync(path.join(cfg.trainer.output_dir, 'config.yaml'), configToYaml(cfg));
    }
    this.log(`prime: ${rows.length} prompts (${this.droppedLongPrompts} over ${cfg.data.max_prompt_length} tokens dropped), ` +
      `policy ${(this.policy.numParameters() / 1e6).toFixed(2)}M params, advantage '${cfg.algorithm.advantage}'` +
      (this.#dp ? `, ${this.#dp.world} data-parallel ranks (${cfg.rollout.batch_prompts / this.#dp.world} prompt groups each per step)` : '') +
      (resumeFrom ? `, resumed at step ${this.step} from ${resumeFrom}` : ''));
  }

  // ------------------------------------------------------------------ data-parallel helpers
  /** Runs a collective; a failure (a rank died, hung past the timeout, or failed) becomes an
   * error that says where this rank was. */
  #collective<T>(what: string, fn: () => T): T {
    this.#collectives++;
    try {
      return fn();
    } catch (e) {
      const dp = this.#dp!;
      throw new Error(`rank ${dp.rank} of ${dp.world}: ${what} failed at step ${this.step + 1}: ${(e as Error).message}\n` +
        `(another rank exited, failed, or did not reach this point within trainer.dist_timeout_s=${dp.timeoutS} s; see its output)`);
    }
  }

  /** Elementwise reduction of numbers over ranks (float64); the identity when alone. */
  #reduce(xs: number[], op: 'sum' | 'max' | 'min', what: string): number[] {
    if (!this.#dp || xs.length === 0) return xs;
    return this.#collective(what, () => tidy(() => {
      const t = torch.tensor(Float64Array.from(xs));
      torch.distributed.allReduce(t, op);
      return t.toFlatArray();
    }));
  }
  readonly #allReduceSum: AllReduceSum = (xs) => this.#reduce(xs, 'sum', 'reducing batch token statistics');

  /** Every rank must run the same configuration, or their updates silently diverge. */
  #checkSameConfig(): void {
    let h = 0;
    for (const ch of JSON.stringify(this.cfg)) h = fmix32((h ^ ch.charCodeAt(0)) + 0x9e3779b9);
    const [lo, hi] = this.#reduce([h, -h], 'min', 'comparing configurations');
    if (lo !== h || -hi! !== h) throw new Error(`rank ${this.rank}: the ranks were started with different configurations (all ranks must get the same config file and overrides)`);
  }

  /** Rank 0's policy and PRM parameters on every rank (in place). */
  #broadcastParameters(): void {
    noGrad(() => {
      for (const [name, model] of [['policy', this.policy], ['PRM', this.prm]] as const)
        this.#collective(`broadcasting the ${name} parameters from rank 0`, () => {
          for (const p of model.parameters()) torch.distributed.broadcast(p, 0);
        });
    });
  }

  /**
   * Sums the gradients of `params` over ranks (bucketed all-reduce), before clipping and the
   * optimizer step. A rank that had no sequence in the mini-batch contributes zeros. A parameter
   * that got no gradient on any rank is left without one (AdamW then skips it, as it would in
   * one process): a 0/1 flag per parameter is summed in the same call.
   */
  #allReduceGradients(params: Tensor[], what: string): void {
    if (!this.#dp) return;
    tidy(() => {
      const trainable = params.filter((p) => p.requiresGrad);
      const had = trainable.map((p) => {
        if (p.grad) return 1;
        p.grad = torch.zerosLike(p);
        return 0;
      });
      const grads = trainable.map((p) => p.grad!);
      const flags = torch.tensor(Float32Array.from(had)).to(trainable[0]!.dtype); // same dtype: packed into the same bucket
      const { bytes } = this.#collective(`all-reducing the ${what} gradients`, () => torch.distributed.allReduceBucketed([...grads, flags], { op: 'sum' }));
      this.#gradBytes += bytes;
      const anywhere = flags.toFlatArray();
      trainable.forEach((p, i) => anywhere[i] === 0 && p.zeroGrad());
    });
  }

  /** Where local sequence l (group ⌊l/K⌋, sample l mod K) sits in the step's global batch. */
  #globalSeq(l: number, K: number): number {
    const W = this.worldSize;
    return (Math.floor(l / K) * W + this.rank) * K + (l % K);
  }
  /** The local index of global sequence G, or −1 when another rank holds it. */
  #localSeq(G: number, K: number): number {
    const W = this.worldSize;
    const group = Math.floor(G / K);
    return group % W === this.rank ? Math.floor(group / W) * K + (G % K) : -1;
  }

  /** Step metrics of every rank combined as metricReduction says (two all-reduces). */
  #reduceMetrics(m: Metrics): void {
    const W = this.worldSize;
    const keys = Object.keys(m).sort();
    const summed = keys.filter((k) => ['mean', 'sum'].includes(metricReduction(k)));
    const extreme = keys.filter((k) => ['max', 'min'].includes(metricReduction(k)));
    const sums = this.#reduce(summed.map((k) => m[k]!), 'sum', 'reducing metrics');
    summed.forEach((k, i) => (m[k] = metricReduction(k) === 'mean' ? sums[i]! / W : sums[i]!));
    // min x = −max(−x): one all-reduce for both
    const maxes = this.#reduce(extreme.map((k) => (metricReduction(k) === 'max' ? m[k]! : -m[k]!)), 'max', 'reducing metrics');
    extreme.forEach((k, i) => (m[k] = metricReduction(k) === 'max' ? maxes[i]! : -maxes[i]!));
  }

  /** Chat-templated prompt token ids (cached per row). */
  promptIds(r: PromptRow): number[] {
    const key = `${r.file}#${r.row}`;
    let ids = this.#promptCache.get(key);
    if (!ids) {
      ids = this.tokenizer.encodeChat(r.messages, { addGenerationPrompt: true });
      this.#promptCache.set(key, ids);
    }
    return ids;
  }

  // ------------------------------------------------------------------ rollout
  /**
   * Samples K responses for each row (micro-batched) and scores them with the verifier. With
   * `seeds` (one per row), each row is sampled in a generate call of its own that first seeds
   * libtorch's generator with its seed, so its samples do not depend on the other rows.
   */
  async rollout(rows: PromptRow[], opts: { greedy?: boolean; n?: number; seeds?: number[] } = {}): Promise<Group<RolloutGroup>[]> {
    const c = this.cfg.rollout;
    const n = opts.n ?? c.n;
    if (opts.seeds && opts.seeds.length !== rows.length) throw new RangeError(`rollout: ${opts.seeds.length} seeds for ${rows.length} rows`);
    const perCall = opts.seeds ? 1 : Math.max(1, Math.floor(c.micro_batch / n));
    const groups: Group<RolloutGroup>[] = [];
    for (let i = 0; i < rows.length; i += perCall) {
      const chunk = rows.slice(i, i + perCall);
      const samples = generate(this.policy, chunk.map((r) => this.promptIds(r)), {
        n, maxNewTokens: this.cfg.data.max_response_length, temperature: c.temperature, topP: c.top_p, topK: c.top_k,
        greedy: opts.greedy ?? false, stopTokenIds: this.stopTokenIds, stopStrings: c.stop, tokenizer: this.tokenizer, padTokenId: this.padId,
        ...(opts.seeds ? { seed: opts.seeds[i]! } : {}),
      });
      // grade the whole chunk at once, so a code verifier's pool sees every sample
      const scores = await Promise.all(samples.map((s, k) => this.verifier(chunk[Math.floor(k / n)]!, s.text).then((v) => v.score)));
      for (const [j, row] of chunk.entries()) {
        const mine = samples.slice(j * n, (j + 1) * n);
        groups.push({
          scores: scores.slice(j * n, (j + 1) * n),
          truncated: mine.some((s) => s.finishReason === 'length'),
          sample: {
            row, promptIds: this.promptIds(row),
            responses: mine.map((s) => ({ ids: s.tokenIds, logprobs: s.logprobs, text: s.text, finish: s.finishReason })),
          },
        });
      }
    }
    return groups;
  }

  /**
   * Fills the prompt buffer until it holds a batch: draws `oversample`× the missing prompts per
   * round, keeps groups in the accuracy band. After `max_rounds` it trains on what it has.
   *
   * With W ranks, each needs B/W groups: every round all ranks draw the same rows, sized by the
   * rank that misses most (W × its deficit × oversample), and sample their share (row i of the
   * draw on rank i mod W). Ranks agree on the fewest groups any rank holds, so all run the same
   * rounds and take the same number of groups.
   */
  async #collect(m: Metrics): Promise<Group<RolloutGroup>[]> {
    const c = this.cfg;
    const W = this.worldSize, rank = this.rank;
    const B = c.rollout.batch_prompts / W; // groups this rank contributes
    const step = this.step + 1;
    const fewestBuffered = () => this.#reduce([this.buffer.size], 'min', 'comparing prompt buffers')[0]!;
    let drawn = 0, kept = 0, correct = 0, total = 0, truncated = 0, lenSum = 0, lenMax = 0;
    let fewest = fewestBuffered();
    for (let round = 0; round < c.rollout.max_rounds && fewest < B; round++) {
      const want = Math.ceil((B - fewest) * W * (c.filter.enable ? c.rollout.oversample : 1));
      const mine = this.dataset.next(want).map((row, i) => ({ row, i })).filter(({ i }) => i % W === rank);
      const seeds = c.rollout.seed_per_prompt ? mine.map(({ i }) => rolloutSeed(c.trainer.seed, step, round, i)) : undefined;
      const groups = await this.rollout(mine.map(({ row }) => row), { seeds });
      drawn += groups.length;
      for (const g of groups) {
        correct += g.scores.reduce((a, b) => a + b, 0);
        total += g.scores.length;
        for (const r of g.sample.responses) {
          lenSum += r.ids.length;
          lenMax = Math.max(lenMax, r.ids.length);
          if (r.finish === 'length') truncated++;
        }
      }
      const accepted = c.filter.enable ? filterByAccuracy(groups, c.filter.low, c.filter.high, { dropTruncated: c.filter.drop_truncated }).kept : groups;
      kept += accepted.length;
      this.buffer.add(accepted);
      fewest = fewestBuffered();
    }
    let bufferSize = this.buffer.size;
    if (this.#dp) [drawn, kept, correct, total, truncated, lenSum, bufferSize] = this.#reduce([drawn, kept, correct, total, truncated, lenSum, bufferSize], 'sum', 'reducing rollout counts');
    Object.assign(m, {
      'rollout/accuracy': total ? correct / total : 0,
      'rollout/prompts_drawn': drawn,
      'filter/kept_fraction': drawn ? kept / drawn : 0,
      'response/length_mean': total ? lenSum / total : 0,
      'response/length_max': lenMax,
      'response/truncated_fraction': total ? truncated / total : 0,
      'buffer/size_before_take': bufferSize,
    });
    return this.buffer.take(Math.min(B, fewest))!;
  }

  // ------------------------------------------------------------------ scoring helpers
  /** Response-window log-probs (N, T) of `model` over the packed batch, in micro-batches. */
  #score(model: CausalLM, batch: PackedBatch, micro: number, opts: { temperature?: number } = {}): Tensor {
    const N = batch.inputIds.size(0);
    const T = batch.inputIds.size(1) - batch.responseStart;
    return noGrad(() => tidy(() => {
      const parts: Tensor[] = [];
      for (let i = 0; i < N; i += micro) {
        const c = Math.min(micro, N - i);
        const lp = logprobs(model, batch.inputIds.narrow(0, i, c), {
          attentionMask: batch.attentionMask.narrow(0, i, c), responseMask: batch.responseMask.narrow(0, i, c),
          responseStart: batch.responseStart, temperature: opts.temperature,
        }).logprobs;
        parts.push(lp.narrow(1, batch.responseStart, T));
      }
      return torch.cat(parts, 0);
    }));
  }

  /**
   * The implicit PRM's mean cross-entropy on given responses and outcome labels (no update):
   * how well the PRM's outcome logit s = β Σ log(π_φ/π_ref) separates correct from wrong.
   */
  prmLossOn(prompts: number[][], responses: number[][], outcomes: number[]): number {
    return tidy(() => {
      const batch = packSequences(prompts, responses, this.padId);
      const T = batch.inputIds.size(1) - batch.responseStart;
      const mask = batch.responseMask.narrow(1, batch.responseStart, T);
      const ref = this.#score(this.ref, batch, this.cfg.prm.micro_batch);
      const prm = this.#score(this.prm, batch, this.cfg.prm.micro_batch);
      return prmCrossEntropyLoss(prm, ref, mask, torch.tensor(Float32Array.from(outcomes)), this.cfg.algorithm.beta).loss.item();
    });
  }

  // ------------------------------------------------------------------ one step
  /** Runs one PRIME step and returns its metrics. */
  async trainStep(): Promise<Metrics> {
    const c = this.cfg;
    const m: Metrics = {};
    const t0 = performance.now();
    this.#gradBytes = 0;
    this.#collectives = 0;
    const groups = await this.#collect(m);
    const tRollout = performance.now();
    if (groups.length === 0) throw new Error(`step ${this.step + 1}: no prompt group passed the accuracy filter in ${c.rollout.max_rounds} rounds; widen filter.low/high or raise rollout.max_rounds`);
    this.step++;
    const K = groups[0]!.sample.responses.length;
    const prompts = groups.flatMap((g) => g.sample.responses.map(() => g.sample.promptIds));
    const responses = groups.flatMap((g) => g.sample.responses.map((r) => r.ids));
    const outcomes = groups.flatMap((g) => g.scores);

    const result = tidy(() => {
      const batch = packSequences(prompts, responses, this.padId);
      const P = batch.responseStart;
      const T = batch.inputIds.size(1) - P;
      const N = prompts.length;
      const mask = batch.responseMask.narrow(1, P, T); // (N, T)
      const oldLogp = torch.tensor(Float32Array.from(groups.flatMap((g) => g.sample.responses.flatMap((r) => {
        const row = new Array<number>(T).fill(0);
        r.logprobs.forEach((v, k) => (row[k] = v));
        return row;
      }))), { shape: [N, T] });
      const outcome = torch.tensor(Float32Array.from(outcomes));

      // -- reference and implicit PRM scores, PRM update
      const t1 = performance.now();
      const usePrm = c.algorithm.advantage === 'prime';
      const refLogp = this.#score(this.ref, batch, c.prm.micro_batch);
      let tokenRewards: Tensor | null = null;
      if (usePrm) {
        let prmLogp = this.#score(this.prm, batch, c.prm.micro_batch);
        const pre = prmCrossEntropyLoss(prmLogp, refLogp, mask, outcome, c.algorithm.beta);
        m['prm/accuracy'] = pre.accuracy; // before this step's update: labels it has not trained on
        m['prm/loss_before'] = pre.loss.item();
        if (c.algorithm.prm_update !== 'none') {
          Object.assign(m, this.#updatePrm(batch, refLogp, mask, outcome, K));
          if (c.algorithm.prm_update === 'before') prmLogp = this.#score(this.prm, batch, c.prm.micro_batch);
        }
        tokenRewards = implicitProcessReward(prmLogp, refLogp, mask, c.algorithm.beta, c.algorithm.granularity);
        m['reward/process_mean'] = this.#dp ? globalMaskedMean(tokenRewards, mask, this.#allReduceSum).mean : maskedMean(tokenRewards, mask).item();
        m['reward/process_seq_mean'] = tokenRewards.sum(1).mean().item();
      }
      if (c.algorithm.kl_coef > 0 && c.algorithm.kl_mode === 'reward') {
        const penalty = klPenalty(oldLogp, refLogp, mask, c.algorithm.kl_estimator).mul(-c.algorithm.kl_coef);
        tokenRewards = tokenRewards ? tokenRewards.add(penalty) : penalty;
      }
      m['reward/outcome_mean'] = outcome.mean().item();
      m['time/score_prm'] = (performance.now() - t1) / 1000;

      // -- advantages
      const { advantages, metrics: am } = getAdvantageEstimator(c.algorithm.advantage)(
        { outcome, tokenRewards, mask, groupSize: K },
        {
          outcomeCoef: c.algorithm.outcome_coef, processCoef: c.algorithm.process_coef, gamma: c.algorithm.gamma, whiten: c.algorithm.whiten,
          ...(this.#dp ? { allReduceSum: this.#allReduceSum } : {}),
        });
      Object.assign(m, am);

      // -- PPO
      const t2 = performance.now();
      Object.assign(m, this.#updatePolicy(batch, oldLogp, advantages, refLogp, mask, K));
      m['time/policy_update'] = (performance.now() - t2) / 1000;
      m['batch/sequences'] = N;
      m['batch/response_tokens'] = mask.sum().item();
      return m;
    });
    m['time/rollout'] = (tRollout - t0) / 1000;
    m['time/step'] = (performance.now() - t0) / 1000;
    if (this.#dp) {
      m['dist/grad_allreduce_bytes'] = this.#gradBytes;
      m['dist/collectives'] = this.#collectives + 2; // with the two that reduce the metrics
      this.#reduceMetrics(m);
    }
    m['throughput/tokens_per_s'] = (result['batch/response_tokens'] ?? 0) / m['time/step'];
    m['actor/lr'] = this.policyOpt.groups[0]!.lr;
    for (const [k, v] of Object.entries(m)) if (!Number.isFinite(v) && /loss|grad_norm/.test(k)) throw new TrainingDivergedError(k, this.step, v);
    return m;
  }

  /**
   * One PRM epoch over the batch: mini-batches of actor.mini_batch, micro-batches of prm.micro_batch.
   * Data-parallel: mini-batches are contiguous ranges of the global batch; each rank backpropagates
   * the sequences it holds in the range (a contiguous local range, as the global index grows with
   * the local one), each weighted 1/(global mini-batch size), and the gradients are summed over ranks.
   */
  #updatePrm(batch: PackedBatch, refLogp: Tensor, mask: Tensor, outcome: Tensor, K: number): Metrics {
    const c = this.cfg;
    const N = batch.inputIds.size(0); // this rank's sequences
    const Nall = N * this.worldSize; // the global batch's
    const P = batch.responseStart, T = batch.inputIds.size(1) - P;
    const mini = Math.min(c.actor.mini_batch, Nall), micro = c.prm.micro_batch;
    const globalIdx = Array.from({ length: N }, (_, l) => this.#globalSeq(l, K));
    /** The first local sequence whose global index is ≥ g. */
    const localFrom = (g: number) => {
      const l = globalIdx.findIndex((x) => x >= g);
      return l < 0 ? N : l;
    };
    let lossSum = 0, n = 0, gnSum = 0, steps = 0;
    this.prm.train();
    for (let s = 0; s < Nall; s += mini) {
      const mb = Math.min(mini, Nall - s);
      const end = localFrom(s + mb);
      for (let i = localFrom(s); i < end; i += micro) {
        const cnt = Math.min(micro, end - i);
        tidy(() => {
          const lp = logprobs(this.prm, batch.inputIds.narrow(0, i, cnt), {
            attentionMask: batch.attentionMask.narrow(0, i, cnt), responseMask: batch.responseMask.narrow(0, i, cnt), responseStart: P,
          }).logprobs.narrow(1, P, T);
          const { loss } = prmCrossEntropyLoss(lp, refLogp.narrow(0, i, cnt), mask.narrow(0, i, cnt), outcome.narrow(0, i, cnt), c.algorithm.beta);
          loss.mul(cnt / mb).backward(); // mean over the (global) mini-batch's responses
          lossSum += loss.item() * cnt;
          n += cnt;
        });
      }
      this.#allReduceGradients(this.prm.parameters(), 'PRM');
      const gn = torch.clipGradNorm(this.prm.parameters(), c.prm.grad_clip);
      if (!Number.isFinite(gn)) throw new TrainingDivergedError('PRM grad norm', this.step, gn);
      this.prmOpt!.step();
      this.prmOpt!.zeroGrad();
      gnSum += gn;
      steps++;
    }
    [lossSum, n] = this.#reduce([lossSum, n], 'sum', 'reducing the PRM loss');
    return { 'prm/loss': lossSum / Math.max(1, n), 'prm/grad_norm': gnSum / Math.max(1, steps) };
  }

  /**
   * PPO epochs over shuffled mini-batches; token-mean loss over each mini-batch.
   *
   * Data-parallel: the shuffle is one permutation of the global batch, the same on every rank
   * (seeded: `rollout.seed_per_prompt`); each rank backpropagates the members of each global
   * mini-batch it holds, each micro-batch weighted by its tokens / the global mini-batch's tokens
   * (counts summed over ranks once per epoch), and the gradients are summed over ranks before
   * clipping. The update is that of one process on the whole batch; a rank's share of a
   * mini-batch varies around mini_batch / W (it may be empty: it then adds zero gradients).
   */
  #updatePolicy(batch: PackedBatch, oldLogp: Tensor, advantages: Tensor, refLogp: Tensor, mask: Tensor, K: number): Metrics {
    const c = this.cfg;
    const N = batch.inputIds.size(0); // this rank's sequences
    const Nall = N * this.worldSize; // the global batch's
    const P = batch.responseStart, T = batch.inputIds.size(1) - P;
    const mini = Math.min(c.actor.mini_batch, Nall), micro = c.actor.micro_batch;
    const lr = c.actor.warmup_steps > 0 && this.step <= c.actor.warmup_steps ? (c.actor.lr * this.step) / c.actor.warmup_steps : c.actor.lr;
    this.policyOpt.setLr(lr);
    this.policy.train();
    const acc = { loss: 0, clip: 0, kl: 0, ent: 0, gn: 0, n: 0, steps: 0, klRef: 0 };
    const indexTensor = (idx: number[]) => torch.tensor(BigInt64Array.from(idx, BigInt));
    for (let epoch = 0; epoch < c.actor.ppo_epochs; epoch++) {
      // global sequence indices in shuffled order
      const order = c.rollout.seed_per_prompt
        ? seededPermutation(Nall, ppoShuffleSeed(c.trainer.seed, this.step, epoch))
        : tidy(() => Array.from(torch.randperm(Nall).data() as BigInt64Array, Number));
      // each global mini-batch's members on this rank (local indices), and its tokens over all ranks
      const minis: number[][] = [];
      for (let s = 0; s < Nall; s += mini) minis.push(order.slice(s, s + mini).map((g) => this.#localSeq(g, K)).filter((l) => l >= 0));
      const localTokens = minis.map((idx) => (idx.length ? tidy(() => mask.indexSelect(0, indexTensor(idx)).sum().item()) : 0));
      const miniTokens = this.#reduce(localTokens, 'sum', 'counting mini-batch tokens');
      for (const [j, members] of minis.entries()) {
        const tokens = Math.max(1, miniTokens[j]!);
        for (let i = 0; i < members.length; i += micro) {
          tidy(() => {
            const idx = indexTensor(members.slice(i, i + micro));
            const mk = mask.indexSelect(0, idx);
            const out = logprobs(this.policy, batch.inputIds.indexSelect(0, idx), {
              attentionMask: batch.attentionMask.indexSelect(0, idx), responseMask: batch.responseMask.indexSelect(0, idx),
              responseStart: P, temperature: c.rollout.temperature, withEntropy: true,
            });
            const lp = out.logprobs.narrow(1, P, T);
            const ent = out.entropy!.narrow(1, P, T);
            const pg = ppoClipLoss(lp, oldLogp.indexSelect(0, idx), advantages.indexSelect(0, idx), mk, c.actor.clip_eps);
            let loss = pg.loss;
            const entropy = maskedMean(ent, mk);
            if (c.algorithm.entropy_coef > 0) loss = loss.sub(entropy.mul(c.algorithm.entropy_coef));
            const kl = maskedMean(klPenalty(lp, refLogp.indexSelect(0, idx), mk, c.algorithm.kl_estimator), mk);
            if (c.algorithm.kl_coef > 0 && c.algorithm.kl_mode === 'loss') loss = loss.add(kl.mul(c.algorithm.kl_coef));
            // token-mean over the (global) mini-batch: weight this micro-batch by its share of the tokens
            const share = mk.sum().item() / tokens;
            loss.mul(share).backward();
            const lv = loss.item();
            if (!Number.isFinite(lv)) throw new TrainingDivergedError('policy loss', this.step, lv);
            acc.loss += lv * share; acc.clip += pg.clipFraction * share; acc.kl += pg.approxKl * share;
            acc.ent += entropy.item() * share; acc.klRef += kl.item() * share;
          });
        }
        this.#allReduceGradients(this.policy.parameters(), 'policy');
        const gn = torch.clipGradNorm(this.policy.parameters(), c.actor.grad_clip);
        if (!Number.isFinite(gn)) throw new TrainingDivergedError('policy grad norm', this.step, gn);
        this.policyOpt.step();
        this.policyOpt.zeroGrad();
        acc.gn += gn;
        acc.steps++;
      }
    }
    // each rank summed its share-weighted part of every mini-batch's means: sum over ranks
    [acc.loss, acc.clip, acc.kl, acc.ent, acc.klRef] = this.#reduce([acc.loss, acc.clip, acc.kl, acc.ent, acc.klRef], 'sum', 'reducing policy metrics') as [number, number, number, number, number];
    const k = Math.max(1, acc.steps);
    return {
      'actor/pg_loss': acc.loss / k, 'actor/clip_fraction': acc.clip / k, 'actor/approx_kl': acc.kl / k,
      'actor/entropy': acc.ent / k, 'actor/kl_ref': acc.klRef / k, 'actor/grad_norm': acc.gn / k,
    };
  }

  // ------------------------------------------------------------------ the loop
  /**
   * Trains until trainer.total_steps, checkpointing every save_every steps and at the end. With
   * several ranks, every rank runs this loop (each step and save has collectives); rank 0 writes
   * metrics.jsonl, the progress lines and the checkpoints.
   */
  async train(opts: { onStep?: (step: number, m: Metrics) => void | Promise<void> } = {}): Promise<Metrics[]> {
    const c = this.cfg.trainer;
    const all: Metrics[] = [];
    while (this.step < c.total_steps) {
      const m = await this.trainStep();
      this.metricsLog?.write(this.step, m);
      all.push(m);
      if (this.metricsLog && this.step % c.log_every === 0)
        this.log(this.metricsLog.progress(this.step, c.total_steps, m, [
          ['rollout/accuracy', 'acc'], ['filter/kept_fraction', 'kept'], ['prm/accuracy', 'prm_acc'], ['prm/loss', 'prm_loss'],
          ['reward/process_mean', 'r_proc'], ['actor/pg_loss', 'pg'], ['actor/approx_kl', 'kl'], ['response/length_mean', 'len'],
        ]));
      await opts.onStep?.(this.step, m);
      if ((c.save_every > 0 && this.step % c.save_every === 0) || this.step === c.total_steps) this.save();
    }
    return all;
  }

  /**
   * Writes an atomic checkpoint of everything a resumed run needs; returns its directory. With
   * several ranks, call it on every rank: each rank's RNG state and prompt buffer are gathered to
   * rank 0, which writes them as `ranks/rank-NNNNN.json` beside the rest (models and optimizer
   * states are the same on every rank).
   */
  save(): string {
    const root = path.join(this.cfg.trainer.output_dir, 'checkpoints');
    const ranks = this.#dp ? this.#gatherRankStates() : null;
    if (this.rank !== 0) return path.join(root, checkpointName(this.step));
    return writeCheckpoint(root, this.step, (dir) => {
      savePretrained(path.join(dir, 'policy'), this.policy, { tokenizer: this.tokenizer });
      savePretrained(path.join(dir, 'prm'), this.prm, { tokenizer: this.tokenizer });
      const pol = this.policyOpt.stateDict();
      torch.saveSafetensors(path.join(dir, 'optim-policy.safetensors'), pol.tensors, { step: String(pol.scalars.step) });
      if (this.prmOpt) {
        const p = this.prmOpt.stateDict();
        torch.saveSafetensors(path.join(dir, 'optim-prm.safetensors'), p.tensors, { step: String(p.scalars.step) });
      }
      const rng = torch.getRngState();
      torch.saveSafetensors(path.join(dir, 'rng.safetensors'), { cpu: rng });
      rng.dispose();
      const state = {
        step: this.step, dataset: this.dataset.state(), buffer: this.buffer.toJSON(), droppedLongPrompts: this.droppedLongPrompts,
        ...(ranks ? { world_size: ranks.length } : {}),
      };
      fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(state));
      fs.writeFileSync(path.join(dir, 'config.yaml'), configToYaml(this.cfg));
      if (ranks) {
        fs.mkdirSync(path.join(dir, 'ranks'));
        for (const r of ranks) fs.writeFileSync(path.join(dir, 'ranks', rankFile(r.rank)), JSON.stringify(r));
      }
    });
  }

  /** Every rank's RankState, in rank order: JSON bytes padded to the longest, all-gathered. */
  #gatherRankStates(): RankState[] {
    const rng = torch.getRngState();
    const mine: RankState = { rank: this.rank, rng: Buffer.from(rng.data() as Uint8Array).toString('base64'), buffer: this.buffer.toJSON() };
    rng.dispose();
    const bytes = Buffer.from(JSON.stringify(mine), 'utf8');
    const [longest] = this.#reduce([bytes.length], 'max', 'gathering rank states for the checkpoint');
    const padded = new Uint8Array(longest!); // zero bytes after the JSON: it never contains a raw NUL
    padded.set(bytes);
    return tidy(() => {
      const all = this.#collective('gathering rank states for the checkpoint', () => torch.distributed.allGather(torch.tensor(padded)));
      return all.map((t) => {
        const b = Buffer.from(t.data() as Uint8Array);
        const end = b.indexOf(0);
        return JSON.parse(b.subarray(0, end < 0 ? b.length : end).toString('utf8')) as RankState;
      });
    });
  }

  #restore(dir: string, rows: PromptRow[]): void {
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as {
      step: number; dataset: DatasetState; buffer: Group<RolloutGroup>[]; world_size?: number;
    };
    const savedWorld = state.world_size ?? 1;
    if (savedWorld !== this.worldSize)
      throw new Error(`${dir} was written by a run on ${savedWorld} rank(s); resume it on ${savedWorld} (prompt buffers and RNG states are per rank), not ${this.worldSize}`);
    this.step = state.step;
    this.dataset = PromptDataset.restore(rows, state.dataset);
    this.droppedLongPrompts = this.dataset.dropWhere((r) => this.promptIds(r).length > this.cfg.data.max_prompt_length);
    this.buffer = PromptBuffer.fromJSON(state.buffer);
    const loadOpt = (opt: AdamW, file: string) => {
      const tensors = torch.loadSafetensors(file);
      const step = Number(torch.readSafetensorsHeader(file).metadata.step ?? 0);
      opt.loadStateDict({ tensors, scalars: { step } });
      torch.dispose([...tensors.values()]);
    };
    loadOpt(this.policyOpt, path.join(dir, 'optim-policy.safetensors'));
    if (this.prmOpt) loadOpt(this.prmOpt, path.join(dir, 'optim-prm.safetensors'));
    if (this.#dp) {
      const mine = JSON.parse(fs.readFileSync(path.join(dir, 'ranks', rankFile(this.rank)), 'utf8')) as RankState;
      this.buffer = PromptBuffer.fromJSON(mine.buffer);
      tidy(() => torch.setRngState(torch.tensor(new Uint8Array(Buffer.from(mine.rng, 'base64')))));
      return;
    }
    const rng = torch.loadSafetensors(path.join(dir, 'rng.safetensors'));
    torch.setRngState(rng.get('cpu')!);
    torch.dispose([...rng.values()]);
  }

  /** Frees the models and optimizers, and leaves the data-parallel job (every rank calls it). */
  dispose(): void {
    this.policy.dispose();
    this.prm.dispose();
    this.ref.dispose();
    this.policyOpt.dispose();
    this.prmOpt?.dispose();
    if (this.#dp?.ownsGroup) torch.distributed.destroyProcessGroup();
  }
}
