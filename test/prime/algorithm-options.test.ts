/**
 * The algorithm options users ask for by name (issue 16): PURE's min-form process return, DAPO's
 * decoupled clip and overlong shaping, loss aggregation modes, Dr. GRPO, the adaptive KL
 * controller. Each: a hand-worked case, the vectorized function against a loop version over random
 * shapes and seeds (max difference printed), and masked positions changing nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { tensor, tidy } from '../../src/torch/index.js';
import { getAdvantageEstimator, minFormProcessRewards } from '../../src/prime/advantages.js';
import { overlongPenalty } from '../../src/prime/rewards.js';
import { ppoClipLoss, aggregateLoss, adaptiveKlCoef, KlController, LOSS_AGGREGATIONS, type LossAggregation } from '../../src/prime/ppo.js';
import { flat, maxDiff, close, rng } from './numeric-helpers.js';

/** A random (N, T) mask with suffix padding and ≥ 1 valid token per row, and values that are 0 where masked. */
function randomBatch(rand: () => number, N: number, T: number, scale = 1): { m: number[][]; x: number[][] } {
  const m = Array.from({ length: N }, () => { const len = 1 + Math.floor(rand() * T); return Array.from({ length: T }, (_, t) => (t < len ? 1 : 0)); });
  const x = m.map((row) => row.map((v) => (v ? (rand() - 0.5) * scale : 0)));
  return { m, x };
}
const f64 = (x: number[] | number[][]) => tensor(x as number[][], { dtype: 'float64' });
/** Replaces values at masked positions by large noise. */
const perturb = (x: torch.Tensor, mask: torch.Tensor) => x.where(mask.bool(), torch.randn(x.shape, { dtype: x.dtype }).mul(1000));

// ------------------------------------------------------------------------------------ PURE

/*
 * PURE's transformation, T = 0.1, one response r = [0.1, −0.2, 0.3]:
 *   softmin weights ∝ [e^−1, e^2, e^−3] = [0.3678794, 7.3890561, 0.0497871] / 7.8067226
 *                   = [0.0471234, 0.9464991, 0.0063775]
 *   r* = w·r = [0.00471234, −0.18929982, 0.00191324]; returns Σ_{s≥t} r* = [−0.18267424, −0.18738659, 0.00191324]
 * (the first-token return −0.1827 is near min r = −0.2; the sum form would give 0.2).
 * Second response r = [0.2, 0.4, ·]: w = [0.8807971, 0.1192029], r* = [0.17615942, 0.04768117].
 * With K = 2, o = [1, 0] (A_o = [1, −1]), c_o = c_p = 1, γ = 1, 'paper' baseline on the transformed
 * rewards: m_0 = Σ r*_0 / 3 = −0.06089141, m_1 = Σ r*_1 / 2 = 0.11192029;
 *   row 0: r*_0 − m_1 = [−0.10720795, −0.30122012, −0.11000705] → returns [−0.51843512, −0.41122717, −0.11000705]
 *   row 1: r*_1 − m_0 = [0.23705083, 0.10857258]                 → returns [0.34562341, 0.10857258]
 */
test('PURE min-form: hand-worked transformation, returns and prime advantage; T limits', () => tidy(() => {
  const r = f64([[0.1, -0.2, 0.3], [0.2, 0.4, 7]]);
  const mask = f64([[1, 1, 1], [1, 1, 0]]);
  close('minFormProcessRewards hand-worked', flat(minFormProcessRewards(r, mask, 0.1)),
    [0.00471234165, -0.18929982451, 0.00191323828, 0.1761594156, 0.0476811688, 0], 1e-9);
  const { advantages } = getAdvantageEstimator('prime')(
    { outcome: f64([1, 0]), tokenRewards: r.where(mask.bool(), 0), mask, groupSize: 2 },
    { outcomeCoef: 1, processCoef: 1, gamma: 1, whiten: false, processReturn: 'min', minTemperature: 0.1 });
  close('prime(min) hand-worked', flat(advantages), [1 - 0.51843512119, 1 - 0.41122717064, 1 - 0.11000705393, -1 + 0.34562341413, -1 + 0.10857258367, 0], 1e-9);
  // T → 0: the first-token return is the minimum, tokens after the worst one get 0
  const cold = minFormProcessRewards(r, mask, 1e-4);
  close('T → 0: r* = min at the argmin, 0 elsewhere', flat(cold), [0, -0.2, 0, 0.2, 0, 0], 1e-12);
  // T → ∞: uniform weights, r* = r / n
  close('T → ∞: r* = r/n', flat(minFormProcessRewards(r, mask, 1e9)), [0.1 / 3, -0.2 / 3, 0.1, 0.1, 0.2, 0], 1e-9);
  assert.throws(() => minFormProcessRewards(r, mask, 0), /temperature must be > 0/);
  // an empty row stays all zeros (no NaN)
  close('empty row', flat(minFormProcessRewards(r, f64([[1, 1, 1], [0, 0, 0]]), 0.1)).slice(3), [0, 0, 0], 0);
}));

