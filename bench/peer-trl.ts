/**
 * A whole RL step, prime-ts against TRL (the RL trainer most users know; it runs on a CPU), on the
 * same tiny Qwen2 checkpoint and the same task (the demo's arithmetic prompts, chat template and
 * char tokenizer), interleaved in one process tree: prime-ts steps in this process, TRL's
 * GRPOTrainer / RLOOTrainer in a child Python (bench/peer_trl.py, PRIME_PYTHON or .venv/bin/python).
 *
 *   node dist/bench/peer-trl.js [--threads 1] [--rounds 3] [--steps 3] [--k 4] [--prompts 8]
 *        [--max-response 64] [--model DIR] [--methods grpo,rloo,prime] [--out bench/results/peer-trl.json]
 *        [--shared-prompts true|false]
 *
 * Without --model: a random checkpoint of the demo's shape (createRandomModel, DEMO.model) with the
 * demo's char tokenizer; --model runs/demo/sft uses the demo's SFT start (responses that stop).
 *
 * Like for like: K samples per prompt, `--prompts` prompts per step (one optimizer step on all
 * K·prompts sequences, one policy epoch, one forward/backward micro-batch), the same response
 * limit, temperature 1, top-p 1, no reference model / KL (TRL beta 0, prime-ts kl_coef 0), no
 * prompt filtering, the same intra-op threads (torch.set_num_threads and PRIME_NUM_THREADS).
 * prime-ts's `prime` method (implicit PRM updated and scored, a reference model, the demo's
 * algorithm settings) is the full cost and has no TRL counterpart; its ratio is printed against
 * TRL's GRPO for scale only. Rewards: prime-ts's default math verifier; TRL's a Python
 * exact-integer compare of the last \boxed{} (bench/peer_trl.py) — the task's answers are integers.
 *
 * Each run takes 1 warm-up step plus `--steps` timed steps; rounds repeat every (system, method)
 * run in turn, so both see the same machine load. Per run: seconds per step (whole step, mean),
 * generated tokens/s (response tokens / generation seconds: prime-ts time/rollout; TRL
 * _generate_and_score_completions) and trained tokens/s (response tokens / the rest of the step),
 * MFU of each phase against this process's measured sgemm peak (src/prime/perf.ts; TRL's from its
 * mean prompt and completion lengths). Ratio = TRL seconds/step ÷ prime-ts seconds/step (= prime-ts
 * steps/s over TRL's); the median over rounds with its min–max; the same ratio of CPU seconds per
 * step (all threads; steadier than wall time when other processes share the cores). Writes bench/results/peer-trl.json (or --out).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../src/torch/index.js';
import { loadPretrained } from '../src/lm/index.js';
import { configFromObject } from '../src/prime/config.js';
import { loadPromptFiles, PromptDataset, writePromptRowsJsonl } from '../src/prime/data.js';
import { PrimeTrainer } from '../src/prime/trainer.js';
import { DEMO } from '../src/prime/demo/run.js';
import { generateSplits, problemToRow } from '../src/prime/demo/arithmetic.js';
import { createRandomModel } from '../src/prime/demo/model.js';
import { generationFlops, trainFlops, sgemmPeakFlops } from '../src/prime/perf.js';

type Method = 'grpo' | 'rloo' | 'prime';
interface Run {
  system: 'prime-ts' | 'trl';
  method: Method;
  round: number;
  steps: number;
  seconds_per_step: number;
  /** CPU seconds per step, all threads of the process (steadier than wall time under load) */
  cpu_seconds_per_step: number;
  gen_tokens_per_s: number;
  train_tokens_per_s: number;
  response_tokens_per_step: number;
  mfu_rollout: number;
  mfu_train: number;
  /** mean seconds per step: generation (both), policy update (prime-ts only), the rest */
  phases: { generation: number; policy_update: number | null; other: number };
}

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--') || i + 1 >= argv.length) throw new Error(`peer-trl: expected --name value, got '${a}'`);
    out[a.slice(2)] = argv[++i]!;
  }
  return out;
}
const A = parseArgs(process.argv.slice(2));
const int = (k: string, d: number): number => {
  const v = A[k] === undefined ? d : Number(A[k]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`peer-trl: --${k} must be a positive integer, got '${A[k]}'`);
  return v;
};
const THREADS = int('threads', 1), ROUNDS = int('rounds', 3), STEPS = int('steps', 3), K = int('k', 4), B = int('prompts', 8), T = int('max-response', 64);
const METHODS = (A.methods ?? 'grpo,rloo,prime').split(',') as Method[];
/** `--shared-prompts false`: prime-ts decodes every row in full (TrainerOptions.sharedPrompts), the path before prompt sharing, for an A/B. */
const SHARED = (A['shared-prompts'] ?? 'true') !== 'false';
for (const m of METHODS) if (!['grpo', 'rloo', 'prime'].includes(m)) throw new Error(`peer-trl: unknown method '${m}' (grpo | rloo | prime)`);
const SEED = 2026, LR = 1e-6, TEMP = 1.0;
const PY = process.env.PRIME_PYTHON ?? path.resolve('.venv/bin/python');

