/**
 * The embedded default (`make demo`, `prime demo`): on one CPU, in about 15 minutes,
 *   1. generate the multi-step arithmetic task (train / held-out test, no overlap),
 *   2. build a small Qwen2-architecture model and its tokenizer, train it by SFT on worked
 *      solutions (reused when already present),
 *   3. evaluate it greedily on the held-out split,
 *   4. run PRIME RL from it (implicit PRM initialised from the same SFT checkpoint),
 *   5. evaluate again, and write a Markdown report and an SVG plot.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadPretrained } from '../../lm/index.js';
import { configFromObject, type PrimeConfig } from '../config.js';
import { writePromptRowsJsonl, loadPromptFiles, type PromptRow } from '../data.js';
import { PrimeTrainer } from '../trainer.js';
import { runSft } from '../sft.js';
import { evaluateModel, type EvalResult } from '../evaluate.js';
import { defaultVerifier } from '../verifier.js';
import { readMetrics } from '../metrics.js';
import { generateSplits, parseStepLine, problemToRow, type ArithmeticOptions } from './arithmetic.js';
import { createRandomModel, type ModelShape } from './model.js';
import { lineChartsSvg } from './plot.js';

export interface DemoSettings {
  dir: string;
  seed: number;
  task: ArithmeticOptions;
  nTrain: number;
  nTest: number;
  model: ModelShape;
  sft: { lr: number; epochs: number; batchSize: number };
  rl: Record<string, unknown>;
  rlSteps: number;
  evalEvery: number;
  /** data.max_response_length of SFT and RL. */
  maxResponseLength: number;
}

/**
 * The embedded default, `carry`: 4–6 single-digit operands, worked step by step, with SFT
 * demonstrations that drop the carry at 60% of the addition steps that need one. Chosen because
 * (a) the SFT start makes that step-level mistake, greedy too; (b) RL can remove it (the prompts
 * and the verifier reward the true answer); (c) a response has 3–5 steps and the outcome alone
 * does not say which failed — the case dense process rewards exist for. An implicit PRM trained on
 * its own samples ranks held-out samples well above chance here (pairwise ≈ 0.7 offline, issue #10),
 * unlike on `shortcut`, whose errors are random slips.
 */
export const DEMO: DemoSettings = {
  dir: 'runs/demo',
  seed: 2026,
  task: { minOperands: 4, maxOperands: 6, maxOperand: 9, multiply: false, shortcutFraction: 0, carryDropFraction: 0.6 },
  nTrain: 20000,
  nTest: 300,
  model: { hiddenSize: 128, intermediateSize: 384, numLayers: 4, numHeads: 4, numKvHeads: 2, maxPositionEmbeddings: 256 },
  sft: { lr: 2e-3, epochs: 1, batchSize: 32 },
  rlSteps: 60,
  evalEvery: 20,
  maxResponseLength: 96,
  // PRIME's reference settings (β 0.05, update 'after', batch_norm, paper's RLOO baselines) with the
  // learning rates a 0.8M model wants: PRM lr 5e-4 (at 5e-5 the PRM barely moved in 60 steps and its
  // normalized noise cost 16 points held-out; see README, "PRIME on the embedded task").
  rl: {
    rollout: { n: 4, batch_prompts: 16, micro_batch: 64, oversample: 2, temperature: 0.7 },
    algorithm: { advantage: 'prime', beta: 0.05, prm_update: 'after', kl_coef: 0.05, kl_estimator: 'k3', kl_mode: 'loss' },
    actor: { lr: 3e-5, mini_batch: 32, micro_batch: 32, warmup_steps: 0 },
    prm: { lr: 5e-4, micro_batch: 32, mini_batch: 32, probe_every: 10, probe_prompts: 64 },
  },
};

/**
 * The first embedded task, kept as `prime demo --task shortcut`: 3–4 single-digit operands; half
 * the SFT demonstrations skip the working. RL mostly teaches the style switch to writing the
 * working, which outcome rewards alone teach; its errors are random slips a PRM cannot foresee.
 */
