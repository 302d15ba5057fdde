/**
 * Evaluates the MathJSON that the compute engine's *non-canonical* LaTeX parser produces
 * (`ce.parse(latex, { canonical: false })`) into a NumValue, given values for the free
 * variables.
 *
 * Why our own evaluator rather than the engine's `N()`/`simplify()`: the engine's canonical
 * form evaluates eagerly and exactly, so `10^{10^{10}}` allocates gigabytes before any
 * deadline can be checked. Here every node visit is counted against a step budget and the
 * clock, integers stay exact only while small (numeric.ts), and everything else is a
 * complex double — the cost is linear in the size of the expression.
 *
 * Conventions (documented in README): `e` is Euler's number and `i` the imaginary unit,
 * whether written bare or as \mathrm{e}/\mathrm{i}; a degree mark evaluates to its number.
 */
import {
  type NumValue,
  type FloatValue,
  exact,
  float,
  add,
  sub,
  neg,
  mul,
  div,
  pow,
  toFloat,
  cexp,
  clog,
  csqrt,
  csin,
  ccos,
  realOnly,
  isRealValue,
  isExactInteger,
  MAX_EXACT_BITS,
} from './numeric.js';

/** A MathJSON expression as emitted by the engine (numbers, symbols, function arrays, objects). */
export type MathJson = number | string | MathJson[] | { num?: string; sym?: string; fn?: MathJson[]; str?: string };

export class EvalError extends Error {}
/** A value (or an intermediate one) is not real while the budget asks for real semantics. */
export class NonRealError extends EvalError {}
export class DeadlineError extends Error {
  constructor() {
    super('deadline exceeded');
  }
}

/**
 * A wall-clock deadline checked cooperatively: every 256 node visits and between stages.
 * Each visit is O(1) work except exact BigInt arithmetic, whose operand size numeric.ts caps.
 */
export class Budget {
  steps = 0;
  /**
   * Real semantics: when set, any node whose value is not real throws NonRealError, so a
   * sample point outside the real domain of either side (√x at x < 0, √x·√y at x, y < 0) is
   * skipped rather than compared as principal complex values.
   */
  real = false;
  constructor(readonly deadline: number) {}
  tick(): void {
    this.steps++;
    if ((this.steps & 255) === 0 && Date.now() > this.deadline) throw new DeadlineError();
  }
  check(): void {
    if (Date.now() > this.deadline) throw new DeadlineError();
  }
}

const CONSTANTS: Record<string, () => NumValue> = {
  Pi: () => float(Math.PI),
  ExponentialE: () => float(Math.E),
  e: () => float(Math.E),
  ImaginaryUnit: () => float(0, 1),
  i: () => float(0, 1),
  PositiveInfinity: () => float(Infinity),
  NegativeInfinity: () => float(-Infinity),
  Half: () => exact(1n, 2n),
};

/**
 * Symbols the parser leaves as bare names inside an InvisibleOperator (from \exp, \gcd,
 * \operatorname{…}, \Gamma) that are applied to the following argument rather than multiplied.
 */
const APPLIED_SYMBOLS: Record<string, string> = {
  Exp: 'Exp',
  exp: 'Exp',
  GCD: 'GCD',
  gcd: 'GCD',
  LCM: 'LCM',
  lcm: 'LCM',
  binomial: 'Binomial',
  binom: 'Binomial',
  Binomial: 'Binomial',
  Gamma: 'Gamma',
  sin: 'Sin',
  cos: 'Cos',
  tan: 'Tan',
  ln: 'Ln',
  log: 'Log',
  sqrt: 'Sqrt',
  abs: 'Abs',
  floor: 'Floor',
  ceil: 'Ceil',
  max: 'Max',
  min: 'Min',
};

function head(e: MathJson): string | null {
  if (Array.isArray(e)) return typeof e[0] === 'string' ? e[0] : null;
  if (typeof e === 'object' && e !== null && 'fn' in e && Array.isArray(e.fn)) {
    return typeof e.fn[0] === 'string' ? e.fn[0] : null;
  }
  return null;
}

