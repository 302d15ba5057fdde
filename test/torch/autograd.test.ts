/**
 * Autograd: a two-layer MLP's gradients against a hand-derived backward pass in plain JS;
 * accumulation, retainGraph, backward with an explicit gradient, noGrad / enableGrad, detach,
 * leaves, zeroGrad, and the errors autograd raises.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { assertClose, assertThrowsMsg, f64, noLeak, seq } from './helpers.js';

test('MLP gradients match a hand-derived backward pass', () => noLeak(() => {
  // x (N=2, I=3); h = tanh(x W1ᵀ + b1) with W1 (H=4, I); y = h W2ᵀ + b2 with W2 (O=2, H);
  // L = mean((y − t)²) over N·O elements.
  // Backward: dy = 2(y − t)/(N·O); dW2 = dyᵀ h; db2 = Σ_n dy; dh = dy W2; da = dh ⊙ (1 − h²);
  //           dW1 = daᵀ x; db1 = Σ_n da; dx = da W1.
  const [N, I, H, O] = [2, 3, 4, 2];
  const xv = seq(N * I, 1), w1 = seq(H * I, 2), b1 = seq(H, 3), w2 = seq(O * H, 4), b2 = seq(O, 5), tv = seq(N * O, 6);
  const a = (n: number, j: number) => b1[j]! + [0, 1, 2].reduce((s, i) => s + xv[n * I + i]! * w1[j * I + i]!, 0);
  const h = Array.from({ length: N * H }, (_, k) => Math.tanh(a(Math.floor(k / H), k % H)));
  const y = Array.from({ length: N * O }, (_, k) => {
    const n = Math.floor(k / O), o = k % O;
    return b2[o]! + Array.from({ length: H }, (_, j) => h[n * H + j]! * w2[o * H + j]!).reduce((s, v) => s + v, 0);
  });
  const loss = y.reduce((s, v, k) => s + (v - tv[k]!) ** 2, 0) / (N * O);
  const dy = y.map((v, k) => (2 * (v - tv[k]!)) / (N * O));
  const dW2 = Array.from({ length: O * H }, (_, k) => {
    const o = Math.floor(k / H), j = k % H;
    return [0, 1].reduce((s, n) => s + dy[n * O + o]! * h[n * H + j]!, 0);
  });
  const db2 = Array.from({ length: O }, (_, o) => [0, 1].reduce((s, n) => s + dy[n * O + o]!, 0));
  const da = Array.from({ length: N * H }, (_, k) => {
    const n = Math.floor(k / H), j = k % H;
    const dh = [0, 1].reduce((s, o) => s + dy[n * O + o]! * w2[o * H + j]!, 0);
    return dh * (1 - h[k]! ** 2);
  });
  const dW1 = Array.from({ length: H * I }, (_, k) => {
    const j = Math.floor(k / I), i = k % I;
    return [0, 1].reduce((s, n) => s + da[n * H + j]! * xv[n * I + i]!, 0);
  });
  const db1 = Array.from({ length: H }, (_, j) => [0, 1].reduce((s, n) => s + da[n * H + j]!, 0));
  const dx = Array.from({ length: N * I }, (_, k) => {
    const n = Math.floor(k / I), i = k % I;
    return Array.from({ length: H }, (_, j) => da[n * H + j]! * w1[j * I + i]!).reduce((s, v) => s + v, 0);
  });

  const T = (v: number[], shape: number[]) => torch.tensor(Float64Array.from(v), { shape, requiresGrad: true });
  const X = T(xv, [N, I]), W1 = T(w1, [H, I]), B1 = T(b1, [H]), W2 = T(w2, [O, H]), B2 = T(b2, [O]);
  const tgt = torch.tensor(Float64Array.from(tv), { shape: [N, O] });
  const out = torch.linear(torch.linear(X, W1, B1).tanh(), W2, B2);
  const L = out.sub(tgt).square().mean();
  assertClose('loss', L, loss, { atol: 1e-14, rtol: 1e-14 });
  L.backward();
  const tol = { atol: 1e-14, rtol: 1e-12 };
  assertClose('dW2', W2.grad!, dW2, tol);
  assertClose('db2', B2.grad!, db2, tol);
  assertClose('dW1', W1.grad!, dW1, tol);
  assertClose('db1', B1.grad!, db1, tol);
  assertClose('dx', X.grad!, dx, tol);
  // the same through nn.Linear modules in float32
  const l1 = new torch.Linear(I, H), l2 = new torch.Linear(H, O);
  torch.noGrad(() => {
    l1.weight.copy_(W1); l1.bias!.copy_(B1); l2.weight.copy_(W2); l2.bias!.copy_(B2);
  });
  l2.forward(l1.forward(X.detach().float()).tanh()).sub(tgt.float()).square().mean().backward();
  assertClose('nn.Linear dW1 (float32)', l1.weight.grad!, dW1, { atol: 1e-6, rtol: 1e-5 });
  assertClose('nn.Linear db2 (float32)', l2.bias!.grad!, db2, { atol: 1e-6, rtol: 1e-5 });
  l1.dispose();
  l2.dispose();
}));

test('gradients accumulate across backward calls until zeroGrad', () => noLeak(() => {
  const x = torch.tensor([1, 2, 3], { dtype: 'float32', requiresGrad: true });
  x.mul(2).sum().backward();
  x.mul(3).sum().backward();
  assertClose('accumulated', x.grad!, [5, 5, 5]);
  x.zeroGrad();
  assert.equal(x.grad, null, 'zeroGrad drops the gradient');
  x.square().sum().backward();
  assertClose('fresh', x.grad!, [2, 4, 6]);
  x.grad = torch.tensor([9, 9, 9], { dtype: 'float32' });
  assertClose('grad setter', x.grad!, [9, 9, 9]);
  x.grad = null;
  assert.equal(x.grad, null);
}));

test('retainGraph allows a second backward; without it libtorch raises', () => noLeak(() => {
  const x = torch.tensor([0.5, -1], { dtype: 'float64', requiresGrad: true });
  const y = x.exp().sum(); // backward needs exp's saved output
  y.backward(undefined, { retainGraph: true });
  y.backward();
  assertClose('twice', x.grad!, [2 * Math.exp(0.5), 2 * Math.exp(-1)], { atol: 1e-14 });
  assertThrowsMsg(() => y.backward(), /Trying to backward through the graph a second time/, 'third backward');
}));

test('backward with an explicit gradient (vector-Jacobian product)', () => noLeak(() => {
  const x = torch.tensor([[1, 2], [3, 4]], { dtype: 'float64', requiresGrad: true });
  const y = x.square(); // dy/dx = 2x
  const v = torch.tensor([[1, 0.5], [-1, 2]], { dtype: 'float64' });
  y.backward(v);
  assertClose('vjp', x.grad!, [[2, 2], [-6, 16]], { atol: 0 });
  assertThrowsMsg(() => x.square().backward(), /backward\(\) without a gradient needs a tensor with one element/, 'non-scalar');
  assertThrowsMsg(() => x.square().backward(torch.ones([3], { dtype: 'float64' })), /Mismatch in shape|shape/, 'gradient shape');
}));

test('noGrad, enableGrad, detach, requiresGrad propagation, leaves', () => noLeak(() => {
  const w = torch.ones([2], { requiresGrad: true });
  assert.equal(w.isLeaf, true);
  assert.equal(torch.isGradEnabled(), true);
  const y = w.mul(2);
  assert.equal(y.requiresGrad, true);
  assert.equal(y.isLeaf, false);
  const z = torch.noGrad(() => {
    assert.equal(torch.isGradEnabled(), false);
    const inner = torch.enableGrad(() => w.mul(3));
    assert.equal(inner.requiresGrad, true, 'enableGrad inside noGrad records');
    return w.mul(2);
  });
  assert.equal(torch.isGradEnabled(), true, 'mode restored');
  assert.equal(z.requiresGrad, false, 'nothing recorded under noGrad');
  assert.throws(() => torch.noGrad(() => { throw new Error('boom'); }), /boom/);
  assert.equal(torch.isGradEnabled(), true, 'mode restored after a throw');
  const d = y.detach();
  assert.equal(d.requiresGrad, false);
  assertThrowsMsg(() => d.sum().backward(), /does not require grad and does not have a grad_fn/, 'backward through detach');
  // a detached tensor shares storage with its source
  const src = torch.zeros([2]);
  src.detach().fill_(4);
  assertClose('detach shares storage', src, [4, 4]);
  // integer tensors cannot require grad
  assertThrowsMsg(() => { torch.tensor([1, 2]).requiresGrad = true; }, /Only Tensors of floating point.*can require gradients/, 'int requiresGrad');
  // requiresGrad_ and the mixed product
  const a = torch.tensor([2], { dtype: 'float32' }).requiresGrad_();
  const b = torch.tensor([5], { dtype: 'float32' });
  a.mul(b).backward(torch.ones([1]));
  assertClose('only a gets a gradient', a.grad!, [5]);
  assert.equal(b.grad, null);
}));

test('gradient through an in-place op on a non-leaf and a version-counter error', () => noLeak(() => {
  const x = torch.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
  const y = x.mul(1);
  y.mul_(3); // recorded in place
  y.sum().backward();
  assertClose('in-place on non-leaf', x.grad!, [3, 3], { atol: 0 });
  const x2 = torch.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
  const e = x2.exp(); // exp saves its output
  e.add_(1);
  assertThrowsMsg(() => e.sum().backward(), /modified by an inplace operation/, 'saved tensor modified');
  const g = f64([2], 9, { requiresGrad: true });
  g.sigmoid().sum().backward();
  assert.ok(g.grad!.isfinite().all().item());
}));
