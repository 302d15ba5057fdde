/**
 * PRIME vs outcome-only RLOO and GRPO from the same SFT start on the embedded task (issue #10):
 * the same steps × batch and the same number of generated samples per method, several seeds.
 * Per run: training-accuracy and held-out curves, the PRM's pairwise accuracy over steps (on the
 * batch it trains on, and on a fixed held-out probe), Best-of-4 by the PRM vs majority vote at the
 * end, and a per-phase step-time breakdown. Writes runs/replication/{report.md,report.svg} and
 * bench/results/replication.json.
 *
 *   node dist/bench/replication.js [--task carry|shortcut|carry-long] [--steps 60] [--seeds 1,2,3,4,5]
 *       [--methods prime,rloo,grpo] [--eval-every 20] [--set key=value …] [--out runs/replication]
 *
 * A method is an advantage estimator, optionally with a label and overrides:
 * `prime-before@algorithm.prm_update=before@prm.lr=1e-4` (label prime-before, advantage prime).
 * `--set key=value` applies to every method. The report covers every finished run under OUT; given
 * `--seeds` / `--methods` (e.g. with `--analyze true`, which only reports), only those seeds / labels
 * (RLOO's runs among them set the steps-to-reach target). Runs are resumable: each finished run is a JSON file
 * under OUT/runs/, and several bench processes may share OUT (e.g. one per core).
 *
 * PRM warm start: the value `model.prm_path=:warm` (e.g. `prime-warm@model.prm_path=:warm`) starts
 * the PRM from an offline fit (prm_fit.ts: CE loss on labelled samples of the SFT start, "Free
 * Process Rewards without Process Labels" §3) made once and cached in OUT/prm-warm (rebuilt when
 * the SFT start or a `--warm-*` setting changes; `--warm-only` builds it and exits):
 *   --warm-prompts 1000  training prompts (never the test file; never a prompt that a run with
 *                        data.seed 1–20 holds out as its PRM probe, so prm/heldout_* stay held out)
 *   --warm-heldout 100   further training prompts the fit is measured on (pairwise / AUC per epoch)
 *   --warm-epochs 2  --warm-lr 1e-4  --warm-samples 4  --warm-temperature 1  --warm-mini-batch 32
 *   --warm-loss ce|dpo   the fit's loss (prm.loss's two; default ce, the paper's)
 *   --warm-name prm-warm the cache's folder under OUT (one per set of warm settings; give the
 *                        method a label that names the variant)
 * Its settings, per-epoch figures and seconds are in OUT/prm-warm/prm-fit.json and the report.
 *
 * Oracle: a label starting `oracle` (e.g. `oracle`, `oracle-min@algorithm.process_return=min`) runs
 * PRIME's advantage with a perfect process verifier's rewards in place of the implicit PRM's
 * (demo/arithmetic.ts's firstWrongStepRewards: −1 on the token of the first character that departs
 * from the worked solution;
 * TrainerOptions.processRewards), through the same normalization, baseline and return: what
 * PRIME's dense rewards could give with a PRM that never errs.
 *
 * Best-of-4 by the PRM is reported under every aggregate of implicit_prm.ts (sum — the reference's
 * outcome score, `bon4_prm` — mean/min over newline steps, token_mean = sum / response length).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as torch from '../src/torch/index.js';
import { generate, loadPretrained, savePretrained } from '../src/lm/index.js';
import { DEMO_TASKS, writeDemoData, ensureSftStart, demoConfig } from '../src/prime/demo/run.js';
import { PrimeTrainer, type RolloutGroup } from '../src/prime/trainer.js';
import { firstWrongStepRewards } from '../src/prime/demo/arithmetic.js';
import { evaluateModel } from '../src/prime/evaluate.js';
import { defaultVerifier } from '../src/prime/verifier.js';
import { loadPromptFiles, type PromptRow } from '../src/prime/data.js';
import { parseArgs } from '../src/prime/config.js';
import { scoreImplicitPrm, STEP_AGGREGATES, type StepAggregate } from '../src/prime/implicit_prm.js';
import { pickBestOfN } from '../src/prime/bestofn.js';
import { lineChartsSvg, type Series } from '../src/prime/demo/plot.js';
import type { Metrics } from '../src/prime/metrics.js';
import { probeRowsFromTraining } from '../src/prime/trainer/prm.js';
import { chooseFitPrompts, fitImplicitPrm, sampleLabelledRollouts } from '../src/prime/prm_fit.js';
import type { PrmLoss } from '../src/prime/rewards.js';

/** data.seed values whose PRM probe prompts the warm-start fit never trains on (the bench sets data.seed = the run's seed). */
const WARM_PROBE_SEEDS = Array.from({ length: 20 }, (_, i) => i + 1);

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
  bon4Prm: number | null; bon4ByAggregate?: Record<string, number> | null; maj4: number | null; avg4: number | null; pass4: number | null;
  prompts: number; samples: number; seconds: number; phases: Record<string, number>;
}

