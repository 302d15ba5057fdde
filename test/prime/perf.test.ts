import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import { makeConfig } from '../../src/lm/index.js';
import { PrimeTrainer } from '../../src/prime/trainer.js';
import { configFromObject } from '../../src/prime/config.js';
import { writePromptRowsJsonl } from '../../src/prime/data.js';
import { generateSplits, problemToRow } from '../../src/prime/demo/arithmetic.js';
import { createRandomModel } from '../../src/prime/demo/model.js';
import { forwardFlops, generationFlops, trainFlops, sgemmPeakFlops, mfu, stepPerfMetrics } from '../../src/prime/perf.js';

const PY = process.env.PRIME_PYTHON ?? path.resolve('.venv/bin/python');

// A Qwen2 shape with GQA, a head_dim different from D/H's default, and an untied lm_head.
const SPEC = { modelType: 'qwen2' as const, vocabSize: 97, hiddenSize: 48, intermediateSize: 80, numLayers: 3, numHeads: 4, numKvHeads: 2, maxPositionEmbeddings: 64, tieWordEmbeddings: false };

test('forward and forward+backward FLOPs match torch FlopCounterMode on HF Qwen2 (sdpa, full attention count)', () => {
  const cfg = makeConfig(SPEC);
  const S = 13, B = 2;
  const code = `
import json, sys, torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import Qwen2Config, Qwen2ForCausalLM
c = Qwen2Config(vocab_size=${cfg.vocabSize}, hidden_size=${cfg.hiddenSize}, intermediate_size=${cfg.intermediateSize}, num_hidden_layers=${cfg.numLayers},
    num_attention_heads=${cfg.numHeads}, num_key_value_heads=${cfg.numKvHeads}, head_dim=${cfg.headDim}, max_position_embeddings=64, tie_word_embeddings=False)
c._attn_implementation = "sdpa"
m = Qwen2ForCausalLM(c)
ids = torch.randint(0, ${cfg.vocabSize}, (${B}, ${S}))
with FlopCounterMode(display=False) as f:
    m(ids).logits.sum()
fwd = f.get_total_flops()
with FlopCounterMode(display=False) as g:
    m(ids).logits.sum().backward()
print(json.dumps({"fwd": fwd, "fwdbwd": g.get_total_flops()}))
`;
  const p = spawnSync(PY, ['-c', code], { encoding: 'utf8' });
  if (p.error) throw new Error(`${PY}: ${p.error.message} (set PRIME_PYTHON to a Python with torch + transformers: make venv)`);
  assert.equal(p.status, 0, `python failed (needs torch and transformers: make venv):\n${p.stderr}`);
  const theirs = JSON.parse(p.stdout.trim().split('\n').pop()!) as { fwd: number; fwdbwd: number };
  const ours = B * forwardFlops(cfg, S, { attention: 'full' });
  console.log(`forward: ours ${ours}, FlopCounterMode ${theirs.fwd}, diff ${Math.abs(ours - theirs.fwd)}; fwd+bwd: ours ${3 * ours}, theirs ${theirs.fwdbwd}, diff ${Math.abs(3 * ours - theirs.fwdbwd)}`);
  assert.equal(ours, theirs.fwd);
  // Linear layers: backward = 2× forward exactly. SDPA's backward kernel recomputes QKᵀ (5 bmms,
  // not 4), which FlopCounterMode counts and model FLOPs (PaLM App. B) do not: the difference must
  // be exactly that one extra bmm, half the forward attention term.
  const recompute = B * 2 * cfg.numLayers * cfg.numHeads * cfg.headDim * S * S;
  assert.equal(theirs.fwdbwd - 3 * ours, recompute);
});

