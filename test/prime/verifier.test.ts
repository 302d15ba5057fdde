/**
 * The trainer-side verifier (src/prime/verifier.ts) and issue #11 class 11: the
 * `verify.math.extraction` key reaches the math grader, and a registered verifier that returns
 * NaN, ±∞ or a score outside [0, 1] is rejected with an error naming the verifier, the data
 * file and the row.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../../src/prime/config.js';
import { checkedVerifier, defaultVerifier } from '../../src/prime/verifier.js';
import type { PromptRow } from '../../src/prime/data.js';
import { closeMathPool, registerVerifier, unregisterVerifier, verify, VerifierScoreError } from '../../src/verify/index.js';

const dir = mkdtempSync(join(tmpdir(), 'prime-verifier-'));
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await closeMathPool();
});
const REQUIRED = ['model.path=ckpt/sft', 'data.train_files=train.parquet'];

const row = (over: Partial<PromptRow> = {}): PromptRow => ({
  dataSource: 'numina_olympiads',
  messages: [{ role: 'user', content: 'q' }],
  ability: 'math',
  groundTruth: '17',
  extraInfo: {},
  row: 41,
  file: 'data/train.parquet',
  ...over,
});

test('verify.math.extraction: default strict, YAML nesting, override, bad value named', () => {
  assert.equal(loadConfig(null, REQUIRED).verify['math.extraction'], 'strict');
  const f = join(dir, 'c.yaml');
  writeFileSync(f, 'verify:\n  math:\n    extraction: lenient\n');
  assert.equal(loadConfig(f, REQUIRED).verify['math.extraction'], 'lenient');
  assert.equal(loadConfig(null, [...REQUIRED, 'verify.math.extraction=lenient']).verify['math.extraction'], 'lenient');
  assert.throws(
    () => loadConfig(null, [...REQUIRED, 'verify.math.extraction=loose']),
    (e: Error) => e instanceof ConfigError && e.message.includes('verify.math.extraction') && e.message.includes("'lenient'"),
  );
});

test('the trainer-side verifier honours verify.math.extraction', async () => {
  const unboxed = 'Adding everything up, the total comes to 17';
  const strict = defaultVerifier(loadConfig(null, REQUIRED));
  const lenient = defaultVerifier(loadConfig(null, [...REQUIRED, 'verify.math.extraction=lenient']));
  assert.equal((await strict(row(), unboxed)).score, 0, 'strict: unmarked prose earns nothing');
  assert.deepEqual(await lenient(row(), unboxed), { score: 1, extracted: '17' });
  assert.equal((await lenient(row(), 'the total comes to 18')).score, 0);
  assert.equal((await strict(row(), 'so $\\boxed{17}$')).score, 1);
});

test('a registered verifier returning NaN, ±∞ or a score outside [0, 1] is rejected, naming verifier, file and row', async () => {
  const bad: unknown[] = [NaN, Infinity, -Infinity, -0.5, 1.5, '1', undefined];
  try {
    for (const score of bad) {
      registerVerifier('bad_source', () => ({ score: score as number }));
      // through the registry directly
      await assert.rejects(
        verify({ data_source: 'bad_source', ability: 'math', ground_truth: '1', file: 'data/x.jsonl', index: 7 }, 'r'),
        (e: Error) => e instanceof VerifierScoreError && e.message.includes("'bad_source'") && e.message.includes('data/x.jsonl') && e.message.includes('row 7'),
        `score ${String(score)}`,
      );
      // through the trainer-side verifier, which passes the PromptRow's file and row
      const v = defaultVerifier(loadConfig(null, REQUIRED));
      await assert.rejects(v(row({ dataSource: 'bad_source' }), 'r'), (e: Error) =>
        e instanceof VerifierScoreError && e.message.includes('data/train.parquet') && e.message.includes('row 41'),
      );
    }
    // valid scores at the ends of the range pass
    for (const score of [0, 1, 0.25]) {
      registerVerifier('bad_source', () => ({ score }));
      assert.equal((await verify({ data_source: 'bad_source', ground_truth: '1' }, 'r')).score, score);
    }
  } finally {
    unregisterVerifier('bad_source');
  }
});

test('checkedVerifier guards a custom trainer verifier the same way', async () => {
  const v = checkedVerifier(async () => ({ score: NaN }), 'my_reward');
  await assert.rejects(v(row(), 'r'), (e: Error) => e instanceof VerifierScoreError && /my_reward.*data\/train\.parquet, row 41/.test(e.message));
  const ok = checkedVerifier(async () => ({ score: 1, extracted: 'x' }), 'my_reward');
  assert.deepEqual(await ok(row(), 'r'), { score: 1, extracted: 'x' });
});
