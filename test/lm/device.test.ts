/**
 * The `device` option of prime-ts/lm. On every machine: device strings are checked, a CUDA
 * device on a CPU-only build or a machine without a GPU is refused with the reason, and 'cpu'
 * works end to end. With a CUDA build and a GPU (PRIME_NATIVE=…build-lt2-cuda…, e.g. through
 * bench/device-check.sh): logits, log-probs, greedy decoding and a training step on the GPU equal
 * the CPU's within float32 tolerances. Those tests skip with the reason where there is no GPU.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { gpuDevice, gpuSkip } from '../torch/gpu.js';
import { tidy } from '../../src/torch/index.js';
import { CausalLM, generate, leftPad, logprobs, resolveDevice } from '../../src/lm/index.js';
import { randomPrompts, tinyModel, tinySpec } from './fixtures.js';
import { makeConfig } from '../../src/lm/index.js';

const v = torch.version();
const gpu = !gpuSkip, noGpu = gpuSkip, DEV = gpuDevice; // PRIME_TEST_DEVICE=cuda: the GPU tests must run, not skip

test('device strings are validated; CUDA without CUDA is refused with the reason', () => {
  assert.equal(resolveDevice(undefined), 'cpu');
  assert.equal(resolveDevice('cpu'), 'cpu');
  assert.throws(() => resolveDevice('gpu'), /'gpu' is not a device \(expected cpu, cuda or cuda:N\)/);
  assert.throws(() => resolveDevice('cpu:1'), /not a device/);
  if (!gpu) {
    assert.throws(() => resolveDevice('cuda:0'), v.cuda ? /no CUDA device is visible/ : /built without CUDA/);
    assert.throws(() => new CausalLM(makeConfig(tinySpec()), { device: 'cuda' }), /CausalLM device 'cuda'/);
  } else assert.equal(resolveDevice('cuda'), 'cuda:0');
});

test('device cpu: explicit option, parameters, cache and outputs on the CPU', () => {
  const m = tinyModel();
  const c = new CausalLM(m.config, { device: 'cpu' });
  assert.equal(c.device, 'cpu');
  assert.ok(c.parameters().every((p) => p.device === 'cpu'));
  const s = generate(m, randomPrompts([4, 6]), { maxNewTokens: 3, greedy: true });
  assert.equal(s.length, 2);
  c.dispose();
  m.dispose();
});

test('cuda: logits, log-probs, greedy decoding and a training step equal the CPU\'s', { skip: noGpu }, () => {
  const cpu = tinyModel({ modelType: 'qwen3', headDim: 16 }, 'float32', 3);
  const g = tinyModel({ modelType: 'qwen3', headDim: 16 }, 'float32', 3).to(DEV);
  assert.ok(g.parameters().every((p) => p.device.startsWith('cuda')), 'parameters moved');
  const prompts = randomPrompts([9, 4, 7], 256, 5);
  tidy(() => {
    const { inputIds, attentionMask } = leftPad(prompts, 0);
    const a = torch.noGrad(() => logprobs(cpu, inputIds, { attentionMask }).logprobs);
    // results come back on the token ids' device: CPU ids → CPU log-probs, GPU ids → GPU
    const b = torch.noGrad(() => logprobs(g, inputIds, { attentionMask }).logprobs);
    assert.equal(b.device, 'cpu');
    const bg = torch.noGrad(() => logprobs(g, inputIds.to(DEV), { attentionMask: attentionMask.to(DEV) }).logprobs);
    assert.ok(bg.device.startsWith('cuda'));
    const d = Math.max(a.sub(b).abs().max().item(), a.sub(bg.to('cpu')).abs().max().item());
    console.log(`logprobs cuda vs cpu: max |diff| ${d.toExponential(2)} (tol 1e-4)`);
    assert.ok(d <= 1e-4);
  });
  const sc = generate(cpu, prompts, { maxNewTokens: 6, greedy: true });
  const sg = generate(g, prompts, { maxNewTokens: 6, greedy: true });
  assert.deepEqual(sg.map((s) => s.tokenIds), sc.map((s) => s.tokenIds), 'greedy decoding on cuda');
  const sampled = generate(g, prompts, { maxNewTokens: 6, temperature: 1, n: 2 });
  assert.equal(sampled.length, 6);
  // one SGD step on each: the same update
  for (const m of [cpu, g]) {
    tidy(() => {
      const { inputIds, attentionMask } = leftPad(prompts, 0);
      logprobs(m, inputIds, { attentionMask }).logprobs.sum().neg().backward();
    });
    const opt = new torch.SGD(m.parameters(), { lr: 0.1 });
    opt.step();
  }
  const d = tidy(() => cpu.model.embed_tokens.weight.sub(g.model.embed_tokens.weight.to('cpu')).abs().max().item());
  console.log(`after one SGD step: max |param diff| cuda vs cpu ${d.toExponential(2)} (tol 1e-4)`);
  assert.ok(d <= 1e-4);
  cpu.dispose();
  g.dispose();
});