/** Loop version of prime with the min-form return, both baselines, float64 JS. */
function primeMinLoop(o: number[], r: number[][], m: number[][], K: number, co: number, cp: number, gamma: number, T: number, baseline: 'paper' | 'code'): number[] {
  const N = o.length, L = r[0]!.length;
  const rs = r.map((row, i) => {
    let z = 0;
    for (let t = 0; t < L; t++) if (m[i]![t]) z += Math.exp(-row[t]! / T);
    return row.map((v, t) => (m[i]![t] ? (Math.exp(-v / T) / z) * v : 0));
  });
  const mean = rs.map((row, i) => {
    let s = 0, n = 0;
    for (let t = 0; t < L; t++) if (m[i]![t]) { s += row[t]!; n++; }
    return n ? s / n : 0;
  });
  const out: number[] = [];
  for (let i = 0; i < N; i++) {
    const g0 = Math.floor(i / K) * K;
    let oLoo = 0, mLoo = 0, mAll = 0;
    for (let j = g0; j < g0 + K; j++) { mAll += mean[j]!; if (j !== i) { oLoo += o[j]!; mLoo += mean[j]!; } }
    oLoo /= K - 1; mLoo /= K - 1;
    for (let t = 0; t < L; t++) {
      if (!m[i]![t]) { out.push(0); continue; }
      let ret = 0;
      for (let s = t; s < L; s++) {
        if (!m[i]![s]) continue;
        const c = baseline === 'paper' ? rs[i]![s]! - mLoo : (rs[i]![s]! * K) / (K - 1) - mAll / (K - 1);
        ret += gamma ** (s - t) * c;
      }
      out.push(co * (o[i]! - oLoo) + cp * ret);
    }
  }
  return out;
}

test('PURE min-form prime advantage equals the loop version over random shapes, seeds, γ, T and baselines', () => {
  for (let seed = 1; seed <= 12; seed++) tidy(() => {
    const rand = rng(100 + seed);
    const K = 2 + Math.floor(rand() * 4), B = 1 + Math.floor(rand() * 3), L = 1 + Math.floor(rand() * 9), N = B * K;
    const gamma = seed % 3 === 0 ? 1 : 0.5 + 0.5 * rand();
    const T = [0.02, 0.1, 1][seed % 3]!;
    const baseline = seed % 2 ? 'paper' : 'code';
    const o = Array.from({ length: N }, () => (rand() < 0.5 ? 1 : 0));
    const { m, x: r } = randomBatch(rand, N, L, 0.6);
    const cfg = { outcomeCoef: 5, processCoef: 5, gamma, whiten: false, processReturn: 'min', minTemperature: T, processBaseline: baseline } as const;
    const { advantages } = getAdvantageEstimator('prime')({ outcome: f64(o), tokenRewards: f64(r), mask: f64(m), groupSize: K }, cfg);
    const want = primeMinLoop(o, r, m, K, 5, 5, gamma, T, baseline);
    close(`prime(min) vs loop seed=${seed} K=${K} B=${B} T=${L} γ=${gamma.toFixed(3)} temp=${T} ${baseline}`, flat(advantages), want, 1e-9);
    const noisy = getAdvantageEstimator('prime')({ outcome: f64(o), tokenRewards: perturb(f64(r), f64(m)), mask: f64(m), groupSize: K }, cfg).advantages;
    close(`prime(min) masked invariance seed=${seed}`, flat(noisy), want, 1e-9);
  });
});

// ------------------------------------------------------------------------------------ Dr. GRPO

