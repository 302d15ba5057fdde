import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { tensor, tidy } from '../../src/torch/index.js';
import { implicitProcessReward, prmCrossEntropyLoss, implicitOutcomeLogit } from '../../src/prime/rewards.js';
import { getAdvantageEstimator, discountedReturns, leaveOneOutMean, rlooProcessAdvantage } from '../../src/prime/advantages.js';
import { ppoClipLoss, klPenalty } from '../../src/prime/ppo.js';
import { filterByAccuracy, PromptBuffer } from '../../src/prime/filter.js';
import { maskedWhiten } from '../../src/prime/masked.js';
import { flat, maxDiff, close, rng } from './numeric-helpers.js';


/*
 * One K = 4 group, T = 3, worked by hand (c_o = c_p = 1, γ = 1, no whitening):
 *   outcomes o = [1, 0, 1, 0] → leave-one-out means [1/3, 2/3, 1/3, 2/3] → A_o = [2/3, −2/3, 2/3, −2/3]
 *   rewards (· = padding, value 9 must not matter)   mask        mean_s r
 *     r0 = [ 0.1,  0.2, 0.3]                        [1,1,1]      0.2
 *     r1 = [ 0.0, −0.2,  · ]                        [1,1,0]     −0.1
 *     r2 = [ 0.4,   · ,  · ]                        [1,0,0]      0.4
 *     r3 = [−0.3,  0.0, 0.3]                        [1,1,1]      0.0
 *   Σ means = 0.5 → baselines b_i = (0.5 − m_i)/3 = [0.1, 0.2, 1/30, 1/6]
 *   centered r − b:  r0 [0, 0.1, 0.2]   r1 [−0.2, −0.4, ·]   r2 [0.36667, ·, ·]   r3 [−0.46667, −0.16667, 0.13333]
 *   process returns (reverse cumsum): [0.3, 0.3, 0.2] [−0.6, −0.4, 0] [0.36667, 0, 0] [−0.5, −0.03333, 0.13333]
 */
test('prime advantage: hand-worked K=4 group', () => tidy(() => {
  const o = tensor([1, 0, 1, 0], { dtype: 'float32' });
  const r = tensor([[0.1, 0.2, 0.3], [0.0, -0.2, 9], [0.4, 9, 9], [-0.3, 0.0, 0.3]]);
  const mask = tensor([[1, 1, 1], [1, 1, 0], [1, 0, 0], [1, 1, 1]], { dtype: 'float32' });
  const rz = r.where(mask.bool(), 0);
  const { advantages } = getAdvantageEstimator('prime')({ outcome: o, tokenRewards: rz, mask, groupSize: 4 }, { outcomeCoef: 1, processCoef: 1, gamma: 1, whiten: false });
  const ao = [2 / 3, -2 / 3, 2 / 3, -2 / 3];
  const ap = [[0.3, 0.3, 0.2], [-0.6, -0.4, 0], [0.36667, 0, 0], [-0.5, -0.03333, 0.13333]];
  const m = [[1, 1, 1], [1, 1, 0], [1, 0, 0], [1, 1, 1]];
  const want = ap.flatMap((row, i) => row.map((v, t) => (m[i]![t] ? v + ao[i]! : 0)));
  close('prime hand-worked', flat(advantages), want, 1e-4);
  const { advantages: rl } = getAdvantageEstimator('rloo')({ outcome: o, mask, groupSize: 4 }, { outcomeCoef: 1, processCoef: 0, gamma: 1, whiten: false });
  close('rloo hand-worked', flat(rl), m.flatMap((row, i) => row.map((v) => (v ? ao[i]! : 0))), 1e-6);
}));

