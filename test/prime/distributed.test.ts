/**
 * Data-parallel PRIME on loopback (Gloo): 2 ranks of distributed-worker.js on the tiny random
 * model of trainer.test.ts with the `containsDigit` verifier, one thread each. Checked against a
 * single process running the same worker (same global batch: filter off, seed_per_prompt on), and
 * against an uninterrupted 2-rank run for resume. Every test is bounded by a timeout; the failure
 * tests bound how long the surviving rank may take to stop on its own.
 * (All-reduce of several dtypes is tested in test/torch/distributed.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as torch from '../../src/torch/index.js';
import { gpuSkip } from '../torch/gpu.js';
import { loadPretrained } from '../../src/lm/index.js';
import { writePromptRowsJsonl } from '../../src/prime/data.js';
import { generateSplits, problemToRow } from '../../src/prime/demo/arithmetic.js';
import { createRandomModel } from '../../src/prime/demo/model.js';
import { readMetrics } from '../../src/prime/metrics.js';
import { latestCheckpoint } from '../../src/prime/checkpoint.js';
import { maskedWhiten, type AllReduceSum } from '../../src/prime/masked.js';
import { PrimeTrainer, rolloutSeed } from '../../src/prime/trainer.js';
import { configFromObject } from '../../src/prime/config.js';

const dist = torch.distributed;
const here = path.dirname(fileURLToPath(import.meta.url));
const WORKER = path.join(here, 'distributed-worker.js');
const CLI = path.resolve(here, '../../src/prime/cli.js');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-dist-'));
process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));
const modelDir = path.join(root, 'model');
const dataFile = path.join(root, 'train.jsonl');
createRandomModel(modelDir, { hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositionEmbeddings: 256 }, 0);
await writePromptRowsJsonl(dataFile, generateSplits(1, 48, 0).train.map((p, i) => problemToRow(p, i, 'train')));

type Over = Record<string, Record<string, unknown>>;
interface Extra { killAt?: { rank: number; step: number }; hangAt?: { rank: number; step: number } }
const workerArgs = (out: string, over: Over, extra: Extra = {}) => JSON.stringify({ modelDir, dataFile, out, over, ...extra });
/** This environment without the torchrun variables (a single process stays alone). */
function soloEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PRIME_NUM_THREADS: '1', OMP_NUM_THREADS: '1' };
  for (const k of ['MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE']) delete env[k];
  return env;
}

