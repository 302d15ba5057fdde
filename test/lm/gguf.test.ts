/**
 * GGUF → HF conversion (src/lm/gguf.ts) against transformers loading the same GGUF file
 * (`gguf_file=`, its own reader and dequantizer): tiny random models written by test/lm/gguf_ref.py
 * with the Python `gguf` package, one per tensor type (F32, F16, BF16, Q8_0, Q4_0, Q4_1 for llama;
 * Q8_0 for qwen2). Checks logits (float32, tolerance 1e-4 absolute), tokenization and chat-template
 * ids (equal), the savePretrained → loadPretrained round trip, and the load-time errors.
 * Needs the project venv (PRIME_PYTHON, default .venv/bin/python) with transformers, gguf, accelerate:
 * without them it fails and says why.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../../src/torch/index.js';
import { convertGguf, loadPretrained, savePretrained, readGguf, unpermuteRows, ggufTokenizer, Tokenizer, GGML_TYPES, GgufError, type GgufFile } from '../../src/lm/index.js';
import { tmpDir } from './fixtures.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '../../..');
const SCRIPT = path.join(ROOT, 'test/lm/gguf_ref.py');
const PY = process.env.PRIME_PYTHON ?? path.join(ROOT, '.venv/bin/python');

interface Fixture { file: string; arch: string; type: string; vocab: number; bad: boolean }
interface RefOut { texts: number[][]; chats: number[][]; logits_shapes: number[][] }

const TEXTS = ['the cat sat on the mat.', 'there are 12 cats<|im_end|> and 345 dogs;\n what is 2+3?', '  the theory:  these three things  '];
const CHATS = [[{ role: 'user', content: 'what is 2+3?' }], [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'the cat sat' }, { role: 'assistant', content: 'on the mat.' }, { role: 'user', content: 'then?' }]];
const IDS = [[5, 6, 7, 8, 9, 10, 11, 12, 300, 2], [1, 100, 200, 250, 40, 41]];
const TOL = 1e-4;

let fixtures: Fixture[] = [];
let refs: RefOut[] = [];
let dir = '';

before(() => {
  const why = !fs.existsSync(PY) ? `${PY} does not exist`
    : spawnSync(PY, ['-c', 'import gguf, transformers, accelerate, torch'], { stdio: 'ignore' }).status !== 0 ? `${PY} lacks gguf/transformers/accelerate/torch` : null;
  if (why) throw new Error(`the GGUF reference needs the project venv (make venv; PRIME_PYTHON): ${why}`);
  dir = tmpDir('gguf');
  execFileSync(PY, [SCRIPT, 'make', dir], { stdio: ['ignore', 'inherit', 'inherit'] });
  fixtures = JSON.parse(fs.readFileSync(path.join(dir, 'fixtures.json'), 'utf8'));
  const good = fixtures.filter((f) => !f.bad);
  const req = good.map((f, i) => ({ gguf: f.file, texts: TEXTS, chats: CHATS, ids: IDS, logits_file: path.join(dir, `ref${i}.bin`) }));
  fs.writeFileSync(path.join(dir, 'req.json'), JSON.stringify(req));
  execFileSync(PY, [SCRIPT, 'ref', path.join(dir, 'req.json'), path.join(dir, 'res.json')], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, PRIME_NUM_THREADS: '1' } });
  refs = JSON.parse(fs.readFileSync(path.join(dir, 'res.json'), 'utf8'));
});

test('every supported tensor type: logits, tokens and chat ids equal transformers on the same GGUF', async () => {
  const good = fixtures.filter((f) => !f.bad);
  assert.deepEqual(good.map((f) => `${f.arch}-${f.type}`), ['llama-F32', 'llama-F16', 'llama-BF16', 'llama-Q8_0', 'llama-Q4_0', 'llama-Q4_1', 'qwen2-Q8_0']);
  for (const [i, f] of good.entries()) {
    const out = path.join(dir, `hf-${f.arch}-${f.type}`);
    const r = await convertGguf(f.file, out);
    if (f.type !== 'F32') assert.ok((r.tensorTypes[f.type] ?? 0) > 0, `${f.type} tensors were converted`);
    const pre = loadPretrained(out);
    const tok = pre.tokenizer!;
    for (const [k, t] of TEXTS.entries()) assert.deepEqual(tok.encode(t), refs[i]!.texts[k], `${f.type}: tokens of ${JSON.stringify(t)}`);
    for (const [k, c] of CHATS.entries()) assert.deepEqual(tok.encodeChat(c), refs[i]!.chats[k], `${f.type}: chat ${k}`);
    const ref = new Float32Array(fs.readFileSync(path.join(dir, `ref${i}.bin`)).buffer.slice(0));
    let off = 0, maxDiff = 0, maxAbs = 0;
    for (const [k, ids] of IDS.entries()) {
      const mine = torch.tidy(() => {
        const x = torch.tensor([ids]);
        return pre.model.logits(pre.model.forward(x)).squeeze(0).contiguous().data() as Float32Array;
      });
      const [T, V] = refs[i]!.logits_shapes[k]!;
      assert.equal(mine.length, T! * V!);
      for (let j = 0; j < mine.length; j++) {
        maxDiff = Math.max(maxDiff, Math.abs(mine[j]! - ref[off + j]!));
        maxAbs = Math.max(maxAbs, Math.abs(ref[off + j]!));
      }
      off += mine.length;
    }
    console.log(`# ${f.arch} ${f.type}: max |logit − transformers| = ${maxDiff.toExponential(2)} (logits up to ${maxAbs.toFixed(1)}; tolerance ${TOL}); tokens and chat ids equal`);
    assert.ok(maxDiff < TOL, `${f.type}: max logit difference ${maxDiff}`);
    pre.model.dispose();
  }
});

test('the converted directory round-trips: savePretrained → loadPretrained gives equal tensors and tokenizer', async () => {
  const f = fixtures.find((x) => x.type === 'Q4_1')!;
  const a = path.join(dir, 'rt-a'), b = path.join(dir, 'rt-b');
  await convertGguf(f.file, a);
  const pa = loadPretrained(a);
  savePretrained(b, pa.model, { tokenizer: pa.tokenizer, generationConfig: pa.generationConfig });
  const pb = loadPretrained(b);
  const sa = pa.model.stateDict(), sb = pb.model.stateDict();
  assert.deepEqual([...sa.keys()].sort(), [...sb.keys()].sort());
  let maxDiff = 0;
  for (const [n, t] of sa) maxDiff = Math.max(maxDiff, torch.tidy(() => t.sub(sb.get(n)!).abs().max().item()));
  console.log(`# round trip: ${sa.size} tensors, max difference ${maxDiff}`);
  assert.equal(maxDiff, 0);
  assert.deepEqual(pb.tokenizer!.encode(TEXTS[1]!), pa.tokenizer!.encode(TEXTS[1]!));
  assert.deepEqual(pb.stopTokenIds.sort(), pa.stopTokenIds.sort());
  pa.model.dispose();
  pb.model.dispose();
});

test('a tensor type prime-ts does not dequantize: an error naming the file, the tensor and the type', async () => {
  const f = fixtures.find((x) => x.type === 'bad-Q5_0')!;
  await assert.rejects(convertGguf(f.file, path.join(dir, 'bad1')), (e: Error) =>
    e instanceof GgufError && e.message.includes(f.file) && e.message.includes("tensor 'token_embd.weight'") && e.message.includes('Q5_0'));
  assert.ok(!fs.existsSync(path.join(dir, 'bad1', 'model.safetensors')), 'nothing written');
});

test('metadata contradicting a tensor shape: an error naming the file, the tensor and the field', async () => {
  const f = fixtures.find((x) => x.type === 'bad-ffn')!;
  await assert.rejects(convertGguf(f.file, path.join(dir, 'bad2')), (e: Error) =>
    e instanceof GgufError && e.message.includes(f.file) && /tensor 'blk\.0\.ffn_\w+\.weight'/.test(e.message) && e.message.includes('llama.feed_forward_length'));
});

test('a truncated file: an error naming the file and the first tensor past the end', async () => {
  const f = fixtures.find((x) => x.type === 'Q8_0')!;
  const bytes = fs.readFileSync(f.file);
  const cut = path.join(dir, 'truncated.gguf');
  fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
  await assert.rejects(convertGguf(cut, path.join(dir, 'bad3')), (e: Error) =>
    e instanceof GgufError && e.message.includes(cut) && /tensor '[\w.]+'/.test(e.message) && e.message.includes('truncated'));
  const head = path.join(dir, 'header-only.gguf');
  fs.writeFileSync(head, bytes.subarray(0, 300));
  await assert.rejects(convertGguf(head, path.join(dir, 'bad4')), (e: Error) => e instanceof GgufError && e.message.includes(head));
  const g = await readGguf(f.file);
  assert.equal(g.metadata['general.architecture'], 'llama');
});

test('dequantization of hand-built blocks and the q/k row un-permutation (worked by hand)', () => {
  // Q4_1: d = 0.5 (f16 0x3800), m = −1 (0xBC00); qs[j] = j | (15 − j) << 4 → x[j] = 0.5j − 1, x[j+16] = 0.5(15 − j) − 1
  const q41 = new Uint8Array(20);
  q41.set([0x00, 0x38, 0x00, 0xbc]);
  for (let j = 0; j < 16; j++) q41[4 + j] = j | ((15 - j) << 4);
  const out = new Float32Array(32);
  GGML_TYPES.get(3)!.dequantize(q41, out);
  for (let j = 0; j < 16; j++) {
    assert.equal(out[j], 0.5 * j - 1);
    assert.equal(out[j + 16], 0.5 * (15 - j) - 1);
  }
  // Q4_0: d = 2 (0x4000); nibble q → (q − 8)·2
  const q40 = new Uint8Array(18);
  q40.set([0x00, 0x40]);
  for (let j = 0; j < 16; j++) q40[2 + j] = j | (j << 4);
  GGML_TYPES.get(2)!.dequantize(q40, out);
  for (let j = 0; j < 16; j++) assert.equal(out[j], (j - 8) * 2);
  // Q8_0: d = −0.25 (0xB400), qs = −16..15
  const q80 = new Uint8Array(34);
  q80.set([0x00, 0xb4]);
  for (let j = 0; j < 32; j++) q80[2 + j] = (j - 16) & 0xff;
  GGML_TYPES.get(8)!.dequantize(q80, out);
  for (let j = 0; j < 32; j++) assert.equal(out[j], (j - 16) * -0.25);
  // un-permute: one head of width 4, one column; GGUF rows [r0, r2, r1, r3] (pairs interleaved) → HF [r0, r1, r2, r3]
  const rows = new Float32Array([0, 2, 1, 3, 10, 12, 11, 13]);
  unpermuteRows(rows, 8, 2);
  assert.deepEqual([...rows], [0, 1, 2, 3, 10, 11, 12, 13]);
});

test("tokenizer.ggml.pre: 'smollm' splits digits singly (as llama.cpp and SmolLM2's tokenizer.json), 'default' does not; unknown types are refused", () => {
  // a vocabulary with the merge '1 2' → '12': only a pre-tokenizer that splits digits keeps them apart
  const tokens = ['<|endoftext|>', '1', '2', '12', 'a', 'Ġ', 'Ġa'];
  const g = (pre: string): GgufFile => ({
    file: 'mem.gguf', version: 3, tensors: [],
    metadata: {
      'general.architecture': 'llama', 'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.pre': pre, 'tokenizer.ggml.tokens': tokens,
      'tokenizer.ggml.token_type': [3, 1, 1, 1, 1, 1, 1], 'tokenizer.ggml.merges': ['1 2', 'Ġ a'], 'tokenizer.ggml.eos_token_id': 0,
    },
  });
  const enc = (pre: string, text: string) => {
    const { tokenizerJson, tokenizerConfig } = ggufTokenizer(g(pre));
    return new Tokenizer(tokenizerJson, tokenizerConfig).encode(text);
  };
  assert.deepEqual(enc('default', '12 a12'), [3, 6, 3]);
  assert.deepEqual(enc('smollm', '12 a12'), [1, 2, 6, 1, 2]);
  assert.deepEqual(enc('smollm', '12<|endoftext|>'), [1, 2, 0]);
  assert.throws(() => ggufTokenizer(g('made-up')), (e: Error) => e instanceof GgufError && e.message.includes("mem.gguf: metadata field 'tokenizer.ggml.pre' is 'made-up'"));
});
