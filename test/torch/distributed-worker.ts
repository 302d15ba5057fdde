/**
 * One rank of a distributed test, started by distributed.test.ts (through `launch` or by hand)
 * with the torchrun variables set. argv[2] names the scenario. Results go to stdout as one line
 * `RESULT <json>`; the test compares them with values it computes itself.
 *
 * Run any other way (e.g. picked up by `node --test dist/test/`), it does nothing and exits 0.
 */
import * as torch from '../../src/torch/index.js';
import type { DType, Tensor } from '../../src/torch/index.js';

const dist = torch.distributed;
const scenario = process.argv[2];

/** Rank r's operand for the reduce tests, shared with the test's own expected values. */
export const operand = (r: number): number[] => [1 + r, 2 * r - 1, 3 - 4 * r, 10 * (r + 1)];

const sleep = (ms: number): void => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); };
const result = (v: unknown): void => { process.stdout.write(`RESULT ${JSON.stringify(v)}\n`); };
const errorOf = (f: () => void): string | null => {
  try { f(); return null; } catch (e) { return (e as Error).message; }
};

function reduceDtypes(): void {
  dist.initProcessGroup({ timeoutMs: 20_000 });
  const r = dist.getRank();
  const out: Record<string, Record<string, number[]>> = {};
  const dtypes: DType[] = ['float32', 'float64', 'int64', 'int32', 'float16', 'bfloat16'];
  for (const dtype of dtypes) {
    out[dtype] = {};
    const ops: torch.distributed.ReduceOp[] = ['sum', 'max', 'min', 'product'];
    if (dtype !== 'int64' && dtype !== 'int32') ops.push('avg');
    for (const op of ops) {
      const t = torch.tensor(operand(r), { dtype });
      dist.allReduce(t, op);
      out[dtype]![op] = t.toFlatArray();
      t.dispose();
    }
  }
  // A non-contiguous operand (a transposed 2x2 view) is reduced and written back through the view.
  const base = torch.tensor(operand(r), { dtype: 'float32' }).reshape([2, 2]);
  const view = base.t();
  dist.allReduce(view, 'sum');
  out.transposedView = { sum: base.toFlatArray() };
  const baseBf = torch.tensor(operand(r), { dtype: 'bfloat16' }).reshape([2, 2]);
  dist.allReduce(baseBf.t(), 'sum');
  out.transposedViewBf16 = { sum: baseBf.toFlatArray() };
  // Refused before anything is sent, so the group stays usable.
  const errors = {
    bool: errorOf(() => dist.allReduce(torch.tensor([true, false]), 'max')),
    intAvg: errorOf(() => dist.allReduce(torch.tensor([1, 2], { dtype: 'int64' }), 'avg')),
    badOp: errorOf(() => dist.allReduce(torch.tensor([1]), 'median' as torch.distributed.ReduceOp)),
  };
  const after = torch.tensor([r]);
  dist.allReduce(after);
  result({ rank: r, worldSize: dist.getWorldSize(), out, errors, after: after.toFlatArray() });
  dist.destroyProcessGroup();
}

function collectives(): void {
  dist.initProcessGroup({ timeoutMs: 20_000 });
  const r = dist.getRank();
  // Rank r holds [10r, 10r+1, 10r+2]; broadcast from rank 1.
  const b = torch.tensor([10 * r, 10 * r + 1, 10 * r + 2], { dtype: 'float32' });
  dist.broadcast(b, 1);
  // Dtypes Gloo does not know travel bit for bit.
  const bb = torch.tensor([r === 0, r === 1, true]);
  dist.broadcast(bb, 0);
  const bf = torch.tensor([1.5 + r, -2 - r], { dtype: 'bfloat16' });
  dist.broadcast(bf, 1);
  const i16 = torch.tensor([300 + r, -7 * r], { dtype: 'int16' });
  dist.broadcast(i16, 1);
  const gathered = dist.allGather(torch.tensor([r, 2 * r], { dtype: 'float32' })).map((t) => t.toFlatArray());
  const gathered64 = dist.allGather(torch.tensor([[r + 100]], { dtype: 'int64' })).map((t) => [t.shape, t.dtype, t.toFlatArray()]);
  // Rank 1 enters the barrier 400 ms late; rank 0 must wait for it.
  if (r === 1) sleep(400);
  const t0 = performance.now();
  dist.barrier();
  const barrierMs = performance.now() - t0;
  result({
    rank: r,
    broadcast: b.toFlatArray(), bool: bb.toArray(), bfloat16: bf.toFlatArray(), int16: i16.toFlatArray(),
    gathered, gathered64, barrierMs,
  });
  dist.destroyProcessGroup();
}

