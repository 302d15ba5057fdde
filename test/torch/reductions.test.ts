/**
 * Reductions (sum mean prod max min argmax argmin logsumexp var std cumsum cumprod all any norm)
 * with dim / keepdim, and linear algebra (matmul mm bmm linear baddbmm outer), against plain JS
 * loops in float64; extreme values, NaN propagation, dtype rules and errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { assertClose, assertExact, assertThrowsMsg, f64, noLeak, seq } from './helpers.js';

// x: (2, 3, 4) of seq(24, 3) values, reduced along each dim by hand
const XV = seq(24, 3);
const at = (i: number, j: number, k: number) => XV[i * 12 + j * 4 + k]!;
/** Reduces (2,3,4) along `dim` with f over the reduced values, row-major output. */
function reduce(dim: 0 | 1 | 2, f: (vs: number[]) => number): number[] {
  const sizes = [2, 3, 4];
  const out: number[] = [];
  const rest = [0, 1, 2].filter((d) => d !== dim) as [number, number];
  for (let a = 0; a < sizes[rest[0]]!; a++)
    for (let b = 0; b < sizes[rest[1]]!; b++) {
      const vs: number[] = [];
      for (let r = 0; r < sizes[dim]!; r++) {
        const idx = [0, 0, 0];
        idx[dim] = r; idx[rest[0]] = a; idx[rest[1]] = b;
        vs.push(at(idx[0]!, idx[1]!, idx[2]!));
      }
      out.push(f(vs));
    }
  return out;
}
const sumF = (v: number[]) => v.reduce((a, b) => a + b, 0);
const meanF = (v: number[]) => sumF(v) / v.length;
const varF = (c: number) => (v: number[]) => { const m = meanF(v); return sumF(v.map((x) => (x - m) ** 2)) / (v.length - c); };
const lseF = (v: number[]) => { const m = Math.max(...v); return m + Math.log(sumF(v.map((x) => Math.exp(x - m)))); };

