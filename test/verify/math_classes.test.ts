/**
 * Issue #11 fault classes 1–10: every row of the class tables (math_classes.cases.ts) must get
 * the verdict a careful grader gives, through the in-thread grader and the worker pool, and
 * every class must hold right and wrong answers. Also: verdicts are symmetric in answer and
 * truth where the response is a plain box, and the extraction modes behave as documented.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { CLASS_CASES, CLASS_NAMES, type ClassCase } from './math_classes.cases.js';
import { closeMathPool, extractAnswer, gradeMath, gradeMathSync } from '../../src/verify/index.js';

after(() => closeMathPool());

const show = (c: ClassCase) => `[class ${c.cls}] ${JSON.stringify(c.response)} vs ${JSON.stringify(c.truth)}${c.extraction ? ` (${c.extraction})` : ''}`;

test('every class has right and wrong answers', () => {
  for (const cls of Object.keys(CLASS_NAMES).map(Number)) {
    const rows = CLASS_CASES.filter((c) => c.cls === cls);
    const right = rows.filter((c) => c.equivalent).length;
    const wrong = rows.length - right;
    console.log(`class ${String(cls).padStart(2)} ${CLASS_NAMES[cls]!.padEnd(26)} ${right} equivalent, ${wrong} not`);
    assert.ok(right >= 3 && wrong >= 2, `class ${cls} needs ≥ 3 equivalent and ≥ 2 non-equivalent cases`);
  }
});

test('gradeMathSync gives the expected verdict on every class case', () => {
  const wrong: string[] = [];
  for (const c of CLASS_CASES) {
    const g = gradeMathSync(c.response, c.truth, { extraction: c.extraction ?? 'strict' });
    if (g.correct !== c.equivalent) wrong.push(`${show(c)}: expected ${c.equivalent}, got ${g.correct} (${g.reason}, extracted ${JSON.stringify(g.extracted)})`);
  }
  console.log(`class cases: ${CLASS_CASES.length - wrong.length}/${CLASS_CASES.length} right`);
  assert.deepEqual(wrong, []);
});

test('gradeMath (worker pool) agrees on every class case', async () => {
  const grades = await Promise.all(CLASS_CASES.map((c) => gradeMath(c.response, c.truth, { extraction: c.extraction ?? 'strict' })));
  const wrong = CLASS_CASES.filter((c, i) => grades[i]!.correct !== c.equivalent).map(show);
  assert.deepEqual(wrong, []);
});

test('verdicts are symmetric for boxed answers (truth and answer swapped)', () => {
  const asym: string[] = [];
  for (const c of CLASS_CASES) {
    const m = /^Therefore the answer is \$\\boxed\{([\s\S]*)\}\$\.$/.exec(c.response);
    if (m === null) continue;
    const there = gradeMathSync(c.response, c.truth).correct;
    const back = gradeMathSync(`\\boxed{${c.truth}}`, m[1]!).correct;
    if (there !== back) asym.push(show(c));
  }
  assert.deepEqual(asym, []);
});

test('strict extraction never takes unmarked prose; lenient takes the last span or number', () => {
  const prose = 'First we find $x = 2$. Then the total is 17';
  assert.deepEqual(extractAnswer(prose), { answer: null, method: 'none' });
  assert.deepEqual(extractAnswer(prose, 'lenient'), { answer: '17', method: 'last-number' });
  assert.deepEqual(extractAnswer('so it is $\\frac{1}{2}$', 'lenient'), { answer: '\\frac{1}{2}', method: 'math-span' });
  // A box or a marker wins over the lenient fallbacks in both modes.
  assert.equal(extractAnswer('$\\boxed{3}$ and later 99', 'lenient').answer, '3');
  assert.equal(extractAnswer('The answer is 4. Check: 2+2', 'lenient').answer, '4');
  // An escaped dollar is a currency sign, not a math span.
  assert.deepEqual(extractAnswer('It costs \\$5 and \\$7', 'lenient'), { answer: '7', method: 'last-number' });
  assert.throws(() => gradeMathSync('\\boxed{1}', '1', { extraction: 'loose' as never }), /extraction must be 'strict' or 'lenient'/);
});

test('several boxes: only boxes joined by connectors form a list', () => {
  assert.equal(extractAnswer('$\\boxed{1}$, $\\boxed{2}$ and $\\boxed{3}$').answer, '1, 2, 3');
  assert.equal(extractAnswer('first \\boxed{1}, then \\boxed{2}').answer, '2');
  assert.equal(extractAnswer('\\boxed{a} \\text{ or } \\boxed{b}').answer, 'a, b');
});
