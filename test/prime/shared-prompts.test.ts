/**
 * Each prompt decoded once for its K responses (TrainerOptions.sharedPrompts, trainer/prm.ts
 * responseLogprobs) against the full packed rows (the path before): the reference's log-probs at
 * two temperatures, the PRM's 'after' phase (rewards and the updated parameters), and a whole
 * PRIME step of the trainer — equal up to float rounding, max differences printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../../src/torch/index.js';
import { SGD, tensor, tidy } from '../../src/torch/index.js';
import { loadPretrained, packSequences } from '../../src/lm/index.js';
import { configFromObject } from '../../src/prime/config.js';
import { createRandomModel } from '../../src/prime/demo/model.js';
import { generateSplits, problemToRow } from '../../src/prime/demo/arithmetic.js';
import { writePromptRowsJsonl } from '../../src/prime/data.js';
import { prmPhase, scoreLogprobsAt } from '../../src/prime/trainer/prm.js';
import { updatePolicy } from '../../src/prime/trainer/policy.js';
import { Parallel } from '../../src/prime/trainer/parallel.js';
import { PrimeTrainer } from '../../src/prime/trainer.js';
import type { Verifier } from '../../src/prime/verifier.js';
import { rng } from './numeric-helpers.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-shared-'));
process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));
const modelDir = path.join(root, 'model');
createRandomModel(modelDir, { hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositionEmbeddings: 96 }, 3);

const K = 4;
/** 4 groups of K = 4 responses; prompts of 3–9 tokens, responses of 1–8. */
function groupedBatch() {
  const g = rng(7);
  const B = 4;
  const prompts = Array.from({ length: B }, (_, i) => Array.from({ length: 3 + 2 * i }, () => 10 + Math.floor(g() * 40)));
  const responses = Array.from({ length: B * K }, (_, i) => Array.from({ length: 1 + ((i * 3) % 8) }, () => 10 + Math.floor(g() * 40)));
  return packSequences(responses.map((_, i) => prompts[Math.floor(i / K)]!), responses, 0);
}

test('reference log-probs at temperatures 1 and 0.7: shared prompts = full rows', () => {
  tidy(() => {
    const batch = groupedBatch();
    const ref = loadPretrained(modelDir, { tokenizer: false }).model;
    for (const micro of [4, 6, 16]) { // 6: rounded down to whole groups (4)
      const full = scoreLogprobsAt(ref, batch, micro, [1, 0.7], 1);
      const shared = scoreLogprobsAt(ref, batch, micro, [1, 0.7], K);
      const d = Math.max(...full.map((x, i) => x.sub(shared[i]!).abs().max().item()));
      console.log(`reference log-probs, micro-batch ${micro}: shared vs full max |diff| ${d.toExponential(2)} (tol 1e-5)`);
      assert.ok(d <= 1e-5);
      assert.deepEqual(shared[0]!.shape, full[0]!.shape);
    }
    ref.dispose();
  });
});

test("PRM 'after': rewards and updated parameters with shared prompts = full rows", () => {
  tidy(() => {
    const batch = groupedBatch();
    const P = batch.responseStart, T = batch.inputIds.size(1) - P;
    const mask = batch.responseMask.narrow(1, P, T);
    const ref = loadPretrained(modelDir, { tokenizer: false }).model;
    const refLogp = scoreLogprobsAt(ref, batch, 16, [1], 1)[0]!;
    ref.dispose();
    const outcome = tensor([1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1, 1, 1, 0]);
    const run = (shared: boolean) => {
      const cfg = configFromObject({
        model: { path: modelDir }, data: { train_files: ['unused.jsonl'] },
        algorithm: { beta: 0.5, prm_update: 'after' }, prm: { mini_batch: 8, micro_batch: 4 },
      } as never);
      const prm = loadPretrained(modelDir, { tokenizer: false }).model;
      // SGD: AdamW's first step is ≈ lr·sign(g), which turns rounding noise in tiny gradients into full steps
      const prmOpt = new SGD(prm.parameters(), { lr: 0.5 });
      const t = { cfg, prm, prmOpt, parallel: Parallel.alone(), step: 1, promptGroupSize: (k: number) => (shared ? k : 1) } as unknown as PrimeTrainer;
      const { prmLogp, metrics } = prmPhase(t, batch, refLogp, mask, outcome, K);
      return { prm, prmOpt, prmLogp, metrics };
    };
    const a = run(false), b = run(true);
    const dr = a.prmLogp.sub(b.prmLogp).abs().max().item();
    const dp = Math.max(...a.prm.parameters().map((p, i) => p.sub(b.prm.parameters()[i]!).abs().max().item()));
    const moved = Math.max(...a.prm.parameters().map((p, i) => torch.tidy(() => p.sub(loadPretrained(modelDir, { tokenizer: false }).model.parameters()[i]!).abs().max().item())));
    const dl = Math.abs(a.metrics['prm/loss']! - b.metrics['prm/loss']!);
    console.log(`PRM 'after' (2 mini-batches of 8, micro 4): shared vs full — rewards' log-probs max |diff| ${dr.toExponential(2)} (tol 1e-5), ` +
      `parameters after the updates ${dp.toExponential(2)} (tol 1e-5; the update moved them by up to ${moved.toExponential(2)}), prm/loss ${dl.toExponential(2)}`);
    assert.ok(dr <= 1e-5);
    assert.ok(dp <= 1e-5);
    assert.ok(moved > 1e-3, 'the PRM was updated');
    assert.ok(dl <= 1e-6);
    for (const x of [a, b]) { x.prm.dispose(); x.prmOpt.dispose(); }
  });
});

