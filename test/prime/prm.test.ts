/**
 * The implicit PRM's pieces of a PRIME step (issue #10): the reference's pairwise accuracy, ROC
 * AUC, batch_norm normalization, the process RLOO baselines, and the order of operations of the
 * PRM update modes — with the one-forward `after` compared against a two-forward version.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../../src/torch/index.js';
import { AdamW, SGD, tensor, tidy } from '../../src/torch/index.js';
import { loadPretrained, packSequences, logprobs } from '../../src/lm/index.js';
import { prmPairwiseAccuracy, prmSignAccuracy, rocAuc } from '../../src/prime/prm_metrics.js';
import { correctResponseNll, normalizeProcessRewards, prmCrossEntropyLoss, prmLoss, prmPairwiseDpoLoss } from '../../src/prime/rewards.js';
import { rlooProcessAdvantage } from '../../src/prime/advantages.js';
import { configFromObject } from '../../src/prime/config.js';
import { createRandomModel } from '../../src/prime/demo/model.js';
import { disposePrmReplay, prmPhase, type PrmEvent, type PrmReplayEntry } from '../../src/prime/trainer/prm.js';
import { Parallel } from '../../src/prime/trainer/parallel.js';
import type { PrimeTrainer } from '../../src/prime/trainer.js';
import { rng } from './numeric-helpers.js';


/*
 * Pairwise accuracy, worked by hand (K = 4, two groups + one all-equal group):
 *   group 0: s = [2, 1, 3, 0], o = [1, 0, 0, 1]. Pairs with o_i ≠ o_j (weight 1 each):
 *     (0,1): s0>s1, o0>o1 ✓   (0,2): s0<s2, o0>o2 ✗   (1,3): s1>s3, o1<o3 ✗   (2,3): s2>s3, o2<o3 ✗  → 1/4
 *   group 1: s = [1, 1, 0, 5], o = [1, 0, 0.5, 0.5]. Pairs with o_i ≠ o_j, weights |Δo|:
 *     (0,1) w1 tie → 0.5   (0,2) w.5 ✓   (0,3) w.5 ✗   (1,2) w.5 s1>s2, o1<o2 ✗   (1,3) w.5 s1<s3, o1<o3 ✓
 *     → (0.5 + 0.5 + 0 + 0 + 0.5) / (1 + 4·0.5) = 1.5/3 = 0.5
 *   group 2: o all 1 → 0.5.      mean = (0.25 + 0.5 + 0.5)/3 = 0.41667
 */
test('prmPairwiseAccuracy: hand-worked groups with ties, fractional outcomes and an all-equal group', () => {
  const s = [2, 1, 3, 0, 1, 1, 0, 5, 9, 8, 7, 6];
  const o = [1, 0, 0, 1, 1, 0, 0.5, 0.5, 1, 1, 1, 1];
  const got = prmPairwiseAccuracy(s, o, 4);
  console.log(`pairwise accuracy ${got} (hand: ${1.25 / 3})`);
  assert.ok(Math.abs(got - 1.25 / 3) < 1e-12);
  // mixed groups only: the all-equal group 2 drops out → (0.25 + 0.5) / 2
  const mixed = prmPairwiseAccuracy(s, o, 4, { mixedOnly: true });
  console.log(`pairwise over mixed groups ${mixed} (hand: ${0.75 / 2})`);
  assert.ok(Math.abs(mixed - 0.75 / 2) < 1e-12);
  assert.ok(Number.isNaN(prmPairwiseAccuracy([1, 2], [1, 1], 2, { mixedOnly: true })));
  // a shift shared by every score changes nothing; sign accuracy collapses to the negatives' share
  const ranked = [3, 2, -1, -2], lab = [1, 1, 0, 0];
  assert.equal(prmPairwiseAccuracy(ranked, lab, 4), 1);
  assert.equal(prmPairwiseAccuracy(ranked.map((x) => x - 10), lab, 4), 1);
  assert.equal(prmSignAccuracy(ranked, lab), 1);
  assert.equal(prmSignAccuracy(ranked.map((x) => x - 10), lab), 0.5);
  assert.throws(() => prmPairwiseAccuracy([1, 2, 3], [1, 0, 1], 2), /groups of K=2/);
});

