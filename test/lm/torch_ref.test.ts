/**
 * Independent check: logits of a tiny checkpoint against test/lm/torch_ref.py, a from-scratch
 * eager PyTorch implementation of the same architecture that reads the saved safetensors itself.
 * Skipped when /usr/bin/python3 has no torch (Debian python3-torch; `make bench-deps`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../../src/torch/index.js';
import { leftPad, positionIdsFromMask, savePretrained, type ConfigSpec } from '../../src/lm/index.js';
import { randomPrompts, tinyModel, tmpDir } from './fixtures.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// dist/test/lm → repo root
const SCRIPT = path.resolve(here, '../../../test/lm/torch_ref.py');
const PY = '/usr/bin/python3';
const hasTorch = fs.existsSync(PY) && spawnSync(PY, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

const VARIANTS: [string, Partial<ConfigSpec>][] = [
  ['qwen2 GQA (q/k/v bias), untied, θ=1e6', { modelType: 'qwen2', numHeads: 4, numKvHeads: 2, ropeTheta: 1e6 }],
  ['llama MHA tied, llama3 rope scaling', {
    modelType: 'llama', numHeads: 4, numKvHeads: 4, tieWordEmbeddings: true, ropeTheta: 500000,
    extra: { rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 } },
  }],
  ['llama GQA attention_bias, head_dim 16, linear rope scaling', { modelType: 'llama', numHeads: 4, numKvHeads: 2, headDim: 16, attentionBias: true, extra: { rope_scaling: { type: 'linear', factor: 2 } } }],
];

for (const [name, spec] of VARIANTS) {
  test(`${name}: logits equal an independent PyTorch implementation (float64, left-padded batch)`, { skip: hasTorch ? false : 'python3-torch not installed' }, () => {
    const dir = tmpDir('ref');
    const model = tinyModel(spec, 'float64');
    savePretrained(dir, model, { dtype: 'float64' });
    const prompts = randomPrompts([12, 5, 9], 256, 11);
    const out = torch.tidy(() => {
      const { inputIds, attentionMask } = leftPad(prompts, 0);
      const req = path.join(dir, 'req.json'), res = path.join(dir, 'res.json');
      fs.writeFileSync(req, JSON.stringify({ input_ids: inputIds.toArray(), attention_mask: attentionMask.toArray(), dtype: 'float64' }));
      execFileSync(PY, [SCRIPT, 'logits', dir, req, res], { stdio: ['ignore', 'inherit', 'inherit'] });
      const ref = torch.tensor(JSON.parse(fs.readFileSync(res, 'utf8')).logits as number[][][], { dtype: 'float64' });
      const mine = torch.noGrad(() => model.logits(model.forward(inputIds, { positionIds: positionIdsFromMask(attentionMask), attentionMask })));
      // compare real positions only (padding queries are defined differently by the two)
      const m = attentionMask.bool().unsqueeze(2);
      return mine.sub(ref).abs().maskedFill(m.logicalNot(), 0).max().item();
    });
    console.log(`${name}: max |logit diff| vs PyTorch reference = ${out.toExponential(2)} (tol 1e-10)`);
    assert.ok(out <= 1e-10, `max diff ${out}`);
    model.dispose();
  });
}
