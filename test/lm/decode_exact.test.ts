/**
 * Issue #11 class 12: rollout text is decoded exactly. A tokenizer_config.json with
 * `clean_up_tokenization_spaces: true` (common in Llama-family checkpoints) makes a plain decode
 * drop spaces before punctuation; the verifiers must see the text the model produced.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generate, Tokenizer } from '../../src/lm/index.js';
import { byteLevelTokenizerJson, byteToUnicode, randomPrompts, tinyModel, tokenizerConfigJson } from './fixtures.js';

/** The test tokenizer plus four merged tokens " ." " ," " ?" " !" (ids 266–269), cleanup on. */
function cleanupTokenizer(): Tokenizer {
  const { json } = byteLevelTokenizerJson();
  const model = json.model as { vocab: Record<string, number>; merges: string[] };
  const G = byteToUnicode()[0x20]!;
  const base = Object.keys(model.vocab).length;
  ['.', ',', '?', '!'].forEach((p, k) => {
    model.vocab[G + p] = base + k;
    model.merges.push(`${G} ${p}`);
  });
  for (const t of json.added_tokens as { id: number }[]) t.id += 4;
  return new Tokenizer(json, { ...tokenizerConfigJson(), clean_up_tokenization_spaces: true });
}

test('decode: the config cleanup drops spaces; cleanUpTokenizationSpaces: false keeps the exact text', () => {
  const tok = cleanupTokenizer();
  for (const text of ["out = ' '.join(ans)", 'from . import x', "print(a , b) ! don 't ?"]) {
    const ids = tok.encode(text, { addSpecialTokens: false });
    assert.equal(tok.decode(ids, { cleanUpTokenizationSpaces: false }), text, 'exact decode round-trips');
    assert.notEqual(tok.decode(ids), text, 'the config default (cleanup) changes this text');
  }
  assert.equal(tok.decode(tok.encode('from . import x', { addSpecialTokens: false })), 'from. import x');
});

test('generate: sample text is the exact decode of its tokens, even with cleanup in the config', () => {
  const tok = cleanupTokenizer();
  const m = tinyModel({}, 'float32', 5, 0.05); // small std: near-uniform sampling over the vocabulary
  const samples = generate(m, randomPrompts([4, 6], 256, 3), { n: 4, maxNewTokens: 96, temperature: 1, seed: 11, tokenizer: tok });
  let differs = 0;
  for (const s of samples) {
    const exact = tok.decode(s.tokenIds, { skipSpecialTokens: true, cleanUpTokenizationSpaces: false });
    assert.equal(s.text, exact);
    if (tok.decode(s.tokenIds, { skipSpecialTokens: true }) !== exact) differs++;
  }
  console.log(`${differs}/${samples.length} samples would have been altered by clean_up_tokenization_spaces`);
  assert.ok(differs > 0, 'the samples must exercise the cleanup (else this test could not fail)');
  m.dispose();
});