test('rocAuc equals the all-pairs count (ties half) on random scores with ties', () => {
  for (let seed = 0; seed < 8; seed++) {
    const r = rng(seed);
    const n = 5 + Math.floor(r() * 40);
    const s = Array.from({ length: n }, () => Math.round(r() * 6) / 2); // many ties
    const o = Array.from({ length: n }, () => (r() < 0.4 ? 1 : 0));
    if (!o.includes(1) || !o.includes(0)) continue;
    let num = 0, den = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (o[i] === 1 && o[j] === 0) { den++; num += s[i]! > s[j]! ? 1 : s[i] === s[j] ? 0.5 : 0; }
    const d = Math.abs(rocAuc(s, o) - num / den);
    assert.ok(d < 1e-12, `seed ${seed}: ${rocAuc(s, o)} vs ${num / den}`);
  }
  assert.ok(Number.isNaN(rocAuc([1, 2], [1, 1])));
});

/*
 * batch_norm by hand: r = [[0.1, 0.2, ·], [−0.5, 0.1, 0.1]] (· masked, value 7 must not matter)
 *   reverse cumsums: [0.3, 0.2] and [−0.3, 0.2, 0.1] → Z = 0.3 → r̃ = r / (0.3 + 1e-6)
 */
test('normalizeProcessRewards batch_norm: hand-worked batch, loop version, masked values ignored', () => {
  tidy(() => {
    const r = tensor([[0.1, 0.2, 7], [-0.5, 0.1, 0.1]], { dtype: 'float64' });
    const mask = tensor([[1, 1, 0], [1, 1, 1]], { dtype: 'float64' });
    const { rewards, scale } = normalizeProcessRewards(r, mask, 'batch_norm');
    assert.ok(Math.abs(scale - 0.3) < 1e-12, `Z = ${scale}`);
    const want = [0.1, 0.2, 0, -0.5, 0.1, 0.1].map((x) => x / (0.3 + 1e-6));
    const d = Math.max(...rewards.toFlatArray().map((x, i) => Math.abs(x - want[i]!)));
    console.log(`batch_norm hand-worked: max diff ${d.toExponential(2)}`);
    assert.ok(d < 1e-12);
    // random batches against a loop version; every process return ends in [−1, 1]
    let worst = 0;
    for (let seed = 0; seed < 10; seed++) {
      const g = rng(seed + 100);
      const N = 1 + Math.floor(g() * 6), T = 1 + Math.floor(g() * 9);
      const x = Array.from({ length: N * T }, () => (g() - 0.5) * 3), m = Array.from({ length: N * T }, () => (g() < 0.8 ? 1 : 0));
      let Z = 0;
      for (let i = 0; i < N; i++) { let acc = 0; for (let t = T - 1; t >= 0; t--) { acc += m[i * T + t]! ? x[i * T + t]! : 0; Z = Math.max(Z, Math.abs(acc)); } }
      const out = normalizeProcessRewards(tensor(x, { dtype: 'float64', shape: [N, T] }), tensor(m, { dtype: 'float64', shape: [N, T] }), 'batch_norm').rewards.toFlatArray();
      for (let k = 0; k < N * T; k++) worst = Math.max(worst, Math.abs(out[k]! - (m[k] ? x[k]! / (Z + 1e-6) : 0)));
      for (let i = 0; i < N; i++) { let acc = 0; for (let t = T - 1; t >= 0; t--) { acc += out[i * T + t]!; assert.ok(Math.abs(acc) <= 1 + 1e-9); } }
    }
    console.log(`batch_norm vs loop over 10 random batches: max diff ${worst.toExponential(2)}`);
    assert.ok(worst < 1e-12);
    const same = normalizeProcessRewards(r, mask, 'none').rewards.toFlatArray();
    assert.deepEqual(same, r.toFlatArray());
  });
});