test('reductions along each dim match JS loops (float64)', () => noLeak(() => {
  const x = torch.tensor(Float64Array.from(XV), { shape: [2, 3, 4] });
  const tol = { atol: 1e-12, rtol: 1e-12 };
  for (const dim of [0, 1, 2] as const) {
    const shape = [2, 3, 4].filter((_, d) => d !== dim);
    assertClose(`sum(${dim})`, x.sum(dim), reduce(dim, sumF), { ...tol, shape });
    assertClose(`mean(${dim})`, x.mean(dim), reduce(dim, meanF), tol);
    assertClose(`prod(${dim})`, x.prod(dim), reduce(dim, (v) => v.reduce((a, b) => a * b, 1)), tol);
    assertClose(`logsumexp(${dim})`, x.logsumexp(dim), reduce(dim, lseF), tol);
    assertClose(`var(${dim})`, x.var(dim), reduce(dim, varF(1)), tol);
    assertClose(`var(${dim}, correction 0)`, x.var(dim, { correction: 0 }), reduce(dim, varF(0)), tol);
    assertClose(`std(${dim})`, x.std(dim), reduce(dim, (v) => Math.sqrt(varF(1)(v))), tol);
    const [mx, imx] = x.max(dim);
    assertClose(`max(${dim}) values`, mx, reduce(dim, (v) => Math.max(...v)), tol);
    assertExact(`max(${dim}) indices`, imx, reduce(dim, (v) => v.indexOf(Math.max(...v))), 'int64');
    const [mn, imn] = x.min(dim);
    assertClose(`min(${dim}) values`, mn, reduce(dim, (v) => Math.min(...v)), tol);
    assertExact(`min(${dim}) indices`, imn, reduce(dim, (v) => v.indexOf(Math.min(...v))));
    assertExact(`argmax(${dim})`, x.argmax(dim), reduce(dim, (v) => v.indexOf(Math.max(...v))));
    assertExact(`argmin(${dim})`, torch.argmax(x.neg(), dim), reduce(dim, (v) => v.indexOf(Math.min(...v))));
    assertClose(`norm(2, ${dim})`, x.norm(2, dim), reduce(dim, (v) => Math.sqrt(sumF(v.map((a) => a * a)))), tol);
    assertClose(`norm(1, ${dim})`, x.norm(1, dim), reduce(dim, (v) => sumF(v.map(Math.abs))), tol);
  }
  // keepdim keeps a size-1 dim; several dims at once; negative dims
  assert.deepEqual(x.sum(1, true).shape, [2, 1, 4]);
  assert.deepEqual(x.mean([0, 2], true).shape, [1, 3, 1]);
  assertClose('sum([0, 2])', x.sum([0, 2]), [0, 1, 2].map((j) => sumF([0, 1].flatMap((i) => [0, 1, 2, 3].map((k) => at(i, j, k))))), tol);
  assertClose('sum(-1) = sum(2)', x.sum(-1), reduce(2, sumF), tol);
  assert.deepEqual(x.logsumexp([1, 2], true).shape, [2, 1, 1]);
  assert.deepEqual(x.max(0, true)[0].shape, [1, 3, 4]);
  // full reductions
  assertClose('sum()', torch.sum(x), sumF(XV), tol);
  assertClose('mean()', x.mean(), meanF(XV), tol);
  assertClose('max()', x.max(), Math.max(...XV), tol);
  assertClose('min()', x.min(), Math.min(...XV), tol);
  assertExact('argmax() flat index', x.argmax(), [XV.indexOf(Math.max(...XV))]);
  assertClose('var()', x.var(), varF(1)(XV), tol);
  assertClose('std() correction 0', x.std(null, { correction: 0 }), Math.sqrt(varF(0)(XV)), tol);
  assertClose('norm()', x.norm(), Math.sqrt(sumF(XV.map((v) => v * v))), tol);
  assertExact('all/any', torch.tensor([[true, false], [true, true]]).all(1), [false, true], 'bool');
  assertExact('any', torch.tensor([[false, false], [true, false]]).any(1), [false, true], 'bool');
  assertExact('all()', torch.tensor([1, 2, 0]).all(), [false]);
}));

test('cumsum and cumprod', () => noLeak(() => {
  const x = torch.tensor([[1, 2, 3], [4, 5, 6]]);
  assertExact('cumsum(1)', x.cumsum(1), [[1, 3, 6], [4, 9, 15]], 'int64');
  assertExact('cumsum(0)', torch.cumsum(x, 0), [[1, 2, 3], [5, 7, 9]]);
  assertExact('cumprod(1)', x.cumprod(1), [[1, 2, 6], [4, 20, 120]]);
  assert.equal(torch.tensor([true, true]).cumsum(0).dtype, 'int64', 'cumsum of bool is int64');
  assert.equal(x.cumsum(1, 'float64').dtype, 'float64');
}));

test('reduction dtypes: integer sums are int64; sum/mean with a dtype', () => noLeak(() => {
  const i8 = torch.tensor([100, 100, 100], { dtype: 'int8' });
  assertExact('int8 sum widens to int64 (no overflow)', i8.sum(), [300], 'int64');
  const h = torch.tensor([60000, 60000], { dtype: 'float16' });
  assert.equal(h.sum().item(), Infinity, 'float16 sum overflows in float16');
  assertClose('float16 sum in float32', h.sum(null, false, 'float32'), [120000], { atol: 0 });
  assertThrowsMsg(() => torch.tensor([1, 2]).mean(), /mean\(\).*(Long|floating)/i, 'mean of int64');
  assertClose('mean of int64 with a dtype', torch.tensor([1, 2]).mean(null, false, 'float64'), [1.5], { atol: 0 });
}));

