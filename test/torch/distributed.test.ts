/**
 * torch.distributed on loopback: each multi-rank test starts 2 node processes running
 * distributed-worker.js and checks what they report against values computed here in plain JS.
 * Every test is bounded by a timeout; the failure tests bound how long a rank may take to notice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../../src/torch/index.js';
import { operand } from './distributed-worker.js';

const dist = torch.distributed;
const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'distributed-worker.js');
const WORLD = 2;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Result = any;

/** Runs a scenario on WORLD ranks through `launch`; returns each rank's RESULT. */
async function runScenario(name: string): Promise<Result[]> {
  const log: string[] = [];
  const results: Result[] = [];
  try {
    await dist.launch(WORLD, WORKER, [name], {
      timeoutMs: 60_000,
      onLine: (rank, stream, line) => {
        log.push(`[rank ${rank} ${stream}] ${line}`);
        if (line.startsWith('RESULT ')) results[rank] = JSON.parse(line.slice(7));
      },
    });
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${log.join('\n')}`);
  }
  assert.equal(results.filter(Boolean).length, WORLD, `every rank reports a result:\n${log.join('\n')}`);
  return results;
}

/** Elementwise reduction of the ranks' operands, computed here. */
function expected(op: string): number[] {
  const xs = Array.from({ length: WORLD }, (_, r) => operand(r));
  return xs[0]!.map((_, i) => {
    const col = xs.map((x) => x[i]!);
    switch (op) {
      case 'sum': return col.reduce((a, b) => a + b, 0);
      case 'avg': return col.reduce((a, b) => a + b, 0) / WORLD;
      case 'max': return Math.max(...col);
      case 'min': return Math.min(...col);
      case 'product': return col.reduce((a, b) => a * b, 1);
      default: throw new Error(op);
    }
  });
}

test('allReduce: sum/avg/max/min/product over float32, float64, int64, int32, float16, bfloat16', { timeout: 60_000 }, async () => {
  const results = await runScenario('reduceDtypes');
  for (const res of results) {
    assert.equal(res.worldSize, WORLD);
    for (const dtype of ['float32', 'float64', 'int64', 'int32', 'float16', 'bfloat16']) {
      const ops = dtype.startsWith('int') ? ['sum', 'max', 'min', 'product'] : ['sum', 'avg', 'max', 'min', 'product'];
      for (const op of ops) assert.deepEqual(res.out[dtype][op], expected(op), `rank ${res.rank} ${dtype} ${op}`);
    }
    // The transposed view was reduced elementwise and written back into its base.
    assert.deepEqual(res.out.transposedView.sum, expected('sum'));
    assert.deepEqual(res.out.transposedViewBf16.sum, expected('sum'));
    assert.match(res.errors.bool, /gloo cannot reduce bool/);
    assert.match(res.errors.intAvg, /avg needs a floating-point tensor, got int64/);
    assert.match(res.errors.badOp, /Unknown reduce op: median/);
    assert.deepEqual(res.after, [0 + 1], 'the group still works after refused calls');
  }
});

test('broadcast (incl. bool, bfloat16, int16 moved bit for bit), allGather, barrier', { timeout: 60_000 }, async () => {
  const results = await runScenario('collectives');
  for (const res of results) {
    assert.deepEqual(res.broadcast, [10, 11, 12], `rank ${res.rank} has rank 1's tensor`);
    assert.deepEqual(res.bool, [true, false, true], "rank 0's bool tensor");
    assert.deepEqual(res.bfloat16, [2.5, -3], "rank 1's bfloat16 tensor");
    assert.deepEqual(res.int16, [301, -7], "rank 1's int16 tensor");
    assert.deepEqual(res.gathered, [[0, 0], [1, 2]]);
    assert.deepEqual(res.gathered64, [[[1, 1], 'int64', [100]], [[1, 1], 'int64', [101]]]);
  }
  // Rank 1 arrived 400 ms late; rank 0 waited for it (minus its own start-up lag, bounded).
  assert.ok(results[0].barrierMs > 200, `rank 0 waited ${results[0].barrierMs.toFixed(0)} ms in the barrier`);
});

