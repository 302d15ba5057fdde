/**
 * Broken inputs get a named error at load time (issue #12): empty data files, ground truths no
 * verifier can grade, rows no verifier handles, a broken first SFT line, corrupt checkpoints
 * (with the fallback to the previous loadable one), and checkpoint durability (fsync before the
 * rename, leftovers of killed writers removed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import * as torch from '../../src/torch/index.js';
import { loadPromptRows, loadPromptFiles } from '../../src/prime/data.js';
import { checkRowVerifiers } from '../../src/prime/verifier.js';
import { loadSftExamples } from '../../src/prime/sft.js';
import {
  CheckpointStateError,
  latestLoadableCheckpoint,
  readCheckpointState,
  writeCheckpoint,
} from '../../src/prime/checkpoint.js';

const dir = fs.mkdtempSync(join(tmpdir(), 'prime-inputs-test-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => join(dir, name);

async function rejectsWith(fn: () => Promise<unknown>, ...fragments: string[]) {
  await assert.rejects(fn, (e: Error) => {
    for (const f of fragments) assert.ok(e.message.includes(f), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(f)}`);
    console.log(`  ${e.message}`);
    return true;
  });
}

const prompt = [{ role: 'user', content: 'q?' }];
const row = (ability: string, groundTruth: unknown, dataSource = 'src') =>
  JSON.stringify({ data_source: dataSource, prompt, ability, reward_model: { style: 'rule', ground_truth: groundTruth } });

test('empty data files: "FILE: no rows" (JSONL, JSON, parquet)', async () => {
  const jsonl = file('empty.jsonl');
  fs.writeFileSync(jsonl, '\n  \n');
  await rejectsWith(() => loadPromptRows(jsonl), `${jsonl}: no rows`);
  const json = file('empty.json');
  fs.writeFileSync(json, '[]');
  await rejectsWith(() => loadPromptFiles([json]), `${json}: no rows`);
  const pq = file('empty.parquet');
  const buf = parquetWriteBuffer({ columnData: [{ name: 'data_source', data: [], type: 'STRING' }, { name: 'ability', data: [], type: 'STRING' }] });
  fs.writeFileSync(pq, new Uint8Array(buf));
  await rejectsWith(() => loadPromptRows(pq), `${pq}: no rows`);
});

test('math rows with an empty or whitespace ground truth: file, row, line and field', async () => {
  for (const [name, gt] of [['empty', ''], ['blank', ' \n\t ']] as const) {
    const f = file(`math-${name}.jsonl`);
    fs.writeFileSync(f, [row('math', '2'), '', row('math', gt)].join('\n'));
    await rejectsWith(() => loadPromptRows(f), `${f}: row 1 (line 3): field 'reward_model.ground_truth' is empty`);
  }
  const qa = file('qa.json');
  fs.writeFileSync(qa, JSON.stringify([{ question: 'q', answer: '   ' }]));
  await rejectsWith(() => loadPromptRows(qa), `${qa}: row 0: field 'answer' is empty`);
});

test('code rows whose tests are empty, not JSON or hold no cases: file, row and field', async () => {
  const cases: [string, unknown, string][] = [
    ['empty', '', 'is empty'],
    ['not JSON', '{"inputs": [', 'tests are not valid JSON'],
    ['no cases', JSON.stringify({ inputs: [], outputs: [] }), 'no test cases'],
    ['no lists', JSON.stringify({ fn_name: 'f' }), 'tests need inputs and outputs lists'],
    ['uneven', JSON.stringify({ inputs: ['1'], outputs: [] }), '1 inputs but 0 outputs'],
  ];
  for (const [name, gt, msg] of cases) {
    const f = file(`code-${name.replace(' ', '-')}.jsonl`);
    fs.writeFileSync(f, [row('code', JSON.stringify({ inputs: ['1\n'], outputs: ['1\n'] })), row('coding', gt)].join('\n'));
    await rejectsWith(() => loadPromptRows(f), `${f}: row 1 (line 2): field 'reward_model.ground_truth'`, msg);
  }
  // A good one loads, as a string or as a struct.
  const ok = file('code-ok.jsonl');
  fs.writeFileSync(ok, [row('code', JSON.stringify({ inputs: ['1\n'], outputs: ['1\n'] })), row('code', { fn_name: 'f', inputs: [[1]], outputs: [1] })].join('\n'));
  assert.equal((await loadPromptRows(ok)).length, 2);
});

test('every row must have a verifier, checked at load with file and row', async () => {
  const f = file('verifiers.jsonl');
  fs.writeFileSync(f, [row('math', '1'), row('math', '2'), row('chemistry', 'H2O', 'lab'), row('poetry', 'x', 'lab')].join('\n'));
  const rows = await loadPromptRows(f);
  await rejectsWith(() => checkRowVerifiers(rows), `${f}: row 2 (line 3): `, `data_source "lab"`, `ability "chemistry"`, '(1 more row fails this check)');
  await checkRowVerifiers(rows.slice(0, 2)); // math rows: fine
  // A row routed to the built-in math verifier by its data_source is held to its rules too.
  const g = file('by-source.jsonl');
  fs.writeFileSync(g, [row('geometry', ' ', 'math')].join('\n'));
  await rejectsWith(async () => checkRowVerifiers(await loadPromptRows(g)), `${g}: row 0 (line 1): field 'reward_model.ground_truth' is empty`);
});

test('SFT data: a broken first line keeps the file and line', async () => {
  const f = file('sft.jsonl');
  fs.writeFileSync(f, '\n{"messages": [{"role": "user", "content": "hi"}, \n');
  await rejectsWith(() => loadSftExamples([f]), `${f}: line 2: invalid JSON`);
  fs.writeFileSync(f, '42\n');
  await rejectsWith(() => loadSftExamples([f]), `${f}: line 1: expected a JSON object`);
  fs.writeFileSync(f, '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n{"messages": [{"role": "user"}, {"role": "assistant", "content": "x"}]}\n');
  await rejectsWith(() => loadSftExamples([f]), `${f}: line 2: field 'messages[0]' must be a {role, content} object`);
  fs.writeFileSync(f, '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n');
  assert.deepEqual(await loadSftExamples([f]), [{ prompt: [{ role: 'user', content: 'hi' }], response: 'yo' }]);
});

test('SFT data: chat rows as a JSON array load as from JSONL; a bad row is named by its index', async () => {
  const f = file('sft.json');
  const good = { messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }] };
  fs.writeFileSync(f, JSON.stringify([good, good]));
  assert.deepEqual(await loadSftExamples([f]), [{ prompt: [{ role: 'user', content: 'hi' }], response: 'yo' }, { prompt: [{ role: 'user', content: 'hi' }], response: 'yo' }]);
  fs.writeFileSync(f, JSON.stringify([good, { messages: [{ role: 'user', content: 'q' }, { role: 'user', content: 'again' }] }]));
  await rejectsWith(() => loadSftExamples([f]), `${f}: row 1: field 'messages[1]' must be the assistant's response`);
});

// ---------------------------------------------------------------------------------------------
// Checkpoints

/** Fills a checkpoint directory the way the trainer does (tiny tensors; the state as given). */
function fillCheckpoint(step: number, state: unknown = { step, dataset: { epoch: 0, index: step, seed: 1 }, buffer: [] }) {
  return (d: string) => {
    for (const m of ['policy', 'prm']) {
      fs.mkdirSync(join(d, m));
      fs.writeFileSync(join(d, m, 'config.json'), JSON.stringify({ model_type: 'qwen2' }));
      torch.saveSafetensors(join(d, m, 'model.safetensors'), { w: torch.ones([2]) });
    }
    torch.saveSafetensors(join(d, 'optim-policy.safetensors'), { m: torch.zeros([2]) }, { step: String(step) });
    torch.saveSafetensors(join(d, 'rng.safetensors'), { cpu: torch.zeros([4], { dtype: 'uint8' }) });
    fs.writeFileSync(join(d, 'state.json'), typeof state === 'string' ? state : JSON.stringify(state));
    fs.writeFileSync(join(d, 'config.yaml'), 'a: 1\n');
  };
}

