/**
 * nn-flavoured ops: softmax, logSoftmax, embedding, crossEntropy (reduction, ignoreIndex,
 * weight, label smoothing), nllLoss, layerNorm, rmsNorm, dropout, applyRope, tokenLogprobs,
 * entropyFromLogits — against plain JS implementations in float64; ±1000 logits stay finite;
 * NaN propagates; bad input raises libtorch's message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { assertClose, assertThrowsMsg, f64, noLeak } from './helpers.js';

const TOL = { atol: 1e-12, rtol: 1e-12 };
/** Rows of a row-major (n, m) array. */
const rows = (v: number[], m: number) => Array.from({ length: v.length / m }, (_, i) => v.slice(i * m, i * m + m));
function logSoftmaxRow(r: number[]): number[] {
  const mx = Math.max(...r);
  const lse = mx + Math.log(r.reduce((a, x) => a + Math.exp(x - mx), 0));
  return r.map((x) => x - lse);
}
const softmaxRow = (r: number[]) => logSoftmaxRow(r).map(Math.exp);

test('softmax and logSoftmax: hand-worked case, JS rows, both dims', () => noLeak(() => {
  // softmax([0, ln 3]) = [1/4, 3/4]
  assertClose('hand-worked', torch.tensor([0, Math.log(3)], { dtype: 'float64' }).softmax(0), [0.25, 0.75], TOL);
  const x = f64([3, 5], 11, { scale: 3 });
  const xv = x.toFlatArray();
  assertClose('softmax(-1)', x.softmax(-1), rows(xv, 5).flatMap(softmaxRow), TOL);
  assertClose('logSoftmax(1)', torch.logSoftmax(x, 1), rows(xv, 5).flatMap(logSoftmaxRow), TOL);
  const cols = [0, 1, 2, 3, 4].map((j) => [0, 1, 2].map((i) => xv[i * 5 + j]!));
  const sm0 = cols.map(softmaxRow);
  assertClose('softmax(0)', torch.softmax(x, 0), [0, 1, 2].flatMap((i) => sm0.map((c) => c[i]!)), TOL);
  assertClose('softmax rows sum to 1', x.softmax(1).sum(1), [1, 1, 1], TOL);
  assertClose('float32', x.float().softmax(1), rows(xv, 5).flatMap(softmaxRow), { atol: 1e-7, rtol: 1e-6 });
  assertClose('bfloat16', x.to('bfloat16').softmax(1), rows(xv, 5).flatMap(softmaxRow), { atol: 1e-2, rtol: 2e-2 });
}));

test('±1000 logits: softmax, logSoftmax, logsumexp, crossEntropy stay finite', () => noLeak(() => {
  for (const dtype of ['float32', 'float64', 'bfloat16'] as const) {
    const z = torch.tensor([[1000, -1000, 0], [-1000, -1000, -1000], [1000, 1000, 996]], { dtype });
    const sm = z.softmax(1), lsm = z.logSoftmax(1);
    assert.ok(sm.isfinite().all().item() && lsm.isfinite().all().item(), `${dtype}: non-finite result`);
    const atol = dtype === 'bfloat16' ? 8 : 1e-3; // bfloat16 holds 1000 to within 4
    assertClose(`softmax ${dtype}`, sm, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], softmaxRow([1000, 1000, 996])], { atol: dtype === 'bfloat16' ? 1e-2 : 1e-6, rtol: 0 });
    assertClose(`logSoftmax ${dtype}`, lsm, [[0, -2000, -1000], [-Math.log(3), -Math.log(3), -Math.log(3)], logSoftmaxRow([1000, 1000, 996])], { atol, rtol: 0 });
    assertClose(`logsumexp ${dtype}`, z.logsumexp(1), [1000, -1000 + Math.log(3), 1000 + Math.log(2 + Math.exp(-4))], { atol, rtol: 0 });
    const ce = torch.crossEntropy(z, torch.tensor([1, 0, 2]), { reduction: 'none' });
    assert.ok(ce.isfinite().all().item(), `${dtype}: crossEntropy not finite`);
    assertClose(`crossEntropy ${dtype}`, ce, [2000, Math.log(3), -logSoftmaxRow([1000, 1000, 996])[2]!], { atol, rtol: 0 });
  }
  assertClose('tokenLogprobs ±1000', torch.tokenLogprobs(torch.tensor([[1000, -1000]], { dtype: 'float32' }), torch.tensor([1])), [-2000], { atol: 1e-3 });
  assertClose('entropy ±1000', torch.entropyFromLogits(torch.tensor([[1000, -1000], [1000, 1000]], { dtype: 'float32' })), [0, Math.LN2], { atol: 1e-6 });
}));