/** Loop version of PRIME's advantage, straight from the formula, in float64 JS. */
function primeLoop(o: number[], r: number[][], m: number[][], K: number, co: number, cp: number, gamma: number): number[][] {
  const N = o.length, T = r[0]!.length;
  const meanR = r.map((row, i) => {
    let s = 0, n = 0;
    for (let t = 0; t < T; t++) if (m[i]![t]) { s += row[t]!; n++; }
    return n ? s / n : 0;
  });
  const out: number[][] = [];
  for (let i = 0; i < N; i++) {
    const g0 = Math.floor(i / K) * K;
    let oLoo = 0, rLoo = 0;
    for (let j = g0; j < g0 + K; j++) if (j !== i) { oLoo += o[j]!; rLoo += meanR[j]!; }
    oLoo /= K - 1; rLoo /= K - 1;
    const row: number[] = [];
    for (let t = 0; t < T; t++) {
      if (!m[i]![t]) { row.push(0); continue; }
      let ret = 0;
      for (let s = t; s < T; s++) if (m[i]![s]) ret += gamma ** (s - t) * (r[i]![s]! - rLoo);
      row.push(co * (o[i]! - oLoo) + cp * ret);
    }
    out.push(row);
  }
  return out;
}

test('prime advantage equals the loop version over random shapes, seeds and γ', () => {
  for (let seed = 1; seed <= 12; seed++) tidy(() => {
    const rand = rng(seed);
    const K = 2 + Math.floor(rand() * 4), B = 1 + Math.floor(rand() * 4), T = 1 + Math.floor(rand() * 9), N = B * K;
    const gamma = seed % 3 === 0 ? 1 : 0.5 + 0.5 * rand();
    const o = Array.from({ length: N }, () => (rand() < 0.5 ? 1 : 0));
    // random suffix padding per row, at least one valid token
    const m = Array.from({ length: N }, () => { const len = 1 + Math.floor(rand() * T); return Array.from({ length: T }, (_, t) => (t < len ? 1 : 0)); });
    const r = Array.from({ length: N }, (_, i) => Array.from({ length: T }, (_, t) => (m[i]![t] ? rand() - 0.5 : 0)));
    const want = primeLoop(o, r, m, K, 5, 5, gamma).flat();
    const { advantages } = getAdvantageEstimator('prime')(
      { outcome: tensor(o, { dtype: 'float64' }), tokenRewards: tensor(r, { dtype: 'float64' }), mask: tensor(m, { dtype: 'float64' }), groupSize: K },
      { outcomeCoef: 5, processCoef: 5, gamma, whiten: false });
    close(`prime vs loop seed=${seed} K=${K} B=${B} T=${T} γ=${gamma.toFixed(3)}`, flat(advantages), want, 1e-9);
  });
});

test('values at masked positions change nothing (rewards, advantages, PRM loss, PPO loss)', () => tidy(() => {
  torch.manualSeed(3);
  const N = 8, T = 6, K = 4;
  const mask = tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 0], [1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]], { dtype: 'float32' });
  const pad = mask.eq(0);
  const prm = torch.randn([N, T]), ref = torch.randn([N, T]), logp = torch.randn([N, T]).mul(0.1).sub(1), old = torch.randn([N, T]).mul(0.1).sub(1), adv = torch.randn([N, T]);
  const noise = () => torch.randn([N, T]).mul(1000);
  const perturb = (x: torch.Tensor) => x.where(pad.logicalNot(), noise());
  const o = tensor([1, 0, 0, 1, 1, 1, 0, 0], { dtype: 'float32' });
  for (const gran of ['token', 'whole'] as const) {
    const a = implicitProcessReward(prm, ref, mask, 0.05, gran), b = implicitProcessReward(perturb(prm), perturb(ref), mask, 0.05, gran);
    close(`implicitProcessReward(${gran}) masked invariance`, flat(a), flat(b), 0);
    for (const est of ['prime', 'rloo', 'grpo']) {
      const cfg = { outcomeCoef: 5, processCoef: 5, gamma: 1, whiten: true };
      const x = getAdvantageEstimator(est)({ outcome: o, tokenRewards: a, mask, groupSize: K }, cfg).advantages;
      const y = getAdvantageEstimator(est)({ outcome: o, tokenRewards: perturb(a), mask, groupSize: K }, cfg).advantages;
      close(`${est}(${gran}) masked invariance`, flat(x), flat(y), 1e-6);
    }
  }
  const l1 = prmCrossEntropyLoss(prm, ref, mask, o, 0.05).loss.item(), l2 = prmCrossEntropyLoss(perturb(prm), perturb(ref), mask, o, 0.05).loss.item();
  close('prmCrossEntropyLoss masked invariance', [l1], [l2], 0);
  const p1 = ppoClipLoss(logp, old, adv, mask).loss.item(), p2 = ppoClipLoss(perturb(logp), perturb(old), perturb(adv), mask).loss.item();
  close('ppoClipLoss masked invariance', [p1], [p2], 1e-7);
}));

