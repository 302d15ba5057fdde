import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as torch from '../../src/torch/index.js';
import { noGrad, tidy, loadSafetensors, saveSafetensors, type Tensor } from '../../src/torch/index.js';
import { CheckpointError, ConfigError, loadPretrained, loadModel, savePretrained, type CausalLM } from '../../src/lm/index.js';
import { assertClose, makeTokenizer, randomPrompts, tinyModel, tmpDir } from './fixtures.js';

const logitsOf = (m: CausalLM, ids: Tensor) => noGrad(() => tidy(() => m.logits(m.forward(ids))));

function savedTiny(tag: string, over = {}, opts: Parameters<typeof savePretrained>[2] = {}): { dir: string; model: CausalLM } {
  const dir = tmpDir(tag);
  const model = tinyModel(over);
  savePretrained(dir, model, { tokenizer: makeTokenizer(), ...opts });
  return { dir, model };
}

/** Rewrites model.safetensors of a checkpoint through `edit` on its tensor map. */
function editWeights(dir: string, edit: (m: Map<string, Tensor>) => void): void {
  const f = path.join(dir, 'model.safetensors');
  const m = loadSafetensors(f);
  edit(m);
  saveSafetensors(f, m, { format: 'pt' });
  for (const t of m.values()) t.dispose();
}

test('save → load reproduces the logits exactly, and the directory has the HF layout', () => {
  for (const over of [{ tieWordEmbeddings: false }, { tieWordEmbeddings: true, modelType: 'llama' as const }]) {
    const { dir, model } = savedTiny('roundtrip', over);
    for (const f of ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'])
      assert.ok(fs.existsSync(path.join(dir, f)), `${f} written`);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    assert.equal(cfg.model_type, over.modelType ?? 'qwen2');
    assert.equal(cfg.torch_dtype, 'float32');
    assert.equal(cfg.tie_word_embeddings, over.tieWordEmbeddings);
    const p = loadPretrained(dir);
    const ids = torch.tensor(randomPrompts([8, 8]));
    const a = logitsOf(model, ids), b = logitsOf(p.model, ids);
    assert.ok(a.equal(b), 'logits identical after save → load');
    console.log(`save→load (tied=${over.tieWordEmbeddings}): logits bit-identical`);
    assert.ok(p.tokenizer);
    assert.equal(p.tokenizer!.eosTokenId, makeTokenizer().eosTokenId);
    assert.ok(p.stopTokenIds.includes(p.tokenizer!.eosTokenId!));
    torch.dispose([a, b, ids]);
    p.model.dispose();
    model.dispose();
  }
});

test('sharded checkpoints load (index + shards), and equal the single-file load', () => {
  const { dir, model } = savedTiny('sharded', {}, { maxShardBytes: 20_000 });
  const shards = fs.readdirSync(dir).filter((f) => /^model-\d+-of-\d+\.safetensors$/.test(f));
  assert.ok(shards.length >= 3, `expected several shards, got ${shards.length}`);
  assert.ok(fs.existsSync(path.join(dir, 'model.safetensors.index.json')));
  const m2 = loadModel(dir);
  const ids = torch.tensor(randomPrompts([5]));
  assert.ok(tidy(() => logitsOf(model, ids).equal(logitsOf(m2, ids))));
  console.log(`sharded load from ${shards.length} shards: logits bit-identical`);
  // a shard listed in the index but missing is named
  fs.rmSync(path.join(dir, shards[1]!));
  assert.throws(() => loadModel(dir), (e: Error) => e instanceof CheckpointError && e.message.includes(shards[1]!));
  torch.dispose(ids);
  model.dispose();
  m2.dispose();
});

test('bf16 and f16 checkpoints are converted to the compute dtype on load', () => {
  for (const dt of ['bfloat16', 'float16'] as const) {
    const { dir, model } = savedTiny(`half-${dt}`, {}, { dtype: dt });
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).torch_dtype, dt);
    const m32 = loadModel(dir, { dtype: 'float32' });
    assert.equal(m32.model.embed_tokens.weight.dtype, 'float32');
    const w = model.model.layers.items[0]!.mlp.up_proj.weight;
    assert.ok(tidy(() => m32.model.layers.items[0]!.mlp.up_proj.weight.equal(w.to(dt).to('float32'))), `${dt} weights widened exactly`);
    model.dispose();
    m32.dispose();
  }
  // bfloat16 compute (float16 has no CPU matmul in libtorch 1.13: a clear error instead)
  const { dir, model } = savedTiny('bf16-compute');
  const mb = loadModel(dir, { dtype: 'bfloat16' });
  assert.equal(mb.model.norm.weight.dtype, 'bfloat16');
  const ids = torch.tensor(randomPrompts([6]));
  tidy(() => assertClose('bfloat16 compute vs float32 compute (logits)', logitsOf(mb, ids), logitsOf(model, ids), 0.5));
  assert.throws(() => loadModel(dir, { dtype: 'float16' }), /float16 is not supported/);
  torch.dispose(ids);
  model.dispose();
  mb.dispose();
});