/** Gradient-like tensors of several shapes and dtypes, different on each rank. */
function grads(r: number): Tensor[] {
  torch.manualSeed(1234 + r);
  const shapes: number[][] = [[3, 5], [7], [2, 2, 2], [1000], [40_000], [16, 16], [1]];
  const ts = shapes.map((s) => torch.randn(s));
  ts.push(torch.randn([33], { dtype: 'float64' }), torch.randn([21]).to('bfloat16'), torch.randn([5, 3]).t());
  return ts;
}

function bucketed(): void {
  dist.initProcessGroup({ timeoutMs: 20_000 });
  const r = dist.getRank();
  const res: Record<string, unknown> = { rank: r };
  for (const op of ['sum', 'avg'] as const) {
    const ref = grads(r);
    for (const t of ref) dist.allReduce(t, op);
    const gs = grads(r);
    // 16 KiB buckets: the small tensors share buckets, the 160 KB one goes alone.
    const stats = dist.allReduceBucketed(gs, { op, bucketMB: 16 / 1024 });
    let maxDiff = 0;
    for (let i = 0; i < gs.length; i++) {
      const d = gs[i]!.to('float64').sub(ref[i]!.to('float64')).abs().max().item();
      maxDiff = Math.max(maxDiff, d);
    }
    // Independent check of the first tensor: gather both ranks' originals and add them in JS.
    const mine = grads(r)[0]!;
    const [g0, g1] = dist.allGather(mine).map((t) => t.toFlatArray());
    const want = g0!.map((v, i) => (op === 'sum' ? Math.fround(v + g1![i]!) : Math.fround(Math.fround(v + g1![i]!) / 2)));
    const got = gs[0]!.toFlatArray();
    const firstMaxDiff = Math.max(...got.map((v, i) => Math.abs(v - want[i]!)));
    res[op] = { ...stats, maxDiff, firstMaxDiff };
  }
  result(res);
  dist.destroyProcessGroup();
}

/** Both ranks report READY; rank 0 then blocks in an all-reduce rank 1 never joins. The test
 * kills rank 1 ('kill') or leaves it idle ('hang'). */
function stuck(): void {
  const hang = scenario === 'hang';
  dist.initProcessGroup({ timeoutMs: 5000 });
  const r = dist.getRank();
  dist.barrier();
  process.stdout.write('READY\n');
  if (r === 1) {
    setInterval(() => {}, 1000); // idle, alive, until the test kills it
    return;
  }
  const t0 = performance.now();
  const first = errorOf(() => dist.allReduce(torch.ones([1000]), 'sum', hang ? { timeoutMs: 1500 } : {}));
  const elapsedMs = performance.now() - t0;
  const second = errorOf(() => dist.allReduce(torch.ones([4])));
  result({ rank: r, first, second, elapsedMs });
  process.exit(first ? 1 : 0);
}

/** Rank 1 fails after the rendezvous; rank 0 would idle for 60 s if launch did not stop it. */
function fail(): void {
  dist.initProcessGroup({ timeoutMs: 20_000 });
  if (dist.getRank() === 1) {
    process.stderr.write('rank 1 fails on purpose\n');
    process.exit(3);
  }
  process.stdout.write('rank 0 idles\n');
  setTimeout(() => process.exit(0), 60_000);
}

/** The same collectives as distributed_peer.py, for a job that mixes prime-ts and PyTorch ranks. */
function interop(): void {
  dist.initProcessGroup({ timeoutMs: 30_000 });
  const r = dist.getRank();
  const a = dist.allReduce(torch.tensor([1 + r, 10 * r], { dtype: 'float32' }), 'sum');
  const m = dist.allReduce(torch.tensor([r, -r], { dtype: 'int64' }), 'max');
  const b = dist.broadcast(torch.tensor([r, r, r], { dtype: 'float64' }), 1);
  const g = dist.allGather(torch.tensor([r + 0.5]));
  dist.barrier();
  result({ rank: r, sum: a.toFlatArray(), max: m.toFlatArray(), broadcast: b.toFlatArray(), gathered: g.map((t) => t.item()) });
  dist.destroyProcessGroup();
}

const scenarios: Record<string, () => void> = { reduceDtypes, collectives, bucketed, kill: stuck, hang: stuck, fail, interop };
if (scenario && process.env.RANK !== undefined) {
  const run = scenarios[scenario];
  if (!run) throw new Error(`Unknown scenario: ${scenario}`);
  run();
}
