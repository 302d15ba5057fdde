/**
 * Optimizers against hand-computed updates in plain JS (float64 parameters, so agreement is to
 * rounding): AdamW over several steps with weight decay and bias correction, parameter groups,
 * learning-rate changes and state round trips; SGD with and without (Nesterov) momentum and
 * weight decay; gradNorm / clipGradNorm; the learning-rate schedules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { assertClose, noLeak, seq } from './helpers.js';

const TOL = { atol: 1e-13, rtol: 1e-12 };
/** Quadratic loss Σ c·(p − t)² with gradient 2c(p − t), computed by autograd on the tensor. */
function quadGrad(p: Tensor, c: number[], t: number[]): void {
  torch.tidy(() => p.sub(torch.tensor(Float64Array.from(t))).square().mul(torch.tensor(Float64Array.from(c))).sum().backward());
}
const jsQuadGrad = (p: number[], c: number[], t: number[]) => p.map((v, i) => 2 * c[i]! * (v - t[i]!));

/** torch.optim.AdamW's update, written out: decoupled decay, then Adam with bias correction. */
class JsAdamW {
  m: number[]; v: number[]; t = 0;
  constructor(n: number, readonly b1: number, readonly b2: number, readonly eps: number) {
    this.m = new Array(n).fill(0);
    this.v = new Array(n).fill(0);
  }
  step(p: number[], g: number[], lr: number, wd: number): number[] {
    this.t++;
    const bc1 = 1 - this.b1 ** this.t, bc2 = 1 - this.b2 ** this.t;
    return p.map((x, i) => {
      const decayed = x * (1 - lr * wd);
      this.m[i] = this.b1 * this.m[i]! + (1 - this.b1) * g[i]!;
      this.v[i] = this.b2 * this.v[i]! + (1 - this.b2) * g[i]! ** 2;
      return decayed - (lr * (this.m[i]! / bc1)) / (Math.sqrt(this.v[i]! / bc2) + this.eps);
    });
  }
}

test('AdamW: 6 steps with weight decay and bias correction match a JS AdamW', () => noLeak(() => {
  const n = 5;
  const init = seq(n, 1), c = seq(n, 2).map((v) => 1 + v), tgt = seq(n, 3);
  const p = torch.tensor(Float64Array.from(init), { requiresGrad: true });
  const opt = new torch.AdamW([p], { lr: 0.05, betas: [0.8, 0.95], eps: 1e-6, weightDecay: 0.1 });
  const ref = new JsAdamW(n, 0.8, 0.95, 1e-6);
  let pj = init;
  let worst = 0;
  for (let s = 0; s < 6; s++) {
    const lr = s < 3 ? 0.05 : 0.02; // a schedule changes the rate between steps
    opt.setLr(lr);
    quadGrad(p, c, tgt);
    pj = ref.step(pj, jsQuadGrad(pj, c, tgt), lr, 0.1);
    opt.step();
    opt.zeroGrad();
    assert.equal(p.grad, null);
    worst = Math.max(worst, assertClose(`AdamW step ${s + 1}`, p, pj, TOL));
  }
  assert.equal(opt.stepCount, 6);
  // the optimizer state is what the JS AdamW holds
  const sd = opt.stateDict();
  assertClose('exp_avg', sd.tensors.get('0.0.exp_avg')!, ref.m, TOL);
  assertClose('exp_avg_sq', sd.tensors.get('0.0.exp_avg_sq')!, ref.v, TOL);
  assert.equal(sd.scalars.step, 6);
  console.log(`  AdamW worst |diff| over 6 steps: ${worst.toExponential(2)}`);
  opt.dispose();
}));

test('AdamW defaults match PyTorch (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01)', () => noLeak(() => {
  const p = torch.tensor(Float64Array.from([1, -2]), { requiresGrad: true });
  const opt = new torch.AdamW([p]);
  assert.deepEqual([opt.groups[0]!.lr, opt.betas, opt.eps, opt.groups[0]!.weightDecay], [1e-3, [0.9, 0.999], 1e-8, 0.01]);
  quadGrad(p, [1, 1], [0, 0]);
  opt.step();
  // first step: m̂ = g, v̂ = g², so the Adam part moves each weight by lr·sign(g)
  assertClose('first step', p, [1 * (1 - 1e-5) - 1e-3, -2 * (1 - 1e-5) + 1e-3], { atol: 1e-11, rtol: 0 });
  opt.dispose();
}));

test('AdamW: parameter groups, parameters without gradients, state round trip', () => noLeak(() => {
  const a = torch.tensor(Float64Array.from([1, 2]), { requiresGrad: true });
  const b = torch.tensor(Float64Array.from([3]), { requiresGrad: true });
  const frozen = torch.tensor(Float64Array.from([7]), { requiresGrad: true });
  const opt = new torch.AdamW([{ params: [a, frozen] }, { params: [b], lr: 0.5, weightDecay: 0 }], { lr: 0.1, weightDecay: 0.2 });
  const ra = new JsAdamW(2, 0.9, 0.999, 1e-8), rb = new JsAdamW(1, 0.9, 0.999, 1e-8);
  let pa = [1, 2], pb = [3];
  for (let s = 0; s < 3; s++) {
    quadGrad(a, [1, 1], [0, 0]);
    quadGrad(b, [1], [0]);
    pa = ra.step(pa, jsQuadGrad(pa, [1, 1], [0, 0]), 0.1, 0.2);
    pb = rb.step(pb, jsQuadGrad(pb, [1], [0]), 0.5, 0);
    opt.step();
    opt.zeroGrad();
  }
  assertClose('group 0', a, pa, TOL);
  assertClose('group 1 (own lr, no decay)', b, pb, TOL);
  assertClose('a parameter without a gradient is untouched (no decay either)', frozen, [7], { atol: 0 });
  // a fresh optimizer loaded from the state dict continues identically
  const a2 = torch.tensor(Float64Array.from(a.toFlatArray()), { requiresGrad: true });
  const b2 = torch.tensor(Float64Array.from(b.toFlatArray()), { requiresGrad: true });
  const f2 = torch.tensor(Float64Array.from([7]), { requiresGrad: true });
  const opt2 = new torch.AdamW([{ params: [a2, f2] }, { params: [b2], lr: 0.5, weightDecay: 0 }], { lr: 0.1, weightDecay: 0.2 });
  opt2.loadStateDict(opt.stateDict());
  for (const [o, x, y] of [[opt, a, b], [opt2, a2, b2]] as const) {
    quadGrad(x, [1, 1], [0, 0]);
    quadGrad(y, [1], [0]);
    o.step();
  }
  assertClose('resumed group 0', a2, a.toFlatArray(), { atol: 0 });
  assertClose('resumed group 1', b2, b.toFlatArray(), { atol: 0 });
  assert.throws(() => opt2.loadStateDict({ tensors: new Map(), scalars: { step: 1 } }), /missing '0\.0\.exp_avg'/);
  opt.dispose();
  opt2.dispose();
}));

