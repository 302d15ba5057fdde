/**
 * Trainer wiring of the device and memory keys: model.device (a CUDA device on a CPU-only build
 * fails at load, naming the key) and actor/prm.gradient_checkpointing (set on the models, and a
 * training step gives the same parameters as without it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../../src/torch/index.js';
import { gpuDevice, gpuSkip } from '../torch/gpu.js';
import { PrimeTrainer } from '../../src/prime/trainer.js';
import { configFromObject, type PrimeConfig } from '../../src/prime/config.js';
import { writePromptRowsJsonl } from '../../src/prime/data.js';
import { generateSplits, problemToRow } from '../../src/prime/demo/arithmetic.js';
import { createRandomModel } from '../../src/prime/demo/model.js';
import type { Verifier } from '../../src/prime/verifier.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-trainer-device-'));
process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));
const modelDir = path.join(root, 'model');
const dataFile = path.join(root, 'train.jsonl');
createRandomModel(modelDir, { hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositionEmbeddings: 256 }, 0);
await writePromptRowsJsonl(dataFile, generateSplits(1, 24, 0).train.map((p, i) => problemToRow(p, i, 'train')));
const containsDigit: Verifier = async (_row, text) => ({ score: /[0-9]/.test(text) ? 1 : 0 });
const quiet = () => {};

function config(out: string, over: Record<string, Record<string, unknown>> = {}): PrimeConfig {
  const base: Record<string, Record<string, unknown>> = {
    model: { path: modelDir },
    data: { train_files: [dataFile], max_prompt_length: 96, max_response_length: 8, seed: 3 },
    rollout: { n: 4, batch_prompts: 2, micro_batch: 8, oversample: 1 },
    filter: { enable: false },
    algorithm: { beta: 0.5 },
    actor: { lr: 2e-3, mini_batch: 8, micro_batch: 4 },
    prm: { lr: 3e-3, micro_batch: 8 },
    trainer: { total_steps: 1, save_every: 0, output_dir: out, seed: 5, log_every: 1 },
  };
  for (const [k, v] of Object.entries(over)) base[k] = { ...base[k], ...v };
  return configFromObject(base as never);
}

const v = torch.version();
test('model.device: CUDA on a CPU-only build or a machine without a GPU fails at load, naming the key', { skip: v.cuda && torch.cudaAvailable() ? 'a GPU is present' : false }, async () => {
  await assert.rejects(PrimeTrainer.create(config(path.join(root, 'cuda'), { model: { device: 'cuda' } }), { verifier: containsDigit, log: quiet }), /model\.device 'cuda'/);
  await assert.rejects(PrimeTrainer.create(config(path.join(root, 'tpu'), { model: { device: 'tpu' } }), { verifier: containsDigit, log: quiet }), /model\.device: 'tpu' is not a device/);
});

test('actor/prm.gradient_checkpointing: set on the models; one PRIME step updates the parameters as without it', async () => {
  const run = async (ck: boolean) => {
    // full rows in both runs (a checkpointing PRM never shares prompts: promptGroupSize)
    const t = await PrimeTrainer.create(config(path.join(root, `ck-${ck}`), { actor: { gradient_checkpointing: ck }, prm: { gradient_checkpointing: ck } }), { verifier: containsDigit, log: quiet, sharedPrompts: false });
    assert.equal(t.policy.gradientCheckpointing, ck);
    assert.equal(t.prm.gradientCheckpointing, ck);
    await t.train();
    const p = new Map([...t.policy.namedParameters(), ...t.prm.namedParameters().map(([n, x]) => [`prm.${n}`, x] as [string, torch.Tensor])].map(([n, x]) => [n, x.detach().clone()]));
    t.dispose();
    return p;
  };
  const a = await run(false), b = await run(true);
  let worst = 0;
  for (const [n, x] of a) worst = Math.max(worst, torch.tidy(() => x.sub(b.get(n)!).abs().max().item()));
  console.log(`parameters after one step, checkpointed vs not: max |diff| ${worst.toExponential(2)} (tol 1e-6)`);
  assert.ok(worst <= 1e-6);
});

const noGpu = gpuSkip, DEV = gpuDevice;

test('model.device cuda: a PRIME step on the GPU updates policy and PRM as on the CPU; a checkpoint resumes onto the GPU', { skip: noGpu }, async () => {
  // top_k 1 makes the rollouts the same on both devices (their random generators differ)
  const det = { rollout: { top_k: 1 } };
  const params = (t: PrimeTrainer) => new Map([...t.policy.namedParameters(), ...t.prm.namedParameters().map(([n, x]) => [`prm.${n}`, x] as [string, torch.Tensor])]
    .map(([n, x]) => [n, x.detach().to('cpu').clone()]));
  const tc = await PrimeTrainer.create(config(path.join(root, 'dev-cpu'), det), { verifier: containsDigit, log: quiet });
  await tc.train();
  const a = params(tc);
  tc.dispose();
  const out = path.join(root, 'dev-gpu');
  const tg = await PrimeTrainer.create(config(out, { ...det, model: { device: DEV }, trainer: { total_steps: 1, save_every: 1, output_dir: out, seed: 5, log_every: 1 } }), { verifier: containsDigit, log: quiet });
  assert.ok(tg.policy.parameters().every((p) => p.device.startsWith('cuda')), 'policy on the GPU');
  assert.ok(tg.prm.parameters().every((p) => p.device.startsWith('cuda')), 'PRM on the GPU');
  await tg.train();
  const b = params(tg);
  tg.dispose();
  let worst = 0;
  for (const [n, x] of a) worst = Math.max(worst, torch.tidy(() => x.sub(b.get(n)!).abs().max().item()));
  console.log(`parameters after one PRIME step, cuda vs cpu: max |diff| ${worst.toExponential(2)} (tol 1e-4)`);
  assert.ok(worst <= 1e-4);
  assert.ok([...a.keys()].some((n) => n.startsWith('prm.')), 'PRM parameters compared');
  // resume from the step-1 checkpoint: back on the GPU, with the saved parameters
  const tr = await PrimeTrainer.create(config(out, { ...det, model: { device: DEV }, trainer: { total_steps: 2, save_every: 0, output_dir: out, seed: 5, log_every: 1, resume: true } }), { verifier: containsDigit, log: quiet });
  assert.ok(tr.policy.parameters().every((p) => p.device.startsWith('cuda')), 'resumed policy on the GPU');
  assert.ok(tr.prm.parameters().every((p) => p.device.startsWith('cuda')), 'resumed PRM on the GPU');
  const r = params(tr);
  let back = 0;
  for (const [n, x] of b) back = Math.max(back, torch.tidy(() => x.sub(r.get(n)!).abs().max().item()));
  console.log(`resumed parameters vs saved: max |diff| ${back.toExponential(2)} (tol 0)`);
  assert.equal(back, 0);
  await tr.train();
  tr.dispose();
});