/** 2 ranks of the worker through launch(); returns their output lines. */
async function launchJob(out: string, over: Over, extra: Extra = {}): Promise<string[]> {
  const lines: string[] = [];
  try {
    await dist.launch(2, WORKER, [workerArgs(out, over, extra)], {
      timeoutMs: 150_000, threadsPerRank: 1, env: soloEnv(),
      onLine: (rank, stream, line) => lines.push(`[rank ${rank} ${stream}] ${line}`),
    });
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${lines.join('\n')}`);
  }
  return lines;
}

interface Proc { code: number | null; signal: NodeJS.Signals | null; at: number; out: string[] }
/** Runs `node args…` to its end (killed after `ms`). */
function run(args: string[], env: NodeJS.ProcessEnv, ms: number): Promise<Proc> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: string[] = [];
    for (const s of [child.stdout!, child.stderr!]) s.on('data', (d: Buffer) => out.push(...d.toString().split('\n').filter(Boolean)));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, at: performance.now(), out });
    });
  });
}

/** The single-process run of the worker. */
async function runSingle(out: string, over: Over): Promise<void> {
  const r = await run([WORKER, workerArgs(out, over)], soloEnv(), 150_000);
  assert.equal(r.code, 0, r.out.join('\n'));
}

/** 2 ranks started by hand with the torchrun variables (not through launch, which would stop the
 * survivor itself). */
async function spawnRanks(out: string, over: Over, extra: Extra): Promise<{ ranks: Promise<Proc>[]; lines: string[][] }> {
  const port = await dist.freePort();
  const lines: string[][] = [[], []];
  const ranks = [0, 1].map((rank) => new Promise<Proc>((resolve) => {
    const env = { ...soloEnv(), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), RANK: String(rank), WORLD_SIZE: '2', LOCAL_RANK: String(rank) };
    const child = spawn(process.execPath, [WORKER, workerArgs(out, over, extra)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const s of [child.stdout!, child.stderr!]) s.on('data', (d: Buffer) => lines[rank]!.push(...d.toString().split('\n').filter(Boolean)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, at: performance.now(), out: lines[rank]! });
    });
    ranksToKill.push(child); // the hanging rank blocks for 60 s: the test stops it

  }));
  return { ranks, lines };
}
const ranksToKill: import('node:child_process').ChildProcess[] = [];
process.on('exit', () => { for (const c of ranksToKill) c.kill('SIGKILL'); });

const loadParams = (file: string) => torch.loadSafetensors(file);
/** max |a − b| over all parameters (same names required). */
function maxDiff(a: Map<string, torch.Tensor>, b: Map<string, torch.Tensor>): number {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  let worst = 0;
  for (const [n, t] of a) worst = Math.max(worst, torch.tidy(() => t.sub(b.get(n)!).abs().max().item()));
  return worst;
}
/** max |a − b| over the step metrics both runs report (time, throughput and MFU aside). */
function metricsDiff(a: string, b: string): { worst: number; key: string } {
  const ma = readMetrics(path.join(a, 'metrics.jsonl')), mb = readMetrics(path.join(b, 'metrics.jsonl'));
  assert.deepEqual(ma.map((m) => m.step), mb.map((m) => m.step));
  let worst = 0, key = '';
  for (const [i, m] of ma.entries())
    for (const [k, v] of Object.entries(m)) {
      if (k.startsWith('time/') || k.startsWith('throughput/') || k.startsWith('perf/mfu') || k.startsWith('perf/sgemm') || !(k in mb[i]!)) continue;
      const d = Math.abs(v - mb[i]![k]!) / Math.max(1, Math.abs(v));
      if (d > worst) [worst, key] = [d, `step ${m.step} ${k}: ${v} vs ${mb[i]![k]}`];
    }
  return { worst, key };
}

// ---------------------------------------------------------------- in this process

test('whitening with a reducer: identity = local whitening; two halves with their sums exchanged = the whole', () => {
  torch.manualSeed(0);
  const x = torch.randn([6, 5]).mul(3).add(1); // (N, T)
  const mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], { dtype: 'float32' });
  const whole = maskedWhiten(x, mask);
  const viaIdentity = maskedWhiten(x, mask, 1e-8, (xs) => xs);
  // rank A holds rows 0–2, rank B rows 3–5. B's side of each reduction is computed here the way
  // B would: pass 1 sums [Σ x, count], pass 2 sums Σ (x − global mean)².
  const [xa, ma, xb, mb] = [x.narrow(0, 0, 3), mask.narrow(0, 0, 3), x.narrow(0, 3, 3), mask.narrow(0, 3, 3)];
  const peerB = (): AllReduceSum => {
    let mean = 0, call = 0;
    return (xs) => {
      if (call++ === 0) {
        const tot = [xs[0]! + torch.tidy(() => xb.double().where(mb.bool(), 0).sum().item()), xs[1]! + mb.sum().item()];
        mean = tot[0]! / tot[1]!;
        return tot;
      }
      return [xs[0]! + torch.tidy(() => xb.double().sub(mean).square().where(mb.bool(), 0).sum().item())];
    };
  };
  const halfA = maskedWhiten(xa, ma, 1e-8, peerB());
  const d1 = torch.tidy(() => whole.sub(viaIdentity).abs().max().item());
  const d2 = torch.tidy(() => whole.narrow(0, 0, 3).sub(halfA).abs().max().item());
  const d3 = torch.tidy(() => whole.narrow(0, 0, 3).sub(maskedWhiten(xa, ma)).abs().max().item());
  console.log(`whitening: max |local − identity reducer| = ${d1}, max |whole − rank A's half| = ${d2} (rank A alone: ${d3.toFixed(3)})`);
  assert.ok(d1 < 1e-6 && d2 < 1e-6);
  assert.ok(d3 > 1e-2, 'whitening rank A alone differs (the check can fail)');
  assert.equal(torch.tidy(() => halfA.where(ma.bool().logicalNot(), 0).abs().max().item()), 0, 'masked positions stay 0');
});