const files = await writeDemoData(S);
const sftDir = await ensureSftStart(S, files);
const testRows = await loadPromptFiles([files.test]);
const K = 4;

/**
 * Best-of-K by the implicit PRM under each aggregate of implicit_prm.ts (`sum` = the outcome score
 * s = β Σ log π_φ/π_ref, the reference's; `mean`/`min` over newline steps; `token_mean` = s / length),
 * majority vote, avg@K, pass@K. bon4Prm is the `sum` pick.
 */
async function bestOfK(t: PrimeTrainer, rows: PromptRow[]) {
  const c = t.cfg;
  const verifier = defaultVerifier(c);
  let maj = 0, avg = 0, pass = 0;
  const bon = Object.fromEntries(STEP_AGGREGATES.map((a) => [a, 0])) as Record<StepAggregate, number>;
  for (let i = 0; i < rows.length; i += 50) {
    const chunk = rows.slice(i, i + 50);
    const prompts = chunk.map((r) => t.promptIds(r));
    const samples = torch.noGrad(() => generate(t.policy, prompts, {
      n: K, maxNewTokens: c.data.max_response_length, temperature: c.rollout.temperature, stopTokenIds: t.stopTokenIds, tokenizer: t.tokenizer, padTokenId: t.padId,
    }));
    const results = await Promise.all(samples.map((s, k) => verifier(chunk[Math.floor(k / K)]!, s.text)));
    const scored = scoreImplicitPrm(t.prm, t.ref, samples.map((_, k) => prompts[Math.floor(k / K)]!), samples.map((x) => x.tokenIds), {
      beta: c.algorithm.beta, padTokenId: t.padId, microBatch: c.prm.micro_batch, tokenizer: t.tokenizer,
    });
    for (let j = 0; j < chunk.length; j++) {
      const g = results.slice(j * K, (j + 1) * K), sc = scored.slice(j * K, (j + 1) * K);
      for (const a of STEP_AGGREGATES) bon[a] += pickBestOfN(sc.map((x) => x.aggregates[a]), g.map((r) => r.score));
      avg += g.reduce((a, r) => a + r.score, 0) / K;
      pass += Math.max(...g.map((r) => r.score));
      const votes = new Map<string, { n: number; score: number }>();
      let best = { n: 0, score: 0 };
      g.forEach((r, k) => { const key = r.extracted ?? `<none:${k}>`; const v = votes.get(key) ?? { n: 0, score: r.score }; v.n++; votes.set(key, v); if (v.n > best.n) best = v; });
      maj += best.score;
    }
  }
  const n = rows.length;
  for (const a of STEP_AGGREGATES) bon[a] /= n;
  return { bon4Prm: bon.sum, bon4ByAggregate: bon, maj4: maj / n, avg4: avg / n, pass4: pass / n };
}

// ---------------------------------------------------------------------------- PRM warm start
/** Settings of the offline warm-start fit (`--warm-*` flags); part of the cache's stamp. */
const warm = {
  prompts: Number(flags['warm-prompts'] ?? 1000), heldout: Number(flags['warm-heldout'] ?? 100), epochs: Number(flags['warm-epochs'] ?? 2),
  lr: Number(flags['warm-lr'] ?? 1e-4), samples: Number(flags['warm-samples'] ?? K), temperature: Number(flags['warm-temperature'] ?? 1),
  miniBatch: Number(flags['warm-mini-batch'] ?? 32), probeSeeds: WARM_PROBE_SEEDS,
  ...(flags['warm-loss'] && flags['warm-loss'] !== 'ce' ? { loss: String(flags['warm-loss']) as PrmLoss } : {}),
};
const warmDir = path.join(out, String(flags['warm-name'] ?? 'prm-warm'));

