/**
 * PRIME vs outcome-only RLOO and GRPO from the same SFT start on the embedded task (issue #10):
 * the same steps × batch and the same number of generated samples per method, several seeds.
 * Per run: training-accuracy and held-out curves, the PRM's pairwise accuracy over steps (on the
 * batch it trains on, and on a fixed held-out probe), Best-of-4 by the PRM vs majority vote at the
 * end, and a per-phase step-time breakdown. Writes runs/replication/{report.md,report.svg} and
 * bench/results/replication.json.
 *
 *   node dist/bench/replication.js [--task carry|shortcut] [--steps 60] [--seeds 1,2,3,4,5]
 *       [--methods prime,rloo,grpo] [--eval-every 20] [--set key=value …] [--out runs/replication]
 *
 * A method is an advantage estimator, optionally with a label and overrides:
 * `prime-before@algorithm.prm_update=before@prm.lr=1e-4` (label prime-before, advantage prime).
 * `--set key=value` applies to every method. Runs are resumable: each finished run is a JSON file
 * under OUT/runs/, and several bench processes may share OUT (e.g. one per core).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as torch from '../src/torch/index.js';
import { generate, logprobs, packSequences } from '../src/lm/index.js';
import { DEMO_TASKS, writeDemoData, ensureSftStart, demoConfig } from '../src/prime/demo/run.js';
import { PrimeTrainer } from '../src/prime/trainer.js';
import { evaluateModel } from '../src/prime/evaluate.js';
import { defaultVerifier } from '../src/prime/verifier.js';
import { loadPromptFiles, type PromptRow } from '../src/prime/data.js';
import { parseArgs } from '../src/prime/config.js';
import { implicitOutcomeLogit } from '../src/prime/rewards.js';
import { lineChartsSvg, type Series } from '../src/prime/demo/plot.js';
import type { Metrics } from '../src/prime/metrics.js';

const argv = process.argv.slice(2);
const sets: string[] = [];
for (let i = 0; i < argv.length; i++) if (argv[i] === '--set') { sets.push(argv[i + 1]!); argv.splice(i, 2); i--; }
const { flags } = parseArgs(['bench', ...argv]);
const taskName = String(flags.task ?? 'carry');
const S = DEMO_TASKS[taskName];
if (!S) throw new Error(`--task: unknown task '${taskName}' (${Object.keys(DEMO_TASKS).join(' | ')})`);
const steps = Number(flags.steps ?? S.rlSteps);
const seeds = String(flags.seeds ?? '1,2,3,4,5').split(',').map(Number);
const methods = String(flags.methods ?? 'prime,rloo,grpo').split(',');
const evalEvery = Number(flags['eval-every'] ?? S.evalEvery);
const out = String(flags.out ?? 'runs/replication');
const analyzeOnly = flags.analyze === true || flags.analyze === 'true';
fs.mkdirSync(path.join(out, 'runs'), { recursive: true });

/** Nested overrides from `a.b=v` strings (numbers and booleans parsed). */
function overridesOf(kvs: string[]): Record<string, Record<string, unknown>> {
  const o: Record<string, Record<string, unknown>> = {};
  for (const kv of kvs) {
    const [k, v] = [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)];
    const [sec, key] = k.split('.') as [string, string];
    const val: unknown = v === 'true' ? true : v === 'false' ? false : v !== '' && !Number.isNaN(Number(v)) ? Number(v) : v;
    (o[sec] ??= {})[key] = val;
  }
  return o;
}
function merge(a: Record<string, Record<string, unknown>>, b: Record<string, Record<string, unknown>>) {
  const r = { ...a };
  for (const [k, v] of Object.entries(b)) r[k] = { ...(r[k] ?? {}), ...v };
  return r;
}

interface Run {
  method: string; advantage: string; seed: number; overrides: string[];
  trainAcc: number[]; heldOut: [number, number][]; prmPairwise: number[]; prmHeldout: [number, number][];
  bon4Prm: number | null; maj4: number | null; avg4: number | null; pass4: number | null;
  prompts: number; samples: number; seconds: number; phases: Record<string, number>;
}

const files = await writeDemoData(S);
const sftDir = await ensureSftStart(S, files);
const testRows = await loadPromptFiles([files.test]);
const K = 4;