test('seed_per_prompt: a prompt\'s samples do not depend on which other prompts are sampled with it', async () => {
  const cfg = configFromObject({
    model: { path: modelDir }, data: { train_files: [dataFile], max_prompt_length: 96, max_response_length: 10 },
    rollout: { n: 4, micro_batch: 16, seed_per_prompt: true }, trainer: { output_dir: path.join(root, 'seeds'), threads: 1 },
  });
  const t = await PrimeTrainer.create(cfg, { verifier: async () => ({ score: 0 }), log: () => {} });
  const rows = t.dataset.next(4);
  const seeds = rows.map((_, i) => rolloutSeed(11, 1, 0, i));
  const all = await t.rollout(rows, { seeds });
  const shard = await t.rollout([rows[1]!, rows[3]!], { seeds: [seeds[1]!, seeds[3]!] }); // rank 1 of 2
  const ids = (g: (typeof all)[number]) => g.sample.responses.map((r) => r.ids);
  assert.deepEqual(ids(shard[0]!), ids(all[1]!));
  assert.deepEqual(ids(shard[1]!), ids(all[3]!));
  // the same tokens; their log-probs up to float32 rounding of products batched with other prompts
  const lpDiff = Math.max(...[[shard[0]!, all[1]!], [shard[1]!, all[3]!]].flatMap(([a, b]) =>
    a.sample.responses.flatMap((r, k) => r.logprobs.map((v, j) => Math.abs(v - b.sample.responses[k]!.logprobs[j]!)))));
  console.log(`seed_per_prompt: 2 of 4 prompts alone vs batched: same tokens, max |Δ log-prob| = ${lpDiff.toExponential(2)} (tol 1e-5)`);
  assert.ok(lpDiff <= 1e-5, `log-prob difference ${lpDiff}`);
  assert.notDeepEqual(ids(all[0]!), ids((await t.rollout([rows[0]!], { seeds: [seeds[0]! + 1] }))[0]!), 'another seed, other samples');
  t.dispose();
});

// ---------------------------------------------------------------- 2 ranks

