/**
 * The PRIME trainer: orchestration only — the math lives in rewards.ts, advantages.ts, ppo.ts,
 * filter.ts and prm_metrics.ts, and each job of a step lives in a file of its own under trainer/:
 *
 *   trainer/rollout.ts   draw prompts → sample K each → verify → filter (oversample; surplus re-queued or buffered)
 *   trainer/prm.ts       reference and PRM log-probs, the PRM update (after | before | none), the PRM probe
 *   (here)               process rewards (+ batch_norm) → overlong shaping of the outcome → advantages → KL controller
 *   trainer/policy.ts    PPO mini-batches / epochs for the policy
 *   trainer/state.ts     checkpoints and exact resume
 *   trainer/parallel.ts  data-parallel collectives (the identity on one process)
 *
 * One step follows DESIGN §2. Shapes: B prompts per step, K samples each, N = B·K sequences;
 * packed sequences are (N, P + T) with the response window (N, T) starting at column P.
 *
 * Data-parallel (W ranks, WORLD_SIZE > 1 in the environment, e.g. `prime train --nproc W`): every
 * rank draws the same prompt rows and samples, verifies and scores its share (global prompt i of a
 * round goes to rank i mod W), so rank r holds B/W groups and N/W sequences. Whitening, batch_norm
 * and PPO token-means use global statistics; each PRM / policy optimizer step is over a global
 * mini-batch (gradients summed over ranks); metrics are reduced; rank 0 logs and writes
 * checkpoints. With `rollout.seed_per_prompt` (forced on) the run equals a 1-process run with
 * that option, up to float rounding.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as torch from '../torch/index.js';
import { AdamW, type Tensor, tidy } from '../torch/index.js';
import { loadPretrained, packSequences, resolveDevice, type CausalLM, type Tokenizer, type PackedBatch } from '../lm/index.js';
import type { PrimeConfig } from './config.js';
import { configToYaml, modelDtypes } from './config.js';
import { loadPromptFiles, PromptDataset, type PromptRow } from './data.js';
import { implicitProcessReward, normalizeProcessRewards, overlongPenalty, prmCrossEntropyLoss } from './rewards.js';
import { getAdvantageEstimator } from './advantages.js';
import { klPenalty, KlController } from './ppo.js';
import { maskedMean, globalMaskedMean } from './masked.js';
import { PromptBuffer, type Group } from './filter.js';
import { latestLoadableCheckpoint, listCheckpoints } from './checkpoint.js';
import { MetricsLog, type Metrics } from './metrics.js';
import { checkRowVerifiers, checkedVerifier, defaultVerifier, type Verifier } from './verifier.js';
import { Parallel, rankDevice } from './trainer/parallel.js';
import { collectBatch, rolloutGroups } from './trainer/rollout.js';
import { disposePrmReplay, prmPhase, prmSlices, type PrmReplayEntry, probePrm, probeRowsFromTraining, scoreLogprobs, scoreLogprobsAt, type PrmEvent, type PrmProbeSet } from './trainer/prm.js';
import { updatePolicy } from './trainer/policy.js';
import { loadTrained, type TrainedWeights } from './trainer/precision.js';
import { saveCheckpoint, restoreCheckpoint } from './trainer/state.js';
import { probeSeed } from './trainer/seeds.js';
import { TrainingDivergedError } from './trainer/errors.js';
import { safeProgress, type OnProgress } from './progress.js';
import { TrainingValidation } from './validation.js';
import { createVerifier } from './reward_functions.js';
import { stepPerfMetrics } from './perf.js';

export { TrainingDivergedError } from './trainer/errors.js';
export { derivedSeed, rolloutSeed, ppoShuffleSeed } from './trainer/seeds.js';
export type { PrmEvent, PrmProbeSet } from './trainer/prm.js';

/** One prompt's K rollouts, as kept in the buffer and in checkpoints (plain JSON). */
export interface RolloutGroup {
  row: PromptRow;
  promptIds: number[];
  responses: { ids: number[]; logprobs: number[]; text: string; finish: 'stop' | 'length' }[];
}

