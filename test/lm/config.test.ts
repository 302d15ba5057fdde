import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, countParameters, makeConfig, parseConfig, CausalLM } from '../../src/lm/index.js';
import * as torch from '../../src/torch/index.js';
import { inverseFrequencies } from '../../src/lm/rope.js';

const QWEN25_05B = {
  architectures: ['Qwen2ForCausalLM'], attention_dropout: 0.0, bos_token_id: 151643, eos_token_id: 151643, hidden_act: 'silu',
  hidden_size: 896, initializer_range: 0.02, intermediate_size: 4864, max_position_embeddings: 32768, max_window_layers: 24,
  model_type: 'qwen2', num_attention_heads: 14, num_hidden_layers: 24, num_key_value_heads: 2, rms_norm_eps: 1e-6,
  rope_theta: 1000000.0, sliding_window: 32768, tie_word_embeddings: true, torch_dtype: 'bfloat16', use_cache: true,
  use_sliding_window: false, vocab_size: 151936,
};

test('a Qwen2.5-0.5B config.json parses to the known architecture (494M parameters)', () => {
  const c = parseConfig(QWEN25_05B);
  assert.equal(c.headDim, 64);
  assert.equal(c.numKvHeads, 2);
  assert.equal(c.qkvBias, true);
  assert.equal(c.oBias, false);
  assert.equal(c.tieWordEmbeddings, true);
  assert.deepEqual(c.eosTokenIds, [151643]);
  assert.equal(countParameters(c), 494_032_768); // the published count of Qwen2.5-0.5B
});

test('Llama: attention_bias switches q/k/v/o biases; head_dim defaults to hidden/heads; eos lists', () => {
  const base = { model_type: 'llama', vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 8, eos_token_id: [1, 2] };
  const a = parseConfig(base);
  assert.deepEqual([a.qkvBias, a.oBias, a.headDim, a.numKvHeads, a.rmsNormEps, a.ropeTheta], [false, false, 8, 8, 1e-6, 10000]);
  assert.deepEqual(a.eosTokenIds, [1, 2]);
  const b = parseConfig({ ...base, attention_bias: true, head_dim: 16 });
  assert.deepEqual([b.qkvBias, b.oBias, b.headDim], [true, true, 16]);
  const m = new CausalLM(b, { init: { kind: 'empty' } });
  assert.deepEqual(m.model.layers.items[0]!.self_attn.q_proj.weight.shape, [128, 64]);
  assert.ok(m.model.layers.items[0]!.self_attn.o_proj.bias);
  m.dispose();
});

test('unsupported or malformed options are ConfigErrors, never approximations', () => {
  const ok = makeConfig({ modelType: 'qwen2', vocabSize: 10, hiddenSize: 8, intermediateSize: 8, numLayers: 1, numHeads: 2 }).raw;
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ model_type: 'gemma' }, /model_type 'gemma' is not supported/],
    [{ model_type: undefined }, /missing 'model_type'/],
    [{ hidden_act: 'gelu_pytorch_tanh' }, /hidden_act 'gelu_pytorch_tanh' is not supported/],
    [{ use_sliding_window: true, max_window_layers: 0 }, /prime-ts\/lm has no sliding-window attention/],
    [{ layer_types: ['sliding_attention'] }, /layer_types \["sliding_attention"\] is not supported/],
    [{ rope_scaling: { rope_type: 'dynamic', factor: 2 } }, /rope_scaling type 'dynamic' is not supported/],
    [{ rope_scaling: { type: 'linear' } }, /rope_scaling\.factor must be a positive number/],
    [{ attention_dropout: 0.1 }, /attention_dropout 0\.1 is not supported/],
    [{ hidden_size: 9, head_dim: undefined }, /hidden_size \(9\) is not divisible by num_attention_heads \(2\)/],
    [{ head_dim: 3 }, /head_dim \(3\) must be even/],
    [{ vocab_size: 0 }, /'vocab_size' must be an integer ≥ 1/],
    [{ tie_word_embeddings: 'yes' }, /'tie_word_embeddings' must be a boolean/],
    [{ partial_rotary_factor: 0.5 }, /partial_rotary_factor 0\.5 is not supported/],
  ];
  for (const [patch, re] of bad) {
    const raw = { ...ok, ...patch };
    for (const k of Object.keys(patch)) if (patch[k] === undefined) delete raw[k];
    assert.throws(() => parseConfig(raw), (e: Error) => e instanceof ConfigError && re.test(e.message), JSON.stringify(patch));
  }
  // rope_scaling "default" and null are no scaling; sliding_window set but unused is fine (Qwen2.5 ships that)
  assert.equal(parseConfig({ ...ok, rope_scaling: { rope_type: 'default' } }).ropeScaling, null);
  assert.equal(parseConfig({ ...ok, sliding_window: 4096, use_sliding_window: false }).modelType, 'qwen2');
  // a window that starts after the last layer is not in use
  assert.equal(parseConfig({ ...ok, sliding_window: 4096, use_sliding_window: true, max_window_layers: 1 }).numLayers, 1);
});

test('RoPE inverse frequencies: plain, linear and llama3 scaling by their formulas', () => {
  const base = { modelType: 'llama' as const, vocabSize: 10, hiddenSize: 64, intermediateSize: 8, numLayers: 1, numHeads: 2, ropeTheta: 500000 };
  const Dh = 32;
  const plain = Array.from({ length: Dh / 2 }, (_, i) => 1 / 500000 ** ((2 * i) / Dh));
  const got = (extra?: Record<string, unknown>) => torch.tidy(() => inverseFrequencies(makeConfig({ ...base, extra }), 'float64').toFlatArray());
  got().forEach((v, i) => assert.ok(Math.abs(v - plain[i]!) <= 1e-15 * Math.max(1, plain[i]!), `inv_freq[${i}]`));
  got({ rope_scaling: { type: 'linear', factor: 4 } }).forEach((v, i) => assert.ok(Math.abs(v - plain[i]! / 4) < 1e-15));
  // llama3: wavelength < orig/high keeps, > orig/low divides by factor, between interpolates
  const l3 = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };
  const scaled = got({ rope_scaling: l3 });
  plain.forEach((f, i) => {
    const wl = (2 * Math.PI) / f;
    let want: number;
    if (wl < 8192 / 4) want = f;
    else if (wl > 8192 / 1) want = f / 8;
    else {
      const s = (8192 / wl - 1) / (4 - 1);
      want = (1 - s) * (f / 8) + s * f;
    }
    assert.ok(Math.abs(scaled[i]! - want) <= 1e-12 * want, `llama3 inv_freq[${i}]: ${scaled[i]} vs ${want}`);
  });
});