test('2 ranks hold the same parameters as each other, and as one process on the same global batch', { timeout: 300_000 }, async () => {
  // Filter off: both runs train on the first 4 prompts drawn each step, 16 sequences. Mini-batches
  // of 4: a PRM mini-batch is one prompt's group, held by one rank (the other adds zero
  // gradients); a policy mini-batch is 4 shuffled sequences split unevenly between the ranks.
  const over: Over = { filter: { enable: false }, rollout: { seed_per_prompt: true }, actor: { mini_batch: 4, micro_batch: 2, ppo_epochs: 2 } };
  const dOut = path.join(root, 'dp'), sOut = path.join(root, 'single');
  const lines = await launchJob(dOut, over);
  await runSingle(sOut, over);
  const r0 = loadParams(path.join(dOut, 'params-rank0.safetensors')), r1 = loadParams(path.join(dOut, 'params-rank1.safetensors'));
  const one = loadParams(path.join(sOut, 'params-rank0.safetensors'));
  const init = new Map(loadPretrained(modelDir).model.namedParameters().map(([n, p]) => [`policy.${n}`, p]));
  const moved = Math.max(...[...init].map(([n, p]) => torch.tidy(() => p.sub(one.get(n)!).abs().max().item())));
  const ranks = maxDiff(r0, r1), vsOne = maxDiff(r0, one);
  const md = metricsDiff(dOut, sOut);
  console.log(`after 3 steps: max |rank 0 − rank 1| = ${ranks}; max |2 ranks − 1 process| = ${vsOne.toExponential(2)} ` +
    `(largest policy change from the start: ${moved.toExponential(2)}); max relative metric difference ${md.worst.toExponential(2)} (${md.key})`);
  assert.equal(ranks, 0, 'every rank applies the same all-reduced update to the same broadcast parameters');
  assert.ok(moved > 1e-3, 'training moved the parameters (the comparison is not vacuous)');
  // float32 sums in another order: 6.6e-7 here (libtorch 1.13), 1.9e-5 with libtorch 2.11 on the GPU machine's CPU
  assert.ok(vsOne <= 5e-5, `2 ranks vs 1 process: ${vsOne}`);
  assert.ok(md.worst <= 1e-4, md.key);
  const m = readMetrics(path.join(dOut, 'metrics.jsonl'));
  assert.deepEqual(m.map((x) => x.step), [1, 2, 3]);
  assert.ok(m.every((x) => x['batch/sequences'] === 16 && x['dist/grad_allreduce_bytes']! > 0), 'metrics describe the global batch');
  assert.ok(lines.some((l) => l.startsWith('[rank 0 stdout] step 3/3')), 'rank 0 logs progress');
  assert.ok(!lines.some((l) => /^\[rank 1 stdout\] (step|prime:)/.test(l)), `only rank 0 logs:\n${lines.join('\n')}`);
});

const noGpu = gpuSkip;

test('2 ranks on one GPU (Gloo through host memory) hold the same parameters as each other and as one process on the GPU', { skip: noGpu, timeout: 300_000 }, async () => {
  const over: Over = {
    model: { device: 'cuda:0' }, trainer: { dist_backend: 'gloo' },
    filter: { enable: false }, rollout: { seed_per_prompt: true }, actor: { mini_batch: 4, micro_batch: 2, ppo_epochs: 2 },
  };
  const dOut = path.join(root, 'dp-gpu'), sOut = path.join(root, 'single-gpu');
  await launchJob(dOut, over);
  await runSingle(sOut, over);
  const r0 = loadParams(path.join(dOut, 'params-rank0.safetensors')), r1 = loadParams(path.join(dOut, 'params-rank1.safetensors'));
  const one = loadParams(path.join(sOut, 'params-rank0.safetensors'));
  const ranks = maxDiff(r0, r1), vsOne = maxDiff(r0, one);
  console.log(`GPU, after 3 steps: max |rank 0 − rank 1| = ${ranks}; max |2 ranks − 1 process| = ${vsOne.toExponential(2)} (tol 1e-4)`);
  assert.equal(ranks, 0, 'every rank applies the same all-reduced update to the same broadcast parameters');
  assert.ok(vsOne <= 1e-4, `2 ranks vs 1 process on the GPU: ${vsOne}`);
});