export interface TrainerOptions {
  verifier?: Verifier;
  /** Progress lines (default: console.log). */
  log?: (line: string) => void;
  /** Called with each event of the PRM's part of a step, in order (tests of the update modes). */
  onPrmEvent?: (e: PrmEvent) => void;
  /** Phase progress (rollout, score, update, validate) on rank 0, e.g. ProgressDisplay.onProgress (progress.ts). */
  onProgress?: OnProgress;
  /**
   * Decode each prompt once for its K responses when scoring with the reference and the PRM and
   * in the PRM's update (prime-ts/lm's sharedPromptLogprobs; the same log-probs and gradients up
   * to float rounding). Default true; false packs every (prompt, response) row in full, as
   * before (benches and tests compare the two).
   */
  sharedPrompts?: boolean;
  /**
   * Process rewards from a process verifier in place of the implicit PRM's (advantage `prime`
   * only): called once per step with the batch's groups (this rank's, in order), it returns one
   * array per response (groups in order, K each) of one reward per response token (missing
   * entries are 0, extra ones an error). They then go through algorithm.process_reward_norm, the
   * process baseline and the return exactly as the PRM's β·log-ratios would; the PRM is neither
   * scored nor updated (it is loaded, untrained). For ablations that bound what dense rewards can
   * give on a task whose steps can be checked (bench/replication.ts's `oracle` methods, with
   * demo/arithmetic.ts's firstWrongStepRewards), not for training on real data.
   */
  processRewards?: (groups: RolloutGroup[]) => number[][];
}

const rowKey = (r: PromptRow) => `${r.file}#${r.row}`;

export class PrimeTrainer {
  readonly cfg: PrimeConfig;
  readonly #processRewards: ((groups: RolloutGroup[]) => number[][]) | undefined;
  policy!: CausalLM;
  prm!: CausalLM;
  ref!: CausalLM;
  tokenizer!: Tokenizer;
  stopTokenIds: number[] = [];
  padId = 0;
  dataset!: PromptDataset;
  /** Groups kept by the filter and not yet trained on (`rollout.buffer: responses`). */
  buffer = new PromptBuffer<RolloutGroup>();
  /** Prompts to sample again before new ones (`rollout.buffer: prompts`), as indices into dataset.rows. */
  requeue: number[] = [];
  /** The PRM probe set (prm.probe_every > 0), fixed for the run. */
  probe: PrmProbeSet | null = null;
  policyOpt!: AdamW;
  prmOpt: AdamW | null = null;
  /** The last prm.replay_steps steps' labelled batches, newest first (trainer/prm.ts prmReplay). */
  readonly prmReplayBuffer: PrmReplayEntry[] = [];
  /** What policyOpt steps: the policy's parameters, or float32 masters of its bf16 weights (actor.dtype; trainer/precision.ts). */
  policyWeights!: TrainedWeights;
  /** What prmOpt steps, when the PRM is trained (prm.dtype). */
  prmWeights: TrainedWeights | null = null;
  /** The KL coefficient β to π_ref (algorithm.kl_ctrl: fixed | adaptive); its value is kept in checkpoints. */
  klCtrl!: KlController;
  step = 0;
  droppedLongPrompts = 0;
  /** metrics.jsonl; null on ranks other than 0 (rank 0 writes the metrics of the whole job). */
  metricsLog: MetricsLog | null = null;
  readonly verifier: Verifier;
  /** Progress lines; a no-op on ranks other than 0. */
  readonly log: (line: string) => void;
  readonly parallel: Parallel;
  /** Phase progress (a no-op unless TrainerOptions.onProgress; rank 0 only). */
  readonly onProgress: OnProgress;
  /** Validation on data.val_files every trainer.eval_every steps (validation.ts); null when off. */
  validation: TrainingValidation | null = null;
  readonly #onPrmEvent: ((e: PrmEvent) => void) | undefined;
  /** TrainerOptions.sharedPrompts. */
  readonly sharedPrompts: boolean;
  #promptCache = new Map<string, number[]>();
  #rowIndex: { rows: readonly PromptRow[]; index: Map<PromptRow, number> } | null = null;
  /** Training rows held out as the PRM probe set (when data.val_files is empty). */
  #probeRowKeys = new Set<string>();
  #probeCache: { batch: PackedBatch; refLogp: Tensor } | null = null;
  /** True once trainStep has counted the step in progress (this.step is then its number). */
  #inStep = false;
  /** With the default verifier, every row's verifier and ground truth are checked at load. */
  #checkRows: boolean;