test('NaN in a row makes that row NaN and leaves the others alone', () => noLeak(() => {
  const z = torch.tensor([[1, NaN, 2], [1, 2, 3]], { dtype: 'float32' });
  for (const [name, t] of [['softmax', z.softmax(1)], ['logSoftmax', z.logSoftmax(1)],
    ['crossEntropy', torch.crossEntropy(z, torch.tensor([0, 0]), { reduction: 'none' })],
    ['tokenLogprobs', torch.tokenLogprobs(z, torch.tensor([0, 0]))], ['entropy', torch.entropyFromLogits(z)],
    ['rmsNorm', torch.rmsNorm(z, null)], ['layerNorm', torch.layerNorm(z, [3])]] as const) {
    const v = (t as torch.Tensor).toFlatArray();
    const half = v.length / 2;
    assert.ok(v.slice(0, half).every(Number.isNaN), `${name}: row 0 should be NaN: ${v}`);
    assert.ok(v.slice(half).every((x) => !Number.isNaN(x)), `${name}: row 1 should be finite: ${v}`);
  }
}));

test('crossEntropy and nllLoss: reductions, ignoreIndex, weights, label smoothing vs JS', () => noLeak(() => {
  const N = 4, C = 5;
  const z = f64([N, C], 21, { scale: 2 });
  const lsm = rows(z.toFlatArray(), C).map(logSoftmaxRow);
  const y = [3, 0, 4, 1];
  const tgt = torch.tensor(y);
  const per = y.map((c, i) => -lsm[i]![c]!);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  assertClose('none', torch.crossEntropy(z, tgt, { reduction: 'none' }), per, TOL);
  assertClose('mean (default)', torch.crossEntropy(z, tgt), mean(per), TOL);
  assertClose('sum', torch.crossEntropy(z, tgt, { reduction: 'sum' }), per.reduce((a, b) => a + b), TOL);
  assertClose('int32 targets', torch.crossEntropy(z, tgt.int()), mean(per), TOL);
  // ignoreIndex: ignored rows contribute 0 and leave the mean's denominator
  const yi = torch.tensor([3, -100, 4, -100]);
  assertClose('ignoreIndex -100 mean', torch.crossEntropy(z, yi), (per[0]! + per[2]!) / 2, TOL);
  assertClose('ignoreIndex none', torch.crossEntropy(z, yi, { reduction: 'none' }), [per[0]!, 0, per[2]!, 0], TOL);
  assertClose('custom ignoreIndex', torch.crossEntropy(z, torch.tensor([3, 0, 4, 0]), { ignoreIndex: 0 }), (per[0]! + per[2]!) / 2, TOL);
  // class weights: mean = Σ w[y]·l / Σ w[y]
  const w = [0.5, 1, 2, 1.5, 3];
  const wsum = y.reduce((a, c) => a + w[c]!, 0);
  assertClose('weighted mean', torch.crossEntropy(z, tgt, { weight: torch.tensor(w, { dtype: 'float64' }) }), y.reduce((a, c, i) => a + w[c]! * per[i]!, 0) / wsum, TOL);
  // label smoothing ε: (1−ε)·(−log p_y) + ε·mean_c(−log p_c)
  const eps = 0.1;
  const smooth = y.map((c, i) => (1 - eps) * -lsm[i]![c]! + eps * mean(lsm[i]!.map((v) => -v)));
  assertClose('label smoothing', torch.crossEntropy(z, tgt, { labelSmoothing: eps }), mean(smooth), TOL);
  // (N, C, T) layout, as PyTorch: class dim second
  const z3 = z.reshape(2, 2, C).transpose(1, 2); // (2, C, 2): z3[b, c, t] = z[2b + t, c]
  assertClose('(N, C, d) layout', torch.crossEntropy(z3, torch.tensor([[3, 0], [4, 1]]), { reduction: 'none' }), [[per[0]!, per[1]!], [per[2]!, per[3]!]], TOL);
  // nllLoss on log-probabilities equals crossEntropy on logits
  assertClose('nllLoss', torch.nllLoss(z.logSoftmax(1), tgt), mean(per), TOL);
  assertClose('nllLoss none + ignore', torch.nllLoss(z.logSoftmax(1), yi, { reduction: 'none' }), [per[0]!, 0, per[2]!, 0], TOL);
  // errors
  assertThrowsMsg(() => torch.crossEntropy(z, torch.tensor([5, 0, 0, 0])), /Target 5 is out of bounds/, 'target out of range');
  assertThrowsMsg(() => torch.crossEntropy(z, torch.tensor([1, 2])), /Expected input batch_size \(4\) to match target batch_size \(2\)/, 'batch mismatch');
  assertThrowsMsg(() => torch.crossEntropy(z, tgt, { reduction: 'avg' as 'mean' }), /reduction must be 'none', 'mean' or 'sum'/, 'bad reduction');
  assertThrowsMsg(() => torch.crossEntropy(z, torch.tensor([0.5, 1, 2, 3])), /expected scalar type Long|Long/, 'float target of wrong shape');
}));

