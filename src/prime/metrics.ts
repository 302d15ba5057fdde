/**
 * Run metrics: one JSON object per step appended to `metrics.jsonl` (an earlier fresh run's file in
 * the same directory is moved to `metrics.jsonl.N` first), the same scalars in a
 * TensorBoard event file beside it (`tensorboard --logdir RUN_DIR`), and a one-line progress
 * report with ETA on the console.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EventFileWriter } from './tensorboard.js';

export type Metrics = Record<string, number>;

export class MetricsLog {
  readonly file: string;
  #t0 = Date.now();
  #firstStep: number | null = null;
  /** The TensorBoard event file's writer; null with `tensorboard: false`. */
  readonly tensorboard: EventFileWriter | null;
  constructor(dir: string, opts: { resumeFromStep?: number; tensorboard?: boolean } = {}) {
    fs.mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, 'metrics.jsonl');
    // A fresh run in a directory that holds an earlier run's records keeps them, moved aside to
    // metrics.jsonl.N (the first free N), so the new file holds this run's steps only.
    if (opts.resumeFromStep === undefined && fs.existsSync(this.file) && fs.statSync(this.file).size > 0) {
      let n = 1;
      while (fs.existsSync(`${this.file}.${n}`)) n++;
      fs.renameSync(this.file, `${this.file}.${n}`);
    }
    // On resume, drop records of steps after the checkpoint: they will be redone.
    if (opts.resumeFromStep !== undefined && fs.existsSync(this.file)) {
      const kept = fs.readFileSync(this.file, 'utf8').split('\n').filter((l) => {
        if (!l.trim()) return false;
        try {
          return (JSON.parse(l) as Metrics).step! <= opts.resumeFromStep!;
        } catch {
          return false;
        }
      });
      fs.writeFileSync(this.file, kept.map((l) => l + '\n').join(''));
    }
    this.tensorboard = opts.tensorboard === false ? null
      : new EventFileWriter(dir, opts.resumeFromStep !== undefined ? { restartAtStep: opts.resumeFromStep + 1 } : {});
  }
  /** Appends the step's metrics to metrics.jsonl and the TensorBoard event file (finite values). */
  write(step: number, m: Metrics): void {
    fs.appendFileSync(this.file, JSON.stringify({ step, ...m }) + '\n');
    this.tensorboard?.addScalars(step, m);
  }
  /** "step 12/100 | acc 0.53 | … | val/accuracy 0.61 | 4.1 s/step | ETA 6m02s"; every val/* metric in `m` is appended. */
  progress(step: number, total: number, m: Metrics, keys: [string, string][]): string {
    if (this.#firstStep === null) {
      this.#firstStep = step - 1;
      this.#t0 = Date.now() - (m['time/step'] ?? 0) * 1000;
    }
    const done = step - this.#firstStep;
    const perStep = (Date.now() - this.#t0) / 1000 / Math.max(1, done);
    const parts = keys.filter(([k]) => k in m).map(([k, label]) => `${label} ${fmt(m[k]!)}`);
    for (const k of Object.keys(m)) if (k.startsWith('val/') && !['val/prompts', 'val/response_length'].includes(k) && !keys.some(([x]) => x === k)) parts.push(`${k} ${fmt(m[k]!)}`);
    return `step ${step}/${total} | ${parts.join(' | ')} | ${perStep.toFixed(1)} s/step | ETA ${eta(perStep * (total - step))}`;
  }
}

export function readMetrics(file: string): (Metrics & { step: number })[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}

const fmt = (v: number) => (Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v * 100) / 100) : v.toFixed(3));
function eta(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}