  private constructor(cfg: PrimeConfig, opts: TrainerOptions, dp: Parallel) {
    this.cfg = cfg;
    this.parallel = dp;
    // a NaN, ±∞ or out-of-[0, 1] score stops the run naming the verifier, file and row (not a NaN advantage later)
    this.verifier = opts.verifier ? checkedVerifier(opts.verifier, 'the trainer\'s verifier (TrainerOptions.verifier)') : defaultVerifier(cfg);
    this.#checkRows = opts.verifier === undefined;
    this.log = dp.rank !== 0 ? () => {} : (opts.log ?? ((l) => console.log(l)));
    this.#onPrmEvent = opts.onPrmEvent;
    this.#processRewards = opts.processRewards;
    if (opts.processRewards && cfg.algorithm.advantage !== 'prime') throw new Error(`TrainerOptions.processRewards needs algorithm.advantage=prime (got '${cfg.algorithm.advantage}')`);
    this.sharedPrompts = opts.sharedPrompts ?? true;
    this.onProgress = safeProgress(opts.onProgress, dp.rank);
    dp.where = () => `step ${this.step + (this.#inStep ? 0 : 1)}`;
  }

  /**
   * The group size to decode prompts once for (trainer/prm.ts responseLogprobs), or 1 for full
   * rows: K with TrainerOptions.sharedPrompts, unless the PRM checkpoints activations (its update
   * then runs on full rows, and the reference must take the same path: a PRM equal to the
   * reference must give bit-identical log-probs, i.e. reward 0, not rounding noise that
   * batch_norm would scale up).
   */
  promptGroupSize(K: number): number {
    return this.sharedPrompts && !(this.prmOpt && this.prm.gradientCheckpointing) ? K : 1;
  }

  /** As promptGroupSize, for the policy's update (trainer/policy.ts): K with shared prompts, else 1. */
  policyGroupSize(K: number): number {
    return this.sharedPrompts ? K : 1;
  }

  /** This process's rank in a data-parallel job (0 when alone). */
  get rank(): number {
    return this.parallel.rank;
  }
  /** Ranks in the job (1 when alone). */
  get worldSize(): number {
    return this.parallel.world;
  }

  /**
   * Loads models and data; resumes from the latest checkpoint when `trainer.resume` is set.
   * When WORLD_SIZE > 1 in the environment (torchrun's variables, as `prime train --nproc N` sets
   * them) or a process group of several ranks exists, joins the data-parallel job: creates the
   * Gloo process group if needed, turns on `rollout.seed_per_prompt`, checks every rank has the
   * same config, and copies rank 0's policy and PRM parameters to every rank.
   */
  static async create(cfg: PrimeConfig, opts: TrainerOptions = {}): Promise<PrimeTrainer> {
    if (!opts.verifier && cfg.reward.functions.length > 0) opts = { ...opts, verifier: await createVerifier(cfg) }; // reward.functions
    const dp = Parallel.join(cfg);
    if (dp.active && !cfg.rollout.seed_per_prompt) cfg = { ...cfg, rollout: { ...cfg.rollout, seed_per_prompt: true } };
    const t = new PrimeTrainer(cfg, opts, dp);
    try {
      await t.#load();
    } catch (e) {
      dp.dispose();
      throw e;
    }
    return t;
  }

  /** True for rows that never train: prompts over data.max_prompt_length, and the PRM probe's rows. */
  excludedFromTraining(r: PromptRow): boolean {
    return this.promptIds(r).length > this.cfg.data.max_prompt_length || this.#probeRowKeys.has(rowKey(r));
  }

  /** A row's index in dataset.rows (re-queued prompts are stored as these). */
  rowIndex(r: PromptRow): number {
    const rows = this.dataset.rows;
    if (this.#rowIndex?.rows !== rows) this.#rowIndex = { rows, index: new Map(rows.map((x, i) => [x, i])) };
    const i = this.#rowIndex.index.get(r);
    if (i === undefined) throw new Error(`internal: row ${rowKey(r)} is not in the training set`);
    return i;
  }

  /** Whether the implicit PRM is scored (and trained) for process rewards: advantage prime, no TrainerOptions.processRewards. */
  get #usesPrm(): boolean {
    return this.cfg.algorithm.advantage === 'prime' && !this.#processRewards;
  }

