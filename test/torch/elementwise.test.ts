/**
 * Elementwise ops: arithmetic, math, activations, comparisons and logic, clamp/minimum/maximum/
 * where, in-place forms. Each group: a hand-worked case or a comparison with JS's Math in
 * float64, broadcasting, dtype promotion (PyTorch's rules: JS numbers act as Python scalars),
 * extreme values, NaN propagation, and the error for bad input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { assertClose, assertExact, assertThrowsMsg, noLeak } from './helpers.js';

/** erf by its Maclaurin series; |x| ≤ 3 keeps the float64 cancellation error below ~1e-12. */
function erf(x: number): number {
  let term = x, sum = x;
  for (let n = 1; n < 80; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
// softplus with PyTorch's threshold (beta = 1, threshold = 20: linear above it)
const softplus = (x: number) => (x > 20 ? x : Math.log1p(Math.exp(x)));

const XS = [-2.5, -1, -0.3, 0, 0.2, 0.7, 1.5, 2.9];
const POS = [0.01, 0.3, 1, 2.5, 7, 100];

test('arithmetic: a hand-worked case in float32 and int64', () => noLeak(() => {
  const a = torch.tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float32' });
  const b = torch.tensor([[2, 4, 8], [-1, -2, 0.5]]);
  assertClose('add', a.add(b), [[3, 6, 11], [3, 3, 6.5]], { shape: [2, 3] });
  assertClose('sub', a.sub(b), [[-1, -2, -5], [5, 7, 5.5]]);
  assertClose('add alpha', a.add(b, 2), [[5, 10, 19], [2, 1, 7]]);
  assertClose('sub alpha', a.sub(b, 0.5), [[0, 0, -1], [4.5, 6, 5.75]]);
  assertClose('mul', a.mul(b), [[2, 8, 24], [-4, -10, 3]]);
  assertClose('div', a.div(b), [[0.5, 0.5, 0.375], [-4, -2.5, 12]]);
  assertClose('pow', a.pow(2), [[1, 4, 9], [16, 25, 36]]);
  assertClose('pow tensor', a.pow(torch.tensor([0.5, 1, -1])), [[1, 2, 1 / 3], [2, 5, 1 / 6]]);
  assertClose('neg', b.neg(), [[-2, -4, -8], [1, 2, -0.5]]);
  // function forms, a scalar first operand included
  assertClose('torch.sub(10, a)', torch.sub(10, a), [[9, 8, 7], [6, 5, 4]]);
  assertClose('torch.div(1, b)', torch.div(1, b), [[0.5, 0.25, 0.125], [-1, -0.5, 2]]);
  assertClose('torch.pow(2, a)', torch.pow(2, a), [[2, 4, 8], [16, 32, 64]]);
  // integer division semantics (Python's): true division is float; trunc / floor modes stay int
  const i = torch.tensor([7, -7, 7, -7]), j = torch.tensor([2, 2, -2, -2]);
  assertExact('int64 / int64', i.div(j), [3.5, -3.5, -3.5, 3.5], 'float32');
  assertExact('div trunc', i.div(j, 'trunc'), [3, -3, -3, 3], 'int64');
  assertExact('div floor', i.div(j, 'floor'), [3, -4, -4, 3], 'int64');
  assertExact('floorDivide', i.floorDivide(j), [3, -4, -4, 3], 'int64');
  assertExact('remainder (sign of divisor)', i.remainder(j), [1, 1, -1, -1], 'int64');
  assertExact('fmod (sign of dividend)', i.fmod(j), [1, -1, 1, -1], 'int64');
}));

test('unary math and activations match JS Math in float64', () => noLeak(() => {
  const x = torch.tensor(XS, { dtype: 'float64' });
  const p = torch.tensor(POS, { dtype: 'float64' });
  const cases: [string, torch.Tensor, number[]][] = [
    ['abs', x.abs(), XS.map(Math.abs)],
    ['sign', x.sign(), XS.map(Math.sign)],
    ['exp', x.exp(), XS.map(Math.exp)],
    ['expm1', x.expm1(), XS.map(Math.expm1)],
    ['log', p.log(), POS.map(Math.log)],
    ['log1p', p.log1p(), POS.map(Math.log1p)],
    ['log2', p.log2(), POS.map(Math.log2)],
    ['sqrt', p.sqrt(), POS.map(Math.sqrt)],
    ['rsqrt', p.rsqrt(), POS.map((v) => 1 / Math.sqrt(v))],
    ['square', x.square(), XS.map((v) => v * v)],
    ['reciprocal', p.reciprocal(), POS.map((v) => 1 / v)],
    ['sin', x.sin(), XS.map(Math.sin)],
    ['cos', x.cos(), XS.map(Math.cos)],
    ['erf', x.erf(), XS.map(erf)],
    ['floor', x.floor(), XS.map(Math.floor)],
    ['ceil', x.ceil(), XS.map(Math.ceil)],
    ['trunc', x.trunc(), XS.map(Math.trunc)],
    ['sigmoid', x.sigmoid(), XS.map(sigmoid)],
    ['tanh', x.tanh(), XS.map(Math.tanh)],
    ['relu', x.relu(), XS.map((v) => Math.max(v, 0))],
    ['gelu', x.gelu(), XS.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2)))],
    ['gelu tanh', x.gelu('tanh'), XS.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))))],
    ['silu', x.silu(), XS.map((v) => v * sigmoid(v))],
    ['softplus', x.softplus(), XS.map(softplus)],
    ['logsigmoid', x.logsigmoid(), XS.map((v) => -softplus(-v))],
    ['atan2', x.atan2(torch.tensor(1.5, { dtype: 'float64' })), XS.map((v) => Math.atan2(v, 1.5))],
    ['lerp', x.lerp(torch.zerosLike(x), 0.25), XS.map((v) => 0.75 * v)],
  ];
  for (const [name, got, want] of cases) {
    assert.equal(got.dtype, 'float64', name);
    assertClose(name, got, want, { atol: 1e-12, rtol: 1e-12 });
  }
  // round: half to even, as PyTorch
  assertExact('round', torch.tensor([0.5, 1.5, 2.5, -0.5, -1.6], { dtype: 'float64' }).round(), [0, 2, 2, -0, -2]);
  // the function forms are the same ops
  assertClose('torch.exp', torch.exp(x), XS.map(Math.exp), { atol: 1e-12, rtol: 1e-12 });
  assertClose('torch.gelu tanh', torch.gelu(x, 'tanh'), x.gelu('tanh').toFlatArray(), { atol: 0, rtol: 0 });
}));

