/**
 * Shape ops: reshape view transpose permute unsqueeze squeeze expand flatten flip cat stack
 * split chunk narrow slice select t contiguous; views share storage; errors name the problem.
 * Expected values are computed by index arithmetic in JS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { assertExact, assertThrowsMsg, noLeak } from './helpers.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
/** x = arange(24).reshape(2, 3, 4): x[i][j][k] = 12i + 4j + k */
const X = () => torch.arange(24).reshape(2, 3, 4);

test('reshape, view, flatten, unsqueeze, squeeze keep row-major order', () => noLeak(() => {
  const x = X();
  assertExact('reshape(4, 6)', x.reshape(4, 6), range(24), 'int64', [4, 6]);
  assertExact('reshape([-1, 8])', x.reshape([-1, 8]), range(24), 'int64', [3, 8]);
  assertExact('view(6, 4)', x.view(6, 4), range(24), 'int64', [6, 4]);
  assertExact('flatten()', x.flatten(), range(24), 'int64', [24]);
  assertExact('flatten(1)', x.flatten(1), range(24), 'int64', [2, 12]);
  assert.deepEqual(x.unsqueeze(0).shape, [1, 2, 3, 4]);
  assert.deepEqual(x.unsqueeze(-1).shape, [2, 3, 4, 1]);
  assert.deepEqual(x.unsqueeze(1).squeeze(1).shape, [2, 3, 4]);
  assert.deepEqual(torch.zeros([1, 3, 1]).squeeze().shape, [3]);
  assert.deepEqual(torch.zeros([1, 3, 1]).squeeze(0).shape, [3, 1]);
  assert.deepEqual(torch.zeros([2, 3]).squeeze(0).shape, [2, 3], 'squeeze of a non-1 dim is a no-op');
  assertThrowsMsg(() => x.reshape(5, 5), /shape '\[5, 5\]' is invalid for input of size 24/, 'reshape');
  assertThrowsMsg(() => x.transpose(0, 2).view(24), /view size is not compatible/, 'view of non-contiguous');
}));

test('transpose, permute, t, flip, contiguous', () => noLeak(() => {
  const x = X();
  const tr = x.transpose(0, 2); // (4, 3, 2): y[k][j][i] = x[i][j][k]
  const want: number[] = [];
  for (let k = 0; k < 4; k++) for (let j = 0; j < 3; j++) for (let i = 0; i < 2; i++) want.push(12 * i + 4 * j + k);
  assertExact('transpose(0, 2)', tr, want, 'int64', [4, 3, 2]);
  assert.equal(tr.isContiguous, false);
  const c = tr.contiguous();
  assert.equal(c.isContiguous, true);
  assertExact('contiguous', c, want);
  const pm = x.permute(1, 2, 0); // (3, 4, 2): y[j][k][i]
  const wantP: number[] = [];
  for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) for (let i = 0; i < 2; i++) wantP.push(12 * i + 4 * j + k);
  assertExact('permute(1, 2, 0)', pm, wantP, 'int64', [3, 4, 2]);
  assertExact('permute([2, 0, 1]) shape', x.permute([2, 0, 1]), x.permute(2, 0, 1).toFlatArray(), 'int64', [4, 2, 3]);
  assertExact('t()', torch.tensor([[1, 2, 3], [4, 5, 6]]).t(), [1, 4, 2, 5, 3, 6], 'int64', [3, 2]);
  assertExact('flip(2)', x.flip(2).select(0, 0).select(0, 0), [3, 2, 1, 0]);
  assertExact('flip([0, 1])', x.flip([0, 1]).select(2, 0), [20, 16, 12, 8, 4, 0]);
  assertThrowsMsg(() => x.permute(0, 1), /number of dims don't match in permute|permute/, 'permute rank');
  assertThrowsMsg(() => x.transpose(0, 3), /Dimension out of range/, 'transpose dim');
}));

test('expand, repeat, cat, stack', () => noLeak(() => {
  const r = torch.tensor([[1], [2]]);
  assertExact('expand(2, 3)', r.expand(2, 3), [1, 1, 1, 2, 2, 2], 'int64', [2, 3]);
  assertExact('expand([-1, 2])', r.expand([-1, 2]), [1, 1, 2, 2], 'int64', [2, 2]);
  assertExact('expand adds leading dims', torch.tensor([1, 2]).expand(2, 2), [1, 2, 1, 2]);
  assertThrowsMsg(() => torch.tensor([1, 2]).expand(3, 3), /expanded size of the tensor \(3\) must match the existing size \(2\)/, 'expand');
  const a = torch.tensor([[1, 2], [3, 4]]), b = torch.tensor([[5, 6]]);
  assertExact('cat dim 0', torch.cat([a, b]), [1, 2, 3, 4, 5, 6], 'int64', [3, 2]);
  assertExact('cat dim 1', torch.cat([a, a], 1), [1, 2, 1, 2, 3, 4, 3, 4], 'int64', [2, 4]);
  assertExact('cat dim -1 promotes dtypes', torch.cat([a, a.float().add(0.5)], -1), [1, 2, 1.5, 2.5, 3, 4, 3.5, 4.5], 'float32');
  assertExact('stack dim 0', torch.stack([a, a]), [1, 2, 3, 4, 1, 2, 3, 4], 'int64', [2, 2, 2]);
  assertExact('stack dim 2', torch.stack([a, a.neg()], 2), [1, -1, 2, -2, 3, -3, 4, -4], 'int64', [2, 2, 2]);
  assertThrowsMsg(() => torch.cat([a, b], 1), /Sizes of tensors must match except in dimension 1/, 'cat mismatch');
  assertThrowsMsg(() => torch.stack([a, b]), /stack expects each tensor to be equal size/, 'stack mismatch');
  assertThrowsMsg(() => torch.cat([]), /expected a non-empty list of Tensors|non-empty/, 'cat of nothing');
}));

