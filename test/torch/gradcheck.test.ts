/**
 * Gradients of every differentiable op against float64 central finite differences
 * (torch.gradcheck: autograd's gradient of Σ fn(x)·w, w fixed, vs (f(x+ε) − f(x−ε)) / 2ε with
 * ε = 1e-6). One row per op; every row prints its max |analytic − numeric|. Tolerance:
 * |a − n| ≤ 1e-7 + 1e-5·|n| — central differences at ε = 1e-6 are accurate to ~1e-9 here, so a
 * wrong gradient fails by orders of magnitude. Non-smooth ops (relu, abs, clamp, max, sort…)
 * are probed at points away from their kinks (inputs from a fixed pseudo-random sequence).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { f64, noLeak } from './helpers.js';

type Row = [name: string, inputs: () => Tensor[], fn: (...xs: Tensor[]) => Tensor];
const g = (shape: number[], seed: number, o: { scale?: number; offset?: number } = {}) => f64(shape, seed, { requiresGrad: true, ...o });
const pos = (shape: number[], seed: number) => g(shape, seed, { scale: 0.9, offset: 1.1 }); // in (0.2, 2)
const long = (v: number[][] | number[]) => torch.tensor(v);

const UNARY: Row[] = [
  ['neg', () => [g([2, 3], 1)], (x) => x.neg()],
  ['abs', () => [g([2, 3], 2)], (x) => x.abs()],
  ['exp', () => [g([2, 3], 3)], (x) => x.exp()],
  ['expm1', () => [g([2, 3], 3)], (x) => x.expm1()],
  ['log', () => [pos([2, 3], 4)], (x) => x.log()],
  ['log1p', () => [pos([2, 3], 5)], (x) => x.log1p()],
  ['log2', () => [pos([2, 3], 5)], (x) => x.log2()],
  ['sqrt', () => [pos([2, 3], 6)], (x) => x.sqrt()],
  ['rsqrt', () => [pos([2, 3], 7)], (x) => x.rsqrt()],
  ['square', () => [g([2, 3], 8)], (x) => x.square()],
  ['reciprocal', () => [pos([2, 3], 9)], (x) => x.reciprocal()],
  ['sin', () => [g([2, 3], 10)], (x) => x.sin()],
  ['cos', () => [g([2, 3], 11)], (x) => x.cos()],
  ['erf', () => [g([2, 3], 12)], (x) => x.erf()],
  ['sigmoid', () => [g([2, 3], 13, { scale: 3 })], (x) => x.sigmoid()],
  ['tanh', () => [g([2, 3], 14, { scale: 3 })], (x) => x.tanh()],
  ['relu', () => [g([2, 3], 15)], (x) => x.relu()],
  ['gelu', () => [g([2, 3], 16, { scale: 3 })], (x) => x.gelu()],
  ['gelu tanh', () => [g([2, 3], 17, { scale: 3 })], (x) => x.gelu('tanh')],
  ['silu', () => [g([2, 3], 18, { scale: 3 })], (x) => x.silu()],
  ['softplus', () => [g([2, 3], 19, { scale: 3 })], (x) => x.softplus()],
  ['logsigmoid', () => [g([2, 3], 20, { scale: 3 })], (x) => x.logsigmoid()],
  ['clamp(-0.5, 0.5)', () => [g([3, 4], 21)], (x) => x.clamp(-0.5, 0.5)],
  ['pow(3)', () => [g([2, 3], 22)], (x) => x.pow(3)],
  ['pow(0.5)', () => [pos([2, 3], 23)], (x) => x.pow(0.5)],
  ['mul scalar, add scalar, div scalar', () => [g([2, 3], 24)], (x) => x.mul(3).add(1).div(4)],
];

const BINARY: Row[] = [
  ['add (broadcast)', () => [g([2, 3], 31), g([3], 32)], (a, b) => a.add(b)],
  ['add alpha', () => [g([2, 3], 31), g([2, 3], 32)], (a, b) => a.add(b, 2.5)],
  ['sub (broadcast)', () => [g([2, 1], 33), g([1, 3], 34)], (a, b) => a.sub(b)],
  ['mul', () => [g([2, 3], 35), g([2, 3], 36)], (a, b) => a.mul(b)],
  ['div', () => [g([2, 3], 37), pos([2, 3], 38)], (a, b) => a.div(b)],
  ['pow tensor^tensor', () => [pos([2, 3], 39), g([2, 3], 40)], (a, b) => a.pow(b)],
  ['minimum', () => [g([2, 3], 41), g([2, 3], 42)], (a, b) => torch.minimum(a, b)],
  ['maximum', () => [g([2, 3], 43), g([2, 3], 44)], (a, b) => a.maximum(b)],
  ['where', () => [g([2, 3], 45), g([2, 3], 46)], (a, b) => torch.where(long([[1, 0, 1], [0, 0, 1]]).bool(), a, b)],
  ['lerp', () => [g([2, 3], 47), g([2, 3], 48), g([2, 3], 49)], (a, b, w) => a.lerp(b, w)],
  ['atan2', () => [g([2, 3], 50), pos([2, 3], 51)], (a, b) => a.atan2(b)],
  ['clamp with tensor bounds', () => [g([2, 3], 52), g([2, 3], 53, { scale: 0.3, offset: -0.6 })], (x, lo) => x.clamp(lo, null)],
];

const REDUCTIONS: Row[] = [
  ['sum()', () => [g([2, 3], 61)], (x) => x.sum()],
  ['sum(1, keepdim)', () => [g([2, 3], 62)], (x) => x.sum(1, true)],
  ['sum([0, 2])', () => [g([2, 3, 2], 63)], (x) => x.sum([0, 2])],
  ['mean(0)', () => [g([2, 3], 64)], (x) => x.mean(0)],
  ['prod(1)', () => [g([2, 3], 65)], (x) => x.prod(1)],
  ['prod()', () => [pos([2, 3], 65)], (x) => x.prod()],
  ['max()', () => [g([2, 3], 66)], (x) => x.max()],
  ['max(1) values', () => [g([2, 3], 67)], (x) => x.max(1)[0]],
  ['min(0) values', () => [g([2, 3], 68)], (x) => x.min(0)[0]],
  ['logsumexp(1)', () => [g([2, 3], 69, { scale: 3 })], (x) => x.logsumexp(1)],
  ['var(1)', () => [g([2, 4], 70)], (x) => x.var(1)],
  ['var() correction 0', () => [g([2, 4], 70)], (x) => x.var(null, { correction: 0 })],
  ['std(0)', () => [g([3, 2], 71)], (x) => x.std(0)],
  ['cumsum(1)', () => [g([2, 3], 72)], (x) => x.cumsum(1)],
  ['cumprod(1)', () => [g([2, 3], 73)], (x) => x.cumprod(1)],
  ['norm(2, 1)', () => [g([2, 3], 74)], (x) => x.norm(2, 1)],
  ['norm()', () => [g([2, 3], 75)], (x) => x.norm()],
];

const LINALG: Row[] = [
  ['matmul', () => [g([2, 3], 81), g([3, 4], 82)], (a, b) => a.matmul(b)],
  ['matmul batched broadcast', () => [g([2, 2, 3], 83), g([3, 2], 84)], (a, b) => torch.matmul(a, b)],
  ['mm', () => [g([2, 3], 85), g([3, 2], 86)], (a, b) => a.mm(b)],
  ['bmm', () => [g([2, 2, 3], 87), g([2, 3, 2], 88)], (a, b) => a.bmm(b)],
  ['outer', () => [g([3], 89), g([2], 90)], (a, b) => a.outer(b)],
  ['linear', () => [g([2, 3], 91), g([4, 3], 92), g([4], 93)], (x, w, b) => torch.linear(x, w, b)],
  ['linear 3-d, no bias', () => [g([2, 2, 3], 94), g([2, 3], 95)], (x, w) => torch.linear(x, w)],
  ['baddbmm', () => [g([2, 2, 2], 96), g([2, 2, 3], 97), g([2, 3, 2], 98)], (i, a, b) => torch.baddbmm(i, a, b, 0.5, 1.5)],
];

const SHAPE: Row[] = [
  ['reshape', () => [g([2, 3], 101)], (x) => x.reshape(3, 2).mul(torch.arange(2))],
  ['view', () => [g([2, 3], 102)], (x) => x.view(6).mul(torch.arange(6))],
  ['transpose', () => [g([2, 3], 103)], (x) => x.transpose(0, 1).mul(torch.arange(2))],
  ['permute', () => [g([2, 3, 2], 104)], (x) => x.permute(2, 0, 1).mul(torch.arange(3))],
  ['t', () => [g([2, 3], 105)], (x) => x.t().mul(torch.arange(2))],
  ['unsqueeze/squeeze', () => [g([2, 3], 106)], (x) => x.unsqueeze(1).mul(torch.ones([2, 2, 3])).squeeze(0)],
  ['expand', () => [g([2, 1], 107)], (x) => x.expand(2, 3).mul(torch.arange(3))],
  ['flatten', () => [g([2, 3], 108)], (x) => x.flatten().mul(torch.arange(6))],
  ['flip', () => [g([2, 3], 109)], (x) => x.flip(1).mul(torch.arange(3))],
  ['cat', () => [g([2, 3], 110), g([1, 3], 111)], (a, b) => torch.cat([a, b]).mul(torch.arange(3))],
  ['stack', () => [g([2, 3], 112), g([2, 3], 113)], (a, b) => torch.stack([a, b], 1).mul(torch.arange(3))],
  ['split', () => [g([5, 2], 114)], (x) => { const [a, b] = x.split([2, 3]); return a.sum(0).mul(b.sum(0)); }],
  ['chunk', () => [g([4, 2], 115)], (x) => { const [a, b] = x.chunk(2); return a.mul(b.exp()); }],
  ['narrow', () => [g([4, 3], 116)], (x) => x.narrow(0, 1, 2).mul(2)],
  ['slice with step', () => [g([6, 2], 117)], (x) => x.slice(0, 1, null, 2).square()],
  ['select', () => [g([3, 3], 118)], (x) => x.select(1, 2).square()],
  ['repeat', () => [g([2, 2], 119)], (x) => x.repeat(2, 3).mul(torch.arange(6))],
  ['repeatInterleave', () => [g([2, 3], 120)], (x) => x.repeatInterleave(2, 1).mul(torch.arange(6))],
  ['roll', () => [g([2, 3], 121)], (x) => x.roll(1, 1).mul(torch.arange(3))],
  ['triu', () => [g([3, 3], 122)], (x) => x.triu(0)],
  ['tril', () => [g([3, 4], 123)], (x) => x.tril(1)],
  ['contiguous of a transpose', () => [g([2, 3], 124)], (x) => x.t().contiguous().square()],
  ['clone', () => [g([2, 3], 125)], (x) => x.clone().square()],
];

const INDEXING: Row[] = [
  ['gather', () => [g([3, 4], 131)], (x) => x.gather(1, long([[0, 3], [2, 2], [1, 0]]))],
  ['indexSelect (repeated index)', () => [g([3, 2], 132)], (x) => x.indexSelect(0, long([2, 0, 2]))],
  ['index (advanced)', () => [g([3, 3], 133)], (x) => x.index([long([0, 2, 0]), long([1, 1, 2])])],
  ['scatterAdd: self and src', () => [g([2, 4], 134), g([2, 2], 135)], (x, s) => x.scatterAdd(1, long([[3, 3], [0, 1]]), s)],
  ['scatter: self and src', () => [g([2, 4], 136), g([2, 2], 137)], (x, s) => x.scatter(1, long([[3, 1], [0, 2]]), s)],
  ['indexPut accumulate', () => [g([3, 2], 138), g([2, 2], 139)], (x, v) => x.indexPut([long([1, 1])], v, true)],
  ['maskedFill', () => [g([2, 3], 140)], (x) => x.maskedFill(long([[1, 0, 0], [0, 1, 1]]).bool(), 0.5)],
  ['maskedSelect', () => [g([2, 3], 141)], (x) => x.maskedSelect(long([[1, 0, 1], [0, 1, 1]]).bool())],
  ['topk values', () => [g([2, 5], 142)], (x) => x.topk(2)[0]],
  ['sort values', () => [g([2, 4], 143)], (x) => x.sort(1, true)[0].mul(torch.arange(4))],
];

const NN: Row[] = [
  ['softmax', () => [g([2, 5], 151, { scale: 2 })], (x) => x.softmax(1)],
  ['softmax dim 0', () => [g([3, 2], 152, { scale: 2 })], (x) => torch.softmax(x, 0)],
  ['logSoftmax', () => [g([2, 5], 153, { scale: 2 })], (x) => x.logSoftmax(-1)],
  ['crossEntropy mean', () => [g([3, 4], 154, { scale: 2 })], (z) => torch.crossEntropy(z, long([3, 0, 1]))],
  ['crossEntropy sum + ignoreIndex', () => [g([3, 4], 155, { scale: 2 })], (z) => torch.crossEntropy(z, long([3, -100, 1]), { reduction: 'sum' })],
  ['crossEntropy none + label smoothing', () => [g([3, 4], 156, { scale: 2 })], (z) => torch.crossEntropy(z, long([2, 0, 1]), { reduction: 'none', labelSmoothing: 0.2 })],
  ['crossEntropy weighted (logits and weights)', () => [g([3, 4], 157, { scale: 2 })], (z) => torch.crossEntropy(z, long([2, 0, 1]), { weight: torch.tensor([0.5, 1, 2, 1], { dtype: 'float64' }) })],
  ['crossEntropy (N, C, T)', () => [g([2, 3, 2], 158, { scale: 2 })], (z) => torch.crossEntropy(z, long([[2, 0], [1, 1]]))],
  ['nllLoss', () => [g([3, 4], 159)], (lp) => torch.nllLoss(lp, long([1, 3, 0]))],
  ['layerNorm: x, weight, bias', () => [g([2, 5], 160, { scale: 2 }), g([5], 161, { offset: 1 }), g([5], 162)], (x, w, b) => torch.layerNorm(x, [5], w, b)],
  ['layerNorm no affine', () => [g([3, 4], 163, { scale: 2 })], (x) => torch.layerNorm(x, [4])],
  ['rmsNorm: x, weight', () => [g([2, 5], 164, { scale: 2 }), g([5], 165, { offset: 1 })], (x, w) => torch.rmsNorm(x, w, 1e-6)],
  ['embedding (weight; repeated ids)', () => [g([4, 3], 166)], (w) => torch.embedding(w, long([[1, 3], [1, 0]]))],
  ['applyRope: x, cos, sin', () => [g([2, 3, 4], 167), g([3, 4], 168), g([3, 4], 169)], (x, c, s) => torch.applyRope(x, c, s)],
  ['tokenLogprobs', () => [g([2, 3, 5], 170, { scale: 3 })], (z) => torch.tokenLogprobs(z, long([[0, 4, 2], [1, 1, 3]]))],
  ['entropyFromLogits', () => [g([2, 3, 5], 171, { scale: 3 })], (z) => torch.entropyFromLogits(z)],
  ['sdpa: q, k, v', () => [g([1, 2, 3, 4], 172), g([1, 2, 3, 4], 173), g([1, 2, 3, 4], 174)], (q, k, v) => torch.scaledDotProductAttention(q, k, v)],
  ['sdpa causal (Tq < Tk)', () => [g([1, 2, 2, 3], 175), g([1, 2, 4, 3], 176), g([1, 2, 4, 3], 177)], (q, k, v) => torch.scaledDotProductAttention(q, k, v, { isCausal: true })],
  ['sdpa bool mask', () => [g([2, 1, 2, 3], 178), g([2, 1, 3, 3], 179), g([2, 1, 3, 3], 180)],
    (q, k, v) => torch.scaledDotProductAttention(q, k, v, { mask: torch.tensor([[true, true, false], [false, true, true]]).reshape(2, 1, 1, 3) })],
  ['sdpa GQA causal (H 4, Hkv 2)', () => [g([1, 4, 3, 2], 181), g([1, 2, 3, 2], 182), g([1, 2, 3, 2], 183)], (q, k, v) => torch.scaledDotProductAttention(q, k, v, { isCausal: true })],
  ['sdpa additive mask, scale', () => [g([1, 1, 2, 3], 184), g([1, 1, 3, 3], 185), g([1, 1, 3, 3], 186), g([2, 3], 187)], (q, k, v, m) => torch.scaledDotProductAttention(q, k, v, { mask: m, scale: 0.7 })],
];

const TABLES: [string, Row[]][] = [['unary', UNARY], ['binary', BINARY], ['reductions', REDUCTIONS], ['linear algebra', LINALG], ['shape', SHAPE], ['indexing', INDEXING], ['nn', NN]];

for (const [group, rows] of TABLES) {
  test(`gradcheck: ${group} ops (float64 finite differences)`, () => {
    const failures: string[] = [];
    for (const [name, inputs, fn] of rows) {
      noLeak(() => {
        const xs = inputs();
        const r = torch.gradcheck(fn, xs, { eps: 1e-6, atol: 1e-7, rtol: 1e-5 });
        console.log(`  ${group} / ${name}: max |analytic − numeric| ${r.maxAbsDiff.toExponential(2)}`);
        if (!r.ok) failures.push(`${name} (max diff ${r.maxAbsDiff})`);
      });
    }
    assert.deepEqual(failures, [], `gradient mismatches: ${failures.join('; ')}`);
  });
}

test('gradcheck itself fails on a wrong gradient and rejects non-float64 inputs', () => noLeak(() => {
  // x·detach(x) has value x² but gradient x (not 2x): a gradcheck that cannot fail would pass it
  const x = g([3], 191);
  const r = torch.gradcheck((a) => a.mul(a.detach()), [x]);
  assert.equal(r.ok, false, 'a wrong gradient must fail');
  assert.ok(r.maxAbsDiff > 0.1, `max diff ${r.maxAbsDiff}`);
  assert.throws(() => torch.gradcheck((a) => a, [torch.ones([2], { requiresGrad: true })]), /must be float64 with requiresGrad/);
  assert.throws(() => torch.gradcheck((a) => a, [torch.ones([2], { dtype: 'float64' })]), /must be float64 with requiresGrad/);
  // the inputs are restored after probing
  assert.deepEqual(x.toFlatArray(), f64([3], 191).toFlatArray());
}));