test('implicitProcessReward: token values and whole-granularity placement', () => tidy(() => {
  const prm = tensor([[-1, -2, -3], [-1, -1, 0]]), ref = tensor([[-2, -2, -1], [0, -3, 5]]);
  const mask = tensor([[1, 1, 1], [1, 1, 0]]);
  // β(prm − ref) = 0.5·[[1, 0, −2], [−1, 2, ·]]
  close('token', flat(implicitProcessReward(prm, ref, mask, 0.5, 'token')), [0.5, 0, -1, -0.5, 1, 0], 1e-7);
  // sums −0.5 and 0.5 land on the last valid token (index 2 and 1)
  close('whole', flat(implicitProcessReward(prm, ref, mask, 0.5, 'whole')), [0, 0, -0.5, 0, 0.5, 0], 1e-7);
  assert.throws(() => implicitProcessReward(prm, ref, mask, 0.5, 'step' as never), /unknown granularity 'step'/);
}));

test('prmCrossEntropyLoss: hand-worked values, extreme logits stay finite, gradient vs finite differences', () => tidy(() => {
  // s = β Σ (prm − ref) = 0.5 · 2 = 1; o = 1 → L = log(1 + e^{−1}) = 0.313262; o = 0 → L = 1 + log(1 + e^{−1}) = 1.313262
  const prm = tensor([[0, 0]]), ref = tensor([[-1, -1]]), mask = tensor([[1, 1]]);
  close('o=1', [prmCrossEntropyLoss(prm, ref, mask, tensor([1]), 0.5).loss.item()], [Math.log1p(Math.exp(-1))], 1e-6);
  close('o=0', [prmCrossEntropyLoss(prm, ref, mask, tensor([0]), 0.5).loss.item()], [1 + Math.log1p(Math.exp(-1))], 1e-6);
  // s = ±1000: the naive sigmoid-then-log form gives Inf/NaN; the stable form gives 0 and 1000
  const big = tensor([[2000]]), zero = tensor([[0]]), one = tensor([[1]]);
  const lr = prmCrossEntropyLoss(big, zero, one, tensor([1, 0]).narrow(0, 0, 1), 0.5).loss.item();
  const lw = prmCrossEntropyLoss(big, zero, one, tensor([0]), 0.5).loss.item();
  close('s=1000,o=1', [lr], [0], 1e-6);
  close('s=1000,o=0', [lw], [1000], 1e-3);
  const res = prmCrossEntropyLoss(tensor([[0, 0], [3, 0]]), tensor([[-1, -1], [0, 0]]), tensor([[1, 1], [1, 1]]), tensor([1, 0]), 0.5);
  assert.equal(res.accuracy, 0.5); // s = [1, 1.5]: row 0 right (label 1), row 1 wrong (label 0)
  // gradient w.r.t. prm log-probs
  const x = torch.randn([3, 4], { dtype: 'float64', requiresGrad: true });
  const refL = torch.randn([3, 4], { dtype: 'float64' });
  const m = tensor([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]], { dtype: 'float64' });
  const out = tensor([1, 0, 1], { dtype: 'float64' });
  const g = torch.gradcheck((p) => prmCrossEntropyLoss(p, refL, m, out, 0.7).loss, [x]);
  console.log(`prmCrossEntropyLoss gradcheck max diff ${g.maxAbsDiff.toExponential(2)}`);
  assert.ok(g.ok);
  // implicitOutcomeLogit is the sum of token rewards
  close('logit = Σ rewards', [implicitOutcomeLogit(x.detach(), refL, m, 0.7).sum().item()], [implicitProcessReward(x.detach(), refL, m, 0.7).sum().item()], 1e-9);
}));

