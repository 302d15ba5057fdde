// Validation during training (trainer.eval_every, data.val_files, eval.greedy, eval.samples,
// trainer.keep_best), reward.functions components, and phase progress, on a tiny random model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadPretrained } from '../../src/lm/index.js';
import { PrimeTrainer } from '../../src/prime/trainer.js';
import { configFromObject, type PrimeConfig } from '../../src/prime/config.js';
import { loadPromptFiles, writePromptRowsJsonl } from '../../src/prime/data.js';
import { generateSplits, problemToRow } from '../../src/prime/demo/arithmetic.js';
import { createRandomModel } from '../../src/prime/demo/model.js';
import { readMetrics } from '../../src/prime/metrics.js';
import { evaluateModel } from '../../src/prime/evaluate.js';
import { TrainingValidation, validationDue, validationMetricNames, type ValidationHost } from '../../src/prime/validation.js';
import type { ProgressEvent } from '../../src/prime/progress.js';
import { plotRuns } from '../../src/prime/plot.js';
import type { Verifier } from '../../src/prime/verifier.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-validation-'));
process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));
const modelDir = path.join(root, 'model');
const trainFile = path.join(root, 'train.jsonl');
const valFile = path.join(root, 'val.jsonl');
createRandomModel(modelDir, { hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositionEmbeddings: 256 }, 0);
const splits = generateSplits(1, 48, 7);
await writePromptRowsJsonl(trainFile, splits.train.map((p, i) => problemToRow(p, i, 'train')));
await writePromptRowsJsonl(valFile, splits.test.map((p, i) => problemToRow(p, i, 'test')));
// a random tiny model never solves arithmetic: a label near 50/50 for it, that varies between
// prompts and responses (parity of the response's character codes plus the row index)
const parityModule = path.join(root, 'parity.mjs');
const parity = (text: string, row: number) => ([...text].reduce((a, ch) => a + ch.charCodeAt(0), 0) + row) % 2;
fs.writeFileSync(parityModule, `export default function (response, row) { return ([...response].reduce((a, ch) => a + ch.charCodeAt(0), 0) + row.row) % 2; }\n`);
const parityVerifier: Verifier = async (row, text) => ({ score: parity(text, row.row) });

const vals0 = (ms: Record<string, number>[]) => ms.filter((m) => 'val/accuracy' in m).map((m) => m['val/accuracy']!);

function config(out: string, over: Record<string, Record<string, unknown>> = {}): PrimeConfig {
  const base: Record<string, Record<string, unknown>> = {
    model: { path: modelDir },
    data: { train_files: [trainFile], val_files: [valFile], max_prompt_length: 96, max_response_length: 10, seed: 3 },
    rollout: { n: 4, batch_prompts: 4, micro_batch: 16, oversample: 2 },
    algorithm: { beta: 0.5 },
    actor: { lr: 2e-3, mini_batch: 8, micro_batch: 4 },
    prm: { lr: 3e-3, micro_batch: 8 },
    trainer: { total_steps: 3, save_every: 0, eval_every: 2, output_dir: out, seed: 11, log_every: 1, keep_best: 'val/accuracy' },
    eval: { greedy: true, samples: 3 },
    reward: { functions: [{ module: parityModule, weight: 1 }, { name: 'math', weight: 0 }] },
  };
  for (const [s, v] of Object.entries(over)) base[s] = { ...base[s], ...v };
  return configFromObject(base as never);
}

test('which steps validate and which val/* metrics a config logs', () => {
  const c = config(path.join(root, 'x'));
  assert.deepEqual([0, 1, 2, 3].map((s) => validationDue(c, s)), [true, false, true, true]); // before, every 2, and the last
  assert.deepEqual(validationMetricNames(c), ['val/accuracy', 'val/avg@3', 'val/maj@3', 'val/pass@3']);
  assert.deepEqual(validationMetricNames({ eval: { greedy: false, samples: 1 } }), ['val/avg@1']);
  assert.deepEqual(validationMetricNames({ eval: { greedy: true, samples: 1 } }), ['val/accuracy']);
  const never = config(path.join(root, 'x'), { trainer: { eval_every: 0, keep_best: '' } });
  assert.deepEqual([0, 1, 2, 3].map((s) => validationDue(never, s)), [false, false, false, false]);
  const noBefore = config(path.join(root, 'x'), { trainer: { val_before_train: false } });
  assert.equal(validationDue(noBefore, 0), false);
  assert.throws(() => config(path.join(root, 'x'), { trainer: { keep_best: 'val/avg@4' } }), /trainer\.keep_best: 'val\/avg@4' is not a validation metric of this config \(it logs val\/accuracy, val\/avg@3, val\/maj@3, val\/pass@3\)/);
});

