/**
 * The implicit PRM scoring API (src/prime/implicit_prm.ts) and Best-of-N picking
 * (src/prime/bestofn.ts): hand-worked step splits and picks, and the scores of two tiny random
 * models against a per-sequence computation in plain JS (log-softmax in float64 over each unpadded
 * sequence's logits), independent of packSequences, logprobs and implicitProcessReward.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../../src/torch/index.js';
import { loadPretrained, Tokenizer, type CausalLM } from '../../src/lm/index.js';
import { createRandomModel } from '../../src/prime/demo/model.js';
import { writeCharTokenizer, SPECIAL_TOKENS } from '../../src/prime/demo/tokenizer.js';
import {
  aggregateStepRewards, newlineStepSplitter, scoreImplicitPrm, splitStepsAt, stepRewards, STEP_AGGREGATES, type StepAggregate,
} from '../../src/prime/implicit_prm.js';
import { bestOfNAccuracy, pickBestOfN, pickWeightedMajority } from '../../src/prime/bestofn.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-implicit-prm-'));
const EOS = SPECIAL_TOKENS.indexOf('<|im_end|>'), PAD = SPECIAL_TOKENS.indexOf('<|endoftext|>');

test('newline step splitting on a hand-made token sequence', () => {
  writeCharTokenizer(path.join(root, 'tok'));
  const tok = Tokenizer.fromDir(path.join(root, 'tok'));
  const split = newlineStepSplitter(tok);
  // "1+2=3\n" (6 tokens) "3+4=7\n" (6) "\boxed{7}" (9) <|im_end|> (1): steps end at 6, 12, 22
  const ids = [...tok.encode('1+2=3\n3+4=7\n\\boxed{7}', { addSpecialTokens: false }), EOS];
  assert.equal(ids.length, 22);
  assert.deepEqual(split(ids), [6, 12, 22]);
  // a trailing newline ends the last step (no empty step after it); no newline = one step; empty response = one empty step
  assert.deepEqual(split(tok.encode('ab\ncd\n', { addSpecialTokens: false })), [3, 6]);
  assert.deepEqual(split(tok.encode('abc', { addSpecialTokens: false })), [3]);
  assert.deepEqual(split([]), [0]);
  // a token "contains" the marker: multi-character pieces (fake tokenizer) split after the piece
  const pieces = ['a', 'b\nc', '\n', '<eos>'];
  const fake = newlineStepSplitter({ decode: (xs: ArrayLike<number>) => Array.from(xs, (x) => pieces[x]!).join('') });
  assert.deepEqual(fake([0, 1, 0, 2, 0, 3]), [2, 4, 6]);
  // the splitter is a parameter: any marker or predicate
  assert.deepEqual(newlineStepSplitter(tok, '=')(tok.encode('1+2=3\n3+4=7', { addSpecialTokens: false })), [4, 10, 11]);
  assert.deepEqual(splitStepsAt([5, 9, 5, 5, 9], (id) => id === 9), [2, 5]);
});

test('step rewards and aggregates, hand-worked', () => {
  assert.deepEqual(stepRewards([1, 2, 3, 4, 5], [2, 5]), [3, 12]);
  assert.deepEqual(stepRewards([], [0]), [0]);
  assert.throws(() => stepRewards([1, 2, 3], [2, 2, 3]), /not increasing/);
  assert.throws(() => stepRewards([1, 2, 3], [2]), /last step ends at 2/);
  const steps = [0.5, -2, 0.25];
  assert.equal(aggregateStepRewards(steps, 'min'), -2);
  assert.equal(aggregateStepRewards(steps, 'sum'), -1.25);
  assert.equal(aggregateStepRewards(steps, 'mean'), -1.25 / 3);
  assert.throws(() => aggregateStepRewards(steps, 'max' as StepAggregate), /unknown step aggregate 'max'/);
  // token_mean: the steps' sum over the response's tokens (−1.25 / 5), whatever the step count
  assert.equal(aggregateStepRewards(steps, 'token_mean', 5), -0.25);
  assert.equal(aggregateStepRewards([-1.25], 'token_mean', 5), -0.25);
  assert.equal(aggregateStepRewards([0], 'token_mean', 0), 0);
  assert.throws(() => aggregateStepRewards(steps, 'token_mean'), /needs the response's token count/);
});

test('Best-of-N picks on a hand-made scored set: each aggregate, ties counted in expectation', () => {
  // group 1: each aggregate picks a different response
  //   A [-0.1, -0.1]                o = 1    min −0.1   sum −0.2   mean −0.1
  //   B [2.0, −1.0]                 o = 0    min −1     sum  1.0   mean  0.5
  //   C [0.4, 0.4, 0.4, 0.4, −0.35] o = 0.5  min −0.35  sum  1.25  mean  0.25
  // → min picks A (1), sum picks C (0.5), mean picks B (0)
  //   tokens A 2, B 8, C 5: token_mean A −0.1, B 0.125, C 0.25 → picks C (0.5)
  // group 2: two responses tie at the top under every aggregate → mean of their outcomes (1 + 0)/2
  //   D [0] o = 1, E [0] o = 0, F [−1] o = 1 (tokens 3, 5, 4: token_mean 0, 0, −0.25 — D and E tie)
  const steps = [[[-0.1, -0.1], [2.0, -1.0], [0.4, 0.4, 0.4, 0.4, -0.35]], [[0], [0], [-1]]];
  const tokens = [[2, 8, 5], [3, 5, 4]];
  const outcomes = [[1, 0, 0.5], [1, 0, 1]];
  const want: Record<StepAggregate, number> = { min: (1 + 0.5) / 2, sum: (0.5 + 0.5) / 2, mean: (0 + 0.5) / 2, token_mean: (0.5 + 0.5) / 2 };
  for (const a of STEP_AGGREGATES) {
    const scores = steps.map((g, i) => g.map((s, k) => aggregateStepRewards(s, a, tokens[i]![k])));
    const got = bestOfNAccuracy(scores, outcomes);
    console.log(`Best-of-3 by ${a}: ${got} (want ${want[a]})`);
    assert.ok(Math.abs(got - want[a]) < 1e-12, `${a}: ${got} ≠ ${want[a]}`);
  }
  assert.equal(pickBestOfN([3, 3, 3], [1, 0, 0]), 1 / 3, 'all tied: the mean outcome (= avg@N)');
  assert.equal(pickBestOfN([-5], [1]), 1);
  // PRM-weighted vote, by hand: answers 7 (weights σ(−2) + σ(−2) = 0.238), 9 (σ(1) = 0.731) → 9 wins
  // though 7 has the plain majority; with scores 0, 0, −1 the majority 7 (1.0) beats 9 (σ(−1) = 0.269)
  assert.equal(pickWeightedMajority([-2, -2, 1], [0, 0, 1], ['7', '7', '9']), 1);
  assert.equal(pickWeightedMajority([0, 0, -1], [0, 0, 1], ['7', '7', '9']), 0);
  assert.equal(pickWeightedMajority([0, 3], [1, 0], [null, null]), 0, 'no answer: each votes alone');
  assert.equal(pickWeightedMajority([0, 0], [1, 0], ['a', 'b']), 1, 'exact tie: the first answer to reach it');
  assert.throws(() => pickWeightedMajority([1], [1, 0], ['a', 'b']), /need equal/);
  assert.throws(() => pickBestOfN([], []), /≥ 1/);
  assert.throws(() => pickBestOfN([1, NaN], [1, 0]), /NaN/);
});

/** log p(x_t | x_<t) of each token of `ids` (one unpadded sequence), float64 log-softmax in JS. */
function tokenLogprobsByHand(model: CausalLM, ids: number[]): number[] {
  const z = torch.noGrad(() => torch.tidy(() => model.logits(model.forward(torch.tensor(BigInt64Array.from(ids, BigInt), { shape: [1, ids.length] }))).toFlatArray()));
  const V = model.config.vocabSize;
  const out: number[] = [];
  for (let t = 1; t < ids.length; t++) {
    const row = z.slice((t - 1) * V, t * V);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0));
    out.push(row[ids[t]!]! - lse);
  }
  return out;
}

