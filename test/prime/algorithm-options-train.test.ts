/**
 * Smoke training runs of the algorithm options (issue 16) on a tiny random model: each option,
 * switched on against the same run with it off (same seeds, so the same first rollouts), changes
 * the update it should — and only that one (e.g. PURE's min form and the overlong shaping change
 * the policy update but not the PRM's, which learns before the advantages).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../../src/torch/index.js';
import { PrimeTrainer, type RolloutGroup, type TrainerOptions } from '../../src/prime/trainer.js';
import { loadPretrained } from '../../src/lm/index.js';
import { configFromObject, type PrimeConfig } from '../../src/prime/config.js';
import { writePromptRowsJsonl } from '../../src/prime/data.js';
import { generateSplits, problemToRow } from '../../src/prime/demo/arithmetic.js';
import { createRandomModel } from '../../src/prime/demo/model.js';
import type { Metrics } from '../../src/prime/metrics.js';
import type { Verifier } from '../../src/prime/verifier.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-options-'));
const modelDir = path.join(root, 'model');
const dataFile = path.join(root, 'train.jsonl');
createRandomModel(modelDir, { hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositionEmbeddings: 256 }, 0);
await writePromptRowsJsonl(dataFile, generateSplits(1, 48, 0).train.map((p, i) => problemToRow(p, i, 'train')));

/** Near 50/50 for a random model (see trainer.test.ts). */
const containsDigit: Verifier = async (_row, text) => ({ score: /[0-9]/.test(text) ? 1 : 0 });
const MAX_LEN = 10;

let runs = 0;
function config(over: Record<string, Record<string, unknown>> = {}): PrimeConfig {
  const out = path.join(root, `run-${runs++}`);
  const base: Record<string, Record<string, unknown>> = {
    model: { path: modelDir },
    data: { train_files: [dataFile], max_prompt_length: 96, max_response_length: MAX_LEN, seed: 3 },
    rollout: { n: 4, batch_prompts: 4, micro_batch: 16, oversample: 2 },
    algorithm: { beta: 0.5 },
    actor: { lr: 2e-2, mini_batch: 8, micro_batch: 4, ppo_epochs: 2 },
    prm: { lr: 3e-3, micro_batch: 8 },
    trainer: { total_steps: 1, save_every: 0, output_dir: out, seed: 11, log_every: 1 },
  };
  for (const [sec, body] of Object.entries(over)) base[sec] = { ...base[sec], ...body };
  return configFromObject(base as never);
}

interface Run { policy: Map<string, Float64Array>; prm: Map<string, Float64Array>; metrics: Metrics[] }
const snapshot = (m: { namedParameters(): [string, torch.Tensor][] }) => new Map(m.namedParameters().map(([n, p]) => [n, Float64Array.from(p.toFlatArray())]));

async function train(over: Record<string, Record<string, unknown>> = {}, steps = 1, opts: Pick<TrainerOptions, 'processRewards'> = {}): Promise<Run> {
  const cfg = config({ ...over, trainer: { ...over.trainer, total_steps: steps } });
  const t = await PrimeTrainer.create(cfg, { verifier: containsDigit, log: () => {}, ...opts });
  const metrics: Metrics[] = [];
  for (let s = 0; s < steps; s++) metrics.push(await t.trainStep());
  const r = { policy: snapshot(t.policy), prm: snapshot(t.prm), metrics };
  t.dispose();
  return r;
}
function maxParamDiff(a: Map<string, Float64Array>, b: Map<string, Float64Array>): number {
  let d = 0;
  for (const [n, x] of a) {
    const y = b.get(n)!;
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i]! - y[i]!));
  }
  return d;
}

let base: Run;
test('baseline run: responses of varied length, clipping active, PRM trained', async () => {
  base = await train();
  const m = base.metrics[0]!;
  console.log(`baseline: length mean ${m['response/length_mean']!.toFixed(2)} max ${m['response/length_max']}, clip_fraction ${m['actor/clip_fraction']!.toFixed(4)}`);
  assert.ok(m['response/length_mean']! < MAX_LEN, 'some responses end before max_response_length (loss aggregation modes then differ)');
  assert.ok(m['actor/clip_fraction']! > 0, 'the second PPO epoch is off-policy enough to clip');
  // the same config twice gives the same update (so differences below come from the options)
  const again = await train();
  assert.equal(maxParamDiff(base.policy, again.policy), 0);
});

test('PURE min-form return changes the policy update, not the PRM update', async () => {
  // prm_update=before: the step's rewards come from the updated PRM (at step 1 the PRM equals the
  // reference, so 'after' would score every token 0, where min and sum agree)
  const sum = await train({ algorithm: { prm_update: 'before' } });
  const r = await train({ algorithm: { prm_update: 'before', process_return: 'min', min_form_temperature: 0.1 } });
  const dp = maxParamDiff(sum.policy, r.policy), dr = maxParamDiff(sum.prm, r.prm);
  console.log(`process_return=min vs sum: policy max |Δθ| ${dp.toExponential(2)}, PRM max |Δφ| ${dr}`);
  assert.ok(dp > 1e-6);
  assert.equal(dr, 0);
  assert.notEqual(r.metrics[0]!['advantage/process_return_mean'], sum.metrics[0]!['advantage/process_return_mean']);
});

