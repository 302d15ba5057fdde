/**
 * Mixed precision in the trainer (actor.dtype, prm.dtype, model.ref_dtype; trainer/precision.ts):
 * a bf16 policy / PRM update on a fixed batch against the float32 one (losses and the float32
 * gradients AdamW sees, within stated tolerances), the bf16 weights equal to the rounded masters
 * after every step, checkpoints holding the masters with a resume that continues exactly, and
 * the config's errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../../src/torch/index.js';
import { loadPretrained, packSequences } from '../../src/lm/index.js';
import { PrimeTrainer } from '../../src/prime/trainer.js';
import { configFromObject, loadConfig, type PrimeConfig } from '../../src/prime/config.js';
import { writePromptRowsJsonl } from '../../src/prime/data.js';
import { generateSplits, problemToRow } from '../../src/prime/demo/arithmetic.js';
import { createRandomModel } from '../../src/prime/demo/model.js';
import { readMetrics } from '../../src/prime/metrics.js';
import { latestCheckpoint } from '../../src/prime/checkpoint.js';
import { updatePolicy } from '../../src/prime/trainer/policy.js';
import { prmPhase, scoreLogprobs } from '../../src/prime/trainer/prm.js';
import type { Verifier } from '../../src/prime/verifier.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-precision-'));
process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));
const modelDir = path.join(root, 'model');
const dataFile = path.join(root, 'train.jsonl');
createRandomModel(modelDir, { hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositionEmbeddings: 256 }, 0);
await writePromptRowsJsonl(dataFile, generateSplits(1, 48, 0).train.map((p, i) => problemToRow(p, i, 'train')));
const containsDigit: Verifier = async (_row, text) => ({ score: /[0-9]/.test(text) ? 1 : 0 });
const quiet = () => {};

function config(out: string, over: Record<string, Record<string, unknown>> = {}): PrimeConfig {
  const base: Record<string, Record<string, unknown>> = {
    model: { path: modelDir },
    data: { train_files: [dataFile], max_prompt_length: 96, max_response_length: 10, seed: 3 },
    rollout: { n: 4, batch_prompts: 4, micro_batch: 16, oversample: 2, seed_per_prompt: true }, // PPO shuffles seeded by step, not by the global RNG
    algorithm: { beta: 0.5 },
    actor: { lr: 2e-3, mini_batch: 8, micro_batch: 4 },
    prm: { lr: 3e-3, micro_batch: 4, mini_batch: 8 },
    trainer: { total_steps: 4, save_every: 2, output_dir: out, seed: 11, log_every: 1 },
  };
  for (const [k, v] of Object.entries(over)) base[k] = { ...base[k], ...v };
  return configFromObject(base as never);
}

/** Relative L2 error ‖a − b‖ / ‖b‖ over lists of tensors, and the max |a − b|. */
function compare(a: torch.Tensor[], b: torch.Tensor[]): { rel: number; max: number } {
  return torch.tidy(() => {
    let num = 0, den = 0, max = 0;
    a.forEach((x, i) => {
      const d = x.to('float64').sub(b[i]!.to('float64'));
      num += d.pow(2).sum().item();
      den += b[i]!.to('float64').pow(2).sum().item();
      max = Math.max(max, d.abs().max().item());
    });
    return { rel: Math.sqrt(num / den), max };
  });
}

