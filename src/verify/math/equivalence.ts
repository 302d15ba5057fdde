/**
 * Equivalence of two normalized answers: structural comparison of their shapes
 * (structure.ts) down to scalar leaves, which are parsed to MathJSON by the compute engine
 * and compared numerically (evaluate.ts):
 *
 *  - no free variables: both sides are evaluated; exact rationals compare exactly, anything
 *    approximate within `relTol` (numeric.ts: |a − b| ≤ relTol·max(|a|,|b|));
 *  - free variables: both sides are evaluated at RANDOM_POINTS seeded pseudo-random points
 *    (values of magnitude 0.5–2.5, both signs) and must agree within `relTol` at every point
 *    where both are finite, with at least MIN_VALID_POINTS such points. This decides
 *    polynomial and rational-function identity with probability 1 over the points (a
 *    non-zero difference vanishes only on a measure-zero set).
 *
 * Every step ticks a Budget; past the deadline a DeadlineError propagates to the caller.
 */
import { createRequire } from 'node:module';
import type { ComputeEngine as ComputeEngineType } from '@cortex-js/compute-engine';
import { type Answer, parseAnswer, isLabel } from './structure.js';
import { type MathJson, Budget, DeadlineError, EvalError, NonRealError, evaluate, freeVariables } from './evaluate.js';
import { type NumValue, float, numericEqual, isFiniteValue, isLost, toFloat, div } from './numeric.js';
import { comparisonKey } from './normalize.js';

/** Number of random points for expressions with free variables. */
export const RANDOM_POINTS = 8;
/** Points where both sides must be finite for a symbolic verdict of "equal". */
export const MIN_VALID_POINTS = 4;
/** Expressions with more free variables than this are not compared symbolically. */
const MAX_VARIABLES = 12;
/** Lists/sets larger than this are not matched (the matching is quadratic in comparisons). */
const MAX_ITEMS = 64;

/**
 * How two answers matched, strongest evidence used anywhere in the comparison:
 * 'symbolic' (random points), 'numeric' (tolerance), 'exact' (exact rationals), 'text'
 * (word answers), 'structural' (same shape, leaves equal as strings: x = 3 vs 3).
 */
export type MatchKind = 'exact' | 'numeric' | 'symbolic' | 'text' | 'structural';

export interface EquivalenceOptions {
  /** Relative tolerance for approximate values (see numeric.ts). */
  relTol: number;
  /**
   * Leaves whose ( and [ nesting is deeper than this are not handed to the engine: its
   * parser backtracks exponentially on nested brackets (16 levels of `[(` take > 8 s).
   */
  maxBracketDepth: number;
}

/**
 * Whether ( [ and { are balanced with ( [ nested at most `maxDepth` deep. Unbalanced
 * openers are the engine parser's worst case (18 unmatched `(` take ~30 s), and no
 * well-formed scalar has them.
 */
export function bracketsSafe(latex: string, maxDepth: number): boolean {
  let round = 0;
  let curly = 0;
  for (let i = 0; i < latex.length; i++) {
    const c = latex[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '(' || c === '[') {
      if (++round > maxDepth) return false;
    } else if (c === ')' || c === ']') {
      if (--round < 0) return false;
    } else if (c === '{') curly++;
    else if (c === '}' && --curly < 0) return false;
  }
  return round === 0 && curly === 0;
}

let engine: ComputeEngineType | null = null;

/**
 * The compute engine, loaded on first use through its CommonJS build so this path stays
 * synchronous (the engine takes ~100 ms to load and is not needed for string matches).
 */
function getEngine(): ComputeEngineType {
  if (engine === null) {
    const require = createRequire(import.meta.url);
    const mod = require('@cortex-js/compute-engine') as typeof import('@cortex-js/compute-engine');
    engine = new mod.ComputeEngine();
  }
  return engine;
}

