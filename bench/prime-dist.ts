/**
 * Data-parallel PRIME: training steps per second with 1 and 2 local ranks (Gloo on loopback) on
 * the tiny random model of test/prime (D=32, 2 layers; 4 prompts × 4 samples per step, responses
 * of at most 10 tokens, the `containsDigit` verifier), and what each rank all-reduces per step.
 *
 *   node dist/bench/prime-dist.js [--steps S] [--threads T|auto]   (launches its own ranks; S = 20, T = 1)
 *
 * Every configuration runs through torch.distributed.launch with T intra-op threads per rank
 * (`auto`: launch's cores / N). The default is 1: on a shared 2-core machine a 2-thread OpenMP
 * team in one process stalls whenever another job holds a core (measured 2 s/step instead of
 * 0.2), which would flatter the 2-rank run. Runs: 1 process with batched generation
 * (the default), 1 process with rollout.seed_per_prompt (one generate call per prompt, which
 * data-parallel runs always use), and 2 ranks. After one warm-up step, S steps are timed on rank 0.
 *
 * On a 2-core machine 2 ranks cannot be faster than 1 process with 2 threads: the same cores do
 * the same work plus the collectives. The point here is the overhead and the bytes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../src/torch/index.js';
import { PrimeTrainer } from '../src/prime/trainer.js';
import { configFromObject } from '../src/prime/config.js';
import { writePromptRowsJsonl } from '../src/prime/data.js';
import { generateSplits, problemToRow } from '../src/prime/demo/arithmetic.js';
import { createRandomModel } from '../src/prime/demo/model.js';
import type { Verifier } from '../src/prime/verifier.js';

const SELF = fileURLToPath(import.meta.url);
const containsDigit: Verifier = async (_row, text) => ({ score: /[0-9]/.test(text) ? 1 : 0 });

interface RankArgs { modelDir: string; dataFile: string; out: string; steps: number; seedPerPrompt: boolean }
interface RankResult {
  world: number; threads: number; stepsPerS: number; rolloutS: number; updateS: number;
  gradBytes: number; collectives: number; paramBytes: number; optimizerSteps: number;
}

/** One rank: a warm-up step, then `steps` timed steps; rank 0 prints RESULT. */
async function rank(a: RankArgs): Promise<void> {
  const cfg = configFromObject({
    model: { path: a.modelDir },
    data: { train_files: [a.dataFile], max_prompt_length: 96, max_response_length: 10, seed: 3 },
    rollout: { n: 4, batch_prompts: 4, micro_batch: 16, oversample: 2, seed_per_prompt: a.seedPerPrompt },
    filter: { enable: false }, // every step trains on the same amount of work
    algorithm: { beta: 0.5 },
    actor: { lr: 2e-3, mini_batch: 8, micro_batch: 4 },
    prm: { lr: 3e-3, micro_batch: 8 },
    trainer: { total_steps: a.steps + 1, save_every: 0, output_dir: a.out, seed: 11 },
  });
  const t = await PrimeTrainer.create(cfg, { verifier: containsDigit, log: () => {} });
  await t.trainStep(); // warm-up
  const ms: Record<string, number>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < a.steps; i++) ms.push(await t.trainStep());
  const seconds = (performance.now() - t0) / 1000;
  const mean = (k: string) => ms.reduce((s, m) => s + (m[k] ?? 0), 0) / ms.length;
  const paramBytes = [...t.policy.parameters(), ...t.prm.parameters()].reduce((s, p) => s + p.numel * 4, 0);
  const N = cfg.rollout.batch_prompts * cfg.rollout.n;
  const result: RankResult = {
    world: t.worldSize, threads: torch.getNumThreads(), stepsPerS: a.steps / seconds,
    rolloutS: mean('time/rollout'), updateS: mean('time/policy_update') + mean('time/score_prm'),
    gradBytes: mean('dist/grad_allreduce_bytes'), collectives: mean('dist/collectives'),
    paramBytes, optimizerSteps: Math.ceil(N / cfg.actor.mini_batch) * (1 + cfg.actor.ppo_epochs), // PRM: 1 epoch, policy: ppo_epochs
  };
  if (t.rank === 0) console.log(`RESULT ${JSON.stringify(result)}`);
  t.dispose();
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--steps');
  const steps = i > 0 ? Number(process.argv[i + 1]) : 20;
  const j = process.argv.indexOf('--threads');
  const threadsArg = j > 0 ? process.argv[j + 1]! : '1';
  const threadsPerRank = threadsArg === 'auto' ? undefined : Number(threadsArg);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-dist-bench-'));
  try {
    const modelDir = path.join(root, 'model'), dataFile = path.join(root, 'train.jsonl');
    createRandomModel(modelDir, { hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositionEmbeddings: 256 }, 0);
    await writePromptRowsJsonl(dataFile, generateSplits(1, 48, 0).train.map((p, j) => problemToRow(p, j, 'train')));
    console.log(`prime data-parallel bench: ${os.availableParallelism()} cores (load average ${os.loadavg()[0]!.toFixed(1)}), ${steps} timed steps per run, ` +
      `tiny model, 16 sequences per step, ${threadsPerRank ?? 'cores / ranks'} thread(s) per rank\n`);
    console.log('run                              ranks  threads/rank  steps/s  rollout s  score+update s  collectives/step  grad bytes all-reduced/step/rank');
    const runs: [string, number, boolean][] = [['1 process, batched generation', 1, false], ['1 process, seed_per_prompt', 1, true], ['2 ranks (seed_per_prompt)', 2, true]];
    const results: RankResult[] = [];
    for (const [name, nproc, seedPerPrompt] of runs) {
      let res: RankResult | null = null;
      const env: NodeJS.ProcessEnv = { PRIME_NUM_THREADS: '', OMP_NUM_THREADS: '' }; // not inherited: launch sets them
      await torch.distributed.launch(nproc, SELF, ['rank', JSON.stringify({ modelDir, dataFile, out: path.join(root, `run-${results.length}`), steps, seedPerPrompt })], {
        env, threadsPerRank, timeoutMs: 600_000,
        onLine: (r, stream, line) => {
          if (line.startsWith('RESULT ')) res = JSON.parse(line.slice(7)) as RankResult;
          else if (stream === 'stderr') process.stderr.write(`[rank ${r}] ${line}\n`);
        },
      });
      if (!res) throw new Error(`${name}: no result`);
      const r: RankResult = res;
      results.push(r);
      console.log(`${name.padEnd(33)}${String(r.world).padStart(5)}${String(r.threads).padStart(14)}${r.stepsPerS.toFixed(2).padStart(9)}` +
        `${r.rolloutS.toFixed(3).padStart(11)}${r.updateS.toFixed(3).padStart(16)}${(r.world > 1 ? r.collectives.toFixed(0) : '-').padStart(18)}` +
        `${(r.world > 1 ? `${r.gradBytes.toFixed(0)} B` : '-').padStart(34)}`);
    }
    const dp = results[2]!;
    // per optimizer step: every policy or PRM parameter's gradient (float32) plus one float32 flag per parameter tensor
    console.log(`\ngradient all-reduce per step: ${dp.optimizerSteps} optimizer steps (PRM and policy) × ${dp.paramBytes / 2} B of parameters each ` +
      `≈ ${((dp.optimizerSteps * dp.paramBytes) / 2).toFixed(0)} B (+ a 4-byte flag per parameter tensor); measured ${dp.gradBytes.toFixed(0)} B. ` +
      'Scalar reductions (buffer sizes, token counts, statistics, metrics) add a few hundred bytes in the other collectives.');
    console.log(`2 ranks vs 1 process (same seed_per_prompt sampling): ${(dp.stepsPerS / results[1]!.stepsPerS).toFixed(2)}× the steps/s. ` +
      `On ${os.availableParallelism()} cores shared with other jobs the ranks compete for the same cores as everything else; ranks pay off with a core set (or GPU) each.`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'rank') await rank(JSON.parse(process.argv[3]!) as RankArgs);
else await main();