test('bucketed allReduce of gradients equals per-tensor allReduce', { timeout: 60_000 }, async () => {
  const results = await runScenario('bucketed');
  for (const res of results) {
    for (const op of ['sum', 'avg']) {
      const r = res[op];
      console.log(`rank ${res.rank} ${op}: ${r.buckets} buckets, ${r.bytes} bytes, max |bucketed - per-tensor| = ${r.maxDiff}, ` +
        `max |bucketed - JS sum| (first tensor) = ${r.firstMaxDiff}`);
      assert.equal(r.maxDiff, 0, 'same bits as reducing each tensor alone');
      assert.equal(r.firstMaxDiff, 0, 'same as adding the gathered operands in JS');
      // 16 KiB buckets: float32 ones (the 160 KB tensor alone), one float64, one bfloat16.
      assert.ok(r.buckets >= 4 && r.buckets < 10, `${r.buckets} buckets`);
      // 7 float32 tensors + the transposed one: (15+7+8+1000+40000+256+1+15)*4; 33*8; 21*2.
      assert.equal(r.bytes, (15 + 7 + 8 + 1000 + 40_000 + 256 + 1 + 15) * 4 + 33 * 8 + 21 * 2);
    }
  }
});

interface Rank { child: ChildProcess; out: string[]; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }> }

/** Starts WORLD ranks of a scenario by hand (not through launch, which would stop the
 * survivors itself). */
async function spawnRanks(scenario: string, commands?: string[][], extraEnv: NodeJS.ProcessEnv = {}): Promise<Rank[]> {
  const port = await dist.freePort();
  return Array.from({ length: WORLD }, (_, rank) => {
    const [cmd, ...argv] = commands?.[rank] ?? [process.execPath, WORKER, scenario];
    const child = spawn(cmd!, argv, {
      env: { ...process.env, PRIME_NUM_THREADS: '1', OMP_NUM_THREADS: '1', ...extraEnv, MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), RANK: String(rank), WORLD_SIZE: String(WORLD), LOCAL_RANK: String(rank) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: string[] = [];
    child.stdout!.on('data', (d: Buffer) => out.push(...d.toString().split('\n').filter(Boolean)));
    child.stderr!.on('data', (d: Buffer) => out.push(...d.toString().split('\n').filter(Boolean).map((l) => `stderr: ${l}`)));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal, at: performance.now() })));
    return { child, out, exited };
  });
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const resultOf = (r: Rank): Result => {
  const line = r.out.find((l) => l.startsWith('RESULT '));
  assert.ok(line, `no RESULT in:\n${r.out.join('\n')}`);
  return JSON.parse(line.slice(7));
};

test('a killed rank makes the other fail with an error within 5 s, not hang', { timeout: 60_000 }, async () => {
  const ranks = await spawnRanks('kill');
  try {
    await until(() => ranks.every((r) => r.out.includes('READY')), 30_000, 'both ranks READY');
    await new Promise((r) => setTimeout(r, 200)); // let rank 0 enter its all-reduce
    const killedAt = performance.now();
    ranks[1]!.child.kill('SIGKILL');
    const e0 = await ranks[0]!.exited;
    const res = resultOf(ranks[0]!);
    const noticedMs = e0.at - killedAt;
    console.log(`rank 0 exited ${noticedMs.toFixed(0)} ms after rank 1 was killed: ${res.first}`);
    assert.equal(e0.code, 1, `rank 0 exit code:\n${ranks[0]!.out.join('\n')}`);
    assert.match(res.first, /distributed\.allReduce failed on rank 0 of 2/);
    assert.match(res.second, /failed earlier and cannot be used/);
    assert.ok(noticedMs < 5000 + 2000, `noticed after ${noticedMs} ms`);
  } finally {
    for (const r of ranks) r.child.kill('SIGKILL');
  }
});

test('a rank that hangs makes the other time out with an error (1.5 s timeout)', { timeout: 60_000 }, async () => {
  const ranks = await spawnRanks('hang');
  try {
    await until(() => ranks.every((r) => r.out.includes('READY')), 30_000, 'both ranks READY');
    const e0 = await ranks[0]!.exited;
    const res = resultOf(ranks[0]!);
    console.log(`rank 0 gave up after ${res.elapsedMs.toFixed(0)} ms: ${res.first}`);
    assert.equal(e0.code, 1, ranks[0]!.out.join('\n'));
    assert.match(res.first, /distributed\.allReduce failed on rank 0 of 2 \(timeout 1500 ms\)/);
    assert.match(res.first, /time/i);
    assert.ok(res.elapsedMs >= 1400 && res.elapsedMs < 5000, `${res.elapsedMs} ms`);
    assert.match(res.second, /failed earlier/);
    assert.equal(ranks[1]!.child.exitCode, null, 'rank 1 was alive all along');
  } finally {
    for (const r of ranks) r.child.kill('SIGKILL');
  }
});

