/**
 * `gradeMath`: math grading with a *hard* time bound.
 *
 * The cheap stage (extraction, normalization, string match) runs in the caller's thread.
 * The expensive stage (engine parse + evaluation) runs in a pool of worker threads; each
 * job gets a timer of `timeoutMs + graceMs` from the moment a ready worker receives it, and
 * a worker that overruns is terminated (Worker.terminate interrupts running JavaScript)
 * and replaced. The verdict is then { correct: false, reason: 'timeout' }. A worker that
 * dies (e.g. its heap limit is hit) yields reason 'worker-crash'. Time spent queued or
 * while a worker loads the engine is not charged to the check.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import {
  MATH_DEFAULTS,
  prepareMathCheck,
  type MathGrade,
  type MathGradeOptions,
  type PreparedCheck,
} from './grade.js';
import type { WorkerJob, WorkerMessage } from './worker.js';

export interface MathPoolOptions {
  /** Worker threads (default min(2, os.availableParallelism())); each holds ~60 MB. */
  size?: number;
  /** Worker script (default ./worker.js beside this file); tests substitute their own. */
  workerUrl?: URL;
  /** Extra time past a job's timeoutMs before the worker is killed (default 250 ms): the
   *  worker's own soft deadline usually answers 'timeout' first, and more cheaply. */
  graceMs?: number;
  /** V8 old-generation heap limit per worker in MB (default 512). */
  maxHeapMb?: number;
}

interface Pending {
  job: WorkerJob;
  timeoutMs: number;
  resolve: (g: MathGrade) => void;
  timer?: NodeJS.Timeout;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  /** The job it is running, if any. */
  pending: Pending | null;
  /** Set when we terminate it on purpose, so its 'exit' is not treated as a crash. */
  retired: boolean;
}

/** After this many consecutive workers die before becoming ready, queued jobs fail. */
const MAX_STARTUP_FAILURES = 3;

export class MathWorkerPool {
  private readonly size: number;
  private readonly workerUrl: URL;
  private readonly graceMs: number;
  private readonly maxHeapMb: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private startupFailures = 0;
  private closed = false;

  constructor(opts: MathPoolOptions = {}) {
    this.size = Math.max(1, opts.size ?? Math.min(2, availableParallelism()));
    this.workerUrl = opts.workerUrl ?? new URL('./worker.js', import.meta.url);
    this.graceMs = opts.graceMs ?? 250;
    this.maxHeapMb = opts.maxHeapMb ?? 512;
  }

  /** Runs the expensive stage of a prepared check (prepared.verdict must be null). */
  run(prepared: PreparedCheck, options: MathGradeOptions = {}): Promise<MathGrade> {
    if (this.closed) throw new Error('MathWorkerPool is closed');
    const timeoutMs = options.timeoutMs ?? MATH_DEFAULTS.timeoutMs;
    return new Promise<MathGrade>((resolve) => {
      this.queue.push({ job: { id: this.nextId++, prepared, options }, timeoutMs, resolve });
      this.pump();
    });
  }

  /** Terminates all workers; pending jobs resolve as 'worker-crash'. */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.resolve(this.failure(p, 'worker-crash'));
    await Promise.all(this.slots.splice(0).map((s) => this.retire(s, 'worker-crash')));
  }

  private failure(p: Pending, reason: MathGrade['reason']): MathGrade {
    return { correct: false, reason, extracted: p.job.prepared.extracted, method: p.job.prepared.method };
  }

  private spawn(): Slot {
    const worker = new Worker(this.workerUrl, {
      resourceLimits: { maxOldGenerationSizeMb: this.maxHeapMb },
      stdout: false,
      stderr: false,
    });
    const slot: Slot = { worker, ready: false, pending: null, retired: false };
    worker.on('message', (msg: WorkerMessage) => {
      if (msg.type === 'ready') {
        slot.ready = true;
        this.startupFailures = 0;
      } else if (slot.pending !== null && msg.id === slot.pending.job.id) {
        const p = slot.pending;
        slot.pending = null;
        clearTimeout(p.timer);
        p.resolve(msg.result);
      }
      this.pump();
    });
    // 'error' (uncaught exception, heap limit) is followed by 'exit'; handle the death once, at exit.
    worker.on('error', () => {});
    worker.on('exit', () => {
      if (slot.retired) return;
      slot.retired = true;
      if (!slot.ready) this.startupFailures++;
      this.drop(slot);
      if (slot.pending !== null) {
        clearTimeout(slot.pending.timer);
        slot.pending.resolve(this.failure(slot.pending, 'worker-crash'));
        slot.pending = null;
      }
      if (this.startupFailures >= MAX_STARTUP_FAILURES) {
        for (const p of this.queue.splice(0)) p.resolve(this.failure(p, 'worker-crash'));
      }
      this.pump();
    });
    this.slots.push(slot);
    return slot;
  }

  private drop(slot: Slot): void {
    const k = this.slots.indexOf(slot);
    if (k >= 0) this.slots.splice(k, 1);
  }

  private async retire(slot: Slot, reason: MathGrade['reason']): Promise<void> {
    slot.retired = true;
    this.drop(slot);
    if (slot.pending !== null) {
      clearTimeout(slot.pending.timer);
      slot.pending.resolve(this.failure(slot.pending, reason));
      slot.pending = null;
    }
    await slot.worker.terminate();
  }

  /** Hands queued jobs to idle ready workers, spawning workers up to `size`. */
  private pump(): void {
    if (this.closed) return;
    for (const slot of this.slots) {
      if (this.queue.length === 0) break;
      if (!slot.ready || slot.pending !== null) continue;
      const p = this.queue.shift()!;
      slot.pending = p;
      p.timer = setTimeout(() => {
        // Hard deadline: kill the worker mid-computation; a fresh one replaces it.
        void this.retire(slot, 'timeout').then(() => this.pump());
      }, p.timeoutMs + this.graceMs);
      slot.worker.postMessage(p.job);
    }
    const busy = this.slots.filter((s) => s.pending !== null || !s.ready).length;
    const wanted = Math.min(this.size, this.queue.length + this.slots.filter((s) => s.pending !== null).length);
    for (let k = this.slots.length; k < wanted && this.startupFailures < MAX_STARTUP_FAILURES; k++) this.spawn();
    // Idle workers must not keep the process alive; busy or starting ones with work queued must.
    const work = this.queue.length > 0 || busy > 0;
    for (const s of this.slots) {
      if (s.pending !== null || (work && !s.ready)) s.worker.ref();
      else s.worker.unref();
    }
  }
}

let defaultPool: MathWorkerPool | null = null;

/** The shared pool used by gradeMath (created on first use). */
export function mathPool(): MathWorkerPool {
  if (defaultPool === null) defaultPool = new MathWorkerPool();
  return defaultPool;
}

/** Terminates the shared pool's workers (a later gradeMath call starts a new pool). */
export async function closeMathPool(): Promise<void> {
  const p = defaultPool;
  defaultPool = null;
  if (p !== null) await p.close();
}

/**
 * Grades a response against a ground-truth answer. Asynchronous: the engine-backed stage
 * runs in a worker thread with a hard deadline of `timeoutMs` (+ the pool's grace).
 * Resolves; never rejects on bad input.
 */
export async function gradeMath(
  response: string,
  groundTruth: string,
  options: MathGradeOptions = {},
  pool: MathWorkerPool = mathPool(),
): Promise<MathGrade> {
  const prepared = prepareMathCheck(response, groundTruth, options);
  if (prepared.verdict !== null) return prepared.verdict;
  return pool.run(prepared, options);
}
