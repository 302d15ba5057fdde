import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { loadPromptRows, PromptDataset, splitRows, writePromptRowsJsonl, type PromptRow, type NewPromptRow } from '../../src/prime/data.js';

const dir = mkdtempSync(join(tmpdir(), 'prime-data-test-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const path = (name: string) => join(dir, name);

const mathPrompt = [
  { role: 'system', content: 'Think step by step.' },
  { role: 'user', content: 'What is 1+1? Put the answer in \\boxed{}.' },
];
const codeTests = JSON.stringify({ inputs: ['1 2\n'], outputs: ['3\n'] });

/** Asserts that fn rejects with a message containing every fragment. */
async function rejectsWith(fn: () => Promise<unknown>, ...fragments: string[]) {
  await assert.rejects(fn, (e: Error) => {
    for (const f of fragments) assert.ok(e.message.includes(f), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(f)}`);
    return true;
  });
}

// Parquet written with the real nested layout of Eurus-2-RL-Data: prompt = list<struct<role, content>>,
// reward_model = struct<ground_truth, style>, extra_info = struct<index: int64, split>.
const nestedSchema = [
  { name: 'root', num_children: 5 },
  { name: 'data_source', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'prompt', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', repetition_type: 'OPTIONAL', num_children: 2 },
  { name: 'role', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'content', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'ability', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'reward_model', repetition_type: 'OPTIONAL', num_children: 2 },
  { name: 'ground_truth', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'style', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'extra_info', repetition_type: 'OPTIONAL', num_children: 2 },
  { name: 'index', type: 'INT64', repetition_type: 'OPTIONAL' },
  { name: 'split', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
] as const;

function writeNestedParquet(file: string, groundTruths: (string | null)[]) {
  const n = groundTruths.length;
  const buf = parquetWriteBuffer({
    columnData: [
      { name: 'data_source', data: Array.from({ length: n }, (_, i) => (i % 2 ? 'taco' : 'numina_olympiads')) },
      { name: 'prompt', data: Array.from({ length: n }, (_, i) => (i % 2 ? [{ role: 'user', content: `code ${i}` }] : mathPrompt)) },
      { name: 'ability', data: Array.from({ length: n }, (_, i) => (i % 2 ? 'code' : 'math')) },
      { name: 'reward_model', data: groundTruths.map((g) => ({ ground_truth: g, style: 'rule' })) },
      { name: 'extra_info', data: Array.from({ length: n }, (_, i) => ({ index: BigInt(i), split: 'train' })) },
    ],
    schema: nestedSchema as never,
  });
  writeFileSync(file, new Uint8Array(buf));
}

test('parquet with nested list-of-struct prompt and struct reward_model', async () => {
  const f = path('nested.parquet');
  writeNestedParquet(f, ['2', codeTests, '\\frac{1}{2}']);
  const rows = await loadPromptRows(f);
  assert.equal(rows.length, 3);
  assert.deepEqual(rows[0], {
    dataSource: 'numina_olympiads',
    messages: mathPrompt,
    ability: 'math',
    groundTruth: '2',
    extraInfo: { index: 0, split: 'train' }, // INT64 arrives as bigint and is made a number
    groundTruthField: 'reward_model.ground_truth',
    row: 0,
    file: f,
  });
  assert.equal(rows[1]!.ability, 'code');
  assert.deepEqual(JSON.parse(rows[1]!.groundTruth), { inputs: ['1 2\n'], outputs: ['3\n'] });
  assert.deepEqual(rows[1]!.messages, [{ role: 'user', content: 'code 1' }]);
  assert.equal(rows[2]!.row, 2);
});

test('parquet: a null ground_truth names the file, row and field', async () => {
  const f = path('bad.parquet');
  writeNestedParquet(f, ['1', null, '3']);
  await rejectsWith(() => loadPromptRows(f), `${f}: row 1: field 'reward_model.ground_truth' is missing`);
});

test('parquet with prompt and reward_model stored as JSON strings', async () => {
  const f = path('flat.parquet');
  const buf = parquetWriteBuffer({
    columnData: [
      { name: 'data_source', data: ['a', 'b'], type: 'STRING' },
      { name: 'prompt', data: [JSON.stringify(mathPrompt), 'plain question?'], type: 'STRING' },
      { name: 'ability', data: ['math', 'math'], type: 'STRING' },
      // one as a JSON-annotated column (hyparquet parses it), ...
      { name: 'reward_model', data: [{ style: 'rule', ground_truth: '2' }, { style: 'rule', ground_truth: '7' }], type: 'JSON' },
      // ... one as a plain string holding JSON
      { name: 'extra_info', data: [JSON.stringify({ split: 'test', index: 5 }), null], type: 'STRING' },
    ],
  });
  writeFileSync(f, new Uint8Array(buf));
  const rows = await loadPromptRows(f);
  assert.deepEqual(rows[0]!.messages, mathPrompt);
  assert.deepEqual(rows[1]!.messages, [{ role: 'user', content: 'plain question?' }]);
  assert.deepEqual(rows.map((r) => r.groundTruth), ['2', '7']);
  assert.deepEqual(rows[0]!.extraInfo, { split: 'test', index: 5 });
  assert.deepEqual(rows[1]!.extraInfo, {});
});

test('parquet: a file that is not parquet is a clear error', async () => {
  const f = path('junk.parquet');
  writeFileSync(f, 'not parquet at all');
  await rejectsWith(() => loadPromptRows(f), f, 'cannot read parquet');
});

const eurus = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    data_source: 'numina_synthetic_math',
    prompt: mathPrompt,
    ability: 'math',
    reward_model: { style: 'rule', ground_truth: '2' },
    extra_info: { split: 'train', index: 0 },
    ...over,
  });

test('JSONL: rows, blank lines skipped, row numbers count rows only', async () => {
  const f = path('ok.jsonl');
  writeFileSync(f, [eurus(), '', eurus({ ability: 'code', reward_model: { style: 'rule', ground_truth: codeTests } }), '   ', eurus({ extra_info: undefined })].join('\r\n') + '\n');
  const rows = await loadPromptRows(f);
  assert.equal(rows.length, 3);
  assert.deepEqual(rows.map((r) => r.row), [0, 1, 2]);
  assert.equal(rows[1]!.groundTruth, codeTests);
  assert.deepEqual(rows[2]!.extraInfo, {});
});

test('JSONL: invalid JSON names the file, row and line', async () => {
  const f = path('badjson.jsonl');
  writeFileSync(f, [eurus(), '', '{"data_source": "x", ', eurus()].join('\n'));
  await rejectsWith(() => loadPromptRows(f), `${f}: row 1 (line 3): invalid JSON`);
});

test('JSONL: each malformed field is named', async () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ reward_model: { style: 'rule' } }, "field 'reward_model.ground_truth' is missing"],
    [{ reward_model: undefined }, "field 'reward_model' is missing"],
    [{ reward_model: 'not json' }, "field 'reward_model' is a string that is not valid JSON"],
    [{ reward_model: { ground_truth: true } }, "field 'reward_model.ground_truth' must be a string, got a boolean"],
    [{ ability: 3 }, "field 'ability' must be a string, got a number"],
    [{ data_source: undefined }, "field 'data_source' is missing"],
    [{ prompt: undefined }, "field 'prompt' is missing"],
    [{ prompt: [] }, "field 'prompt' is an empty message list"],
    [{ prompt: [{ role: 'system', content: 's' }, { role: 'user' }] }, "field 'prompt[1].content' is missing"],
    [{ prompt: [{ role: 1, content: 's' }] }, "field 'prompt[0].role' must be a string"],
    [{ prompt: 7 }, "field 'prompt' must be a list"],
    [{ extra_info: 5 }, "field 'extra_info' must be an object"],
  ];
  for (const [i, [over, msg]] of cases.entries()) {
    const f = path(`bad${i}.jsonl`);
    writeFileSync(f, `${eurus()}\n${eurus()}\n\n${eurus(over)}\n`);
    await rejectsWith(() => loadPromptRows(f), `${f}: row 2 (line 4): ${msg}`);
  }
  const f = path('notobj.jsonl');
  writeFileSync(f, '[1, 2]\n');
  await rejectsWith(() => loadPromptRows(f), `${f}: row 0 (line 1): expected an object, got an array`);
});

test('JSON array, question/answer fallback, numeric ground truth', async () => {
  const f = path('arr.json');
  writeFileSync(f, JSON.stringify([JSON.parse(eurus()), { question: 'What is 6*7?', answer: 42 }]));
  const rows = await loadPromptRows(f);
  assert.equal(rows.length, 2);
  assert.deepEqual(rows[1]!.messages, [{ role: 'user', content: 'What is 6*7?' }]);
  assert.equal(rows[1]!.groundTruth, '42');
  assert.equal(rows[1]!.ability, 'math');
  const g = path('obj.json');
  writeFileSync(g, '{"rows": []}');
  await rejectsWith(() => loadPromptRows(g), g, 'expected a JSON array');
  const h = path('qa.json');
  writeFileSync(h, JSON.stringify([{ question: 'q' }]));
  await rejectsWith(() => loadPromptRows(h), `${h}: row 0: field 'answer' is missing`);
});

test('a raw GSM8K row (worked solution ending in #### N) is refused, pointing at prime convert gsm8k', async () => {
  const f = path('gsm8k-raw.jsonl');
  writeFileSync(f, JSON.stringify({ question: 'Q?', answer: 'She sells 16-3-4=<<16-3-4=9>>9 eggs.\n#### 18' }) + '\n');
  await rejectsWith(() => loadPromptRows(f), `${f}: row 0 (line 1): field 'answer' is a GSM8K worked solution`, 'prime convert gsm8k');
  // an answer that merely mentions #### mid-line is an answer
  writeFileSync(f, JSON.stringify({ question: 'Q?', answer: 'a #### b' }) + '\n');
  assert.equal((await loadPromptRows(f))[0]!.groundTruth, 'a #### b');
});

test('unknown extension is an error', async () => {
  await rejectsWith(() => loadPromptRows(path('data.csv')), 'data.csv', "unknown data file extension '.csv'", '.parquet');
});

test('writePromptRowsJsonl round-trips through loadPromptRows', async () => {
  const rows: NewPromptRow[] = [
    { dataSource: 'demo', messages: mathPrompt, ability: 'math', groundTruth: '2', extraInfo: { split: 'train', index: 0 } },
    { dataSource: 'demo', messages: [{ role: 'user', content: 'sum' }], ability: 'code', groundTruth: codeTests },
  ];
  const f = path('sub/dir/out.jsonl');
  await writePromptRowsJsonl(f, rows);
  const back = await loadPromptRows(f);
  assert.deepEqual(back, rows.map((r, i) => ({ ...r, extraInfo: r.extraInfo ?? {}, row: i, file: f, line: i + 1, groundTruthField: 'reward_model.ground_truth' })));
});

// ---------------------------------------------------------------------------------------------
// Order

const fakeRows = (n: number): PromptRow[] =>
  Array.from({ length: n }, (_, i) => ({ dataSource: 'd', messages: [{ role: 'user', content: `p${i}` }], ability: 'math', groundTruth: String(i), extraInfo: {}, row: i, file: 'f' }));
const ids = (rs: PromptRow[]) => rs.map((r) => r.row);

test('PromptDataset: deterministic per seed, a permutation per epoch, reshuffled each epoch', () => {
  const rows = fakeRows(10);
  const a = ids(new PromptDataset(rows, 7).next(30));
  const b = ids(new PromptDataset(rows, 7).next(30));
  const c = ids(new PromptDataset(rows, 8).next(30));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.slice(0, 10), c.slice(0, 10));
  for (let e = 0; e < 3; e++) assert.deepEqual([...a.slice(10 * e, 10 * e + 10)].sort((x, y) => x - y), [...Array(10).keys()]);
  assert.notDeepEqual(a.slice(0, 10), a.slice(10, 20));
  assert.notDeepEqual(a.slice(0, 10), [...Array(10).keys()], 'epoch 0 is shuffled');
  // seed s at epoch 1 is not seed s+1 at epoch 0
  assert.notDeepEqual(a.slice(10, 20), ids(new PromptDataset(rows, 8).next(10)));
  // draws in pieces equal one big draw
  const ds = new PromptDataset(rows, 7);
  assert.deepEqual([...ids(ds.next(3)), ...ids(ds.next(0)), ...ids(ds.next(14)), ...ids(ds.next(13))], a);
  assert.deepEqual(ds.state(), { epoch: 2, index: 10, seed: 7, size: 10 });
});

test('PromptDataset: a restored cursor continues exactly like the uninterrupted run', () => {
  const rows = fakeRows(9);
  const whole = new PromptDataset(rows, 3);
  const expected = ids(whole.next(50));
  for (const cut of [0, 4, 9, 13, 27]) {
    const first = new PromptDataset(rows, 3);
    const head = ids(first.next(cut));
    const saved = JSON.parse(JSON.stringify(first.state()));
    const resumed = PromptDataset.restore(rows, saved);
    assert.deepEqual([...head, ...ids(resumed.next(50 - cut))], expected, `cut at ${cut}`);
  }
});

test('PromptDataset: dropWhere counts, may run before or after restore, and is checked on resume', () => {
  const rows = fakeRows(12);
  const tooLong = (r: PromptRow) => r.row % 4 === 0; // drops rows 0, 4, 8
  const ds = new PromptDataset(rows, 5);
  assert.equal(ds.dropWhere(tooLong), 3);
  assert.equal(ds.size, 9);
  const head = ids(ds.next(11));
  assert.ok(head.every((i) => i % 4 !== 0));
  assert.throws(() => ds.dropWhere(() => true), /before the first next/);
  const rest = ids(ds.next(7));
  const state = ds.state();
  // resume: load rows, restore, then drop with the same filter
  const r1 = PromptDataset.restore(rows, state);
  assert.equal(r1.dropWhere(tooLong), 3);
  const again = new PromptDataset(rows, 5);
  again.filter((r) => !tooLong(r));
  again.next(18);
  assert.deepEqual(ids(r1.next(20)), ids(again.next(20)));
  assert.notDeepEqual(rest, []);
  // forgetting the filter (or changed data) is caught at the first draw
  const r2 = PromptDataset.restore(rows, state);
  assert.throws(() => r2.next(1), /refers to 9 rows but the dataset has 12/);
  assert.throws(() => new PromptDataset([], 1).next(1), /empty/);
  assert.throws(() => PromptDataset.restore(rows, { epoch: -1, index: 0, seed: 1 }), /malformed state/);
});

test('splitRows: deterministic, non-overlapping, covering, order-preserving', () => {
  const rows = fakeRows(100);
  const { train, test: held } = splitRows(rows, 0.2, 11);
  assert.equal(held.length, 20);
  assert.equal(train.length, 80);
  const tr = new Set(ids(train));
  assert.ok(ids(held).every((i) => !tr.has(i)));
  assert.deepEqual([...ids(train), ...ids(held)].sort((x, y) => x - y), [...Array(100).keys()]);
  assert.deepEqual(ids(held), [...ids(held)].sort((x, y) => x - y));
  assert.deepEqual(ids(splitRows(rows, 0.2, 11).test), ids(held));
  assert.notDeepEqual(ids(splitRows(rows, 0.2, 12).test), ids(held));
  assert.equal(splitRows(rows, 0, 1).test.length, 0);
  assert.equal(splitRows(rows, 1, 1).train.length, 0);
  assert.throws(() => splitRows(rows, 1.5, 1), /testFraction/);
});
