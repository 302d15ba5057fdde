/**
 * Numeric values used when comparing answers: exact rationals (BigInt) where the
 * arithmetic allows it, approximate complex floats otherwise.
 *
 * Why two kinds: an answer built only from integer literals and + − × ÷ and integer
 * powers is compared exactly (so 2^64 and 18446744073709551617 differ), while anything
 * involving a decimal literal, π, a root or a transcendental function is compared with
 * a relative tolerance. A decimal literal is deliberately *not* exact: writing 0.333
 * signals an approximation, and whether it may stand for 1/3 is the tolerance's call.
 */

/** An exact rational num/den with den > 0 and gcd(num, den) = 1 (unless both exceed GCD_BITS). */
export interface ExactValue {
  kind: 'exact';
  num: bigint;
  den: bigint;
}

/**
 * An approximate complex number re + i·im (IEEE doubles; may be ±Infinity or NaN), with a
 * first-order bound `err` on its absolute rounding error (propagated through the arithmetic
 * below), and `lost` when overflow or underflow destroyed its magnitude (a finite computation
 * that gave ±Infinity, or a non-zero one that gave 0): such a value never equals anything.
 */
export interface FloatValue {
  kind: 'float';
  re: number;
  im: number;
  err: number;
  lost?: true;
}

export type NumValue = ExactValue | FloatValue;

/**
 * Exact results whose numerator or denominator would exceed this many bits become floats
 * (32768 bits ≈ 9864 decimal digits: 2006! is exact, so 2006! ≠ 2004! is decided exactly).
 */
export const MAX_EXACT_BITS = 32768;

const EPS = Number.EPSILON;
/** Fractions whose numerator and denominator both exceed this many bits are not reduced. */
const GCD_BITS = 4096;

export class NumericError extends Error {}

function absBig(a: bigint): bigint {
  return a < 0n ? -a : a;
}