test('embedding: rows of the table; int32 and int64 ids; padding; out of range', () => noLeak(() => {
  const w = torch.tensor([[0, 0.5], [1, 1.5], [2, 2.5]], { dtype: 'float32' });
  assertClose('int64 ids', torch.embedding(w, torch.tensor([[2, 0], [1, 1]])), [[[2, 2.5], [0, 0.5]], [[1, 1.5], [1, 1.5]]], { shape: [2, 2, 2] });
  assertClose('int32 ids', torch.embedding(w, torch.tensor([1], { dtype: 'int32' })), [[1, 1.5]]);
  assertThrowsMsg(() => torch.embedding(w, torch.tensor([3])), /index out of range in self/, 'id out of range');
  assertThrowsMsg(() => torch.embedding(w, torch.tensor([1.0, 2.5])), /Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int/, 'float ids');
  // paddingIdx: that row gets no gradient
  const wg = torch.tensor([[0, 0.5], [1, 1.5], [2, 2.5]], { dtype: 'float32', requiresGrad: true });
  torch.embedding(wg, torch.tensor([0, 1, 1]), 1).sum().backward();
  assertClose('padding row has no gradient', wg.grad!, [[1, 1], [0, 0], [0, 0]]);
}));

test('layerNorm and rmsNorm against JS, with affine parameters', () => noLeak(() => {
  const x = f64([3, 6], 31, { scale: 4, offset: 1 });
  const xv = rows(x.toFlatArray(), 6);
  const g = f64([6], 32, { offset: 1 }), b = f64([6], 33);
  const gv = g.toFlatArray(), bv = b.toFlatArray();
  const eps = 1e-5;
  const ln = xv.flatMap((r) => {
    const m = r.reduce((a, v) => a + v, 0) / r.length;
    const v = r.reduce((a, x) => a + (x - m) ** 2, 0) / r.length; // biased variance
    return r.map((x, i) => ((x - m) / Math.sqrt(v + eps)) * gv[i]! + bv[i]!);
  });
  assertClose('layerNorm', torch.layerNorm(x, [6], g, b, eps), ln, { atol: 1e-10, rtol: 1e-10 });
  assertClose('layerNorm without affine has mean 0', torch.layerNorm(x, [6]).mean(1), [0, 0, 0], { atol: 1e-12 });
  const rms = xv.flatMap((r) => {
    const ms = r.reduce((a, v) => a + v * v, 0) / r.length;
    return r.map((x, i) => (x / Math.sqrt(ms + 1e-6)) * gv[i]!);
  });
  assertClose('rmsNorm', torch.rmsNorm(x, g, 1e-6), rms, { atol: 1e-12, rtol: 1e-12 });
  // bfloat16: statistics in float32, the result cast back
  const xb = x.to('bfloat16');
  const rb = torch.rmsNorm(xb, g.to('bfloat16'), 1e-6);
  assert.equal(rb.dtype, 'bfloat16');
  assertClose('rmsNorm bfloat16', rb, rms, { atol: 0.03, rtol: 0.02 });
  // rmsNorm of huge values does not overflow in float32 statistics of bfloat16 input
  assertClose('rmsNorm of 1e20 (bfloat16)', torch.rmsNorm(torch.tensor([[1e20, -1e20]], { dtype: 'bfloat16' }), null), [[1, -1]], { atol: 0.01 });
  assertThrowsMsg(() => torch.layerNorm(x, [5]), /Given normalized_shape=\[5\], expected input with shape \[\*, 5\]/, 'layerNorm shape');
}));