/**
 * The warm-started PRM (`model.prm_path=:warm`), fitted once from the SFT start and cached in
 * OUT/prm-warm (reused while its stamp — SFT start, task, settings — matches; other bench processes
 * sharing OUT wait for the one that builds it). Its prompts are training prompts only: never the
 * held-out test file, and never a prompt that a run with data.seed in WARM_PROBE_SEEDS holds out as
 * its PRM probe (so the probe pairwise stays a held-out measure). Returns the directory.
 */
async function ensureWarmPrm(): Promise<string> {
  const stampFile = path.join(warmDir, 'warm-stamp.json');
  const stamp = JSON.stringify({ sft: fs.readFileSync(path.join(sftDir, 'demo-stamp.json'), 'utf8'), warm });
  const lock = `${warmDir}.lock`;
  for (;;) {
    if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) return warmDir;
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch {
      console.log(`prm-warm: waiting for ${lock}`);
      await new Promise((r) => setTimeout(r, 10000));
    }
  }
  try {
    const cfg = demoConfig(S, { model: { path: sftDir }, data: { train_files: [files.train] } });
    const sft = loadPretrained(sftDir);
    const prm = loadPretrained(sftDir, { tokenizer: false });
    try {
      const tok = sft.tokenizer!;
      const pad = tok.padTokenId ?? sft.stopTokenIds[0] ?? 0;
      const rows = (await loadPromptFiles([files.train])).filter((r) => tok.encodeChat(r.messages, { addGenerationPrompt: true }).length <= cfg.data.max_prompt_length);
      const probeKeys = new Set(warm.probeSeeds.flatMap((sd) => probeRowsFromTraining(rows, sd, cfg.prm.probe_prompts)).map((r) => `${r.file}#${r.row}`));
      const testKeys = new Set(testRows.map((r) => r.messages.map((m) => m.content).join('\n')));
      const split = chooseFitPrompts(rows, (r) => probeKeys.has(`${r.file}#${r.row}`) || testKeys.has(r.messages.map((m) => m.content).join('\n')), warm.prompts, warm.heldout, S.seed);
      const so = { samples: warm.samples, maxNewTokens: cfg.data.max_response_length, temperature: warm.temperature, batch: 16, stopTokenIds: sft.stopTokenIds, padTokenId: pad };
      const verifier = defaultVerifier(cfg);
      torch.manualSeed(S.seed);
      const t0 = Date.now();
      const train = await sampleLabelledRollouts(sft.model, tok, split.train, verifier, so);
      const held = split.heldout.length ? await sampleLabelledRollouts(sft.model, tok, split.heldout, verifier, so) : null;
      const sampleSeconds = (Date.now() - t0) / 1000;
      const history = fitImplicitPrm(prm.model, sft.model, train, held, {
        beta: cfg.algorithm.beta, lr: warm.lr, epochs: warm.epochs, miniBatch: warm.miniBatch, microBatch: cfg.prm.micro_batch, seed: S.seed, padTokenId: pad,
        trainProbeGroups: 0, loss: warm.loss ?? 'ce', log: (l) => console.log(`prm-warm: ${l}`),
      });
      const tmp = `${warmDir}.tmp-${process.pid}`;
      fs.rmSync(tmp, { recursive: true, force: true });
      savePretrained(tmp, prm.model, { tokenizer: tok });
      const acc = train.outcomes.reduce((a, b) => a + b, 0) / train.outcomes.length;
      fs.writeFileSync(path.join(tmp, 'prm-fit.json'), JSON.stringify({
        settings: warm, train_prompts: split.train.length, heldout_prompts: split.heldout.length, excluded_probe_prompts: probeKeys.size, train_accuracy: acc,
        sample_seconds: sampleSeconds, fit_seconds: history.at(-1)!.seconds, history,
      }, null, 1));
      fs.writeFileSync(path.join(tmp, 'warm-stamp.json'), stamp);
      fs.rmSync(warmDir, { recursive: true, force: true });
      fs.renameSync(tmp, warmDir);
      console.log(`prm-warm: ${split.train.length} prompts × ${warm.samples} (${(100 * acc).toFixed(1)}% correct) sampled in ${sampleSeconds.toFixed(0)} s, fitted in ${history.at(-1)!.seconds.toFixed(0)} s; held-out pairwise ${history[0]!.heldout?.pairwise.toFixed(3)} → ${history.at(-1)!.heldout?.pairwise.toFixed(3)}; in ${warmDir}`);
    } finally {
      sft.model.dispose();
      prm.model.dispose();
    }
  } finally {
    fs.rmSync(lock, { force: true });
  }
  return warmDir;
}

