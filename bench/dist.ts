/**
 * All-reduce bandwidth with 2 local ranks over Gloo on loopback, for a few message sizes, then
 * bucketed vs per-tensor all-reduce of a gradient-like list. With Debian's python3-torch present,
 * the same sizes are timed through PyTorch's torch.distributed for comparison (same libtorch).
 *
 *   node dist/bench/dist.js            (launches its own 2 ranks)
 *
 * algbw = bytes / time; busbw = algbw * 2(n-1)/n (nccl-tests' convention: the bytes each rank
 * moves in a ring all-reduce), which equals algbw for n = 2.
 */
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import * as torch from '../src/torch/index.js';

const dist = torch.distributed;
const NPROC = 2;
const SIZES = [4 << 10, 256 << 10, 4 << 20, 64 << 20]; // bytes of float32
const BUDGET_MS = 700; // timed per size (after warm-up), at most 200 iterations

const fmtBytes = (b: number): string => (b >= 1 << 20 ? `${b / (1 << 20)} MiB` : `${b / 1024} KiB`);

function rank(): void {
  dist.initProcessGroup({ timeoutMs: 60_000 });
  const r = dist.getRank();
  const n = dist.getWorldSize();
  const rows: string[] = [];
  for (const bytes of SIZES) {
    const t = torch.ones([bytes / 4]);
    const { ms, iters } = timeItSync(() => dist.allReduce(t, 'sum'));
    const algbw = bytes / (ms / 1000) / 1e9;
    rows.push(`${fmtBytes(bytes).padStart(9)}  ${ms.toFixed(3).padStart(9)} ms  algbw ${algbw.toFixed(3).padStart(7)} GB/s  busbw ${(algbw * 2 * (n - 1) / n).toFixed(3).padStart(7)} GB/s  (${iters} iters)`);
    t.dispose();
  }
  // 24 MiB of gradients in 96 tensors of 64K floats (plus small ones): bucketed vs one call each.
  const grads = [...Array.from({ length: 96 }, () => torch.ones([65_536])), ...Array.from({ length: 64 }, () => torch.ones([64]))];
  const per = timeItSync(() => { for (const g of grads) dist.allReduce(g, 'sum'); });
  let stats = { buckets: 0, bytes: 0 };
  const buck = timeItSync(() => { stats = dist.allReduceBucketed(grads, { op: 'sum' }); });
  let stats4 = { buckets: 0, bytes: 0 };
  const buck4 = timeItSync(() => { stats4 = dist.allReduceBucketed(grads, { op: 'sum', bucketMB: 4 }); });
  if (r === 0) {
    console.log(`all-reduce (Gloo, ${n} ranks, loopback, float32):`);
    for (const row of rows) console.log('  ' + row);
    console.log(`gradients: ${grads.length} tensors, ${(stats.bytes / (1 << 20)).toFixed(2)} MiB per rank`);
    console.log(`  per-tensor allReduce    ${per.ms.toFixed(2).padStart(8)} ms/step  ${(stats.bytes / (per.ms / 1000) / 1e9).toFixed(3)} GB/s`);
    console.log(`  allReduceBucketed 25MiB ${buck.ms.toFixed(2).padStart(8)} ms/step  ${(stats.bytes / (buck.ms / 1000) / 1e9).toFixed(3)} GB/s  (${stats.buckets} bucket(s) of <= 25 MiB)`);
    console.log(`  allReduceBucketed 4MiB  ${buck4.ms.toFixed(2).padStart(8)} ms/step  ${(stats.bytes / (buck4.ms / 1000) / 1e9).toFixed(3)} GB/s  (${stats4.buckets} buckets of <= 4 MiB)`);
  }
  dist.destroyProcessGroup();
}

/** Times `fn` on every rank the same number of times (the count agreed before timing). */
function timeItSync(fn: () => void): { ms: number; iters: number } {
  // A trial run sets the count so the timed run takes about BUDGET_MS; ranks agree on it.
  const trial = timeItTrial(fn);
  const want = torch.tensor([Math.max(3, Math.min(200, Math.round(BUDGET_MS / Math.max(trial, 1e-3))))], { dtype: 'int64' });
  dist.allReduce(want, 'min');
  const iters = want.item() as number;
  dist.barrier();
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) fn();
  dist.barrier();
  return { ms: (performance.now() - t0) / iters, iters };
}
function timeItTrial(fn: () => void): number {
  fn(); // warm-up
  const t0 = performance.now();
  fn();
  fn();
  return (performance.now() - t0) / 2;
}

/** The same sizes through PyTorch (2 python ranks), if Debian's python3-torch is installed. */
const PY = `
import os, time, torch, torch.distributed as dist
dist.init_process_group("gloo")
n = dist.get_world_size()
for b in [${SIZES.join(', ')}]:
    t = torch.ones(b // 4)
    dist.all_reduce(t); dist.all_reduce(t)
    t0 = time.perf_counter(); dist.all_reduce(t); dist.all_reduce(t); trial = (time.perf_counter() - t0) / 2
    it = torch.tensor([max(3, min(200, round(${BUDGET_MS / 1000} / max(trial, 1e-6))))])
    dist.all_reduce(it, op=dist.ReduceOp.MIN); it = int(it.item())
    dist.barrier(); t0 = time.perf_counter()
    for _ in range(it): dist.all_reduce(t)
    dist.barrier(); ms = (time.perf_counter() - t0) / it * 1000
    if dist.get_rank() == 0:
        print(f"  {b:>9} B  {ms:9.3f} ms  algbw {b / (ms / 1000) / 1e9:7.3f} GB/s  ({it} iters)", flush=True)
dist.destroy_process_group()
`;

async function pytorchReference(): Promise<void> {
  const python = '/usr/bin/python3';
  if (spawnSync(python, ['-c', 'import torch.distributed']).status !== 0) {
    console.log('(PyTorch reference skipped: python3-torch not installed)');
    return;
  }
  console.log('PyTorch torch.distributed, same machine and sizes:');
  const port = await dist.freePort();
  const procs = Array.from({ length: NPROC }, (_, r) => spawn(python, ['-c', PY], {
    env: { ...process.env, MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), RANK: String(r), WORLD_SIZE: String(NPROC), GLOO_SOCKET_IFNAME: 'lo',
      OMP_NUM_THREADS: String(Math.max(1, Math.floor(os.availableParallelism() / NPROC))) },
    stdio: ['ignore', r === 0 ? 'inherit' : 'ignore', 'inherit'],
  }));
  await Promise.all(procs.map((p) => new Promise((res) => p.on('close', res))));
}

if (process.env.RANK !== undefined) {
  rank();
} else {
  await dist.launch(NPROC, fileURLToPath(import.meta.url), [], { onLine: (r, s, line) => (s === 'stdout' ? console.log(line) : console.error(`[rank ${r}] ${line}`)) });
  await pytorchReference();
}