test('unary math in float32 and bfloat16 within their precision; float16 is storage-only on CPU', () => noLeak(() => {
  for (const [dtype, rtol] of [['float32', 1e-6], ['bfloat16', 1.6e-2]] as const) {
    const x = torch.tensor(XS, { dtype });
    const xr = x.toFlatArray(); // the values after rounding to dtype
    for (const [name, got, f] of [
      ['exp', x.exp(), Math.exp], ['tanh', x.tanh(), Math.tanh], ['sigmoid', x.sigmoid(), sigmoid],
      ['silu', x.silu(), (v: number) => v * sigmoid(v)], ['gelu', x.gelu(), (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2))],
    ] as const) {
      assert.equal(got.dtype, dtype, `${name} keeps ${dtype}`);
      assertClose(`${name} ${dtype}`, got, xr.map(f), { atol: rtol, rtol });
    }
  }
  // libtorch 1.13's CPU kernels do arithmetic in float16 but not transcendental functions
  // (PyTorch 1.13 on CPU behaves the same); the error names the kernel and the dtype. 2.x has them.
  const h = torch.tensor(XS, { dtype: 'float16' });
  const hr = h.toFlatArray();
  assertClose('float16 mul+add', h.mul(h).add(1), hr.map((v) => v * v + 1), { atol: 2e-3, rtol: 2e-3 });
  if (Number(torch.version().libtorch.split('.')[0]) < 2) assertThrowsMsg(() => h.exp(), /not implemented for 'Half'/, 'float16 exp on CPU');
  else assertClose('float16 exp on CPU (libtorch 2.x implements it)', h.exp(), hr.map(Math.exp), { atol: 2e-3, rtol: 2e-3 });
}));

