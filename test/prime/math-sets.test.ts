/**
 * GSM8K / MATH-500 → Eurus-2 rows (src/prime/math-sets.ts), on the repository's copies of the real
 * sets (data/), and `prime eval --show-failures`' failure records (src/prime/evaluate.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertMathSet, gsm8kAnswer, BOXED_INSTRUCTION, loadPromptRows, evaluateModel, formatFailures } from '../../src/prime/index.js';
import { tinyModel, makeTokenizer } from '../lm/fixtures.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-mathsets-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

test('GSM8K: the ground truth is the number after ####, thousands separators removed', () => {
  assert.equal(gsm8kAnswer('She makes 9 * 2 = $<<9*2=18>>18.\n#### 18'), '18');
  assert.equal(gsm8kAnswer('...\n#### 1,250'), '1250');
  assert.equal(gsm8kAnswer('#### -3.5'), '-3.5');
  assert.throws(() => gsm8kAnswer('no final line', 'f.jsonl: line 7'), /f\.jsonl: line 7: field 'answer' has no '#### <number>' line/);
  assert.throws(() => gsm8kAnswer('#### twelve', 'f.jsonl: line 2'), /line 2.*not a number/);
});

test('the real GSM8K and MATH-500 copies convert to Eurus-2 rows that the prompt loader reads back', async () => {
  const g = path.join(tmp, 'gsm8k.jsonl'), m = path.join(tmp, 'math500.jsonl');
  assert.equal(await convertMathSet('gsm8k', path.join(ROOT, 'data/gsm8k/test.jsonl'), g), 1319);
  assert.equal(await convertMathSet('math500', path.join(ROOT, 'data/math500/test.jsonl'), m), 500);
  const gr = await loadPromptRows(g), mr = await loadPromptRows(m);
  assert.equal(gr.length, 1319);
  assert.equal(mr.length, 500);
  // row 0 of each set, read by hand from the source files
  assert.equal(gr[0]!.groundTruth, '18');
  assert.ok(gr[0]!.messages[0]!.content.startsWith('Janet’s ducks lay 16 eggs per day.'));
  assert.ok(gr[0]!.messages[0]!.content.endsWith(`\n\n${BOXED_INSTRUCTION}`));
  assert.equal(gr[0]!.ability, 'math');
  assert.equal(gr[0]!.dataSource, 'gsm8k');
  assert.equal(mr[0]!.groundTruth, '\\left( 3, \\frac{\\pi}{2} \\right)');
  assert.deepEqual(mr[0]!.extraInfo, { split: 'test', index: 0, subject: 'Precalculus', level: 2, unique_id: 'test/precalculus/807.json' });
  assert.ok(gr.every((r) => /^-?\d+(\.\d+)?$/.test(r.groundTruth)), 'every GSM8K ground truth is a number');
  // the committed converted files are what the converter writes
  assert.equal(fs.readFileSync(path.join(ROOT, 'data/gsm8k/test.prime.jsonl'), 'utf8'), fs.readFileSync(g, 'utf8'));
  assert.equal(fs.readFileSync(path.join(ROOT, 'data/math500/test.prime.jsonl'), 'utf8'), fs.readFileSync(m, 'utf8'));
});

test('a malformed record: an error naming the file, the line and the field', async () => {
  const bad = path.join(tmp, 'bad.jsonl');
  fs.writeFileSync(bad, '{"question": "q", "answer": "#### 1"}\n{"question": "q2"}\n');
  await assert.rejects(convertMathSet('gsm8k', bad, path.join(tmp, 'o.jsonl')), (e: Error) => e.message.includes(`${bad}: line 2: field 'answer'`));
  fs.writeFileSync(bad, '{"problem": "p", "answer": "1"}\nnot json\n');
  await assert.rejects(convertMathSet('math500', bad, path.join(tmp, 'o.jsonl')), (e: Error) => e.message.includes(`${bad}: line 2: not valid JSON`));
});

test('evaluateModel keeps up to N failed rows with the prompt, response, extracted answer and ground truth', async () => {
  const model = tinyModel({}, 'float32', 3);
  const tok = makeTokenizer();
  const rows = [0, 1, 2, 3].map((i) => ({ dataSource: 't', messages: [{ role: 'user', content: `q${i}` }], ability: 'math', groundTruth: String(i), extraInfo: {}, row: i, file: 'f.jsonl' }));
  // a verifier that passes even rows only, and extracts the response's length
  const verifier = async (row: (typeof rows)[number], text: string) => ({ score: row.row % 2 === 0 ? 1 : 0, extracted: `len${text.length}` });
  const r = await evaluateModel(model, tok, rows, verifier, { samples: 1, greedy: true, maxNewTokens: 4, stopTokenIds: [], padTokenId: 0, failures: 5 });
  assert.equal(r.avgAtK, 0.5);
  assert.deepEqual(r.failures!.map((f) => f.row), [1, 3]);
  for (const f of r.failures!) {
    assert.equal(f.groundTruth, String(f.row));
    assert.equal(f.extracted, `len${f.response.length}`);
    assert.ok(f.prompt.includes(`q${f.row}`) && f.prompt.endsWith('<|im_start|>assistant\n'), f.prompt);
    assert.equal(f.score, 0);
  }
  const text = formatFailures(r.failures!);
  assert.match(text, /failure 1\/2: f\.jsonl row 1 \(score 0\)/);
  assert.ok(text.includes(`--- ground truth: "3"`) && text.includes(`--- extracted: "len`));
  const one = await evaluateModel(model, tok, rows, verifier, { samples: 1, greedy: true, maxNewTokens: 4, stopTokenIds: [], padTokenId: 0, failures: 1 });
  assert.equal(one.failures!.length, 1);
  model.dispose();
});