/** Loads the engine now (workers call this at start-up so the first check is not slow). */
export function warmUpEngine(): void {
  getEngine().parse('\\frac{1}{2}+x', { canonical: false });
}

function containsError(e: MathJson): boolean {
  if (Array.isArray(e)) return e[0] === 'Error' || e.some(containsError);
  if (typeof e === 'object' && e !== null && Array.isArray((e as { fn?: MathJson[] }).fn)) {
    return containsError((e as { fn: MathJson[] }).fn);
  }
  return e === 'Nothing';
}

/** Whether an expression mentions the imaginary unit (then it is compared as complex). */
function mentionsImaginary(e: MathJson): boolean {
  if (typeof e === 'string') return e === 'i' || e === 'ImaginaryUnit' || e === 'Complex';
  if (Array.isArray(e)) return e.some(mentionsImaginary);
  if (typeof e === 'object' && e !== null) {
    if (typeof e.sym === 'string') return e.sym === 'i' || e.sym === 'ImaginaryUnit';
    if (Array.isArray(e.fn)) return e.fn.some(mentionsImaginary);
  }
  return false;
}

/** How a set of sample points decided: equal, different, or too few comparable points. */
type PointVerdict = 'equal' | 'different' | 'few' | 'fail';

/** Mulberry32: a tiny deterministic PRNG, so verdicts are reproducible run to run. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Outcome of comparing two leaves: how they matched, or why not. */
type LeafResult = { equal: true; how: MatchKind } | { equal: false; unparseable: boolean };

/** State for one comparison: options, deadline, and a parse cache. */
export class Comparator {
  private readonly parsed = new Map<string, MathJson | null>();
  /** Set when some leaf could not be parsed or evaluated (for the reason string). */
  sawUnparseable = false;
  /** Strongest kind of evidence used by a successful match. */
  private readonly used = new Set<MatchKind>();

  constructor(
    readonly opts: EquivalenceOptions,
    readonly budget: Budget,
  ) {}

  /** The parse of a leaf, or null if the engine reports an error. */
  parse(latex: string): MathJson | null {
    const cached = this.parsed.get(latex);
    if (cached !== undefined) return cached;
    this.budget.check();
    let json: MathJson | null = null;
    if (!bracketsSafe(latex, this.opts.maxBracketDepth)) {
      this.parsed.set(latex, null);
      return null;
    }
    try {
      const expr = getEngine().parse(latex, { canonical: false });
      json = expr.json as MathJson;
      if (containsError(json)) json = null;
    } catch {
      json = null;
    }
    this.parsed.set(latex, json);
    return json;
  }

  /** How the last successful comparison matched, strongest evidence first. */
  matchKind(): MatchKind {
    for (const k of ['symbolic', 'numeric', 'exact', 'text'] as const) if (this.used.has(k)) return k;
    return 'structural';
  }

  /** The value, null if it cannot be evaluated, 'nonreal' if not real under real semantics. */
  private evalAt(e: MathJson, env: Map<string, NumValue>): NumValue | null | 'nonreal' {
    try {
      return evaluate(e, env, this.budget);
    } catch (err) {
      if (err instanceof DeadlineError) throw err;
      if (err instanceof NonRealError) return 'nonreal';
      if (err instanceof EvalError || err instanceof RangeError) return null;
      throw err;
    }
  }