test('broadcasting follows NumPy rules and matches a JS loop', () => noLeak(() => {
  // a: (2, 1, 3), b: (4, 1) -> (2, 4, 3)
  const av = [1, 2, 3, 4, 5, 6], bv = [10, 20, 30, 40];
  const a = torch.tensor(av, { dtype: 'float32' }).reshape(2, 1, 3);
  const b = torch.tensor(bv, { dtype: 'float32' }).reshape(4, 1);
  const want: number[] = [];
  for (let i = 0; i < 2; i++) for (let j = 0; j < 4; j++) for (let k = 0; k < 3; k++) want.push(av[i * 3 + k]! * bv[j]! - 1);
  assertClose('(2,1,3)*(4,1)-1', a.mul(b).sub(1), want, { shape: [2, 4, 3] });
  // 0-dim tensor and size-1 dims
  assertClose('(2,1,3)+0-dim', a.add(torch.tensor(0.5)), av.map((v) => v + 0.5), { shape: [2, 1, 3] });
  assertClose('where broadcast', torch.where(torch.tensor([true, false, true]), a, torch.tensor([[-1], [-2]]).reshape(2, 1, 1)),
    [1, -1, 3, 4, -2, 6], { shape: [2, 1, 3] });
  // incompatible shapes: libtorch's message surfaces
  assertThrowsMsg(() => a.add(torch.zeros([4, 2])), /size of tensor a \(3\) must match the size of tensor b \(2\)/, 'broadcast error');
}));

