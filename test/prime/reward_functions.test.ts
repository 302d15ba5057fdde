// reward.functions: config validation, the weighted sum of built-in verifiers and user modules,
// and errors that name the module file and the dataset row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, configFromObject, configToYaml, loadConfig, type PrimeConfig } from '../../src/prime/config.js';
import { createVerifier, RewardComponents } from '../../src/prime/reward_functions.js';
import type { PromptRow } from '../../src/prime/data.js';
import { gradeMath } from '../../src/verify/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-rewardfns-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const mod = (name: string, src: string) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, src);
  return f;
};
const REQ = { model: { path: 'm' }, data: { train_files: ['t.jsonl'] } };
const cfgWith = (functions: unknown[]): PrimeConfig => configFromObject({ ...REQ, reward: { functions } } as never);
const row = (i: number, gt: string): PromptRow => ({
  dataSource: 'numina_olympiads', ability: 'math', groundTruth: gt, messages: [{ role: 'user', content: 'q' }], extraInfo: {}, row: i, file: 'data/train.jsonl',
});

test('config: reward.functions entries are checked with errors that name the entry and field', () => {
  const bad: [unknown[], string][] = [
    [[{ name: 'math', wieght: 1 }], "reward.functions[0].wieght: unknown field (did you mean 'weight'?)"],
    [[{ weight: 1 }], 'reward.functions[0]: needs name (a built-in verifier) or module (a JS file)'],
    [[{ name: 'math', weight: 'x' }], 'reward.functions[0].weight: expected a number, got "x"'],
    [['math'], 'reward.functions[0]: expected { name: VERIFIER, weight: W } or { module: FILE.js, weight: W }, got "math"'],
    [[{ name: 'math' }, { module: './lib/math.js' }], "reward.functions[1]: the name 'math' is also reward.functions[0]'s"],
    [[{ module: './r.js', name: 'outcome_mean' }], "reward.functions[0]: the name 'outcome_mean' would clash with the trainer's reward/outcome_mean metric"],
  ];
  for (const [fns, msg] of bad) {
    assert.throws(() => cfgWith(fns), (e: Error) => e instanceof ConfigError && e.message.includes(msg), msg);
  }
  const ok = cfgWith([{ name: 'math', weight: 1 }, { module: './r.js', weight: 0.5 }]);
  assert.deepEqual(ok.reward.functions, [{ name: 'math', weight: 1 }, { module: './r.js', weight: 0.5 }]);
  // from YAML (and back), and as a command-line override
  const y = path.join(dir, 'run.yaml');
  fs.writeFileSync(y, 'model: { path: m }\ndata: { train_files: [t.jsonl] }\nreward:\n  functions:\n    - { name: math, weight: 1 }\n    - { module: ./my_reward.js, weight: 0.5 }\n');
  assert.deepEqual(loadConfig(y).reward.functions, [{ name: 'math', weight: 1 }, { module: './my_reward.js', weight: 0.5 }]);
  fs.writeFileSync(y, configToYaml(ok));
  assert.deepEqual(loadConfig(y).reward.functions, ok.reward.functions);
  const ov = loadConfig(null, ['model.path=m', 'data.train_files=t.jsonl', 'reward.functions=[{name: code, weight: 2}]']);
  assert.deepEqual(ov.reward.functions, [{ name: 'code', weight: 2 }]);
  assert.throws(() => loadConfig(null, ['model.path=m', 'data.train_files=t.jsonl', 'reward.functions=[{nme: code}]']), /reward\.functions\[0\]\.nme: unknown field \(did you mean 'name'\?\)/);
});