test('writeCheckpoint fsyncs every file and directory before the rename; removes killed writers\' leftovers', () => {
  const root = file('ck-fsync');
  fs.mkdirSync(root);
  fs.writeFileSync(join(root, 'latest.tmp-123-456'), 'step-000001');
  fs.mkdirSync(join(root, '.step-000001.tmp-999'));
  const opened = new Map<number, string>();
  const events: string[] = [];
  const fsm = fs as unknown as Record<string, (...a: unknown[]) => unknown>;
  const orig = { openSync: fsm['openSync']!, fsyncSync: fsm['fsyncSync']!, renameSync: fsm['renameSync']! };
  fsm['openSync'] = (p: unknown, ...rest: unknown[]) => {
    const fd = orig.openSync(p, ...rest) as number;
    opened.set(fd, String(p));
    return fd;
  };
  fsm['fsyncSync'] = (fd: unknown) => {
    events.push(`fsync ${opened.get(fd as number)}`);
    return orig.fsyncSync(fd);
  };
  fsm['renameSync'] = (a: unknown, b: unknown) => {
    events.push(`rename ${String(a)} -> ${String(b)}`);
    return orig.renameSync(a, b);
  };
  let final: string;
  try {
    final = writeCheckpoint(root, 1, fillCheckpoint(1));
  } finally {
    Object.assign(fsm, orig);
  }
  const tmp = join(root, '.step-000001.tmp-' + process.pid);
  const renameAt = events.indexOf(`rename ${tmp} -> ${final}`);
  assert.ok(renameAt > 0, events.join('\n'));
  const before = new Set(events.slice(0, renameAt));
  for (const f of ['state.json', 'config.yaml', 'policy/config.json', 'prm/config.json', 'policy', 'prm', '']) {
    assert.ok(before.has(`fsync ${join(tmp, f)}`), `${f || 'the checkpoint directory'} was not fsynced before the rename:\n${events.join('\n')}`);
  }
  assert.ok(events.slice(renameAt).includes(`fsync ${root}`), 'the parent directory is fsynced after the rename');
  assert.deepEqual(fs.readdirSync(root).sort(), ['latest', 'step-000001'], 'leftovers of killed writers removed');
  assert.equal(fs.readFileSync(join(root, 'latest'), 'utf8'), 'step-000001\n');
});

