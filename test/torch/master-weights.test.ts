/**
 * MasterWeights: bf16 parameters trained through float32 master copies follow the float32
 * optimizer exactly (same gradients, same AdamW arithmetic), while AdamW applied to the bf16
 * parameters themselves loses updates smaller than bf16's resolution (the reason masters exist).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { AdamW, MasterWeights, tidy } from '../../src/torch/index.js';

test('bf16 parameters with float32 masters track float32 AdamW; plain bf16 AdamW stalls', () => {
  // gradients of sum(p · c) are c: exactly representable in bf16 (multiples of 1/8 below 2)
  const c = torch.tensor([0.125, -0.5, 1.5, -1.0, 0.25, 0.75], { dtype: 'float32' });
  const init = [1.0, -2.0, 3.0, 0.5, 100.0, -64.0];
  const ref = torch.tensor(init, { dtype: 'float32' }).requiresGrad_(true);
  const low = torch.tensor(init, { dtype: 'bfloat16' }).requiresGrad_(true);
  const pure = torch.tensor(init, { dtype: 'bfloat16' }).requiresGrad_(true);
  const mw = new MasterWeights([low]);
  const optRef = new AdamW([ref], { lr: 1e-3, weightDecay: 0 });
  const optMw = new AdamW(mw.master, { lr: 1e-3, weightDecay: 0 });
  const optPure = new AdamW([pure], { lr: 1e-3, weightDecay: 0 });
  for (let s = 0; s < 20; s++) {
    for (const p of [ref, low, pure]) tidy(() => p.mul(c.to(p.dtype)).sum().backward());
    optRef.step();
    mw.gradsToMaster();
    optMw.step();
    optMw.zeroGrad();
    mw.masterToParams();
    optPure.step();
    for (const p of [ref, low, pure]) p.zeroGrad();
  }
  tidy(() => {
    const dMaster = mw.master[0]!.sub(ref).abs().max().item();
    const dLow = low.to('float32').sub(ref.to('bfloat16').to('float32')).abs().max().item();
    const stuck = pure.to('float32').sub(torch.tensor(init).to('bfloat16').to('float32')).abs().select(0, 4).item();
    console.log(`master vs float32 AdamW: max |diff| ${dMaster.toExponential(2)} (tol 1e-6); bf16 params = rounded masters: ${dLow}; pure-bf16 AdamW moved p[4]=100 by ${stuck} (float32 moved it by ${Math.abs(ref.select(0, 4).item() - 100).toFixed(4)})`);
    assert.ok(dMaster <= 1e-6);
    assert.equal(dLow, 0);
    assert.equal(stuck, 0, 'a 0.02 total update to 100 is below bf16 resolution (0.5) without masters');
  });
  for (const o of [optRef, optMw, optPure]) o.dispose();
  mw.dispose();
});

test('gradsToMaster accumulates micro-batches in float32; given masters are owned and rounded into the parameters', () => {
  // micro-batch gradients 256, 1, 1 (each exact in bf16): summed in float32 they give 258; summed
  // in bf16 (backward accumulating into the bf16 .grad) 256 + 1 = 257 rounds to 256 (spacing 2 at 256), twice
  const p = torch.tensor([0.0], { dtype: 'bfloat16' }).requiresGrad_(true);
  const inBf16 = torch.tensor([0.0], { dtype: 'bfloat16' }).requiresGrad_(true);
  const mw = new MasterWeights([p]);
  for (const c of [256, 1, 1]) {
    tidy(() => p.mul(c).sum().backward());
    tidy(() => inBf16.mul(c).sum().backward());
    mw.gradsToMaster();
    assert.equal(p.grad, null, 'the bf16 gradient is cleared after each move');
  }
  tidy(() => {
    const f32 = mw.master[0]!.grad!.item(), b16 = inBf16.grad!.item();
    console.log(`micro-batch gradients 256 + 1 + 1: accumulated in the float32 masters ${f32}, in bf16 ${b16}`);
    assert.equal(f32, 258);
    assert.equal(b16, 256);
  });
  mw.dispose();
  inBf16.dispose();
  // a float32 gradient sum that bf16 cannot hold: masters given explicitly, grads set on the bf16 side
  const q = torch.tensor([1.0, 2.0], { dtype: 'bfloat16' }).requiresGrad_(true);
  const full = torch.tensor([1 + 2 ** -12, -3.25], { dtype: 'float32' });
  const mw2 = new MasterWeights([q], { master: [full] });
  assert.equal(mw2.master[0], full, 'the given tensor is the master');
  assert.ok(full.requiresGrad);
  tidy(() => assert.deepEqual(Array.from(q.to('float32').toFlatArray()), [1, -3.25], 'the parameters are rounded from the given masters'));
  assert.throws(() => new MasterWeights([q], { master: [torch.zeros([3])] }), /master 0 has shape \[3\] but its parameter \[2\]/);
  assert.throws(() => new MasterWeights([q], { master: [torch.zeros([2], { dtype: 'float64' })] }), /master 0 is float64, expected float32/);
  mw2.dispose();
  q.dispose();
  p.dispose();
});