test('drgrpo: hand-worked (no std, no whitening), loop version, K ≥ 2', () => {
  tidy(() => {
    // o = [1, 0, 0, 0 | 1, 1, 0, 1]: group means 0.25, 0.75 → A = c_o·[0.75, −0.25, −0.25, −0.25 | 0.25, 0.25, −0.75, 0.25]
    const o = f64([1, 0, 0, 0, 1, 1, 0, 1]);
    const mask = f64([[1, 1], [1, 0], [1, 1], [1, 1], [1, 1], [0, 0], [1, 0], [1, 1]]);
    const { advantages } = getAdvantageEstimator('drgrpo')({ outcome: o, mask, groupSize: 4 }, { outcomeCoef: 2, processCoef: 5, gamma: 1, whiten: true });
    const a = [0.75, -0.25, -0.25, -0.25, 0.25, 0.25, -0.75, 0.25].map((x) => 2 * x);
    const m = flat(mask);
    close('drgrpo hand-worked (whiten=true is ignored)', flat(advantages), m.map((v, k) => (v ? a[Math.floor(k / 2)]! : 0)), 1e-6);
    // GRPO on the same batch divides by the group std: a different (larger) advantage
    const g = flat(getAdvantageEstimator('grpo')({ outcome: o, mask, groupSize: 4 }, { outcomeCoef: 2, processCoef: 5, gamma: 1, whiten: false }).advantages);
    assert.ok(Math.abs(g[0]! - flat(advantages)[0]!) > 0.1, 'grpo and drgrpo differ');
  });
  for (let seed = 1; seed <= 8; seed++) tidy(() => {
    const rand = rng(200 + seed);
    const K = 2 + Math.floor(rand() * 5), B = 1 + Math.floor(rand() * 4), L = 1 + Math.floor(rand() * 7), N = B * K;
    const o = Array.from({ length: N }, () => Math.round(rand() * 4) / 4);
    const { m } = randomBatch(rand, N, L);
    const want: number[] = [];
    for (let i = 0; i < N; i++) {
      const g0 = Math.floor(i / K) * K;
      let mu = 0;
      for (let j = g0; j < g0 + K; j++) mu += o[j]!;
      mu /= K;
      for (let t = 0; t < L; t++) want.push(m[i]![t] ? 3 * (o[i]! - mu) : 0);
    }
    const { advantages } = getAdvantageEstimator('drgrpo')({ outcome: f64(o), mask: f64(m), groupSize: K }, { outcomeCoef: 3, processCoef: 0, gamma: 1, whiten: true });
    close(`drgrpo vs loop seed=${seed} K=${K} B=${B} T=${L}`, flat(advantages), want, 1e-6);
  });
  assert.throws(() => tidy(() => getAdvantageEstimator('drgrpo')({ outcome: f64([1, 0]), mask: f64([[1], [1]]), groupSize: 1 }, { outcomeCoef: 1, processCoef: 0, gamma: 1, whiten: false })), /at least 2 samples/);
});

// ------------------------------------------------------------------------------------ DAPO

test('overlongPenalty (DAPO eq. 13): hand-worked, loop version, argument checks', () => {
  tidy(() => {
    // L_max = 10, L_cache = 4: no penalty up to 6 tokens, then −(|y| − 6)/4, −1 at and past 10
    const len = tensor([3, 6, 7, 9, 10, 12], { dtype: 'int64' });
    close('overlong hand-worked', flat(overlongPenalty(len, 10, 4)), [0, 0, -0.25, -0.75, -1, -1], 1e-7);
    close('overlong factor 0.5', flat(overlongPenalty(len, 10, 4, 0.5)), [0, 0, -0.125, -0.375, -0.5, -0.5], 1e-7);
    close('overlong off (buffer 0)', flat(overlongPenalty(len, 10, 0)), [0, 0, 0, 0, 0, 0], 0);
  });
  for (let seed = 1; seed <= 8; seed++) tidy(() => {
    const rand = rng(300 + seed);
    const Lmax = 4 + Math.floor(rand() * 60), buf = Math.floor(rand() * (Lmax + 1)), factor = rand() * 2;
    const lens = Array.from({ length: 1 + Math.floor(rand() * 20) }, () => Math.floor(rand() * (Lmax + 5)));
    const want = lens.map((l) => factor * (buf === 0 || l <= Lmax - buf ? 0 : l <= Lmax ? (Lmax - buf - l) / buf : -1));
    close(`overlong vs loop seed=${seed} Lmax=${Lmax} buffer=${buf}`, flat(overlongPenalty(tensor(lens, { dtype: 'float32' }), Lmax, buf, factor)), want, 1e-6);
  });
  tidy(() => {
    assert.throws(() => overlongPenalty(tensor([1]), 10, 11), /bufferLen must be an integer in \[0, maxLength=10\]/);
    assert.throws(() => overlongPenalty(tensor([1]), 10, 2, -1), /factor must be ≥ 0/);
  });
});

