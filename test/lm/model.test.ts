import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { noGrad, tidy } from '../../src/torch/index.js';
import { N } from '../../src/torch/native.js';
import { wrap } from '../../src/torch/tensor.js';
import { KVCache, leftPad, positionIdsFromMask, type CausalLM, type ConfigSpec } from '../../src/lm/index.js';
import { assertClose, randomPrompts, tinyModel } from './fixtures.js';

// The architectures every model test runs on: grouped-query and multi-head attention, Qwen2
// (q/k/v bias) and Llama (no bias; with attention_bias), tied and untied embeddings, and a
// head_dim that is not hidden/heads.
const VARIANTS: [string, Partial<ConfigSpec>][] = [
  ['qwen2 GQA untied', { modelType: 'qwen2', numHeads: 4, numKvHeads: 2 }],
  ['qwen2 MHA tied', { modelType: 'qwen2', numHeads: 4, numKvHeads: 4, tieWordEmbeddings: true }],
  ['llama GQA tied', { modelType: 'llama', numHeads: 4, numKvHeads: 1, tieWordEmbeddings: true }],
  ['llama MHA untied attention_bias head_dim=12', { modelType: 'llama', numHeads: 2, numKvHeads: 2, headDim: 12, attentionBias: true }],
  ['qwen3 GQA q/k norm head_dim=16', { modelType: 'qwen3', numHeads: 4, numKvHeads: 2, headDim: 16 }],
];

/** Full-forward logits (B, T, V) of ids (B, T), optionally left-padded. */
const fullLogits = (m: CausalLM, ids: torch.Tensor, mask?: torch.Tensor) =>
  tidy(() => m.logits(mask ? m.forward(ids, { positionIds: positionIdsFromMask(mask), attentionMask: mask }) : m.forward(ids)));

test('parameter names and shapes are exactly the Hugging Face ones', () => {
  const m = tinyModel({ modelType: 'qwen2', tieWordEmbeddings: false });
  const sd = m.stateDict();
  const want = ['model.embed_tokens.weight', 'model.norm.weight', 'lm_head.weight'];
  for (const p of ['q', 'k', 'v']) want.push(`model.layers.1.self_attn.${p}_proj.weight`, `model.layers.1.self_attn.${p}_proj.bias`);
  want.push('model.layers.1.self_attn.o_proj.weight', 'model.layers.1.mlp.gate_proj.weight', 'model.layers.1.mlp.up_proj.weight',
    'model.layers.1.mlp.down_proj.weight', 'model.layers.1.input_layernorm.weight', 'model.layers.1.post_attention_layernorm.weight');
  for (const n of want) assert.ok(sd.has(n), `missing ${n}`);
  assert.equal(sd.size, 3 + 2 * 12); // per layer: q/k/v weight+bias, o, gate/up/down, 2 norms
  assert.ok(!sd.has('model.layers.0.self_attn.o_proj.bias'), 'Qwen2 has no o_proj bias');
  assert.deepEqual(sd.get('model.layers.0.self_attn.k_proj.weight')!.shape, [2 * 8, 32]); // Hkv·Dh × D
  m.dispose();
  const tied = tinyModel({ modelType: 'llama', tieWordEmbeddings: true });
  const tsd = tied.stateDict();
  assert.ok(!tsd.has('lm_head.weight') && !tsd.has('model.layers.0.self_attn.q_proj.bias'));
  assert.equal(tied.lmHeadWeight, tied.model.embed_tokens.weight);
  tied.dispose();
});

