/**
 * Data-parallel communication: PyTorch's own distributed engine (c10d) bound from libtorch —
 * TCPStore rendezvous and a process group (Gloo on CPU; NCCL when libtorch has CUDA).
 *
 * Rendezvous is torchrun's: `MASTER_ADDR`, `MASTER_PORT`, `RANK`, `WORLD_SIZE` (and `LOCAL_RANK`)
 * from the environment, or given explicitly. Rank 0 hosts the store. The store keys follow
 * `torch.distributed.init_process_group`, so prime-ts ranks and PyTorch ranks can share a job.
 *
 * Every collective works in place (like PyTorch's) and blocks until it is done. A timeout or a
 * peer that died becomes a thrown Error naming the operation and rank; after that the group is
 * unusable (later calls throw at once) and the process should exit — the usual reaction in a
 * data-parallel job, where `launch()` then stops the other ranks.
 *
 * `launch(nproc, script)` starts N local ranks as child processes with those variables set
 * (what `prime train --nproc N` builds on).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { N, nativeAvailable } from './native.js';
import { wrap, type Device, type Tensor } from './tensor.js';
import { noGrad } from './autograd.js';

export type Backend = 'gloo' | 'nccl';
/** `avg` is a sum divided by the world size (floating-point tensors only). */
export type ReduceOp = 'sum' | 'avg' | 'max' | 'min' | 'product';

/** PyTorch's default process-group timeout (`default_pg_timeout`, 30 min). A lost connection
 * is reported at once; the timeout bounds a peer that hangs without dying. */
export const DEFAULT_TIMEOUT_MS = 30 * 60_000;
/** Gradient bucket size in MB: DDP's `bucket_cap_mb` default. */
export const DEFAULT_BUCKET_MB = 25;

export interface InitOptions {
  /** 'gloo' (CPU tensors; default) or 'nccl' (CUDA tensors; only in a CUDA build). */
  backend?: Backend;
  /** Default: env RANK. */
  rank?: number;
  /** Default: env WORLD_SIZE. */
  worldSize?: number;
  /** Host of rank 0's store. Default: env MASTER_ADDR. */
  masterAddr?: string;
  /** Port of rank 0's store. Default: env MASTER_PORT. */
  masterPort?: number;
  /** Bounds the rendezvous and every collective that does not give its own. Default 30 min. */
  timeoutMs?: number;
}

export interface CollectiveOptions {
  /** Overrides the group's timeout for this call. */
  timeoutMs?: number;
}

interface DistNative {
  initProcessGroup(backend: string, rank: number, worldSize: number, addr: string, port: number, timeoutMs: number): void;
  destroyProcessGroup(): void;
  isInitialized(): boolean;
  getRank(): number;
  getWorldSize(): number;
  getBackend(): Backend;
  backends(): Backend[];
  allReduce(t: unknown, op: ReduceOp, timeoutMs: number | null): void;
  allReduceBucketed(ts: unknown[], op: ReduceOp, bucketBytes: number, timeoutMs: number | null): { buckets: number; bytes: number };
  broadcast(t: unknown, src: number, timeoutMs: number | null): void;
  allGather(t: unknown, timeoutMs: number | null): unknown[];
  barrier(timeoutMs: number | null): void;
}
// without the addon, N itself throws on use (NativeAddonError); importing still works
const D = (nativeAvailable ? N.dist : N) as DistNative;

const OPS: readonly ReduceOp[] = ['sum', 'avg', 'max', 'min', 'product'];

function envInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v.trim())) throw new Error(`distributed: environment variable ${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

/** The torchrun variables of `env` that are set (integers parsed and checked). */
export function envConfig(env: NodeJS.ProcessEnv = process.env): {
  masterAddr?: string; masterPort?: number; rank?: number; worldSize?: number; localRank?: number;
} {
  return {
    masterAddr: env.MASTER_ADDR || undefined,
    masterPort: envInt(env, 'MASTER_PORT'),
    rank: envInt(env, 'RANK'),
    worldSize: envInt(env, 'WORLD_SIZE'),
    localRank: envInt(env, 'LOCAL_RANK'),
  };
}

/** The backends this build of the addon can create. */
export const availableBackends = (): Backend[] => D.backends();

/**
 * Joins the job: rank 0 starts the store at masterAddr:masterPort, every rank connects and
 * builds its process group; returns once all `worldSize` ranks have. Each field falls back to
 * its torchrun environment variable; a missing one is an error naming it.
 */
export function initProcessGroup(opts: InitOptions = {}): void {
  const env = envConfig();
  const need = <T>(v: T | undefined, field: string, variable: string): T => {
    if (v === undefined)
      throw new Error(`distributed.initProcessGroup: ${field} not given and ${variable} is not set ` +
        '(set the torchrun variables MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, or start the ranks with launch())');
    return v;
  };
  const backend = opts.backend ?? 'gloo';
  if (backend !== 'gloo' && backend !== 'nccl') throw new Error(`Unknown distributed backend: ${String(backend)} (expected gloo or nccl)`);
  const rank = need(opts.rank ?? env.rank, 'rank', 'RANK');
  const worldSize = need(opts.worldSize ?? env.worldSize, 'worldSize', 'WORLD_SIZE');
  const masterAddr = need(opts.masterAddr ?? env.masterAddr, 'masterAddr', 'MASTER_ADDR');
  const masterPort = need(opts.masterPort ?? env.masterPort, 'masterPort', 'MASTER_PORT');
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  for (const [k, v] of Object.entries({ rank, worldSize, masterPort, timeoutMs }))
    if (!Number.isInteger(v)) throw new TypeError(`distributed.initProcessGroup: ${k} must be an integer, got ${v}`);
  D.initProcessGroup(backend, rank, worldSize, masterAddr, masterPort, timeoutMs);
}

/** Leaves the job and frees the group. Call it on every rank once all are done (rank 0 hosts the
 * store). A no-op when no group exists. */
export const destroyProcessGroup = (): void => D.destroyProcessGroup();
export const isInitialized = (): boolean => D.isInitialized();
export const getRank = (): number => D.getRank();
export const getWorldSize = (): number => D.getWorldSize();
export const getBackend = (): Backend => D.getBackend();
/** This rank's index on its machine: env LOCAL_RANK, else the global rank. */
export const getLocalRank = (): number => envConfig().localRank ?? D.getRank();

const timeoutArg = (o: CollectiveOptions): number | null => o.timeoutMs ?? null;
function checkOp(op: ReduceOp): void {
  if (!OPS.includes(op)) throw new Error(`Unknown reduce op: ${String(op)} (expected ${OPS.join(', ')})`);
}

/**
 * Reduces `t` in place across all ranks (every rank ends with the result) and returns it.
 * Gloo reduces float32/64, float16, int64/32, int8, uint8; bfloat16 is reduced in float32 and
 * rounded back once; other dtypes (bool, int16) throw.
 */
export function allReduce(t: Tensor, op: ReduceOp = 'sum', opts: CollectiveOptions = {}): Tensor {
  checkOp(op);
  staged([t], (hs) => D.allReduce(hs[0]!.handle, op, timeoutArg(opts)));
  return t;
}

/**
 * Gloo reduces host memory: a GPU tensor given to a Gloo group is copied to the CPU, reduced there
 * and copied back in place (PyTorch's ProcessGroupGloo stages CUDA tensors the same way). NCCL
 * takes GPU tensors as they are and refuses CPU ones. Runs `fn` on the tensors to send.
 */
function staged<R>(ts: Tensor[], fn: (hs: Tensor[]) => R): R {
  const backend = D.isInitialized() ? D.getBackend() : 'gloo';
  if (backend === 'nccl') {
    const cpu = ts.find((t) => t.device === 'cpu');
    if (cpu) throw new Error('distributed: the nccl backend takes CUDA tensors, got one on cpu (use gloo for CPU tensors)');
    return fn(ts);
  }
  if (ts.every((t) => t.device === 'cpu')) return fn(ts);
  const host = ts.map((t) => (t.device === 'cpu' ? t : t.to('cpu')));
  try {
    const r = fn(host);
    noGrad(() => ts.forEach((t, i) => host[i] !== t && t.copy_(host[i]!))); // results back in place
    return r;
  } finally {
    host.forEach((h, i) => h !== ts[i] && h.dispose());
  }
}

export interface BucketOptions extends CollectiveOptions {
  op?: ReduceOp;
  /** Largest bucket in MB (2^20 bytes); default 25. A tensor larger than that is sent alone. */
  bucketMB?: number;
}

/**
 * All-reduces a list of tensors (gradients) in place, packed into flat buckets per dtype so a few
 * large messages replace many small ones. Every rank must pass the same shapes and dtypes in the
 * same order. Returns how many buckets were sent and the bytes reduced per rank.
 */
export function allReduceBucketed(ts: Tensor[], opts: BucketOptions = {}): { buckets: number; bytes: number } {
  const op = opts.op ?? 'sum';
  checkOp(op);
  const mb = opts.bucketMB ?? DEFAULT_BUCKET_MB;
  if (!(mb > 0)) throw new RangeError(`distributed.allReduceBucketed: bucketMB must be positive, got ${mb}`);
  return staged(ts, (hs) => D.allReduceBucketed(hs.map((t) => t.handle), op, Math.max(1, Math.round(mb * 2 ** 20)), timeoutArg(opts)));
}

/** Copies rank `src`'s `t` into `t` on every rank (in place) and returns it. Any dtype. */
export function broadcast(t: Tensor, src = 0, opts: CollectiveOptions = {}): Tensor {
  staged([t], (hs) => D.broadcast(hs[0]!.handle, src, timeoutArg(opts)));
  return t;
}

/** Every rank's `t` (same shape and dtype on all), in rank order, as new tensors. Any dtype. */
export function allGather(t: Tensor, opts: CollectiveOptions = {}): Tensor[] {
  const out = staged([t], (hs) => D.allGather(hs[0]!.handle, timeoutArg(opts)).map((h) => wrap(h as Tensor['handle'])));
  if (t.device === 'cpu' || out.every((o) => o.device === t.device)) return out;
  return out.map((o) => { const d = o.to(t.device as Device); o.dispose(); return d; });
}

/** Returns once every rank has called it. */
export function barrier(opts: CollectiveOptions = {}): void {
  D.barrier(timeoutArg(opts));
}

// ---------------------------------------------------------------- launcher

export interface LaunchOptions {
  /** Default 127.0.0.1 (one machine). */
  masterAddr?: string;
  /** Default: a free port on masterAddr. */
  masterPort?: number;
  /** Extra environment for every rank (on top of this process's). */
  env?: NodeJS.ProcessEnv;
  /** Intra-op threads per rank (PRIME_NUM_THREADS and OMP_NUM_THREADS), unless the environment
   * sets them. Default: this machine's cores / nproc, at least 1 — as torchrun, because N ranks
   * each spinning up all-core OpenMP teams oversubscribe the CPU (a 24 MiB cat took 0.3–2 s
   * instead of 10–40 ms with 2 ranks × 2 threads on 2 cores). */
  threadsPerRank?: number;
  /** Node flags placed before the script (default none). */
  nodeArgs?: string[];
  /** Receives each output line; default writes `[rank r] line` to this process's stdout/stderr. */
  onLine?: (rank: number, stream: 'stdout' | 'stderr', line: string) => void;
  /** After a failure the others get SIGTERM, then SIGKILL after this many ms (default 3000). */
  killGraceMs?: number;
  /** Stops the whole job after this many ms (default: no limit). */
  timeoutMs?: number;
}

export interface LaunchResult {
  nproc: number;
  masterPort: number;
  elapsedMs: number;
}

/** Why a launched job failed: the first rank to exit badly (null when the job timed out or was
 * interrupted), with its exit code or signal. */
export class LaunchError extends Error {
  constructor(
    message: string,
    readonly failedRank: number | null,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
  ) {
    super(message);
    this.name = 'LaunchError';
  }
}

/** A TCP port that was free on `host` a moment ago (the OS picks it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function lineSplitter(emit: (line: string) => void): { push: (chunk: Buffer) => void; end: () => void } {
  let rest = '';
  return {
    push(chunk) {
      rest += chunk.toString('utf8');
      let i: number;
      while ((i = rest.indexOf('\n')) >= 0) {
        emit(rest.slice(0, i));
        rest = rest.slice(i + 1);
      }
    },
    end() {
      if (rest) emit(rest);
      rest = '';
    },
  };
}

/**
 * Starts `nproc` ranks of `node scriptPath ...args` on this machine with the torchrun variables
 * set (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE; and a share of the
 * cores, see `threadsPerRank`), forwarding their
 * output line by line with a rank prefix. Resolves when all ranks exit 0. If a rank exits non-zero
 * or by a signal, the others are stopped and the promise rejects with a LaunchError naming that
 * rank. SIGINT/SIGTERM to this process while the job runs stop the ranks too.
 */
export async function launch(nproc: number, scriptPath: string, args: string[] = [], opts: LaunchOptions = {}): Promise<LaunchResult> {
  if (!Number.isInteger(nproc) || nproc < 1) throw new RangeError(`launch: nproc must be a positive integer, got ${nproc}`);
  const masterAddr = opts.masterAddr ?? '127.0.0.1';
  const masterPort = opts.masterPort ?? (await freePort(masterAddr));
  const grace = opts.killGraceMs ?? 3000;
  const onLine = opts.onLine ?? ((rank, stream, line) => {
    (stream === 'stdout' ? process.stdout : process.stderr).write(`[rank ${rank}] ${line}\n`);
  });
  const threads = String(opts.threadsPerRank ?? Math.max(1, Math.floor(os.availableParallelism() / nproc)));
  const t0 = Date.now();

  return new Promise<LaunchResult>((resolve, reject) => {
    const children: ChildProcess[] = [];
    let running = nproc;
    let failure: LaunchError | null = null;
    let killTimer: NodeJS.Timeout | undefined;
    let jobTimer: NodeJS.Timeout | undefined;

    const stopAll = (why: LaunchError): void => {
      if (failure) return;
      failure = why;
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      killTimer = setTimeout(() => {
        for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      }, grace);
    };
    const onSignal = (sig: NodeJS.Signals): void => stopAll(new LaunchError(`launch: interrupted by ${sig}; stopped all ranks`, null, null, sig));
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const done = (): void => {
      clearTimeout(killTimer);
      clearTimeout(jobTimer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (failure) reject(failure);
      else resolve({ nproc, masterPort, elapsedMs: Date.now() - t0 });
    };

    for (let rank = 0; rank < nproc; rank++) {
      const base: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
      for (const k of ['PRIME_NUM_THREADS', 'OMP_NUM_THREADS']) if (opts.threadsPerRank !== undefined || !base[k]) base[k] = threads;
      const env = {
        ...base,
        MASTER_ADDR: masterAddr, MASTER_PORT: String(masterPort),
        RANK: String(rank), WORLD_SIZE: String(nproc), LOCAL_RANK: String(rank), LOCAL_WORLD_SIZE: String(nproc),
      };
      const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), scriptPath, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      for (const stream of ['stdout', 'stderr'] as const) {
        const split = lineSplitter((line) => onLine(rank, stream, line));
        child[stream]!.on('data', split.push);
        child[stream]!.on('end', split.end);
      }
      child.on('error', (err) => stopAll(new LaunchError(`launch: rank ${rank} could not start: ${err.message}`, rank, null, null)));
      // 'close' fires after the process exited and its output was fully read.
      child.on('close', (code, signal) => {
        if (code !== 0 && !failure) {
          const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
          stopAll(new LaunchError(`launch: rank ${rank} of ${nproc} ${how}; stopped the other ranks`, rank, code, signal));
        }
        if (--running === 0) done();
      });
    }
    if (opts.timeoutMs !== undefined)
      jobTimer = setTimeout(() => stopAll(new LaunchError(`launch: the job did not finish within ${opts.timeoutMs} ms; stopped all ranks`, null, null, null)), opts.timeoutMs);
  });
}