function gcdBig(a: bigint, b: bigint): bigint {
  a = absBig(a);
  b = absBig(b);
  while (b !== 0n) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

function bitLength(a: bigint): number {
  return absBig(a).toString(2).length;
}

export function exact(num: bigint, den: bigint = 1n): NumValue {
  if (den === 0n) {
    // x/0: leave exact arithmetic; the float result (±Infinity or NaN) never equals a finite answer.
    return float(Number(num) / 0, 0);
  }
  if (den < 0n) {
    num = -num;
    den = -den;
  }
  // Reduce by the gcd unless both parts are huge: Euclid on two 30000-bit numbers takes
  // ~0.5 s between clock checks. Unreduced values still compare right (numericEqual
  // cross-multiplies); only integer tests (factorial arguments) then miss, beyond any use.
  if (bitLength(num) <= GCD_BITS || bitLength(den) <= GCD_BITS) {
    const g = gcdBig(num, den);
    if (g > 1n) {
      num /= g;
      den /= g;
    }
  }
  if (bitLength(num) > MAX_EXACT_BITS || bitLength(den) > MAX_EXACT_BITS) {
    const x = bigRatioToNumber(num, den);
    return float(x, 0, undefined, !Number.isFinite(x) || (x === 0 && num !== 0n));
  }
  return { kind: 'exact', num, den };
}

/** A float; `err` defaults to the rounding of the value itself (EPS·|z|, 0 for an infinity). */
export function float(re: number, im = 0, err?: number, lost = false): FloatValue {
  const mag = Math.hypot(re, im);
  const v: FloatValue = { kind: 'float', re, im, err: err ?? (Number.isFinite(mag) ? EPS * mag : 0) };
  if (lost) v.lost = true;
  return v;
}

const modulus = (z: FloatValue): number => Math.hypot(z.re, z.im);
const finite = (z: FloatValue): boolean => Number.isFinite(z.re) && Number.isFinite(z.im);

/**
 * A computed float: error bound `err` plus the result's own rounding; lost if an input was,
 * if finite inputs overflowed, or if `underflowed` (a non-zero result rounded to 0).
 */
function computed(re: number, im: number, err: number, inputs: FloatValue[], underflowed = false): FloatValue {
  const r = float(re, im);
  const overflowed = !finite(r) && inputs.every(finite) && !Number.isNaN(re) && !Number.isNaN(im);
  const lost = inputs.some((x) => x.lost === true) || overflowed || underflowed;
  return float(re, im, finite(r) ? err + r.err : 0, lost);
}

/** num/den as a double without overflowing to Infinity/NaN when both are huge. */
export function bigRatioToNumber(num: bigint, den: bigint): number {
  const nb = bitLength(num);
  const db = bitLength(den);
  if (nb <= 1000 && db <= 1000) return Number(num) / Number(den);
  // Drop low bits of both so they fit in a double's range, keeping ~60 significant bits.
  const shiftN = Math.max(0, nb - 60);
  const shiftD = Math.max(0, db - 60);
  const mant = Number(num >> BigInt(shiftN)) / Number(den >> BigInt(shiftD));
  const exp2 = shiftN - shiftD;
  if (exp2 > 2000) return mant === 0 ? 0 : mant > 0 ? Infinity : -Infinity;
  if (exp2 < -2000) return 0;
  return mant * Math.pow(2, exp2);
}

export function toFloat(v: NumValue): FloatValue {
  if (v.kind === 'float') return v;
  const x = bigRatioToNumber(v.num, v.den);
  return float(x, 0, undefined, !Number.isFinite(x) || (x === 0 && v.num !== 0n));
}

export function isExactInteger(v: NumValue): v is ExactValue {
  return v.kind === 'exact' && v.den === 1n;
}

/** True if the value is a real float (imaginary part negligible) or exact. */
export function realPart(v: NumValue): number | null {
  const f = toFloat(v);
  if (Math.abs(f.im) > 1e-12 * Math.max(1, Math.abs(f.re))) return null;
  return f.re;
}

// ---------------------------------------------------------------------------
// Arithmetic
// ---------------------------------------------------------------------------

export function add(a: NumValue, b: NumValue): NumValue {
  if (a.kind === 'exact' && b.kind === 'exact') return exact(a.num * b.den + b.num * a.den, a.den * b.den);
  const x = toFloat(a);
  const y = toFloat(b);
  return computed(x.re + y.re, x.im + y.im, x.err + y.err, [x, y]);
}

export function neg(a: NumValue): NumValue {
  if (a.kind === 'exact') return { kind: 'exact', num: -a.num, den: a.den };
  return { ...a, re: -a.re, im: -a.im };
}

export function sub(a: NumValue, b: NumValue): NumValue {
  return add(a, neg(b));
}

export function mul(a: NumValue, b: NumValue): NumValue {
  if (a.kind === 'exact' && b.kind === 'exact') return exact(a.num * b.num, a.den * b.den);
  const x = toFloat(a);
  const y = toFloat(b);
  const err = modulus(y) * x.err + modulus(x) * y.err;
  const under = (re: number, im: number) => re === 0 && im === 0 && modulus(x) !== 0 && modulus(y) !== 0;
  // Real × real stays exactly real (avoids 0·Infinity = NaN in the imaginary part).
  if (x.im === 0 && y.im === 0) return computed(x.re * y.re, 0, err, [x, y], under(x.re * y.re, 0));
  const re = x.re * y.re - x.im * y.im;
  const im = x.re * y.im + x.im * y.re;
  return computed(re, im, err, [x, y], under(re, im));
}

export function div(a: NumValue, b: NumValue): NumValue {
  if (a.kind === 'exact' && b.kind === 'exact') {
    if (b.num === 0n) return float(a.num === 0n ? NaN : Number(a.num) / 0, 0);
    return exact(a.num * b.den, a.den * b.num);
  }
  const x = toFloat(a);
  const y = toFloat(b);
  const my = modulus(y);
  const err = x.err / my + (modulus(x) * y.err) / (my * my);
  const under = (re: number, im: number) => re === 0 && im === 0 && modulus(x) !== 0 && Number.isFinite(my);
  // Division by zero is a pole (±Infinity or NaN), not an overflow.
  const inputs = my === 0 ? [x] : [x, y];
  if (x.im === 0 && y.im === 0) {
    const r = x.re / y.re;
    return my === 0 ? float(r, 0, 0, x.lost === true) : computed(r, 0, err, inputs, under(r, 0));
  }
  const d = y.re * y.re + y.im * y.im;
  const re = (x.re * y.re + x.im * y.im) / d;
  const im = (x.im * y.re - x.re * y.im) / d;
  return computed(re, im, err, inputs, under(re, im));
}

/** Largest |integer exponent| applied exactly; beyond it the power is computed in floats. */
const MAX_EXACT_EXPONENT = 4096;

function powBigInt(base: bigint, e: number): bigint {
  let result = 1n;
  let b = base;
  let k = e;
  while (k > 0) {
    if (k & 1) result *= b;
    b *= b;
    k >>= 1;
  }
  return result;
}

/** Exact integer k-th root of a non-negative BigInt, or null if not a perfect power. */
function exactIntegerRoot(a: bigint, k: number): bigint | null {
  if (a < 0n) return null;
  if (a < 2n) return a;
  const approx = BigInt(Math.round(Math.pow(bigRatioToNumber(a, 1n), 1 / k)));
  for (const c of [approx - 1n, approx, approx + 1n]) {
    if (c >= 0n && powBigInt(c, k) === a) return c;
  }
  return null;
}

export function pow(a: NumValue, b: NumValue): NumValue {
  if (a.kind === 'exact' && b.kind === 'exact') {
    // Integer exponent: exact if the result stays small.
    if (b.den === 1n && absBig(b.num) <= BigInt(MAX_EXACT_EXPONENT)) {
      const e = Number(b.num);
      const bits = Math.max(bitLength(a.num), bitLength(a.den)) * Math.abs(e);
      if (bits <= MAX_EXACT_BITS) {
        if (e >= 0) return exact(powBigInt(a.num, e), powBigInt(a.den, e));
        if (a.num === 0n) return float(Infinity, 0);
        return exact(powBigInt(a.den, -e), powBigInt(a.num, -e));
      }
    }
    // Rational exponent p/q of a perfect q-th power, e.g. 8^{2/3} = 4.
    if (b.den > 1n && b.den <= 64n && a.num >= 0n) {
      const q = Number(b.den);
      const rn = exactIntegerRoot(a.num, q);
      const rd = exactIntegerRoot(a.den, q);
      if (rn !== null && rd !== null) return pow(exact(rn, rd), exact(b.num, 1n));
    }
  }
  // Real semantics: an odd root of a negative real is real, (-8)^{1/3} = -2 and
  // (-8)^{2/3} = 4, as a reader of the answer means (not the principal complex value).
  if (b.kind === 'exact' && b.den % 2n === 1n && b.den > 1n) {
    const af = toFloat(a);
    if (af.im === 0 && af.re < 0) {
      const r = pow(neg(a), b);
      return absBig(b.num) % 2n === 1n ? neg(r) : r;
    }
  }
  return complexPow(toFloat(a), toFloat(b));
}

// ---------------------------------------------------------------------------
// Complex elementary functions (principal branches)
// ---------------------------------------------------------------------------

// Error bounds: first-order, |f'(z)|·err(z) plus the result's rounding (see `computed`).

export function cexp(z: FloatValue): FloatValue {
  const m = Math.exp(z.re);
  // exp is never 0: a 0 result is an underflow (e^{-1000}), never equal to 0.
  const under = m === 0 && Number.isFinite(z.re);
  if (z.im === 0) return computed(m, 0, m * z.err, [z], under);
  return computed(m * Math.cos(z.im), m * Math.sin(z.im), m * z.err, [z], under);
}

export function clog(z: FloatValue): FloatValue {
  const mz = modulus(z);
  const err = mz === 0 ? 0 : z.err / mz;
  // log 0 = -∞ is a pole, not an overflow.
  if (z.im === 0 && z.re >= 0) return mz === 0 ? float(-Infinity, 0, 0, z.lost === true) : computed(Math.log(z.re), 0, err, [z]);
  return computed(Math.log(mz), Math.atan2(z.im, z.re), err, [z]);
}

export function csqrt(z: FloatValue): FloatValue {
  let re: number;
  let im: number;
  if (z.im === 0) {
    [re, im] = z.re >= 0 ? [Math.sqrt(z.re), 0] : [0, Math.sqrt(-z.re)];
  } else {
    const r = Math.hypot(z.re, z.im);
    re = Math.sqrt((r + z.re) / 2);
    im = Math.sign(z.im) * Math.sqrt((r - z.re) / 2);
  }
  const m = Math.hypot(re, im);
  return computed(re, im, m === 0 ? Math.sqrt(z.err) : z.err / (2 * m), [z]);
}

function complexPow(a: FloatValue, b: FloatValue): FloatValue {
  if (a.im === 0 && b.im === 0) {
    // Real base and exponent: Math.pow is exact-er; a negative base with a non-integer
    // exponent goes through the principal complex branch (e.g. (-8)^{0.3}); an exact odd
    // root of a negative base never gets here (pow keeps it real).
    if (a.re >= 0 || Number.isInteger(b.re)) {
      const r = Math.pow(a.re, b.re);
      const ma = Math.abs(a.re);
      if (ma === 0) return float(r, 0, 0, a.lost === true || b.lost === true);
      const err = Math.abs(r) * (Math.abs(b.re) * (a.err / ma) + Math.abs(Math.log(ma)) * b.err);
      return computed(r, 0, err, [a, b], r === 0 && Number.isFinite(b.re));
    }
  }
  if (a.re === 0 && a.im === 0) {
    if (b.re > 0) return float(0, 0, 0, a.lost === true || b.lost === true);
    return float(NaN, NaN);
  }
  const l = clog(a);
  return cexp(mul(l, b) as FloatValue);
}

export function csin(z: FloatValue): FloatValue {
  // |sin'| = |cos| ≤ cosh(im); Math.sin's own argument reduction is exact.
  if (z.im === 0) return computed(Math.sin(z.re), 0, z.err, [z]);
  return computed(Math.sin(z.re) * Math.cosh(z.im), Math.cos(z.re) * Math.sinh(z.im), z.err * Math.cosh(z.im), [z]);
}

export function ccos(z: FloatValue): FloatValue {
  if (z.im === 0) return computed(Math.cos(z.re), 0, z.err, [z]);
  return computed(Math.cos(z.re) * Math.cosh(z.im), -Math.sin(z.re) * Math.sinh(z.im), z.err * Math.cosh(z.im), [z]);
}

/**
 * Applies a real function when z is real, else returns NaN (no complex extension). The error
 * bound uses a central-difference estimate of |f'(x)|.
 */
export function realOnly(z: FloatValue, f: (x: number) => number): FloatValue {
  if (Math.abs(z.im) > 1e-12 * Math.max(1, Math.abs(z.re))) return float(NaN, NaN);
  const r = f(z.re);
  const h = 1e-6 * Math.max(1, Math.abs(z.re));
  const slope = Math.abs(f(z.re + h) - f(z.re - h)) / (2 * h);
  return computed(r, 0, z.err * (Number.isFinite(slope) ? 2 * slope : 0), [z]);
}

// ---------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------

/**
 * Multiple of the propagated rounding-error bounds under which two floats count as equal
 * whatever their relative error: it absorbs cancellation noise around zero (sin π ≈ 1.2e-16
 * vs 0, error bound ≈ 9e-16) but not a genuinely small value (e^{-40} ≈ 4e-18 has a bound of
 * ≈ 1e-32, so e^{-40} ≠ 0).
 */
export const NOISE_FACTOR = 64;

/**
 * a ≈ b: exact equality if both are exact, else
 *   |a − b| ≤ relTol · max(|a|, |b|)   or   |a − b| ≤ NOISE_FACTOR · (err(a) + err(b))
 * (|·| is the complex modulus). A value whose magnitude was lost to overflow or underflow
 * equals nothing (so 3000! ≠ 2999! although both overflow a double); a true infinity (the
 * symbol ∞, a pole) equals only the same infinity; NaN equals nothing.
 */
export function numericEqual(a: NumValue, b: NumValue, relTol: number): boolean {
  if (a.kind === 'exact' && b.kind === 'exact') return a.num * b.den === b.num * a.den;
  const x = toFloat(a);
  const y = toFloat(b);
  if ([x.re, x.im, y.re, y.im].some(Number.isNaN)) return false;
  if (x.lost === true || y.lost === true) return false;
  if (![x.re, x.im, y.re, y.im].every(Number.isFinite)) return x.re === y.re && x.im === y.im;
  const diff = Math.hypot(x.re - y.re, x.im - y.im);
  const scale = Math.max(Math.hypot(x.re, x.im), Math.hypot(y.re, y.im));
  return diff <= relTol * scale || diff <= NOISE_FACTOR * (x.err + y.err);
}

/** Whether overflow or underflow destroyed the value's magnitude. */
export function isLost(v: NumValue): boolean {
  return v.kind === 'float' && v.lost === true;
}

/** Whether the value is real (exact, or an imaginary part within its error bound). */
export function isRealValue(v: NumValue): boolean {
  if (v.kind === 'exact') return true;
  return Math.abs(v.im) <= Math.max(NOISE_FACTOR * v.err, 1e-12 * Math.abs(v.re));
}

export function isFiniteValue(v: NumValue): boolean {
  if (v.kind === 'exact') return true;
  return Number.isFinite(v.re) && Number.isFinite(v.im);
}
