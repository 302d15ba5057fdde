/**
 * Time bounds of math checks: pathological inputs end with reason 'timeout' (or are
 * rejected as unparseable up front) instead of hanging, and the pool survives a kill.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { gradeMath, gradeMathSync, closeMathPool, MathWorkerPool } from '../../src/verify/index.js';

after(() => closeMathPool());

/** 16 nested `[(`: the engine's LaTeX parser backtracks on it for many seconds. */
const NESTED = '[('.repeat(16) + 'x' + ')]'.repeat(16);
/** 60 × 60 symbolic comparisons when matched as unordered lists. */
const BIG_LIST = Array.from({ length: 60 }, (_, i) => `x^{${i}}+${i}y`).join(', ');
const BIG_LIST_SHUFFLED = Array.from({ length: 60 }, (_, i) => `${59 - i}y+x^{${59 - i}}`).join(', ');

test('deep or unbalanced brackets are refused before the parser sees them', () => {
  const t = Date.now();
  assert.equal(gradeMathSync(`\\boxed{${NESTED}}`, '1').reason, 'unparseable');
  assert.equal(gradeMathSync(`\\boxed{${'('.repeat(40)}}`, '1').reason, 'unparseable');
  assert.ok(Date.now() - t < 500, `took ${Date.now() - t} ms`);
});

test('a parser blow-up is killed by the hard deadline (worker terminated)', async () => {
  // Lift the bracket guard so the engine parser really is handed the pathological input.
  const t = Date.now();
  const g = await gradeMath(`\\boxed{${NESTED}}`, '1', { maxBracketDepth: 1000, timeoutMs: 300 });
  const elapsed = Date.now() - t;
  assert.equal(g.correct, false);
  assert.equal(g.reason, 'timeout');
  assert.ok(elapsed < 3000, `took ${elapsed} ms`);
  // The pool replaced the killed worker and keeps grading.
  assert.equal((await gradeMath('\\boxed{\\frac{1}{2}}', '0.5')).correct, true);
});

test('an expensive but finite comparison stops at the soft deadline', async () => {
  const sync = gradeMathSync(`\\boxed{${BIG_LIST}}`, BIG_LIST_SHUFFLED, { timeoutMs: 50 });
  assert.equal(sync.reason, 'timeout');
  const pooled = await gradeMath(`\\boxed{${BIG_LIST}}`, BIG_LIST_SHUFFLED, { timeoutMs: 50 });
  assert.equal(pooled.reason, 'timeout');
  // Given time, the same comparison succeeds: the timeout is about time, not the input.
  const slow = gradeMathSync(`\\boxed{${BIG_LIST}}`, BIG_LIST_SHUFFLED, { timeoutMs: 60_000 });
  assert.equal(slow.correct, true, slow.reason);
});

test('huge numbers are handled without exact blow-up', () => {
  const t = Date.now();
  assert.equal(gradeMathSync('\\boxed{10^{10^{10}}}', '1').correct, false);
  assert.equal(gradeMathSync('\\boxed{2^{2^{2^{2^{2}}}}}', '2').correct, false);
  assert.equal(gradeMathSync('\\boxed{\\binom{100000}{50000}}', '1').correct, false);
  assert.equal(gradeMathSync('\\boxed{1000!}', '1').correct, false);
  assert.ok(Date.now() - t < 1000, `took ${Date.now() - t} ms`);
});

test('over-long answers are rejected without parsing', () => {
  const g = gradeMathSync(`\\boxed{${'1+'.repeat(5000)}1}`, '5001');
  assert.equal(g.reason, 'too-long');
});

test('a worker that never answers is terminated and the pool recovers', async () => {
  const spin = new MathWorkerPool({ size: 1, workerUrl: new URL('./fixtures/spin_worker.js', import.meta.url), graceMs: 50 });
  try {
    const t = Date.now();
    const results = await Promise.all([
      gradeMath('\\boxed{x}', 'y', { timeoutMs: 100 }, spin),
      gradeMath('\\boxed{x}', 'z', { timeoutMs: 100 }, spin),
    ]);
    assert.deepEqual(
      results.map((r) => r.reason),
      ['timeout', 'timeout'],
    );
    assert.ok(Date.now() - t < 5000, `took ${Date.now() - t} ms`);
  } finally {
    await spin.close();
  }
});

test('a worker that crashes yields worker-crash, not a hang', async () => {
  const broken = new MathWorkerPool({ size: 1, workerUrl: new URL('data:text/javascript,throw new Error("boom")') });
  try {
    const g = await gradeMath('\\boxed{x}', 'y', {}, broken);
    assert.equal(g.reason, 'worker-crash');
  } finally {
    await broken.close();
  }
});
