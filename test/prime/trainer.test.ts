import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as torch from '../../src/torch/index.js';
import { loadPretrained } from '../../src/lm/index.js';
import { PrimeTrainer } from '../../src/prime/trainer.js';
import { configFromObject, type PrimeConfig } from '../../src/prime/config.js';
import { loadPromptFiles, writePromptRowsJsonl } from '../../src/prime/data.js';
import { probeRowsFromTraining } from '../../src/prime/trainer/prm.js';
import { chooseFitPrompts } from '../../src/prime/prm_fit.js';
import { generateSplits, problemToRow } from '../../src/prime/demo/arithmetic.js';
import { createRandomModel } from '../../src/prime/demo/model.js';
import { readMetrics } from '../../src/prime/metrics.js';
import { latestCheckpoint } from '../../src/prime/checkpoint.js';
import type { Verifier } from '../../src/prime/verifier.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-trainer-'));
const modelDir = path.join(root, 'model');
const dataFile = path.join(root, 'train.jsonl');
createRandomModel(modelDir, { hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositionEmbeddings: 256 }, 0);
await writePromptRowsJsonl(dataFile, generateSplits(1, 48, 0).train.map((p, i) => problemToRow(p, i, 'train')));

/** A random tiny model never solves arithmetic; this label is learnable and near 50/50 for it. */
const containsDigit: Verifier = async (_row, text) => ({ score: /[0-9]/.test(text) ? 1 : 0 });

function config(out: string, over: Record<string, unknown> = {}): PrimeConfig {
  return configFromObject({
    model: { path: modelDir },
    data: { train_files: [dataFile], max_prompt_length: 96, max_response_length: 10, seed: 3 },
    rollout: { n: 4, batch_prompts: 4, micro_batch: 16, oversample: 2 },
    algorithm: { beta: 0.5 },
    actor: { lr: 2e-3, mini_batch: 8, micro_batch: 4 },
    prm: { lr: 3e-3, micro_batch: 8 },
    trainer: { total_steps: 4, save_every: 2, output_dir: out, seed: 11, log_every: 1 },
    ...over,
  } as never);
}
const quiet = () => {};
const paramsOf = (m: { namedParameters(): [string, torch.Tensor][] }) => new Map(m.namedParameters().map(([n, p]) => [n, p.detach().clone()]));

const REQUIRED_METRICS = [
  'rollout/accuracy', 'filter/kept_fraction', 'reward/outcome_mean', 'reward/process_mean', 'prm/loss', 'prm/accuracy', 'prm/grad_norm',
  'advantage/mean', 'advantage/std', 'actor/pg_loss', 'actor/clip_fraction', 'actor/approx_kl', 'actor/entropy', 'actor/grad_norm',
  'response/length_mean', 'response/length_max', 'response/truncated_fraction', 'time/rollout', 'time/score_prm', 'time/policy_update',
  'time/step', 'throughput/tokens_per_s',
];

test('end to end: every policy and PRM parameter changes, metrics are complete, the PRM learns the labels', async () => {
  const out = path.join(root, 'run-a');
  const t = await PrimeTrainer.create(config(out), { verifier: containsDigit, log: quiet });
  const p0 = paramsOf(t.policy), r0 = paramsOf(t.prm);
  // a fixed labelled set of rollouts, scored by the PRM before and after training
  const probe = await t.rollout(t.dataset.next(6));
  const probeLoss = () => prmProbeLoss(t, probe);
  const before = probeLoss();
  await t.train();
  const after = probeLoss();
  const changed = (a: Map<string, torch.Tensor>, b: [string, torch.Tensor][]) => b.filter(([n, p]) => torch.tidy(() => p.detach().sub(a.get(n)!).abs().max().item()) === 0).map(([n]) => n);
  assert.deepEqual(changed(p0, t.policy.namedParameters()), [], 'policy parameters that did not change');
  assert.deepEqual(changed(r0, t.prm.namedParameters()), [], 'PRM parameters that did not change');
  const ms = readMetrics(path.join(out, 'metrics.jsonl'));
  assert.deepEqual(ms.map((m) => m.step), [1, 2, 3, 4]);
  for (const m of ms) for (const k of REQUIRED_METRICS) assert.ok(k in m && Number.isFinite(m[k]), `metric ${k} missing or not finite at step ${m.step}`);
  console.log(`PRM BCE on a fixed probe set: before ${before.toFixed(4)} (log 2 = 0.6931: PRM = reference), after ${after.toFixed(4)}`);
  console.log('prm/accuracy by step:', ms.map((m) => m['prm/accuracy']!.toFixed(2)).join(' '));
  assert.ok(Math.abs(before - Math.LN2) < 1e-6, 'an untrained PRM equals the reference: s = 0, loss = log 2');
  assert.ok(after < before - 0.01, `PRM loss on the probe set should fall: ${before} → ${after}`);
  assert.ok(latestCheckpoint(path.join(out, 'checkpoints'))!.endsWith('step-000004'));
  t.dispose();
});

