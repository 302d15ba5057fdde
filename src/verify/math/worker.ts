/**
 * Worker-thread entry for the expensive stage of a math check (pool.ts). It loads the
 * compute engine once, reports 'ready', then answers one job at a time. The pool kills it
 * if a job overruns its hard deadline, so nothing here needs to be interruptible.
 */
import { parentPort } from 'node:worker_threads';
import { finishMathCheck, type MathGrade, type MathGradeOptions, type PreparedCheck } from './grade.js';
import { warmUpEngine } from './equivalence.js';

export interface WorkerJob {
  id: number;
  prepared: PreparedCheck;
  options: MathGradeOptions;
}

export type WorkerMessage = { type: 'ready' } | { type: 'result'; id: number; result: MathGrade };

if (parentPort === null) throw new Error('math/worker.js must run in a worker thread');
const port = parentPort;

warmUpEngine();
port.postMessage({ type: 'ready' } satisfies WorkerMessage);

port.on('message', (job: WorkerJob) => {
  let result: MathGrade;
  try {
    result = finishMathCheck(job.prepared, job.options);
  } catch {
    result = { correct: false, reason: 'internal-error', extracted: job.prepared.extracted, method: job.prepared.method };
  }
  port.postMessage({ type: 'result', id: job.id, result } satisfies WorkerMessage);
});
