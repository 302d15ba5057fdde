/**
 * Creating tensors (typed arrays, nested arrays, scalars, factories), reading them back,
 * conversions, random draws (manualSeed reproducibility, RNG state save/restore, distribution
 * sanity) and the intra-op thread setting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import * as torch from '../../src/torch/index.js';
import { assertClose, assertExact, assertThrowsMsg, noLeak } from './helpers.js';

test('tensor() infers dtype and shape as PyTorch does', () => noLeak(() => {
  assertExact('ints → int64', torch.tensor([[1, 2], [3, 4]]), [1, 2, 3, 4], 'int64', [2, 2]);
  assertExact('floats → float32', torch.tensor([1.5, 2]), [1.5, 2], 'float32', [2]);
  assertExact('bools → bool', torch.tensor([true, false]), [1, 0], 'bool', [2]);
  assertExact('scalar → 0-dim', torch.tensor(7), [7], 'int64', []);
  assertExact('float scalar', torch.scalarTensor(0.25), [0.25], 'float32', []);
  assertExact('dtype given', torch.tensor([1, 2], { dtype: 'float64' }), [1, 2], 'float64');
  assertExact('int dtype from floats truncates', torch.tensor([1.7, -1.7], { dtype: 'int32' }), [1, -1], 'int32');
  assertExact('bool dtype from numbers', torch.tensor([0, 3], { dtype: 'bool' }), [0, 1], 'bool');
  assertExact('empty list', torch.tensor([]), [], 'float32', [0]);
  assertExact('nested with shape override', torch.tensor([1, 2, 3, 4, 5, 6], { shape: [3, 2] }), [1, 2, 3, 4, 5, 6], 'int64', [3, 2]);
  // typed arrays keep their type; float32 values are exact
  const typed: [ArrayLike<number> | BigInt64Array, torch.DType][] = [
    [new Float32Array([0.1, 2]), 'float32'], [new Float64Array([0.1, 2]), 'float64'], [new Int32Array([1, -2]), 'int32'],
    [new Int16Array([1, -2]), 'int16'], [new Int8Array([1, -2]), 'int8'], [new Uint8Array([1, 254]), 'uint8'],
    [new BigInt64Array([1n, -2n]), 'int64'],
  ];
  for (const [arr, dt] of typed) {
    const t = torch.tensor(arr as torch.TypedArray);
    assert.equal(t.dtype, dt, `${arr.constructor.name} → ${dt}`);
    assert.deepEqual(t.data(), arr, `${dt} data() round trip`);
  }
  assertExact('typed array with a shape', torch.tensor(new Float32Array(6), { shape: [2, 3] }), [0, 0, 0, 0, 0, 0], 'float32', [2, 3]);
  assertExact('typed array to another dtype', torch.tensor(new Int32Array([3]), { dtype: 'float16' }), [3], 'float16');
  assert.equal(torch.tensor([1.5], { requiresGrad: true }).requiresGrad, true);
  // errors
  assert.throws(() => torch.tensor([[1, 2], [3]]), /ragged nested array at depth 1: expected length 2/);
  assert.throws(() => torch.tensor([[1], 2] as never), /ragged/);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  assert.throws(() => torch.tensor(['a'] as any), /elements must be numbers or booleans/);
  assertThrowsMsg(() => torch.tensor(new Float32Array(5), { shape: [2, 3] }), /data has 20 bytes but shape and dtype need 24/, 'typed array size');
  assertThrowsMsg(() => torch.tensor([1], { dtype: 'complex64' as torch.DType }), /unknown dtype 'complex64'/, 'unknown dtype');
}));

test('factories: zeros ones full empty arange linspace and the *Like forms', () => noLeak(() => {
  assertExact('zeros', torch.zeros([2, 2]), [0, 0, 0, 0], 'float32', [2, 2]);
  assertExact('ones int32', torch.ones([3], { dtype: 'int32' }), [1, 1, 1], 'int32');
  assertExact('full int value → int64', torch.full([2], 7), [7, 7], 'int64');
  assertExact('full float value → float32', torch.full([2], 0.5), [0.5, 0.5], 'float32');
  assertExact('full bool value → bool', torch.full([1], true), [1], 'bool');
  assert.deepEqual(torch.empty([3, 0]).shape, [3, 0]);
  assertExact('arange(5)', torch.arange(5), [0, 1, 2, 3, 4], 'int64');
  assertExact('arange(1, 2, 0.25)', torch.arange(1, 2, 0.25), [1, 1.25, 1.5, 1.75], 'float32');
  assertExact('arange(5, 0, -2)', torch.arange(5, 0, -2), [5, 3, 1], 'int64');
  assertExact('arange float64', torch.arange(0, 3, 1, { dtype: 'float64' }), [0, 1, 2], 'float64');
  assertClose('linspace', torch.linspace(0, 1, 5), [0, 0.25, 0.5, 0.75, 1], { atol: 0, shape: [5] });
  const base = torch.ones([2, 3], { dtype: 'float64' });
  assertExact('zerosLike', torch.zerosLike(base), [0, 0, 0, 0, 0, 0], 'float64', [2, 3]);
  assertExact('onesLike dtype override', torch.onesLike(base, { dtype: 'int8' }), [1, 1, 1, 1, 1, 1], 'int8');
  assertExact('fullLike', torch.fullLike(base, 3), [3, 3, 3, 3, 3, 3], 'float64');
  assert.equal(torch.zeros([1], { requiresGrad: true }).requiresGrad, true);
  assertThrowsMsg(() => torch.zeros([-1]), /negative dimension -1|Dimension size must be non-negative/ /* libtorch 1.13 | 2.x */, 'negative size');
  assertThrowsMsg(() => torch.arange(0, 5, 0), /step must be nonzero/, 'arange step 0');
  assertThrowsMsg(() => torch.zeros([2], { device: 'tpu' as torch.Device }), /device|Expected one of/, 'unknown device');
  if (!torch.cudaAvailable()) assertThrowsMsg(() => torch.zeros([1], { device: 'cuda:0' }), /CUDA|cuda/, 'cuda without CUDA');
}));