/** Mean BCE of the trainer's PRM on given rollout groups (labels = their scores). */
function prmProbeLoss(t: PrimeTrainer, groups: Awaited<ReturnType<PrimeTrainer['rollout']>>): number {
  const prompts = groups.flatMap((g) => g.sample.responses.map(() => g.sample.promptIds));
  const responses = groups.flatMap((g) => g.sample.responses.map((r) => r.ids));
  return t.prmLossOn(prompts, responses, groups.flatMap((g) => g.scores));
}

/** Runs 4 steps straight and 2 + resume + 2 with the config overrides `extra`; asserts the same metrics and policy. */
async function checkResume(tag: string, extra: Record<string, unknown>): Promise<void> {
  const full = path.join(root, `run-full${tag}`), split = path.join(root, `run-split${tag}`);
  const a = await PrimeTrainer.create(config(full, extra), { verifier: containsDigit, log: quiet });
  await a.train();
  a.dispose();
  const b1 = await PrimeTrainer.create(config(split, { ...extra, trainer: { total_steps: 2, save_every: 2, output_dir: split, seed: 11 } }), { verifier: containsDigit, log: quiet });
  await b1.train();
  b1.dispose();
  const b2 = await PrimeTrainer.create(config(split, { ...extra, trainer: { total_steps: 4, save_every: 2, output_dir: split, seed: 11, resume: true } }), { verifier: containsDigit, log: quiet });
  assert.equal(b2.step, 2);
  const replay = (extra.prm as { replay_steps?: number } | undefined)?.replay_steps ?? 0;
  assert.equal(b2.prmReplayBuffer.length, Math.min(2, replay), 'the PRM replay buffer comes back with the checkpoint');
  await b2.train();
  b2.dispose();
  const ma = readMetrics(path.join(full, 'metrics.jsonl')), mb = readMetrics(path.join(split, 'metrics.jsonl'));
  assert.deepEqual(mb.map((m) => m.step), [1, 2, 3, 4]);
  let worst = 0;
  for (const [i, m] of ma.entries())
    for (const [k, v] of Object.entries(m)) {
      if (k.startsWith('time/') || k.startsWith('throughput/') || k.startsWith('perf/mfu') || k.startsWith('perf/sgemm')) continue; // timings
      const d = Math.abs(v - (mb[i]![k] as number));
      worst = Math.max(worst, d);
      assert.ok(d <= 1e-6, `step ${m.step} ${k}: uninterrupted ${v} vs resumed ${mb[i]![k]}`);
    }
  console.log(`resume vs uninterrupted${tag}: max metric difference ${worst}`);
  const pa = loadPretrained(path.join(latestCheckpoint(path.join(full, 'checkpoints'))!, 'policy')).model;
  const pb = loadPretrained(path.join(latestCheckpoint(path.join(split, 'checkpoints'))!, 'policy')).model;
  const diff = Math.max(...pa.namedParameters().map(([n, p], i) => torch.tidy(() => p.sub(pb.namedParameters()[i]![1]).abs().max().item())));
  console.log(`resume vs uninterrupted${tag}: max policy parameter difference ${diff}`);
  assert.ok(diff <= 1e-6);
  pa.dispose();
  pb.dispose();
}