test('extreme values: logsumexp of ±1000 is finite and exact', () => noLeak(() => {
  const x = torch.tensor([[1000, 1000], [-1000, -1000], [1000, -1000]], { dtype: 'float32' });
  assertClose('logsumexp', x.logsumexp(1), [1000 + Math.LN2, -1000 + Math.LN2, 1000], { atol: 1e-4, rtol: 0 });
  assertClose('logsumexp of -inf row', torch.tensor([[-Infinity, -Infinity]]).logsumexp(1), [-Infinity]);
  assertClose('logsumexp with one inf', torch.tensor([[Infinity, 0]]).logsumexp(1), [Infinity]);
  assertClose('var of large equal values is 0', torch.tensor([1e8, 1e8, 1e8], { dtype: 'float32' }).var(), [0], { atol: 0 });
}));

test('NaN propagates through reductions', () => noLeak(() => {
  const x = torch.tensor([[1, NaN, 3], [4, 5, 6]], { dtype: 'float32' });
  const isNanRow0 = (t: torch.Tensor, name: string) => {
    const v = t.toFlatArray();
    assert.ok(Number.isNaN(v[0]) && !Number.isNaN(v[1]), `${name}: [${v}]`);
  };
  isNanRow0(x.sum(1), 'sum');
  isNanRow0(x.mean(1), 'mean');
  isNanRow0(x.prod(1), 'prod');
  isNanRow0(x.max(1)[0], 'max');
  isNanRow0(x.min(1)[0], 'min');
  isNanRow0(x.logsumexp(1), 'logsumexp');
  isNanRow0(x.var(1), 'var');
  isNanRow0(x.norm(2, 1), 'norm');
  assertExact('argmax points at the NaN', x.argmax(1), [1, 2]);
  assert.ok(Number.isNaN(x.cumsum(1).toFlatArray()[2]!), 'cumsum after NaN');
  assert.ok(Number.isNaN(x.max().item()), 'max() of all');
}));

test('reduction errors', () => noLeak(() => {
  const x = torch.ones([2, 3]);
  assertThrowsMsg(() => x.sum(2), /Dimension out of range/, 'sum dim out of range');
  assertThrowsMsg(() => x.max(5), /Dimension out of range/, 'max dim out of range');
  assertThrowsMsg(() => torch.zeros([0]).max(), /numel\(\) == 0|empty/, 'max of empty');
  assertThrowsMsg(() => x.logsumexp([0, 0]), /appears multiple times/, 'repeated dim');
}));

/** Row-major matmul of (n, k) by (k, m) in plain JS. */
function mm(a: number[], b: number[], n: number, k: number, m: number): number[] {
  const out = new Array<number>(n * m).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) for (let r = 0; r < k; r++) out[i * m + j] += a[i * k + r]! * b[r * m + j]!;
  return out;
}