test('a PRIME trainer step (KL to the reference at temperature 0.7): shared prompts = full rows', async () => {
  const dataFile = path.join(root, 'train.jsonl');
  await writePromptRowsJsonl(dataFile, generateSplits(1, 24, 0).train.map((p, i) => problemToRow(p, i, 'train')));
  const containsDigit: Verifier = async (_row, text) => ({ score: /[0-9]/.test(text) ? 1 : 0 });
  const run = async (shared: boolean) => {
    const cfg = configFromObject({
      model: { path: modelDir },
      data: { train_files: [dataFile], max_prompt_length: 80, max_response_length: 8, seed: 3 },
      rollout: { n: K, batch_prompts: 2, micro_batch: 8, oversample: 1, temperature: 0.7 },
      filter: { enable: false },
      algorithm: { beta: 0.5, kl_coef: 0.05 },
      actor: { lr: 1e-3, mini_batch: 8, micro_batch: 4 },
      prm: { lr: 1e-3, mini_batch: 4, micro_batch: 4 }, // two mini-batches: the second one's rewards come after an update
      trainer: { total_steps: 1, save_every: 0, output_dir: path.join(root, `run-${shared}`), seed: 5 },
    } as never);
    const t = await PrimeTrainer.create(cfg, { verifier: containsDigit, log: () => {}, sharedPrompts: shared });
    const [m] = await t.train();
    const params = [...t.policy.parameters(), ...t.prm.parameters()].map((p) => torch.keep(p.detach().clone()));
    t.dispose();
    return { m: m!, params };
  };
  const a = await run(false), b = await run(true);
  assert.ok(Math.abs(a.m['reward/process_mean']!) > 0, 'the second PRM mini-batch was scored after an update');
  // AdamW's first step is ±lr on every element with a nonzero gradient (m̂/√v̂ = sign g): an element
  // whose gradient is rounding noise may step the other way (a 2·lr difference); count those
  let dp = 0, off = 0, total = 0;
  a.params.forEach((p, i) => torch.tidy(() => {
    const d = p.sub(b.params[i]!).abs();
    dp = Math.max(dp, d.max().item());
    off += d.gt(1e-6).sum().item();
    total += d.numel;
  }));
  let dm = 0;
  for (const k of ['reward/process_mean', 'prm/loss', 'actor/pg_loss', 'actor/kl_ref', 'advantage/std']) dm = Math.max(dm, Math.abs(a.m[k]! - b.m[k]!));
  console.log(`one PRIME step, shared vs full: metrics max |diff| ${dm.toExponential(2)} (tol 1e-5); policy + PRM parameters max |diff| ${dp.toExponential(2)} (≤ 2·lr = 2e-3), ` +
    `elements differing by > 1e-6: ${off} of ${total} (tol 0.1%)`);
  assert.ok(dm <= 1e-5);
  assert.ok(dp <= 2e-3 + 1e-6);
  assert.ok(off <= total * 1e-3);
  torch.dispose([...a.params, ...b.params]);
});