test('resume from a checkpoint reproduces the uninterrupted run', async () => {
  await checkResume('', {});
});

test('resume with PRM replay (prm.replay_steps 2, prm.rpo_alpha 0.5): the checkpoint keeps the replay buffer, the run continues exactly', async () => {
  await checkResume('-replay', { prm: { lr: 3e-3, micro_batch: 8, replay_steps: 2, rpo_alpha: 0.5 } });
});

test('kill -9 during checkpoint writes leaves the previous checkpoint loadable', () => {
  const out = path.join(root, 'run-kill');
  const script = path.join(here, 'kill-during-save.js');
  // the child trains 1 step, saves, then is SIGKILLed at a chosen point inside the second save
  for (const when of ['policy', 'optimizer', 'state']) {
    fs.rmSync(out, { recursive: true, force: true });
    const r = spawnSync(process.execPath, [script, JSON.stringify({ modelDir, dataFile, out, when })], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.signal, 'SIGKILL', `child should die by SIGKILL (stderr: ${r.stderr})`);
    const ck = latestCheckpoint(path.join(out, 'checkpoints'));
    assert.ok(ck && ck.endsWith('step-000001'), `latest checkpoint after a kill during '${when}': ${ck}`);
    const m = loadPretrained(path.join(ck, 'policy')).model;
    assert.ok(m.numParameters() > 0);
    m.dispose();
  }
});

test('bad data and config errors name the file, row and key', async () => {
  const bad = path.join(root, 'bad.jsonl');
  fs.writeFileSync(bad, fs.readFileSync(dataFile, 'utf8').split('\n').slice(0, 2).join('\n') + '\n{"data_source":"x","prompt":[{"role":"user","content":"hi"}],"ability":"math"}\n');
  await assert.rejects(PrimeTrainer.create(config(path.join(root, 'run-bad'), { data: { train_files: [bad] } }), { verifier: containsDigit, log: quiet }), (e: Error) => {
    assert.match(e.message, /bad\.jsonl/);
    assert.match(e.message, /row 2/);
    assert.match(e.message, /reward_model/);
    return true;
  });
  // With the default verifier, a row no verifier handles fails when the data loads, not when drawn.
  const unknown = path.join(root, 'no-verifier.jsonl');
  fs.writeFileSync(unknown, fs.readFileSync(dataFile, 'utf8').split('\n').slice(0, 2).join('\n') +
    '\n{"data_source":"lab","prompt":[{"role":"user","content":"hi"}],"ability":"chemistry","reward_model":{"ground_truth":"H2O"}}\n');
  await assert.rejects(PrimeTrainer.create(config(path.join(root, 'run-no-verifier'), { data: { train_files: [unknown] } }), { log: quiet }),
    /no-verifier\.jsonl: row 2 \(line 3\): Unknown verifier: no verifier registered for data_source "lab" or ability "chemistry"/);
  assert.throws(() => config(root, { algorithm: { betaa: 1 } }), /algorithm\.betaa.*algorithm\.beta/s);
});

test("rollout.buffer: 'prompts' re-queues surplus prompts and trains on no stale response; 'responses' keeps the groups", async () => {
  const over = { rollout: { n: 4, batch_prompts: 2, micro_batch: 16, oversample: 4 }, filter: { enable: true, low: 0, high: 1 } }; // keeps every group
  const pr = await PrimeTrainer.create(config(path.join(root, 'buf-prompts'), { ...over, rollout: { ...over.rollout, buffer: 'prompts' } }), { verifier: containsDigit, log: quiet });
  const m1 = await pr.trainStep();
  // 8 prompts drawn, 2 trained on: the other 6 wait as prompts, with no responses kept
  assert.equal(pr.buffer.size, 0);
  assert.equal(pr.requeue.length, 6);
  const queued = pr.requeue.map((i) => pr.dataset.rows[i]!.row);
  const m2 = await pr.trainStep();
  console.log(`prompts mode: step 1 drew ${m1['rollout/prompts_drawn']}, re-queued ${queued.join(',')}; step 2 drew ${m2['rollout/prompts_drawn']} (re-queued ${m2['rollout/requeued_prompts']})`);
  assert.equal(m2['rollout/requeued_prompts'], 6, 'step 2 samples the 6 re-queued prompts first (then 2 new ones)');
  assert.equal(pr.requeue.length, 6);
  pr.dispose();
  const rs = await PrimeTrainer.create(config(path.join(root, 'buf-responses'), { ...over, rollout: { ...over.rollout, buffer: 'responses' } }), { verifier: containsDigit, log: quiet });
  await rs.trainStep();
  assert.equal(rs.buffer.size, 6);
  assert.equal(rs.requeue.length, 0);
  rs.dispose();
});

