import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CONFIG_SCHEMA,
  ConfigError,
  configDefaults,
  configFromObject,
  configHelp,
  configToYaml,
  loadConfig,
  parseArgs,
  type PrimeConfig,
} from '../../src/prime/config.js';

const dir = mkdtempSync(join(tmpdir(), 'prime-config-test-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let nFiles = 0;
function yamlFile(text: string): string {
  const f = join(dir, `cfg${nFiles++}.yaml`);
  writeFileSync(f, text);
  return f;
}
const REQUIRED = ['model.path=ckpt/sft', 'data.train_files=train.parquet'];
const get = (cfg: PrimeConfig, key: string) => {
  const dot = key.indexOf('.'); // a field may contain dots: verify.math.extraction
  const [s, f] = [key.slice(0, dot), key.slice(dot + 1)];
  return (cfg as unknown as Record<string, Record<string, unknown>>)[s]![f];
};

/** Asserts that fn throws a ConfigError whose message contains every fragment. */
function throwsWith(fn: () => unknown, ...fragments: string[]) {
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(f)}`);
    return true;
  });
}

test('defaults: every schema option, with the reference values', () => {
  const cfg = loadConfig(null, REQUIRED);
  for (const s of CONFIG_SCHEMA) {
    if (s.key === 'model.path' || s.key === 'data.train_files') continue;
    assert.deepEqual(get(cfg, s.key), s.default, s.key);
  }
  assert.equal(cfg.model.path, 'ckpt/sft');
  assert.deepEqual(cfg.data.train_files, ['train.parquet']);
  // spot checks against DESIGN.md §2–3
  assert.equal(cfg.algorithm.beta, 0.05);
  assert.equal(cfg.rollout.n, 4);
  assert.equal(cfg.actor.lr, 5e-7);
  assert.equal(cfg.prm.lr, 1e-6);
  assert.equal(cfg.prm.grad_clip, 10);
  assert.deepEqual([cfg.filter.low, cfg.filter.high], [0.2, 0.8]);
  assert.equal(cfg.algorithm.prm_update, 'after');
  assert.equal(cfg.algorithm.outcome_coef, 5);
  // results are independent copies
  cfg.data.val_files.push('x');
  assert.deepEqual(configDefaults().data.val_files, []);
});

test('YAML then overrides: precedence, nested and dotted keys, lists', () => {
  const f = yamlFile(`
model:
  path: /models/sft
  dtype: bfloat16
data:
  train_files: [a.parquet, b.jsonl]
  val_files:
algorithm:
  beta: 0.1
  advantage: rloo
rollout.n: 8
filter:
eval: {samples: 4, greedy: false}
actor:
  lr: 1e-5
`);
  const cfg = loadConfig(f, ['algorithm.beta=0.2', 'rollout.stop=</s>,\\n\\nUser:', 'algorithm.beta=0.3', 'data.val_files=[v.jsonl, "w,x.jsonl"]', 'model.prm_path=']);
  assert.equal(cfg.model.path, '/models/sft');
  assert.equal(cfg.model.dtype, 'bfloat16');
  assert.deepEqual(cfg.data.train_files, ['a.parquet', 'b.jsonl']);
  assert.deepEqual(cfg.data.val_files, ['v.jsonl', 'w,x.jsonl']); // YAML flow list keeps commas inside quotes
  assert.equal(cfg.algorithm.beta, 0.3); // the last override wins over earlier ones and the file
  assert.equal(cfg.algorithm.advantage, 'rloo');
  assert.equal(cfg.rollout.n, 8);
  assert.deepEqual(cfg.rollout.stop, ['</s>', '\\n\\nUser:']);
  assert.equal(cfg.actor.lr, 1e-5);
  assert.deepEqual([cfg.eval.samples, cfg.eval.greedy], [4, false]);
  assert.equal(cfg.model.prm_path, '');
  assert.equal(cfg.filter.low, 0.2); // untouched defaults remain
  // overrides of each type
  const o = loadConfig(f, ['filter.enable=false', 'trainer.total_steps=1e3', 'rollout.top_p=0.95', 'data.val_files=', 'trainer.resume=TRUE']);
  assert.deepEqual([o.filter.enable, o.trainer.total_steps, o.rollout.top_p, o.data.val_files, o.trainer.resume], [false, 1000, 0.95, [], true]);
  // an empty file is all defaults
  assert.deepEqual(loadConfig(yamlFile(''), REQUIRED), loadConfig(null, REQUIRED));
});

test('unknown keys name the key, the place, and the closest known key', () => {
  const f = yamlFile('model:\n  path: m\ndata:\n  train_files: [t]\nalgorithm:\n  betta: 0.1\n');
  throwsWith(() => loadConfig(f, []), `${f}:6: unknown key 'algorithm.betta' (did you mean 'algorithm.beta'?)`);
  throwsWith(() => loadConfig(yamlFile('algoritm:\n  whiten: false\n'), REQUIRED), "unknown key 'algoritm.whiten' (did you mean 'algorithm.whiten'?)");
  throwsWith(() => loadConfig(null, [...REQUIRED, 'kl_coef=0.1']), "override 'kl_coef=0.1': unknown key 'kl_coef' (did you mean 'algorithm.kl_coef'?)");
  throwsWith(() => loadConfig(null, [...REQUIRED, 'rollout.temprature=0.7']), "did you mean 'rollout.temperature'?");
  throwsWith(() => loadConfig(null, [...REQUIRED, 'zzzzzzzzzzzzzzzzzz=1']), "unknown key 'zzzzzzzzzzzzzzzzzz'; see");
  throwsWith(() => loadConfig(null, [...REQUIRED, 'algorithm.beta']), "override 'algorithm.beta': expected key=value");
});

test('wrong types name the key, the expected type and the value', () => {
  const f = yamlFile('model:\n  path: m\ndata:\n  train_files: [t]\nactor:\n  lr: "fast"\n  ppo_epochs: 1.5\nfilter:\n  enable: yes\n');
  throwsWith(
    () => loadConfig(f, []),
    `${f}:6: actor.lr: expected a number, got "fast"`,
    `${f}:7: actor.ppo_epochs: expected an integer, got 1.5`,
    `${f}:9: filter.enable: expected a boolean, got "yes"`, // every problem is reported at once
  );
  throwsWith(() => loadConfig(null, [...REQUIRED, 'algorithm.beta=abc']), "override 'algorithm.beta=abc': algorithm.beta: expected a number, got \"abc\"");
  throwsWith(() => loadConfig(null, [...REQUIRED, 'rollout.n=']), 'rollout.n: expected an integer, got ""');
  throwsWith(() => loadConfig(null, [...REQUIRED, 'algorithm.whiten=1']), 'algorithm.whiten: expected a boolean, got "1"');
  throwsWith(() => loadConfig(yamlFile('data:\n  train_files: t.parquet\nmodel: {path: m}\n'), []), 'data.train_files: expected a list of strings, got "t.parquet"');
  throwsWith(() => loadConfig(yamlFile('model: m\n'), REQUIRED), "'model' is a section; expected a mapping");
  throwsWith(() => loadConfig(yamlFile('model:\n  path: {a: 1}\n'), REQUIRED), 'model.path: expected a string, got {"a":1}');
  throwsWith(() => loadConfig(yamlFile('- a\n- b\n'), REQUIRED), 'expected a mapping of sections');
  throwsWith(() => loadConfig(null, [...REQUIRED, 'rollout.top_p=0']), 'rollout.top_p: must be > 0, got 0');
  throwsWith(() => loadConfig(null, [...REQUIRED, 'filter.high=1.5']), 'filter.high: must be ≤ 1, got 1.5');
});

test('enum out of range lists the allowed values', () => {
  throwsWith(() => loadConfig(null, [...REQUIRED, 'algorithm.advantage=ppo']), "algorithm.advantage: expected one of 'prime', 'rloo', 'grpo', 'drgrpo', got \"ppo\"");
  const f = yamlFile('model:\n  path: m\n  dtype: fp16\ndata:\n  train_files: [t]\n');
  throwsWith(() => loadConfig(f, []), `${f}:3: model.dtype: expected one of 'float32', 'bfloat16', got "fp16"`);
});

test('required options missing are named', () => {
  throwsWith(() => loadConfig(null, []), 'model.path is required', 'data.train_files is required');
  const f = yamlFile('model:\n  path: m\n');
  throwsWith(() => loadConfig(f, []), `${f} (with 0 overrides): data.train_files is required`);
});

test('cross-field checks', () => {
  throwsWith(() => loadConfig(null, [...REQUIRED, 'filter.low=0.9']), 'filter.low (0.9) must be ≤ filter.high (0.8)');
  throwsWith(() => loadConfig(null, [...REQUIRED, 'rollout.n=1']), 'rollout.n must be ≥ 2 for algorithm.advantage=prime');
  throwsWith(() => loadConfig(null, [...REQUIRED, 'actor.micro_batch=3']), 'actor.mini_batch (256) must be divisible by actor.micro_batch (3)');
  throwsWith(() => loadConfig(null, [...REQUIRED, 'rollout.batch_prompts=10']), 'actor.mini_batch (256) must divide the sequences per step, rollout.batch_prompts × rollout.n = 40');
  throwsWith(() => loadConfig(null, [...REQUIRED, 'filter.low=0.3', 'filter.high=0.45']), 'filter band [0.3, 0.45] contains no accuracy k/4');
  assert.equal(loadConfig(null, [...REQUIRED, 'filter.enable=false', 'filter.low=0.3', 'filter.high=0.45']).filter.enable, false);
  throwsWith(() => loadConfig(null, [...REQUIRED, 'trainer.eval_every=5']), 'trainer.eval_every=5 needs data.val_files');
  const f = yamlFile('model: {path: m}\ndata: {train_files: [t]}\nfilter: {low: 0.9}\n');
  throwsWith(() => loadConfig(f, []), `${f} (with 0 overrides): filter.low`);
});

test('YAML syntax errors give the file and line', () => {
  const f = yamlFile('model:\n  path: m\n  path: n\n');
  throwsWith(() => loadConfig(f, []), `${f}:3: YAML error: Map keys must be unique`);
  throwsWith(() => loadConfig(null, [...REQUIRED, 'data.val_files=[a, {b: 1}]']), 'data.val_files: expected a list of strings');
  throwsWith(() => loadConfig(join(dir, 'missing.yaml'), []), 'missing.yaml: cannot read config');
});

test('configHelp lists every option with its type, default and meaning, by section', () => {
  const help = configHelp();
  for (const s of CONFIG_SCHEMA) {
    const line = help.split('\n').find((l) => l.trimStart().startsWith(s.key + ' '));
    assert.ok(line, `help lacks ${s.key}`);
    assert.ok(line.includes('default: '), s.key);
    assert.ok(help.includes(s.help), `help lacks the description of ${s.key}`);
  }
  for (const sec of ['model:', 'data:', 'rollout:', 'filter:', 'algorithm:', 'actor:', 'prm:', 'trainer:', 'eval:']) {
    assert.ok(help.split('\n').includes(sec), sec);
  }
  assert.match(help, /algorithm\.advantage\s+prime\|rloo\|grpo\|drgrpo\s+\(default: prime\)/);
  assert.match(help, /model\.path\s+string\s+\(default: required\)/);
});

test('configToYaml round-trips through loadConfig and carries the help as comments', () => {
  const cfg = loadConfig(null, [...REQUIRED, 'rollout.stop=a,b', 'algorithm.beta=0.125', 'data.val_files=["v: 1.jsonl"]', 'trainer.output_dir=runs/x #1']);
  const text = configToYaml(cfg);
  assert.ok(text.includes('# β of the implicit PRM reward'), text);
  assert.deepEqual(loadConfig(yamlFile(text), []), cfg);
});

test('configFromObject validates a TypeScript object like a YAML file', () => {
  const cfg = configFromObject({ model: { path: 'm' }, data: { train_files: ['t'] }, algorithm: { beta: 0.2 } }, ['rollout.n=8']);
  assert.equal(cfg.algorithm.beta, 0.2);
  assert.equal(cfg.rollout.n, 8);
  throwsWith(() => configFromObject({ model: { path: 'm', dtyp: 'float32' }, data: { train_files: ['t'] } }), "did you mean 'model.dtype'?");
  throwsWith(() => configFromObject({ model: { path: 5 }, data: { train_files: ['t'] } } as never), 'model.path: expected a string, got 5');
});

test('parseArgs separates command, positionals, flags and overrides', () => {
  assert.deepEqual(parseArgs(['train', 'run.yaml', 'algorithm.beta=0.1', '--resume', 'rollout.n=8']), {
    command: 'train',
    positional: ['run.yaml'],
    flags: { resume: true },
    overrides: ['algorithm.beta=0.1', 'rollout.n=8'],
  });
  assert.deepEqual(parseArgs(['eval', '--model', 'ckpt/a', '--data=x.jsonl', '--samples', '4', '--verbose']), {
    command: 'eval',
    positional: [],
    flags: { model: 'ckpt/a', data: 'x.jsonl', samples: '4', verbose: true },
    overrides: [],
  });
  // a boolean flag does not swallow the next token; --no-x; -h; `--` ends flags
  assert.deepEqual(parseArgs(['train', '--help', 'cfg.yaml', '--no-resume', '-h', '--', '--odd', 'a=b']), {
    command: 'train',
    positional: ['cfg.yaml', '--odd', 'a=b'],
    flags: { help: true, resume: false },
    overrides: [],
  });
  // a value-taking flag followed by an override or another flag is boolean
  assert.deepEqual(parseArgs(['x', '--dry', 'a.b=1', '--v', '--n=-3']).flags, { dry: true, v: true, n: '-3' });
  assert.deepEqual(parseArgs([]), { command: null, positional: [], flags: {}, overrides: [] });
  assert.deepEqual(parseArgs(['x', '--mode', 'fast'], { booleans: ['mode'] }).positional, ['fast']);
});
