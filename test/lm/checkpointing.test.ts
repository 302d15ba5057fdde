/**
 * Activation checkpointing per decoder layer (CausalLM.gradientCheckpointing): the recomputing
 * backward gives the same gradients as the stored-activation one (float64, every parameter), on
 * a left-padded batch, for Qwen2, Qwen3 and Llama layers; the memory it saves is measured by bench/memory.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { tidy } from '../../src/torch/index.js';
import { leftPad, logprobs, type CausalLM, type ConfigSpec } from '../../src/lm/index.js';
import { randomPrompts, tinyModel } from './fixtures.js';

function grads(m: CausalLM, ids: torch.Tensor, mask: torch.Tensor): Map<string, torch.Tensor> {
  m.zeroGrad();
  tidy(() => {
    const lp = logprobs(m, ids, { attentionMask: mask }).logprobs; // (B, T)
    lp.mul(torch.linspace(0.5, 1.5, lp.size(1), { dtype: lp.dtype })).sum().backward();
  });
  const out = new Map<string, torch.Tensor>();
  for (const [n, p] of m.namedParameters()) out.set(n, torch.keep(p.grad!));
  return out;
}

const VARIANTS: [string, Partial<ConfigSpec>][] = [
  ['qwen2', { modelType: 'qwen2', numHeads: 4, numKvHeads: 2 }],
  ['qwen3', { modelType: 'qwen3', numHeads: 4, numKvHeads: 1, headDim: 16, tieWordEmbeddings: true }],
  ['llama', { modelType: 'llama', numHeads: 4, numKvHeads: 4, attentionBias: true }],
];

for (const [name, spec] of VARIANTS) {
  test(`${name}: gradient checkpointing gives the same gradients (float64, left-padded batch)`, () => {
    const m = tinyModel({ ...spec, numLayers: 3 }, 'float64');
    const { inputIds, attentionMask } = leftPad(randomPrompts([10, 6, 8], 256, 4), 0);
    const plain = grads(m, inputIds, attentionMask);
    m.gradientCheckpointing = true;
    const ckpt = grads(m, inputIds, attentionMask);
    let worst = 0;
    for (const [n, g] of plain) {
      const d = tidy(() => g.sub(ckpt.get(n)!).abs().max().item());
      const scale = tidy(() => g.abs().max().item());
      assert.ok(scale > 0, `${n}: no gradient reached it`);
      worst = Math.max(worst, d);
    }
    console.log(`${name}: ${plain.size} parameters, max |grad diff| checkpointed vs stored = ${worst.toExponential(2)} (tol 1e-12)`);
    assert.ok(worst <= 1e-12, `max grad diff ${worst}`);
    for (const t of [...plain.values(), ...ckpt.values()]) t.dispose();
    m.dispose();
    inputIds.dispose();
    attentionMask.dispose();
  });
}