test('causal attention term: hand-worked pair count; generation and train FLOPs compose from it', () => {
  const cfg = makeConfig(SPEC);
  const S = 5;
  // 1+2+3+4+5 = 15 causal (query, key) pairs vs 25 full: the difference is 10 pairs × 4·H·Dh per layer.
  const diff = forwardFlops(cfg, S, { attention: 'full' }) - forwardFlops(cfg, S);
  assert.equal(diff, 10 * 4 * cfg.numHeads * cfg.headDim * cfg.numLayers);
  // Generation: blocks over prompt+response positions, logits for each sampled token only.
  const gen = generationFlops(cfg, 3, 2);
  assert.equal(gen, forwardFlops(cfg, 5) - 3 * 2 * cfg.hiddenSize * cfg.vocabSize);
  assert.equal(trainFlops(cfg, 3, 2, 2), 6 * gen);
});

test('sgemm peak is measured once and cached; mfu and step metrics use it', () => {
  const a = sgemmPeakFlops();
  const t0 = performance.now();
  const b = sgemmPeakFlops();
  assert.ok(performance.now() - t0 < 5, 'second call is cached');
  assert.equal(a, b);
  console.log(`sgemm peak ${(a / 1e9).toFixed(1)} GFLOP/s`);
  assert.ok(a > 1e8 && a < 1e14, `peak ${a} FLOP/s out of any CPU's range`);
  assert.equal(mfu(a * 0.5, 2, a), 0.25);
  const cfg = makeConfig(SPEC);
  const m = { 'time/policy_update': 0.5, 'time/rollout': 2, 'perf/rollout_flops': a };
  const out = stepPerfMetrics(cfg, m, [[1, 2, 3]], [[4, 5]], 1);
  assert.equal(out['perf/train_flops'], trainFlops(cfg, 3, 2));
  assert.equal(out['perf/mfu_train'], trainFlops(cfg, 3, 2) / 0.5 / a);
  assert.equal(out['perf/mfu_rollout'], 0.5);
});

test('trainer: perf/* per step; with every sample trained, train FLOPs = 3 × epochs × rollout FLOPs', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-perf-'));
  const modelDir = path.join(root, 'model'), dataFile = path.join(root, 'train.jsonl');
  createRandomModel(modelDir, { hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositionEmbeddings: 256 }, 0);
  await writePromptRowsJsonl(dataFile, generateSplits(1, 16, 0).train.map((p, i) => problemToRow(p, i, 'train')));
  const cfg = configFromObject({
    model: { path: modelDir },
    data: { train_files: [dataFile], max_prompt_length: 96, max_response_length: 12, seed: 3 },
    rollout: { n: 2, batch_prompts: 3, micro_batch: 6, oversample: 1 },
    filter: { enable: false }, // every sampled response is trained on
    algorithm: { advantage: 'grpo' },
    actor: { lr: 1e-3, mini_batch: 6, micro_batch: 3, ppo_epochs: 2 },
    trainer: { total_steps: 1, save_every: 0, output_dir: path.join(root, 'out'), seed: 1, log_every: 1 },
  } as never);
  const t = await PrimeTrainer.create(cfg, { verifier: async (_r, text) => ({ score: /[0-9]/.test(text) ? 1 : 0 }), log: () => {} });
  try {
    const m = await t.trainStep();
    const peak = sgemmPeakFlops();
    console.log(`rollout ${m['perf/rollout_flops']} FLOPs, train ${m['perf/train_flops']} FLOPs; MFU rollout ${m['perf/mfu_rollout']}, train ${m['perf/mfu_train']}`);
    assert.equal(m['perf/train_flops'], 3 * 2 * m['perf/rollout_flops']!);
    // at least one token per response, at most max_response_length, over a prompt of ≥ 1 token
    const c = t.policy.config;
    assert.ok(m['perf/rollout_flops']! >= 6 * generationFlops(c, 1, 1) && m['perf/rollout_flops']! <= 6 * generationFlops(c, 96, 12));
    assert.equal(m['perf/mfu_train'], m['perf/train_flops']! / m['time/policy_update']! / peak);
    assert.equal(m['perf/mfu_rollout'], m['perf/rollout_flops']! / m['time/rollout']! / peak);
    assert.ok(m['perf/mfu_train']! > 0 && m['perf/mfu_train']! < 1.5 && m['perf/mfu_rollout']! > 0 && m['perf/mfu_rollout']! < 1.5);
  } finally {
    t.dispose();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