/** Best-of-K by the implicit PRM's outcome score s = β Σ log π_φ/π_ref, majority vote, avg@K, pass@K. */
async function bestOfK(t: PrimeTrainer, rows: PromptRow[]) {
  const c = t.cfg;
  const verifier = defaultVerifier(c);
  let bon = 0, maj = 0, avg = 0, pass = 0;
  for (let i = 0; i < rows.length; i += 50) {
    const chunk = rows.slice(i, i + 50);
    const prompts = chunk.map((r) => t.promptIds(r));
    const samples = torch.noGrad(() => generate(t.policy, prompts, {
      n: K, maxNewTokens: c.data.max_response_length, temperature: c.rollout.temperature, stopTokenIds: t.stopTokenIds, tokenizer: t.tokenizer, padTokenId: t.padId,
    }));
    const results = await Promise.all(samples.map((s, k) => verifier(chunk[Math.floor(k / K)]!, s.text)));
    const s = torch.tidy(() => torch.noGrad(() => {
      const b = packSequences(samples.map((_, k) => prompts[Math.floor(k / K)]!), samples.map((x) => x.tokenIds), t.padId);
      const T = b.inputIds.size(1) - b.responseStart;
      const lp = (m: typeof t.prm) => logprobs(m, b.inputIds, { attentionMask: b.attentionMask, responseMask: b.responseMask, responseStart: b.responseStart }).logprobs.narrow(1, b.responseStart, T);
      return implicitOutcomeLogit(lp(t.prm), lp(t.ref), b.responseMask.narrow(1, b.responseStart, T), c.algorithm.beta).toFlatArray();
    }));
    for (let j = 0; j < chunk.length; j++) {
      const g = results.slice(j * K, (j + 1) * K), sc = s.slice(j * K, (j + 1) * K);
      bon += g[sc.indexOf(Math.max(...sc))]!.score;
      avg += g.reduce((a, r) => a + r.score, 0) / K;
      pass += Math.max(...g.map((r) => r.score));
      const votes = new Map<string, { n: number; score: number }>();
      let best = { n: 0, score: 0 };
      g.forEach((r, k) => { const key = r.extracted ?? `<none:${k}>`; const v = votes.get(key) ?? { n: 0, score: r.score }; v.n++; votes.set(key, v); if (v.n > best.n) best = v; });
      maj += best.score;
    }
  }
  const n = rows.length;
  return { bon4Prm: bon / n, maj4: maj / n, avg4: avg / n, pass4: pass / n };
}

const runFile = (label: string, seed: number) => path.join(out, 'runs', `${label}-s${seed}.json`);
if (!analyzeOnly)
  for (const seed of seeds) for (const spec of methods) {
    const [label, ...kvs] = spec.split('@') as [string, ...string[]];
    const all = [...sets, ...kvs];
    const over = overridesOf(all);
    const advantage = String(over.algorithm?.advantage ?? label.split('-')[0]);
    const f = runFile(label, seed);
    if (fs.existsSync(f) || fs.existsSync(f + '.lock')) continue; // done, or another process runs it
    fs.writeFileSync(f + '.lock', String(process.pid));
    try {
      const cfg = demoConfig(S, merge(merge({
        model: { path: sftDir }, data: { train_files: [files.train], seed },
        trainer: { output_dir: path.join(out, `${label}-s${seed}`), seed, total_steps: steps, save_every: 0, log_every: 5 },
      }, { algorithm: { advantage } }), over));
      const t0 = Date.now();
      const trainer = await PrimeTrainer.create(cfg, { log: (l) => console.log(`[${label} s${seed}] ${l}`) });
      const verifier = defaultVerifier(cfg);
      const heldOut: [number, number][] = [];
      const evalNow = async () => (await evaluateModel(trainer.policy, trainer.tokenizer, testRows, verifier, {
        samples: 1, greedy: true, maxNewTokens: cfg.data.max_response_length, stopTokenIds: trainer.stopTokenIds, padTokenId: trainer.padId, batch: 50,
      })).avgAtK;
      heldOut.push([0, await evalNow()]);
      const prmHeldout: [number, number][] = [];
      if (advantage === 'prime' && trainer.probe) prmHeldout.push([0, trainer.probeMetrics()['prm/heldout_pairwise']!]);
      let evalSeconds = 0;
      const ms: Metrics[] = await trainer.train({
        onStep: async (step, m) => {
          if (m['prm/heldout_pairwise'] !== undefined) prmHeldout.push([step, m['prm/heldout_pairwise']]);
          if (step % evalEvery === 0 || step === steps) {
            const e0 = Date.now();
            heldOut.push([step, await evalNow()]);
            evalSeconds += (Date.now() - e0) / 1000;
            console.log(`[${label} s${seed}] step ${step}: held-out greedy ${(100 * heldOut.at(-1)![1]).toFixed(1)}%`);
          }
        },
      });
      const bo = advantage === 'prime' ? await bestOfK(trainer, testRows) : { bon4Prm: null, maj4: null, avg4: null, pass4: null };
      trainer.dispose();
      const phases: Record<string, number> = {};
      for (const k of ['time/rollout', 'time/score_ref', 'time/prm', 'time/score_prm', 'time/policy_update', 'time/prm_probe', 'time/step'])
        phases[k] = ms.reduce((a, m) => a + (m[k] ?? 0), 0) / ms.length;
      const run: Run = {
        method: label, advantage, seed, overrides: all,
        trainAcc: ms.map((m) => m['rollout/accuracy']!), heldOut, prmPairwise: ms.map((m) => m['prm/accuracy'] ?? NaN), prmHeldout, ...bo,
        prompts: ms.reduce((a, m) => a + (m['rollout/prompts_drawn'] ?? 0), 0), samples: ms.reduce((a, m) => a + (m['rollout/prompts_drawn'] ?? 0) * cfg.rollout.n, 0),
        seconds: (Date.now() - t0) / 1000 - evalSeconds, phases,
      };
      fs.writeFileSync(f, JSON.stringify(run));
    } finally {
      fs.rmSync(f + '.lock', { force: true });
    }
  }