process.env.PRIME_NUM_THREADS = String(THREADS);
torch.setNumThreads(THREADS);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'peer-trl-'));
let modelDir = A.model;
if (!modelDir) {
  modelDir = path.join(work, 'model');
  createRandomModel(modelDir, DEMO.model, SEED);
}
const lm = loadPretrained(modelDir);
const cfgLm = lm.model.config;
const params = lm.model.numParameters();
lm.model.dispose();

// The demo task's rows; both systems get the same (STEPS+1)·B prompts.
const nRows = (STEPS + 1) * B;
const { train } = generateSplits(SEED, nRows, 0, DEMO.task);
const rows = train.map((p, i) => problemToRow(p, i, 'train'));
const primeData = path.join(work, 'train.jsonl');
await writePromptRowsJsonl(primeData, rows);
const primeRows = await loadPromptFiles([primeData]); // as the trainer loads them
/**
 * TRL's rows for a round, in the order prime-ts draws them that round (PromptDataset, seeded by
 * data.seed = SEED + round): TRL takes its rows in file order (shuffle_dataset=False), so both
 * systems sample the same prompts at every step (response lengths depend on the prompt).
 */
const trlData = (round: number): string => {
  const file = path.join(work, `trl-${round}.jsonl`);
  if (!fs.existsSync(file)) {
    const order = new PromptDataset(primeRows, SEED + round).next(nRows);
    fs.writeFileSync(file, order.map((r) => JSON.stringify({ prompt: r.messages, ground_truth: r.groundTruth })).join('\n') + '\n');
  }
  return file;
};

const peak = sgemmPeakFlops();
console.log(`peer-trl: model ${modelDir} (${(params / 1e6).toFixed(2)}M params, D ${cfgLm.hiddenSize}, ${cfgLm.numLayers} layers, V ${cfgLm.vocabSize}); ` +
  `K ${K}, ${B} prompts/step, max response ${T}, ${THREADS} thread(s), ${STEPS} timed steps (+1 warm-up) × ${ROUNDS} rounds; sgemm peak ${(peak / 1e9).toFixed(1)} GFLOP/s`);

async function runPrime(method: Method, round: number): Promise<Run> {
  const algorithm = method === 'prime' ? { ...(DEMO.rl.algorithm as Record<string, unknown>) } : { advantage: method, kl_coef: 0 };
  const cfg = configFromObject({
    model: { path: modelDir },
    data: { train_files: [primeData], max_prompt_length: 128, max_response_length: T, seed: SEED + round },
    rollout: { n: K, batch_prompts: B, micro_batch: B * K, oversample: 1, temperature: TEMP, top_p: 1 },
    filter: { enable: false },
    algorithm,
    actor: { lr: LR, mini_batch: B * K, micro_batch: B * K, ppo_epochs: 1, warmup_steps: 0 },
    prm: { lr: LR, mini_batch: B * K, micro_batch: B * K, probe_every: 0 },
    trainer: { total_steps: STEPS + 1, save_every: 0, seed: SEED + round, log_every: 1, output_dir: path.join(work, `prime-${method}-${round}`) },
  } as never);
  const t = await PrimeTrainer.create(cfg, { log: () => {}, sharedPrompts: SHARED });
  // TRL's rows follow this trainer's draw order (trlData) only while it keeps every row
  if (t.droppedLongPrompts !== 0 || t.dataset.size !== nRows)
    throw new Error(`peer-trl: prime-ts kept ${t.dataset.size} of ${nRows} rows (${t.droppedLongPrompts} over max_prompt_length): TRL's prompt order would no longer match`);
  let sec = 0, gen = 0, tok = 0, genFlops = 0, trFlops = 0, trainSec = 0, cpu = 0;
  try {
    for (let s = 0; s <= STEPS; s++) {
      const c0 = process.cpuUsage();
      const m = await t.trainStep();
      if (s === 0) continue; // warm-up
      const dc = process.cpuUsage(c0);
      cpu += (dc.user + dc.system) / 1e6;
      sec += m['time/step']!;
      gen += m['time/rollout']!;
      tok += m['batch/response_tokens']!;
      genFlops += m['perf/rollout_flops']!;
      trFlops += m['perf/train_flops']!;
      trainSec += m['time/policy_update']!;
    }
  } finally {
    t.dispose();
  }
  return {
    system: 'prime-ts', method, round, steps: STEPS, seconds_per_step: sec / STEPS, cpu_seconds_per_step: cpu / STEPS, gen_tokens_per_s: tok / gen, train_tokens_per_s: tok / (sec - gen),
    response_tokens_per_step: tok / STEPS, mfu_rollout: genFlops / gen / peak, mfu_train: trFlops / trainSec / peak,
    phases: { generation: gen / STEPS, policy_update: trainSec / STEPS, other: (sec - gen - trainSec) / STEPS },
  };
}