test('launch: a failing rank stops the others and is reported', { timeout: 60_000 }, async () => {
  const lines: string[] = [];
  const t0 = performance.now();
  const err = await dist.launch(WORLD, WORKER, ['fail'], {
    timeoutMs: 50_000,
    killGraceMs: 1000,
    onLine: (rank, stream, line) => lines.push(`${rank} ${stream} ${line}`),
  }).then(() => null, (e: unknown) => e);
  const ms = performance.now() - t0;
  assert.ok(err instanceof dist.LaunchError, `rejects with a LaunchError, got ${String(err)}`);
  assert.equal(err.failedRank, 1);
  assert.equal(err.exitCode, 3);
  assert.match(err.message, /rank 1 of 2 exited with code 3; stopped the other ranks/);
  assert.ok(lines.includes('1 stderr rank 1 fails on purpose'), lines.join('\n'));
  assert.ok(lines.includes('0 stdout rank 0 idles'), lines.join('\n'));
  assert.ok(ms < 30_000, `rank 0 (idling 60 s) was stopped; took ${ms.toFixed(0)} ms`);
});

test('launch: sets the torchrun variables and resolves when all ranks exit 0', { timeout: 30_000 }, async () => {
  const lines: string[] = [];
  const script = path.join(path.dirname(WORKER), 'distributed-env.js');
  const res = await dist.launch(3, script, ['x'], { threadsPerRank: 1, onLine: (rank, _s, line) => lines.push(`${rank}:${line}`) });
  assert.equal(res.nproc, 3);
  const envs = lines.map((l) => JSON.parse(l.slice(2)));
  envs.sort((a, b) => a.RANK - b.RANK);
  envs.forEach((e, r) => {
    assert.deepEqual(e, {
      MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(res.masterPort), RANK: String(r), WORLD_SIZE: '3',
      LOCAL_RANK: String(r), LOCAL_WORLD_SIZE: '3', PRIME_NUM_THREADS: '1', OMP_NUM_THREADS: '1', argv: ['x'],
    });
  });
});

// PyTorch from PRIME_PYTHON (default .venv/bin/python: PyPI's torch 2.x): a PyTorch rank is an
// independent implementation of the other end of every collective (c10d's TCPStore and Gloo
// wire protocols). A Python without torch fails the test with the reason.
const PEER = path.resolve(path.dirname(WORKER), '../../../test/torch/distributed_peer.py');
const PYTHON = process.env.PRIME_PYTHON ?? path.resolve(path.dirname(PEER), '../../.venv/bin/python');
const pyTorch = spawnSync(PYTHON, ['-c', 'import torch, torch.distributed as d; assert d.is_available(); print(torch.__version__)'], { encoding: 'utf8' });

// The store layout and init sequence of init_process_group changed in torch 2.x (keys under
// "default_pg/0//cpu//" instead of "default_pg/0/", no init barrier or sequence number by default),
// and the addon follows the layout of the libtorch it is built on: a 1.13 build cannot join a job
// whose PyTorch rank is 2.x. The test then runs on the libtorch-2 build (make test-libtorch2).
const major = (v: string) => v.split('.')[0];
const versionSkip = pyTorch.status === 0 && major(pyTorch.stdout.trim()) !== major(torch.version().libtorch)
  ? `the Python peer is torch ${pyTorch.stdout.trim()} and this addon libtorch ${torch.version().libtorch}: c10d's init_process_group store layout differs between 1.x and 2.x (runs on the libtorch-2 build)`
  : false;

