/**
 * Offline fit of an implicit PRM (`prime prm-train`), as "Free Process Rewards without Process
 * Labels" (Yuan et al., 2024, §3–4) trains its PRMs: sample K responses per prompt from a policy,
 * label each with the verifier, then minimize the cross-entropy of the outcome logit
 *
 *   s = β · Σ_t log(π_φ(y_t | x, y_<t) / π_ref(y_t | x, y_<t)),   L = BCE(σ(s), o)
 *
 * over the labelled responses (rewards.ts prmCrossEntropyLoss), E epochs of AdamW in shuffled
 * mini-batches. π_ref is frozen, so its log-probs are computed once. After every epoch (and
 * before the first) the PRM is measured on held-out prompts — within-prompt pairwise accuracy
 * (PRIME's PRM accuracy) and ROC AUC — and on a probe of its own training prompts. The result is a
 * checkpoint in HF layout that `model.prm_path` warm-starts PRIME from.
 *
 * Shapes: G prompts, K samples each, N = G·K responses (group-major), T response tokens.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as torch from '../torch/index.js';
import { AdamW, noGrad, tidy } from '../torch/index.js';
import { loadPretrained, logprobs, packSequences, savePretrained, type CausalLM, type Pretrained, type Tokenizer } from '../lm/index.js';
import type { PrimeConfig } from './config.js';
import { loadPromptFiles, seededPermutation, type PromptRow } from './data.js';
import { evaluateModel } from './evaluate.js';
import { defaultVerifier, type Verifier } from './verifier.js';
import { prmLoss, type PrmLoss } from './rewards.js';
import { scoreImplicitPrm, wholeResponseSplitter } from './implicit_prm.js';
import { prmPairwiseAccuracy, prmSignAccuracy, rocAuc } from './prm_metrics.js';
import { assertReplaceableModelDir } from './checkpoint.js';

/** Responses labelled by the verifier: responses[g·K + k] answers prompts[g]. */
export interface LabelledRollouts {
  K: number;
  /** (G) prompt token ids (chat template with the generation prompt). */
  prompts: number[][];
  /** (N) generated token ids (the stop token kept, as in rollouts). */
  responses: number[][];
  /** (N) outcome scores in [0, 1]. */
  outcomes: number[];
}

export interface SampleOptions {
  /** K, samples per prompt. */
  samples: number;
  maxNewTokens: number;
  temperature?: number;
  topP?: number;
  /** Top-k sampling; 0 = off (default). */
  topK?: number;
  /** Prompts per generate call. Default 16. */
  batch?: number;
  stopTokenIds: number[];
  padTokenId: number;
}

/** Samples K responses per row with `policy` and labels them with `verifier` (no gradients). */
export async function sampleLabelledRollouts(policy: CausalLM, tokenizer: Tokenizer, rows: PromptRow[], verifier: Verifier, o: SampleOptions): Promise<LabelledRollouts> {
  const ev = await evaluateModel(policy, tokenizer, rows, verifier, {
    samples: o.samples, greedy: false, maxNewTokens: o.maxNewTokens, temperature: o.temperature ?? 1, topP: o.topP ?? 1, topK: o.topK ?? 0,
    batch: o.batch ?? 16, keepSamples: true, stopTokenIds: o.stopTokenIds, padTokenId: o.padTokenId,
  });
  const kept = ev.samples!;
  return {
    K: o.samples,
    prompts: rows.map((r) => tokenizer.encodeChat(r.messages, { addGenerationPrompt: true })),
    responses: kept.map((s) => s.tokenIds),
    outcomes: kept.map((s) => s.score),
  };
}

function checkRollouts(d: LabelledRollouts, what: string): void {
  if (!(Number.isInteger(d.K) && d.K >= 1)) throw new RangeError(`${what}: K must be a positive integer, got ${d.K}`);
  if (d.responses.length !== d.prompts.length * d.K) throw new RangeError(`${what}: ${d.responses.length} responses for ${d.prompts.length} prompts × K=${d.K}`);
  if (d.outcomes.length !== d.responses.length) throw new RangeError(`${what}: ${d.outcomes.length} outcomes for ${d.responses.length} responses`);
  d.outcomes.forEach((o, i) => {
    if (!(o >= 0 && o <= 1)) throw new RangeError(`${what}: outcome ${i} is ${o}, outside [0, 1]`);
  });
}