function runTrl(method: Method, round: number): Run {
  const args = { model: modelDir, data: trlData(round), method, k: K, prompts: B, max_response: T, steps: STEPS + 1, threads: THREADS, seed: SEED + round, lr: LR, temperature: TEMP };
  const p = spawnSync(PY, [path.resolve('bench/peer_trl.py'), JSON.stringify(args)], { encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, OMP_NUM_THREADS: String(THREADS), TOKENIZERS_PARALLELISM: 'false' } });
  if (p.error) throw new Error(`${PY}: ${p.error.message} (set PRIME_PYTHON to a Python with trl: make venv-bench)`);
  const line = p.stdout.split('\n').find((l) => l.startsWith('PEER_TRL_RESULT '));
  if (p.status !== 0 || !line) throw new Error(`bench/peer_trl.py (${method}) failed (needs trl==1.16.0: make venv-bench), exit ${p.status}:\n${p.stderr.slice(-3000)}`);
  const r = JSON.parse(line.slice('PEER_TRL_RESULT '.length)) as { step_seconds: number[]; step_cpu_seconds: number[]; gen: { seconds: number; tokens: number; prompt_tokens: number | null; sequences: number }[] };
  if (r.step_seconds.length !== STEPS + 1 || r.gen.length !== STEPS + 1) throw new Error(`peer_trl.py: expected ${STEPS + 1} steps and generations, got ${r.step_seconds.length} and ${r.gen.length}`);
  const steps = r.step_seconds.slice(1), gens = r.gen.slice(1);
  const sec = steps.reduce((a, b) => a + b, 0), gen = gens.reduce((a, g) => a + g.seconds, 0), tok = gens.reduce((a, g) => a + g.tokens, 0);
  // FLOPs from mean lengths (the attention term is a small, nearly linear part at these lengths).
  let genFlops = 0, trFlops = 0;
  for (const g of gens) {
    const pMean = (g.prompt_tokens ?? 0) / g.sequences, rMean = g.tokens / g.sequences;
    genFlops += g.sequences * generationFlops(cfgLm, pMean, rMean);
    trFlops += g.sequences * trainFlops(cfgLm, pMean, rMean);
  }
  return {
    system: 'trl', method, round, steps: STEPS, seconds_per_step: sec / STEPS, cpu_seconds_per_step: r.step_cpu_seconds.slice(1).reduce((a, b) => a + b, 0) / STEPS, gen_tokens_per_s: tok / gen, train_tokens_per_s: tok / (sec - gen),
    response_tokens_per_step: tok / STEPS, mfu_rollout: genFlops / gen / peak, mfu_train: trFlops / (sec - gen) / peak,
    phases: { generation: gen / STEPS, policy_update: null, other: (sec - gen) / STEPS },
  };
}

