/**
 * Shared checks for the prime-ts/torch tests: comparisons against independent values that print
 * the largest difference and the tolerance, so a failure (or a near miss) is visible in the log.
 * This file holds no tests.
 */
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';

export type Nested = number | boolean | Nested[];

/** Flattens nested JS arrays (the independent expected values) row-major. */
export function flat(x: Nested): number[] {
  if (Array.isArray(x)) return x.flatMap(flat);
  return [typeof x === 'boolean' ? Number(x) : x];
}

/** Largest |a − b| over elements, NaN if either side has NaN where the other has not. */
export function maxDiff(a: number[], b: number[]): number {
  assert.equal(a.length, b.length, `length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (Number.isNaN(x) || Number.isNaN(y)) {
      if (Number.isNaN(x) !== Number.isNaN(y)) return NaN;
      continue;
    }
    if (x === y) continue; // equal infinities
    m = Math.max(m, Math.abs(x - y));
  }
  return m;
}

/**
 * Asserts that `actual` (a tensor or numbers) equals `expected` elementwise within
 * atol + rtol·|expected| (NaN must match NaN, ±Infinity must match exactly), and that the
 * shape matches when given. Logs the max difference.
 */
export function assertClose(
  label: string,
  actual: Tensor | number[] | number,
  expected: Nested,
  opts: { atol?: number; rtol?: number; shape?: number[] } = {},
): number {
  const atol = opts.atol ?? 1e-6, rtol = opts.rtol ?? 1e-5;
  let got: number[];
  if (typeof actual === 'number') got = [actual];
  else if (Array.isArray(actual)) got = actual;
  else {
    if (opts.shape) assert.deepEqual(actual.shape, opts.shape, `${label}: shape`);
    got = actual.toFlatArray();
  }
  const want = flat(expected);
  assert.equal(got.length, want.length, `${label}: ${got.length} elements, expected ${want.length}`);
  let worst = 0, worstExcess = -Infinity;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (Number.isNaN(w) || Number.isNaN(g)) {
      assert.ok(Number.isNaN(w) && Number.isNaN(g), `${label}[${i}]: got ${g}, expected ${w}`);
      continue;
    }
    if (!Number.isFinite(w) || !Number.isFinite(g)) {
      assert.equal(g, w, `${label}[${i}]: got ${g}, expected ${w}`);
      continue;
    }
    const d = Math.abs(g - w);
    worst = Math.max(worst, d);
    worstExcess = Math.max(worstExcess, d - (atol + rtol * Math.abs(w)));
    assert.ok(d <= atol + rtol * Math.abs(w), `${label}[${i}]: got ${g}, expected ${w} (|diff| ${d} > ${atol} + ${rtol}·|expected|)`);
  }
  console.log(`  ${label}: max |diff| ${worst.toExponential(2)} (atol ${atol}, rtol ${rtol})`);
  return worst;
}

/** Asserts exact equality of values (and dtype/shape when given). */
export function assertExact(label: string, actual: Tensor, expected: Nested, dtype?: string, shape?: number[]): void {
  if (dtype) assert.equal(actual.dtype, dtype, `${label}: dtype`);
  if (shape) assert.deepEqual(actual.shape, shape, `${label}: shape`);
  assert.deepEqual(actual.toFlatArray(), flat(expected), label);
}

/** Asserts that fn throws an Error whose message matches re (libtorch's message surfacing). */
export function assertThrowsMsg(fn: () => unknown, re: RegExp, label = ''): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof Error, `${label}: not an Error: ${String(e)}`);
    assert.match(e.message, re, `${label}: message`);
    return true;
  });
}

/**
 * Runs fn inside a tidy scope and asserts that it leaves no new live tensors behind.
 * Use around each test body so that a leaking op shows up where it leaks.
 */
export function noLeak<R>(fn: () => R): R {
  const before = torch.memory().tensors;
  const r = torch.tidy(fn);
  const after = torch.memory().tensors;
  if (!(r instanceof Object && (r as { _isTensor?: boolean })._isTensor))
    assert.equal(after, before, `live tensors ${before} → ${after}`);
  return r;
}

/** A deterministic pseudo-random sequence in [-1, 1) (independent of libtorch's RNG). */
export function seq(n: number, seed = 1): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

/** A float64 tensor of shape with values from seq(), optionally requiring grad. */
export function f64(shape: number[], seed = 1, opts: { requiresGrad?: boolean; scale?: number; offset?: number } = {}): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = seq(n, seed).map((x) => x * (opts.scale ?? 1) + (opts.offset ?? 0));
  return torch.tensor(Float64Array.from(v), { shape, requiresGrad: opts.requiresGrad });
}