/**
 * Prompts for an offline fit that later runs will not be measured on: the rows `excluded` does not
 * mark (e.g. the PRM probes PRIME runs hold out, the evaluation set), in a seeded order (stream 7 of
 * `seed`); the first `heldout` are the fit's held-out prompts, the next `prompts` its training
 * prompts (fewer when the rows run out). Throws when no training prompt is left.
 */
export function chooseFitPrompts(rows: readonly PromptRow[], excluded: (r: PromptRow) => boolean, prompts: number, heldout: number, seed: number): { train: PromptRow[]; heldout: PromptRow[] } {
  if (!(Number.isInteger(prompts) && prompts >= 1 && Number.isInteger(heldout) && heldout >= 0)) throw new RangeError(`chooseFitPrompts: prompts must be a positive integer and heldout ≥ 0, got ${prompts}, ${heldout}`);
  const eligible = rows.filter((r) => !excluded(r));
  const order = seededPermutation(eligible.length, seed, 7).map((i) => eligible[i]!);
  const out = { heldout: order.slice(0, heldout), train: order.slice(heldout, heldout + prompts) };
  if (!out.train.length) throw new Error(`chooseFitPrompts: no training prompt left (${rows.length} rows, ${rows.length - eligible.length} excluded, ${heldout} held out)`);
  return out;
}

/** The first `groups` prompt groups of a labelled set. */
export function takeGroups(d: LabelledRollouts, groups: number): LabelledRollouts {
  const g = Math.min(groups, d.prompts.length);
  return { K: d.K, prompts: d.prompts.slice(0, g), responses: d.responses.slice(0, g * d.K), outcomes: d.outcomes.slice(0, g * d.K) };
}

export interface PrmRanking {
  /** Within-prompt pairwise accuracy (prm_metrics.ts; 0.5 = chance). */
  pairwise: number;
  /** The same over groups whose outcomes differ only (prmPairwiseAccuracy's mixedOnly). */
  pairwiseMixed: number;
  /** ROC AUC over all responses (NaN when every label is equal). */
  auc: number;
  /** sign(s) = label. */
  signAccuracy: number;
  /** Mean BCE of σ(s) against the outcomes (log 2 when π_φ = π_ref). */
  loss: number;
}

/** How well the implicit PRM's outcome logits s rank a labelled set (no gradients). */
export function evaluateImplicitPrm(prm: CausalLM, ref: CausalLM, d: LabelledRollouts, o: { beta: number; padTokenId: number; microBatch?: number }): PrmRanking {
  checkRollouts(d, 'evaluateImplicitPrm');
  const s = scoreImplicitPrm(prm, ref, d.responses.map((_, i) => d.prompts[Math.floor(i / d.K)]!), d.responses, {
    beta: o.beta, padTokenId: o.padTokenId, microBatch: o.microBatch ?? 8, splitter: wholeResponseSplitter,
  }).map((x) => x.aggregates.sum);
  // BCE with logits, stable form: max(s,0) − s·o + log(1 + e^{−|s|})
  const loss = s.reduce((a, x, i) => a + Math.max(x, 0) - x * d.outcomes[i]! + Math.log1p(Math.exp(-Math.abs(x))), 0) / Math.max(1, s.length);
  return { pairwise: prmPairwiseAccuracy(s, d.outcomes, d.K), pairwiseMixed: prmPairwiseAccuracy(s, d.outcomes, d.K, { mixedOnly: true }), auc: rocAuc(s, d.outcomes), signAccuracy: prmSignAccuracy(s, d.outcomes), loss };
}

export interface PrmFitOptions {
  /** β of the implicit reward (PRIME reference: 0.05). */
  beta: number;
  lr: number;
  weightDecay?: number;
  /** Gradient-norm clip. Default 10 (PRIME reference's PRM). */
  gradClip?: number;
  epochs: number;
  /** Responses per optimizer step. */
  miniBatch: number;
  /** Responses per forward/backward. */
  microBatch: number;
  /** Seeds each epoch's shuffle. */
  seed: number;
  padTokenId: number;
  /** Training prompt groups scored after each epoch (the fit's own data). Default 64; 0 = none. */
  trainProbeGroups?: number;
  /**
   * 'ce' (default; the paper's cross-entropy) or 'dpo' (rewards.ts prmPairwiseDpoLoss within each
   * prompt's K samples: then whole groups are shuffled, and miniBatch and microBatch must be multiples of K).
   */
  loss?: PrmLoss;
  /** Weight of the NLL of the correct samples added to the loss (rewards.ts correctResponseNll; `prm.rpo_alpha`); default 0. */
  rpoAlpha?: number;
  log?: (s: string) => void;
}