test('split, chunk, narrow, slice, select', () => noLeak(() => {
  const x = torch.arange(10);
  const parts = x.split(4);
  assert.deepEqual(parts.map((p) => p.toFlatArray()), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
  assert.deepEqual(x.split([2, 3, 5]).map((p) => p.shape[0]), [2, 3, 5]);
  assertThrowsMsg(() => x.split([2, 3]), /split_with_sizes expects split_sizes to sum exactly to 10/, 'split sizes');
  assert.deepEqual(x.chunk(3).map((p) => p.toFlatArray()), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
  assert.deepEqual(X().chunk(2, 2).map((p) => p.shape), [[2, 3, 2], [2, 3, 2]]);
  assertExact('narrow(0, 3, 4)', x.narrow(0, 3, 4), [3, 4, 5, 6]);
  assertThrowsMsg(() => x.narrow(0, 8, 4), /start \(8\) \+ length \(4\) exceeds dimension size \(10\)/, 'narrow range');
  // Python slices: x[2:], x[:-3], x[1:8:3], x[-4:-1]
  assertExact('slice(0, 2)', x.slice(0, 2), [2, 3, 4, 5, 6, 7, 8, 9]);
  assertExact('slice(0, null, -3)', x.slice(0, null, -3), [0, 1, 2, 3, 4, 5, 6]);
  assertExact('slice(0, 1, 8, 3)', x.slice(0, 1, 8, 3), [1, 4, 7]);
  assertExact('slice(0, -4, -1)', x.slice(0, -4, -1), [6, 7, 8]);
  assertExact('slice past the end clamps', x.slice(0, 8, 100), [8, 9]);
  const y = X();
  assertExact('y[:, 1:, 2]', y.slice(1, 1).select(2, 2), [6, 10, 18, 22], 'int64', [2, 2]);
  assertExact('select(0, -1)', y.select(0, -1).select(0, 0), [12, 13, 14, 15]);
  assertThrowsMsg(() => y.select(1, 3), /select\(\): index 3 out of range for tensor of size \[2, 3, 4\] at dimension 1/, 'select range');
  assertThrowsMsg(() => x.slice(0, 0, null, 0), /slice step must be positive/, 'slice step 0');
}));

test('views share storage with their base; clone and contiguous copies do not', () => noLeak(() => {
  const x = torch.zeros([2, 3]);
  const v = x.view(6), tr = x.t(), sl = x.slice(1, 1), nr = x.narrow(0, 1, 1), ex = x.select(0, 0).expand(4, 3);
  v.narrow(0, 0, 1).fill_(1); // x[0,0]
  tr.select(0, 2).fill_(2); // x[:,2]
  nr.fill_(3); // x[1,:]
  assert.deepEqual(x.toFlatArray(), [1, 0, 2, 3, 3, 3]);
  assert.deepEqual(sl.toFlatArray(), [0, 2, 3, 3]);
  assert.deepEqual(ex.toFlatArray(), [1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2]);
  const cl = x.clone();
  cl.fill_(9);
  assert.deepEqual(x.toFlatArray(), [1, 0, 2, 3, 3, 3], 'clone is a copy');
  // the live-tensor count counts handles, not storages: disposing a view keeps the base alive
  v.dispose();
  assert.deepEqual(x.toFlatArray(), [1, 0, 2, 3, 3, 3]);
}));

test('shape accessors', () => noLeak(() => {
  const x = X();
  assert.deepEqual(x.shape, [2, 3, 4]);
  assert.equal(x.ndim, 3);
  assert.equal(x.numel, 24);
  assert.equal(x.size(-1), 4);
  assert.throws(() => x.size(3), RangeError);
  const s = x.shape;
  s[0] = 99; // a copy: mutating it changes nothing
  assert.deepEqual(x.shape, [2, 3, 4]);
  assert.deepEqual(torch.tensor(5).shape, []);
  assert.equal(torch.tensor(5).numel, 1);
  assert.deepEqual(torch.zeros([0, 3]).shape, [0, 3]);
  assert.equal(torch.zeros([0, 3]).numel, 0);
}));