test("process RLOO baseline 'code' vs 'paper': same first-token returns, token deviations K/(K−1)×", () => {
  tidy(() => {
    const g = rng(7);
    const K = 4, N = 8, T = 5;
    const r = tensor(Array.from({ length: N * T }, () => g() - 0.5), { dtype: 'float64', shape: [N, T] });
    const mask = tensor(Array.from({ length: N * T }, (_, k) => (k % T < 2 + (Math.floor(k / T) % 4) ? 1 : 0)), { dtype: 'float64', shape: [N, T] });
    const paper = rlooProcessAdvantage(r, mask, K, 1, 'paper'), code = rlooProcessAdvantage(r, mask, K, 1, 'code');
    const d0 = paper.narrow(1, 0, 1).sub(code.narrow(1, 0, 1)).abs().max().item();
    console.log(`paper vs code process returns at the first token: max diff ${d0.toExponential(2)}`);
    assert.ok(d0 < 1e-12);
    // per-token centred values: code − paper = (r − m_i)/(K − 1), checked by a loop
    const rv = r.toFlatArray(), mv = mask.toFlatArray(), pv = paper.toFlatArray(), cv = code.toFlatArray();
    let worst = 0;
    for (let i = 0; i < N; i++) {
      const L = mv.slice(i * T, i * T + T).reduce((a, b) => a + b, 0);
      const mi = rv.slice(i * T, i * T + T).reduce((a, x, t) => a + x * mv[i * T + t]!, 0) / L;
      for (let t = 0; t < T; t++) {
        if (!mv[i * T + t]) { assert.equal(cv[i * T + t], 0); continue; }
        const next = t + 1 < T && mv[i * T + t + 1] ? 1 : 0;
        const tokP = pv[i * T + t]! - (next ? pv[i * T + t + 1]! : 0), tokC = cv[i * T + t]! - (next ? cv[i * T + t + 1]! : 0);
        worst = Math.max(worst, Math.abs(tokC - tokP - (rv[i * T + t]! - mi) / (K - 1)));
      }
    }
    console.log(`code − paper per token = (r − m_i)/(K−1): max diff ${worst.toExponential(2)}`);
    assert.ok(worst < 1e-12);
  });
});

// ----------------------------------------------------------------------- PRM update modes
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-prm-'));
const modelDir = path.join(root, 'model');
createRandomModel(modelDir, { hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositionEmbeddings: 64 }, 3);

/** A PRM and its optimizer in a minimal trainer. SGD for comparisons: AdamW's m/√v turns float noise
 * in near-zero gradients into full-size steps, so two equal computations in different order differ. */
function fixture(mode: 'after' | 'before' | 'none', miniBatch: number, epochs = 1, optim: 'adamw' | 'sgd' = 'adamw', replaySteps = 0) {
  const cfg = configFromObject({
    model: { path: modelDir }, data: { train_files: ['unused.jsonl'] },
    algorithm: { beta: 0.5, prm_update: mode }, prm: { lr: 1e-2, mini_batch: miniBatch, micro_batch: 2, epochs, replay_steps: replaySteps },
  } as never);
  const prm = loadPretrained(modelDir, { tokenizer: false }).model;
  const prmOpt = mode === 'none' ? null : optim === 'sgd' ? new SGD(prm.parameters(), { lr: 0.5 }) : new AdamW(prm.parameters(), { lr: cfg.prm.lr, weightDecay: 0 });
  const t = { cfg, prm, prmOpt, parallel: Parallel.alone(), step: 1, promptGroupSize: () => 1, prmReplayBuffer: [] } as unknown as PrimeTrainer;
  return { t, prm, prmOpt };
}

function batchFixture() {
  const g = rng(42);
  const N = 8;
  const prompts = Array.from({ length: N }, (_, i) => Array.from({ length: 3 + (i % 3) }, () => 10 + Math.floor(g() * 40)));
  const responses = Array.from({ length: N }, (_, i) => Array.from({ length: 2 + ((i * 5) % 4) }, () => 10 + Math.floor(g() * 40)));
  const batch = packSequences(prompts, responses, 0);
  const T = batch.inputIds.size(1) - batch.responseStart;
  const mask = batch.responseMask.narrow(1, batch.responseStart, T);
  const ref = loadPretrained(modelDir, { tokenizer: false }).model;
  const refLogp = torch.noGrad(() => logprobs(ref, batch.inputIds, { attentionMask: batch.attentionMask, responseMask: batch.responseMask, responseStart: batch.responseStart }).logprobs.narrow(1, batch.responseStart, T));
  ref.dispose();
  return { batch, mask, refLogp, outcome: tensor([1, 0, 0, 1, 1, 1, 0, 0]), T };
}

