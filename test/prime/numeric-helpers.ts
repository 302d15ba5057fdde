/** Shared helpers of the algorithm tests: max differences with printed tolerances, a seeded RNG. */
import assert from 'node:assert/strict';
import type * as torch from '../../src/torch/index.js';

export const flat = (t: torch.Tensor): number[] => t.toFlatArray();

export function maxDiff(a: number[], b: number[]): number {
  assert.equal(a.length, b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
}

/** Asserts max |got − want| ≤ tol, printing the difference. */
export function close(name: string, got: number[], want: number[], tol: number): void {
  const d = maxDiff(got, want);
  console.log(`${name}: max |diff| = ${d.toExponential(2)} (tol ${tol})`);
  assert.ok(d <= tol, `${name}: max diff ${d} > ${tol}\n got  ${got}\n want ${want}`);
}

/** A tiny deterministic RNG in [0, 1) for the loop references. */
export function rng(seed: number): () => number {
  let s = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) >>> 0) / 2 ** 32;
  };
}