export interface PrmFitEpoch {
  /** 0 = before training. */
  epoch: number;
  /** Mean CE over the epoch's mini-batches (NaN for epoch 0). */
  trainLoss: number;
  /** On the probe of training prompts; null without one. */
  train: PrmRanking | null;
  /** On the held-out set; null without one. */
  heldout: PrmRanking | null;
  seconds: number;
}

/**
 * Fits `prm` in place on `train` (its reference log-probs from `ref`, computed once) by the CE
 * loss; measures it on `heldout` and on a probe of `train` before and after every epoch. The loss of
 * a mini-batch is the mean over its responses (micro-batches weighted by their share).
 */
export function fitImplicitPrm(prm: CausalLM, ref: CausalLM, train: LabelledRollouts, heldout: LabelledRollouts | null, o: PrmFitOptions): PrmFitEpoch[] {
  checkRollouts(train, 'fitImplicitPrm (train)');
  if (heldout) checkRollouts(heldout, 'fitImplicitPrm (held-out)');
  if (prm === ref) throw new Error('fitImplicitPrm: the PRM and the reference must be separate models (the reference stays frozen)');
  if (!(o.lr > 0) || !(o.beta > 0)) throw new RangeError(`fitImplicitPrm: lr and beta must be > 0, got lr=${o.lr}, beta=${o.beta}`);
  for (const [k, v] of [['epochs', o.epochs], ['miniBatch', o.miniBatch], ['microBatch', o.microBatch]] as const)
    if (!(Number.isInteger(v) && v >= 1)) throw new RangeError(`fitImplicitPrm: ${k} must be a positive integer, got ${v}`);
  const log = o.log ?? (() => {});
  const N = train.responses.length;
  const loss = o.loss ?? 'ce';
  if (loss === 'dpo' && (o.miniBatch % train.K !== 0 || o.microBatch % train.K !== 0))
    throw new RangeError(`fitImplicitPrm: the 'dpo' loss needs miniBatch (${o.miniBatch}) and microBatch (${o.microBatch}) to be multiples of K=${train.K}`);
  const promptOf = (i: number) => train.prompts[Math.floor(i / train.K)]!;
  const probe = (o.trainProbeGroups ?? 64) > 0 ? takeGroups(train, o.trainProbeGroups ?? 64) : null;
  const measure = (): Pick<PrmFitEpoch, 'train' | 'heldout'> => {
    const ev = { beta: o.beta, padTokenId: o.padTokenId, microBatch: o.microBatch };
    return { train: probe ? evaluateImplicitPrm(prm, ref, probe, ev) : null, heldout: heldout ? evaluateImplicitPrm(prm, ref, heldout, ev) : null };
  };

  // π_ref's log-probs of every training response, once: (N) arrays of response length
  const refLp: Float32Array[] = [];
  for (let i = 0; i < N; i += o.microBatch) {
    const idx = Array.from({ length: Math.min(o.microBatch, N - i) }, (_, j) => i + j);
    const rows = noGrad(() => tidy(() => {
      const b = packSequences(idx.map(promptOf), idx.map((j) => train.responses[j]!), o.padTokenId);
      const P = b.responseStart, T = b.inputIds.size(1) - P;
      const lp = logprobs(ref, b.inputIds, { attentionMask: b.attentionMask, responseMask: b.responseMask, responseStart: P }).logprobs.narrow(1, P, T);
      return { flat: Float32Array.from(lp.toFlatArray()), T };
    }));
    idx.forEach((j, r) => refLp.push(rows.flat.slice(r * rows.T, r * rows.T + train.responses[j]!.length)));
  }

  const history: PrmFitEpoch[] = [];
  const t0 = performance.now();
  const report = (e: PrmFitEpoch) => {
    const f = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '—' : x.toFixed(3));
    log(`prm-fit epoch ${e.epoch}/${o.epochs} | train ${loss === 'ce' ? 'CE' : 'DPO loss'} ${f(e.trainLoss)} | train pairwise ${f(e.train?.pairwise)} AUC ${f(e.train?.auc)} | held-out pairwise ${f(e.heldout?.pairwise)} (mixed groups ${f(e.heldout?.pairwiseMixed)}) AUC ${f(e.heldout?.auc)} sign ${f(e.heldout?.signAccuracy)} CE ${f(e.heldout?.loss)} | ${e.seconds.toFixed(1)} s`);
  };
  const e0: PrmFitEpoch = { epoch: 0, trainLoss: NaN, ...measure(), seconds: (performance.now() - t0) / 1000 };
  history.push(e0);
  report(e0);

  const opt = new AdamW(prm.parameters(), { lr: o.lr, weightDecay: o.weightDecay ?? 0 });
  try {
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      const order = loss === 'dpo'
        ? seededPermutation(N / train.K, o.seed, epoch).flatMap((g) => Array.from({ length: train.K }, (_, k) => g * train.K + k)) // whole groups
        : seededPermutation(N, o.seed, epoch);
      let lossSum = 0, steps = 0;
      prm.train();
      for (let s = 0; s < N; s += o.miniBatch) {
        const mb = order.slice(s, s + o.miniBatch);
        let stepLoss = 0;
        for (let i = 0; i < mb.length; i += o.microBatch) {
          const idx = mb.slice(i, i + o.microBatch);
          stepLoss += tidy(() => {
            const b = packSequences(idx.map(promptOf), idx.map((j) => train.responses[j]!), o.padTokenId);
            const P = b.responseStart, T = b.inputIds.size(1) - P;
            const lp = logprobs(prm, b.inputIds, { attentionMask: b.attentionMask, responseMask: b.responseMask, responseStart: P }).logprobs.narrow(1, P, T); // (n, T)
            const refRows = new Float32Array(idx.length * T);
            idx.forEach((j, r) => refRows.set(refLp[j]!, r * T));
            const refT = torch.tensor(refRows, { shape: [idx.length, T] }).to(lp.dtype);
            const outcome = torch.tensor(Float32Array.from(idx.map((j) => train.outcomes[j]!)));
            const part = prmLoss(loss, lp, refT, b.responseMask.narrow(1, P, T), outcome, o.beta, train.K, o.rpoAlpha ?? 0).mul(idx.length / mb.length); // the mini-batch's mean over responses
            part.backward();
            return part.item();
          });
        }
        const gn = torch.clipGradNorm(prm.parameters(), o.gradClip ?? 10);
        if (!Number.isFinite(gn) || !Number.isFinite(stepLoss)) throw new Error(`prm-fit: non-finite ${Number.isFinite(stepLoss) ? 'gradient norm' : 'loss'} in epoch ${epoch}, step ${steps + 1}`);
        opt.step();
        opt.zeroGrad();
        lossSum += stepLoss;
        steps++;
      }
      prm.eval();
      const e: PrmFitEpoch = { epoch, trainLoss: lossSum / Math.max(1, steps), ...measure(), seconds: (performance.now() - t0) / 1000 };
      history.push(e);
      report(e);
    }
  } finally {
    opt.dispose();
    prm.eval();
  }
  return history;
}