test("PRM update modes: order of forwards and steps ('after' one forward per sequence; 'before' update then re-score)", () => {
  tidy(() => {
    const { batch, mask, refLogp, outcome } = batchFixture();
    const record = (mode: 'after' | 'before' | 'none', epochs = 1) => {
      const { t, prm, prmOpt } = fixture(mode, 4, epochs);
      const ev: PrmEvent[] = [];
      prmPhase(t, batch, refLogp, mask, outcome, 4, (e) => ev.push(e));
      prm.dispose();
      prmOpt?.dispose();
      return ev.map((e) => (e.kind === 'step' ? `step` : `${e.grad ? 'fwd+grad' : 'fwd'}[${e.from}:${e.from + e.count}]`)).join(' ');
    };
    const after = record('after'), before = record('before'), none = record('none'), after2 = record('after', 2);
    console.log(`after:  ${after}\nbefore: ${before}\nnone:   ${none}`);
    assert.equal(after, 'fwd+grad[0:2] fwd+grad[2:4] step fwd+grad[4:6] fwd+grad[6:8] step');
    assert.equal(before, 'fwd+grad[0:2] fwd+grad[2:4] step fwd+grad[4:6] fwd+grad[6:8] step fwd[0:8]');
    assert.equal(none, 'fwd[0:8]');
    assert.equal(after2, `${after} ${after}`);
  });
});

test("'after' with one forward gives the rewards and update of a two-forward version (score, then train)", () => {
  tidy(() => {
    const { batch, mask, refLogp, outcome, T } = batchFixture();
    const P = batch.responseStart;
    // one forward: prmPhase in 'after' mode, 2 mini-batches of 4
    const a = fixture('after', 4, 1, 'sgd');
    const { prmLogp } = prmPhase(a.t, batch, refLogp, mask, outcome, 4);
    // two forwards: for each mini-batch, a no-grad scoring pass, then a separate loss forward + step
    const b = fixture('after', 4, 1, 'sgd');
    const parts: torch.Tensor[] = [];
    for (const s of [0, 4]) {
      const sl = (x: torch.Tensor) => x.narrow(0, s, 4);
      parts.push(torch.noGrad(() => logprobs(b.prm, sl(batch.inputIds), { attentionMask: sl(batch.attentionMask), responseMask: sl(batch.responseMask), responseStart: P }).logprobs.narrow(1, P, T)));
      const lp = logprobs(b.prm, sl(batch.inputIds), { attentionMask: sl(batch.attentionMask), responseMask: sl(batch.responseMask), responseStart: P }).logprobs.narrow(1, P, T);
      prmCrossEntropyLoss(lp, sl(refLogp), sl(mask), sl(outcome), 0.5).loss.backward();
      torch.clipGradNorm(b.prm.parameters(), a.t.cfg.prm.grad_clip);
      b.prmOpt!.step();
      b.prmOpt!.zeroGrad();
    }
    const two = torch.cat(parts, 0);
    const dr = prmLogp.sub(two).abs().max().item();
    const dp = Math.max(...a.prm.parameters().map((p, i) => p.sub(b.prm.parameters()[i]!).abs().max().item()));
    // the second mini-batch's rewards come after the first mini-batch's step: they differ from the start's
    const start = fixture('none', 4);
    const { prmLogp: frozen } = prmPhase(start.t, batch, refLogp, mask, outcome, 4);
    const moved = prmLogp.narrow(0, 4, 4).sub(frozen.narrow(0, 4, 4)).abs().max().item();
    const firstSame = prmLogp.narrow(0, 0, 4).sub(frozen.narrow(0, 0, 4)).abs().max().item();
    console.log(`one vs two forwards: rewards max diff ${dr.toExponential(2)}, parameters max diff ${dp.toExponential(2)}; ` +
      `first mini-batch vs the start's PRM ${firstSame.toExponential(2)}, second ${moved.toExponential(2)}`);
    assert.ok(dr < 1e-5, `rewards differ by ${dr}`);
    assert.ok(dp < 1e-6, `updates differ by ${dp}`);
    assert.ok(firstSame < 1e-5, 'the first mini-batch is scored by the PRM as it was at the start');
    assert.ok(moved > 1e-4, 'the second mini-batch is scored after the first mini-batch\'s update');
    for (const x of [a, b, start]) { x.prm.dispose(); x.prmOpt?.dispose(); }
  });
});

/*
 * Where every PRIME run starts: π_φ = π_ref exactly, so s = 0 for every response. With N = 2
 * responses, β = 0.5, o = [1, 0]: ∂L/∂s_i = (σ(0) − o_i)/N = [−0.25, 0.25], and
 * ∂L/∂log π_φ(y_t) = β·∂L/∂s_i = [−0.125, 0.125] at each valid token (0 at padding).
 * (Autograd through max(s, 0) + log1p(e^{−|s|}) gives (1 − o_i)/N = [0, 0.5] here.)
 */
