/**
 * Offline implicit-PRM fit (src/prime/prm_fit.ts) and Best-of-N end to end (src/prime/bestofn.ts)
 * on a tiny random model. A random model never solves arithmetic, so the label is "the response
 * contains a digit": learnable from the tokens and near 50/50 for 10-token samples.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as torch from '../../src/torch/index.js';
import { loadPretrained } from '../../src/lm/index.js';
import { configFromObject } from '../../src/prime/config.js';
import { loadPromptFiles, writePromptRowsJsonl } from '../../src/prime/data.js';
import { generateSplits, problemToRow } from '../../src/prime/demo/arithmetic.js';
import { createRandomModel } from '../../src/prime/demo/model.js';
import { fitImplicitPrm, runPrmFit, sampleLabelledRollouts, evaluateImplicitPrm, takeGroups } from '../../src/prime/prm_fit.js';
import { runBestOfN } from '../../src/prime/bestofn.js';
import { STEP_AGGREGATES } from '../../src/prime/implicit_prm.js';
import type { Verifier } from '../../src/prime/verifier.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-bestofn-'));
const modelDir = path.join(root, 'model');
const dataFile = path.join(root, 'train.jsonl');
createRandomModel(modelDir, { hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositionEmbeddings: 256 }, 0);
await writePromptRowsJsonl(dataFile, generateSplits(1, 48, 0).train.map((p, i) => problemToRow(p, i, 'train')));
const containsDigit: Verifier = async (_row, text) => ({ score: /[0-9]/.test(text) ? 1 : 0, extracted: text.match(/[0-9]/)?.[0] ?? null });
const quiet = () => {};

test('offline PRM fit: pairwise accuracy on its training data rises from 0.5 (untrained) above 0.6, CE falls', async () => {
  const pol = loadPretrained(modelDir), ref = loadPretrained(modelDir, { tokenizer: false }), prm = loadPretrained(modelDir, { tokenizer: false });
  const tok = pol.tokenizer!;
  const rows = await loadPromptFiles([dataFile]);
  torch.manualSeed(5);
  const so = { samples: 4, maxNewTokens: 10, temperature: 1, stopTokenIds: pol.stopTokenIds, padTokenId: tok.padTokenId! };
  const train = await sampleLabelledRollouts(pol.model, tok, rows.slice(0, 16), containsDigit, so);
  const heldout = await sampleLabelledRollouts(pol.model, tok, rows.slice(16, 28), containsDigit, so);
  assert.equal(train.responses.length, 64);
  const share = train.outcomes.reduce((a, b) => a + b, 0) / 64;
  console.log(`labelled samples: ${(100 * share).toFixed(0)}% contain a digit`);
  evaluateImplicitPrm(prm.model, ref.model, takeGroups(train, 1), { beta: 0.5, padTokenId: tok.padTokenId! }); // builds the RoPE tables
  const live = torch.memory().tensors;
  const history = fitImplicitPrm(prm.model, ref.model, train, heldout, {
    beta: 0.5, lr: 3e-3, epochs: 4, miniBatch: 16, microBatch: 8, seed: 1, padTokenId: tok.padTokenId!, trainProbeGroups: 16, log: console.log,
  });
  assert.equal(torch.memory().tensors, live, 'the fit frees every tensor it made (optimizer state, gradients, reference log-probs)');
  assert.equal(history.length, 5);
  const [first, last] = [history[0]!, history[4]!];
  assert.equal(first.train!.pairwise, 0.5, 'an untrained PRM (= reference) scores every response 0: all pairs tie');
  assert.ok(Math.abs(first.train!.loss - Math.LN2) < 1e-6, `untrained CE is log 2, got ${first.train!.loss}`);
  assert.ok(last.train!.pairwise > 0.6, `pairwise accuracy on the training prompts should rise above 0.6, got ${last.train!.pairwise}`);
  assert.ok(last.train!.loss < first.train!.loss - 0.02, `training CE should fall: ${first.train!.loss} → ${last.train!.loss}`);
  assert.ok(history[1]!.trainLoss > last.trainLoss, `running CE of epoch 1 (${history[1]!.trainLoss}) > epoch 4 (${last.trainLoss})`);
  // the per-epoch figure is the one evaluateImplicitPrm gives on the same data
  const again = evaluateImplicitPrm(prm.model, ref.model, train, { beta: 0.5, padTokenId: tok.padTokenId!, microBatch: 5 });
  assert.ok(Math.abs(again.pairwise - last.train!.pairwise) < 1e-12 && Math.abs(again.loss - last.train!.loss) < 1e-5);
  assert.throws(() => fitImplicitPrm(prm.model, prm.model, train, null, { beta: 0.5, lr: 1e-3, epochs: 1, miniBatch: 4, microBatch: 4, seed: 1, padTokenId: 0 }), /separate models/);
  assert.throws(() => fitImplicitPrm(prm.model, ref.model, { ...train, outcomes: train.outcomes.slice(1) }, null, { beta: 0.5, lr: 1e-3, epochs: 1, miniBatch: 4, microBatch: 4, seed: 1, padTokenId: 0 }), /63 outcomes for 64 responses/);
  // the 'dpo' loss (whole groups per mini-batch): the pairwise accuracy on its training prompts rises too
  assert.throws(() => fitImplicitPrm(prm.model, ref.model, train, null, { beta: 0.5, lr: 1e-3, epochs: 1, miniBatch: 6, microBatch: 4, seed: 1, padTokenId: 0, loss: 'dpo' }), /multiples of K=4/);
  const dpo = loadPretrained(modelDir, { tokenizer: false });
  const hd = fitImplicitPrm(dpo.model, ref.model, train, null, {
    beta: 0.5, lr: 3e-3, epochs: 4, miniBatch: 16, microBatch: 8, seed: 1, padTokenId: tok.padTokenId!, trainProbeGroups: 16, loss: 'dpo', log: console.log,
  });
  assert.equal(hd[0]!.train!.pairwise, 0.5);
  assert.ok(hd[4]!.train!.pairwise > 0.6, `DPO fit: pairwise accuracy on the training prompts should rise above 0.6, got ${hd[4]!.train!.pairwise}`);
  assert.ok(hd[1]!.trainLoss > hd[4]!.trainLoss, `DPO fit: running loss of epoch 1 (${hd[1]!.trainLoss}) > epoch 4 (${hd[4]!.trainLoss})`);
  for (const p of [pol, ref, prm, dpo]) p.model.dispose();
});

test('sampleLabelledRollouts with topK 1 (rollout.top_k for prm-train) draws the greedy response every time', async () => {
  const pol = loadPretrained(modelDir);
  const tok = pol.tokenizer!;
  const rows = (await loadPromptFiles([dataFile])).slice(0, 3);
  const base = { maxNewTokens: 8, temperature: 1, stopTokenIds: pol.stopTokenIds, padTokenId: tok.padTokenId! };
  const top1 = await sampleLabelledRollouts(pol.model, tok, rows, containsDigit, { ...base, samples: 3, topK: 1 });
  const greedy = (await sampleLabelledRollouts(pol.model, tok, rows, containsDigit, { ...base, samples: 1, temperature: 1e-6 })).responses;
  top1.responses.forEach((r, k) => assert.deepEqual(r, greedy[Math.floor(k / 3)], `sample ${k}`));
  const free = await sampleLabelledRollouts(pol.model, tok, rows, containsDigit, { ...base, samples: 3 });
  assert.ok(free.responses.some((r, k) => JSON.stringify(r) !== JSON.stringify(greedy[Math.floor(k / 3)])), 'without top-k the samples differ from greedy (the check is not vacuous)');
  pol.model.dispose();
});

test('prime prm-train (runPrmFit) writes a loadable PRM; runBestOfN reports metrics in [0, 1], pick ≤ pass@N, = avg@N untrained', async () => {
  const out = path.join(root, 'prm');
  const cfg = configFromObject({
    model: { path: modelDir },
    data: { train_files: [dataFile], max_prompt_length: 96, max_response_length: 10, seed: 3 },
    rollout: { n: 4, micro_batch: 16 },
    algorithm: { beta: 0.5 },
    prm: { lr: 3e-3, micro_batch: 8 },
    prm_fit: { prompts: 24, heldout_prompts: 12, epochs: 3, mini_batch: 16, output_dir: out },
    trainer: { seed: 7 },
  });
  const fit = await runPrmFit(cfg, quiet, { verifier: containsDigit });
  assert.equal(fit.trainSamples, 96);
  assert.equal(fit.heldoutSamples, 48);
  const saved = JSON.parse(fs.readFileSync(path.join(out, 'prm-fit.json'), 'utf8'));
  assert.equal(saved.history.length, 4);
  const p = loadPretrained(out);
  assert.ok(p.tokenizer, 'the PRM directory carries the tokenizer');
  p.model.dispose();
  console.log('prm-train held-out pairwise by epoch:', fit.history.map((e) => e.heldout!.pairwise.toFixed(3)).join(' '), '| train probe:', fit.history.map((e) => e.train!.pairwise.toFixed(3)).join(' '));

  const common = { model: modelDir, data: dataFile, samples: 4, limit: 16, maxNewTokens: 10, beta: 0.5, seed: 11, verifier: containsDigit };
  const r = await runBestOfN({ ...common, prm: out });
  const untrained = await runBestOfN({ ...common, prm: modelDir });
  console.log('Best-of-4, fitted PRM:', JSON.stringify({ ...r.bestOfNByAggregate, maj: r.majAtN, avg: r.avgAtN, pass: r.passAtN, pairwise: r.prmPairwise, auc: r.prmAuc }));
  console.log('Best-of-4, untrained PRM:', JSON.stringify(untrained.bestOfNByAggregate));
  for (const [k, v] of Object.entries({ bestOfN: r.bestOfN, majAtN: r.majAtN, avgAtN: r.avgAtN, passAtN: r.passAtN, prmPairwise: r.prmPairwise, ...r.bestOfNByAggregate }))
    assert.ok(v >= 0 && v <= 1, `${k} = ${v} outside [0, 1]`);
  assert.ok(r.prmAuc >= 0 && r.prmAuc <= 1, `AUC ${r.prmAuc}`);
  assert.equal(r.prompts, 16);
  assert.equal(r.bestOfN, r.bestOfNByAggregate.min, 'default aggregate: min');
  assert.ok(r.meanSteps >= 1);
  for (const a of STEP_AGGREGATES) {
    assert.ok(r.bestOfNByAggregate[a] <= r.passAtN + 1e-12, `${a}: pick ${r.bestOfNByAggregate[a]} > pass@N ${r.passAtN}`);
    assert.ok(Math.abs(untrained.bestOfNByAggregate[a] - untrained.avgAtN) < 1e-12, `untrained PRM (every score 0) picks at random: ${a} ${untrained.bestOfNByAggregate[a]} ≠ avg@N ${untrained.avgAtN}`);
  }
  // same seed, same policy: the same samples, so the baselines agree
  assert.deepEqual([untrained.avgAtN, untrained.majAtN, untrained.passAtN], [r.avgAtN, r.majAtN, r.passAtN]);
  assert.equal(untrained.prmPairwise, 0.5);
  // every vote weighs σ(0) = 0.5 under an untrained PRM: the weighted vote is majority vote, tie rule included
  assert.equal(untrained.weightedMajAtN, untrained.majAtN);
  assert.ok(r.weightedMajAtN >= 0 && r.weightedMajAtN <= r.passAtN + 1e-12);
});

test('prime eval --rerank prm and prime prm-train on the command line: runs, rejects a bad aggregate or key', () => {
  const cli = path.join(here, '../../src/prime/cli.js');
  const args = ['eval', '--rerank', 'prm', '--model', modelDir, '--prm', modelDir, '--data', dataFile, '--samples', '2', '--limit', '3', '--max-new-tokens', '6'];
  const ok = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  const j = JSON.parse(ok.stdout);
  for (const k of ['bestOfN', 'majAtN', 'avgAtN', 'passAtN', 'bestOfNByAggregate', 'prmPairwise']) assert.ok(k in j, `output lacks ${k}`);
  assert.equal(j.prompts, 3);
  assert.equal(j.samples, 2);
  const bad = spawnSync(process.execPath, [cli, ...args, '--aggregate', 'max'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--aggregate: expected one of min \| sum \| mean \| token_mean, got 'max'/);
  const help = spawnSync(process.execPath, [cli, 'prm-train', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /prm_fit\.heldout_prompts/);
  const typo = spawnSync(process.execPath, [cli, 'prm-train', `model.path=${modelDir}`, `data.train_files=${dataFile}`, 'prm_fit.epoch=2'], { encoding: 'utf8' });
  assert.equal(typo.status, 1);
  assert.match(typo.stderr, /unknown key 'prm_fit.epoch' \(did you mean 'prm_fit.epochs'\?\)/);
});