test('ppoClipLoss with decoupled clip (DAPO clip-higher): hand-worked, loop version, masked invariance', () => {
  tidy(() => {
    // (A=1, ratio 1.25): symmetric ε=0.2 clips at 1.2 → −1.2; ε_high=0.28 does not → −1.25
    // (A=−1, ratio 0.75): ε_low=0.2 clips at 0.8 → max(0.75, 0.8) = 0.8 in both
    const old = f64([[0, 0]]), logp = f64([[Math.log(1.25), Math.log(0.75)]]), A = f64([[1, -1]]), mask = f64([[1, 1]]);
    const sym = ppoClipLoss(logp, old, A, mask, 0.2);
    const dapo = ppoClipLoss(logp, old, A, mask, 0.2, 0.28);
    close('symmetric per-token', flat(sym.tokenLoss), [-1.2, 0.8], 1e-12);
    close('clip-higher per-token', flat(dapo.tokenLoss), [-1.25, 0.8], 1e-12);
    assert.equal(sym.clipFraction, 1);
    assert.equal(dapo.clipFraction, 0.5);
    assert.throws(() => ppoClipLoss(logp, old, A, mask, 0.2, 0), /clipHigh > 0/);
  });
  for (let seed = 1; seed <= 8; seed++) tidy(() => {
    const rand = rng(400 + seed);
    const N = 1 + Math.floor(rand() * 6), L = 1 + Math.floor(rand() * 8);
    const lo = 0.05 + rand() * 0.3, hi = 0.05 + rand() * 0.5;
    const { m, x: dl } = randomBatch(rand, N, L, 1);
    const adv = m.map((row) => row.map(() => rand() * 2 - 1));
    const want: number[] = [];
    let sum = 0, n = 0;
    for (let i = 0; i < N; i++) for (let t = 0; t < L; t++) {
      if (!m[i]![t]) { want.push(0); continue; }
      const ratio = Math.exp(dl[i]![t]!), a = adv[i]![t]!;
      const v = Math.max(-a * ratio, -a * Math.min(1 + hi, Math.max(1 - lo, ratio)));
      want.push(v); sum += v; n++;
    }
    const r = ppoClipLoss(f64(dl), f64(m.map((row) => row.map(() => 0))), f64(adv), f64(m), lo, hi);
    close(`clip-higher vs loop seed=${seed} N=${N} T=${L} ε=(${lo.toFixed(2)}, ${hi.toFixed(2)})`, [...flat(r.tokenLoss), r.loss.item()], [...want, sum / n], 1e-12);
    // masked positions change nothing
    const mk = f64(m);
    const p = ppoClipLoss(perturb(f64(dl), mk), perturb(f64(m.map((row) => row.map(() => 0))), mk), perturb(f64(adv), mk), mk, lo, hi);
    close(`clip-higher masked invariance seed=${seed}`, [...flat(p.tokenLoss), p.loss.item()], [...want, sum / n], 1e-12);
  });
});

// ------------------------------------------------------------------------------------ loss aggregation

/** Loop version of every aggregation mode. */
function aggLoop(l: number[][], m: number[][], mode: LossAggregation, L: number): number {
  const N = l.length;
  let tokSum = 0, tokN = 0, seqMeanSum = 0;
  for (let i = 0; i < N; i++) {
    let s = 0, n = 0;
    for (let t = 0; t < l[i]!.length; t++) if (m[i]![t]) { s += l[i]![t]!; n++; }
    tokSum += s; tokN += n; seqMeanSum += n ? s / n : 0;
  }
  switch (mode) {
    case 'token-mean': return tokSum / tokN;
    case 'seq-mean-token-mean': return seqMeanSum / N;
    case 'seq-mean-token-sum': return tokSum / N;
    case 'seq-mean-token-sum-norm': return tokSum / N / L;
  }
}

/*
 * Hand-worked: l = [[1, 2, 3], [4, ·, ·]], mask [[1,1,1],[1,0,0]], L = 10:
 *   token-mean (1+2+3+4)/4 = 2.5; seq-mean-token-mean (2 + 4)/2 = 3; seq-mean-token-sum (6 + 4)/2 = 5;
 *   seq-mean-token-sum-norm 5/10 = 0.5.
 */