test('PRM cross-entropy gradient at s = 0 exactly is (σ(0) − o)·β/N (hand-worked)', () => {
  tidy(() => {
    const ref = tensor([[-1.5, -2.0, -0.7], [-0.3, -1.1, -4.0]], { dtype: 'float64' });
    const prm = ref.clone();
    prm.requiresGrad = true;
    const mask = tensor([[1, 1, 1], [1, 1, 0]], { dtype: 'float64' });
    prmCrossEntropyLoss(prm, ref, mask, tensor([1, 0], { dtype: 'float64' }), 0.5).loss.backward();
    const got = prm.grad!.toFlatArray(), want = [-0.125, -0.125, -0.125, 0.125, 0.125, 0];
    const d = Math.max(...got.map((x, i) => Math.abs(x - want[i]!)));
    console.log(`gradient at s = 0: ${got.map((x) => x.toFixed(4)).join(' ')} (hand: ${want.join(' ')}), max diff ${d.toExponential(2)}`);
    assert.ok(d < 1e-12);
  });
});

/*
 * prm.loss 'dpo', by hand (β = 1, one token per response so s = log π_φ − log π_ref):
 *   group 0 (K = 3): s = [0.5, −0.5, 0], o = [1, 0, 0.5]. Pairs with o_i > o_j and weights (o_i − o_j):
 *     (0,1) w 1, s0 − s1 = 1 → softplus(−1) = 0.313262   (0,2) w .5, 0.5 → .5·softplus(−.5) = 0.237039
 *     (2,1) w .5, 0.5 → 0.237039
 *   group 1: o all 1 → no pair.            L = (0.313262 + 2·0.237039) / N=6 = 0.131223
 * Gradient ∂L/∂s_i = −Σ_j w_ij σ(−(s_i − s_j))/N + Σ_j w_ji σ(−(s_j − s_i))/N, checked by central
 * finite differences; a shift shared by a group's scores leaves L unchanged.
 */
test("prm.loss 'dpo': hand-worked value, finite-difference gradient, blind to a group's shared offset", () => {
  tidy(() => {
    const sp = (x: number) => Math.log1p(Math.exp(x));
    const ref = tensor([[-1], [-2], [-0.5], [-1], [-1], [-1]], { dtype: 'float64' });
    const sVals = [0.5, -0.5, 0, 0.2, -0.1, 0.3];
    const prmAt = (s: number[]) => tensor(s.map((x, i) => [x + ref.toFlatArray()[i]!]), { dtype: 'float64' });
    const mask = tensor([[1], [1], [1], [1], [1], [1]], { dtype: 'float64' });
    const o = tensor([1, 0, 0.5, 1, 1, 1], { dtype: 'float64' });
    const L = (s: number[]) => prmPairwiseDpoLoss(prmAt(s), ref, mask, o, 1, 3).loss.item();
    const want = (sp(-1) + 0.5 * sp(-0.5) + 0.5 * sp(-0.5)) / 6;
    const got = L(sVals);
    const p = prmAt(sVals);
    p.requiresGrad = true;
    prmPairwiseDpoLoss(p, ref, mask, o, 1, 3).loss.backward();
    const g = p.grad!.toFlatArray();
    const h = 1e-6;
    const fd = sVals.map((_, i) => (L(sVals.map((x, j) => x + (i === j ? h : 0))) - L(sVals.map((x, j) => x - (i === j ? h : 0)))) / (2 * h));
    const dg = Math.max(...g.map((x, i) => Math.abs(x - fd[i]!)));
    const shifted = L(sVals.map((x, i) => (i < 3 ? x + 7 : x - 3)));
    console.log(`DPO loss ${got.toFixed(6)} (hand ${want.toFixed(6)}); gradient vs finite differences max diff ${dg.toExponential(2)}; group offsets +7/−3: ${shifted.toFixed(6)}`);
    assert.ok(Math.abs(got - want) < 1e-12);
    assert.ok(dg < 1e-8);
    assert.ok(g.slice(3).every((x) => x === 0), 'an all-equal group gets no gradient');
    assert.ok(Math.abs(shifted - got) < 1e-12, 'a shared offset per group does not change the loss');
    assert.throws(() => prmPairwiseDpoLoss(prmAt(sVals), ref, mask, o, 1, 4), /do not split into whole groups of K=4/);
    // the CE loss, by contrast, moves with the offset
    assert.ok(Math.abs(prmCrossEntropyLoss(prmAt(sVals.map((x) => x + 7)), ref, mask, o, 1).loss.item() - prmCrossEntropyLoss(prmAt(sVals), ref, mask, o, 1).loss.item()) > 0.1);
  });
});