  /**
   * Values of `a` and `b` at the same seeded random points. Round 0: each variable of
   * magnitude 0.5–2.5, negative at one point in three (a fixed pattern, so it always happens),
   * telling |x| from x and √(x²) from x. Round 1: positive values 0.5–10.5, for expressions
   * whose real domain round 0 mostly missed. With `real`, a point where either side (or an
   * intermediate value) is not real is skipped, not compared; so is one where either side
   * over- or underflowed. 'fail' if either side cannot be evaluated at most points.
   */
  private samplePairs(a: MathJson, b: MathJson, vars: string[], real: boolean, round: 0 | 1): [NumValue, NumValue][] | 'fail' {
    const rand = mulberry32(0x5eed + vars.length + 7919 * round);
    const pairs: [NumValue, NumValue][] = [];
    let failures = 0;
    this.budget.real = real;
    try {
      for (let k = 0; k < RANDOM_POINTS; k++) {
        const env = new Map<string, NumValue>();
        vars.forEach((v, index) => {
          if (round === 0) {
            const magnitude = 0.5 + 2 * rand();
            const sign = (k + index) % 3 === 2 ? -1 : 1;
            env.set(v, float(sign * magnitude));
          } else env.set(v, float(0.5 + 10 * rand()));
        });
        const va = this.evalAt(a, env);
        const vb = this.evalAt(b, env);
        if (va === 'nonreal' || vb === 'nonreal') continue;
        if (va === null || vb === null) {
          if (++failures > RANDOM_POINTS / 2) return 'fail';
          continue;
        }
        if (isLost(va) || isLost(vb)) continue;
        pairs.push([va, vb]);
      }
    } finally {
      this.budget.real = false;
    }
    return pairs;
  }

  /** Compares `a` and `b` over one round of sample points. */
  private comparePoints(a: MathJson, b: MathJson, vars: string[], real: boolean, round: 0 | 1): PointVerdict {
    const pairs = this.samplePairs(a, b, vars, real, round);
    if (pairs === 'fail') return 'fail';
    let valid = 0;
    for (const [va, vb] of pairs) {
      const fa = isFiniteValue(va);
      const fb = isFiniteValue(vb);
      if (!fa && !fb) continue;
      if (fa !== fb) return 'different';
      if (!numericEqual(va, vb, this.opts.relTol)) return 'different';
      valid++;
    }
    return valid >= MIN_VALID_POINTS ? 'equal' : 'few';
  }

  /** Scalar equivalence of two LaTeX leaves. */
  scalar(a: string, b: string): LeafResult {
    if (comparisonKey(a) === comparisonKey(b)) return { equal: true, how: 'structural' };
    const ja = this.parse(a);
    const jb = this.parse(b);
    if (ja === null || jb === null) {
      this.sawUnparseable = true;
      return { equal: false, unparseable: true };
    }
    const vars = [...freeVariables(ja, freeVariables(jb))];
    if (vars.length > MAX_VARIABLES) return { equal: false, unparseable: true };
    if (vars.length === 0) {
      const va = this.evalAt(ja, new Map());
      const vb = this.evalAt(jb, new Map());
      if (va === null || vb === null || va === 'nonreal' || vb === 'nonreal') {
        this.sawUnparseable = true;
        return { equal: false, unparseable: true };
      }
      if (!numericEqual(va, vb, this.opts.relTol)) return { equal: false, unparseable: false };
      return { equal: true, how: va.kind === 'exact' && vb.kind === 'exact' ? 'exact' : 'numeric' };
    }
    // Real semantics unless either side mentions i: points outside the real domain are
    // skipped. Too few real points (a domain that misses the samples, √(x − 3)): a second
    // round of positive points, then principal complex values at every point.
    const real = !mentionsImaginary(ja) && !mentionsImaginary(jb);
    let verdict = this.comparePoints(ja, jb, vars, real, 0);
    if (verdict === 'few' && real) verdict = this.comparePoints(ja, jb, vars, true, 1);
    if (verdict === 'few' && real) verdict = this.comparePoints(ja, jb, vars, false, 0);
    if (verdict === 'fail') {
      this.sawUnparseable = true;
      return { equal: false, unparseable: true };
    }
    if (verdict !== 'equal') return { equal: false, unparseable: false };
    return { equal: true, how: 'symbolic' };
  }

