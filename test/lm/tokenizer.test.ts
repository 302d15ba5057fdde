import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer, TokenizerError } from '../../src/lm/index.js';
import { byteLevelTokenizerJson, makeTokenizer, tmpDir, tokenizerConfigJson } from './fixtures.js';

test('byte-level BPE: encode/decode round trip on ASCII, accents, emoji, whitespace and special tokens', () => {
  const tok = makeTokenizer();
  const texts = ['hello the world 12', 'naïve café — ünïcödé', 'emoji 🎉👩‍👩‍👧 and CJK 数学', '  two  spaces\n\ttab\r\n', '<|im_start|>user\nhi<|im_end|>', ''];
  for (const t of texts) {
    const ids = tok.encode(t);
    assert.equal(tok.decode(ids), t, `round trip of ${JSON.stringify(t)}`);
  }
  // merges apply: "hell" is one token (h e → he, l l → ll, he ll → hell), ids by construction
  assert.deepEqual(tok.encode('hello'), [258, 111]);
  assert.deepEqual(tok.encode(' the'), [259, 256]); // Ġ t + he: "h e" outranks "Ġt h"
  // special tokens are single ids, and can be skipped when decoding
  const sp = byteLevelTokenizerJson().specialIds;
  assert.deepEqual(tok.encode('<|im_end|>'), [sp['<|im_end|>']]);
  assert.equal(tok.decode(tok.encode('<|im_start|>hi<|im_end|>'), { skipSpecialTokens: true }), 'hi');
  assert.ok(tok.isSpecial(sp['<|im_end|>']!) && !tok.isSpecial(104));
});

test('eos / pad / bos ids come from tokenizer_config.json', () => {
  const tok = makeTokenizer();
  const sp = byteLevelTokenizerJson().specialIds;
  assert.equal(tok.eosTokenId, sp['<|im_end|>']);
  assert.equal(tok.padTokenId, sp['<|endoftext|>']);
  assert.equal(tok.bosTokenId, null);
  assert.equal(tok.vocabSize, byteLevelTokenizerJson().vocabSize);
  // no pad token: falls back to eos
  const cfg = { ...tokenizerConfigJson(), pad_token: null, eos_token: { content: '<|endoftext|>', special: true } };
  const t2 = new Tokenizer(byteLevelTokenizerJson().json, cfg);
  assert.equal(t2.padTokenId, sp['<|endoftext|>']);
  assert.throws(() => new Tokenizer(byteLevelTokenizerJson().json, { ...tokenizerConfigJson(), eos_token: '<|nope|>' }), TokenizerError);
});

test('chat template renders (default system turn, generation prompt) and encodes without extra specials', () => {
  const tok = makeTokenizer();
  const msgs = [{ role: 'user', content: 'What is 2+2?' }];
  const want = '<|im_start|>system\nYou are a test.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n';
  assert.equal(tok.applyChatTemplate(msgs, { addGenerationPrompt: true }), want);
  assert.equal(tok.applyChatTemplate(msgs), want.slice(0, -'<|im_start|>assistant\n'.length));
  const withSystem = tok.applyChatTemplate([{ role: 'system', content: 'Be brief.' }, ...msgs], { addGenerationPrompt: false });
  assert.equal(withSystem, '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n');
  const ids = tok.encodeChat(msgs);
  assert.equal(tok.decode(ids), want);
  assert.equal(ids.filter((i) => tok.isSpecial(i)).length, 5); // system, user: im_start + im_end; assistant: im_start; nothing added
});

test('fromDir reads the files and save writes them back verbatim', () => {
  const dir = tmpDir('tok');
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(byteLevelTokenizerJson().json));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfigJson(), null, 1));
  const tok = Tokenizer.fromDir(dir);
  assert.equal(tok.decode(tok.encode('the world')), 'the world');
  const out = tmpDir('tok-out');
  tok.save(out);
  for (const f of ['tokenizer.json', 'tokenizer_config.json'])
    assert.equal(fs.readFileSync(path.join(out, f), 'utf8'), fs.readFileSync(path.join(dir, f), 'utf8'));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), '{');
  assert.throws(() => Tokenizer.fromDir(dir), /tokenizer_config\.json: not valid JSON/);
});