export const DEMO_SHORTCUT: DemoSettings = {
  ...DEMO,
  dir: 'runs/demo-shortcut',
  task: { minOperands: 3, maxOperands: 4, maxOperand: 9, multiply: false, shortcutFraction: 0.5 },
  nTest: 200,
  maxResponseLength: 64,
  // Tuned on this machine (first session): rollouts at temperature 0.7 rather than the paper's 1.0
  // (a 0.8M model's worked arithmetic falls apart when sampled at 1.0), a learning rate of 1.5% of
  // the SFT peak, and a k3 KL penalty that keeps the arithmetic intact while the style changes.
  rl: {
    rollout: { n: 4, batch_prompts: 16, micro_batch: 64, oversample: 2, temperature: 0.7 },
    algorithm: { advantage: 'prime', beta: 0.05, prm_update: 'after', kl_coef: 0.05, kl_estimator: 'k3', kl_mode: 'loss' },
    actor: { lr: 3e-5, mini_batch: 32, micro_batch: 32, warmup_steps: 0 },
    prm: { lr: 5e-5, micro_batch: 32, mini_batch: 32, probe_every: 10, probe_prompts: 64 },
  },
};

/**
 * `carry-long` (`prime demo --task carry-long`, `bench/replication.ts --task carry-long`): `carry`
 * with 6–9 operands, i.e. 5–8 worked steps (issue #10's suggested chain length), so that an outcome
 * label says even less about which step failed. Same demonstrations' carry drop rate, model and RL
 * settings; responses up to 128 tokens.
 */
export const DEMO_LONG: DemoSettings = {
  ...DEMO,
  dir: 'runs/demo-long',
  task: { ...DEMO.task, minOperands: 6, maxOperands: 9 },
  maxResponseLength: 128,
};

export const DEMO_TASKS: Record<string, DemoSettings> = { carry: DEMO, shortcut: DEMO_SHORTCUT, 'carry-long': DEMO_LONG };

const QUICK: Partial<DemoSettings> = { nTrain: 2000, nTest: 40, rlSteps: 4, evalEvery: 2, sft: { lr: 2e-3, epochs: 0.5, batchSize: 32 } };

/** Writes the task's data files; returns their paths. */
export async function writeDemoData(s: DemoSettings): Promise<{ train: string; test: string }> {
  const dataDir = path.join(s.dir, 'data');
  const { train, test } = generateSplits(s.seed, s.nTrain, s.nTest, s.task);
  const files = { train: path.join(dataDir, 'train.jsonl'), test: path.join(dataDir, 'test.jsonl') };
  await writePromptRowsJsonl(files.train, train.map((p, i) => problemToRow(p, i, 'train')));
  await writePromptRowsJsonl(files.test, test.map((p, i) => problemToRow(p, i, 'test')));
  return files;
}

export function demoConfig(s: DemoSettings, over: Record<string, unknown>): PrimeConfig {
  const rl = s.rl as Record<string, Record<string, unknown>>;
  const base: Record<string, Record<string, unknown>> = {
    data: { max_prompt_length: 96, max_response_length: s.maxResponseLength, seed: s.seed },
    rollout: { ...rl.rollout },
    algorithm: { ...rl.algorithm },
    actor: { ...rl.actor },
    prm: { ...rl.prm },
    trainer: { total_steps: s.rlSteps, save_every: 0, seed: s.seed, log_every: 1 },
  };
  for (const [k, v] of Object.entries(over)) base[k] = { ...(base[k] ?? {}), ...(v as Record<string, unknown>) };
  return configFromObject(base as never);
}

async function evalOn(dir: string, rows: PromptRow[], cfg: PrimeConfig): Promise<EvalResult> {
  const p = loadPretrained(dir);
  try {
    return await evaluateModel(p.model, p.tokenizer!, rows, defaultVerifier(cfg), {
      samples: 1, greedy: true, maxNewTokens: cfg.data.max_response_length, stopTokenIds: p.stopTokenIds, padTokenId: p.tokenizer!.padTokenId ?? 0, batch: 50, keepSamples: true,
    });
  } finally {
    p.model.dispose();
  }
}

