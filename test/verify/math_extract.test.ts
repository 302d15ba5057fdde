/** Final-answer extraction (src/verify/math/extract.ts) and its effect on grading. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractAnswer, gradeMathSync } from '../../src/verify/index.js';

test('boxed with nested braces is brace-matched', () => {
  const r = extractAnswer('so we get $\\boxed{\\frac{\\sqrt{3}}{2}}$ as claimed.');
  assert.deepEqual(r, { answer: '\\frac{\\sqrt{3}}{2}', method: 'boxed' });
  assert.equal(extractAnswer('\\boxed{\\{1, \\{2\\}\\}}').answer, '\\{1, \\{2\\}\\}', 'escaped braces are not groups');
  assert.equal(extractAnswer('\\boxed{a^{b^{c}}} tail}}').answer, 'a^{b^{c}}');
});

test('\\fbox works like \\boxed', () => {
  assert.deepEqual(extractAnswer('Final: \\fbox{42}'), { answer: '42', method: 'fbox' });
});

test('with several boxes the last one wins, whichever command it uses', () => {
  assert.equal(extractAnswer('first \\boxed{1}, then \\boxed{2}, finally \\boxed{3}.').answer, '3');
  assert.deepEqual(extractAnswer('\\boxed{1} and then \\fbox{7}'), { answer: '7', method: 'fbox' });
  assert.deepEqual(extractAnswer('\\fbox{7} and then \\boxed{1}'), { answer: '1', method: 'boxed' });
});

test('the "\\boxed 5" space form takes one token', () => {
  assert.deepEqual(extractAnswer('The result is $\\boxed 5$.'), { answer: '5', method: 'boxed' });
  assert.equal(extractAnswer('thus \\boxed 12.').answer, '12');
});

test('a longer command name is not a box', () => {
  assert.equal(extractAnswer('\\boxedanswer{3} The answer is 4').answer, '4');
});

test('an unclosed final box (truncated response) extracts nothing', () => {
  assert.deepEqual(extractAnswer('\\boxed{1} ... so actually \\boxed{\\frac{2}{'), { answer: null, method: 'unclosed-box' });
});

test('without a box, "the answer is" is used, last occurrence first', () => {
  assert.deepEqual(extractAnswer('I think the answer is 5. Wait, no. The answer is $\\frac{7}{2}$.'), {
    answer: '\\frac{7}{2}',
    method: 'answer-is',
  });
  assert.equal(extractAnswer('The final answer is 3.5. I hope it is correct.').answer, '3.5', 'a decimal point is not a sentence end');
  assert.equal(extractAnswer('**Answer:** 12\nmore text').answer, '12');
  assert.equal(extractAnswer('Answer: \\(x+1\\)').answer, 'x+1');
});

test('nothing to extract gives null and reason no-answer', () => {
  assert.deepEqual(extractAnswer('I could not solve this problem.'), { answer: null, method: 'none' });
  const g = gradeMathSync('no idea', '5');
  assert.deepEqual(g, { correct: false, extracted: null, reason: 'no-answer', method: 'none' });
});

test('grading reports what was extracted and how', () => {
  const g = gradeMathSync('Long reasoning... the answer is 0.5', '\\frac12');
  assert.equal(g.correct, true);
  assert.equal(g.extracted, '0.5');
  assert.equal(g.method, 'answer-is');
  const boxed = gradeMathSync('\\boxed{3} is wrong; \\boxed{\\dfrac{1}{2}}', '0.5');
  assert.equal(boxed.extracted, '\\dfrac{1}{2}');
  assert.equal(boxed.method, 'boxed');
  assert.equal(boxed.correct, true);
});

test('a boxed ground truth is unwrapped', () => {
  assert.equal(gradeMathSync('\\boxed{2}', '\\boxed{2}').correct, true);
  assert.equal(gradeMathSync('\\boxed{2}', '$\\boxed{3}$').correct, false);
});

test('an empty box is wrong, not an error', () => {
  const g = gradeMathSync('\\boxed{}', '0');
  assert.equal(g.correct, false);
  assert.equal(g.reason, 'empty');
});

test('extraction is linear on long inputs', () => {
  const long = 'x'.repeat(2_000_000) + '\\boxed{7}' + ' the answer is'.repeat(10_000);
  const t = Date.now();
  assert.equal(extractAnswer(long).answer, '7');
  assert.ok(Date.now() - t < 1000, `took ${Date.now() - t} ms`);
});