const runFile = (label: string, seed: number) => path.join(out, 'runs', `${label}-s${seed}.json`);
if (flags['warm-only'] === true || flags['warm-only'] === 'true') {
  await ensureWarmPrm();
  process.exit(0);
}
if (!analyzeOnly)
  for (const seed of seeds) for (const spec of methods) {
    const [label, ...kvs] = spec.split('@') as [string, ...string[]];
    const all = [...sets, ...kvs];
    const over = overridesOf(all);
    if (over.model?.prm_path === ':warm') over.model.prm_path = await ensureWarmPrm();
    // `oracle…`: PRIME's advantage with a process verifier's rewards in place of the implicit PRM's
    const oracle = label.split('-')[0] === 'oracle';
    const advantage = String(over.algorithm?.advantage ?? (oracle ? 'prime' : label.split('-')[0]));
    const f = runFile(label, seed);
    if (fs.existsSync(f) || fs.existsSync(f + '.lock')) continue; // done, or another process runs it
    fs.writeFileSync(f + '.lock', String(process.pid));
    try {
      const cfg = demoConfig(S, merge(merge({
        model: { path: sftDir }, data: { train_files: [files.train], seed },
        trainer: { output_dir: path.join(out, `${label}-s${seed}`), seed, total_steps: steps, save_every: 0, log_every: 5 },
      }, { algorithm: { advantage } }), over));
      fs.rmSync(cfg.trainer.output_dir, { recursive: true, force: true }); // an unfinished earlier attempt of this run (no result file)
      const t0 = Date.now();
      const pieceOf = new Map<number, string>(); // token id → its text, for the oracle
      const piece = (id: number) => {
        let p = pieceOf.get(id);
        if (p === undefined) pieceOf.set(id, (p = trainer.tokenizer.decode([id], { skipSpecialTokens: true })));
        return p;
      };
      const oracleRewards = (groups: RolloutGroup[]) => groups.flatMap((g) => g.responses.map((r) => {
        const question = g.row.messages.at(-1)!.content;
        const rw = firstWrongStepRewards(question, r.ids.map(piece));
        if (!rw) throw new Error(`oracle: not a ± chain question: ${question}`);
        return rw;
      }));
      const trainer: PrimeTrainer = await PrimeTrainer.create(cfg, {
        log: (l) => console.log(`[${label} s${seed}] ${l}`),
        ...(oracle ? { processRewards: oracleRewards } : {}), // called during training, once `trainer` is set
      });
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
      const bo = advantage === 'prime' && !oracle ? await bestOfK(trainer, testRows) : { bon4Prm: null, bon4ByAggregate: null, maj4: null, avg4: null, pass4: null };
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
// the report covers every finished run under OUT, or with --seeds / --methods given, those seeds / labels
const methodLabels = methods.map((m) => m.split('@')[0]!);
const runs: Run[] = fs.readdirSync(path.join(out, 'runs')).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(fs.readFileSync(path.join(out, 'runs', f), 'utf8')) as Run)
  .filter((r) => r.trainAcc.length === steps)
  .filter((r) => (flags.seeds === undefined || seeds.includes(r.seed)) && (flags.methods === undefined || methodLabels.includes(r.method)))
  .sort((a, b) => a.seed - b.seed); // per-seed figures in seed order
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
lines.push(`Same SFT start (${sftDir}, held-out greedy ${pct(runs[0]?.heldOut[0]?.[1])}%), ${steps} steps; per step ${JSON.stringify((S.rl as { rollout: unknown }).rollout)}; seeds ${[...new Set(runs.map((r) => r.seed))].join(', ')}; held-out: ${testRows.length} problems, greedy. Common overrides: ${sets.join(' ') || 'none'}.\n`);
lines.push(`Target for "steps to reach": RLOO's final training accuracy (5-step moving average, mean over seeds) = ${pct(rlooFinal)}%. Accuracies in %.\n`);
lines.push('| method | runs | held-out final (mean ± sd) | per seed | train acc final | steps to reach RLOO final (mean; per seed) | PRM pairwise: batch, last 10 steps / held-out probe, end | Best-of-4 by PRM / maj@4 / avg@4 / pass@4 | samples | s/run (train only) |');
lines.push('|---|---|---|---|---|---|---|---|---|---|');
for (const m of labels) {
  const rs = by(m);
  const fin = rs.map((r) => r.heldOut.at(-1)![1]);
  const reach = rs.map(stepsToReach);
  const reachMean = reach.every((x) => x !== null) ? mean(reach as number[]).toFixed(1) : '—';
  // no PRM (rloo, grpo, oracle): NaN, which the run JSON holds as null
  const prmB = mean(rs.map((r) => mean(r.prmPairwise.slice(-10).map((x) => x ?? NaN))));
  const prmH = rs.map((r) => r.prmHeldout.at(-1)?.[1]).filter((x): x is number => x !== undefined);
  const bo = rs[0]!.bon4Prm !== null ? `${pct(mean(rs.map((r) => r.bon4Prm!)))} / ${pct(mean(rs.map((r) => r.maj4!)))} / ${pct(mean(rs.map((r) => r.avg4!)))} / ${pct(mean(rs.map((r) => r.pass4!)))}` : '—';
  lines.push(`| ${m} | ${rs.length} | ${pct(mean(fin))} ± ${pct(sd(fin))} | ${fin.map(pct).join(', ')} | ${pct(mean(rs.map((r) => smooth(r.trainAcc).at(-1)!)))} | ${reachMean}; ${reach.map((x) => x ?? '—').join(', ')} | ${Number.isFinite(prmB) ? prmB.toFixed(3) : '—'} / ${prmH.length ? mean(prmH).toFixed(3) : '—'} | ${bo} | ${mean(rs.map((r) => r.samples)).toFixed(0)} | ${mean(rs.map((r) => r.seconds)).toFixed(0)} |`);
}
const aggs = labels.filter((m) => by(m)[0]!.bon4ByAggregate);
if (aggs.length) {
  lines.push(`\nBest-of-4 by the PRM under each aggregate (implicit_prm.ts; sum = the reference's outcome score) vs maj@4, %:\n`);
  lines.push(`| method | ${STEP_AGGREGATES.join(' | ')} | maj@4 | avg@4 |`);
  lines.push(`|---|${STEP_AGGREGATES.map(() => '---|').join('')}---|---|`);
  for (const m of aggs) {
    const rs = by(m).filter((r) => r.bon4ByAggregate);
    lines.push(`| ${m} | ${STEP_AGGREGATES.map((a) => pct(mean(rs.map((r) => r.bon4ByAggregate![a]!)))).join(' | ')} | ${pct(mean(rs.map((r) => r.maj4!)))} | ${pct(mean(rs.map((r) => r.avg4!)))} |`);
  }
}
const warmFit = path.join(warmDir, 'prm-fit.json');
if (fs.existsSync(warmFit) && runs.some((r) => r.overrides.some((o) => o.includes(':warm')))) {
  const w = JSON.parse(fs.readFileSync(warmFit, 'utf8')) as { settings: typeof warm; train_prompts: number; train_accuracy: number; sample_seconds: number; fit_seconds: number; history: { epoch: number; heldout: { pairwise: number; auc: number } | null }[] };
  lines.push(`\nPRM warm start (\`model.prm_path=:warm\`, ${warmDir}): ${w.train_prompts} training prompts × ${w.settings.samples} samples at temperature ${w.settings.temperature} (${pct(w.train_accuracy)}% correct), ${w.settings.epochs} epochs at lr ${w.settings.lr}; held-out pairwise / AUC by epoch: ${w.history.map((e) => `${e.heldout?.pairwise.toFixed(3)} / ${e.heldout?.auc.toFixed(3)}`).join(' → ')}; ${w.sample_seconds.toFixed(0)} s sampling + ${w.fit_seconds.toFixed(0)} s fitting.`);
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
    prm_pairwise_final: r.prmHeldout.at(-1)?.[1] ?? null, bon4_prm: r.bon4Prm, bon4_by_aggregate: r.bon4ByAggregate ?? null, maj4: r.maj4, seconds: r.seconds,
  })),
};
if (flags['results-json'] !== 'false') {
  fs.mkdirSync('bench/results', { recursive: true });
  fs.writeFileSync(String(flags['results-json'] ?? 'bench/results/replication.json'), JSON.stringify(json, null, 1));
}
console.log(report);
