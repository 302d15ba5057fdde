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
 */
import fs from 'node:fs';
import path from 'node:path';
import * as torch from '../torch/index.js';
import { AdamW, type Tensor, tidy, keep, noGrad } from '../torch/index.js';
import { generate, logprobs, loadPretrained, savePretrained, packSequences, type CausalLM, type Tokenizer, type PackedBatch } from '../lm/index.js';
import type { PrimeConfig } from './config.js';
import { configToYaml } from './config.js';
import { loadPromptFiles, PromptDataset, type PromptRow, type DatasetState } from './data.js';
import { implicitProcessReward, prmCrossEntropyLoss } from './rewards.js';
import { getAdvantageEstimator } from './advantages.js';
import { ppoClipLoss, klPenalty } from './ppo.js';
import { maskedMean } from './masked.js';
import { filterByAccuracy, PromptBuffer, type Group } from './filter.js';
import { writeCheckpoint, latestCheckpoint } from './checkpoint.js';
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
  metricsLog!: MetricsLog;
  readonly verifier: Verifier;
  readonly log: (line: string) => void;
  #promptCache = new Map<string, number[]>();

  private constructor(cfg: PrimeConfig, opts: TrainerOptions) {
    this.cfg = cfg;
    this.verifier = opts.verifier ?? defaultVerifier(cfg);
    this.log = opts.log ?? ((l) => console.log(l));
  }

  /** Loads models and data; resumes from the latest checkpoint when `trainer.resume` is set. */
  static async create(cfg: PrimeConfig, opts: TrainerOptions = {}): Promise<PrimeTrainer> {
    const t = new PrimeTrainer(cfg, opts);
    if (cfg.trainer.threads > 0) torch.setNumThreads(cfg.trainer.threads);
    torch.manualSeed(cfg.trainer.seed);
    const ckRoot = path.join(cfg.trainer.output_dir, 'checkpoints');
    const resumeFrom = cfg.trainer.resume ? latestCheckpoint(ckRoot) : null;
    if (cfg.trainer.resume && !resumeFrom) t.log(`resume: no checkpoint under ${ckRoot}; starting fresh`);
    const dtype = cfg.model.dtype;
    const pol = loadPretrained(resumeFrom ? path.join(resumeFrom, 'policy') : cfg.model.path, { dtype });
    if (!pol.tokenizer) throw new Error(`${cfg.model.path}: no tokenizer.json; the trainer needs the model's tokenizer`);
    t.policy = pol.model;
    t.tokenizer = pol.tokenizer;
    t.stopTokenIds = pol.stopTokenIds;
    t.padId = pol.tokenizer.padTokenId ?? pol.generationConfig.padTokenId ?? pol.stopTokenIds[0] ?? 0;
    t.ref = loadPretrained(cfg.model.ref_path || cfg.model.path, { dtype, tokenizer: false }).model.eval();
    for (const p of t.ref.parameters()) p.requiresGrad = false;
    const prmDir = resumeFrom ? path.join(resumeFrom, 'prm') : cfg.model.prm_path || cfg.model.path;
    t.prm = loadPretrained(prmDir, { dtype, tokenizer: false }).model;
    if (cfg.algorithm.prm_update === 'none') for (const p of t.prm.parameters()) p.requiresGrad = false;

    const rows = await loadPromptFiles(cfg.data.train_files);
    t.dataset = new PromptDataset(rows, cfg.data.seed);
    t.droppedLongPrompts = t.dataset.dropWhere((r) => t.promptIds(r).length > cfg.data.max_prompt_length);
    if (t.dataset.size === 0) throw new Error(`no training prompts left: all ${rows.length} exceed data.max_prompt_length=${cfg.data.max_prompt_length}`);

    t.policyOpt = new AdamW(t.policy.parameters(), { lr: cfg.actor.lr, weightDecay: cfg.actor.weight_decay });
    if (cfg.algorithm.prm_update !== 'none' && cfg.algorithm.advantage === 'prime')
      t.prmOpt = new AdamW(t.prm.parameters(), { lr: cfg.prm.lr, weightDecay: cfg.prm.weight_decay });

    if (resumeFrom) t.#restore(resumeFrom, rows);
    t.metricsLog = new MetricsLog(cfg.trainer.output_dir, resumeFrom ? { resumeFromStep: t.step } : {});
    fs.writeFileSync(path.join(cfg.trainer.output_dir, 'config.yaml'), configToYaml(cfg));
    t.log(`prime: ${rows.length} prompts (${t.droppedLongPrompts} over ${cfg.data.max_prompt_length} tokens dropped), ` +
      `policy ${(t.policy.numParameters() / 1e6).toFixed(2)}M params, advantage '${cfg.algorithm.advantage}'` +
      (resumeFrom ? `, resumed at step ${t.step} from ${resumeFrom}` : ''));
    return t;
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
  /** Samples K responses for each row (micro-batched) and scores them with the verifier. */
  async rollout(rows: PromptRow[], opts: { greedy?: boolean; n?: number } = {}): Promise<Group<RolloutGroup>[]> {
    const c = this.cfg.rollout;
    const n = opts.n ?? c.n;
    const perCall = Math.max(1, Math.floor(c.micro_batch / n));
    const groups: Group<RolloutGroup>[] = [];
    for (let i = 0; i < rows.length; i += perCall) {
      const chunk = rows.slice(i, i + perCall);
      const samples = generate(this.policy, chunk.map((r) => this.promptIds(r)), {
        n, maxNewTokens: this.cfg.data.max_response_length, temperature: c.temperature, topP: c.top_p, topK: c.top_k,
        greedy: opts.greedy ?? false, stopTokenIds: this.stopTokenIds, stopStrings: c.stop, tokenizer: this.tokenizer, padTokenId: this.padId,
      });
      for (const [j, row] of chunk.entries()) {
        const mine = samples.slice(j * n, (j + 1) * n);
        const scores = await Promise.all(mine.map((s) => this.verifier(row, s.text).then((v) => v.score)));
        groups.push({
          scores,
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
   */
  async #collect(m: Metrics): Promise<Group<RolloutGroup>[]> {
    const c = this.cfg;
    const B = c.rollout.batch_prompts;
    let drawn = 0, kept = 0, correct = 0, total = 0, truncated = 0, lenSum = 0, lenMax = 0;
    for (let round = 0; round < c.rollout.max_rounds && this.buffer.size < B; round++) {
      const want = Math.ceil((B - this.buffer.size) * (c.filter.enable ? c.rollout.oversample : 1));
      const groups = await this.rollout(this.dataset.next(want));
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
    }
    Object.assign(m, {
      'rollout/accuracy': total ? correct / total : 0,
      'rollout/prompts_drawn': drawn,
      'filter/kept_fraction': drawn ? kept / drawn : 0,
      'response/length_mean': total ? lenSum / total : 0,
      'response/length_max': lenMax,
      'response/truncated_fraction': total ? truncated / total : 0,
      'buffer/size_before_take': this.buffer.size,
    });
    return this.buffer.take(B) ?? this.buffer.drain();
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
          Object.assign(m, this.#updatePrm(batch, refLogp, mask, outcome));
          if (c.algorithm.prm_update === 'before') prmLogp = this.#score(this.prm, batch, c.prm.micro_batch);
        }
        tokenRewards = implicitProcessReward(prmLogp, refLogp, mask, c.algorithm.beta, c.algorithm.granularity);
        m['reward/process_mean'] = maskedMean(tokenRewards, mask).item();
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
        { outcomeCoef: c.algorithm.outcome_coef, processCoef: c.algorithm.process_coef, gamma: c.algorithm.gamma, whiten: c.algorithm.whiten });
      Object.assign(m, am);

      // -- PPO
      const t2 = performance.now();
      Object.assign(m, this.#updatePolicy(batch, oldLogp, advantages, refLogp, mask));
      m['time/policy_update'] = (performance.now() - t2) / 1000;
      m['batch/sequences'] = N;
      m['batch/response_tokens'] = mask.sum().item();
      return m;
    });
    m['time/rollout'] = (tRollout - t0) / 1000;
    m['time/step'] = (performance.now() - t0) / 1000;
    m['throughput/tokens_per_s'] = (result['batch/response_tokens'] ?? 0) / m['time/step'];
    m['actor/lr'] = this.policyOpt.groups[0]!.lr;
    for (const [k, v] of Object.entries(m)) if (!Number.isFinite(v) && /loss|grad_norm/.test(k)) throw new TrainingDivergedError(k, this.step, v);
    return m;
  }

  /** One PRM epoch over the batch: mini-batches of actor.mini_batch, micro-batches of prm.micro_batch. */
  #updatePrm(batch: PackedBatch, refLogp: Tensor, mask: Tensor, outcome: Tensor): Metrics {
    const c = this.cfg;
    const N = batch.inputIds.size(0);
    const P = batch.responseStart, T = batch.inputIds.size(1) - P;
    const mini = Math.min(c.actor.mini_batch, N), micro = c.prm.micro_batch;
    let lossSum = 0, n = 0, gnSum = 0, steps = 0;
    this.prm.train();
    for (let s = 0; s < N; s += mini) {
      const mb = Math.min(mini, N - s);
      for (let i = s; i < s + mb; i += micro) {
        const cnt = Math.min(micro, s + mb - i);
        tidy(() => {
          const lp = logprobs(this.prm, batch.inputIds.narrow(0, i, cnt), {
            attentionMask: batch.attentionMask.narrow(0, i, cnt), responseMask: batch.responseMask.narrow(0, i, cnt), responseStart: P,
          }).logprobs.narrow(1, P, T);
          const { loss } = prmCrossEntropyLoss(lp, refLogp.narrow(0, i, cnt), mask.narrow(0, i, cnt), outcome.narrow(0, i, cnt), c.algorithm.beta);
          loss.mul(cnt / mb).backward(); // mean over the mini-batch's responses
          lossSum += loss.item() * cnt;
          n += cnt;
        });
      }
      const gn = torch.clipGradNorm(this.prm.parameters(), c.prm.grad_clip);
      if (!Number.isFinite(gn)) throw new TrainingDivergedError('PRM grad norm', this.step, gn);
      this.prmOpt!.step();
      this.prmOpt!.zeroGrad();
      gnSum += gn;
      steps++;
    }
    return { 'prm/loss': lossSum / Math.max(1, n), 'prm/grad_norm': gnSum / Math.max(1, steps) };
  }

  /** PPO epochs over shuffled mini-batches; token-mean loss over each mini-batch. */
  #updatePolicy(batch: PackedBatch, oldLogp: Tensor, advantages: Tensor, refLogp: Tensor, mask: Tensor): Metrics {
    const c = this.cfg;
    const N = batch.inputIds.size(0);
    const P = batch.responseStart, T = batch.inputIds.size(1) - P;
    const mini = Math.min(c.actor.mini_batch, N), micro = c.actor.micro_batch;
    const lr = c.actor.warmup_steps > 0 && this.step <= c.actor.warmup_steps ? (c.actor.lr * this.step) / c.actor.warmup_steps : c.actor.lr;
    this.policyOpt.setLr(lr);
    this.policy.train();
    const acc = { loss: 0, clip: 0, kl: 0, ent: 0, gn: 0, n: 0, steps: 0, klRef: 0 };
    for (let epoch = 0; epoch < c.actor.ppo_epochs; epoch++) {
      const order = keep(torch.randperm(N));
      for (let s = 0; s < N; s += mini) {
        const mb = Math.min(mini, N - s);
        const idxMini = order.narrow(0, s, mb);
        const miniTokens = Math.max(1, tidy(() => mask.indexSelect(0, idxMini).sum().item()));
        for (let i = 0; i < mb; i += micro) {
          const cnt = Math.min(micro, mb - i);
          tidy(() => {
            const idx = idxMini.narrow(0, i, cnt);
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
            // token-mean over the mini-batch: weight this micro-batch by its share of the tokens
            const share = mk.sum().item() / miniTokens;
            loss.mul(share).backward();
            const lv = loss.item();
            if (!Number.isFinite(lv)) throw new TrainingDivergedError('policy loss', this.step, lv);
            acc.loss += lv * share; acc.clip += pg.clipFraction * share; acc.kl += pg.approxKl * share;
            acc.ent += entropy.item() * share; acc.klRef += kl.item() * share;
          });
        }
        const gn = torch.clipGradNorm(this.policy.parameters(), c.actor.grad_clip);
        if (!Number.isFinite(gn)) throw new TrainingDivergedError('policy grad norm', this.step, gn);
        this.policyOpt.step();
        this.policyOpt.zeroGrad();
        acc.gn += gn;
        acc.steps++;
      }
      order.dispose();
    }
    const k = Math.max(1, acc.steps);
    return {
      'actor/pg_loss': acc.loss / k, 'actor/clip_fraction': acc.clip / k, 'actor/approx_kl': acc.kl / k,
      'actor/entropy': acc.ent / k, 'actor/kl_ref': acc.klRef / k, 'actor/grad_norm': acc.gn / k,
    };
  }

  // ------------------------------------------------------------------ the loop
  /** Trains until trainer.total_steps, checkpointing every save_every steps and at the end. */
  async train(opts: { onStep?: (step: number, m: Metrics) => void | Promise<void> } = {}): Promise<Metrics[]> {
    const c = this.cfg.trainer;
    const all: Metrics[] = [];
    while (this.step < c.total_steps) {
      const m = await this.trainStep();
      this.metricsLog.write(this.step, m);
      all.push(m);
      if (this.step % c.log_every === 0)
        this.log(this.metricsLog.progress(this.step, c.total_steps, m, [
          ['rollout/accuracy', 'acc'], ['filter/kept_fraction', 'kept'], ['prm/accuracy', 'prm_acc'], ['prm/loss', 'prm_loss'],
          ['reward/process_mean', 'r_proc'], ['actor/pg_loss', 'pg'], ['actor/approx_kl', 'kl'], ['response/length_mean', 'len'],
        ]));
      await opts.onStep?.(this.step, m);
      if ((c.save_every > 0 && this.step % c.save_every === 0) || this.step === c.total_steps) this.save();
    }
    return all;
  }

  /** Writes an atomic checkpoint of everything a resumed run needs. */
  save(): string {
    const root = path.join(this.cfg.trainer.output_dir, 'checkpoints');
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
      const state = { step: this.step, dataset: this.dataset.state(), buffer: this.buffer.toJSON(), droppedLongPrompts: this.droppedLongPrompts };
      fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(state));
      fs.writeFileSync(path.join(dir, 'config.yaml'), configToYaml(this.cfg));
    });
  }

  #restore(dir: string, rows: PromptRow[]): void {
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as {
      step: number; dataset: DatasetState; buffer: Group<RolloutGroup>[];
    };
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
    const rng = torch.loadSafetensors(path.join(dir, 'rng.safetensors'));
    torch.setRngState(rng.get('cpu')!);
    torch.dispose([...rng.values()]);
  }

  dispose(): void {
    this.policy.dispose();
    this.prm.dispose();
    this.ref.dispose();
    this.policyOpt.dispose();
    this.prmOpt?.dispose();
  }
}