function args(e: MathJson): MathJson[] {
  if (Array.isArray(e)) return e.slice(1);
  if (typeof e === 'object' && e !== null && 'fn' in e && Array.isArray(e.fn)) return e.fn.slice(1);
  return [];
}

function symbolName(e: MathJson): string | null {
  if (typeof e === 'string') return e.startsWith("'") ? null : e;
  if (typeof e === 'object' && e !== null && !Array.isArray(e) && typeof e.sym === 'string') return e.sym;
  return null;
}

/** Name of a subscripted variable (x_1, a_n), or null if the subscript is not a simple atom. */
function subscriptName(e: MathJson): string | null {
  const [base, sub] = args(e);
  const b = base === undefined ? null : symbolName(base);
  if (b === null || sub === undefined) return null;
  if (typeof sub === 'number') return `${b}_${sub}`;
  const s = symbolName(sub);
  return s === null ? null : `${b}_${s}`;
}

/** Free variables: symbols that are not constants and not applied function names. */
export function freeVariables(e: MathJson, out: Set<string> = new Set()): Set<string> {
  const h = head(e);
  if (h === null) {
    const s = symbolName(e);
    if (s !== null && !(s in CONSTANTS)) out.add(s);
    return out;
  }
  if (h === 'Subscript') {
    const name = subscriptName(e);
    if (name !== null) out.add(name);
    return out;
  }
  const as = args(e);
  for (let k = 0; k < as.length; k++) {
    const a = as[k]!;
    // A function name in an InvisibleOperator is applied, not a variable.
    if (h === 'InvisibleOperator' && typeof a === 'string' && a in APPLIED_SYMBOLS && k + 1 < as.length) continue;
    if (h === 'Apply' && k === 0) continue;
    freeVariables(a, out);
  }
  return out;
}

function literal(e: MathJson): NumValue | null {
  if (typeof e === 'number') {
    if (Number.isInteger(e) && Math.abs(e) <= Number.MAX_SAFE_INTEGER) return exact(BigInt(e));
    return float(e);
  }
  if (typeof e === 'object' && e !== null && !Array.isArray(e) && typeof e.num === 'string') {
    const s = e.num.trim();
    if (/^[+-]?\d+$/.test(s)) return exact(BigInt(s));
    if (s === 'NaN') return float(NaN, NaN);
    if (/^[+-]?Infinity$/.test(s) || /^[+-]?oo$/.test(s)) return float(s.startsWith('-') ? -Infinity : Infinity);
    const x = Number(s.replace(/n$/, ''));
    if (Number.isNaN(x)) throw new EvalError(`bad number literal ${s}`);
    return float(x);
  }
  return null;
}

function asExactInteger(v: NumValue, what: string): bigint {
  if (isExactInteger(v)) return v.num;
  if (v.kind === 'float' && v.im === 0 && Number.isInteger(v.re) && Math.abs(v.re) <= Number.MAX_SAFE_INTEGER) {
    return BigInt(v.re);
  }
  throw new EvalError(`${what} needs an integer`);
}

/** An overflowed result: its magnitude is lost, so it equals nothing (numeric.ts). */
const overflow = (): NumValue => float(Infinity, 0, 0, true);

function factorial(n: bigint): NumValue {
  if (n < 0n) return float(NaN, NaN);
  if (n > 100_000n) return overflow();
  // log2(n!) first: past MAX_EXACT_BITS the exact product is not computed at all.
  let bits = 0;
  for (let k = 2; k <= Number(n); k++) bits += Math.log2(k);
  if (bits > MAX_EXACT_BITS) return overflow();
  let r = 1n;
  for (let k = 2n; k <= n; k++) r *= k;
  return exact(r);
}