test('interop: a prime-ts rank and a PyTorch rank in one job', { timeout: 90_000, skip: versionSkip }, async () => {
  if (pyTorch.status !== 0) assert.fail(`the interop test needs Python with torch.distributed: ${PYTHON}: ${pyTorch.error?.message ?? pyTorch.stderr} (run \`make venv\` or set PRIME_PYTHON)`);
  console.log(`peer: PyTorch ${pyTorch.stdout.trim()} (${PYTHON}); prime-ts rank on libtorch ${torch.version().libtorch}`);
  const ranks = await spawnRanks('interop', [[process.execPath, WORKER, 'interop'], [PYTHON, PEER]], { GLOO_SOCKET_IFNAME: 'lo' });
  try {
    const exits = await Promise.all(ranks.map((r) => r.exited));
    exits.forEach((e, i) => assert.equal(e.code, 0, `rank ${i}:\n${ranks[i]!.out.join('\n')}`));
    const want = { sum: [3, 10], max: [1, 0], broadcast: [1, 1, 1], gathered: [0.5, 1.5] };
    ranks.forEach((r, i) => assert.deepEqual(resultOf(r), { rank: i, ...want }, i === 0 ? 'prime-ts rank' : 'PyTorch rank'));
  } finally {
    for (const r of ranks) r.child.kill('SIGKILL');
  }
});

// ---------------------------------------------------------------- in this process

test('in process: clear errors without a group, and a 1-rank group', { timeout: 30_000 }, async () => {
  assert.equal(dist.isInitialized(), false);
  assert.ok(dist.availableBackends().includes('gloo'));
  assert.throws(() => dist.getRank(), /call initProcessGroup\(\) first/);
  assert.throws(() => dist.allReduce(torch.ones([2])), /distributed\.allReduce: no process group/);
  const saved = { ...process.env };
  try {
    for (const k of ['RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT']) delete process.env[k];
    assert.throws(() => dist.initProcessGroup(), /rank not given and RANK is not set/);
    process.env.RANK = 'one';
    assert.throws(() => dist.initProcessGroup(), /RANK must be a non-negative integer, got "one"/);
  } finally {
    process.env = saved;
  }
  assert.throws(() => dist.initProcessGroup({ backend: 'mpi' as 'gloo', rank: 0, worldSize: 1, masterAddr: '127.0.0.1', masterPort: 1 }), /Unknown distributed backend: mpi/);
  assert.throws(() => dist.initProcessGroup({ rank: 2, worldSize: 2, masterAddr: '127.0.0.1', masterPort: 1 }), /rank must be in \[0, 2\)/);

  // Rank 0 of 2 alone: the rendezvous gives up at the timeout instead of waiting forever.
  const lonely = await dist.freePort();
  const t0 = performance.now();
  assert.throws(() => dist.initProcessGroup({ rank: 0, worldSize: 2, masterAddr: '127.0.0.1', masterPort: lonely, timeoutMs: 1000 }),
    /initProcessGroup: .*failed on rank 0 of 2.*timeout 1000 ms/);
  const waited = performance.now() - t0;
  assert.ok(waited >= 900 && waited < 5000, `gave up after ${waited.toFixed(0)} ms`);
  assert.equal(dist.isInitialized(), false);

  const port = await dist.freePort();
  dist.initProcessGroup({ rank: 0, worldSize: 1, masterAddr: '127.0.0.1', masterPort: port, timeoutMs: 10_000 });
  try {
    assert.equal(dist.isInitialized(), true);
    assert.equal(dist.getRank(), 0);
    assert.equal(dist.getWorldSize(), 1);
    assert.equal(dist.getBackend(), 'gloo');
    assert.throws(() => dist.initProcessGroup({ rank: 0, worldSize: 1, masterAddr: '127.0.0.1', masterPort: port }), /already initialized/);
    const t = torch.tensor([1.5, -2]);
    assert.deepEqual(dist.allReduce(t, 'avg').toFlatArray(), [1.5, -2]);
    assert.deepEqual(dist.allGather(t).map((x) => x.toFlatArray()), [[1.5, -2]]);
    dist.barrier({ timeoutMs: 1000 });
    assert.throws(() => dist.broadcast(t, 1), /src must be in \[0, 1\)/);
    // Gradients of a leaf that requires grad can be reduced in place.
    const w = torch.ones([3], { requiresGrad: true });
    w.sum().backward();
    dist.allReduceBucketed([w.grad!], { op: 'avg' });
    assert.deepEqual(w.grad!.toFlatArray(), [1, 1, 1]);
    dist.allReduce(w, 'sum');
    assert.deepEqual(w.toFlatArray(), [1, 1, 1]);
  } finally {
    dist.destroyProcessGroup();
  }
  assert.equal(dist.isInitialized(), false);
  dist.destroyProcessGroup(); // idempotent
});
