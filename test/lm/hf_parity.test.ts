/**
 * Parity with Hugging Face transformers' own Qwen2, Qwen3 and Llama models (test/lm/hf_ref.py,
 * run by PRIME_PYTHON, default .venv/bin/python): logits and per-token log-probs of a left-padded
 * batch, float64 and float32, on random tiny configs drawn from a seeded generator.
 *
 *  - transformers builds and saves each checkpoint (save_pretrained: config.json in transformers 5's
 *    layout with rope_parameters, model.safetensors); prime-ts loads it with loadModel;
 *  - prime-ts builds and saves one checkpoint per family (savePretrained); transformers loads it.
 *
 * Tolerances (max |diff| over real positions): float64 1e-10; float32 2e-4 on logits of magnitude
 * up to ~20 and on log-probs (two float32 implementations that order their sums differently).
 * A missing Python or transformers fails the test with the reason: a reference that skips checks nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../../src/torch/index.js';
import type { DType } from '../../src/torch/index.js';
import { CausalLM, leftPad, loadModel, logprobs, makeConfig, savePretrained, type ConfigSpec } from '../../src/lm/index.js';
import { randomPrompts, tmpDir } from './fixtures.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '../../..'); // dist/test/lm → repo root
const SCRIPT = path.join(ROOT, 'test/lm/hf_ref.py');
const PY = process.env.PRIME_PYTHON ?? path.join(ROOT, '.venv/bin/python');
const TOL: Record<string, number> = { float64: 1e-10, float32: 2e-4 };
const VOCAB = 96;

function python(cmd: 'make' | 'run', jobs: unknown[]): void {
  if (!fs.existsSync(PY)) assert.fail(`the reference needs Python with transformers: ${PY} not found (run \`make venv\` or set PRIME_PYTHON)`);
  const dir = tmpDir('hfjobs');
  const f = path.join(dir, `${cmd}.json`);
  fs.writeFileSync(f, JSON.stringify(jobs));
  const r = spawnSync(PY, [SCRIPT, cmd, f], { encoding: 'utf8', env: { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_VERBOSITY: 'error' } });
  if (r.status !== 0) assert.fail(`${PY} ${SCRIPT} ${cmd} failed (is transformers installed? \`make venv\`):\n${r.stderr}`);
}

/** A seeded generator of random tiny configs (the draws are printed with each result). */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % n;
}
const pick = <T>(r: (n: number) => number, xs: T[]): T => xs[r(xs.length)]!;

/** An HF config.json object of a random tiny model of the family (transformers 5's key layout). */
function randomHfConfig(family: 'qwen2' | 'qwen3' | 'llama', seed: number): Record<string, unknown> {
  const r = rng(seed * 7919 + ['qwen2', 'qwen3', 'llama'].indexOf(family) * 104729);
  const H = pick(r, [2, 4]);
  const Hkv = pick(r, [1, 2, H].filter((k) => H % k === 0));
  const D = pick(r, [24, 32]);
  const cfg: Record<string, unknown> = {
    model_type: family, vocab_size: VOCAB, hidden_size: D, intermediate_size: pick(r, [40, 64]), num_hidden_layers: pick(r, [2, 3]),
    num_attention_heads: H, num_key_value_heads: Hkv, rms_norm_eps: pick(r, [1e-6, 1e-5]), tie_word_embeddings: r(2) === 1,
    max_position_embeddings: 64,
  };
  const theta = pick(r, [10000, 1e6]);
  if (family === 'qwen3') {
    cfg.head_dim = pick(r, [8, 16]); // Qwen3: head_dim independent of D / H
    cfg.attention_bias = r(2) === 1;
    cfg.rope_parameters = { rope_type: 'default', rope_theta: theta };
  } else if (family === 'llama') {
    cfg.attention_bias = r(2) === 1;
    cfg.mlp_bias = r(2) === 1;
    cfg.rope_parameters = pick(r, [
      { rope_type: 'default', rope_theta: theta },
      { rope_type: 'linear', factor: 2, rope_theta: theta },
      { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16, rope_theta: theta },
    ]);
  } else cfg.rope_parameters = { rope_type: 'default', rope_theta: theta };
  return cfg;
}

interface Case { name: string; dir: string; dtype: DType; model?: CausalLM }

