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

/** An exact rational num/den with den > 0 and gcd(num, den) = 1. */
export interface ExactValue {
  kind: 'exact';
  num: bigint;
  den: bigint;
}

/** An approximate complex number re + i·im (IEEE doubles; may be ±Infinity or NaN). */
export interface FloatValue {
  kind: 'float';
  re: number;
  im: number;
}

export type NumValue = ExactValue | FloatValue;

/** Exact results whose numerator or denominator would exceed this many bits become floats. */
export const MAX_EXACT_BITS = 4096;

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
  const g = gcdBig(num, den);
  if (g > 1n) {
    num /= g;
    den /= g;
  }
  if (bitLength(num) > MAX_EXACT_BITS || bitLength(den) > MAX_EXACT_BITS) {
    return float(bigRatioToNumber(num, den), 0);
  }
  return { kind: 'exact', num, den };
}

export function float(re: number, im = 0): FloatValue {
  return { kind: 'float', re, im };
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
  return v.kind === 'float' ? v : float(bigRatioToNumber(v.num, v.den), 0);
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
  return float(x.re + y.re, x.im + y.im);
}

export function neg(a: NumValue): NumValue {
  if (a.kind === 'exact') return { kind: 'exact', num: -a.num, den: a.den };
  return float(-a.re, -a.im);
}

export function sub(a: NumValue, b: NumValue): NumValue {
  return add(a, neg(b));
}

export function mul(a: NumValue, b: NumValue): NumValue {
  if (a.kind === 'exact' && b.kind === 'exact') return exact(a.num * b.num, a.den * b.den);
  const x = toFloat(a);
  const y = toFloat(b);
  // Real × real stays exactly real (avoids 0·Infinity = NaN in the imaginary part).
  if (x.im === 0 && y.im === 0) return float(x.re * y.re, 0);
  return float(x.re * y.re - x.im * y.im, x.re * y.im + x.im * y.re);
}

export function div(a: NumValue, b: NumValue): NumValue {
  if (a.kind === 'exact' && b.kind === 'exact') {
    if (b.num === 0n) return float(a.num === 0n ? NaN : Number(a.num) / 0, 0);
    return exact(a.num * b.den, a.den * b.num);
  }
  const x = toFloat(a);
  const y = toFloat(b);
  if (x.im === 0 && y.im === 0) return float(x.re / y.re, 0);
  const d = y.re * y.re + y.im * y.im;
  return float((x.re * y.re + x.im * y.im) / d, (x.im * y.re - x.re * y.im) / d);
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
  return complexPow(toFloat(a), toFloat(b));
}

// ---------------------------------------------------------------------------
// Complex elementary functions (principal branches)
// ---------------------------------------------------------------------------

export function cexp(z: FloatValue): FloatValue {
  const m = Math.exp(z.re);
  if (z.im === 0) return float(m, 0);
  return float(m * Math.cos(z.im), m * Math.sin(z.im));
}

export function clog(z: FloatValue): FloatValue {
  if (z.im === 0 && z.re >= 0) return float(Math.log(z.re), 0);
  return float(Math.log(Math.hypot(z.re, z.im)), Math.atan2(z.im, z.re));
}

export function csqrt(z: FloatValue): FloatValue {
  if (z.im === 0) {
    return z.re >= 0 ? float(Math.sqrt(z.re), 0) : float(0, Math.sqrt(-z.re));
  }
  const r = Math.hypot(z.re, z.im);
  const re = Math.sqrt((r + z.re) / 2);
  const im = Math.sign(z.im) * Math.sqrt((r - z.re) / 2);
  return float(re, im);
}

function complexPow(a: FloatValue, b: FloatValue): FloatValue {
  if (a.im === 0 && b.im === 0) {
    // Real base and exponent: Math.pow is exact-er; a negative base with a non-integer
    // exponent goes through the principal complex branch (e.g. (-8)^{1/3} = 1 + i√3).
    if (a.re >= 0 || Number.isInteger(b.re)) return float(Math.pow(a.re, b.re), 0);
  }
  if (a.re === 0 && a.im === 0) {
    if (b.re > 0) return float(0, 0);
    return float(NaN, NaN);
  }
  const l = clog(a);
  return cexp(float(l.re * b.re - l.im * b.im, l.re * b.im + l.im * b.re));
}

export function csin(z: FloatValue): FloatValue {
  if (z.im === 0) return float(Math.sin(z.re), 0);
  return float(Math.sin(z.re) * Math.cosh(z.im), Math.cos(z.re) * Math.sinh(z.im));
}

export function ccos(z: FloatValue): FloatValue {
  if (z.im === 0) return float(Math.cos(z.re), 0);
  return float(Math.cos(z.re) * Math.cosh(z.im), -Math.sin(z.re) * Math.sinh(z.im));
}

/** Applies a real function when z is real, else returns NaN (no complex extension). */
export function realOnly(z: FloatValue, f: (x: number) => number): FloatValue {
  if (Math.abs(z.im) > 1e-12 * Math.max(1, Math.abs(z.re))) return float(NaN, NaN);
  return float(f(z.re), 0);
}

// ---------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------

/**
 * Absolute floor under which two floats count as equal whatever their relative error;
 * it absorbs rounding noise around zero (sin π ≈ 1.2e-16 vs 0).
 */
export const ABS_FLOOR = 1e-12;

/**
 * a ≈ b: exact equality if both are exact, else
 *   |a − b| ≤ relTol · max(|a|, |b|)   or   |a − b| ≤ ABS_FLOOR
 * (|·| is the complex modulus). Infinities are equal only to the same infinity; NaN to nothing.
 */
export function numericEqual(a: NumValue, b: NumValue, relTol: number): boolean {
  if (a.kind === 'exact' && b.kind === 'exact') return a.num === b.num && a.den === b.den;
  const x = toFloat(a);
  const y = toFloat(b);
  if ([x.re, x.im, y.re, y.im].some(Number.isNaN)) return false;
  if (![x.re, x.im, y.re, y.im].every(Number.isFinite)) return x.re === y.re && x.im === y.im;
  const diff = Math.hypot(x.re - y.re, x.im - y.im);
  const scale = Math.max(Math.hypot(x.re, x.im), Math.hypot(y.re, y.im));
  return diff <= relTol * scale || diff <= ABS_FLOOR;
}

export function isFiniteValue(v: NumValue): boolean {
  if (v.kind === 'exact') return true;
  return Number.isFinite(v.re) && Number.isFinite(v.im);
}
