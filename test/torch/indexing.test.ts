/**
 * Indexing and selection: index / indexPut (advanced indexing), indexSelect, gather, scatter,
 * scatterAdd, maskedFill, maskedSelect, nonzero, triu, tril, roll, repeat, repeatInterleave,
 * topk, sort, argsort, multinomial. Hand-worked cases and JS loops; NaN; errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { assertClose, assertExact, assertThrowsMsg, noLeak } from './helpers.js';

const M = () => torch.tensor([[10, 11, 12], [20, 21, 22], [30, 31, 32]]);

test('indexSelect, gather, index', () => noLeak(() => {
  const m = M();
  assertExact('indexSelect(0, [2, 0, 2])', m.indexSelect(0, torch.tensor([2, 0, 2])), [30, 31, 32, 10, 11, 12, 30, 31, 32], 'int64', [3, 3]);
  assertExact('indexSelect(1, int32 index)', m.indexSelect(1, torch.tensor([1], { dtype: 'int32' })), [11, 21, 31], 'int64', [3, 1]);
  // gather(1, idx): out[i][j] = m[i][idx[i][j]]
  assertExact('gather(1)', m.gather(1, torch.tensor([[2, 0], [1, 1], [0, 2]])), [12, 10, 21, 21, 30, 32], 'int64', [3, 2]);
  // gather(0, idx): out[i][j] = m[idx[i][j]][j]
  assertExact('gather(0)', m.gather(0, torch.tensor([[2, 1, 0]])), [30, 21, 12]);
  assertExact('index rows', m.index([torch.tensor([0, 2])]), [10, 11, 12, 30, 31, 32], 'int64', [2, 3]);
  assertExact('index pairs m[[0,1],[2,0]]', m.index([torch.tensor([0, 1]), torch.tensor([2, 0])]), [12, 20]);
  assertExact('index m[:, [1]]', m.index([null, torch.tensor([1])]), [11, 21, 31], 'int64', [3, 1]);
  assertExact('index with a bool mask', m.index([torch.tensor([true, false, true])]), [10, 11, 12, 30, 31, 32]);
  assertExact('negative index', m.index([torch.tensor([-1])]), [30, 31, 32]);
  assertThrowsMsg(() => m.indexSelect(0, torch.tensor([3])), /out of range|index out of range/i, 'indexSelect range');
  assertThrowsMsg(() => m.gather(1, torch.tensor([[3]])), /index 3 is out of bounds for dimension 1 with size 3/, 'gather range');
  assertThrowsMsg(() => m.gather(1, torch.tensor([[0.5]])), /gather\(\): Expected dtype (int32\/)?int64 for index/, 'gather float index');
  assertThrowsMsg(() => m.index([torch.tensor([5])]), /index 5 is out of bounds for dimension 0 with size 3/, 'index range');
}));

test('scatter, scatterAdd, indexPut', () => noLeak(() => {
  const z = torch.zeros([2, 4]);
  // scatter(1, idx, src): out[i][idx[i][j]] = src[i][j]
  const src = torch.tensor([[1, 2], [3, 4]], { dtype: 'float32' });
  const idx = torch.tensor([[3, 0], [1, 1]]);
  assertClose('scatter', z.scatter(1, torch.tensor([[3, 0], [1, 2]]), src), [[2, 0, 0, 1], [0, 3, 4, 0]]);
  assertClose('scatter value', z.scatter(1, torch.tensor([[1], [2]]), 7), [[0, 7, 0, 0], [0, 0, 7, 0]]);
  assertClose('scatterAdd accumulates duplicates', z.scatterAdd(1, idx, src), [[2, 0, 0, 1], [0, 7, 0, 0]]);
  assertClose('scatter leaves the input untouched', z, [[0, 0, 0, 0], [0, 0, 0, 0]]);
  assertClose('indexPut', z.indexPut([torch.tensor([0, 1]), torch.tensor([1, 3])], 5), [[0, 5, 0, 0], [0, 0, 0, 5]]);
  assertClose('indexPut accumulate', z.indexPut([torch.tensor([0, 0])], torch.tensor([1, 2, 3, 4], { dtype: 'float32' }), true), [[2, 4, 6, 8], [0, 0, 0, 0]]);
  assertExact('indexPut int tensor with a JS int', torch.zeros([3], { dtype: 'int64' }).indexPut([torch.tensor([1])], 4), [0, 4, 0], 'int64');
  assertThrowsMsg(() => z.scatterAdd(1, torch.tensor([[9]]), src), /index 9 is out of bounds for dimension 1 with size 4/, 'scatterAdd range');
  assertThrowsMsg(() => z.scatterAdd(1, idx, src.double()), /Expected self.dtype to be equal to src.dtype/, 'scatterAdd dtype');
}));

test('maskedFill, maskedSelect, nonzero, triu, tril', () => noLeak(() => {
  const x = torch.tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float32' });
  const mask = torch.tensor([[true, false, true], [false, false, true]]);
  assertClose('maskedFill', x.maskedFill(mask, -1), [[-1, 2, -1], [4, 5, -1]]);
  assertClose('maskedFill broadcast row mask', x.maskedFill(torch.tensor([false, true, false]), -Infinity), [[1, -Infinity, 3], [4, -Infinity, 6]]);
  assertClose('maskedFill NaN', x.maskedFill(mask, NaN), [[NaN, 2, NaN], [4, 5, NaN]]);
  assertClose('maskedFill with a 0-dim tensor', x.maskedFill(mask, torch.tensor(0.5)), [[0.5, 2, 0.5], [4, 5, 0.5]]);
  assertClose('maskedSelect', x.maskedSelect(mask), [1, 3, 6], { shape: [3] });
  assertExact('nonzero', mask.nonzero(), [[0, 0], [0, 2], [1, 2]], 'int64', [3, 2]);
  assertThrowsMsg(() => x.maskedFill(torch.ones([3, 1], { dtype: 'bool' }), 0), /must match the size of tensor b|must match/, 'mask shape');
  const sq = torch.ones([3, 4]);
  assertExact('triu', sq.triu(), [[1, 1, 1, 1], [0, 1, 1, 1], [0, 0, 1, 1]]);
  assertExact('triu(1)', torch.triu(sq, 1), [[0, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 1]]);
  assertExact('tril', sq.tril(), [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0]]);
  assertExact('tril(1) (bottom-right causal with Tk − Tq = 1)', torch.tril(sq, 1), [[1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]);
  assertExact('tril(-1)', sq.tril(-1), [[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0]]);
}));

test('roll, repeat, repeatInterleave', () => noLeak(() => {
  const x = torch.tensor([[1, 2, 3], [4, 5, 6]]);
  assertExact('roll(1, 1)', x.roll(1, 1), [[3, 1, 2], [6, 4, 5]]);
  assertExact('roll(-1, 0)', x.roll(-1, 0), [[4, 5, 6], [1, 2, 3]]);
  assertExact('roll([1, 1], [0, 1])', x.roll([1, 1], [0, 1]), [[6, 4, 5], [3, 1, 2]]);
  assertExact('repeat(2, 1)', x.repeat(2, 1), [[1, 2, 3], [4, 5, 6], [1, 2, 3], [4, 5, 6]]);
  assertExact('repeat([1, 2])', x.repeat([1, 2]), [[1, 2, 3, 1, 2, 3], [4, 5, 6, 4, 5, 6]]);
  assertExact('repeatInterleave(2, 0)', x.repeatInterleave(2, 0), [[1, 2, 3], [1, 2, 3], [4, 5, 6], [4, 5, 6]]);
  assertExact('repeatInterleave(2) flattens', torch.tensor([1, 2]).repeatInterleave(2), [1, 1, 2, 2]);
  assertExact('repeatInterleave(tensor, 1)', x.repeatInterleave(torch.tensor([0, 2, 1]), 1), [[2, 2, 3], [5, 5, 6]]);
  assertThrowsMsg(() => x.repeat(2), /Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor/, 'repeat rank');
}));

test('topk, sort, argsort', () => noLeak(() => {
  const x = torch.tensor([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3]], { dtype: 'float32' });
  const [v, i] = x.topk(2);
  assertClose('topk values', v, [[5, 4], [9, 6]]);
  assertExact('topk indices', i, [[4, 2], [0, 2]], 'int64');
  const [vs, is] = x.topk(2, -1, false);
  assertClose('topk smallest', vs, [[1, 1], [2, 3]]);
  assert.deepEqual(is.select(0, 1).toFlatArray(), [1, 4]);
  const [sv, si] = x.sort(1);
  assertClose('sort ascending', sv, [[1, 1, 3, 4, 5], [2, 3, 5, 6, 9]]);
  assert.deepEqual(x.gather(1, si).toFlatArray(), sv.toFlatArray(), 'sort indices gather the sorted values');
  assertClose('sort descending', torch.sort(x, 1, true)[0], [[5, 4, 3, 1, 1], [9, 6, 5, 3, 2]]);
  assertExact('argsort', x.select(0, 1).argsort(0, true), [0, 2, 3, 4, 1]);
  // NaN sorts as the largest value, as in PyTorch
  assertClose('sort with NaN', torch.tensor([2, NaN, 1], { dtype: 'float32' }).sort()[0], [1, 2, NaN]);
  assertThrowsMsg(() => x.topk(6), /selected index k out of range|k \(6\) is too big/, 'topk k');
}));

test('multinomial: valid indices, zero-probability never drawn, frequencies close to probs', () => noLeak(() => {
  torch.manualSeed(1);
  const p = torch.tensor([[0.1, 0, 0.6, 0.3]], { dtype: 'float32' });
  const n = 4000;
  const draws = p.multinomial(n, true);
  assert.deepEqual(draws.shape, [1, n]);
  assert.equal(draws.dtype, 'int64');
  const counts = [0, 0, 0, 0];
  for (const d of draws.toFlatArray()) counts[d]!++;
  assert.equal(counts[1], 0, 'zero probability never drawn');
  const freq = counts.map((c) => c / n);
  // 5 standard errors of a binomial proportion at p = 0.6 with n = 4000 is 0.039
  assertClose('multinomial frequencies', freq, [0.1, 0, 0.6, 0.3], { atol: 0.039, rtol: 0 });
  const noRep = torch.multinomial(torch.tensor([1, 1, 1, 1], { dtype: 'float32' }), 4, false).toFlatArray();
  assert.deepEqual([...noRep].sort(), [0, 1, 2, 3], 'without replacement: a permutation');
  assertThrowsMsg(() => torch.tensor([1, 0], { dtype: 'float32' }).multinomial(3, false), /cannot sample n_sample > prob_dist.size\(-1\) samples without replacement/, 'too many samples');
  assertThrowsMsg(() => torch.tensor([-1, 2], { dtype: 'float32' }).multinomial(1), /probability tensor contains either `inf`, `nan` or element < 0|invalid multinomial distribution/, 'negative prob');
}));