// ---------------------------------------------------------------------------- analysis
const runs: Run[] = fs.readdirSync(path.join(out, 'runs')).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(fs.readFileSync(path.join(out, 'runs', f), 'utf8')) as Run)
  .filter((r) => r.trainAcc.length === steps);
const labels = [...new Set(runs.map((r) => r.method))].sort();
const smooth = (xs: number[], w = 5) => xs.map((_, i) => { const s = xs.slice(Math.max(0, i - w + 1), i + 1); return s.reduce((a, b) => a + b, 0) / s.length; });
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const sd = (xs: number[]) => { const m = mean(xs); return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1)); };
const pct = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '—' : `${(100 * x).toFixed(1)}`);
const by = (m: string) => runs.filter((r) => r.method === m);
const rlooFinal = by('rloo').length ? mean(by('rloo').map((r) => smooth(r.trainAcc).at(-1)!)) : NaN;
const stepsToReach = (r: Run) => { const i = smooth(r.trainAcc).findIndex((a) => a >= rlooFinal); return i < 0 ? null : i + 1; };
const lines: string[] = [];
lines.push(`# Replication: PRIME vs RLOO vs GRPO on the embedded task '${taskName}'\n`);
lines.push(`Same SFT start (${sftDir}, held-out greedy ${pct(runs[0]?.heldOut[0]?.[1])}%), ${steps} steps; per step ${JSON.stringify((S.rl as { rollout: unknown }).rollout)}; seeds ${[...new Set(runs.map((r) => r.seed))].sort().join(', ')}; held-out: ${testRows.length} problems, greedy. Common overrides: ${sets.join(' ') || 'none'}.\n`);
lines.push(`Target for "steps to reach": RLOO's final training accuracy (5-step moving average, mean over seeds) = ${pct(rlooFinal)}%. Accuracies in %.\n`);
lines.push('| method | runs | held-out final (mean ± sd) | per seed | train acc final | steps to reach RLOO final (mean; per seed) | PRM pairwise: batch, last 10 steps / held-out probe, end | Best-of-4 by PRM / maj@4 / avg@4 / pass@4 | samples | s/run (train only) |');
lines.push('|---|---|---|---|---|---|---|---|---|---|');
for (const m of labels) {
  const rs = by(m);
  const fin = rs.map((r) => r.heldOut.at(-1)![1]);
  const reach = rs.map(stepsToReach);
  const reachMean = reach.every((x) => x !== null) ? mean(reach as number[]).toFixed(1) : '—';
  const prmB = mean(rs.map((r) => mean(r.prmPairwise.slice(-10))));
  const prmH = rs.map((r) => r.prmHeldout.at(-1)?.[1]).filter((x): x is number => x !== undefined);
  const bo = rs[0]!.bon4Prm !== null ? `${pct(mean(rs.map((r) => r.bon4Prm!)))} / ${pct(mean(rs.map((r) => r.maj4!)))} / ${pct(mean(rs.map((r) => r.avg4!)))} / ${pct(mean(rs.map((r) => r.pass4!)))}` : '—';
  lines.push(`| ${m} | ${rs.length} | ${pct(mean(fin))} ± ${pct(sd(fin))} | ${fin.map(pct).join(', ')} | ${pct(mean(rs.map((r) => smooth(r.trainAcc).at(-1)!)))} | ${reachMean}; ${reach.map((x) => x ?? '—').join(', ')} | ${Number.isFinite(prmB) ? prmB.toFixed(3) : '—'} / ${prmH.length ? mean(prmH).toFixed(3) : '—'} | ${bo} | ${mean(rs.map((r) => r.samples)).toFixed(0)} | ${mean(rs.map((r) => r.seconds)).toFixed(0)} |`);
}
lines.push('\nMean seconds per step by phase (rollout includes grading; score_prm = reference + PRM forward and update):\n');
lines.push('| method | rollout | reference | PRM (update + rewards) | policy update | probe | step | PRM share of the step |');
lines.push('|---|---|---|---|---|---|---|---|');
for (const m of labels) {
  const ph = (k: string) => mean(by(m).map((r) => r.phases[k] ?? 0));
  const share = ph('time/prm') / Math.max(1e-9, ph('time/step') - ph('time/prm')); // time/step leaves the probe out
  lines.push(`| ${m} | ${ph('time/rollout').toFixed(2)} | ${ph('time/score_ref').toFixed(2)} | ${ph('time/prm').toFixed(2)} | ${ph('time/policy_update').toFixed(2)} | ${ph('time/prm_probe').toFixed(2)} | ${ph('time/step').toFixed(2)} | ${ph('time/prm') > 0 ? `+${(100 * share).toFixed(0)}%` : '—'} |`);
}
const report = lines.join('\n') + '\n\n![curves](report.svg)\n';
fs.writeFileSync(path.join(out, 'report.md'), report);
const meanCurve = (m: string, f: (r: Run) => [number, number][]): Series => {
  const rs = by(m);
  const xs = f(rs[0]!).map(([x]) => x);
  return { name: m, points: xs.map((x, i) => [x, mean(rs.map((r) => f(r)[i]?.[1] ?? NaN))]) };
};
if (labels.length)
  fs.writeFileSync(path.join(out, 'report.svg'), lineChartsSvg([
    { title: 'Training accuracy (5-step avg, mean of seeds)', series: labels.map((m) => meanCurve(m, (r) => smooth(r.trainAcc).map((a, i) => [i + 1, a]))) },
    { title: 'Held-out greedy accuracy (mean of seeds)', series: labels.map((m) => meanCurve(m, (r) => r.heldOut)) },
    { title: 'PRM pairwise accuracy on its batch (5-step avg)', series: labels.filter((m) => by(m)[0]!.advantage === 'prime').map((m) => meanCurve(m, (r) => smooth(r.prmPairwise).map((a, i) => [i + 1, a]))) },
    { title: 'PRM pairwise accuracy, held-out probe', series: labels.filter((m) => by(m)[0]!.prmHeldout.length).map((m) => meanCurve(m, (r) => r.prmHeldout)) },
  ], { title: `PRIME vs RLOO vs GRPO ('${taskName}')` }));
const json = {
  target_train_acc: rlooFinal, task: taskName, steps,
  runs: runs.map((r) => ({
    method: r.method, seed: r.seed, overrides: r.overrides, steps_to_target: stepsToReach(r), heldout_final: r.heldOut.at(-1)![1], train_acc_final: smooth(r.trainAcc).at(-1)!,
    prm_pairwise_final: r.prmHeldout.at(-1)?.[1] ?? null, bon4_prm: r.bon4Prm, maj4: r.maj4, seconds: r.seconds,
  })),
};
if (flags['results-json'] !== 'false') {
  fs.mkdirSync('bench/results', { recursive: true });
  fs.writeFileSync(String(flags['results-json'] ?? 'bench/results/replication.json'), JSON.stringify(json, null, 1));
}
console.log(report);