  /**
   * Two equations l1 = r1 and l2 = r2 are equivalent if (l1 − r1) = c·(l2 − r2) for a
   * constant c ≠ 0 (y = 2x + 1 ≡ 2x − y + 1 = 0), tested at random points.
   */
  proportional(l1: string, r1: string, l2: string, r2: string): boolean {
    const parts = [l1, r1, l2, r2].map((p) => this.parse(p));
    if (parts.some((p) => p === null)) return false;
    const [a1, b1, a2, b2] = parts as MathJson[];
    const f = ['Subtract', a1!, b1!] as MathJson;
    const g = ['Subtract', a2!, b2!] as MathJson;
    const vars = [...freeVariables(f, freeVariables(g))];
    if (vars.length === 0 || vars.length > MAX_VARIABLES) return false;
    const pairs = this.samplePairs(f, g, vars, false, 0);
    if (pairs === 'fail') return false;
    let ratio: NumValue | null = null;
    let valid = 0;
    for (const [vf, vg] of pairs) {
      if (!isFiniteValue(vf) || !isFiniteValue(vg)) continue;
      const gf = toFloat(vg);
      if (Math.hypot(gf.re, gf.im) < 1e-9) continue;
      const r = div(vf, vg);
      const rf = toFloat(r);
      if (Math.hypot(rf.re, rf.im) < 1e-9) return false;
      if (ratio === null) ratio = r;
      else if (!numericEqual(ratio, r, this.opts.relTol)) return false;
      valid++;
    }
    return valid >= MIN_VALID_POINTS;
  }

  private leaf(a: string, b: string): boolean {
    const r = this.scalar(a, b);
    if (r.equal) this.used.add(r.how);
    return r.equal;
  }

  /** Ordered comparison of item lists. */
  private inOrder(xs: Answer[], ys: Answer[]): boolean {
    if (xs.length !== ys.length) return false;
    return xs.every((x, k) => this.answers(x, ys[k]!));
  }

  /**
   * Unordered comparison: a perfect matching in the bipartite "is equivalent" graph
   * (Kuhn's augmenting paths), so that tolerance-based equality needs no transitivity.
   */
  private anyOrder(xs: Answer[], ys: Answer[]): boolean {
    if (xs.length !== ys.length || xs.length > MAX_ITEMS) return false;
    const n = xs.length;
    const eq: boolean[][] = xs.map((x) => ys.map((y) => this.answers(x, y)));
    const matchOfY = new Array<number>(n).fill(-1);
    const tryAssign = (i: number, seen: boolean[]): boolean => {
      for (let j = 0; j < n; j++) {
        if (!eq[i]![j] || seen[j]) continue;
        seen[j] = true;
        if (matchOfY[j] === -1 || tryAssign(matchOfY[j]!, seen)) {
          matchOfY[j] = i;
          return true;
        }
      }
      return false;
    };
    for (let i = 0; i < n; i++) if (!tryAssign(i, new Array<boolean>(n).fill(false))) return false;
    return true;
  }

  /** Set semantics: drop items equivalent to an earlier one, then match in any order. */
  private dedupe(xs: Answer[]): Answer[] {
    const out: Answer[] = [];
    for (const x of xs) if (!out.some((y) => this.answers(x, y))) out.push(x);
    return out;
  }