test('aggregateLoss: hand-worked modes, loop version, masked invariance, micro-batch shares sum to the whole', () => {
  tidy(() => {
    const l = f64([[1, 2, 3], [4, 99, 99]]), mask = f64([[1, 1, 1], [1, 0, 0]]);
    const want: Record<LossAggregation, number> = { 'token-mean': 2.5, 'seq-mean-token-mean': 3, 'seq-mean-token-sum': 5, 'seq-mean-token-sum-norm': 0.5 };
    for (const mode of LOSS_AGGREGATIONS) close(`aggregateLoss ${mode} hand-worked`, [aggregateLoss(l, mask, mode, { normalizer: 10 }).item()], [want[mode]], 1e-12);
    assert.throws(() => aggregateLoss(l, mask, 'seq-mean-token-sum-norm'), /needs a normalizer > 0/);
    assert.throws(() => aggregateLoss(l, mask, 'bogus' as LossAggregation), /unknown mode 'bogus'/);
  });
  for (let seed = 1; seed <= 10; seed++) tidy(() => {
    const rand = rng(500 + seed);
    const N = 2 + Math.floor(rand() * 8), T = 1 + Math.floor(rand() * 9), Lnorm = T + Math.floor(rand() * 10);
    const { m, x } = randomBatch(rand, N, T, 4);
    const mk = f64(m);
    const cut = 1 + Math.floor(rand() * (N - 1)); // two "micro-batches": rows [0, cut) and [cut, N)
    const tokens = m.flat().reduce((a, b) => a + b, 0);
    for (const mode of LOSS_AGGREGATIONS) {
      const whole = aggregateLoss(f64(x), mk, mode, { normalizer: Lnorm }).item();
      const noisy = aggregateLoss(perturb(f64(x), mk), mk, mode, { normalizer: Lnorm }).item();
      const parts = [[0, cut], [cut, N - cut]].map(([s, n]) => aggregateLoss(f64(x).narrow(0, s!, n!), mk.narrow(0, s!, n!), mode, { normalizer: Lnorm, batchTokens: tokens, batchSequences: N }).item());
      close(`aggregateLoss ${mode} vs loop / masked / parts seed=${seed} N=${N} T=${T}`, [whole, noisy, parts[0]! + parts[1]!], Array(3).fill(aggLoop(x, m, mode, Lnorm)), 1e-12);
    }
  });
  // the gradient of seq-mean-token-mean weighs each response equally: 1/(N·n_i) per token
  tidy(() => {
    const l = tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64', requiresGrad: true });
    aggregateLoss(l, f64([[1, 1, 1], [1, 0, 0]]), 'seq-mean-token-mean').backward();
    close('seq-mean-token-mean gradient', flat(l.grad!), [1 / 6, 1 / 6, 1 / 6, 1 / 2, 0, 0], 1e-12);
  });
});

// ------------------------------------------------------------------------------------ KL controller

test('adaptive KL controller (Ziegler et al.): hand-worked updates, loop over steps, state round-trip', () => {
  // β = 0.1, target 0.1, horizon 10000, n = 256: KL 0.15 → e = clip(0.5) = 0.2 → β·(1 + 0.2·0.0256) = 0.100512
  close('adaptive up', [adaptiveKlCoef(0.1, 0.15, 0.1, 10000, 256)], [0.100512], 1e-15);
  // KL 0.09 → e = −0.1 → β·(1 − 0.1·0.0256) = 0.0997440
  close('adaptive down', [adaptiveKlCoef(0.1, 0.09, 0.1, 10000, 256)], [0.099744], 1e-15);
  close('adaptive at target', [adaptiveKlCoef(0.1, 0.1, 0.1, 10000, 256)], [0.1], 0);
  assert.throws(() => adaptiveKlCoef(0.1, 0.1, 0, 10000, 1), /target > 0/);
  assert.throws(() => adaptiveKlCoef(0.1, NaN, 0.1, 10000, 1), /not finite/);
  const rand = rng(7);
  const kls = Array.from({ length: 40 }, () => rand() * 0.3);
  const ctl = new KlController('adaptive', 0.05, 0.1, 100);
  const fixed = new KlController('fixed', 0.05, 0.1, 100);
  let beta = 0.05;
  const got: number[] = [], want: number[] = [];
  for (const kl of kls) {
    got.push(ctl.update(kl, 16));
    beta *= 1 + (Math.min(0.2, Math.max(-0.2, kl / 0.1 - 1)) * 16) / 100;
    want.push(beta);
    assert.equal(fixed.update(kl, 16), 0.05);
  }
  close('KlController vs loop over 40 steps', got, want, 1e-15);
  const resumed = new KlController('adaptive', 0.05, 0.1, 100);
  resumed.load(JSON.parse(JSON.stringify(ctl.state())) as ReturnType<KlController['state']>);
  assert.equal(resumed.value, ctl.value);
  assert.equal(resumed.update(0.2, 16), ctl.update(0.2, 16));
  assert.throws(() => fixed.load(ctl.state()), /state is 'adaptive', the config says 'fixed'/);
});