/** Trains (or reuses) the SFT start; returns its directory. */
export async function ensureSftStart(s: DemoSettings, files: { train: string }, log = console.log): Promise<string> {
  const sftDir = path.join(s.dir, 'sft');
  const stampFile = path.join(sftDir, 'demo-stamp.json');
  const stamp = JSON.stringify({ seed: s.seed, task: s.task, nTrain: s.nTrain, model: s.model, sft: s.sft });
  if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) {
    log(`demo: reusing the SFT start in ${sftDir}`);
    return sftDir;
  }
  const initDir = path.join(s.dir, 'init');
  const n = createRandomModel(initDir, s.model, s.seed);
  log(`demo: training the SFT start from scratch (${(n / 1e6).toFixed(2)}M parameters)`);
  await runSft(demoConfig(s, {
    model: { path: initDir }, data: { train_files: [files.train], max_prompt_length: 96, max_response_length: s.maxResponseLength, seed: s.seed },
    sft: { lr: s.sft.lr, epochs: s.sft.epochs, batch_size: s.sft.batchSize, micro_batch: s.sft.batchSize, warmup_steps: 20, output_dir: sftDir },
    trainer: { log_every: 25, seed: s.seed },
  }), log);
  fs.writeFileSync(stampFile, stamp);
  return sftDir;
}

export interface DemoResult {
  before: EvalResult;
  after: EvalResult;
  /** Held-out accuracy of the outcome-only RLOO run from the same start (same steps and batch). */
  rloo: EvalResult | null;
  /** Held-out accuracy of PRIME with PRM replay and the RPO term (DEMO_PRM_REPLAY), when run. */
  replay: EvalResult | null;
}

/**
 * The demo's third run: PRIME with the PRM options that make the online implicit PRM rank its
 * policy's current samples on the embedded task (README, "Why the online PRM ranked backwards"):
 * one more pass over each of the last 4 steps' batches (prm.replay_steps) and the NLL of the correct
 * responses in its loss (prm.rpo_alpha), at PRM lr 1e-4. Not PRIME's reference settings.
 */
export const DEMO_PRM_REPLAY = { prm: { replay_steps: 4, rpo_alpha: 1, lr: 1e-4 } };

/**
 * Runs the demo: data, SFT start (reused when present), PRIME, PRIME with PRM replay
 * (DEMO_PRM_REPLAY; unless `withReplay` is false), outcome-only RLOO from the same start for
 * comparison (unless `withRloo` is false), held-out evaluations, report.
 */