test('training validates every eval_every steps and at the end, logs val/* and reward/<name>, keeps the best policy, reports progress', async () => {
  const out = path.join(root, 'run');
  const cfg = config(out);
  const events: ProgressEvent[] = [];
  const lines: string[] = [];
  const t = await PrimeTrainer.create(cfg, { log: (l) => lines.push(l), onProgress: (e) => events.push({ ...e }) });
  await t.train();
  const ms = readMetrics(path.join(out, 'metrics.jsonl'));
  assert.deepEqual(ms.map((m) => m.step), [0, 1, 2, 3]);
  const valKeys = ['val/accuracy', 'val/avg@3', 'val/maj@3', 'val/pass@3', 'val/response_length', 'val/prompts'];
  for (const m of ms) {
    const validated = m.step !== 1;
    for (const k of valKeys) assert.equal(k in m, validated, `${k} at step ${m.step}`);
    if (!validated) continue;
    assert.equal(m['val/prompts'], 7);
    for (const k of valKeys.slice(0, 4)) assert.ok(m[k]! >= 0 && m[k]! <= 1, `${k} in [0, 1]`);
    assert.ok(m['val/pass@3']! >= m['val/avg@3']! - 1e-12 && m['val/pass@3']! >= m['val/maj@3']! - 1e-12, 'pass@K ≥ avg@K, maj@K');
  }
  // the progress line shows the validation metrics
  assert.ok(lines.some((l) => /^step 2\/3 .*val\/accuracy/.test(l)), lines.join('\n'));
  // reward.functions: score = 1·parity + 0·math, so reward/parity = rollout/accuracy
  let maxDiff = 0;
  for (const m of ms.filter((x) => x.step > 0)) {
    assert.ok('reward/parity' in m && 'reward/math' in m);
    maxDiff = Math.max(maxDiff, Math.abs(m['reward/parity']! - m['rollout/accuracy']!));
    assert.equal(m['reward/math'], 0); // a random model never solves the arithmetic
  }
  console.log(`reward/parity vs rollout/accuracy: max |diff| = ${maxDiff}`);
  assert.ok(maxDiff < 1e-12);

  // val/accuracy at the last step = an independent greedy evaluation of the final policy
  const rows = await loadPromptFiles([valFile]);
  const opts = { samples: 1, greedy: true, maxNewTokens: 10, stopTokenIds: t.stopTokenIds, padTokenId: t.padId, batch: 5 };
  const final = await evaluateModel(t.policy, t.tokenizer, rows, parityVerifier, opts);
  console.log(`val/accuracy by step: ${ms.filter((m) => 'val/accuracy' in m).map((m) => `${m.step}: ${m['val/accuracy']}`).join(', ')}; direct evaluation of the final policy: ${final.avgAtK}`);
  assert.equal(ms.at(-1)!['val/accuracy'], final.avgAtK);
  assert.ok(vals0(ms).some((v) => v > 0 && v < 1), 'a validation label that is not constant (else the comparisons prove little)');

  // keep_best: best/ holds the first policy that reached the highest val/accuracy
  const vals = ms.filter((m) => 'val/accuracy' in m);
  const top = Math.max(...vals.map((m) => m['val/accuracy']!));
  const best = JSON.parse(fs.readFileSync(path.join(out, 'best', 'best.json'), 'utf8')) as { metric: string; value: number; step: number };
  assert.deepEqual(best, { metric: 'val/accuracy', value: top, step: vals.find((m) => m['val/accuracy'] === top)!.step });
  const kept = loadPretrained(path.join(out, 'best'));
  const again = await evaluateModel(kept.model, kept.tokenizer!, rows, parityVerifier, opts);
  assert.equal(again.avgAtK, best.value, 'the kept policy scores what best.json says');
  kept.model.dispose();

  // the run's plot has the validation curves; its TensorBoard file sits beside metrics.jsonl
  const plotted = await plotRuns([out]);
  const svg = fs.readFileSync(plotted.written[0]!, 'utf8');
  for (const k of ['val/accuracy', 'val/pass@3', 'reward/parity']) assert.ok(svg.includes(`>${k}</text>`), `plot panel ${k}`);
  assert.ok(fs.readdirSync(out).some((f) => f.startsWith('events.out.tfevents.')));

  // progress: every phase of every step reported, ending with done = total
  for (const step of [1, 2, 3]) {
    for (const phase of ['rollout', 'score', 'update'] as const) {
      const evs = events.filter((e) => e.step === step && e.phase === phase);
      assert.ok(evs.length > 0, `${phase} events at step ${step}`);
      assert.ok(evs.every((e) => e.done <= e.total), `${phase}: done ≤ total`);
      assert.equal(evs.at(-1)!.done, evs.at(-1)!.total, `${phase} at step ${step} ends complete`);
    }
    const upd = events.filter((e) => e.step === step && e.phase === 'update').at(-1)!;
    assert.equal(upd.total, 16 * cfg.actor.ppo_epochs); // 4 prompts × 4 samples
    assert.ok(upd.tokens! > 0);
  }
  for (const step of [0, 2, 3]) assert.equal(events.filter((e) => e.step === step && e.phase === 'validate').at(-1)!.done, 14); // 7 prompts × (greedy + sampled)
  assert.equal(events.filter((e) => e.step === 1 && e.phase === 'validate').length, 0);
  t.dispose();
});

