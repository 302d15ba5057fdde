/**
 * A short PRIME training run on one device, for bench/device-check.sh: the embedded arithmetic
 * task, a random Qwen2-shaped model (no SFT: this measures speed, not learning), `steps` steps
 * with policy, PRM and reference on PRIME_DEVICE (cpu | cuda | cuda:N). Prints per-step sampling
 * and training throughput from metrics.jsonl:
 *   sampling tokens/s = response tokens / time/rollout
 *   training tokens/s = response tokens / (time/score_prm + time/policy_update)   (reference + PRM
 *                       forward, PRM update, policy PPO update)
 * Run: PRIME_DEVICE=cuda node dist/bench/device-train.js [steps] [hidden] [layers]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configFromObject } from '../src/prime/config.js';
import { PrimeTrainer } from '../src/prime/trainer.js';
import { readMetrics } from '../src/prime/metrics.js';
import { writeDemoData, DEMO } from '../src/prime/demo/run.js';
import { createRandomModel } from '../src/prime/demo/model.js';

const steps = Number(process.argv[2] ?? 3), hidden = Number(process.argv[3] ?? 256), layers = Number(process.argv[4] ?? 4);
const device = process.env.PRIME_DEVICE ?? 'cpu';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-device-train-'));
const s = { ...DEMO, dir, nTrain: 512, nTest: 8 };
const files = await writeDemoData(s);
createRandomModel(path.join(dir, 'init'), { hiddenSize: hidden, intermediateSize: 3 * hidden, numLayers: layers, numHeads: 4, numKvHeads: 2, maxPositionEmbeddings: 256 }, 1);
const cfg = configFromObject({
  model: { path: path.join(dir, 'init'), device },
  data: { train_files: [files.train], max_prompt_length: 96, max_response_length: 64, seed: 1 },
  rollout: { n: 4, batch_prompts: 16, micro_batch: 64, oversample: 1, temperature: 1.0 },
  filter: { enable: false },
  algorithm: { advantage: 'prime', beta: 0.05, prm_update: 'after' },
  actor: { lr: 1e-5, mini_batch: 64, micro_batch: 32 },
  prm: { lr: 1e-5, micro_batch: 32 },
  trainer: { total_steps: steps, save_every: 0, seed: 1, log_every: 1, output_dir: path.join(dir, 'run') },
} as never);
const t = await PrimeTrainer.create(cfg, { log: () => {} });
await t.train();
t.dispose();
const ms = readMetrics(path.join(dir, 'run', 'metrics.jsonl'));
console.log(`PRIME on ${device}: ${steps} steps, Qwen2-shaped D=${hidden} L=${layers}, 16 prompts × 4 samples, ≤64 response tokens`);
for (const m of ms) {
  const tok = m['batch/response_tokens'] ?? 0;
  const train = (m['time/score_prm'] ?? 0) + (m['time/policy_update'] ?? 0);
  console.log(`step ${m.step}: ${tok} response tokens; sampling ${(tok / m['time/rollout']!).toFixed(0)} tokens/s; training ${(tok / train).toFixed(0)} tokens/s; step ${m['time/step']!.toFixed(2)} s`);
}
fs.rmSync(dir, { recursive: true, force: true });