test("prm.loss 'dpo' in the PRM update: prm/loss is the DPO loss of the first forward; misaligned micro-batches are refused", () => {
  tidy(() => {
    const { batch, mask, refLogp } = batchFixture();
    const outcome = tensor([1, 0, 0, 0, 1, 1, 1, 0]); // 3 pairs per group: at s = 0, DPO = 6·log 2 / 8, CE = log 2
    const mk = (loss: 'ce' | 'dpo', micro: number) => {
      const cfg = configFromObject({
        model: { path: modelDir }, data: { train_files: ['unused.jsonl'] },
        algorithm: { beta: 0.5, prm_update: 'after' }, prm: { lr: 1e-2, mini_batch: 8, micro_batch: micro, epochs: 1, loss },
      } as never);
      const prm = loadPretrained(modelDir, { tokenizer: false }).model;
      const prmOpt = new AdamW(prm.parameters(), { lr: cfg.prm.lr, weightDecay: 0 });
      return { t: { cfg, prm, prmOpt, parallel: Parallel.alone(), step: 1, promptGroupSize: () => 1 } as unknown as PrimeTrainer, prm, prmOpt };
    };
    const d = mk('dpo', 8), c = mk('ce', 8);
    const rd = prmPhase(d.t, batch, refLogp, mask, outcome, 4), rc = prmPhase(c.t, batch, refLogp, mask, outcome, 4);
    // one mini-batch, one micro-batch: the logged loss is the loss at the start's PRM (= reference model weights)
    const wantD = prmPairwiseDpoLoss(rd.prmLogp, refLogp, mask, outcome, 0.5, 4).loss.item();
    const wantC = prmCrossEntropyLoss(rc.prmLogp, refLogp, mask, outcome, 0.5).loss.item();
    console.log(`prm/loss dpo ${rd.metrics['prm/loss']!.toFixed(6)} (recomputed ${wantD.toFixed(6)}), ce ${rc.metrics['prm/loss']!.toFixed(6)} (recomputed ${wantC.toFixed(6)})`);
    assert.ok(Math.abs(rd.metrics['prm/loss']! - wantD) < 1e-5);
    assert.ok(Math.abs(rc.metrics['prm/loss']! - wantC) < 1e-5);
    assert.ok(Math.abs(wantD - 0.75 * Math.LN2) < 1e-6 && Math.abs(wantC - Math.LN2) < 1e-6, 'at the start: DPO 0.75·log 2, CE log 2');
    const moved = Math.max(...d.prm.parameters().map((p, i) => p.sub(c.prm.parameters()[i]!).abs().max().item()));
    assert.ok(moved > 1e-6, 'the two losses update the PRM differently');
    const bad = mk('dpo', 3);
    assert.throws(() => prmPhase(bad.t, batch, refLogp, mask, outcome, 4), /prm.micro_batch \(3\) must be multiples of rollout.n \(4\)/);
    for (const x of [d, c, bad]) { x.prm.dispose(); x.prmOpt.dispose(); }
  });
});

