import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMANDS, closest, parseCommand, UsageError } from '../../src/prime/cli.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/prime/cli.js');
const pkg = JSON.parse(fs.readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../package.json'), 'utf8')) as { version: string };

function prime(...args: string[]) {
  const p = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: p.status, out: p.stdout, err: p.stderr };
}
const cmd = (name: string) => COMMANDS.find((c) => c.name === name)!;

test('--version prints the package version and exits 0', () => {
  for (const flag of ['--version', '-V']) {
    const r = prime(flag);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), pkg.version);
  }
});

test('prime --help lists every subcommand; prime alone prints it to stderr with status 2', () => {
  const r = prime('--help');
  assert.equal(r.code, 0);
  for (const c of COMMANDS) assert.match(r.out, new RegExp(`^  ${c.name}\\s`, 'm'), c.name);
  const bare = prime();
  assert.equal(bare.code, 2);
  assert.match(bare.err, /Commands:/);
});

test('--help works on every subcommand whatever else is missing or wrong', () => {
  for (const c of COMMANDS) {
    for (const args of [[c.name, '--help'], [c.name, '-h', '--bogus', 'x'], ['help', c.name]]) {
      const r = prime(...args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
      assert.match(r.out, new RegExp(`^usage: prime ${c.name}`), args.join(' '));
      for (const o of Object.keys(c.options)) assert.ok(r.out.includes(`--${o}`), `${c.name} --help lists --${o}`);
    }
  }
  // train's help includes the config schema
  assert.match(prime('train', '--help').out, /algorithm\.beta/);
  assert.match(prime('eval', '--help').out, /--samples K/);
});

test('unknown subcommands and options are errors naming the closest known one', () => {
  const cases: [string[], RegExp][] = [
    [['trian', 'run.yaml'], /unknown command 'trian' \(did you mean 'train'\?\)/],
    [['train', 'run.yaml', '--nprocs', '2'], /prime train: unknown option '--nprocs' for 'prime train' \(did you mean '--nproc'\?\)/],
    [['eval', '--model', 'm', '--data', 'd', '--sample', '4'], /unknown option '--sample' .*did you mean '--samples'/],
    [['eval', '--modle', 'm'], /did you mean '--model'/],
    [['plot', 'runs/a', '--output', 'x.svg'], /did you mean '--out'/],
    [['--verison'], /unknown option '--verison' for 'prime' \(did you mean '--version'\?\)/],
    [['demo', '--quik'], /did you mean '--quick'/],
    [['help', 'evl'], /unknown command 'evl' \(did you mean 'eval'\?\)/],
  ];
  for (const [args, re] of cases) {
    const r = prime(...args);
    assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.err}`);
    assert.match(r.err, re, args.join(' '));
    assert.match(r.err, /--help/);
  }
});

test('bad values name the flag', () => {
  const cases: [string[], string][] = [
    [['eval', '--samples', 'abc'], "--samples: expected a positive integer, got 'abc'"],
    [['eval', '--samples', '0'], "--samples: expected a positive integer, got '0'"],
    [['eval', '--samples', '2.5'], "--samples: expected a positive integer, got '2.5'"],
    [['eval', '--temperature', '-1'], "--temperature: expected a positive number, got '-1'"],
    [['train', 'x.yaml', '--nproc', 'two'], "--nproc: expected a positive integer, got 'two'"],
    [['eval', '--model'], '--model: expected a value'],
    [['demo', '--quick=yes'], "--quick: takes no value, got 'yes'"],
    [['eval', '--data', 'd.jsonl'], '--model DIR is required'],
    [['demo', 'extra'], "unexpected argument 'extra'"],
    [['plot'], 'expected RUN_DIR…'],
  ];
  for (const [args, msg] of cases) {
    const r = prime(...args);
    assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.err}`);
    assert.ok(r.err.includes(msg), `${args.join(' ')}: ${JSON.stringify(r.err)} lacks ${JSON.stringify(msg)}`);
  }
});

test('config overrides are checked by the config loader with its own suggestions', () => {
  const r = prime('train', 'rollout.nn=3', 'model.path=m', 'data.train_files=x.jsonl');
  assert.equal(r.code, 1);
  assert.match(r.err, /unknown key 'rollout\.nn' \(did you mean 'rollout\.n'\?\)/);
});

test('parseCommand: typed values, defaults, overrides and positionals', () => {
  const e = parseCommand(cmd('eval'), ['--model', 'ck', '--data=d.jsonl', '--samples', '4', '--greedy']);
  assert.deepEqual(e.values, { model: 'ck', data: 'd.jsonl', samples: 4, greedy: true, 'max-new-tokens': 1024, temperature: 1, batch: 16, extraction: 'strict', 'show-failures': 0 });
  const t = parseCommand(cmd('train'), ['run.yaml', 'rollout.n=8', '--nproc=2', 'algorithm.beta=0.1', '--', 'x.y=1']);
  assert.deepEqual(t.positionals, ['run.yaml']);
  assert.deepEqual(t.overrides, ['rollout.n=8', 'algorithm.beta=0.1', 'x.y=1']);
  assert.equal(t.values.nproc, 2);
  assert.throws(() => parseCommand(cmd('train'), ['a.yaml', 'b.yaml']), (err: Error) => err instanceof UsageError && /unexpected argument 'b.yaml'/.test(err.message));
  assert.equal(closest('trian', ['train', 'sft', 'eval']), 'train');
  assert.equal(closest('zzzzzz', ['train', 'sft', 'eval']), null);
});

test('prime plot draws two runs side by side into an SVG', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-cli-plot-'));
  try {
    for (const run of ['a', 'b']) {
      fs.mkdirSync(path.join(dir, run));
      const lines = [1, 2, 3].map((s) => JSON.stringify({ step: s, 'rollout/accuracy': s / (run === 'a' ? 4 : 5), ...(s === 3 ? { 'val/accuracy': 0.5 } : {}) }));
      fs.writeFileSync(path.join(dir, run, 'metrics.jsonl'), lines.join('\n') + '\n');
    }
    const out = path.join(dir, 'cmp.svg');
    const r = prime('plot', path.join(dir, 'a'), path.join(dir, 'b'), '--out', out);
    assert.equal(r.code, 0, r.err);
    const svg = fs.readFileSync(out, 'utf8');
    assert.equal((svg.match(/class="plot-area"/g) ?? []).length, 2); // rollout/accuracy, val/accuracy
    assert.equal((svg.match(/class="series"/g) ?? []).length, 4); // two runs in each
    const missing = prime('plot', path.join(dir, 'nope'));
    assert.equal(missing.code, 1);
    assert.match(missing.err, /nope: no metrics\.jsonl/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
