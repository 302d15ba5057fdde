/**
 * The math case table (src/verify/cases.ts): every case must get the verdict a careful human
 * grader gives, through both the in-thread grader and the worker-pool grader. Also reports
 * how often two naive graders are wrong on the same table — plain string equality and
 * parseFloat-with-tolerance — and requires the table to contain cases where each is wrong in
 * each direction it can be (so the table actually exercises the hard part).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { MATH_CASES, type MathCase } from '../../src/verify/cases.js';
import { gradeMath, gradeMathSync, closeMathPool, normalizeAnswer } from '../../src/verify/index.js';

after(() => closeMathPool());

const responseOf = (k: MathCase) => k.response ?? `\\boxed{${k.answer}}`;
const show = (k: MathCase) => `[${k.category}] ${JSON.stringify(k.answer)} vs ${JSON.stringify(k.truth)}`;

/** Plain string comparison of the raw answer with the ground truth. */
const naiveString = (k: MathCase) => k.answer.trim() === k.truth.trim();
/** parseFloat on both sides (NaN means "not equal"), with the same 1e-4 relative tolerance. */
function naiveFloat(k: MathCase): boolean {
  const a = parseFloat(k.answer);
  const b = parseFloat(k.truth);
  if (Number.isNaN(a) || Number.isNaN(b)) return false;
  return Math.abs(a - b) <= 1e-4 * Math.max(Math.abs(a), Math.abs(b)) || a === b;
}

test('the case table is large and covers every category in both directions', () => {
  assert.ok(MATH_CASES.length >= 150, `only ${MATH_CASES.length} cases`);
  const perCategory = new Map<string, { equivalent: number; different: number }>();
  for (const k of MATH_CASES) {
    const e = perCategory.get(k.category) ?? { equivalent: 0, different: 0 };
    if (k.equivalent) e.equivalent++;
    else e.different++;
    perCategory.set(k.category, e);
  }
  const lines = [...perCategory].map(([cat, n]) => `  ${cat.padEnd(11)} ${String(n.equivalent).padStart(3)} equivalent ${String(n.different).padStart(3)} not`);
  console.log(`math cases: ${MATH_CASES.length}\n${lines.join('\n')}`);
  for (const cat of ['fraction', 'tolerance', 'integer', 'radical', 'pi', 'polynomial', 'rational', 'equation', 'tuple', 'set', 'interval', 'matrix', 'percent', 'list', 'units']) {
    const n = perCategory.get(cat);
    assert.ok(n !== undefined && n.equivalent > 0 && n.different > 0, `category ${cat} needs equivalent and non-equivalent cases`);
  }
});

test('naive graders are wrong on the table in each direction', () => {
  const count = (f: (k: MathCase) => boolean, verdict: boolean) =>
    MATH_CASES.filter((k) => f(k) === verdict && k.equivalent !== verdict).length;
  const stringFalseNeg = count(naiveString, false);
  const floatFalseNeg = count(naiveFloat, false);
  const floatFalsePos = count(naiveFloat, true);
  console.log(
    `naive string equality: ${stringFalseNeg} equivalent pairs rejected (it never accepts a wrong one)\n` +
      `naive parseFloat:      ${floatFalseNeg} equivalent pairs rejected, ${floatFalsePos} different pairs accepted`,
  );
  assert.ok(stringFalseNeg >= 50);
  assert.ok(floatFalseNeg >= 50);
  assert.ok(floatFalsePos >= 5);
});

test('gradeMathSync gives the expected verdict on every case', () => {
  const failures: string[] = [];
  const reasons = new Map<string, number>();
  for (const k of MATH_CASES) {
    const r = gradeMathSync(responseOf(k), k.truth);
    reasons.set(r.reason, (reasons.get(r.reason) ?? 0) + 1);
    if (r.correct !== k.equivalent) failures.push(`${show(k)}: expected ${k.equivalent}, got ${r.correct} (${r.reason})`);
  }
  console.log(`verdict reasons: ${[...reasons].map(([r, n]) => `${r}=${n}`).join(' ')}`);
  assert.deepEqual(failures, [], `${failures.length} mismatches:\n${failures.join('\n')}`);
});

test('gradeMath (worker pool) agrees with gradeMathSync on every case', async () => {
  const results = await Promise.all(MATH_CASES.map((k) => gradeMath(responseOf(k), k.truth)));
  const failures = MATH_CASES.flatMap((k, i) =>
    results[i]!.correct === k.equivalent ? [] : [`${show(k)}: expected ${k.equivalent}, got ${results[i]!.reason}`],
  );
  assert.deepEqual(failures, []);
});

test('ground truth and answer are interchangeable (symmetry)', () => {
  const failures = MATH_CASES.filter((k) => !k.response)
    .filter((k) => gradeMathSync(`\\boxed{${k.truth}}`, k.answer).correct !== k.equivalent)
    .map(show);
  assert.deepEqual(failures, []);
});

test('normalizeAnswer is idempotent on every answer and truth', () => {
  const failures = MATH_CASES.flatMap((k) => [k.answer, k.truth])
    .filter((s) => normalizeAnswer(normalizeAnswer(s)) !== normalizeAnswer(s))
    .map((s) => `${JSON.stringify(s)} → ${JSON.stringify(normalizeAnswer(s))} → ${JSON.stringify(normalizeAnswer(normalizeAnswer(s)))}`);
  assert.deepEqual(failures, []);
});

test('the relative tolerance is configurable', () => {
  // |1/3 − 0.333| / (1/3) = 1e-3: rejected at the default 1e-4, accepted at 1e-2.
  assert.equal(gradeMathSync('\\boxed{0.333}', '\\frac{1}{3}').correct, false);
  assert.equal(gradeMathSync('\\boxed{0.333}', '\\frac{1}{3}', { relTol: 1e-2 }).correct, true);
  // Exact integers ignore the tolerance: 1000000 vs 1000001 differ even at 1e-2.
  assert.equal(gradeMathSync('\\boxed{1000000}', '1000001', { relTol: 1e-2 }).correct, false);
});