export interface PrmFitResult {
  outputDir: string;
  trainSamples: number;
  heldoutSamples: number;
  /** Share of correct samples in the training set. */
  trainAccuracy: number;
  history: PrmFitEpoch[];
}

/**
 * `prime prm-train CONFIG.yaml [key=value …]`: loads the policy (model.path), the PRM
 * (model.prm_path, default model.path) and the reference (model.ref_path, default model.path);
 * samples rollout.n responses per prompt (prm_fit.prompts from data.train_files, and
 * prm_fit.heldout_prompts held out), fits, and writes the PRM (HF layout, tokenizer included) and
 * `prm-fit.json` (settings and per-epoch metrics) to prm_fit.output_dir, atomically. `opts.verifier`
 * replaces the default (prime-ts/verify by each row's ability / data_source).
 */
export async function runPrmFit(cfg: PrimeConfig, log: (s: string) => void = console.log, opts: { verifier?: Verifier } = {}): Promise<PrmFitResult> {
  const f = cfg.prm_fit;
  if (cfg.trainer.threads > 0) torch.setNumThreads(cfg.trainer.threads);
  torch.manualSeed(cfg.trainer.seed);
  assertReplaceableModelDir(f.output_dir, 'prm_fit.output_dir', [cfg.model.path, cfg.model.prm_path, cfg.model.ref_path]);
  const loaded = new Map<string, Pretrained>();
  const load = (dir: string) => {
    const key = path.resolve(dir);
    let p = loaded.get(key);
    if (!p) loaded.set(key, (p = loadPretrained(dir, { dtype: cfg.model.dtype })));
    return p;
  };
  let prm: Pretrained | null = null;
  try {
    const pol = load(cfg.model.path);
    const tok = pol.tokenizer;
    if (!tok) throw new Error(`${cfg.model.path}: no tokenizer.json`);
    const ref = load(cfg.model.ref_path || cfg.model.path);
    ref.model.eval();
    for (const p of ref.model.parameters()) p.requiresGrad = false;
    prm = loadPretrained(cfg.model.prm_path || cfg.model.path, { dtype: cfg.model.dtype }); // always its own copy: it is trained
    if (prm.model.config.vocabSize !== ref.model.config.vocabSize) throw new Error(`prm-train: the PRM (${cfg.model.prm_path || cfg.model.path}) and the reference have different vocabularies`);
    const pad = tok.padTokenId ?? pol.stopTokenIds[0] ?? 0;
    const fits = (r: PromptRow) => tok.encodeChat(r.messages, { addGenerationPrompt: true }).length <= cfg.data.max_prompt_length;
    const all = (await loadPromptFiles(cfg.data.train_files)).filter(fits);
    let trainRows: PromptRow[], heldRows: PromptRow[];
    if (cfg.data.val_files.length) {
      trainRows = all;
      const val = (await loadPromptFiles(cfg.data.val_files)).filter(fits);
      heldRows = f.heldout_prompts > 0 ? val.slice(0, f.heldout_prompts) : [];
    } else {
      const order = seededPermutation(all.length, cfg.data.seed, 0).map((i) => all[i]!);
      heldRows = order.slice(0, f.heldout_prompts);
      trainRows = order.slice(f.heldout_prompts);
    }
    if (f.prompts > 0) trainRows = trainRows.slice(0, f.prompts);
    if (!trainRows.length) throw new Error(`prm-train: no training prompts left (data.train_files has ${all.length} that fit data.max_prompt_length, prm_fit.heldout_prompts=${f.heldout_prompts})`);
    const verifier = opts.verifier ?? defaultVerifier(cfg);
    const so: SampleOptions = {
      samples: cfg.rollout.n, maxNewTokens: cfg.data.max_response_length, temperature: cfg.rollout.temperature, topP: cfg.rollout.top_p, topK: cfg.rollout.top_k,
      batch: Math.max(1, Math.floor(cfg.rollout.micro_batch / cfg.rollout.n)), stopTokenIds: pol.stopTokenIds, padTokenId: pad,
    };
    const t0 = performance.now();
    const train = await sampleLabelledRollouts(pol.model, tok, trainRows, verifier, so);
    const heldout = heldRows.length ? await sampleLabelledRollouts(pol.model, tok, heldRows, verifier, so) : null;
    const acc = train.outcomes.reduce((a, b) => a + b, 0) / train.outcomes.length;
    log(`prm-train: ${train.responses.length} training samples (${trainRows.length} prompts × ${cfg.rollout.n}, ${(100 * acc).toFixed(1)}% correct), ${heldout?.responses.length ?? 0} held-out, sampled in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    const history = fitImplicitPrm(prm.model, ref.model, train, heldout, {
      beta: cfg.algorithm.beta, lr: cfg.prm.lr, weightDecay: cfg.prm.weight_decay, gradClip: cfg.prm.grad_clip, epochs: f.epochs,
      miniBatch: f.mini_batch, microBatch: cfg.prm.micro_batch, seed: cfg.trainer.seed, padTokenId: pad, loss: cfg.prm.loss, rpoAlpha: cfg.prm.rpo_alpha, log,
    });
    const out = f.output_dir.replace(/\/$/, '');
    const tmp = `${out}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    savePretrained(tmp, prm.model, { tokenizer: tok });
    fs.writeFileSync(path.join(tmp, 'prm-fit.json'), JSON.stringify({
      policy: cfg.model.path, prm_init: cfg.model.prm_path || cfg.model.path, ref: cfg.model.ref_path || cfg.model.path,
      beta: cfg.algorithm.beta, lr: cfg.prm.lr, samples_per_prompt: cfg.rollout.n, temperature: cfg.rollout.temperature,
      train_prompts: trainRows.length, heldout_prompts: heldRows.length, train_accuracy: acc, prm_fit: f, history,
    }, null, 2));
    fs.rmSync(out, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
    fs.renameSync(tmp, out);
    log(`prm-train: PRM written to ${out} (use model.prm_path=${out} to warm-start PRIME; its reference is ${cfg.model.ref_path || cfg.model.path})`);
    return { outputDir: out, trainSamples: train.responses.length, heldoutSamples: heldout?.responses.length ?? 0, trainAccuracy: acc, history };
  } finally {
    prm?.model.dispose();
    for (const p of loaded.values()) p.model.dispose();
  }
}