test('shared prompts: an untrained PRM gives reward exactly 0 (the reference is scored on the PRM update\'s micro-batches)', async () => {
  const dataFile = path.join(root, 'train0.jsonl');
  await writePromptRowsJsonl(dataFile, generateSplits(2, 24, 0).train.map((p, i) => problemToRow(p, i, 'train')));
  const containsDigit: Verifier = async (_row, text) => ({ score: /[0-9]/.test(text) ? 1 : 0 });
  for (const micro of [4, 6]) { // 6: micro-batches that split groups run on full rows, the reference's too
    const cfg = configFromObject({
      model: { path: modelDir },
      data: { train_files: [dataFile], max_prompt_length: 80, max_response_length: 8, seed: 3 },
      rollout: { n: K, batch_prompts: 3, micro_batch: 12, oversample: 1 },
      filter: { enable: false },
      actor: { lr: 1e-3, mini_batch: 12, micro_batch: 4 },
      prm: { lr: 1e-3, mini_batch: 12, micro_batch: micro }, // one mini-batch: every reward from the start's PRM = π_ref
      trainer: { total_steps: 1, save_every: 0, output_dir: path.join(root, `zero-${micro}`), seed: 5 },
    } as never);
    const t = await PrimeTrainer.create(cfg, { verifier: containsDigit, log: () => {} });
    const [m] = await t.train();
    t.dispose();
    console.log(`untrained PRM, prm.micro_batch ${micro}: reward/process_mean ${m!['reward/process_mean']}, prm/score_mean ${m!['prm/score_mean']}, prm/loss − log 2 ${m!['prm/loss']! - Math.LN2}`);
    assert.equal(m!['reward/process_mean'], 0);
    assert.equal(m!['prm/score_mean'], 0);
  }
});

test('policy update, one mini-batch of the whole batch (entropy bonus, KL loss): shared prompts = full rows; several mini-batches keep full rows', () => {
  tidy(() => {
    const batch = groupedBatch();
    const N = batch.inputIds.size(0), P = batch.responseStart, T = batch.inputIds.size(1) - P;
    const mask = batch.responseMask.narrow(1, P, T);
    const g = rng(5);
    const advantages = tensor(Array.from({ length: N * T }, () => g() - 0.5), { shape: [N, T] }).mul(mask);
    const ref = loadPretrained(modelDir, { tokenizer: false }).model;
    const [oldLogp, refLogp] = scoreLogprobsAt(ref, batch, 16, [0.7, 0.7], 1);
    ref.dispose();
    const run = (shared: boolean, mini: number) => {
      const cfg = configFromObject({
        model: { path: modelDir }, data: { train_files: ['unused.jsonl'] }, rollout: { temperature: 0.7, seed_per_prompt: true }, // a seeded shuffle
        algorithm: { entropy_coef: 0.01, kl_coef: 0.1, kl_mode: 'loss' }, actor: { mini_batch: mini, micro_batch: 8, lr: 0.5 },
      } as never);
      const policy = loadPretrained(modelDir, { tokenizer: false }).model;
      const opt = new SGD(policy.parameters(), { lr: 0.5 });
      const forwards: number[] = [];
      const t = {
        cfg, policy, policyOpt: opt, parallel: Parallel.alone(), step: 1, klCtrl: { value: 0.1 }, onProgress: () => {},
        policyGroupSize: (k: number) => (shared ? k : 1),
        policyWeights: { optimized: policy.parameters(), afterBackward: () => {}, afterStep: () => {} },
      } as unknown as PrimeTrainer;
      const m = updatePolicy(t, batch, oldLogp!, advantages, refLogp!, mask, K);
      return { policy, opt, m, forwards };
    };
    const a = run(true, N), b = run(false, N);
    const dp = Math.max(...a.policy.parameters().map((p, i) => p.sub(b.policy.parameters()[i]!).abs().max().item()));
    const moved = Math.max(...a.policy.parameters().map((p, i) => torch.tidy(() => p.sub(loadPretrained(modelDir, { tokenizer: false }).model.parameters()[i]!).abs().max().item())));
    let dm = 0;
    for (const k of ['actor/pg_loss', 'actor/entropy', 'actor/kl_ref', 'actor/approx_kl', 'actor/grad_norm']) dm = Math.max(dm, Math.abs(a.m[k]! - b.m[k]!));
    console.log(`policy update (one mini-batch of ${N}, micro-batches of 8 = 2 groups of ${K}): shared vs full — parameters max |diff| ${dp.toExponential(2)} (tol 1e-5; the update moved them by up to ${moved.toExponential(2)}), metrics max |diff| ${dm.toExponential(2)} (tol 1e-5)`);
    assert.ok(dp < 1e-5 && moved > 1e-3, `parameters differ by ${dp} (moved ${moved})`);
    assert.ok(dm < 1e-5, `metrics differ by ${dm}`);
    assert.ok(a.m['actor/entropy']! > 0);
    // two mini-batches: the per-sequence shuffle mixes groups, so full rows either way — identical results
    const c = run(true, N / 2), d = run(false, N / 2);
    const dq = Math.max(...c.policy.parameters().map((p, i) => p.sub(d.policy.parameters()[i]!).abs().max().item()));
    console.log(`two mini-batches: shared option on vs off, parameters max |diff| ${dq}`);
    assert.equal(dq, 0);
    for (const r of [a, b, c, d]) { r.policy.dispose(); r.opt.dispose(); }
  });
});
