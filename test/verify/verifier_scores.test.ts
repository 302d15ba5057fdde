/**
 * Issue #11 class 11: scores are checked where they are produced. A table of scores a
 * registered verifier may return: the valid ones pass through verify(), every other one is a
 * VerifierScoreError naming the verifier, the data file and the row.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkScore, registerVerifier, unregisterVerifier, verify, VerifierScoreError } from '../../src/verify/index.js';

const SCORES: [unknown, boolean][] = [
  [0, true],
  [1, true],
  [0.5, true],
  [Number.MIN_VALUE, true],
  [NaN, false],
  [Infinity, false],
  [-Infinity, false],
  [-1e-9, false],
  [1 + 1e-9, false],
  [2, false],
  ['1', false],
  [null, false],
  [undefined, false],
  [true, false],
];

test('verify() passes valid scores and rejects the rest, naming verifier, file and row', async () => {
  try {
    for (const [score, valid] of SCORES) {
      registerVerifier('score_table', () => ({ score: score as number }));
      const row = { data_source: 'score_table', ground_truth: 'x', file: 'train/part-0.parquet', index: 1234 };
      if (valid) {
        assert.equal((await verify(row, 'r')).score, score);
        assert.equal(checkScore(score, 'v'), score);
      } else {
        await assert.rejects(verify(row, 'r'), (e: Error) => {
          assert.ok(e instanceof VerifierScoreError, String(e));
          assert.match(e.message, /verifier 'score_table' returned score .*data file train\/part-0\.parquet, row 1234/);
          return true;
        }, `score ${String(score)}`);
      }
    }
    // a verifier that returns nothing at all
    registerVerifier('score_table', () => undefined as never);
    await assert.rejects(verify({ data_source: 'score_table', ground_truth: 'x' }, 'r'), VerifierScoreError);
  } finally {
    unregisterVerifier('score_table');
  }
});
