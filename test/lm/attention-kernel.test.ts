/**
 * The two attention kernels of the fused decoder layer (setAttentionKernel): libtorch 2.x's
 * scaled_dot_product_attention and the composite matmul–softmax–matmul give the same logits and
 * gradients (float64, left-padded batch, grouped-query heads); on libtorch < 2.5 'sdpa' is refused
 * with the reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { tidy } from '../../src/torch/index.js';
import { leftPad, logprobs } from '../../src/lm/index.js';
import { randomPrompts, tinyModel } from './fixtures.js';

const [major, minor] = torch.version().libtorch.split('.').map(Number) as [number, number];
const hasSdpa = major > 2 || (major === 2 && minor >= 5);

// One test for both builds (CI runs the suite on libtorch 1.13 and 2.x): each asserts what its libtorch has.
test('attention kernel: sdpa and composite agree (libtorch >= 2.5); sdpa is refused with the reason below', () => {
  if (!hasSdpa) {
    assert.equal(torch.setAttentionKernel(), 'composite');
    assert.throws(() => torch.setAttentionKernel('sdpa'), /needs libtorch >= 2\.5/);
    console.log(`libtorch ${torch.version().libtorch}: composite kernel only; sdpa refused with the reason`);
    return;
  }
  const before = torch.setAttentionKernel();
  assert.equal(before, 'sdpa', 'sdpa is the default on libtorch >= 2.5');
  const m = tinyModel({ modelType: 'qwen3', numHeads: 4, numKvHeads: 2, headDim: 16 }, 'float64');
  const { inputIds, attentionMask } = leftPad(randomPrompts([11, 4, 8], 256, 2), 0);
  const run = (kind: 'sdpa' | 'composite') => {
    torch.setAttentionKernel(kind);
    m.zeroGrad();
    const lp = tidy(() => {
      const l = logprobs(m, inputIds, { attentionMask }).logprobs;
      l.sum().backward();
      return l.detach();
    });
    return { lp, g: m.parameters().map((p) => torch.keep(p.grad!)) };
  };
  const a = run('sdpa'), b = run('composite');
  torch.setAttentionKernel(before);
  const dLp = tidy(() => a.lp.sub(b.lp).abs().max().item());
  const dG = Math.max(...a.g.map((g, i) => tidy(() => g.sub(b.g[i]!).abs().max().item())));
  console.log(`sdpa vs composite: max |logprob diff| ${dLp.toExponential(2)}, max |grad diff| ${dG.toExponential(2)} (tol 1e-12)`);
  assert.ok(dLp <= 1e-12 && dG <= 1e-12);
  torch.dispose([a.lp, b.lp, ...a.g, ...b.g, inputIds, attentionMask]);
  m.dispose();
});