test('dropout: identity in eval, zero-or-scaled in train with the right rate', () => noLeak(() => {
  torch.manualSeed(3);
  const x = torch.ones([10000]);
  assertClose('eval is identity', torch.dropout(x, 0.5, false).sum(), 10000, { atol: 0 });
  const y = torch.dropout(x, 0.25, true);
  const v = y.toFlatArray();
  assert.ok(v.every((a) => a === 0 || Math.abs(a - 1 / 0.75) < 1e-6), 'values are 0 or 1/(1−p)');
  const kept = v.filter((a) => a !== 0).length / v.length;
  // 5 standard errors at p = 0.75, n = 10000: 0.0217
  assertClose('keep rate', kept, 0.75, { atol: 0.0217, rtol: 0 });
  assertThrowsMsg(() => torch.dropout(x, 1.5, true), /dropout probability has to be between 0 and 1/, 'p > 1');
}));

test('applyRope: rotate-half convention against JS, and it preserves norms', () => noLeak(() => {
  const T = 3, Dh = 4, h = Dh / 2;
  const x = f64([2, T, Dh], 41); // (H=2, T, Dh)
  const theta = (t: number, i: number) => t / 10000 ** ((2 * (i % h)) / Dh);
  const cosv = Array.from({ length: T * Dh }, (_, k) => Math.cos(theta(Math.floor(k / Dh), k % Dh)));
  const sinv = Array.from({ length: T * Dh }, (_, k) => Math.sin(theta(Math.floor(k / Dh), k % Dh)));
  const cos = torch.tensor(Float64Array.from(cosv), { shape: [T, Dh] }), sin = torch.tensor(Float64Array.from(sinv), { shape: [T, Dh] });
  const xv = x.toFlatArray();
  const want = xv.map((v, k) => {
    const t = Math.floor(k / Dh) % T, i = k % Dh, base = k - i;
    const rot = i < h ? -xv[base + i + h]! : xv[base + i - h]!;
    return v * cosv[t * Dh + i]! + rot * sinv[t * Dh + i]!;
  });
  const y = torch.applyRope(x, cos, sin);
  assertClose('rope', y, want, TOL);
  assertClose('rope keeps per-position norms', y.norm(2, -1), x.norm(2, -1).toFlatArray(), TOL);
  assertClose('position 0 is the identity', y.select(1, 0), x.select(1, 0).toFlatArray(), TOL);
}));

test('tokenLogprobs and entropyFromLogits against JS', () => noLeak(() => {
  const z = f64([2, 3, 7], 51, { scale: 3 }); // (B, T, V)
  const zr = rows(z.toFlatArray(), 7);
  const tg = [[1, 6, 0], [3, 3, 5]];
  const lp = zr.map((r, k) => logSoftmaxRow(r)[tg[Math.floor(k / 3)]![k % 3]!]!);
  assertClose('tokenLogprobs', torch.tokenLogprobs(z, torch.tensor(tg)), lp, { ...TOL, shape: [2, 3] });
  assertClose('tokenLogprobs int32 targets', torch.tokenLogprobs(z, torch.tensor(tg, { dtype: 'int32' })), lp, TOL);
  const ent = zr.map((r) => { const l = logSoftmaxRow(r); return -l.reduce((a, v) => a + Math.exp(v) * v, 0); });
  assertClose('entropyFromLogits', torch.entropyFromLogits(z), ent, { ...TOL, shape: [2, 3] });
  assertClose('uniform entropy is log V', torch.entropyFromLogits(torch.zeros([1, 7])), [Math.log(7)], { atol: 1e-6 });
  // a −inf logit (a masked token) has p = 0 and adds nothing, in value and gradient
  const masked = torch.tensor([[0.5, -Infinity, -0.25]], { dtype: 'float32', requiresGrad: true });
  const hm = torch.entropyFromLogits(masked);
  const l2 = logSoftmaxRow([0.5, -0.25]);
  assertClose('entropy with a -inf logit', hm, [-l2.reduce((a, v) => a + Math.exp(v) * v, 0)], { atol: 1e-6 });
  hm.sum().backward();
  assert.ok(masked.grad!.isfinite().all().item(), `finite gradient: ${masked.grad!.toFlatArray()}`);
  assertClose('tokenLogprobs with a -inf logit elsewhere', torch.tokenLogprobs(masked.detach(), torch.tensor([0])), [l2[0]!], { atol: 1e-6 });
  const bf = torch.tokenLogprobs(z.to('bfloat16'), torch.tensor(tg));
  assert.equal(bf.dtype, 'float32', 'bfloat16 logits give float32 log-probs');
  assertClose('tokenLogprobs from bfloat16', bf, lp, { atol: 0.05, rtol: 0.02 });
  assertThrowsMsg(() => torch.tokenLogprobs(z, torch.tensor([[7, 0, 0], [0, 0, 0]])), /index 7 is out of bounds for dimension 2 with size 7/, 'target out of range');
}));