test('DAPO clip-higher (and clip_low) change the clipping and the update; clip_low = clip_high = clip_eps is the default', async () => {
  const r = await train({ actor: { clip_low: 0.2, clip_high: 0.28 } });
  const same = await train({ actor: { clip_low: 0.2, clip_high: 0.2 } });
  const dp = maxParamDiff(base.policy, r.policy);
  console.log(`clip_high=0.28 vs 0.2: policy max |Δθ| ${dp.toExponential(2)}, clip_fraction ${base.metrics[0]!['actor/clip_fraction']!.toFixed(4)} → ${r.metrics[0]!['actor/clip_fraction']!.toFixed(4)}`);
  assert.ok(dp > 1e-6);
  assert.notEqual(r.metrics[0]!['actor/clip_fraction'], base.metrics[0]!['actor/clip_fraction']);
  const low = await train({ actor: { clip_low: 0.1 } });
  console.log(`clip_low=0.1 vs 0.2: policy max |Δθ| ${maxParamDiff(base.policy, low.policy).toExponential(2)}`);
  assert.ok(maxParamDiff(base.policy, low.policy) > 1e-6);
  assert.equal(maxParamDiff(base.policy, same.policy), 0, 'explicit 0.2/0.2 equals the default (0 = clip_eps)');
});

test('DAPO overlong shaping penalizes long responses: the policy update changes, the PRM update does not', async () => {
  const r = await train({ reward: { overlong_buffer_len: 4, overlong_penalty_factor: 1 } });
  const m = r.metrics[0]!;
  const dp = maxParamDiff(base.policy, r.policy), dr = maxParamDiff(base.prm, r.prm);
  console.log(`overlong shaping: mean penalty ${m['reward/overlong_penalty_mean']!.toFixed(4)}, policy max |Δθ| ${dp.toExponential(2)}, PRM max |Δφ| ${dr}`);
  assert.ok(m['reward/overlong_penalty_mean']! < 0);
  assert.ok(dp > 1e-6);
  assert.equal(dr, 0);
  assert.equal(m['reward/outcome_mean'], base.metrics[0]!['reward/outcome_mean'], 'the logged outcome is the unshaped score');
});

test('loss aggregation modes change the update; seq-mean-token-sum-norm is seq-mean-token-sum / max_response_length', async () => {
  // one mini-batch, one epoch: one optimizer step, so the gradient norms compare exactly
  const one = { actor: { mini_batch: 16, ppo_epochs: 1 } };
  const runs: Record<string, Run> = {};
  for (const mode of ['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm'])
    runs[mode] = await train({ actor: { ...one.actor, loss_agg: mode } });
  for (const mode of ['seq-mean-token-mean', 'seq-mean-token-sum']) {
    const d = maxParamDiff(runs['token-mean']!.policy, runs[mode]!.policy);
    console.log(`loss_agg=${mode} vs token-mean: policy max |Δθ| ${d.toExponential(2)}`);
    assert.ok(d > 1e-7);
  }
  const gn = (mode: string) => runs[mode]!.metrics[0]!['actor/grad_norm']!;
  const ratio = gn('seq-mean-token-sum') / gn('seq-mean-token-sum-norm');
  console.log(`grad norm seq-mean-token-sum / seq-mean-token-sum-norm = ${ratio} (want ${MAX_LEN}); |diff| ${Math.abs(ratio - MAX_LEN).toExponential(2)}`);
  assert.ok(Math.abs(ratio - MAX_LEN) < 1e-3);
  assert.ok(Math.abs(gn('token-mean') - gn('seq-mean-token-mean')) > 1e-6, 'token-mean and seq-mean-token-mean weigh tokens differently');
});

test('Dr. GRPO changes the advantages and the update against GRPO', async () => {
  const g = await train({ algorithm: { advantage: 'grpo', whiten: false } });
  const d = await train({ algorithm: { advantage: 'drgrpo' }, actor: { loss_agg: 'seq-mean-token-sum-norm' } });
  const dp = maxParamDiff(g.policy, d.policy);
  const [sg, sd] = [g.metrics[0]!['advantage/std']!, d.metrics[0]!['advantage/std']!];
  console.log(`drgrpo vs grpo: advantage std ${sd.toFixed(4)} vs ${sg.toFixed(4)}, policy max |Δθ| ${dp.toExponential(2)}`);
  assert.ok(dp > 1e-6);
  assert.ok(sd < sg, 'without the division by the group std the advantages are smaller (outcomes in {0, 1})');
});

