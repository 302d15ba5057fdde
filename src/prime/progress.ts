/**
 * Phase progress of a training step on a terminal. The trainer reports through a callback
 * (`TrainerOptions.onProgress`) one event per chunk of work:
 *
 *   rollout   responses sampled and graded (unit: samples; the total grows when a rollout round
 *             draws more prompts because the accuracy filter dropped some)
 *   score     sequences scored by the reference and the implicit PRM (and the PRM update)
 *   update    sequences through the PPO policy update (all epochs)
 *   validate  validation prompts answered
 *
 * `ProgressDisplay` renders them: on a TTY a live bar redrawn in place (samples done, tokens/s,
 * ETA), at most every `minIntervalMs`; elsewhere (a file, a pipe, CI) one plain line when a phase
 * ends, and one every `plainEveryMs` while a long phase runs. `log(line)` prints a line without
 * tearing the bar (the trainer's per-step line goes through it).
 */

export type ProgressPhase = 'rollout' | 'score' | 'update' | 'validate';

export interface ProgressEvent {
  phase: ProgressPhase;
  /** The training step being made (1-based). */
  step: number;
  /** Units finished so far in this phase of this step (samples / sequences / prompts). */
  done: number;
  /** Units this phase has to do (may grow: rollout rounds). */
  total: number;
  /** Tokens processed so far in this phase (generated tokens for rollout/validate, response tokens otherwise). */
  tokens?: number;
}

export type OnProgress = (e: ProgressEvent) => void;

const UNIT: Record<ProgressPhase, string> = { rollout: 'samples', score: 'sequences', update: 'sequences', validate: 'prompts' };

/** "1m05s", "12s", "?" */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  const m = Math.floor(s / 60);
  return m ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}

interface PhaseState {
  key: string;
  start: number;
  last: ProgressEvent;
  lastPlain: number;
}

export interface ProgressDisplayOptions {
  /** Where to draw (default process.stderr, so stdout stays clean for results). */
  stream?: { write(s: string): unknown; isTTY?: boolean; columns?: number };
  /** Where `log` lines go (default process.stdout; the bar is cleared first and redrawn after). */
  out?: { write(s: string): unknown };
  /** Force TTY (bar) or plain mode; default: the stream's isTTY. */
  tty?: boolean;
  /** Clock in ms (tests). */
  now?: () => number;
  /** Least time between two redraws of the bar. */
  minIntervalMs?: number;
  /** Plain mode: a line every this many ms while a phase runs (besides its last line). */
  plainEveryMs?: number;
  /** Total training steps, shown as "step 3/100". */
  totalSteps?: number;
}

export class ProgressDisplay {
  readonly tty: boolean;
  readonly #stream: NonNullable<ProgressDisplayOptions['stream']>;
  readonly #out: NonNullable<ProgressDisplayOptions['out']>;
  readonly #now: () => number;
  readonly #minInterval: number;
  readonly #plainEvery: number;
  #phase: PhaseState | null = null;
  #bar = ''; // what is on the terminal's current line
  #lastDraw = -Infinity;
  totalSteps: number | undefined;

  constructor(o: ProgressDisplayOptions = {}) {
    this.#stream = o.stream ?? process.stderr;
    this.#out = o.out ?? (o.stream ? o.stream : process.stdout);
    this.tty = o.tty ?? this.#stream.isTTY === true;
    this.#now = o.now ?? (() => performance.now());
    this.#minInterval = o.minIntervalMs ?? 100;
    this.#plainEvery = o.plainEveryMs ?? 30_000;
    this.totalSteps = o.totalSteps;
  }

  /** The callback to give the trainer. */
  readonly onProgress: OnProgress = (e) => {
    const now = this.#now();
    const key = `${e.step}:${e.phase}`;
    if (this.#phase?.key !== key) this.#phase = { key, start: now, last: e, lastPlain: now };
    const ph = this.#phase;
    ph.last = e;
    const finished = e.total > 0 && e.done >= e.total;
    if (this.tty) {
      if (finished || now - this.#lastDraw >= this.#minInterval) {
        // the bar narrows (or goes) before the figures are cut on a narrow terminal
        const cols = this.#stream.columns ?? 120;
        const plain = this.format(e, (now - ph.start) / 1000, { bar: false });
        const room = cols - 1 - plain.length - 3;
        this.#draw(room >= 5 ? this.format(e, (now - ph.start) / 1000, { barWidth: Math.min(20, room) }) : plain);
      }
    } else if (finished || now - ph.lastPlain >= this.#plainEvery) {
      ph.lastPlain = now;
      this.#stream.write(this.format(e, (now - ph.start) / 1000, { bar: false }) + '\n');
    }
  };

  /** Prints a line above the bar (the bar is redrawn after it). */
  readonly log = (line: string): void => {
    if (this.tty && this.#bar) {
      if (this.#out === this.#stream) {
        this.#stream.write(`\r\x1b[2K${line}\n${this.#bar}`);
      } else {
        this.#stream.write('\r\x1b[2K');
        this.#out.write(line + '\n');
        this.#stream.write(this.#bar);
      }
    } else {
      this.#out.write(line + '\n');
    }
  };

  /** Clears the bar (call when training ends). */
  end(): void {
    if (this.tty && this.#bar) this.#stream.write('\r\x1b[2K');
    this.#bar = '';
  }

  /**
   * "step 3/100 rollout [#####-----] 32/64 samples | 850 tok/s | 12.0s | ETA 12s" (bar on a TTY);
   * when the phase is over, the elapsed time replaces the ETA.
   */
  format(e: ProgressEvent, elapsedS: number, o: { bar?: boolean; barWidth?: number } = {}): string {
    const frac = e.total > 0 ? Math.min(1, e.done / e.total) : 0;
    const parts = [`step ${e.step}${this.totalSteps ? `/${this.totalSteps}` : ''} ${e.phase}`];
    if (o.bar ?? true) {
      const width = o.barWidth ?? 20, full = Math.round(frac * width);
      parts[0] += ` [${'#'.repeat(full)}${'-'.repeat(width - full)}]`;
    }
    parts[0] += ` ${e.done}/${e.total} ${UNIT[e.phase]}`;
    if (e.tokens !== undefined && elapsedS > 0) parts.push(`${Math.round(e.tokens / elapsedS)} tok/s`);
    const finished = e.total > 0 && e.done >= e.total;
    if (finished) parts.push(`${elapsedS.toFixed(1)} s`);
    else parts.push(`ETA ${e.done > 0 ? formatDuration((elapsedS / e.done) * (e.total - e.done)) : '?'}`);
    return parts.join(' | ');
  }

  #draw(text: string): void {
    const cols = this.#stream.columns ?? 120;
    const shown = text.length > cols - 1 ? text.slice(0, cols - 1) : text;
    this.#stream.write(`\r\x1b[2K${shown}`);
    this.#bar = shown;
    this.#lastDraw = this.#now();
  }
}

/** Calls `onProgress` on rank 0 only and never lets a display error stop training. */
export function safeProgress(onProgress: OnProgress | undefined, rank = 0): OnProgress {
  if (!onProgress || rank !== 0) return () => {};
  return (e) => {
    try {
      onProgress(e);
    } catch {
      // a broken display must not stop a training run
    }
  };
}