test('ppoClipLoss: hand-worked ratios, clip fraction and approx-KL', () => tidy(() => {
  // tokens: (A=1, ratio 1.5): max(−1.5, −1.2) = −1.2, clipped;  (A=−1, ratio 1.5): max(1.5, 1.2) = 1.5, not clipped
  //         (A=1, ratio 0.5): max(−0.5, −0.8) = −0.5, not;       (A=−1, ratio 0.5): max(0.5, 0.8) = 0.8, clipped
  const old = tensor([[0, 0, 0, 0]], { dtype: 'float64' });
  const logp = tensor([[Math.log(1.5), Math.log(1.5), Math.log(0.5), Math.log(0.5)]], { dtype: 'float64' });
  const A = tensor([[1, -1, 1, -1]], { dtype: 'float64' });
  const mask = tensor([[1, 1, 1, 1]], { dtype: 'float64' });
  const r = ppoClipLoss(logp, old, A, mask, 0.2);
  close('ppo loss', [r.loss.item()], [(-1.2 + 1.5 - 0.5 + 0.8) / 4], 1e-12);
  assert.equal(r.clipFraction, 0.5);
  close('approx kl', [r.approxKl], [-(2 * Math.log(1.5) + 2 * Math.log(0.5)) / 4], 1e-12);
  // at ratio 1 the gradient is −A / n_tokens (the policy-gradient direction)
  const lp = tensor([[-1, -2, -3]], { dtype: 'float64', requiresGrad: true });
  ppoClipLoss(lp, lp.detach(), tensor([[2, -1, 0.5]], { dtype: 'float64' }), tensor([[1, 1, 1]], { dtype: 'float64' })).loss.backward();
  close('ppo grad at ratio 1', flat(lp.grad!), [-2 / 3, 1 / 3, -0.5 / 3], 1e-12);
}));

test('klPenalty k1 and k3 against their formulas; k3 ≥ 0', () => tidy(() => {
  const lp = tensor([[-1, -2, -0.5]], { dtype: 'float64' }), ref = tensor([[-1.5, -1, -0.5]], { dtype: 'float64' }), m = tensor([[1, 1, 0]], { dtype: 'float64' });
  close('k1', flat(klPenalty(lp, ref, m, 'k1')), [0.5, -1, 0], 1e-12);
  const k3 = (d: number) => Math.exp(d) - d - 1;
  close('k3', flat(klPenalty(lp, ref, m, 'k3')), [k3(-0.5), k3(1), 0], 1e-12);
  assert.ok(flat(klPenalty(torch.randn([4, 5]), torch.randn([4, 5]), torch.ones([4, 5]), 'k3')).every((v) => v >= 0));
}));

test('grpo: group-normalized outcomes; leave-one-out needs K ≥ 2', () => tidy(() => {
  const o = tensor([1, 0, 0, 0, 1, 1, 0, 1]);
  const m = torch.ones([8, 2]);
  const a = getAdvantageEstimator('grpo')({ outcome: o, mask: m, groupSize: 4 }, { outcomeCoef: 1, processCoef: 0, gamma: 1, whiten: false }).advantages;
  // group 1: mean 0.25, std (unbiased) = 0.5 → [1.5, −0.5, −0.5, −0.5]; group 2: mean 0.75 → [0.5, 0.5, −1.5, 0.5]
  close('grpo', flat(a.select(1, 0)), [1.5, -0.5, -0.5, -0.5, 0.5, 0.5, -1.5, 0.5], 1e-5);
  assert.throws(() => leaveOneOutMean(o, 1), /at least 2 samples/);
  assert.throws(() => getAdvantageEstimator('nope'), /Unknown advantage estimator: 'nope'/);
}));