test('readCheckpointState: errors name state.json and say what is wrong', () => {
  const cases: [string, string][] = [
    ['', 'the checkpoint state is empty'],
    ['{"step": 3, "dataset"', 'not valid JSON'],
    ['[1]', 'not a JSON object'],
    ['{"step": -1, "dataset": {"epoch": 0, "index": 0, "seed": 1}, "buffer": []}', "field 'step' must be an integer"],
    ['{"step": 1, "dataset": {"epoch": 0}, "buffer": []}', "field 'dataset' must be a cursor"],
    ['{"step": 1, "dataset": {"epoch": 0, "index": 0, "seed": 1}}', "field 'buffer' must be a list"],
  ];
  for (const [k, [text, msg]] of cases.entries()) {
    const d = file(`state-${k}`);
    fs.mkdirSync(d);
    fs.writeFileSync(join(d, 'state.json'), text);
    assert.throws(() => readCheckpointState(d), (e: Error) => e instanceof CheckpointStateError && e.message.startsWith(join(d, 'state.json')) && e.message.includes(msg), msg);
  }
  const d = file('state-missing');
  fs.mkdirSync(d);
  assert.throws(() => readCheckpointState(d), /state-missing\/state\.json: cannot read the checkpoint state \(ENOENT\)/);
});

test('resume: a corrupt newest checkpoint is reported and the previous loadable one is used', () => {
  const root = file('ck-fallback');
  writeCheckpoint(root, 1, fillCheckpoint(1));
  writeCheckpoint(root, 2, fillCheckpoint(2));
  assert.equal(latestLoadableCheckpoint(root)!.dir, join(root, 'step-000002'));
  assert.equal(latestLoadableCheckpoint(root)!.state.step, 2);

  // state.json emptied (a write lost to a power cut before this fix)
  fs.writeFileSync(join(root, 'step-000002', 'state.json'), '');
  const warnings: string[] = [];
  const got = latestLoadableCheckpoint(root, (m) => warnings.push(m))!;
  assert.equal(got.dir, join(root, 'step-000001'));
  assert.equal(got.state.step, 1);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /step-000002\/state\.json: the checkpoint state is empty.*trying the previous one/);
  console.log(`  warning: ${warnings[0]}`);

  // a truncated weight file is caught as well (header check only; no weights read)
  fs.writeFileSync(join(root, 'step-000002', 'state.json'), JSON.stringify({ step: 2, dataset: { epoch: 0, index: 2, seed: 1 }, buffer: [] }));
  const pol = join(root, 'step-000002', 'policy', 'model.safetensors');
  fs.truncateSync(pol, fs.statSync(pol).size - 4);
  const w2: string[] = [];
  assert.equal(latestLoadableCheckpoint(root, (m) => w2.push(m))!.dir, join(root, 'step-000001'));
  assert.match(w2[0]!, /policy\/model\.safetensors.*runs past the end of the data/);

  // none loadable: an error listing each, not a silent fresh start
  fs.writeFileSync(join(root, 'step-000001', 'state.json'), '{"step": 1,');
  assert.throws(() => latestLoadableCheckpoint(root), (e: Error) =>
    e instanceof CheckpointStateError && e.message.includes('no loadable checkpoint') && e.message.includes('step-000001/state.json') && e.message.includes('step-000002/policy/model.safetensors'));
  // no checkpoints at all: null (a fresh start)
  assert.equal(latestLoadableCheckpoint(file('ck-none')), null);
});