test('matmul, mm, bmm, linear, baddbmm, outer against JS loops', () => noLeak(() => {
  const tol = { atol: 1e-12, rtol: 1e-12 };
  const a = f64([3, 4], 1), b = f64([4, 5], 2);
  const av = a.toFlatArray(), bv = b.toFlatArray();
  assertClose('hand-worked 2x2', torch.tensor([[1, 2], [3, 4]]).matmul(torch.tensor([[5, 6], [7, 8]])), [[19, 22], [43, 50]]);
  assertClose('matmul (3,4)(4,5)', a.matmul(b), mm(av, bv, 3, 4, 5), { ...tol, shape: [3, 5] });
  assertClose('mm', a.mm(b), mm(av, bv, 3, 4, 5), tol);
  // batched: (2,3,4) @ (2,4,5) and a broadcast (4,5)
  const x = f64([2, 3, 4], 3), y = f64([2, 4, 5], 4);
  const xv = x.toFlatArray(), yv = y.toFlatArray();
  const want = [0, 1].flatMap((i) => mm(xv.slice(i * 12, i * 12 + 12), yv.slice(i * 20, i * 20 + 20), 3, 4, 5));
  assertClose('bmm', x.bmm(y), want, { ...tol, shape: [2, 3, 5] });
  assertClose('matmul batched', torch.matmul(x, y), want, tol);
  assertClose('matmul broadcast (2,3,4)@(4,5)', x.matmul(b), [0, 1].flatMap((i) => mm(xv.slice(i * 12, i * 12 + 12), bv, 3, 4, 5)), tol);
  assertClose('matmul vector', a.matmul(f64([4], 5)), mm(av, f64([4], 5).toFlatArray(), 3, 4, 1), { ...tol, shape: [3] });
  // linear: x Wᵀ + b, weight (out=5, in=4)
  const w = f64([5, 4], 6), bias = f64([5], 7);
  const wT = torch.tensor(Float64Array.from(w.t().contiguous().toFlatArray()), { shape: [4, 5] }).toFlatArray();
  const lin = mm(av, wT, 3, 4, 5).map((v, i) => v + bias.toFlatArray()[i % 5]!);
  assertClose('linear', torch.linear(a, w, bias), lin, { ...tol, shape: [3, 5] });
  assertClose('linear no bias', torch.linear(a, w), mm(av, wT, 3, 4, 5), tol);
  assertClose('linear 3-d input', torch.linear(x, w, bias).select(0, 1), mm(xv.slice(12), wT, 3, 4, 5).map((v, i) => v + bias.toFlatArray()[i % 5]!), tol);
  // baddbmm: beta·input + alpha·(b1 @ b2)
  const inp = f64([2, 3, 5], 8);
  const bad = want.map((v, i) => 0.5 * inp.toFlatArray()[i]! + 2 * v);
  assertClose('baddbmm', torch.baddbmm(inp, x, y, 0.5, 2), bad, tol);
  assertClose('outer', torch.tensor([1, 2]).outer(torch.tensor([3, 4, 5])), [[3, 4, 5], [6, 8, 10]]);
  // float32 and bfloat16 within precision
  assertClose('matmul float32', a.float().matmul(b.float()), mm(av, bv, 3, 4, 5), { atol: 1e-6, rtol: 1e-5 });
  assertClose('matmul bfloat16', a.to('bfloat16').matmul(b.to('bfloat16')), mm(av, bv, 3, 4, 5), { atol: 0.05, rtol: 0.02 });
}));

test('matmul: NaN propagates, extreme values, and shape errors carry libtorch messages', () => noLeak(() => {
  const a = torch.tensor([[NaN, 1], [2, 3]], { dtype: 'float32' });
  const r = a.matmul(torch.tensor([[1, 0], [0, 1]], { dtype: 'float32' })).toFlatArray();
  assert.ok(Number.isNaN(r[0]!) && Number.isNaN(r[1]!) && !Number.isNaN(r[2]!), `NaN row: ${r}`);
  assertClose('large values', torch.tensor([[1e30, 1e30]], { dtype: 'float32' }).matmul(torch.tensor([[1e10], [1e10]], { dtype: 'float32' })), [Infinity]);
  assertThrowsMsg(() => torch.randn([2, 3]).matmul(torch.randn([4, 5])), /mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)/, 'matmul');
  assertThrowsMsg(() => torch.randn([2, 3, 4]).bmm(torch.randn([3, 4, 5])), /batch1 and batch2 must have same number of batches|Expected size for first two dimensions/, 'bmm batch');
  assertThrowsMsg(() => torch.randn([2, 3]).bmm(torch.randn([2, 3])), /must be a 3D tensor|3D/, 'bmm rank');
  assertThrowsMsg(() => torch.linear(torch.randn([2, 3]), torch.randn([4, 5])), /shapes cannot be multiplied/, 'linear');
  assertThrowsMsg(() => torch.randn([2, 3]).matmul(torch.randn([3, 2], { dtype: 'float64' })), /expected (scalar type|m1 and m2 to have the same dtype)|same dtype/, 'matmul dtype');
  assertThrowsMsg(() => torch.tensor([[1, 2]]).matmul(torch.tensor([[1.5], [2]])), /same dtype|expected scalar type/, 'int @ float');
}));