test('adaptive KL controller: β follows Ziegler’s rule, is logged as actor/kl_coef, changes the update, and survives resume', async () => {
  // target 1 ≫ the measured KL: e = −0.2 each step, n = 16 responses, horizon 16: β ← 0.8·β
  const kl = { kl_coef: 0.05, kl_ctrl: 'adaptive', kl_target: 1, kl_horizon: 16 };
  const out = path.join(root, 'kl-adaptive');
  const a = await train({ algorithm: kl, trainer: { output_dir: out } }, 3);
  const coefs = a.metrics.map((m) => m['actor/kl_coef']!);
  console.log(`actor/kl_coef by step: ${coefs.join(' ')}; measured KL ${a.metrics.map((m) => m['actor/kl_rollout']!.toExponential(2)).join(' ')}`);
  assert.deepEqual(coefs.map((c) => +c.toFixed(12)), [0.05, 0.04, 0.032]);
  const f = await train({ algorithm: { kl_coef: 0.05 } }, 3);
  assert.equal(f.metrics[2]!['actor/kl_coef'], 0.05);
  const dp = maxParamDiff(a.policy, f.policy);
  console.log(`adaptive vs fixed after 3 steps: policy max |Δθ| ${dp.toExponential(2)}`);
  assert.ok(dp > 1e-7);
  // 2 steps, checkpoint, resume for the 3rd: the same β as the uninterrupted run
  const split = path.join(root, 'kl-split');
  const c2 = config({ algorithm: kl, trainer: { total_steps: 2, save_every: 2, output_dir: split } });
  const t1 = await PrimeTrainer.create(c2, { verifier: containsDigit, log: () => {} });
  await t1.train();
  t1.dispose();
  const t2 = await PrimeTrainer.create(config({ algorithm: kl, trainer: { total_steps: 3, save_every: 0, output_dir: split, resume: true } }), { verifier: containsDigit, log: () => {} });
  assert.equal(t2.step, 2);
  assert.equal(t2.klCtrl.value, a.metrics[2]!['actor/kl_coef']);
  const m3 = await t2.trainStep();
  console.log(`resumed step 3: actor/kl_coef ${m3['actor/kl_coef']} (uninterrupted ${coefs[2]})`);
  assert.equal(m3['actor/kl_coef'], coefs[2]);
  t2.dispose();
});

test('TrainerOptions.processRewards: a process verifier\'s rewards replace the PRM\'s (PRM untouched), enter the metrics as given, and drive the update', async () => {
  const initialPrm = (() => { const m = loadPretrained(modelDir, { tokenizer: false }).model; const s = snapshot(m); m.dispose(); return s; })();
  const given: number[][] = [];
  // −1 on each response's last token, 0.25 on its first: a hand-made verifier
  const verifier = (groups: RolloutGroup[]) => groups.flatMap((g) => g.responses.map((r) => {
    const row = r.ids.map((_, t) => (t === r.ids.length - 1 ? -1 : t === 0 ? 0.25 : 0));
    given.push(row);
    return row;
  }));
  const withRewards = await train({}, 1, { processRewards: verifier });
  const zeros = await train({}, 1, { processRewards: (groups) => groups.flatMap((g) => g.responses.map(() => [])) });
  const m = withRewards.metrics[0]!;
  const expectSeqMean = given.reduce((a, row) => a + row.reduce((x, y) => x + y, 0), 0) / given.length;
  console.log(`processRewards: reward/process_seq_mean ${m['reward/process_seq_mean']} (hand sum ${expectSeqMean}); PRM max |Δθ| ${maxParamDiff(initialPrm, withRewards.prm)}; policy vs zero rewards max |Δθ| ${maxParamDiff(withRewards.policy, zeros.policy).toExponential(2)}`);
  assert.ok(Math.abs(m['reward/process_seq_mean']! - expectSeqMean) < 1e-5);
  assert.equal(m['prm/loss'], undefined, 'no PRM update metrics');
  assert.equal(maxParamDiff(initialPrm, withRewards.prm), 0, 'the PRM is not trained');
  assert.equal(zeros.metrics[0]!['reward/process_seq_mean'], 0);
  assert.ok(maxParamDiff(withRewards.policy, zeros.policy) > 1e-7, 'the rewards change the policy update');
  // wrong shapes are refused, naming the count
  await assert.rejects(train({}, 1, { processRewards: () => [] }), /returned 0 reward arrays for the batch's \d+ responses/);
  await assert.rejects(train({}, 1, { processRewards: (groups) => groups.flatMap((g) => g.responses.map((r) => new Array<number>(r.ids.length + 1).fill(0))) }), /response 0 has \d+ tokens but \d+ rewards/);
  await assert.rejects(train({ algorithm: { advantage: 'rloo' } }, 1, { processRewards: verifier }), /processRewards needs algorithm.advantage=prime/);
});