  async #load(): Promise<void> {
    const cfg = this.cfg;
    if (cfg.trainer.threads > 0) torch.setNumThreads(cfg.trainer.threads);
    torch.manualSeed(cfg.trainer.seed);
    this.parallel.checkSameConfig(cfg);
    const ckRoot = path.join(cfg.trainer.output_dir, 'checkpoints');
    // The newest checkpoint that checks out; a corrupt one is reported and passed over.
    const resumeFrom = cfg.trainer.resume ? (latestLoadableCheckpoint(ckRoot, (m) => this.log(`warning: ${m}`))?.dir ?? null) : null;
    if (!cfg.trainer.resume) {
      // a fresh run beside an earlier run's checkpoints would have its own pruned (older step
      // names sort later) and `latest` pointing at a removed one, and a later resume would continue the earlier run
      const earlier = listCheckpoints(ckRoot);
      if (earlier.length)
        throw new Error(`trainer.output_dir=${cfg.trainer.output_dir} holds checkpoints of an earlier run (${earlier.slice(-2).join(', ')}); set trainer.resume=true (--resume) to continue it, or choose a new trainer.output_dir`);
    }
    if (cfg.trainer.resume && !resumeFrom) this.log(`resume: no checkpoint under ${ckRoot}; starting fresh`);
    const dtypes = modelDtypes(cfg); // actor.dtype, prm.dtype, model.ref_dtype (trainer/precision.ts)
    // fails here, naming the key, on a CPU-only build or machine; 'cuda' in a job of several ranks is cuda:LOCAL_RANK
    const device = resolveDevice(rankDevice(cfg.model.device ?? 'cpu', this.parallel.active ? torch.distributed.getLocalRank() : 0, this.parallel.world), 'model.device');
    this.policyWeights = loadTrained(resumeFrom ? path.join(resumeFrom, 'policy') : cfg.model.path, dtypes.actor, device);
    const pol = this.policyWeights.pre;
    if (!pol.tokenizer) throw new Error(`${cfg.model.path}: no tokenizer.json; the trainer needs the model's tokenizer`);
    this.policy = pol.model;
    this.policy.gradientCheckpointing = cfg.actor.gradient_checkpointing;
    this.tokenizer = pol.tokenizer;
    this.stopTokenIds = pol.stopTokenIds;
    this.padId = pol.tokenizer.padTokenId ?? pol.generationConfig.padTokenId ?? pol.stopTokenIds[0] ?? 0;
    this.ref = loadPretrained(cfg.model.ref_path || cfg.model.path, { dtype: dtypes.ref, device, tokenizer: false }).model.eval();
    for (const p of this.ref.parameters()) p.requiresGrad = false;
    const prmDir = resumeFrom ? path.join(resumeFrom, 'prm') : cfg.model.prm_path || cfg.model.path;
    const prmTrained = cfg.algorithm.prm_update !== 'none' && this.#usesPrm;
    if (prmTrained) {
      this.prmWeights = loadTrained(prmDir, dtypes.prm, device, { tokenizer: false });
      this.prm = this.prmWeights.pre.model;
    } else this.prm = loadPretrained(prmDir, { dtype: dtypes.prm, device, tokenizer: false }).model;
    this.prm.gradientCheckpointing = cfg.prm.gradient_checkpointing;
    if (!prmTrained) for (const p of this.prm.parameters()) p.requiresGrad = false;
    // log-ratios and KL compare the models' log-probs of the same token ids: one vocabulary
    for (const [key, dir, m] of [['model.ref_path', cfg.model.ref_path || cfg.model.path, this.ref], ['model.prm_path', prmDir, this.prm]] as const)
      if (m.config.vocabSize !== this.policy.config.vocabSize)
        throw new Error(`${key}=${dir}: its vocabulary (${m.config.vocabSize} tokens) differs from the policy's (${this.policy.config.vocabSize}, ${cfg.model.path}); policy, reference and PRM must share a tokenizer`);