/** Compares prime-ts against the Python results of one case; returns [logit diff, logprob diff]. */
function compare(c: Case, ids: number[][], res: { logits: number[][][]; logprobs: number[][] }): [number, number] {
  return torch.tidy(() => {
    const model = c.model ?? loadModel(c.dir, { dtype: c.dtype });
    try {
      const { inputIds, attentionMask } = leftPad(ids, 0);
      const pos = attentionMask.to('int64').cumsum(1).sub(1).clamp(0, null);
      const mine = torch.noGrad(() => model.logits(model.forward(inputIds, { positionIds: pos, attentionMask })));
      const ref = torch.tensor(res.logits, { dtype: c.dtype });
      const real = attentionMask.bool().unsqueeze(2); // padding queries are defined differently by the two
      const dLogits = mine.sub(ref).abs().maskedFill(real.logicalNot(), 0).max().item();
      const lp = torch.noGrad(() => logprobs(model, inputIds, { attentionMask }).logprobs); // (B, T), column t: log p(x_t | x_<t)
      const T = inputIds.size(1);
      const refLp = torch.tensor(res.logprobs, { dtype: lp.dtype }); // (B, T-1)
      const valid = attentionMask.narrow(1, 0, T - 1).bool().logicalAnd(attentionMask.narrow(1, 1, T - 1).bool());
      const dLp = lp.narrow(1, 1, T - 1).sub(refLp).abs().maskedFill(valid.logicalNot(), 0).max().item();
      return [dLogits, dLp] as [number, number];
    } finally {
      if (!c.model) model.dispose();
    }
  });
}

test('logits and log-probs equal transformers\' Qwen2 / Qwen3 / Llama (random tiny configs, float64 + float32, left-padded batch)', { timeout: 300_000 }, () => {
  const work = tmpDir('hf');
  const families = ['qwen2', 'qwen3', 'llama'] as const;
  const cases: Case[] = [];
  const makeJobs: { spec: string; dir: string }[] = [];
  // 1) checkpoints written by transformers (two random configs per family)
  for (const family of families) {
    for (const seed of [1, 2]) {
      const config = randomHfConfig(family, seed);
      const dir = path.join(work, `hf-${family}-${seed}`);
      const spec = path.join(work, `spec-${family}-${seed}.json`);
      fs.writeFileSync(spec, JSON.stringify({ config, seed, dtype: 'float64', std: 0.3 }));
      makeJobs.push({ spec, dir });
      console.log(`${family} seed ${seed}: ${JSON.stringify(config)}`);
      for (const dtype of ['float64', 'float32'] as DType[]) cases.push({ name: `${family} seed ${seed} (saved by transformers) ${dtype}`, dir, dtype });
    }
  }
  python('make', makeJobs);
  // 2) checkpoints written by prime-ts (savePretrained), read by transformers
  const specs: Record<string, Partial<ConfigSpec>> = {
    qwen2: { modelType: 'qwen2', numHeads: 4, numKvHeads: 2, ropeTheta: 1e6 },
    qwen3: { modelType: 'qwen3', numHeads: 4, numKvHeads: 1, headDim: 16, tieWordEmbeddings: true },
    llama: { modelType: 'llama', numHeads: 4, numKvHeads: 2, attentionBias: true, extra: { rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 } } },
  };
  for (const family of families) {
    torch.manualSeed(5);
    const model = new CausalLM(makeConfig({ vocabSize: VOCAB, hiddenSize: 32, intermediateSize: 48, numLayers: 2, ...specs[family] } as ConfigSpec), { dtype: 'float64', init: { kind: 'random', std: 0.3 } });
    const dir = path.join(work, `ours-${family}`);
    savePretrained(dir, model);
    cases.push({ name: `${family} (saved by prime-ts) float64`, dir, dtype: 'float64', model });
  }
  const ids = randomPrompts([12, 5, 9], VOCAB, 11);
  const runJobs = cases.map((c, i) => {
    const req = path.join(work, `req-${i}.json`), res = path.join(work, `res-${i}.json`);
    const { inputIds, attentionMask } = torch.tidy(() => {
      const b = leftPad(ids, 0);
      return { inputIds: b.inputIds.toArray(), attentionMask: b.attentionMask.toArray() };
    });
    fs.writeFileSync(req, JSON.stringify({ input_ids: inputIds, attention_mask: attentionMask, dtype: c.dtype }));
    return { dir: c.dir, req, res };
  });
  python('run', runJobs);
  const failures: string[] = [];
  const worst: Record<string, [number, number]> = {};
  for (const [i, c] of cases.entries()) {
    const res = JSON.parse(fs.readFileSync(runJobs[i]!.res, 'utf8'));
    const [dl, dp] = compare(c, ids, res);
    const tol = TOL[c.dtype]!;
    console.log(`${c.name} vs transformers ${res.versions.transformers} ${res.versions.class} (torch ${res.versions.torch}): max |logit diff| ${dl.toExponential(2)}, max |logprob diff| ${dp.toExponential(2)} (tol ${tol})`);
    const key = `${c.name.split(' ')[0]} ${c.dtype}`;
    worst[key] = [Math.max(worst[key]?.[0] ?? 0, dl), Math.max(worst[key]?.[1] ?? 0, dp)];
    if (!(dl <= tol && dp <= tol)) failures.push(`${c.name}: logits ${dl}, logprobs ${dp} > ${tol}`);
    c.model?.dispose();
  }
  for (const [k, [dl, dp]] of Object.entries(worst)) console.log(`summary ${k}: max |logit diff| ${dl.toExponential(2)}, max |logprob diff| ${dp.toExponential(2)}`);
  assert.deepEqual(failures, []);
});
