/**
 * PRIME vs outcome-only RLOO (and GRPO) from the same SFT start, same steps × batch, several
 * seeds: training accuracy and held-out accuracy against steps, the steps each needs to reach
 * the RLOO runs' final training accuracy (the paper: PRIME needs 40% of RLOO's steps), and the
 * final held-out accuracies with their spread. Writes runs/replication/{report.md,report.svg}.
 *
 *   node dist/bench/replication.js [--steps 60] [--seeds 1,2,3] [--methods prime,rloo,grpo] [--eval-every 20]
 *
 * A method is an advantage estimator, optionally with `:min` for PURE's min-form process return
 * (algorithm.process_return=min), e.g. `--methods prime,prime:min`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DEMO, writeDemoData, ensureSftStart, demoConfig } from '../src/prime/demo/run.js';
import { PrimeTrainer } from '../src/prime/trainer.js';
import { evaluateModel } from '../src/prime/evaluate.js';
import { defaultVerifier } from '../src/prime/verifier.js';
import { loadPromptFiles } from '../src/prime/data.js';
import { parseArgs } from '../src/prime/config.js';
import { lineChartsSvg, type Series } from '../src/prime/demo/plot.js';

const { flags } = parseArgs(['bench', ...process.argv.slice(2)]);
const steps = Number(flags.steps ?? DEMO.rlSteps);
const seeds = String(flags.seeds ?? '1,2,3').split(',').map(Number);
const methods = String(flags.methods ?? 'prime,rloo,grpo').split(',');
const evalEvery = Number(flags['eval-every'] ?? DEMO.evalEvery);
const out = 'runs/replication';
fs.mkdirSync(out, { recursive: true });

const files = await writeDemoData(DEMO);
const sftDir = await ensureSftStart(DEMO, files);
const testRows = await loadPromptFiles([files.test]);

interface Run { method: string; seed: number; trainAcc: number[]; heldOut: [number, number][]; prompts: number; seconds: number }
const runs: Run[] = [];
const resultsFile = path.join(out, 'runs.json');
const previous: Run[] = fs.existsSync(resultsFile) ? JSON.parse(fs.readFileSync(resultsFile, 'utf8')) : [];

for (const seed of seeds) for (const method of methods) {
  const done = previous.find((r) => r.method === method && r.seed === seed && r.trainAcc.length === steps);
  if (done) { runs.push(done); continue; } // resumable: finished runs are kept
  const cfg = demoConfig(DEMO, {
    model: { path: sftDir }, data: { train_files: [files.train], seed },
    algorithm: { advantage: method.split(':')[0], ...(method.includes(':') ? { process_return: method.split(':')[1] } : {}) }, trainer: { output_dir: path.join(out, `${method}-s${seed}`), seed, total_steps: steps, save_every: 0 },
  });
  const t0 = Date.now();
  const trainer = await PrimeTrainer.create(cfg, { log: (l) => console.log(`[${method} s${seed}] ${l}`) });
  const verifier = defaultVerifier(cfg);
  const heldOut: [number, number][] = [];
  const evalNow = async () => (await evaluateModel(trainer.policy, trainer.tokenizer, testRows, verifier, {
    samples: 1, greedy: true, maxNewTokens: cfg.data.max_response_length, stopTokenIds: trainer.stopTokenIds, padTokenId: trainer.padId, batch: 50,
  })).avgAtK;
  heldOut.push([0, await evalNow()]);
  let prompts = 0;
  const ms = await trainer.train({
    onStep: async (step, m) => {
      prompts += m['rollout/prompts_drawn'] ?? 0;
      if (step % evalEvery === 0 || step === steps) heldOut.push([step, await evalNow()]);
    },
  });
  trainer.dispose();
  runs.push({ method, seed, trainAcc: ms.map((m) => m['rollout/accuracy']!), heldOut, prompts, seconds: (Date.now() - t0) / 1000 });
  fs.writeFileSync(resultsFile, JSON.stringify([...previous.filter((r) => !(r.method === method && r.seed === seed)), runs[runs.length - 1]]));
}

// ---- analysis
const smooth = (xs: number[], w = 5) => xs.map((_, i) => { const s = xs.slice(Math.max(0, i - w + 1), i + 1); return s.reduce((a, b) => a + b, 0) / s.length; });
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const sd = (xs: number[]) => { const m = mean(xs); return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1)); };
const by = (m: string) => runs.filter((r) => r.method === m);
const rlooFinal = by('rloo').length ? mean(by('rloo').map((r) => smooth(r.trainAcc).at(-1)!)) : NaN;
const stepsToReach = (r: Run) => { const i = smooth(r.trainAcc).findIndex((a) => a >= rlooFinal); return i < 0 ? null : i + 1; };
const lines: string[] = [];
lines.push(`# Replication: PRIME vs RLOO vs GRPO on the embedded task\n`);
lines.push(`Same SFT start (${sftDir}), ${steps} steps × ${JSON.stringify((DEMO.rl as { rollout: unknown }).rollout)} per step, seeds ${seeds.join(', ')}; held-out: ${testRows.length} problems, greedy.\n`);
lines.push(`Target for "steps to reach": the RLOO runs' final training accuracy (5-step moving average, mean over seeds) = ${(100 * rlooFinal).toFixed(1)}%.\n`);
lines.push('| method | final held-out acc (mean ± sd) | per seed | final train acc (smoothed) | steps to reach RLOO final (per seed) | prompts drawn | s/run |');
lines.push('|---|---|---|---|---|---|---|');
for (const m of methods) {
  const rs = by(m);
  const fin = rs.map((r) => r.heldOut.at(-1)![1]);
  lines.push(`| ${m} | ${(100 * mean(fin)).toFixed(1)} ± ${(100 * sd(fin)).toFixed(1)}% | ${fin.map((x) => (100 * x).toFixed(1)).join(', ')} | ${(100 * mean(rs.map((r) => smooth(r.trainAcc).at(-1)!))).toFixed(1)}% | ${rs.map((r) => stepsToReach(r) ?? '—').join(', ')} | ${mean(rs.map((r) => r.prompts)).toFixed(0)} | ${mean(rs.map((r) => r.seconds)).toFixed(0)} |`);
}
const report = lines.join('\n') + '\n\n![curves](report.svg)\n';
fs.writeFileSync(path.join(out, 'report.md'), report);
const meanCurve = (m: string, f: (r: Run) => [number, number][]): Series => {
  const rs = by(m);
  const xs = f(rs[0]!).map(([x]) => x);
  return { name: m, points: xs.map((x, i) => [x, mean(rs.map((r) => f(r)[i]?.[1] ?? NaN))]) };
};
fs.writeFileSync(path.join(out, 'report.svg'), lineChartsSvg([
  { title: 'Training accuracy (5-step avg, mean of seeds)', series: methods.map((m) => meanCurve(m, (r) => smooth(r.trainAcc).map((a, i) => [i + 1, a]))) },
  { title: 'Held-out greedy accuracy (mean of seeds)', series: methods.map((m) => meanCurve(m, (r) => r.heldOut)) },
], { title: 'PRIME vs RLOO vs GRPO' }));
console.log(report);