test('eval.greedy: false with eval.samples: 1 logs val/avg@1 only; eval_every: 0 creates no validation', async () => {
  const cfg = config(path.join(root, 'sampled'), { eval: { greedy: false, samples: 1 }, trainer: { keep_best: '' } });
  const pre = loadPretrained(modelDir);
  const host: ValidationHost = {
    cfg, policy: pre.model, tokenizer: pre.tokenizer!, verifier: parityVerifier, stopTokenIds: pre.stopTokenIds, padId: pre.tokenizer!.padTokenId ?? 0,
    promptIds: (r) => pre.tokenizer!.encodeChat(r.messages, { addGenerationPrompt: true }),
    parallel: { rank: 0, world: 1, reduce: (xs) => xs },
  };
  const v = (await TrainingValidation.create(host))!;
  const m = await v.run(host, 2);
  assert.deepEqual(Object.keys(m).filter((k) => k.startsWith('val/')).sort(), ['val/avg@1', 'val/prompts', 'val/response_length']);
  assert.equal(await TrainingValidation.create({ ...host, cfg: config(path.join(root, 'off'), { trainer: { eval_every: 0, keep_best: '' } }) }), null);
  pre.model.dispose();
});

test('data-parallel: rank r answers prompts i ≡ r (mod W); the all-reduced sums give the 1-process metrics', async () => {
  const cfg = config(path.join(root, 'dp'), { eval: { greedy: true, samples: 1 }, trainer: { keep_best: '' } });
  const pre = loadPretrained(modelDir);
  const host = (rank: number, world: number, reduce: (xs: number[]) => number[]): ValidationHost => ({
    cfg, policy: pre.model, tokenizer: pre.tokenizer!, verifier: parityVerifier, stopTokenIds: pre.stopTokenIds, padId: pre.tokenizer!.padTokenId ?? 0,
    promptIds: (r) => pre.tokenizer!.encodeChat(r.messages, { addGenerationPrompt: true }),
    parallel: { rank, world, reduce },
  });
  const single = await (await TrainingValidation.create(host(0, 1, (xs) => xs)))!.run(host(0, 1, (xs) => xs), 1);
  // "rank 1" runs first and hands its sums to "rank 0", whose reduce adds them (an all-reduce of 2)
  let fromRank1: number[] = [];
  const h1 = host(1, 2, (xs) => ((fromRank1 = xs.slice()), xs));
  await (await TrainingValidation.create(h1))!.run(h1, 1);
  const h0 = host(0, 2, (xs) => xs.map((x, i) => x + fromRank1[i]!));
  const dp = await (await TrainingValidation.create(h0))!.run(h0, 1);
  console.log(`validation, 1 process vs 2 shards: val/accuracy ${single['val/accuracy']} vs ${dp['val/accuracy']}, prompts ${single['val/prompts']} vs ${dp['val/prompts']}`);
  assert.equal(dp['val/prompts'], 7);
  assert.ok(Math.abs(dp['val/accuracy']! - single['val/accuracy']!) < 1e-12);
  assert.ok(Math.abs(dp['val/response_length']! - single['val/response_length']!) < 1e-9);
  pre.model.dispose();
});