export async function runDemo(opts: { quick?: boolean; task?: string; withRloo?: boolean; withReplay?: boolean; log?: (s: string) => void } = {}): Promise<DemoResult> {
  const log = opts.log ?? console.log;
  const base = DEMO_TASKS[opts.task ?? 'carry'];
  if (!base) throw new Error(`prime demo: unknown task '${opts.task}' (${Object.keys(DEMO_TASKS).join(' | ')})`);
  const s: DemoSettings = { ...base, ...(opts.quick ? { ...QUICK, dir: `${base.dir}-quick` } : {}) };
  const t0 = Date.now();
  const files = await writeDemoData(s);
  log(`demo: ${s.nTrain} training and ${s.nTest} held-out problems in ${path.join(s.dir, 'data')}`);
  const sftDir = await ensureSftStart(s, files, log);
  const testRows = await loadPromptFiles([files.test]);
  const before = await evalOn(sftDir, testRows, demoConfig(s, { model: { path: sftDir }, data: { train_files: [files.train] } }));
  log(`demo: SFT start, greedy accuracy on held-out: ${(100 * before.avgAtK).toFixed(1)}%`);

  const rl = async (label: 'prime' | 'prime-replay' | 'rloo', over: Record<string, unknown> = {}) => {
    const advantage = label === 'rloo' ? 'rloo' : 'prime';
    const out = path.join(s.dir, label);
    const cfg = demoConfig(s, { model: { path: sftDir }, data: { train_files: [files.train] }, algorithm: { advantage }, trainer: { output_dir: out }, ...over }); // over: other sections (prm)
    fs.rmSync(out, { recursive: true, force: true }); // the demo's own run directory: each demo starts its runs fresh
    const r0 = Date.now();
    const trainer = await PrimeTrainer.create(cfg, { log: (l) => log(`[${label}] ${l}`) });
    const heldOut: [number, number][] = [[0, before.avgAtK]];
    const probe0 = trainer.probeMetrics();
    await trainer.train({
      onStep: async (step) => {
        if (step % s.evalEvery === 0 && step < s.rlSteps) {
          const r = await evaluateModel(trainer.policy, trainer.tokenizer, testRows, defaultVerifier(cfg), {
            samples: 1, greedy: true, maxNewTokens: cfg.data.max_response_length, stopTokenIds: trainer.stopTokenIds, padTokenId: trainer.padId, batch: 50,
          });
          heldOut.push([step, r.avgAtK]);
          log(`demo [${label}]: step ${step}, held-out greedy accuracy ${(100 * r.avgAtK).toFixed(1)}%`);
        }
      },
    });
    trainer.dispose();
    const finalDir = path.join(out, 'checkpoints', fs.readFileSync(path.join(out, 'checkpoints', 'latest'), 'utf8').trim(), 'policy');
    const result = await evalOn(finalDir, testRows, cfg);
    heldOut.push([s.rlSteps, result.avgAtK]);
    log(`demo [${label}]: after ${s.rlSteps} steps, greedy accuracy on held-out: ${(100 * result.avgAtK).toFixed(1)}% (was ${(100 * before.avgAtK).toFixed(1)}%), ${((Date.now() - r0) / 60000).toFixed(1)} min`);
    return { result, heldOut, metrics: readMetrics(path.join(out, 'metrics.jsonl')), probe0, seconds: (Date.now() - r0) / 1000 };
  };
  const prime = await rl('prime');
  const replay = opts.withReplay === false ? null : await rl('prime-replay', DEMO_PRM_REPLAY);
  const rloo = opts.withRloo === false ? null : await rl('rloo');
  const minutes = (Date.now() - t0) / 60000;
  writeReport(s, before, prime, replay, rloo, minutes);
  const b = (100 * before.avgAtK).toFixed(1);
  log(`demo: PRIME ${b}% → ${(100 * prime.result.avgAtK).toFixed(1)}%` +
    (replay ? `, PRIME + PRM replay ${b}% → ${(100 * replay.result.avgAtK).toFixed(1)}%` : '') +
    (rloo ? `, RLOO ${b}% → ${(100 * rloo.result.avgAtK).toFixed(1)}%` : '') + ` held-out greedy; ${minutes.toFixed(1)} min in all`);
  log(`demo: report in ${path.join(s.dir, 'report.md')} and ${path.join(s.dir, 'report.svg')}`);
  return { before, after: prime.result, rloo: rloo?.result ?? null, replay: replay?.result ?? null };
}

/** Share of responses that write out the working, and the accuracy with and without it. */
export function styleBreakdown(r: EvalResult): { worked: number; accWorked: number; accShortcut: number } {
  const ss = r.samples ?? [];
  const w = ss.filter((x) => !x.text.trimStart().startsWith('\\boxed')), sh = ss.filter((x) => x.text.trimStart().startsWith('\\boxed'));
  const acc = (xs: typeof ss) => (xs.length ? xs.reduce((a, x) => a + x.score, 0) / xs.length : NaN);
  return { worked: ss.length ? w.length / ss.length : NaN, accWorked: acc(w), accShortcut: acc(sh) };
}

/**
 * The step-level mistake of the `carry` task, counted in responses: among written steps `a+b=r`
 * whose units column carries (a ≥ 0, (a mod 10) + (b mod 10) ≥ 10), the share with r = a + b;
 * and among the other steps, the share written right.
 */
export function carryBreakdown(r: EvalResult): { carrySteps: number; carryRight: number; otherSteps: number; otherRight: number } {
  let carrySteps = 0, carryRight = 0, otherSteps = 0, otherRight = 0;
  for (const x of r.samples ?? [])
    for (const line of x.text.split('\n')) {
      const st = parseStepLine(line);
      if (!st) continue;
      if (st.op === '+' && st.a >= 0 && (st.a % 10) + (st.b % 10) >= 10) {
        carrySteps++;
        if (st.result === st.right) carryRight++;
      } else {
        otherSteps++;
        if (st.result === st.right) otherRight++;
      }
    }
  return { carrySteps, carryRight: carrySteps ? carryRight / carrySteps : NaN, otherSteps, otherRight: otherSteps ? otherRight / otherSteps : NaN };
}

type RlRun = { result: EvalResult; heldOut: [number, number][]; metrics: ReturnType<typeof readMetrics>; probe0: Record<string, number>; seconds: number };