const fmt = (r: Run): string =>
  `${r.system.padEnd(8)} ${r.method.padEnd(5)} round ${r.round}: ${r.seconds_per_step.toFixed(3).padStart(7)} s/step (cpu ${r.cpu_seconds_per_step.toFixed(3)})  gen ${r.gen_tokens_per_s.toFixed(0).padStart(6)} tok/s  ` +
  `train ${r.train_tokens_per_s.toFixed(0).padStart(6)} tok/s  (${r.response_tokens_per_step.toFixed(0)} response tokens/step)  MFU rollout ${(100 * r.mfu_rollout).toFixed(1)}%, ` +
  `${r.system === 'trl' ? 'train (rest of step)' : 'train (policy update)'} ${(100 * r.mfu_train).toFixed(1)}%; s/step: generation ${r.phases.generation.toFixed(3)}` +
  (r.phases.policy_update !== null ? `, policy update ${r.phases.policy_update.toFixed(3)}` : '') + `, other ${r.phases.other.toFixed(3)}`;

const runs: Run[] = [];
for (let round = 0; round < ROUNDS; round++) {
  for (const method of METHODS) {
    // alternate which system goes first, so neither always runs right after the other's start-up
    const order = round % 2 === 0 ? ['prime-ts', 'trl'] : ['trl', 'prime-ts'];
    for (const sys of order) {
      if (sys === 'trl' && method === 'prime') continue;
      const r = sys === 'trl' ? runTrl(method, round) : await runPrime(method, round);
      runs.push(r);
      console.log(fmt(r));
    }
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const summary: Record<string, unknown>[] = [];
console.log('\nprime-ts steps/s ÷ TRL steps/s (same method; per round, then median [min–max]); target ≥ 2×');
for (const method of METHODS) {
  const peer = method === 'prime' ? 'grpo' : method;
  const ratios: number[] = [], cpuRatios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const p = runs.find((r) => r.system === 'prime-ts' && r.method === method && r.round === round);
    const q = runs.find((r) => r.system === 'trl' && r.method === peer && r.round === round);
    if (p && q) {
      ratios.push(q.seconds_per_step / p.seconds_per_step);
      cpuRatios.push(q.cpu_seconds_per_step / p.cpu_seconds_per_step);
    }
  }
  if (!ratios.length) continue;
  const label = method === 'prime' ? 'prime (full PRIME step) vs TRL grpo, for scale' : method;
  const pick = (sys: string, meth: string, k: keyof Run) => median(runs.filter((r) => r.system === sys && r.method === meth).map((r) => r[k] as number));
  console.log(`  ${label.padEnd(46)} ${ratios.map((x) => x.toFixed(2)).join(', ')}  → median ${median(ratios).toFixed(2)}× [${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}]` +
    `  | gen tok/s ${(pick('prime-ts', method, 'gen_tokens_per_s') / pick('trl', peer, 'gen_tokens_per_s')).toFixed(2)}×, train tok/s ${(pick('prime-ts', method, 'train_tokens_per_s') / pick('trl', peer, 'train_tokens_per_s')).toFixed(2)}× (medians)` +
    `\n  ${''.padEnd(46)} CPU-time ratio ${cpuRatios.map((x) => x.toFixed(2)).join(', ')}  → median ${median(cpuRatios).toFixed(2)}×`);
  summary.push({ method, versus: `trl ${peer}`, ratio_steps_per_s: ratios, median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), ratio_cpu_time: cpuRatios, median_cpu: median(cpuRatios) });
}

const trlVersion = spawnSync(PY, ['-c', 'import trl, torch; print(trl.__version__, torch.__version__)'], { encoding: 'utf8' }).stdout.trim();
const out = {
  model: {
    path: A.model ?? `createRandomModel(DEMO.model, seed ${SEED})`, params, model_type: cfgLm.modelType, hidden_size: cfgLm.hiddenSize, intermediate_size: cfgLm.intermediateSize,
    num_layers: cfgLm.numLayers, num_heads: cfgLm.numHeads, num_kv_heads: cfgLm.numKvHeads, vocab_size: cfgLm.vocabSize,
  },
  setup: { k: K, prompts_per_step: B, max_response_length: T, temperature: TEMP, threads: THREADS, timed_steps: STEPS, warmup_steps: 1, rounds: ROUNDS, trl_and_torch: trlVersion, sgemm_peak_gflops: peak / 1e9, host_cpus: os.cpus().length, loadavg: os.loadavg() },
  runs,
  summary,
};
const outFile = A.out ?? 'bench/results/peer-trl.json';
fs.mkdirSync(path.dirname(outFile), { recursive: true });
fs.writeFileSync(outFile, JSON.stringify(out, null, 2) + '\n');
console.log(`wrote ${outFile}`);
fs.rmSync(work, { recursive: true, force: true });