test('read back: data, bytes, toArray, toFlatArray, item', () => noLeak(() => {
  const t = torch.tensor([[1.5, -2], [3, 4]], { dtype: 'float32' });
  assert.deepEqual(t.data(), new Float32Array([1.5, -2, 3, 4]));
  assert.deepEqual(t.toArray(), [[1.5, -2], [3, 4]]);
  assert.deepEqual(t.t().toFlatArray(), [1.5, 3, -2, 4], 'non-contiguous reads in logical order');
  assert.deepEqual(t.bytes(), new Uint8Array(new Float32Array([1.5, -2, 3, 4]).buffer));
  assert.equal(t.select(0, 1).select(0, 0).item(), 3);
  assert.equal(torch.tensor(true).item(), true, 'bool item is a boolean');
  assert.equal(torch.tensor([[5]]).item(), 5, 'one element of any shape');
  assert.deepEqual(torch.tensor([0.1], { dtype: 'bfloat16' }).data(), new Float32Array([0.10009765625]), 'bfloat16 reads as float32');
  assert.deepEqual(torch.tensor([1, 0, 1], { dtype: 'bool' }).data(), new Uint8Array([1, 0, 1]));
  assert.deepEqual(torch.tensor(new BigInt64Array([2n ** 62n])).toFlatArray(), [2 ** 62]);
  assert.equal(torch.tensor(3).toArray(), 3);
  assertThrowsMsg(() => t.item(), /item\(\) needs a tensor with one element, got 4/, 'item of many');
}));

test('to, float, double, long, int, bool, clone, detach, contiguous', () => noLeak(() => {
  const t = torch.tensor([1.7, -1.2, 0], { dtype: 'float32' });
  assertExact('to int64 truncates', t.to('int64'), [1, -1, 0], 'int64');
  assertExact('long', t.long(), [1, -1, 0], 'int64');
  assertExact('int', t.int(), [1, -1, 0], 'int32');
  assertExact('bool', t.bool(), [1, 1, 0], 'bool');
  assert.equal(t.double().dtype, 'float64');
  assert.equal(t.to('int64').float().dtype, 'float32');
  assert.equal(t.to('cpu').device, 'cpu');
  assert.equal(t.device, 'cpu');
  const same = t.to('float32');
  same.fill_(5);
  assertClose('to(same dtype) without copy aliases', t, [5, 5, 5], { atol: 0 });
  const copy = t.to('float32', { copy: true });
  copy.fill_(1);
  assertClose('to(copy) does not alias', t, [5, 5, 5], { atol: 0 });
  const c = t.clone();
  c.fill_(0);
  assertClose('clone is independent', t, [5, 5, 5], { atol: 0 });
  const g = torch.ones([2], { requiresGrad: true });
  assert.equal(g.mul(2).clone().requiresGrad, true, 'clone stays in the graph');
  assert.equal(g.detach().requiresGrad, false);
  assert.equal(String(t), 'Tensor(shape=[3], dtype=float32, device=cpu)');
}));