function writeReport(s: DemoSettings, before: EvalResult, prime: RlRun, replay: RlRun | null, rloo: RlRun | null, minutes: number): void {
  const ser = (ms: RlRun['metrics'], k: string, w = 1) => {
    const pts = ms.filter((m) => m[k] !== undefined).map((m) => [m.step, m[k]!] as [number, number]);
    return pts.map(([x], i) => { const win = pts.slice(Math.max(0, i - w + 1), i + 1); return [x, win.reduce((a, [, y]) => a + y, 0) / win.length] as [number, number]; });
  };
  /** The probe's pairwise accuracy over mixed groups (its groups with different outcomes) from step 0. */
  const probeCurve = (r: RlRun): [number, number][] => [
    ...(r.probe0['prm/heldout_pairwise_mixed'] !== undefined ? [[0, r.probe0['prm/heldout_pairwise_mixed']] as [number, number]] : []),
    ...ser(r.metrics, 'prm/heldout_pairwise_mixed'),
  ];
  const runs: [string, RlRun][] = [['PRIME', prime], ...(replay ? [['PRIME + PRM replay', replay] as [string, RlRun]] : []), ...(rloo ? [['RLOO', rloo] as [string, RlRun]] : [])];
  const prms: [string, RlRun][] = runs.filter(([n]) => n !== 'RLOO');
  const svg = lineChartsSvg([
    { title: 'Training accuracy (sampled, 5-step avg)', series: runs.map(([name, r]) => ({ name, points: ser(r.metrics, 'rollout/accuracy', 5) })) },
    { title: 'Held-out accuracy (greedy)', series: runs.map(([name, r]) => ({ name, points: r.heldOut })) },
    { title: 'PRM pairwise on its batch (5-step avg)', series: prms.map(([name, r]) => ({ name, points: ser(r.metrics, 'prm/accuracy', 5) })) },
    { title: 'PRM pairwise, held-out probe (mixed groups)', series: prms.map(([name, r]) => ({ name, points: probeCurve(r) })) },
  ], { title: `PRIME${replay ? ', PRIME + PRM replay' : ''}${rloo ? ' and RLOO' : ''} on the embedded '${s.task.carryDropFraction ? 'carry' : 'shortcut'}' task` });
  fs.writeFileSync(path.join(s.dir, 'report.svg'), svg);
  const pct = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '—');
  const f3 = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x.toFixed(3) : '—');
  const cb = carryBreakdown(before);
  const sb = styleBreakdown(before), sa = styleBreakdown(prime.result);
  const last = (ms: RlRun['metrics'], k: string, n = 10) => { const xs = ms.map((m) => m[k]).filter((x): x is number => x !== undefined).slice(-n); return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN; };
  const first = (ms: RlRun['metrics'], k: string, n = 10) => { const xs = ms.map((m) => m[k]).filter((x): x is number => x !== undefined).slice(0, n); return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN; };
  const cols = (f: (r: RlRun) => string) => runs.map(([, r]) => f(r)).join(' | ');
  const md = `# PRIME demo report

| held-out greedy accuracy (${before.prompts} problems) | ${runs.map(([n]) => (n === 'RLOO' ? 'RLOO (outcome only)' : n)).join(' | ')} |
|---|${runs.map(() => '---|').join('')}
| SFT start | ${cols(() => pct(before.avgAtK))} |
| after ${s.rlSteps} steps | ${cols((r) => `**${pct(r.result.avgAtK)}**`)} |
| training accuracy, first → last 10 steps (sampled) | ${cols((r) => `${pct(first(r.metrics, 'rollout/accuracy'))} → ${pct(last(r.metrics, 'rollout/accuracy'))}`)} |
| run time | ${cols((r) => `${(r.seconds / 60).toFixed(1)} min`)} |

PRIME runs with PRIME's reference settings; "PRIME + PRM replay" adds ${JSON.stringify(DEMO_PRM_REPLAY.prm)} (README: "Why the online PRM ranked backwards").

The implicit PRM (pairwise accuracy: share of a prompt's correct/wrong response pairs it orders right; 0.5 = chance):

| | ${prms.map(([n]) => `${n}: start | end`).join(' | ')} |
|---|${prms.map(() => '---|---|').join('')}
| on the batch it is trained on (before each mini-batch's update; mean of first / last 10 steps) | ${prms.map(([, r]) => `${f3(first(r.metrics, 'prm/accuracy'))} | ${f3(last(r.metrics, 'prm/accuracy'))}`).join(' | ')} |
| on a fixed held-out probe of labelled samples of the SFT start, groups with different outcomes | ${prms.map(([, r]) => `${f3(r.probe0['prm/heldout_pairwise_mixed'])} | ${f3(last(r.metrics, 'prm/heldout_pairwise_mixed', 1))}`).join(' | ')} |
| the same, all groups (an all-equal group counts 0.5) / AUC | ${prms.map(([, r]) => `${f3(r.probe0['prm/heldout_pairwise'])} / ${f3(r.probe0['prm/heldout_auc'])} | ${f3(last(r.metrics, 'prm/heldout_pairwise', 1))} / ${f3(last(r.metrics, 'prm/heldout_auc', 1))}`).join(' | ')} |
| its loss on its batch (log 2 = 0.693 = chance for the cross-entropy) | ${prms.map(([, r]) => `${f3(first(r.metrics, 'prm/loss'))} | ${f3(last(r.metrics, 'prm/loss'))}`).join(' | ')} |

${s.task.carryDropFraction ? `Steps that need a carry, written right in the greedy held-out answers: SFT ${pct(cb.carryRight)} (${cb.carrySteps} steps) → ${runs.map(([n, r]) => `${n} ${pct(carryBreakdown(r.result).carryRight)}`).join(', ')}; other steps: ${pct(cb.otherRight)} → ${runs.map(([n, r]) => `${n} ${pct(carryBreakdown(r.result).otherRight)}`).join(', ')}.` :
    `Greedy answers that write out the working: ${pct(sb.worked)} → ${pct(sa.worked)} (accuracy with working ${pct(sb.accWorked)} → ${pct(sa.accWorked)}).`}

Task: ${s.task.minOperands}–${s.task.maxOperands} operands in [1, ${s.task.maxOperand}], +/−, worked step by step, answer in \\boxed{}; ${s.task.carryDropFraction ? `${pct(s.task.carryDropFraction)} of the demonstrations' addition steps that need a carry drop it` : `${pct(s.task.shortcutFraction ?? 0)} of the SFT demonstrations give the answer without the working`}.
Model: Qwen2 architecture, hidden ${s.model.hiddenSize}, ${s.model.numLayers} layers, char tokenizer; SFT ${s.sft.epochs} epoch(s) of ${s.nTrain} problems.
RL settings: ${JSON.stringify(s.rl)}. Wall time ${minutes.toFixed(1)} min in all.