test('bf16 + float32 masters: policy and PRM losses and gradients on a fixed batch against float32; bf16 weights = rounded masters', async () => {
  const t32 = await PrimeTrainer.create(config(path.join(root, 'f32'), { trainer: { total_steps: 1 } }), { verifier: containsDigit, log: quiet });
  const t16 = await PrimeTrainer.create(config(path.join(root, 'bf16'), { model: { dtype: 'bfloat16' }, trainer: { total_steps: 1 } }), { verifier: containsDigit, log: quiet });
  assert.equal(t16.policy.dtype, 'bfloat16');
  assert.equal(t16.prm.dtype, 'bfloat16');
  assert.equal(t16.ref.dtype, 'bfloat16');
  assert.ok(t16.policyWeights.master && t16.prmWeights?.master, 'trained bf16 models have masters');
  assert.equal(t32.policyWeights.master, null);
  // the masters start as the float32 checkpoint itself
  const m0 = compare(t16.policyWeights.optimized, t32.policy.parameters());
  assert.equal(m0.max, 0, 'masters = the float32 checkpoint');

  // one fixed batch (sampled by the float32 policy), fixed advantages: the same inputs for both
  const groups = await t32.rollout(t32.dataset.next(4));
  const prompts = groups.flatMap((g) => g.sample.responses.map(() => g.sample.promptIds));
  const responses = groups.flatMap((g) => g.sample.responses.map((r) => r.ids));
  const outcomes = groups.flatMap((g) => g.scores);
  const N = prompts.length, K = 4;
  const batch = packSequences(prompts, responses, t32.padId);
  const P = batch.responseStart, T = batch.inputIds.size(1) - P;
  const mask = batch.responseMask.narrow(1, P, T);
  const oldLogp = scoreLogprobs(t32.policy, batch, 8);
  torch.manualSeed(5);
  const adv = torch.randn([N, T]).mul(mask);
  const outcome = torch.tensor(Float32Array.from(outcomes));

  // capture the float32 gradients the first optimizer step acts on (after clipping; both models
  // are still at the checkpoint's weights then)
  const captured = new Map<PrimeTrainer, torch.Tensor[]>();
  for (const t of [t32, t16]) {
    const step = t.policyOpt.step.bind(t.policyOpt);
    t.policyOpt.step = () => {
      if (!captured.has(t)) captured.set(t, t.policyWeights.optimized.map((p) => torch.keep(p.grad!)));
      step();
    };
  }
  const before32 = t32.policy.parameters().map((p) => torch.keep(p.detach().clone()));
  const met32 = updatePolicy(t32, batch, oldLogp, adv, null, mask, K);
  const met16 = updatePolicy(t16, batch, oldLogp, adv, null, mask, K);
  const g = compare(captured.get(t16)!, captured.get(t32)!);
  const dLoss = Math.abs(met16['actor/pg_loss']! - met32['actor/pg_loss']!);
  const dEnt = Math.abs(met16['actor/entropy']! - met32['actor/entropy']!);
  // the update: masters' change vs the float32 parameters' change
  const d32 = t32.policy.parameters().map((p, i) => torch.keep(p.detach().sub(before32[i]!)));
  const d16 = t16.policyWeights.optimized.map((p, i) => torch.keep(p.detach().sub(before32[i]!)));
  const u = compare(d16, d32);
  const rounded = torch.tidy(() => Math.max(...t16.policy.parameters().map((p, i) => p.to('float32').sub(t16.policyWeights.optimized[i]!.to('bfloat16').to('float32')).abs().max().item())));
  console.log(`policy, bf16+masters vs float32 on one batch: |Δ pg_loss| ${dLoss.toExponential(2)} (of ${Math.abs(met32['actor/pg_loss']!).toExponential(2)}; tol 1e-3), |Δ entropy| ${dEnt.toExponential(2)} (tol 1e-3), ` +
    `gradient rel L2 ${g.rel.toExponential(2)} max ${g.max.toExponential(2)} (tol rel 2e-2), AdamW update rel L2 ${u.rel.toExponential(2)} max ${u.max.toExponential(2)} (lr 2e-3; tol rel 0.25: a first Adam step is ≈ lr·sign(g)), bf16 − round(master) ${rounded}`);
  assert.ok(dLoss <= 1e-3 && dEnt <= 1e-3);
  assert.ok(g.rel <= 2e-2, `gradient relative error ${g.rel}`);
  assert.ok(u.rel <= 0.25, `update relative error ${u.rel}`);
  assert.equal(rounded, 0, 'the bf16 weights are the rounded masters after the step');

  // the PRM: one 'after' phase on the same batch and labels (reference log-probs from each trainer's own reference)
  const ref32 = scoreLogprobs(t32.ref, batch, 8), ref16 = scoreLogprobs(t16.ref, batch, 8);
  const p32 = prmPhase(t32, batch, ref32, mask, outcome, K), p16 = prmPhase(t16, batch, ref16, mask, outcome, K);
  const dPrm = Math.abs(p16.metrics['prm/loss']! - p32.metrics['prm/loss']!);
  const lp = compare([p16.prmLogp], [p32.prmLogp]);
  console.log(`PRM, bf16+masters vs float32: |Δ prm/loss| ${dPrm.toExponential(2)} (tol 5e-3; untrained = log 2 in both), log-probs max |diff| ${lp.max.toExponential(2)} (tol 5e-2)`);
  assert.ok(dPrm <= 5e-3);
  assert.ok(lp.max <= 5e-2);
  assert.equal(p16.prmLogp.dtype, 'float32', 'log-probs of a bf16 model are float32');
  torch.dispose([...before32, ...d32, ...d16, ...captured.get(t16)!, ...captured.get(t32)!, oldLogp, adv, outcome, ref32, ref16, p32.prmLogp, p16.prmLogp, batch.inputIds, batch.attentionMask, batch.responseMask]);
  t32.dispose();
  t16.dispose();
});