  /** Equivalence of two parsed answers (see structure.ts for the shapes and their rules). */
  answers(a: Answer, b: Answer): boolean {
    this.budget.tick();
    // A named value against a bare value: x = 3, (p, q) = (3, 2), |AB| = 5 vs the value.
    if (a.kind === 'equation' && b.kind !== 'equation' && isLabel(a.lhs)) {
      return this.answers(parseAnswer(a.rhs), b);
    }
    if (b.kind === 'equation' && a.kind !== 'equation' && isLabel(b.lhs)) {
      return this.answers(a, parseAnswer(b.rhs));
    }
    // Named values in order against a tuple: `AB = 4, CD = 5` vs (4, 5).
    const named = (x: Answer): Answer[] | null =>
      x.kind === 'list' && x.items.every((i) => i.kind === 'equation' && isLabel(i.lhs))
        ? x.items.map((i) => parseAnswer((i as { rhs: string }).rhs))
        : null;
    if (b.kind === 'tuple' && named(a) !== null) return b.open === '(' && this.inOrder(named(a)!, b.items);
    if (a.kind === 'tuple' && named(b) !== null) return a.open === '(' && this.inOrder(a.items, named(b)!);
    switch (a.kind) {
      case 'scalar':
        if (b.kind === 'scalar') return this.leaf(a.latex, b.latex);
        // A one-element set stands for its element: \{3\} vs 3.
        if (b.kind === 'set' && b.items.length === 1) return this.answers(a, b.items[0]!);
        return false;
      case 'text':
        if (b.kind !== 'text') return false;
        if (a.text.replace(/\s+/g, '') === b.text.replace(/\s+/g, '')) {
          this.used.add('text');
          return true;
        }
        return false;
      case 'equation': {
        if (b.kind !== 'equation') return false;
        if (this.leaf(a.lhs, b.lhs) && this.leaf(a.rhs, b.rhs)) return true;
        if (this.leaf(a.lhs, b.rhs) && this.leaf(a.rhs, b.lhs)) return true;
        if (this.proportional(a.lhs, a.rhs, b.lhs, b.rhs)) {
          this.used.add('symbolic');
          return true;
        }
        return false;
      }
      case 'tuple':
        if (b.kind === 'tuple') return a.open === b.open && a.close === b.close && this.inOrder(a.items, b.items);
        if (b.kind === 'matrix') return this.answers(b, a);
        return false;
      case 'set':
        if (b.kind === 'set' || b.kind === 'list') return this.anyOrder(this.dedupe(a.items), this.dedupe(b.items));
        if (a.items.length === 1) return this.answers(a.items[0]!, b);
        return false;
      case 'list':
        if (b.kind === 'list') return this.anyOrder(a.items, b.items);
        if (b.kind === 'set') return this.anyOrder(this.dedupe(a.items), this.dedupe(b.items));
        return false;
      case 'union':
        return b.kind === 'union' && this.anyOrder(a.items, b.items);
      case 'matrix': {
        if (b.kind === 'matrix') {
          if (a.rows.length !== b.rows.length) return false;
          return a.rows.every((row, r) => this.inOrder(row, b.rows[r]!));
        }
        // A row or column vector against a parenthesized tuple: (1, 2) vs pmatrix 1 \\ 2.
        if (b.kind === 'tuple' && b.open === '(' && b.close === ')') {
          const flat = a.rows.every((r) => r.length === 1) ? a.rows.map((r) => r[0]!) : a.rows.length === 1 ? a.rows[0]! : null;
          return flat !== null && this.inOrder(flat, b.items);
        }
        return false;
      }
    }
  }
}

export interface EquivalenceVerdict {
  equal: boolean;
  /** How it matched when equal; 'mismatch' / 'unparseable' otherwise. */
  reason: MatchKind | 'mismatch' | 'unparseable' | 'timeout';
}

/**
 * Equivalence of two *normalized* answers within `deadline` (a Date.now() timestamp).
 * Never throws for bad input; past the deadline it returns reason 'timeout'.
 */
export function answersEquivalent(pred: string, truth: string, opts: EquivalenceOptions, deadline: number): EquivalenceVerdict {
  const budget = new Budget(deadline);
  const cmp = new Comparator(opts, budget);
  try {
    const equal = cmp.answers(parseAnswer(pred), parseAnswer(truth));
    if (equal) return { equal, reason: cmp.matchKind() };
    return { equal, reason: cmp.sawUnparseable ? 'unparseable' : 'mismatch' };
  } catch (err) {
    if (err instanceof DeadlineError) return { equal: false, reason: 'timeout' };
    throw err;
  }
}