test('dtype promotion follows PyTorch (JS numbers act as Python scalars)', () => noLeak(() => {
  const i64 = torch.tensor([1, 2, 3]);
  const i32 = torch.tensor([1, 2, 3], { dtype: 'int32' });
  const f32 = torch.tensor([1, 2, 3], { dtype: 'float32' });
  const f16 = torch.tensor([1, 2, 3], { dtype: 'float16' });
  const bf16 = torch.tensor([1, 2, 3], { dtype: 'bfloat16' });
  const b = torch.tensor([true, false, true]);
  const u8 = torch.tensor([1, 2, 3], { dtype: 'uint8' });
  const i8 = torch.tensor([1, 2, 3], { dtype: 'int8' });
  const table: [string, torch.Tensor, torch.DType][] = [
    ['int64 default for JS integers', i64, 'int64'],
    ['float32 default for JS floats', torch.tensor([1.5, 2]), 'float32'],
    ['int64 + int (scalar)', i64.add(2), 'int64'],
    ['int64 * int (scalar)', i64.mul(3), 'int64'],
    ['int64 + float (scalar)', i64.add(2.5), 'float32'],
    ['int32 + int (scalar) stays int32', i32.add(7), 'int32'],
    ['int32 + int64 tensor', i32.add(i64), 'int64'],
    ['int64 + float32 tensor', i64.add(f32), 'float32'],
    ['int64 / int64 (true division)', i64.div(i64), 'float32'],
    ['uint8 + int8', u8.add(i8), 'int16'],
    ['bool + bool', b.add(b), 'bool'],
    ['bool + int (scalar)', b.add(1), 'int64'],
    ['bool + float (scalar)', b.add(1.5), 'float32'],
    ['bool * int32 tensor', b.mul(i32), 'int32'],
    ['int64 + bool scalar', i64.add(true), 'int64'],
    ['float16 + float32', f16.add(f32), 'float32'],
    ['bfloat16 + float32', bf16.add(f32), 'float32'],
    ['float16 + bfloat16', f16.add(bf16), 'float32'],
    ['float16 + float (scalar)', f16.add(0.5), 'float16'],
    ['bfloat16 * int64 tensor', bf16.mul(i64), 'bfloat16'],
    ['float32 + 0-dim float64 (same category: dims win)', f32.add(torch.tensor(1.5, { dtype: 'float64' })), 'float32'],
    ['int64 + 0-dim float64 (higher category)', i64.add(torch.tensor(1.5, { dtype: 'float64' })), 'float64'],
    ['float16 + 0-dim int64 tensor', f16.add(torch.tensor(4)), 'float16'],
    ['comparison is bool', f32.lt(i64), 'bool'],
    ['where(int64, float scalar)', torch.where(b, i64, 0.5), 'float32'],
    ['where(int64, int scalar)', torch.where(b, i64, 0), 'int64'],
    ['sum of int32 is int64', i32.sum(), 'int64'],
    ['sum of bool is int64', b.sum(), 'int64'],
    ['mean of float16', f16.mean(), 'float16'],
  ];
  for (const [what, t, dt] of table) assert.equal(t.dtype, dt, what);
  assertExact('int64 + 2', i64.add(2), [3, 4, 5]);
  assertClose('float16 + float32 values', f16.add(f32), [2, 4, 6], { atol: 0 });
  assertClose('bfloat16 + 0.5', bf16.add(0.5), [1.5, 2.5, 3.5], { atol: 0 });
  // in place: the result must be castable to the destination (int64 += 0.5 is an error)
  assertThrowsMsg(() => i64.clone().add_(0.5), /can't be cast to the desired output type Long/, 'int64.add_(0.5)');
  assertExact('int64.add_(2)', i64.clone().add_(2), [3, 4, 5], 'int64');
}));

test('comparisons, logic and predicates', () => noLeak(() => {
  const a = torch.tensor([1, 2, 3, NaN], { dtype: 'float32' });
  const b = torch.tensor([3, 2, 1, 1], { dtype: 'float32' });
  assertExact('eq', a.eq(b), [false, true, false, false], 'bool');
  assertExact('ne', a.ne(b), [true, false, true, true], 'bool'); // NaN != anything
  assertExact('lt', a.lt(b), [true, false, false, false], 'bool');
  assertExact('le', a.le(2), [true, true, false, false], 'bool');
  assertExact('gt', a.gt(b), [false, false, true, false], 'bool');
  assertExact('ge', torch.ge(a, 2), [false, true, true, false], 'bool');
  const p = torch.tensor([true, true, false, false]), q = torch.tensor([true, false, true, false]);
  assertExact('logicalAnd', p.logicalAnd(q), [true, false, false, false], 'bool');
  assertExact('logicalOr', torch.logicalOr(p, q), [true, true, true, false], 'bool');
  assertExact('logicalXor', p.logicalXor(q), [false, true, true, false], 'bool');
  assertExact('logicalNot', p.logicalNot(), [false, false, true, true], 'bool');
  assertExact('logicalAnd on numbers (nonzero = true)', torch.tensor([0, 2]).logicalAnd(torch.tensor([1.5, 1])), [false, true], 'bool');
  assertExact('bitwiseAnd', torch.tensor([12, 10]).bitwiseAnd(torch.tensor([10, 6])), [8, 2], 'int64');
  assertExact('bitwiseOr', torch.tensor([12, 10]).bitwiseOr(6), [14, 14], 'int64');
  assertExact('bitwiseNot bool', p.bitwiseNot(), [false, false, true, true], 'bool');
  const special = torch.tensor([1, NaN, Infinity, -Infinity, 0], { dtype: 'float32' });
  assertExact('isnan', special.isnan(), [false, true, false, false, false], 'bool');
  assertExact('isfinite', torch.isfinite(special), [true, false, false, false, true], 'bool');
  assertExact('isinf', special.isinf(), [false, false, true, true, false], 'bool');
  assertExact('isfinite of ints is all true', torch.tensor([1, 2]).isfinite(), [true, true], 'bool');
  assert.equal(a.allclose(a), false, 'allclose: NaN is not close to NaN by default');
  assert.equal(a.allclose(a, 1e-5, 1e-8, true), true, 'allclose equalNan');
  assert.equal(b.equal(b.clone()), true);
  assert.equal(b.equal(a), false);
  assertThrowsMsg(() => a.bitwiseAnd(b), /not implemented for 'Float'/, 'bitwise on float');
}));

test('clamp, minimum, maximum, where', () => noLeak(() => {
  const x = torch.tensor([-3, -0.5, 0, 0.5, 3], { dtype: 'float32' });
  assertClose('clamp(-1, 1)', x.clamp(-1, 1), [-1, -0.5, 0, 0.5, 1]);
  assertClose('clamp(min only)', torch.clamp(x, 0), [0, 0, 0, 0.5, 3]);
  assertClose('clamp(max only)', x.clamp(null, 0.25), [-3, -0.5, 0, 0.25, 0.25]);
  assertClose('clamp tensors', x.clamp(torch.tensor([0, 0, -1, 1, 1], { dtype: 'float32' }), torch.tensor(2, { dtype: 'float32' })), [0, 0, 0, 1, 2]);
  assertExact('clamp int stays int', torch.tensor([-5, 0, 5]).clamp(-2, 2), [-2, 0, 2], 'int64');
  const y = torch.tensor([1, -1, 0, 1, 2], { dtype: 'float32' });
  assertClose('minimum', torch.minimum(x, y), [-3, -1, 0, 0.5, 2]);
  assertClose('maximum', x.maximum(y), [1, -0.5, 0, 1, 3]);
  assertClose('maximum with scalar', torch.maximum(x, 0), [0, 0, 0, 0.5, 3]);
  assertClose('where', torch.where(x.gt(0), x, y), [1, -1, 0, 0.5, 3]);
  assertClose('where scalars', torch.where(x.gt(0), 1, -1), [-1, -1, -1, 1, 1]);
  assertClose('method where: where(cond, this, other)', x.where(x.lt(0), 9), [-3, -0.5, 9, 9, 9]);
  assertThrowsMsg(() => torch.where(x, x, y), /condition|bool|Bool/, 'where with a float condition');
}));

test('extreme values stay finite where the math is finite', () => noLeak(() => {
  const x = torch.tensor([-1000, -100, 100, 1000], { dtype: 'float32' });
  assertClose('sigmoid(±1000)', x.sigmoid(), [0, 0, 1, 1], { atol: 1e-30 });
  assertClose('tanh(±1000)', x.tanh(), [-1, -1, 1, 1]);
  assertClose('logsigmoid(±1000)', x.logsigmoid(), [-1000, -100, 0, 0], { atol: 1e-6 });
  assertClose('softplus(±1000)', x.softplus(), [0, 0, 100, 1000], { atol: 1e-30 });
  assertClose('silu(±1000)', x.silu(), [0, 0, 100, 1000], { atol: 1e-30 });
  assertClose('gelu(±1000)', x.gelu(), [0, 0, 100, 1000], { atol: 1e-30 });
  assertClose('exp overflows to Infinity', x.exp(), [0, Math.exp(-100), Infinity, Infinity], { atol: 1e-45, rtol: 1e-6 });
  assertClose('log1p(1e-10) keeps precision', torch.tensor([1e-10], { dtype: 'float64' }).log1p(), [Math.log1p(1e-10)], { atol: 0, rtol: 1e-15 });
  assertClose('division by zero', torch.tensor([1, -1, 0], { dtype: 'float32' }).div(0), [Infinity, -Infinity, NaN]);
  assertClose('log(0) and log(-1)', torch.tensor([0, -1], { dtype: 'float32' }).log(), [-Infinity, NaN]);
  assertClose('sqrt(-1)', torch.tensor([-1], { dtype: 'float32' }).sqrt(), [NaN]);
  assertClose('float16 overflow', torch.tensor([60000], { dtype: 'float16' }).mul(2), [Infinity]);
}));

test('NaN propagates through every elementwise op', () => noLeak(() => {
  const n = torch.tensor([NaN, 1], { dtype: 'float32' });
  const ops: [string, torch.Tensor][] = [
    ['add', n.add(1)], ['mul', n.mul(torch.tensor([2, 2], { dtype: 'float32' }))], ['div', n.div(3)], ['pow', n.pow(2)],
    ['exp', n.exp()], ['log', n.log()], ['sqrt', n.sqrt()], ['abs', n.abs()], ['neg', n.neg()],
    ['sigmoid', n.sigmoid()], ['tanh', n.tanh()], ['relu', n.relu()], ['gelu', n.gelu()], ['silu', n.silu()],
    ['softplus', n.softplus()], ['logsigmoid', n.logsigmoid()], ['clamp', n.clamp(-1, 1)],
    ['minimum', n.minimum(torch.tensor([0, 0], { dtype: 'float32' }))], ['maximum', n.maximum(torch.tensor([0, 0], { dtype: 'float32' }))],
    ['lerp', n.lerp(torch.zeros([2]), 0.5)],
  ];
  for (const [name, t] of ops) {
    const v = t.toFlatArray();
    assert.ok(Number.isNaN(v[0]), `${name}(NaN) should be NaN, got ${v[0]}`);
    assert.ok(!Number.isNaN(v[1]), `${name}(1) should not be NaN`);
  }
  assertExact('NaN compares false', n.eq(n), [false, true], 'bool');
  // libtorch's sign() maps NaN to 0 (as PyTorch 1.13 does), so it is not in the list above
  assertExact('sign(NaN) is 0 in libtorch', n.sign(), [0, 1]);
}));

test('bad input: libtorch errors and use after dispose become JS errors', () => noLeak(() => {
  const a = torch.ones([2, 3]);
  const d = torch.ones([2]);
  d.dispose();
  d.dispose(); // idempotent
  assert.equal(d.isDisposed, true);
  assertThrowsMsg(() => d.add(1), /tensor used after dispose\(\)/, 'use after dispose');
  assertThrowsMsg(() => a.add(d), /tensor used after dispose\(\)/, 'disposed argument');
  assertThrowsMsg(() => d.shape, /used after dispose/, 'shape after dispose');
  assertThrowsMsg(() => torch.cat([a, d]), /used after dispose/, 'disposed in a list');
  assert.equal(String(d), 'Tensor(disposed)');
  assertThrowsMsg(() => torch.add(1, 2), /needs at least one tensor/, 'two scalars');
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  assertThrowsMsg(() => a.add('x' as any), /must be a number or boolean/, 'string operand');
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  assertThrowsMsg(() => a.mul({} as any), /argument 1 must be/, 'plain object operand');
  assertThrowsMsg(() => a.pow(torch.ones([4])), /size of tensor a \(3\) must match/, 'pow shapes');
  assertThrowsMsg(() => a.log2().bitwiseNot(), /not implemented for 'Float'/, 'bitwise_not on float');
}));

test('in-place forms used by optimizers and caches', () => noLeak(() => {
  const t = torch.tensor([1, 2, 3], { dtype: 'float32' });
  assert.equal(t.add_(torch.tensor([1, 1, 1], { dtype: 'float32' }), 2), t, 'returns this');
  assertClose('add_ alpha', t, [3, 4, 5]);
  assertClose('sub_', t.sub_(1), [2, 3, 4]);
  assertClose('mul_', t.mul_(0.5), [1, 1.5, 2]);
  assertClose('div_', t.div_(torch.tensor([1, 3, 4], { dtype: 'float32' })), [1, 0.5, 0.5]);
  assertClose('clamp_', t.clamp_(0.6, null), [1, 0.6, 0.6]);
  assertClose('fill_', t.fill_(7), [7, 7, 7]);
  assertClose('zero_', t.zero_(), [0, 0, 0]);
  assertClose('copy_ broadcasts', t.copy_(torch.tensor([4], { dtype: 'float32' })), [4, 4, 4]);
  assertClose('maskedFill_', t.maskedFill_(torch.tensor([true, false, true]), -1), [-1, 4, -1]);
  assertClose('indexPut_', t.indexPut_([torch.tensor([1])], 9), [-1, 9, -1]);
  assertClose('indexPut_ accumulate', t.indexPut_([torch.tensor([0, 0])], torch.tensor([1, 2], { dtype: 'float32' }), true), [2, 9, -1]);
  const m = torch.zeros([2, 4]);
  assertClose('narrowCopy_', m.narrowCopy_(1, 1, torch.ones([2, 2])), [[0, 1, 1, 0], [0, 1, 1, 0]]);
  const view = m.select(0, 0);
  view.fill_(5); // a view writes through
  assertClose('view writes through', m, [[5, 5, 5, 5], [0, 1, 1, 0]]);
  assertThrowsMsg(() => torch.ones([2], { requiresGrad: true }).add_(1), /leaf Variable that requires grad/, 'in-place on a leaf needing grad');
  torch.noGrad(() => {
    const leaf = torch.ones([2], { requiresGrad: true });
    assertClose('in-place on a leaf under noGrad', leaf.mul_(3), [3, 3]);
  });
}));