test('manualSeed makes every random factory reproducible', () => noLeak(() => {
  const draw = () => [
    torch.rand([5]).toFlatArray(), torch.randn([5]).toFlatArray(), torch.randint(0, 100, [5]).toFlatArray(),
    torch.empty([5]).uniform_(-2, 2).toFlatArray(), torch.empty([5]).normal_(3, 0.5).toFlatArray(),
    torch.tensor([0.2, 0.3, 0.5]).multinomial(5, true).toFlatArray(), torch.dropout(torch.ones([8]), 0.5, true).toFlatArray(),
  ];
  torch.manualSeed(1234);
  const a = draw();
  torch.manualSeed(1234);
  const b = draw();
  assert.deepEqual(a, b, 'same seed, same draws');
  torch.manualSeed(1235);
  assert.notDeepEqual(draw()[0], a[0], 'another seed, other draws');
  assert.equal(torch.randint(0, 3, [4], { dtype: 'int32' }).dtype, 'int32');
}));

test('getRngState / setRngState reproduce a draw', () => noLeak(() => {
  torch.manualSeed(7);
  torch.randn([3]); // advance
  const state = torch.getRngState();
  assert.equal(state.dtype, 'uint8');
  const first = [torch.randn([4]).toFlatArray(), torch.rand([2]).toFlatArray()];
  torch.randn([100]); // move on
  torch.setRngState(state);
  const again = [torch.randn([4]).toFlatArray(), torch.rand([2]).toFlatArray()];
  assert.deepEqual(again, first, 'restored state repeats the draws');
  assertThrowsMsg(() => torch.setRngState(torch.zeros([3], { dtype: 'uint8' })), /RNG state|size|Expected/, 'bad state');
}));

test('random distributions: ranges and moments', () => noLeak(() => {
  torch.manualSeed(99);
  const n = 20000;
  const u = torch.rand([n]);
  assert.ok(u.min().item() >= 0 && u.max().item() < 1, 'rand in [0, 1)');
  // mean of U(0,1): 0.5 ± 5·sqrt(1/12/n) = 0.0102; of N(0,1): 0 ± 5/sqrt(n) = 0.0354
  assertClose('rand mean', u.mean(), 0.5, { atol: 0.0102, rtol: 0 });
  const z = torch.randn([n]);
  assertClose('randn mean', z.mean(), 0, { atol: 0.0354, rtol: 0 });
  assertClose('randn std', z.std(), 1, { atol: 0.025, rtol: 0 });
  const r = torch.randint(-3, 3, [n]);
  assert.ok(r.min().item() === -3 && r.max().item() === 2, 'randint in [low, high)');
  assertClose('randn float64 std', torch.randn([n], { dtype: 'float64' }).std(), 1, { atol: 0.025, rtol: 0 });
}));

test('setNumThreads / getNumThreads', () => {
  const prev = torch.getNumThreads();
  // the default is the machine's cores unless PRIME_NUM_THREADS says otherwise
  const want = Number(process.env.PRIME_NUM_THREADS ?? 0) || os.availableParallelism();
  assert.equal(prev, want, 'default thread count');
  torch.setNumThreads(1);
  assert.equal(torch.getNumThreads(), 1);
  torch.setNumThreads(3);
  assert.equal(torch.getNumThreads(), 3);
  const r = torch.tidy(() => torch.ones([300, 300]).matmul(torch.ones([300, 300])).sum().item());
  assert.equal(r, 300 * 300 * 300, 'ops still correct with more threads than cores');
  torch.setNumThreads(prev);
  assert.equal(torch.getNumThreads(), prev);
});

test('version and device queries', () => {
  const v = torch.version();
  assert.match(v.libtorch, /^\d+\.\d+/);
  assert.equal(typeof v.cuda, 'boolean');
  assert.equal(typeof v.mkl, 'boolean');
  assert.equal(typeof torch.cudaAvailable(), 'boolean');
});