test('the weighted sum of a built-in verifier and a user module, with each term in components', async () => {
  const fmt = mod('format.mjs', "export default (response) => (response.includes('\\\\boxed{') ? 1 : 0.25);\n");
  const named = mod('len.mjs', 'export function reward(response, row) { return { score: Math.min(1, response.length / 100), extracted: null }; }\n');
  const v = await createVerifier(cfgWith([{ name: 'math', weight: 1 }, { module: fmt, weight: 0.5 }, { module: named, weight: -0.1, name: 'length' }]));
  const cases: [string, string][] = [['so the answer is \\boxed{42}', '42'], ['I think 41', '42'], ['\\boxed{\\frac{1}{2}}', '0.5']];
  let maxDiff = 0;
  for (const [i, [resp, gt]] of cases.entries()) {
    const r = await v(row(i, gt), resp);
    // independent: the math grader directly, and the two formulas by hand
    const math = (await gradeMath(resp, gt)).correct ? 1 : 0;
    const f = resp.includes('\\boxed{') ? 1 : 0.25;
    const len = Math.min(1, resp.length / 100);
    assert.deepEqual(r.components, { math, format: f, length: len });
    maxDiff = Math.max(maxDiff, Math.abs(r.score - (math + 0.5 * f - 0.1 * len)));
    if (math) assert.ok(r.extracted, 'the math term extracts the answer');
  }
  console.log(`reward.functions weighted sum vs hand computation: max |diff| = ${maxDiff.toExponential(2)}`);
  assert.ok(maxDiff < 1e-12);
  // the 'default' term routes by the row's data_source/ability
  const d = await createVerifier(cfgWith([{ name: 'default', weight: 2 }]));
  assert.deepEqual(await d(row(0, '7'), '\\boxed{7}').then((r) => [r.score, r.components]), [2, { default: 1 }]);
});

test('user module errors name the module file and the row; unknown verifiers and bad modules fail at load', async () => {
  const thrower = mod('throws.mjs', "export default (response, row) => { if (row.row === 3) throw new Error('no answer tag'); return 1; };\n");
  const v = await createVerifier(cfgWith([{ module: thrower, weight: 1 }]));
  assert.equal((await v(row(0, '1'), 'x')).score, 1);
  await assert.rejects(v(row(3, '1'), 'x'), (e: Error) => e.message === `reward.functions[0] (${thrower}): failed on data/train.jsonl row 3: no answer tag`);
  const nan = mod('nan.mjs', 'export default () => NaN;\n');
  const vn = await createVerifier(cfgWith([{ module: nan, weight: 1 }]));
  await assert.rejects(vn(row(5, '1'), 'x'), /reward\.functions\[0\] \(.*nan\.mjs\): on data\/train\.jsonl row 5 returned null; expected a finite number or \{ score: number \}/);
  const str = mod('str.mjs', "export default () => 'yes';\n");
  await assert.rejects((await createVerifier(cfgWith([{ module: str }])))(row(2, '1'), 'x'), /str\.mjs\): on data\/train\.jsonl row 2 returned "yes"/);
  await assert.rejects(createVerifier(cfgWith([{ module: path.join(dir, 'missing.mjs') }])), /reward\.functions\[0\] \(.*missing\.mjs\): cannot load .*missing\.mjs/);
  const noFn = mod('nofn.mjs', 'export const x = 1;\n');
  await assert.rejects(createVerifier(cfgWith([{ module: noFn }])), /nofn\.mjs exports no reward function \(expected `export default function \(response, row\)`/);
  const syntax = mod('syntax.mjs', 'export default (r) => {\n');
  await assert.rejects(createVerifier(cfgWith([{ module: syntax }])), /reward\.functions\[0\] \(.*syntax\.mjs\): cannot load/);
  await assert.rejects(createVerifier(cfgWith([{ name: 'maths' }])), /reward\.functions\[0\] \(name: maths\): no such verifier: .*registered: .*math/);
});

test('RewardComponents: per-term means, reduced over ranks by a sum', () => {
  const c = new RewardComponents();
  c.add([{ score: 1, components: { a: 1, b: 0.5 } }, { score: 0, components: { a: 0, b: 0.25 } }, { score: 1 }]);
  assert.deepEqual(c.metrics(['a', 'b']), { 'reward/a': 0.5, 'reward/b': 0.375 });
  // a second rank with 2 responses of a = 1, b = 0: sums [2, 2, 0] added
  assert.deepEqual(c.metrics(['a', 'b'], (xs) => xs.map((x, i) => x + [2, 2, 0][i]!)), { 'reward/a': 0.75, 'reward/b': 0.1875 });
  assert.deepEqual(c.metrics([]), {});
});