    const rows = await loadPromptFiles(cfg.data.train_files);
    if (this.#checkRows) await checkRowVerifiers(rows);
    if (rows.length === 0) throw new Error(`${cfg.data.train_files.join(', ')}: no rows`);
    this.dataset = new PromptDataset(rows, cfg.data.seed);
    this.droppedLongPrompts = this.dataset.dropWhere((r) => this.promptIds(r).length > cfg.data.max_prompt_length);
    if (this.dataset.size === 0) throw new Error(`no training prompts left: all ${rows.length} exceed data.max_prompt_length=${cfg.data.max_prompt_length}`);
    const probeRows = await this.#chooseProbeRows();

    this.policyOpt = new AdamW(this.policyWeights.optimized, { lr: cfg.actor.lr, weightDecay: cfg.actor.weight_decay });
    if (this.prmWeights) this.prmOpt = new AdamW(this.prmWeights.optimized, { lr: cfg.prm.lr, weightDecay: cfg.prm.weight_decay });

    const a = cfg.algorithm;
    this.klCtrl = new KlController(a.kl_ctrl, a.kl_coef, a.kl_target, a.kl_horizon);
    if (resumeFrom) restoreCheckpoint(this, resumeFrom, rows);
    // the optimized tensors (float32 masters under bf16), then the bf16 weights rounded from them
    this.parallel.broadcastParameters([['policy', { parameters: () => this.policyWeights.optimized }], ['PRM', { parameters: () => this.prmWeights?.optimized ?? this.prm.parameters() }]]);
    this.policyWeights.afterStep();
    this.prmWeights?.afterStep();
    if (probeRows.length > 0 && !this.probe) this.probe = await this.#sampleProbe(probeRows);
    this.validation = await TrainingValidation.create(this);
    if (this.rank === 0) {
      this.metricsLog = new MetricsLog(cfg.trainer.output_dir, resumeFrom ? { resumeFromStep: this.step } : {});
      fs.writeFileSync(path.join(cfg.trainer.output_dir, 'config.yaml'), configToYaml(cfg));
    }
    this.log(`prime: ${rows.length} prompts (${this.droppedLongPrompts} over ${cfg.data.max_prompt_length} tokens dropped` +
      (this.#probeRowKeys.size ? `, ${this.#probeRowKeys.size} held out as the PRM probe` : '') + `), ` +
      `policy ${(this.policy.numParameters() / 1e6).toFixed(2)}M params, advantage '${cfg.algorithm.advantage}'` +
      (this.parallel.active ? `, ${this.worldSize} data-parallel ranks (${cfg.rollout.batch_prompts / this.worldSize} prompt groups each per step)` : '') +
      (resumeFrom ? `, resumed at step ${this.step} from ${resumeFrom}` : ''));
  }

  /**
   * The PRM probe's prompts (prm.probe_every > 0 with advantage 'prime'): the first prm.probe_prompts
   * rows of data.val_files, or else as many training rows (a seeded choice), which are then held out
   * of training. Deterministic, so a resumed run holds out the same rows.
   */
  async #chooseProbeRows(): Promise<PromptRow[]> {
    const c = this.cfg;
    if (!(c.prm.probe_every > 0 && this.#usesPrm)) return [];
    if (c.data.val_files.length > 0) {
      const valRows = await loadPromptFiles(c.data.val_files);
      if (this.#checkRows) await checkRowVerifiers(valRows);
      const val = valRows.filter((r) => this.promptIds(r).length <= c.data.max_prompt_length);
      return val.slice(0, c.prm.probe_prompts);
    }
    const rows = this.dataset.rows;
    if (rows.length <= c.prm.probe_prompts) throw new Error(`prm.probe_prompts (${c.prm.probe_prompts}) would hold out every one of the ${rows.length} training prompts; lower it or set data.val_files`);
    const chosen = probeRowsFromTraining(rows, c.data.seed, c.prm.probe_prompts);
    for (const r of chosen) this.#probeRowKeys.add(rowKey(r));
    this.dataset.dropWhere((r) => this.#probeRowKeys.has(rowKey(r)));
    return chosen;
  }

  /** Samples the probe set from the starting policy (seeded per prompt) and grades it. */
  async #sampleProbe(rows: PromptRow[]): Promise<PrmProbeSet> {
    const seeds = rows.map((_, i) => probeSeed(this.cfg.trainer.seed, i));
    const groups = await this.rollout(rows, { seeds });
    return {
      prompts: groups.flatMap((g) => g.sample.responses.map(() => g.sample.promptIds)),
      responses: groups.flatMap((g) => g.sample.responses.map((r) => r.ids)),
      outcomes: groups.flatMap((g) => g.scores),
      k: this.cfg.rollout.n,
    };
  }

  /**
   * The PRM's ranking quality on the probe set now (`prm/heldout_auc`, `prm/heldout_pairwise`,
   * `prm/heldout_loss`, `prm/heldout_positive_share`); {} without a probe set.
   */
  probeMetrics(): Metrics {
    if (!this.probe) return {};
    if (!this.#probeCache) {
      const batch = packSequences(this.probe.prompts, this.probe.responses, this.padId);
      const refLogp = scoreLogprobs(this.ref, batch, this.cfg.prm.micro_batch, { groupSize: this.promptGroupSize(this.probe.k) });
      for (const x of [batch.inputIds, batch.attentionMask, batch.responseMask, refLogp]) torch.keep(x);
      this.#probeCache = { batch, refLogp };
    }
    const pos = this.probe.outcomes.filter((o) => o > 0.5).length / Math.max(1, this.probe.outcomes.length);
    return { ...probePrm(this, this.probe, this.#probeCache.batch, this.#probeCache.refLogp), 'prm/heldout_positive_share': pos };
  }

  /** Chat-templated prompt token ids (cached per row). */
  promptIds(r: PromptRow): number[] {
    const key = rowKey(r);
    let ids = this.#promptCache.get(key);
    if (!ids) {
      ids = this.tokenizer.encodeChat(r.messages, { addGenerationPrompt: true });
      this.#promptCache.set(key, ids);
    }
    return ids;
  }

  /** Samples K responses for each row and grades them (see trainer/rollout.ts). */
  async rollout(rows: PromptRow[], opts: { greedy?: boolean; n?: number; seeds?: number[] } = {}): Promise<Group<RolloutGroup>[]> {
    try {
      return await rolloutGroups(this, rows, opts);
    } finally {
      this.policy.releaseDecodeWeights();
    }
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
      const ref = scoreLogprobs(this.ref, batch, this.cfg.prm.micro_batch);
      const prm = scoreLogprobs(this.prm, batch, this.cfg.prm.micro_batch);
      return prmCrossEntropyLoss(prm, ref, mask, torch.tensor(Float32Array.from(outcomes)), this.cfg.algorithm.beta).loss.item();
    });
  }

  /** TrainerOptions.processRewards' rewards as an (N, T) tensor, zero at masked positions; checks their count. */
  #outsideProcessRewards(groups: RolloutGroup[], mask: Tensor): Tensor {
    const [N, T] = [mask.size(0), mask.size(1)];
    const rs = this.#processRewards!(groups);
    const lengths = groups.flatMap((g) => g.responses.map((r) => r.ids.length));
    if (rs.length !== N) throw new Error(`TrainerOptions.processRewards returned ${rs.length} reward arrays for the batch's ${N} responses`);
    const flat = new Float32Array(N * T);
    rs.forEach((row, i) => {
      if (row.length > lengths[i]!) throw new Error(`TrainerOptions.processRewards: response ${i} has ${lengths[i]} tokens but ${row.length} rewards`);
      row.forEach((v, t) => {
        if (!Number.isFinite(v)) throw new Error(`TrainerOptions.processRewards: reward ${t} of response ${i} is ${v}`);
        flat[i * T + t] = v;
      });
    });
    return tidy(() => torch.tensor(flat, { shape: [N, T] }).where(mask.bool(), 0));
  }

  // ------------------------------------------------------------------ one step
  /** Runs one PRIME step and returns its metrics. */
  async trainStep(): Promise<Metrics> {
    const c = this.cfg;
    const dp = this.parallel;
    const m: Metrics = {};
    const t0 = performance.now();
    dp.resetCounters();
    const groups = await collectBatch(this, m);
    const tRollout = performance.now();
    if (groups.length === 0) throw new Error(`step ${this.step + 1}: no prompt group passed the accuracy filter in ${c.rollout.max_rounds} rounds; widen filter.low/high or raise rollout.max_rounds`);
    this.step++;
    this.#inStep = true;
    try {
      return await this.#trainOnBatch(groups, m, t0, tRollout);
    } finally {
      this.#inStep = false;
    }
  }

  async #trainOnBatch(groups: Group<RolloutGroup>[], m: Metrics, t0: number, tRollout: number): Promise<Metrics> {
    const c = this.cfg;
    const dp = this.parallel;
    const K = groups[0]!.sample.responses.length;
    const prompts = groups.flatMap((g) => g.sample.responses.map(() => g.sample.promptIds));
    const responses = groups.flatMap((g) => g.sample.responses.map((r) => r.ids));
    const outcomes = groups.flatMap((g) => g.scores);

    tidy(() => {
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

      // -- reference log-probs: at temperature 1 for the implicit PRM; at the rollout temperature
      //    for the KL term, like the policy's log-probs in the PPO loss (one forward when they agree)
      const useKl = c.algorithm.kl_coef > 0;
      const temp = c.rollout.temperature;
      const t1 = performance.now();
      this.onProgress({ phase: 'score', step: this.step, done: 0, total: N });
      let refLogp: Tensor | null = null, refLogpKl: Tensor | null = null;
      const groupSize = this.promptGroupSize(K); // each prompt decoded once for its K responses
      // with the PRM: on the rows of its micro-batches, so a PRM equal to π_ref gives reward 0 exactly
      const slices = this.#usesPrm ? prmSlices(this, N, K) : undefined;
      if (this.#usesPrm && useKl && temp !== 1) [refLogp, refLogpKl] = scoreLogprobsAt(this.ref, batch, c.prm.micro_batch, [1, temp], groupSize, slices);
      else if (this.#usesPrm || useKl) {
        const lp = scoreLogprobs(this.ref, batch, c.prm.micro_batch, { temperature: this.#usesPrm ? 1 : temp, groupSize, ...(slices ? { slices } : {}) });
        if (this.#usesPrm) refLogp = lp;
        if (useKl) refLogpKl = lp;
      }
      m['time/score_ref'] = (performance.now() - t1) / 1000;

      // -- process rewards: the implicit PRM's, after its update (trainer/prm.ts), or a process
      //    verifier's (TrainerOptions.processRewards); then the reference's normalization
      let tokenRewards: Tensor | null = null;
      let raw: Tensor | null = null;
      if (this.#usesPrm) {
        const t2 = performance.now();
        const { prmLogp, metrics } = prmPhase(this, batch, refLogp!, mask, outcome, K, this.#onPrmEvent);
        Object.assign(m, metrics);
        m['time/prm'] = (performance.now() - t2) / 1000;
        raw = implicitProcessReward(prmLogp, refLogp!, mask, c.algorithm.beta, c.algorithm.granularity);
      } else if (this.#processRewards) raw = this.#outsideProcessRewards(groups.map((g) => g.sample), mask);
      if (raw) {
        m['reward/process_mean'] = dp.active ? globalMaskedMean(raw, mask, dp.allReduceSum!).mean : maskedMean(raw, mask).item();
        m['reward/process_seq_mean'] = raw.sum(1).mean().item();
        const norm = normalizeProcessRewards(raw, mask, c.algorithm.process_reward_norm, dp.allReduceMax);
        m['reward/process_norm_scale'] = norm.scale;
        tokenRewards = norm.rewards;
      }
      if (useKl && c.algorithm.kl_mode === 'reward') {
        const penalty = klPenalty(oldLogp, refLogpKl!, mask, c.algorithm.kl_estimator).mul(-this.klCtrl.value);
        tokenRewards = tokenRewards ? tokenRewards.add(penalty) : penalty;
      }
      m['reward/outcome_mean'] = outcome.mean().item();
      m['time/score_prm'] = (performance.now() - t1) / 1000; // reference + PRM, update included
      this.onProgress({ phase: 'score', step: this.step, done: N, total: N, tokens: mask.sum().item() });

      // -- DAPO's overlong shaping of the outcome score (the PRM above learned from the unshaped one)
      let shaped = outcome;
      if (c.reward.overlong_buffer_len > 0) {
        const penalty = overlongPenalty(mask.sum(1), c.data.max_response_length, c.reward.overlong_buffer_len, c.reward.overlong_penalty_factor);
        m['reward/overlong_penalty_mean'] = penalty.mean().item();
        shaped = outcome.add(penalty);
      }

      // -- advantages
      const { advantages, metrics: am } = getAdvantageEstimator(c.algorithm.advantage)(
        { outcome: shaped, tokenRewards, mask, groupSize: K },
        {
          outcomeCoef: c.algorithm.outcome_coef, processCoef: c.algorithm.process_coef, gamma: c.algorithm.gamma, whiten: c.algorithm.whiten,
          processBaseline: c.algorithm.process_baseline,
          processReturn: c.algorithm.process_return, minTemperature: c.algorithm.min_form_temperature,
          ...(dp.allReduceSum ? { allReduceSum: dp.allReduceSum } : {}),
        });
      Object.assign(m, am);

      // -- PPO (trainer/policy.ts)
      const t3 = performance.now();
      Object.assign(m, updatePolicy(this, batch, oldLogp, advantages, refLogpKl, mask, K));
      m['time/policy_update'] = (performance.now() - t3) / 1000;
      // -- KL coefficient: the one this step used; the adaptive controller moves it for the next step
      //    from this batch's token-mean KL between the rollout policy and π_ref (over all ranks)
      if (useKl) {
        m['actor/kl_coef'] = this.klCtrl.value;
        if (c.algorithm.kl_ctrl === 'adaptive') {
          const k = klPenalty(oldLogp, refLogpKl!, mask, c.algorithm.kl_estimator);
          const kl = dp.allReduceSum ? globalMaskedMean(k, mask, dp.allReduceSum).mean : maskedMean(k, mask).item();
          m['actor/kl_rollout'] = kl;
          this.klCtrl.update(kl, N * dp.world);
        }
      }
      m['batch/sequences'] = N;
      m['batch/response_tokens'] = mask.sum().item();
    });
    m['time/rollout'] = (tRollout - t0) / 1000;
    m['time/step'] = (performance.now() - t0) / 1000;
    // the PRM probe measures, it does not train: timed apart (time/prm_probe), like validation
    if (c.prm.probe_every > 0 && this.probe && (this.step % c.prm.probe_every === 0 || this.step === c.trainer.total_steps)) {
      const t4 = performance.now();
      Object.assign(m, this.probeMetrics());
      m['time/prm_probe'] = (performance.now() - t4) / 1000;
    }
    Object.assign(m, stepPerfMetrics(this.policy.config, m, prompts, responses, c.actor.ppo_epochs)); // perf/mfu_train, perf/mfu_rollout
    if (dp.active) {
      m['dist/grad_allreduce_bytes'] = dp.gradBytes;
      m['dist/collectives'] = dp.collectives + 2; // with the two that reduce the metrics
      dp.reduceMetrics(m);
    }
    m['throughput/tokens_per_s'] = (m['batch/response_tokens'] ?? 0) / m['time/step'];
    for (const [k, v] of Object.entries(m)) if (!Number.isFinite(v) && /loss|grad_norm/.test(k)) throw new TrainingDivergedError(k, this.step, v);
    return m;
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
    if (this.validation && this.step === 0 && c.val_before_train) {
      const v = await this.validation.run(this, 0);
      this.metricsLog?.write(0, v);
      this.log(`validation before training: ${Object.entries(v).filter(([k]) => k.startsWith('val/')).map(([k, x]) => `${k} ${x.toFixed(3)}`).join(' | ')}`);
    }
    if (this.step >= c.total_steps) this.log(`already at step ${this.step}, trainer.total_steps=${c.total_steps}: nothing to train (raise trainer.total_steps to continue)`);
    while (this.step < c.total_steps) {
      const m = await this.trainStep();
      if (this.validation) Object.assign(m, await this.validation.maybeRun(this, this.step));
      this.metricsLog?.write(this.step, m);
      all.push(m);
      if (this.metricsLog && this.step % c.log_every === 0)
        this.log(this.metricsLog.progress(this.step, c.total_steps, m, [
          ['rollout/accuracy', 'acc'], ['filter/kept_fraction', 'kept'], ['prm/accuracy', 'prm_acc'], ['prm/heldout_auc', 'prm_auc'], ['prm/loss', 'prm_loss'],
          ['actor/pg_loss', 'pg'], ['actor/approx_kl', 'kl'], ['response/length_mean', 'len'],
        ]));
      await opts.onStep?.(this.step, m);
      if ((c.save_every > 0 && this.step % c.save_every === 0) || this.step === c.total_steps) this.save();
    }
    return all;
  }

  /** Writes an atomic checkpoint of everything a resumed run needs; returns its directory (trainer/state.ts). */
  save(): string {
    return saveCheckpoint(this);
  }

  /** Frees the models and optimizers, and leaves the data-parallel job (every rank calls it). */
  dispose(): void {
    disposePrmReplay(this.prmReplayBuffer);
    this.policy.dispose();
    this.prm.dispose();
    this.ref.dispose();
    this.policyOpt.dispose();
    this.prmOpt?.dispose();
    this.policyWeights.dispose();
    this.prmWeights?.dispose();
    if (this.#probeCache) {
      const { batch, refLogp } = this.#probeCache;
      for (const x of [batch.inputIds, batch.attentionMask, batch.responseMask, refLogp]) x.dispose();
      this.#probeCache = null;
    }
    this.parallel.dispose();
  }
}
