/** Verifier registry: dispatch by data_source / ability, custom verifiers, unknown rows. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  verify,
  registerVerifier,
  unregisterVerifier,
  resolveVerifier,
  UnknownVerifierError,
  closeMathPool,
} from '../../src/verify/index.js';

after(() => closeMathPool());

test('math rows (Eurus-2-RL-Data shape) go to the math grader', async () => {
  const row = { ability: 'math', data_source: 'numina_olympiads', reward_model: { ground_truth: '\\frac{1}{2}' } };
  const right = await verify(row, 'Thus $\\boxed{0.5}$.');
  assert.equal(right.score, 1);
  assert.equal(right.verifier, 'math');
  assert.equal(right.extracted, '0.5');
  const wrong = await verify(row, 'Thus $\\boxed{0.6}$.');
  assert.equal(wrong.score, 0);
});

test('code rows go to the code grader, with the trainer-facing options', async () => {
  const row = {
    ability: 'code',
    data_source: 'taco',
    ground_truth: JSON.stringify({ inputs: ['2\n', '5\n'], outputs: ['4\n', '25\n'] }),
  };
  const right = await verify(row, '```python\nn = int(input())\nprint(n * n)\n```', { timeoutMs: 2000 });
  assert.equal(right.score, 1);
  assert.equal(right.verifier, 'code');
  // Half right: 'all' gives 0, 'fraction' gives 0.5.
  const half = '```python\nn = int(input())\nprint(4)\n```';
  assert.equal((await verify(row, half, { timeoutMs: 2000 })).score, 0);
  assert.equal((await verify(row, half, { timeoutMs: 2000, codeReward: 'fraction' })).score, 0.5);
});

test('a registered data_source verifier takes precedence over the ability', async () => {
  registerVerifier('my_dataset', (response, groundTruth) => ({ score: response.trim() === groundTruth ? 1 : 0, reason: 'exact' }));
  try {
    const row = { ability: 'math', data_source: 'my_dataset', ground_truth: 'yes' };
    assert.equal(resolveVerifier(row).name, 'my_dataset');
    assert.deepEqual(await verify(row, ' yes '), { score: 1, reason: 'exact', verifier: 'my_dataset' });
    assert.equal((await verify(row, '\\boxed{yes}')).score, 0, 'the math grader would have accepted this');
  } finally {
    unregisterVerifier('my_dataset');
  }
  assert.equal(resolveVerifier({ ability: 'math', data_source: 'my_dataset' }).name, 'math');
});

test('a custom ability can be registered and is async-capable', async () => {
  registerVerifier('length', async (response) => ({ score: Math.min(1, response.length / 10) }));
  try {
    assert.equal((await verify({ ability: 'length' }, 'hello')).score, 0.5);
  } finally {
    unregisterVerifier('length');
  }
});

test('an unknown row is a clear error naming its ability and data_source', async () => {
  await assert.rejects(verify({ ability: 'chemistry', data_source: 'mol_bench', ground_truth: 'C6H6' }, 'x'), (e: unknown) => {
    assert.ok(e instanceof UnknownVerifierError);
    assert.match(e.message, /data_source "mol_bench"/);
    assert.match(e.message, /ability "chemistry"/);
    assert.match(e.message, /registered: .*math/);
    return true;
  });
  assert.throws(() => resolveVerifier({}), /data_source null or ability null/);
});

test('a math row with a non-string ground truth is rejected', async () => {
  await assert.rejects(verify({ ability: 'math', ground_truth: { a: 1 } }, '\\boxed{1}'), /math ground_truth must be a string/);
});