test('PRM probe: held-out rows leave training, metrics logged every prm.probe_every steps, probe survives resume', async () => {
  const out = path.join(root, 'probe');
  const over = { prm: { lr: 3e-3, micro_batch: 8, probe_every: 2, probe_prompts: 4 }, trainer: { total_steps: 2, save_every: 2, output_dir: out, seed: 11, log_every: 1 } };
  const t = await PrimeTrainer.create(config(out, over), { verifier: containsDigit, log: quiet });
  assert.equal(t.probe!.outcomes.length, 16);
  assert.equal(t.dataset.size, 48 - 4);
  // the rows held out are probeRowsFromTraining's (what an offline warm-start fit must keep off),
  // and chooseFitPrompts with them excluded trains and holds out only other training rows
  const rows = await loadPromptFiles([dataFile]);
  const held = probeRowsFromTraining(rows, 3, 4);
  assert.deepEqual(rows.filter((r) => t.excludedFromTraining(r)).map((r) => r.row).sort(), held.map((r) => r.row).sort(), 'the trainer holds out probeRowsFromTraining(rows, data.seed, prm.probe_prompts)');
  const heldKeys = new Set(held.map((r) => r.row));
  const fit = chooseFitPrompts(rows, (r) => heldKeys.has(r.row), 50, 3, 7);
  assert.equal(fit.heldout.length, 3);
  assert.equal(fit.train.length, 48 - 4 - 3, 'every training row left, fewer than asked');
  const fitRows = [...fit.train, ...fit.heldout].map((r) => r.row);
  assert.equal(new Set(fitRows).size, fitRows.length, 'no row twice');
  assert.ok(fitRows.every((r) => !heldKeys.has(r)), 'no probe row in the fit');
  assert.ok(fit.train.every((r) => !t.excludedFromTraining(r)));
  assert.deepEqual(chooseFitPrompts(rows, (r) => heldKeys.has(r.row), 50, 3, 7), fit, 'deterministic');
  assert.equal(chooseFitPrompts(rows, (r) => heldKeys.has(r.row), 10, 3, 7).train.length, 10);
  assert.notDeepEqual(chooseFitPrompts(rows, (r) => heldKeys.has(r.row), 50, 3, 8).heldout, fit.heldout, 'seeded');
  assert.throws(() => chooseFitPrompts(rows, () => true, 4, 0, 1), /no training prompt left/);
  const ms = await t.train();
  assert.ok(!('prm/heldout_auc' in ms[0]!) && 'prm/heldout_auc' in ms[1]!);
  for (const k of ['prm/heldout_pairwise', 'prm/heldout_loss', 'prm/accuracy_sign', 'reward/process_norm_scale']) assert.ok(Number.isFinite(ms[1]![k]), k);
  const probe = JSON.stringify(t.probe);
  t.dispose();
  const r = await PrimeTrainer.create(config(out, { ...over, trainer: { ...over.trainer, total_steps: 3, resume: true } }), { verifier: containsDigit, log: quiet });
  assert.equal(JSON.stringify(r.probe), probe, 'the resumed run measures on the same probe');
  assert.equal(r.dataset.size, 48 - 4);
  r.dispose();
});