test('SGD: plain, momentum, Nesterov, weight decay against JS', () => noLeak(() => {
  const init = seq(4, 11), c = [1, 2, 0.5, 1.5], tgt = seq(4, 12);
  for (const o of [{ momentum: 0, nesterov: false, weightDecay: 0 }, { momentum: 0.9, nesterov: false, weightDecay: 0.01 }, { momentum: 0.8, nesterov: true, weightDecay: 0.05 }]) {
    const p = torch.tensor(Float64Array.from(init), { requiresGrad: true });
    const opt = new torch.SGD([p], { lr: 0.1, ...o });
    let pj = init, buf = new Array(4).fill(0) as number[];
    for (let s = 0; s < 4; s++) {
      quadGrad(p, c, tgt);
      opt.step();
      opt.zeroGrad();
      const d = jsQuadGrad(pj, c, tgt).map((g, i) => g + o.weightDecay * pj[i]!);
      buf = buf.map((b, i) => o.momentum * b + d[i]!);
      const upd = o.momentum ? (o.nesterov ? d.map((x, i) => x + o.momentum * buf[i]!) : buf) : d;
      pj = pj.map((x, i) => x - 0.1 * upd[i]!);
    }
    assertClose(`SGD ${JSON.stringify(o)}`, p, pj, TOL);
    opt.dispose();
  }
}));

test('gradNorm and clipGradNorm', () => noLeak(() => {
  const a = torch.zeros([2], { requiresGrad: true }), b = torch.zeros([1], { requiresGrad: true });
  const none = torch.zeros([1], { requiresGrad: true });
  a.grad = torch.tensor([3, 0], { dtype: 'float32' });
  b.grad = torch.tensor([4], { dtype: 'float32' });
  assertClose('gradNorm', torch.gradNorm([a, b, none]), 5, { atol: 1e-6 });
  // under the limit: untouched
  assertClose('clip above the norm returns it', torch.clipGradNorm([a, b], 10), 5, { atol: 1e-6 });
  assertClose('untouched', a.grad!, [3, 0]);
  // over the limit: scaled to max/(norm + 1e-6)
  assertClose('clip returns the norm before clipping', torch.clipGradNorm([a, b, none], 1), 5, { atol: 1e-6 });
  const k = 1 / (5 + 1e-6);
  assertClose('scaled a', a.grad!, [3 * k, 0], { atol: 1e-7 });
  assertClose('scaled b', b.grad!, [4 * k], { atol: 1e-7 });
  assertClose('norm after clipping', torch.gradNorm([a, b]), 1, { atol: 1e-5 });
  // non-finite norm: reported, gradients left alone
  b.grad = torch.tensor([Infinity], { dtype: 'float32' });
  assert.equal(torch.clipGradNorm([a, b], 1), Infinity);
  assertClose('inf grad untouched', b.grad!, [Infinity]);
  a.grad = torch.tensor([NaN, 1], { dtype: 'float32' });
  assert.ok(Number.isNaN(torch.gradNorm([a])));
  assert.equal(torch.gradNorm([none]), 0, 'no gradients: norm 0');
}));

test('learning-rate schedules', () => {
  const c = torch.constantLr(0.3);
  assert.deepEqual([0, 10, 1000].map(c), [0.3, 0.3, 0.3]);
  const w = torch.linearWarmup(1, 4);
  assertClose('linear warmup', [0, 1, 2, 3, 4, 100].map(w), [0.25, 0.5, 0.75, 1, 1, 1], { atol: 1e-15 });
  assert.equal(torch.linearWarmup(2, 0)(0), 2, 'no warmup');
  const cos = torch.cosineSchedule(1, 10, 2, 0.1);
  // warmup 2 steps, then cosine from 1 at step 2 to 0.1 at step 10: lr = 0.1 + 0.45·(1 + cos(π·(s−2)/8))
  const want = [0.5, 1, ...[2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 20].map((s) => 0.1 + 0.45 * (1 + Math.cos(Math.PI * Math.min(1, (s - 2) / 8))))];
  assertClose('cosine', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 20].map(cos), want, { atol: 1e-15 });
  assertClose('cosine midpoint', cos(6), 0.55, { atol: 1e-15 });
  assertClose('cosine end', cos(10), 0.1, { atol: 1e-15 });
  const values = Array.from({ length: 11 }, (_, s) => cos(s));
  assert.ok(values.slice(2).every((v, i, a) => i === 0 || v <= a[i - 1]!), 'non-increasing after warmup');
});
