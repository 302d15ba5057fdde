/**
 * A check to run on a GPU machine (beside bench/device-check.sh): bf16 mixed precision and shared
 * prompts in the trainer on PRIME_DEVICE (default cuda) with a tiny random model —
 *   1. `model.dtype: bfloat16`: bf16 weights, float32 masters on the device, the weights equal to the
 *      rounded masters after training, finite losses (step-1 losses printed beside float32's);
 *   2. a bf16 run resumed from its step-2 checkpoint ends with the masters of the uninterrupted run;
 *   3. shared prompts (TrainerOptions.sharedPrompts) against full rows: one step's metrics; an
 *      untrained PRM gives reward exactly 0.
 * Prints OK / FAIL per check and exits 1 on a failure. Run: `PRIME_DEVICE=cuda node dist/bench/device-precision.js`
 * (PRIME_NATIVE = an addon built with CUDA). Takes ~1 min on a CPU.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../src/torch/index.js';
import { PrimeTrainer, type TrainerOptions } from '../src/prime/trainer.js';
import { configFromObject } from '../src/prime/config.js';
import { writePromptRowsJsonl } from '../src/prime/data.js';
import { generateSplits, problemToRow } from '../src/prime/demo/arithmetic.js';
import { createRandomModel } from '../src/prime/demo/model.js';
import type { Metrics } from '../src/prime/metrics.js';
import type { Verifier } from '../src/prime/verifier.js';

const device = process.env.PRIME_DEVICE ?? 'cuda';
console.log(`addon ${JSON.stringify(torch.version())}, device ${device}`);
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-device-precision-'));
const modelDir = path.join(root, 'model'), dataFile = path.join(root, 'train.jsonl');
createRandomModel(modelDir, { hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositionEmbeddings: 256 }, 0);
await writePromptRowsJsonl(dataFile, generateSplits(1, 48, 0).train.map((p, i) => problemToRow(p, i, 'train')));
const verifier: Verifier = async (_r, t) => ({ score: /[0-9]/.test(t) ? 1 : 0 });
type Over = Record<string, Record<string, unknown>>;
const cfg = (out: string, over: Over = {}) => {
  const base: Over = {
    model: { path: modelDir, device }, data: { train_files: [dataFile], max_prompt_length: 96, max_response_length: 10, seed: 3 },
    rollout: { n: 4, batch_prompts: 4, micro_batch: 16, oversample: 2, seed_per_prompt: true }, algorithm: { beta: 0.5 },
    actor: { lr: 2e-3, mini_batch: 8, micro_batch: 4 }, prm: { lr: 3e-3, micro_batch: 4, mini_batch: 8 },
    trainer: { total_steps: 4, save_every: 2, output_dir: path.join(root, out), seed: 11 },
  };
  for (const [k, x] of Object.entries(over)) base[k] = { ...base[k], ...x };
  return configFromObject(base as never);
};
const maxDiff = (a: torch.Tensor[], b: torch.Tensor[]) => Math.max(...a.map((x, i) => torch.tidy(() => x.to('float64').sub(b[i]!.to('float64')).abs().max().item())));
let fails = 0;
const check = (ok: boolean, what: string) => {
  console.log(`${ok ? 'OK  ' : 'FAIL'} ${what}`);
  if (!ok) fails++;
};
async function run(out: string, over: Over, opts: TrainerOptions = {}) {
  const t = await PrimeTrainer.create(cfg(out, over), { verifier, log: () => {}, ...opts });
  const ms: Metrics[] = await t.train();
  const masters = [...t.policyWeights.optimized, ...(t.prmWeights?.optimized ?? [])].map((p) => torch.keep(p.detach().to('cpu').clone()));
  const w = t.policyWeights.optimized[0]!;
  const info = {
    weights: `${t.policy.dtype} on ${t.policy.parameters()[0]!.device}`, masters: `${w.dtype} on ${w.device}`,
    rounded: torch.tidy(() => Math.max(...t.policy.parameters().map((p, i) => p.to('float32').sub(t.policyWeights.optimized[i]!.to(t.policy.dtype).to('float32')).abs().max().item()))),
  };
  t.dispose();
  return { ms, masters, info };
}

const t0 = performance.now();
const f32 = await run('f32', { trainer: { total_steps: 2 } });
const b16 = await run('b16', { model: { dtype: 'bfloat16' }, trainer: { total_steps: 2 } });
console.log(`float32: ${JSON.stringify(f32.info)}\nbf16:    ${JSON.stringify(b16.info)}`);
check(b16.info.weights.startsWith('bfloat16') && b16.info.masters.startsWith('float32') && b16.info.masters.includes(device.split(':')[0]!), 'bf16 weights and float32 masters on the device');
check(b16.info.rounded === 0, `bf16 weights = rounded masters (max |diff| ${b16.info.rounded})`);
for (const k of ['actor/pg_loss', 'prm/loss', 'actor/entropy']) console.log(`  step 1 ${k}: float32 ${f32.ms[0]![k]}, bf16 ${b16.ms[0]![k]}`);
check(b16.ms.every((m) => Number.isFinite(m['actor/pg_loss']!) && Number.isFinite(m['prm/loss']!)), 'bf16 losses finite');

const full = await run('full', { model: { dtype: 'bfloat16' } });
await run('split', { model: { dtype: 'bfloat16' }, trainer: { total_steps: 2 } });
const resumed = await run('split', { model: { dtype: 'bfloat16' }, trainer: { total_steps: 4, resume: true } });
const dres = maxDiff(full.masters, resumed.masters);
check(dres === 0, `bf16 resume vs uninterrupted after 4 steps: masters max |diff| ${dres}`);

const sh = await run('sh1', { trainer: { total_steps: 1 }, prm: { mini_batch: 4 } }, { sharedPrompts: true });
const fr = await run('sh0', { trainer: { total_steps: 1 }, prm: { mini_batch: 4 } }, { sharedPrompts: false });
const dm = Math.max(...['reward/process_mean', 'prm/loss', 'actor/pg_loss'].map((k) => Math.abs(sh.ms[0]![k]! - fr.ms[0]![k]!)));
check(dm < 1e-4, `shared prompts vs full rows, one step: metrics max |diff| ${dm.toExponential(2)} (parameters ${maxDiff(sh.masters, fr.masters).toExponential(2)}: AdamW's first step is ±lr)`);
const zero = await run('zero', { trainer: { total_steps: 1 }, prm: { mini_batch: 16 } });
check(zero.ms[0]!['reward/process_mean'] === 0, `untrained PRM, one PRM mini-batch: reward exactly 0 (${zero.ms[0]!['reward/process_mean']})`);
console.log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s, ${fails} failure(s)`);
fs.rmSync(root, { recursive: true, force: true });
process.exit(fails ? 1 : 0);