test('no tensors leak from the new algorithm functions', () => {
  const before = torch.memory().tensors;
  for (let i = 0; i < 30; i++) tidy(() => {
    const m = torch.ones([8, 5]);
    const r = torch.randn([8, 5]);
    minFormProcessRewards(r, m, 0.1);
    getAdvantageEstimator('prime')({ outcome: torch.randint(0, 2, [8]).float(), tokenRewards: r, mask: m, groupSize: 4 }, { outcomeCoef: 5, processCoef: 5, gamma: 1, whiten: true, processReturn: 'min' });
    getAdvantageEstimator('drgrpo')({ outcome: torch.randint(0, 2, [8]).float(), mask: m, groupSize: 4 }, { outcomeCoef: 1, processCoef: 0, gamma: 1, whiten: false });
    overlongPenalty(m.sum(1), 5, 2);
    const p = ppoClipLoss(torch.randn([8, 5]), torch.randn([8, 5]), torch.randn([8, 5]), m, 0.2, 0.28);
    for (const mode of LOSS_AGGREGATIONS) aggregateLoss(p.tokenLoss, m, mode, { normalizer: 5 });
  });
  assert.equal(torch.memory().tensors, before);
});

test('config: the new keys validate, with errors naming the key', async () => {
  const { configFromObject, configHelp } = await import('../../src/prime/config.js');
  const base = { model: { path: 'm' }, data: { train_files: ['t.jsonl'], max_response_length: 64 } };
  const c = configFromObject(base);
  assert.equal(c.algorithm.process_return, 'sum');
  assert.equal(c.actor.loss_agg, 'token-mean');
  assert.equal(c.algorithm.kl_ctrl, 'fixed');
  assert.equal(c.reward.overlong_buffer_len, 0);
  assert.deepEqual([c.actor.clip_low, c.actor.clip_high], [0, 0]);
  const d = configFromObject(base, ['algorithm.advantage=drgrpo', 'actor.loss_agg=seq-mean-token-sum-norm', 'actor.clip_low=0.2', 'actor.clip_high=0.28']);
  assert.equal(d.algorithm.advantage, 'drgrpo');
  assert.throws(() => configFromObject(base, ['actor.loss_agg=seq-mean']), /actor\.loss_agg: expected one of 'token-mean'/);
  assert.throws(() => configFromObject(base, ['algorithm.kl_ctrl=adaptive']), /kl_ctrl=adaptive .* needs a starting kl_coef > 0/);
  assert.throws(() => configFromObject(base, ['reward.overlong_buffer_len=65']), /reward\.overlong_buffer_len \(65\) must be ≤ data\.max_response_length \(64\)/);
  assert.throws(() => configFromObject(base, ['algorithm.process_return=min', 'algorithm.advantage=grpo']), /process_return=min .* only advantage=prime uses \(got advantage=grpo\)/);
  assert.throws(() => configFromObject(base, ['algorithm.process_return=min', 'algorithm.granularity=whole']), /granularity=whole: each response has one reward-bearing step/);
  assert.throws(() => configFromObject(base, ['algorithm.min_form_temperature=0']), /min_form_temperature: must be > 0/);
  assert.throws(() => configFromObject(base, ['actor.clip_low=1']), /actor\.clip_low: must be ≤ 0\.999/);
  for (const k of ['reward.overlong_buffer_len', 'actor.loss_agg', 'algorithm.process_return', 'algorithm.kl_horizon']) assert.ok(configHelp().includes(k), `--help lists ${k}`);
});