for (const [name, spec] of VARIANTS) {
  test(`${name}: fused native layer equals the op-by-op layer (float64)`, () => {
    const m = tinyModel(spec, 'float64');
    noGrad(() => tidy(() => {
      const ids = torch.tensor(randomPrompts([9, 9]));
      const a = fullLogits(m, ids);
      m.fused = false;
      const b = fullLogits(m, ids);
      m.fused = true;
      assertClose(`${name} fused vs reference`, a, b, 1e-12);
    }));
    m.dispose();
  });

  test(`${name}: KV-cache decoding gives the full forward's logits (float64)`, () => {
    const m = tinyModel(spec, 'float64');
    noGrad(() => tidy(() => {
      const ids = torch.tensor(randomPrompts([11, 11, 11]));
      const full = fullLogits(m, ids); // (3, 11, V)
      for (const mode of ['prealloc', 'cat'] as const) {
        const cache = new KVCache(m.config, 3, 16, 'float64', mode);
        // prefill 4, a chunk of 3 (causal inside a chunk with a cache), then 4 single steps
        const parts = [m.logits(m.forward(ids.narrow(1, 0, 4), { cache })), m.logits(m.forward(ids.narrow(1, 4, 3), { cache }))];
        for (let t = 7; t < 11; t++) parts.push(m.logits(m.forward(ids.narrow(1, t, 1), { cache })));
        assert.equal(cache.length, 11);
        assertClose(`${name} KV cache (${mode}) vs full forward`, torch.cat(parts, 1), full, 1e-5);
        cache.dispose();
      }
    }));
    m.dispose();
  });

  test(`${name}: a left-padded batch gives each sequence's own results`, () => {
    const m = tinyModel(spec, 'float64');
    const prompts = randomPrompts([7, 3, 5, 1], 256, 3);
    noGrad(() => tidy(() => {
      const { inputIds, attentionMask, length } = leftPad(prompts, 0);
      const batch = fullLogits(m, inputIds, attentionMask); // (4, 7, V)
      prompts.forEach((p, b) => {
        const alone = fullLogits(m, torch.tensor([p])); // (1, L, V)
        const mine = batch.select(0, b).narrow(0, length - p.length, p.length).unsqueeze(0);
        assertClose(`${name} padded row ${b} (len ${p.length}) vs alone`, mine, alone, 1e-10);
      });
      // padded and batched decoding with a cache: one more token per row
      const cache = new KVCache(m.config, 4, length + 1, 'float64');
      const km = torch.ones([4, length + 1], { dtype: 'bool' }).narrowCopy_(1, 0, attentionMask.bool());
      m.forward(inputIds, { positionIds: positionIdsFromMask(attentionMask), attentionMask: km.narrow(1, 0, length), cache });
      const next = torch.tensor([[5], [6], [7], [8]]);
      const step = m.logits(m.forward(next, { positionIds: attentionMask.sum(1).view(4, 1), attentionMask: km, cache })); // (4, 1, V)
      prompts.forEach((p, b) => {
        const alone = fullLogits(m, torch.tensor([[...p, 5 + b]])).narrow(1, p.length, 1);
        assertClose(`${name} padded cached step row ${b} vs alone`, step.narrow(0, b, 1), alone, 1e-10);
      });
      cache.dispose();
    }));
    m.dispose();
  });
}

test('decoding attention: the elementwise path (small caches) and the matmul path (B·H·Tk·Dh > 2²⁰) both match the full forward', () => {
  // 16 rows × 8 heads × 64 dims: the cache crosses 2²⁰ elements at Tk = 128
  const m = tinyModel({ numHeads: 8, numKvHeads: 2, headDim: 64 }, 'float64');
  noGrad(() => tidy(() => {
    const ids = torch.randint(0, 256, [16, 140]);
    const full = fullLogits(m, ids);
    const cache = new KVCache(m.config, 16, 140, 'float64');
    const parts = [m.logits(m.forward(ids.narrow(1, 0, 120), { cache }))];
    for (let t = 120; t < 140; t++) parts.push(m.logits(m.forward(ids.narrow(1, t, 1), { cache })));
    assertClose('decode across the attention-path threshold vs full forward', torch.cat(parts, 1), full, 1e-5);
    cache.dispose();
  }));
  m.dispose();
});

test('float32 KV-cache decoding matches the full forward', () => {
  const m = tinyModel({}, 'float32');
  noGrad(() => tidy(() => {
    const ids = torch.tensor(randomPrompts([10, 10]));
    const cache = new KVCache(m.config, 2, 10, 'float32');
    const parts = [m.logits(m.forward(ids.narrow(1, 0, 4), { cache }))];
    for (let t = 4; t < 10; t++) parts.push(m.logits(m.forward(ids.narrow(1, t, 1), { cache })));
    assertClose('float32 KV-cache decoding vs full forward', torch.cat(parts, 1), fullLogits(m, ids), 1e-4);
    cache.dispose();
  }));
  m.dispose();
});

test('float32 forward agrees with float64 and gradients reach every parameter', () => {
  const m32 = tinyModel({}, 'float32');
  const m64 = tinyModel({}, 'float64');
  m64.loadStateDict(m32.stateDict()); // same weights, widened
  const ids = torch.tensor(randomPrompts([6, 6]));
  tidy(() => {
    assertClose('float32 vs float64 logits', noGrad(() => fullLogits(m32, ids)), noGrad(() => fullLogits(m64, ids)), 1e-4);
    fullLogits(m32, ids).logSoftmax(-1).mean().backward();
    for (const [n, p] of m32.namedParameters()) {
      const g = p.grad;
      assert.ok(g && g.abs().sum().item() > 0, `no gradient for ${n}`);
    }
  });
  m32.zeroGrad();
  ids.dispose();
  m32.dispose();
  m64.dispose();
});