test('2 ranks = 1 process with the algorithm options on (seq-mean loss, clip-higher, overlong shaping, min-form return, adaptive KL)', { timeout: 300_000 }, async () => {
  // seq-mean-token-mean weighs micro-batches by sequences of the global mini-batch, the adaptive
  // KL controller reduces its KL over ranks: both must match one process on the same global batch
  const over: Over = {
    filter: { enable: false }, rollout: { seed_per_prompt: true }, reward: { overlong_buffer_len: 4 },
    algorithm: { process_return: 'min', prm_update: 'before', kl_coef: 0.05, kl_ctrl: 'adaptive', kl_target: 0.01, kl_horizon: 32 },
    actor: { mini_batch: 4, micro_batch: 2, ppo_epochs: 2, loss_agg: 'seq-mean-token-mean', clip_low: 0.2, clip_high: 0.28 },
  };
  const dOut = path.join(root, 'dp-options'), sOut = path.join(root, 'single-options');
  await launchJob(dOut, over);
  await runSingle(sOut, over);
  const r0 = loadParams(path.join(dOut, 'params-rank0.safetensors')), one = loadParams(path.join(sOut, 'params-rank0.safetensors'));
  const vsOne = maxDiff(r0, one), md = metricsDiff(dOut, sOut);
  const coefs = readMetrics(path.join(dOut, 'metrics.jsonl')).map((m) => m['actor/kl_coef']);
  console.log(`options on, after 3 steps: max |2 ranks − 1 process| = ${vsOne.toExponential(2)}; max relative metric difference ${md.worst.toExponential(2)} (${md.key}); actor/kl_coef ${coefs.join(' ')}`);
  assert.ok(vsOne <= 5e-5, `2 ranks vs 1 process: ${vsOne}`);
  assert.ok(md.worst <= 1e-4, md.key);
  assert.ok(new Set(coefs).size > 1, 'the adaptive coefficient moved');
});

test('2 ranks resumed from a checkpoint (accuracy filter on, per-rank buffers) reproduce the uninterrupted run', { timeout: 300_000 }, async () => {
  const over = (steps: number, resume: boolean): Over => ({ rollout: { oversample: 3 }, trainer: { total_steps: steps, save_every: 2, resume } });
  const full = path.join(root, 'dp-full'), split = path.join(root, 'dp-split');
  await launchJob(full, over(4, false));
  await launchJob(split, over(2, false));
  const ck2 = latestCheckpoint(path.join(split, 'checkpoints'))!;
  assert.ok(ck2.endsWith('step-000002'));
  assert.equal(JSON.parse(fs.readFileSync(path.join(ck2, 'state.json'), 'utf8')).world_size, 2);
  const buffers = [0, 1].map((r) => JSON.parse(fs.readFileSync(path.join(ck2, 'ranks', `rank-0000${r}.json`), 'utf8')).buffer.length);
  await launchJob(split, over(4, true));
  const a = loadParams(path.join(full, 'params-rank0.safetensors')), b = loadParams(path.join(split, 'params-rank0.safetensors'));
  const diff = maxDiff(a, b), ranks = maxDiff(b, loadParams(path.join(split, 'params-rank1.safetensors')));
  const md = metricsDiff(full, split);
  console.log(`resume at step 2 (buffered groups per rank: ${buffers.join(', ')}): max parameter difference to the uninterrupted run ${diff}, ` +
    `between ranks ${ranks}; max relative metric difference ${md.worst}`);
  assert.equal(ranks, 0);
  assert.ok(diff <= 1e-6, `resumed vs uninterrupted: ${diff}`);
  assert.ok(md.worst <= 1e-6, md.key);
  assert.deepEqual(readMetrics(path.join(split, 'metrics.jsonl')).map((m) => m.step), [1, 2, 3, 4]);
});

