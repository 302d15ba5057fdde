/**
 * Online prompt filtering (PRIME §3.4): keep a prompt's group of K responses only when its mean
 * outcome lies in [low, high] (K = 4, [0.2, 0.8]: 1, 2 or 3 correct), so that every kept group
 * carries a learning signal. Surplus groups wait in a buffer for the next step.
 */

export interface Group<S = unknown> {
  /** Outcome scores of the K responses. */
  scores: number[];
  /** Whatever the trainer keeps with the group (prompt, responses, log-probs). */
  sample: S;
  /** True when any response hit the length limit. */
  truncated?: boolean;
}

export interface FilterResult<S> {
  kept: Group<S>[];
  dropped: Group<S>[];
}

/** Keeps groups whose mean score is in [low, high] (inclusive; a 1e-9 slack absorbs rounding). */
export function filterByAccuracy<S>(groups: Group<S>[], low: number, high: number, opts: { dropTruncated?: boolean } = {}): FilterResult<S> {
  if (!(low <= high)) throw new Error(`filterByAccuracy: low (${low}) must be ≤ high (${high})`);
  const kept: Group<S>[] = [];
  const dropped: Group<S>[] = [];
  for (const g of groups) {
    const mean = g.scores.reduce((a, b) => a + b, 0) / Math.max(1, g.scores.length);
    const ok = mean >= low - 1e-9 && mean <= high + 1e-9 && !(opts.dropTruncated && g.truncated);
    (ok ? kept : dropped).push(g);
  }
  return { kept, dropped };
}

/**
 * FIFO of accepted groups. The trainer adds what a rollout round kept, takes a full batch when
 * there is one, and carries the surplus into the next step (and into checkpoints).
 */
export class PromptBuffer<S> {
  #items: Group<S>[] = [];
  get size(): number {
    return this.#items.length;
  }
  add(groups: Group<S>[]): void {
    this.#items.push(...groups);
  }
  /** Removes and returns the first n groups, or null when fewer than n are buffered. */
  take(n: number): Group<S>[] | null {
    if (this.#items.length < n) return null;
    return this.#items.splice(0, n);
  }
  /** Removes and returns everything. */
  drain(): Group<S>[] {
    return this.#items.splice(0);
  }
  toJSON(): Group<S>[] {
    return this.#items.slice();
  }
  static fromJSON<S>(items: Group<S>[]): PromptBuffer<S> {
    const b = new PromptBuffer<S>();
    b.add(items);
    return b;
  }
}