test('discountedReturns and rlooProcessAdvantage against loops; whitening has mean 0, std 1', () => tidy(() => {
  const rand = rng(99);
  const x = Array.from({ length: 3 }, () => Array.from({ length: 7 }, () => rand() - 0.5));
  for (const g of [1, 0.9, 0.3]) {
    const want = x.flatMap((row) => row.map((_, t) => row.slice(t).reduce((a, v, k) => a + g ** k * v, 0)));
    close(`discountedReturns γ=${g}`, flat(discountedReturns(tensor(x, { dtype: 'float64' }), g)), want, 1e-12);
  }
  const m = tensor([[1, 1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1], [1, 0, 0, 0, 0, 0, 0]], { dtype: 'float64' });
  const ap = rlooProcessAdvantage(tensor(x, { dtype: 'float64' }).mul(m), m, 3, 1);
  close('rlooProcessAdvantage', flat(ap), primeLoop([0, 0, 0], x.map((row, i) => row.map((v, t) => (m.toArray() as number[][])[i]![t] ? v : 0)), m.toArray() as number[][], 3, 0, 1, 1).flat(), 1e-12);
  const w = maskedWhiten(tensor(x, { dtype: 'float64' }), m);
  const vals = w.maskedSelect(m.bool());
  close('whitened mean', [vals.mean().item()], [0], 1e-12);
  close('whitened std', [vals.std().item()], [1], 1e-6);
}));

test('filterByAccuracy keeps groups in [0.2, 0.8]; PromptBuffer carries the surplus', () => {
  const gs = [[1, 1, 1, 1], [0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [0.5, 0, 0, 0]].map((scores, i) => ({ scores, sample: i, truncated: i === 3 }));
  const { kept, dropped } = filterByAccuracy(gs, 0.2, 0.8);
  assert.deepEqual(kept.map((g) => g.sample), [2, 3, 4]);
  assert.deepEqual(dropped.map((g) => g.sample), [0, 1, 5]); // 0.125 < 0.2
  assert.deepEqual(filterByAccuracy(gs, 0.2, 0.8, { dropTruncated: true }).kept.map((g) => g.sample), [2, 4]);
  assert.throws(() => filterByAccuracy(gs, 0.9, 0.1), /low \(0.9\) must be ≤ high/);
  const buf = new PromptBuffer<number>();
  buf.add(kept);
  assert.equal(buf.take(4), null);
  assert.deepEqual(buf.take(2)!.map((g) => g.sample), [2, 3]);
  const restored = PromptBuffer.fromJSON<number>(JSON.parse(JSON.stringify(buf)));
  assert.equal(restored.size, 1);
  assert.deepEqual(restored.drain().map((g) => g.sample), [4]);
});

test('no tensors leak from the algorithms', () => {
  const before = torch.memory().tensors;
  for (let i = 0; i < 50; i++) tidy(() => {
    const m = torch.ones([8, 5]);
    const r = implicitProcessReward(torch.randn([8, 5]), torch.randn([8, 5]), m, 0.05);
    getAdvantageEstimator('prime')({ outcome: torch.randint(0, 2, [8]).float(), tokenRewards: r, mask: m, groupSize: 4 }, { outcomeCoef: 5, processCoef: 5, gamma: 1, whiten: true });
    ppoClipLoss(torch.randn([8, 5]), torch.randn([8, 5]), torch.randn([8, 5]), m);
  });
  assert.equal(torch.memory().tensors, before);
});