test('a killed rank ends the job with an error: launch reports it, and the survivor stops on its own', { timeout: 200_000 }, async () => {
  // through launch: the job fails naming the rank
  const t0 = performance.now();
  const err = await dist.launch(2, WORKER, [workerArgs(path.join(root, 'kill-launch'), {}, { killAt: { rank: 1, step: 1 } })], {
    timeoutMs: 120_000, threadsPerRank: 1, env: soloEnv(), onLine: () => {},
  }).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof dist.LaunchError, `launch rejects with a LaunchError, got ${String(err)}`);
  assert.equal(err.failedRank, 1);
  assert.equal(err.signal, 'SIGKILL');
  console.log(`launch: ${err.message} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);

  // started by hand: rank 0 notices by itself (timeout 60 s, but a closed connection is seen at once)
  const { ranks } = await spawnRanks(path.join(root, 'kill-solo'), { trainer: { dist_timeout_s: 60 } }, { killAt: { rank: 1, step: 1 } });
  const [p0, p1] = await Promise.all(ranks);
  assert.equal(p1!.signal, 'SIGKILL');
  const error = p0!.out.find((l) => l.startsWith('ERROR '));
  const after = (p0!.at - p1!.at) / 1000;
  console.log(`rank 0 exited with code ${p0!.code} ${after.toFixed(2)} s after rank 1 died: ${error}`);
  assert.equal(p0!.code, 1, p0!.out.join('\n'));
  assert.match(error ?? '', /rank 0 of 2: .* failed at step 2/);
  assert.ok(after < 20, `rank 0 took ${after} s to stop`);
});

test('a hung rank makes the others fail after trainer.dist_timeout_s', { timeout: 200_000 }, async () => {
  const { ranks } = await spawnRanks(path.join(root, 'hang'), { trainer: { dist_timeout_s: 6 } }, { hangAt: { rank: 1, step: 1 } });
  const p0 = await ranks[0]!;
  const error = p0.out.find((l) => l.startsWith('ERROR ')) ?? '';
  for (const c of ranksToKill) c.kill('SIGKILL');
  const p1 = await ranks[1]!;
  const hangLine = p1.out.find((l) => l.startsWith('HANGING '));
  assert.ok(hangLine, p1.out.join('\n'));
  const waited = (performance.timeOrigin + p0.at - Number(hangLine.split(' ')[1])) / 1000;
  console.log(`rank 0 gave up ${waited.toFixed(2)} s after rank 1 hung (timeout 6 s): ${error}`);
  assert.equal(p0.code, 1, p0.out.join('\n'));
  assert.match(error, /rank 0 of 2: .* failed at step 2: .*dist_timeout_s=6/);
  assert.ok(waited >= 5 && waited < 20, `${waited} s`);
  assert.equal(p1.signal, 'SIGKILL', 'rank 1 was still hanging until the test stopped it');
});

test('prime train --nproc 2: the CLI launches the ranks; rank 0 logs and checkpoints; a bad --nproc is refused', { timeout: 200_000 }, async () => {
  const out = path.join(root, 'cli');
  const cfgFile = path.join(root, 'cli.yaml');
  fs.writeFileSync(cfgFile, [
    `model: { path: ${JSON.stringify(modelDir)} }`,
    `data: { train_files: [${JSON.stringify(dataFile)}], max_prompt_length: 96, max_response_length: 8 }`,
    'rollout: { n: 4, batch_prompts: 4, micro_batch: 16 }',
    'filter: { enable: false }',
    'actor: { lr: 0.002, mini_batch: 16, micro_batch: 8 }',
    `trainer: { total_steps: 2, save_every: 0, output_dir: ${JSON.stringify(out)}, threads: 1 }`,
  ].join('\n') + '\n');
  const r = await run([CLI, 'train', cfgFile, '--nproc', '2', 'algorithm.beta=0.5'], soloEnv(), 150_000);
  assert.equal(r.code, 0, r.out.join('\n'));
  assert.ok(r.out.some((l) => l.startsWith('[rank 0] step 2/2')), r.out.join('\n'));
  assert.ok(!r.out.some((l) => l.startsWith('[rank 1]')), `rank 1 prints nothing:\n${r.out.join('\n')}`);
  const m = readMetrics(path.join(out, 'metrics.jsonl'));
  assert.deepEqual(m.map((x) => x.step), [1, 2]);
  assert.ok(m.every((x) => x['batch/sequences'] === 16));
  const ck = latestCheckpoint(path.join(out, 'checkpoints'))!;
  assert.ok(fs.existsSync(path.join(ck, 'ranks', 'rank-00001.json')));

  const bad = await run([CLI, 'train', cfgFile, '--nproc', '3'], soloEnv(), 60_000);
  assert.equal(bad.code, 1);
  assert.match(bad.out.join('\n'), /rollout\.batch_prompts \(4\) must be divisible by --nproc \(3\)/);
});