test('prm.rpo_alpha: the NLL of the correct responses, against a loop version; added to either loss', () => {
  tidy(() => {
    const r = rng(11);
    const N = 6, T = 5;
    const lpVals = Array.from({ length: N * T }, () => -2 * r());
    const maskVals = [1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1];
    const oVals = [1, 0, 0.5, 1, 0, 1];
    const lp = tensor(lpVals, { shape: [N, T], dtype: 'float64' }), mask = tensor(maskVals, { shape: [N, T], dtype: 'float64' });
    const ref = tensor(lpVals.map((x, i) => x + 0.1 * Math.sin(i)), { shape: [N, T], dtype: 'float64' });
    const o = tensor(oVals, { dtype: 'float64' });
    let loop = 0;
    for (let i = 0; i < N; i++) {
      let s = 0, m = 0;
      for (let t = 0; t < T; t++) { s -= lpVals[i * T + t]! * maskVals[i * T + t]!; m += maskVals[i * T + t]!; }
      loop += oVals[i]! * (s / Math.max(1, m));
    }
    loop /= N;
    const got = correctResponseNll(lp, mask, o).item();
    const dCe = prmLoss('ce', lp, ref, mask, o, 0.05, 3, 0.7).item() - prmLoss('ce', lp, ref, mask, o, 0.05, 3).item();
    const dDpo = prmLoss('dpo', lp, ref, mask, o, 0.05, 3, 0.7).item() - prmLoss('dpo', lp, ref, mask, o, 0.05, 3).item();
    console.log(`correct-response NLL ${got.toFixed(9)} (loop ${loop.toFixed(9)}); CE + 0.7·NLL − CE = ${dCe.toFixed(9)}, DPO + 0.7·NLL − DPO = ${dDpo.toFixed(9)} (want ${(0.7 * loop).toFixed(9)})`);
    assert.ok(Math.abs(got - loop) < 1e-12);
    assert.ok(Math.abs(dCe - 0.7 * loop) < 1e-12 && Math.abs(dDpo - 0.7 * loop) < 1e-12);
    // a micro-batch split weighted by its share of responses gives the whole batch's value
    const half = (a: number, n: number) => correctResponseNll(lp.narrow(0, a, n), mask.narrow(0, a, n), o.narrow(0, a, n)).item() * (n / N);
    assert.ok(Math.abs(half(0, 2) + half(2, 4) - got) < 1e-12);
    assert.throws(() => prmLoss('ce', lp, ref, mask, o, 0.05, 3, -1), /rpo_alpha must be ≥ 0/);
  });
});

test('prm.replay_steps: each step updates on its own batch, then replays the last R batches newest first; the buffer is bounded and freed', () => {
  const { batch, mask, refLogp, outcome } = batchFixture();
  const rows = (n: number) => ({ batch: { ...batch, inputIds: batch.inputIds.narrow(0, 0, n), attentionMask: batch.attentionMask.narrow(0, 0, n), responseMask: batch.responseMask.narrow(0, 0, n) }, refLogp: refLogp.narrow(0, 0, n), mask: mask.narrow(0, 0, n), outcome: outcome.narrow(0, 0, n) });
  const { t, prm, prmOpt } = fixture('after', 4, 1, 'adamw', 2);
  const fmt = (ev: PrmEvent[]) => ev.map((e) => (e.kind === 'step' ? 'step' : `[${e.from}:${e.from + e.count}]`)).join(' ');
  const own = { 8: '[0:2] [2:4] step [4:6] [6:8] step', 4: '[0:2] [2:4] step', 6: '[0:2] [2:4] step [4:6] step' } as Record<number, string>;
  const seen: string[] = [], live: number[] = [];
  let replayLoss = 0;
  for (const n of [8, 4, 6, 8]) {
    const ev: PrmEvent[] = [];
    tidy(() => {
      const r = rows(n);
      const out = prmPhase(t, r.batch, r.refLogp, r.mask, r.outcome, 2, (e) => ev.push(e));
      replayLoss = out.metrics['prm/replay_loss'] ?? NaN;
    });
    seen.push(fmt(ev));
    live.push(torch.memory().tensors);
  }
  console.log(seen.join('\n'));
  assert.deepEqual(seen, [own[8], `${own[4]} ${own[8]}`, `${own[6]} ${own[4]} ${own[8]}`, `${own[8]} ${own[6]} ${own[4]}`]);
  assert.ok(Number.isFinite(replayLoss) && replayLoss > 0);
  const buf = (t as unknown as { prmReplayBuffer: PrmReplayEntry[] }).prmReplayBuffer;
  assert.equal(buf.length, 2);
  assert.deepEqual(buf.map((e) => e.batch.inputIds.size(0)), [8, 6]);
  console.log(`live tensors after each step: ${live.join(', ')}`);
  // (the model keeps a few shape-keyed caches of its own, so the count may dip by one; it must not grow)
  assert.ok(live[2]! <= live[1]! && live[3]! <= live[1]!, 'a full buffer does not grow');
  disposePrmReplay(buf);
  assert.equal(live[3]! - torch.memory().tensors, 2 * 6, 'two kept batches of six tensors each are freed');
  assert.equal(buf.length, 0);
  prm.dispose();
  prmOpt?.dispose();
});