function binomial(n: bigint, k: bigint): NumValue {
  if (k < 0n || n < 0n || k > n) return exact(0n);
  if (k > n - k) k = n - k;
  if (k > 100_000n) return overflow();
  // log2 of the result, to skip BigInt work whose result would be a float Infinity anyway.
  let bits = 0;
  for (let j = 1; j <= Number(k); j++) bits += Math.log2((Number(n - k) + j) / j);
  if (bits > MAX_EXACT_BITS) return overflow(); // beyond the exact cap: magnitude lost
  let r = 1n;
  for (let j = 1n; j <= k; j++) r = (r * (n - k + j)) / j;
  return exact(r);
}

function gcdBig(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

function floorValue(v: NumValue, mode: 'floor' | 'ceil' | 'round'): NumValue {
  if (v.kind === 'exact') {
    const q = v.num / v.den; // truncates toward zero
    const r = v.num % v.den;
    if (r === 0n) return exact(q);
    const fl = v.num < 0n ? q - 1n : q;
    if (mode === 'floor') return exact(fl);
    if (mode === 'ceil') return exact(fl + 1n);
    // round half up
    return exact(2n * (v.num - fl * v.den) >= v.den ? fl + 1n : fl);
  }
  const f = mode === 'floor' ? Math.floor : mode === 'ceil' ? Math.ceil : Math.round;
  if (v.im !== 0) throw new EvalError(`${mode} of a complex number`);
  const r = f(v.re);
  return Number.isSafeInteger(r) ? exact(BigInt(r)) : float(r);
}

function realCompare(vs: NumValue[], pick: 'max' | 'min'): NumValue {
  let best: NumValue | null = null;
  let bestX = 0;
  for (const v of vs) {
    const f = toFloat(v);
    if (f.im !== 0) throw new EvalError(`${pick} of a complex number`);
    if (best === null || (pick === 'max' ? f.re > bestX : f.re < bestX)) {
      best = v;
      bestX = f.re;
    }
  }
  if (best === null) throw new EvalError(`${pick} of nothing`);
  return best;
}

type Fn1 = (z: FloatValue) => FloatValue;
const UNARY_FLOAT: Record<string, Fn1> = {
  Exp: cexp,
  Ln: clog,
  Lb: (z) => toFloat(div(clog(z), float(Math.LN2))),
  Lg: (z) => toFloat(div(clog(z), float(Math.LN10))),
  Sin: csin,
  Cos: ccos,
  Tan: (z) => toFloat(div(csin(z), ccos(z))),
  Cot: (z) => toFloat(div(ccos(z), csin(z))),
  Sec: (z) => toFloat(div(float(1), ccos(z))),
  Csc: (z) => toFloat(div(float(1), csin(z))),
  Arcsin: (z) => realOnly(z, Math.asin),
  Arccos: (z) => realOnly(z, Math.acos),
  Arctan: (z) => realOnly(z, Math.atan),
  Arccot: (z) => realOnly(z, (x) => Math.atan(1 / x)),
  Arcsec: (z) => realOnly(z, (x) => Math.acos(1 / x)),
  Arccsc: (z) => realOnly(z, (x) => Math.asin(1 / x)),
  Sinh: (z) => realOnly(z, Math.sinh),
  Cosh: (z) => realOnly(z, Math.cosh),
  Tanh: (z) => realOnly(z, Math.tanh),
  Arsinh: (z) => realOnly(z, Math.asinh),
  Arcosh: (z) => realOnly(z, Math.acosh),
  Artanh: (z) => realOnly(z, Math.atanh),
};

const INVERSE_OF: Record<string, string> = {
  Sin: 'Arcsin',
  Cos: 'Arccos',
  Tan: 'Arctan',
  Cot: 'Arccot',
  Sec: 'Arcsec',
  Csc: 'Arccsc',
  Sinh: 'Arsinh',
  Cosh: 'Arcosh',
  Tanh: 'Artanh',
};

function sqrtValue(v: NumValue): NumValue {
  // Exact square roots of perfect squares (√(9/4) = 3/2) stay exact.
  return v.kind === 'exact' && v.num >= 0n ? pow(v, exact(1n, 2n)) : csqrt(toFloat(v));
}

/** Applies a named function to already-evaluated arguments. */
function applyFunction(name: string, vs: NumValue[]): NumValue {
  const one = (): NumValue => {
    if (vs.length !== 1) throw new EvalError(`${name} takes one argument`);
    return vs[0]!;
  };
  switch (name) {
    case 'Sqrt':
      return sqrtValue(one());
    case 'Abs': {
      const v = one();
      if (v.kind === 'exact') return exact(v.num < 0n ? -v.num : v.num, v.den);
      return float(Math.hypot(v.re, v.im));
    }
    case 'Factorial':
      return factorial(asExactInteger(one(), 'factorial'));
    case 'Gamma': {
      const n = asExactInteger(one(), 'gamma');
      return factorial(n - 1n);
    }
    case 'Binomial': {
      if (vs.length !== 2) throw new EvalError('binomial takes two arguments');
      return binomial(asExactInteger(vs[0]!, 'binomial'), asExactInteger(vs[1]!, 'binomial'));
    }
    case 'GCD':
    case 'LCM': {
      if (vs.length < 1) throw new EvalError(`${name} of nothing`);
      let acc = asExactInteger(vs[0]!, name);
      for (const v of vs.slice(1)) {
        const b = asExactInteger(v, name);
        acc = name === 'GCD' ? gcdBig(acc, b) : acc === 0n || b === 0n ? 0n : (acc * b) / gcdBig(acc, b);
      }
      return exact(acc < 0n ? -acc : acc);
    }
    case 'Floor':
      return floorValue(one(), 'floor');
    case 'Ceil':
      return floorValue(one(), 'ceil');
    case 'Round':
      return floorValue(one(), 'round');
    case 'Max':
      return realCompare(vs, 'max');
    case 'Min':
      return realCompare(vs, 'min');
    case 'Log': {
      if (vs.length === 1) return div(clog(toFloat(vs[0]!)), float(Math.LN10));
      if (vs.length === 2) return div(clog(toFloat(vs[0]!)), clog(toFloat(vs[1]!)));
      throw new EvalError('log takes one or two arguments');
    }
    case 'Degrees':
      // A degree mark is dropped during normalization; if one survives, 30° means 30.
      return one();
    default: {
      const f = UNARY_FLOAT[name];
      if (f === undefined) throw new EvalError(`unsupported function ${name}`);
      return f(toFloat(one()));
    }
  }
}

/** Arguments of an applied function: a parenthesized sequence gives several. */
function functionArgs(e: MathJson): MathJson[] {
  if (head(e) === 'Delimiter') {
    const inner = args(e)[0];
    if (inner === undefined) return [];
    if (head(inner) === 'Sequence') return args(inner);
    return [inner];
  }
  return [e];
}

/**
 * Evaluates `e` with `env` giving each free variable's value. Throws EvalError for
 * anything that is not a scalar expression we understand, DeadlineError past the budget.
 */
export function evaluate(e: MathJson, env: ReadonlyMap<string, NumValue>, budget: Budget): NumValue {
  const v = evaluateNode(e, env, budget);
  if (budget.real && !isRealValue(v)) throw new NonRealError('not real');
  return v;
}

function evaluateNode(e: MathJson, env: ReadonlyMap<string, NumValue>, budget: Budget): NumValue {
  budget.tick();
  const lit = literal(e);
  if (lit !== null) return lit;
  const h = head(e);
  if (h === null) {
    const s = symbolName(e);
    if (s === null) throw new EvalError(`not a number: ${JSON.stringify(e)}`);
    const c = CONSTANTS[s];
    if (c !== undefined) return c();
    const v = env.get(s);
    if (v === undefined) throw new EvalError(`unbound variable ${s}`);
    return v;
  }
  const as = args(e);
  const ev = (x: MathJson): NumValue => evaluate(x, env, budget);
  switch (h) {
    case 'Error':
      throw new EvalError('parse error');
    case 'Add': {
      let acc: NumValue = exact(0n);
      for (const a of as) acc = add(acc, ev(a));
      return acc;
    }
    case 'Subtract': {
      if (as.length === 0) throw new EvalError('empty subtraction');
      let acc = ev(as[0]!);
      if (as.length === 1) return neg(acc);
      for (const a of as.slice(1)) acc = sub(acc, ev(a));
      return acc;
    }
    case 'Negate':
      return neg(ev(as[0]!));
    case 'Multiply': {
      let acc: NumValue = exact(1n);
      for (const a of as) acc = mul(acc, ev(a));
      return acc;
    }
    case 'InvisibleOperator': {
      let acc: NumValue = exact(1n);
      for (let k = 0; k < as.length; k++) {
        const a = as[k]!;
        const applied = typeof a === 'string' ? APPLIED_SYMBOLS[a] : undefined;
        if (applied !== undefined && k + 1 < as.length) {
          acc = mul(acc, applyFunction(applied, functionArgs(as[k + 1]!).map(ev)));
          k++;
        } else {
          acc = mul(acc, ev(a));
        }
      }
      return acc;
    }
    case 'Divide':
    case 'Rational':
      if (as.length !== 2) throw new EvalError('division takes two arguments');
      return div(ev(as[0]!), ev(as[1]!));
    case 'Power':
      if (as.length !== 2) throw new EvalError('power takes two arguments');
      if (symbolName(as[0]!) === 'e' || symbolName(as[0]!) === 'ExponentialE') return cexp(toFloat(ev(as[1]!)));
      return pow(ev(as[0]!), ev(as[1]!));
    case 'Square':
      return pow(ev(as[0]!), exact(2n));
    case 'Root': {
      if (as.length !== 2) throw new EvalError('root takes two arguments');
      const x = ev(as[0]!);
      const n = ev(as[1]!);
      // Odd roots of negative reals are real (∛(-8) = -2), as a reader of \sqrt[3]{-8} expects.
      const nf = toFloat(n);
      const xf = toFloat(x);
      if (nf.im === 0 && Number.isInteger(nf.re) && nf.re % 2 !== 0 && xf.im === 0 && xf.re < 0) {
        return neg(pow(neg(x), div(exact(1n), n)));
      }
      return pow(x, div(exact(1n), n));
    }
    case 'Delimiter': {
      const inner = as[0];
      if (inner === undefined) throw new EvalError('empty parentheses');
      if (head(inner) === 'Sequence' && args(inner).length !== 1) throw new EvalError('tuple in scalar context');
      return ev(head(inner) === 'Sequence' ? args(inner)[0]! : inner);
    }
    case 'Sequence':
      if (as.length !== 1) throw new EvalError('sequence in scalar context');
      return ev(as[0]!);
    case 'Hold':
      return ev(as[0]!);
    case 'Complex':
      return add(ev(as[0]!), mul(ev(as[1]!), float(0, 1)));
    case 'Subscript': {
      const name = subscriptName(e);
      const v = name === null ? undefined : env.get(name);
      if (v === undefined) throw new EvalError('unsupported subscript');
      return v;
    }
    case 'Apply': {
      // \sin^{-1} x parses as Apply(InverseFunction(Sin), x).
      const f = as[0]!;
      if (head(f) === 'InverseFunction') {
        const base = args(f)[0];
        const inv = typeof base === 'string' ? INVERSE_OF[base] : undefined;
        if (inv !== undefined) return applyFunction(inv, as.slice(1).map(ev));
      }
      throw new EvalError('unsupported application');
    }
    default:
      return applyFunction(h, as.map(ev));
  }
}