![curves](report.svg)

| step | PRIME train acc | kept | PRM pairwise (batch) | PRM held-out pairwise (mixed) | PRM loss | pg loss | response len |${replay ? ' PRIME + replay: train acc | PRM pairwise (batch) |' : ''}${rloo ? ' RLOO train acc |' : ''}
|---|---|---|---|---|---|---|---|${replay ? '---|---|' : ''}${rloo ? '---|' : ''}
${prime.metrics.filter((m, i) => i % Math.max(1, Math.floor(prime.metrics.length / 12)) === 0 || i === prime.metrics.length - 1).map((m) => {
    const at = (r: RlRun | null) => r?.metrics.find((x) => x.step === m.step);
    return `| ${m.step} | ${m['rollout/accuracy']?.toFixed(3)} | ${m['filter/kept_fraction']?.toFixed(2)} | ${m['prm/accuracy']?.toFixed(2)} | ${m['prm/heldout_pairwise_mixed']?.toFixed(3) ?? ''} | ${m['prm/loss']?.toFixed(3)} | ${m['actor/pg_loss']?.toFixed(3)} | ${m['response/length_mean']?.toFixed(1)} |` +
      `${replay ? ` ${at(replay)?.['rollout/accuracy']?.toFixed(3) ?? ''} | ${at(replay)?.['prm/accuracy']?.toFixed(2) ?? ''} |` : ''}${rloo ? ` ${at(rloo)?.['rollout/accuracy']?.toFixed(3) ?? ''} |` : ''}`;
  }).join('\n')}
`;
  fs.writeFileSync(path.join(s.dir, 'report.md'), md);
}