test('scoreImplicitPrm matches a per-sequence hand computation with two tiny random models', () => {
  const shape = { hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositionEmbeddings: 128 };
  createRandomModel(path.join(root, 'prm'), shape, 1);
  createRandomModel(path.join(root, 'ref'), shape, 2);
  const prm = loadPretrained(path.join(root, 'prm')), ref = loadPretrained(path.join(root, 'ref'), { tokenizer: false });
  const tok = prm.tokenizer!;
  const prompts = ['What is 1+2?', 'Add 3 and 4, then 5.', 'x', 'Compute 9-8.', 'Two lines please'].map((c) => tok.encodeChat([{ role: 'user', content: c }], { addGenerationPrompt: true }));
  const texts = ['1+2=3\n\\boxed{3}', '3+4=7\n7+5=12\n\\boxed{12}', 'no newline at all', '', 'a\n\nb\n'];
  const responses = texts.map((t, i) => (i === 3 ? [] : [...tok.encode(t, { addSpecialTokens: false }), EOS]));
  const beta = 0.5;
  scoreImplicitPrm(prm.model, ref.model, prompts.slice(0, 1), responses.slice(0, 1), { beta, padTokenId: PAD, tokenizer: tok }); // builds each model's RoPE table
  const live = torch.memory().tensors;
  const got = scoreImplicitPrm(prm.model, ref.model, prompts, responses, { beta, padTokenId: PAD, microBatch: 2, tokenizer: tok });
  assert.equal(torch.memory().tensors, live, 'no tensor outlives the call');
  const split = newlineStepSplitter(tok);
  let maxDiff = 0;
  responses.forEach((r, i) => {
    const ids = [...prompts[i]!, ...r];
    const lp = tokenLogprobsByHand(prm.model, ids).slice(prompts[i]!.length - 1), lr = tokenLogprobsByHand(ref.model, ids).slice(prompts[i]!.length - 1);
    const rt = lp.map((x, t) => beta * (x - lr[t]!));
    const ends = split(r);
    const steps = ends.map((e, k) => rt.slice(k ? ends[k - 1]! : 0, e).reduce((a, x) => a + x, 0));
    const sum = steps.reduce((a, x) => a + x, 0);
    const want = { min: Math.min(...steps), sum, mean: sum / steps.length, token_mean: r.length ? rt.reduce((a, x) => a + x, 0) / r.length : 0 };
    const g = got[i]!;
    assert.equal(g.tokenRewards.length, r.length);
    assert.deepEqual(g.stepEnds, ends);
    const d = Math.max(0, ...g.tokenRewards.map((x, t) => Math.abs(x - rt[t]!)), ...g.stepRewards.map((x, k) => Math.abs(x - steps[k]!)), ...STEP_AGGREGATES.map((a) => Math.abs(g.aggregates[a] - want[a])));
    maxDiff = Math.max(maxDiff, d);
  });
  console.log(`scoreImplicitPrm vs per-sequence float64 hand computation: max |diff| = ${maxDiff.toExponential(2)} (tol 1e-5), steps per response ${got.map((g) => g.stepEnds.length).join(' ')}`);
  assert.ok(maxDiff < 1e-5, `max diff ${maxDiff}`);
  assert.deepEqual(got.map((g) => g.stepEnds.length), [2, 3, 1, 1, 4]); // 'a\n', '\n', 'b\n', <|im_end|>: a blank line is a step of its own
  assert.ok(got.some((g) => Math.abs(g.aggregates.sum) > 1e-3), 'two different random models give non-zero rewards');
  // the PRM against itself: every reward exactly 0
  const self = scoreImplicitPrm(prm.model, prm.model, prompts, responses, { beta, padTokenId: PAD, microBatch: 3, tokenizer: tok });
  assert.ok(self.every((g) => g.tokenRewards.every((x) => x === 0)));
  assert.throws(() => scoreImplicitPrm(prm.model, ref.model, prompts, responses.slice(1), { beta, padTokenId: PAD, tokenizer: tok }), /5 prompts but 4 responses/);
  assert.throws(() => scoreImplicitPrm(prm.model, ref.model, prompts, responses, { beta: 0, padTokenId: PAD, tokenizer: tok }), /beta must be a positive/);
  assert.throws(() => scoreImplicitPrm(prm.model, ref.model, prompts, responses, { beta, padTokenId: PAD }), /give a splitter, or a tokenizer/);
  prm.model.dispose();
  ref.model.dispose();
});