test('malformed checkpoints: each error names what is wrong', () => {
  const cases: [string, (dir: string) => void, RegExp, new (...a: never[]) => Error][] = [
    ['missing tensor', (d) => editWeights(d, (m) => { m.get('model.layers.1.mlp.up_proj.weight')!.dispose(); m.delete('model.layers.1.mlp.up_proj.weight'); }),
      /missing tensor 'model\.layers\.1\.mlp\.up_proj\.weight'/, CheckpointError],
    ['extra tensor', (d) => editWeights(d, (m) => m.set('model.layers.0.self_attn.o_proj.bias', torch.zeros([32]))),
      /unexpected tensor 'model\.layers\.0\.self_attn\.o_proj\.bias'/, CheckpointError],
    ['wrong shape', (d) => editWeights(d, (m) => { m.get('model.layers.0.self_attn.k_proj.weight')!.dispose(); m.set('model.layers.0.self_attn.k_proj.weight', torch.zeros([32, 32])); }),
      /'model\.layers\.0\.self_attn\.k_proj\.weight' has shape \[32,32\] but config\.json implies \[16,32\]/, CheckpointError],
    ['untied config, no lm_head', (d) => editWeights(d, (m) => { m.get('lm_head.weight')!.dispose(); m.delete('lm_head.weight'); }),
      /missing tensor 'lm_head\.weight' \(config\.json says tie_word_embeddings: false\)/, CheckpointError],
    ['config not JSON', (d) => fs.writeFileSync(path.join(d, 'config.json'), '{"model_type": "qwen2",'), /config\.json: not valid JSON/, CheckpointError],
    ['config missing a field', (d) => patchConfig(d, (c) => delete c.num_hidden_layers), /config\.json: missing required field 'num_hidden_layers'/, ConfigError],
    ['config heads not divisible', (d) => patchConfig(d, (c) => (c.num_key_value_heads = 3)), /num_attention_heads \(4\) must be a multiple of num_key_value_heads \(3\)/, ConfigError],
    ['unsupported model_type', (d) => patchConfig(d, (c) => (c.model_type = 'mistral')), /model_type 'mistral' is not supported \(supported: qwen2, qwen3, llama\)/, ConfigError],
    ['unsupported activation', (d) => patchConfig(d, (c) => (c.hidden_act = 'gelu')), /hidden_act 'gelu' is not supported/, ConfigError],
    ['sliding window in use', (d) => patchConfig(d, (c) => Object.assign(c, { use_sliding_window: true, max_window_layers: 1 })), /use_sliding_window=true with max_window_layers 1 < 2 layers is not supported/, ConfigError],
    ['unsupported rope scaling', (d) => patchConfig(d, (c) => (c.rope_scaling = { type: 'yarn', factor: 4 })), /rope_scaling type 'yarn' is not supported/, ConfigError],
    ['no weights', (d) => fs.rmSync(path.join(d, 'model.safetensors')), /no model\.safetensors or model\.safetensors\.index\.json/, CheckpointError],
    // The tiny model has vocab_size 288 and its tokenizer 269 ids; a smaller vocab_size loses rows.
    ['tokenizer larger than vocab_size', (d) => patchConfig(d, (c) => (c.vocab_size = 40)),
      /tokenizer\.json: the tokenizer has \d+ token ids .* but \S*config\.json says vocab_size 40/, CheckpointError],
  ];
  const start = torch.memory().tensors;
  for (const [name, corrupt, re, cls] of cases) {
    const { dir, model } = savedTiny('bad');
    model.dispose();
    corrupt(dir);
    assert.throws(() => loadPretrained(dir), (e: Error) => {
      assert.ok(e instanceof cls, `${name}: ${e.name} is not a ${cls.name}: ${e.message}`);
      assert.match(e.message, re, name);
      return true;
    }, name);
    console.log(`${name}: ${(() => { try { loadPretrained(dir); } catch (e) { return (e as Error).message; } })()}`);
  }
  assert.equal(torch.memory().tensors, start, 'failed loads free what they allocated');
});

test('a tied checkpoint that also stores lm_head.weight loads when it equals the embeddings, else fails', () => {
  const { dir, model } = savedTiny('tied-head', { tieWordEmbeddings: true });
  editWeights(dir, (m) => m.set('lm_head.weight', m.get('model.embed_tokens.weight')!.clone()));
  loadModel(dir).dispose();
  editWeights(dir, (m) => m.set('lm_head.weight', m.get('lm_head.weight')!.add(1)));
  assert.throws(() => loadModel(dir), /tie_word_embeddings is true but the stored 'lm_head\.weight' differs/);
  model.dispose();
});

function patchConfig(dir: string, edit: (c: Record<string, unknown>) => void): void {
  const f = path.join(dir, 'config.json');
  const c = JSON.parse(fs.readFileSync(f, 'utf8'));
  edit(c);
  fs.writeFileSync(f, JSON.stringify(c));
}