test('bf16: checkpoints hold the float32 masters; a resumed run continues exactly as the uninterrupted one', async () => {
  const bf = { model: { dtype: 'bfloat16' }, rollout: { seed_per_prompt: false } };
  const full = path.join(root, 'bf-full'), split = path.join(root, 'bf-split');
  const a = await PrimeTrainer.create(config(full, bf), { verifier: containsDigit, log: quiet });
  await a.train();
  const mastersA = a.policyWeights.optimized.map((p) => torch.keep(p.detach().clone()));
  const prmA = a.prmWeights!.optimized.map((p) => torch.keep(p.detach().clone()));
  // the checkpoint's policy directory is the masters, in float32
  const ck = latestCheckpoint(path.join(full, 'checkpoints'))!;
  const hdr = torch.readSafetensorsHeader(path.join(ck, 'policy', 'model.safetensors'));
  assert.ok([...hdr.tensors.values()].every((x) => x.dtype === 'float32'), 'float32 tensors in the checkpoint');
  const saved = loadPretrained(path.join(ck, 'policy'), { tokenizer: false }).model;
  const s = compare(saved.parameters(), mastersA);
  assert.equal(s.max, 0, 'saved policy = masters');
  saved.dispose();
  a.dispose();

  const b1 = await PrimeTrainer.create(config(split, { ...bf, trainer: { total_steps: 2 } }), { verifier: containsDigit, log: quiet });
  await b1.train();
  b1.dispose();
  const b2 = await PrimeTrainer.create(config(split, { ...bf, trainer: { total_steps: 4, resume: true } }), { verifier: containsDigit, log: quiet });
  assert.equal(b2.step, 2);
  assert.equal(b2.policy.dtype, 'bfloat16');
  await b2.train();
  const pm = compare(b2.policyWeights.optimized, mastersA), rm = compare(b2.prmWeights!.optimized, prmA);
  const ma = readMetrics(path.join(full, 'metrics.jsonl')), mb = readMetrics(path.join(split, 'metrics.jsonl'));
  let worst = 0;
  for (const [i, m] of ma.entries())
    for (const [k, v] of Object.entries(m)) {
      if (/^(time|throughput)\/|^perf\/(mfu|sgemm)/.test(k)) continue;
      const d = Math.abs(v - (mb[i]![k] as number));
      if (d > 0) console.log(`step ${m.step} ${k}: uninterrupted ${v} vs resumed ${mb[i]![k]}`);
      worst = Math.max(worst, d);
    }
  console.log(`bf16 resume vs uninterrupted after 4 steps: policy masters max |diff| ${pm.max}, PRM masters ${rm.max}, metrics ${worst} (all must be 0)`);
  assert.equal(pm.max, 0);
  assert.equal(rm.max, 0);
  assert.equal(worst, 0);
  torch.dispose([...mastersA, ...prmA]);
  b2.dispose();
});

test('dtype keys: per-model overrides of model.dtype, and errors that name the keys', async () => {
  const req = ['model.path=m', 'data.train_files=t'];
  assert.throws(() => loadConfig(null, [...req, 'actor.dtype=float16']), /actor\.dtype: expected one of '', 'float32', 'bfloat16', got "float16"/);
  assert.throws(() => loadConfig(null, [...req, 'model.dtype=float16']), /model\.dtype: expected one of 'float32', 'bfloat16', got "float16"/);
  assert.throws(() => loadConfig(null, [...req, 'model.dtype=bfloat16', 'prm.dtype=float32']), /prm\.dtype resolves to float32 but model\.ref_dtype to bfloat16/);
  assert.throws(() => loadConfig(null, [...req, 'model.ref_dtype=bfloat16']), /prm\.dtype resolves to float32 but model\.ref_dtype to bfloat16/);
  // without the implicit PRM the reference's dtype is free
  loadConfig(null, [...req, 'model.ref_dtype=bfloat16', 'algorithm.advantage=rloo']);
  // a bf16 policy beside a float32 PRM and reference
  const t = await PrimeTrainer.create(config(path.join(root, 'mixed'), { actor: { dtype: 'bfloat16' }, trainer: { total_steps: 1 } }), { verifier: containsDigit, log: quiet });
  assert.deepEqual([t.policy.dtype, t.prm.dtype, t.ref.dtype], ['bfloat16', 'float32', 'float32']);
  assert.ok(t.policyWeights.master);
  assert.equal(t.prmWeights!.master, null);
  await t.train();
  t.dispose();
  // a frozen bf16 PRM is cast, not given masters
  const f = await PrimeTrainer.create(config(path.join(root, 'frozen'), { model: { dtype: 'bfloat16' }, algorithm: { prm_update: 'none' }, trainer: { total_steps: 1 } }), { verifier: containsDigit, log: quiet });
  assert.equal(f.prm.dtype, 'bfloat16');
  assert.equal(f.prmWeights, null);
  assert.equal(f.prmOpt, null);
  f.dispose();
});
