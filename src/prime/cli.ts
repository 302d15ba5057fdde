#!/usr/bin/env node
/**
 * The `prime` command: a table of subcommands, each with its options (Node's `util.parseArgs`),
 * its positional arguments and its help text. Parsing is strict: an unknown subcommand or option
 * is an error that names the closest known one; a bad value names the option; `--help` works on
 * every subcommand whatever else is missing; `--version` prints the package version.
 *
 * Adding a subcommand = one entry in COMMANDS; adding an option = one entry in its `options`.
 * Heavy modules (the trainer, prime-ts/lm, the native addon) are imported inside `run`, so
 * `--help`, `--version` and `prime plot` work without them.
 */
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs as nodeParseArgs } from 'node:util';

// ---------------------------------------------------------------------------------------------
// Declarations

/** How an option's value is read: a string, a number, or an integer with a lower bound. */
export type ValueKind = 'string' | 'number' | 'positive-number' | 'positive-integer' | 'non-negative-integer';

export interface CliOption {
  /** 'boolean' = a switch (no value); otherwise the kind of value it takes. */
  kind: 'boolean' | ValueKind;
  /** Placeholder in the help, e.g. 'DIR'. */
  value?: string;
  short?: string;
  /** Default shown in the help and used when the option is absent. */
  default?: string | number | boolean;
  help: string;
}

export interface Command {
  name: string;
  /** One line for `prime --help`. */
  summary: string;
  /** Positional arguments for the usage line, e.g. 'CONFIG.yaml [key=value …]'. */
  args: string;
  /** Fewest / most positional arguments (key=value overrides are not counted). */
  minArgs: number;
  maxArgs: number;
  /** Whether `key=value` config overrides are accepted. */
  overrides?: boolean;
  options: Record<string, CliOption>;
  /** Extra help text after the options (a function: may load, e.g., the config schema). */
  moreHelp?: () => string;
  run: (a: ParsedCommand) => Promise<number>;
}

export interface ParsedCommand {
  /** Option values, typed by kind; defaults filled in. */
  values: Record<string, string | number | boolean | undefined>;
  positionals: string[];
  overrides: string[];
}

/** A command-line mistake: printed with a pointer to `--help`, exit status 2. */
export class UsageError extends Error {
  constructor(message: string, readonly command?: string) {
    super(message);
    this.name = 'UsageError';
  }
}

// ---------------------------------------------------------------------------------------------
// The subcommands

const evalOptions: Record<string, CliOption> = {
  model: { kind: 'string', value: 'DIR', help: 'HF checkpoint directory (with tokenizer.json) (required)' },
  data: { kind: 'string', value: 'FILE', help: 'prompt file (.parquet, .jsonl, .json) in the Eurus-2-RL-Data schema (required)' },
  samples: { kind: 'positive-integer', value: 'K', default: 1, help: 'samples per prompt; K > 1 reports avg@K, maj@K, pass@K' },
  greedy: { kind: 'boolean', help: 'greedy decoding even with --samples > 1 (then one sample per prompt)' },
  'max-new-tokens': { kind: 'positive-integer', value: 'N', default: 1024, help: 'response token limit' },
  temperature: { kind: 'positive-number', value: 'T', default: 1, help: 'sampling temperature (K > 1)' },
  batch: { kind: 'positive-integer', value: 'B', default: 16, help: 'prompts per generate call' },
  extraction: { kind: 'string', value: 'MODE', default: 'strict', help: "how the math grader finds the answer: 'strict' (a \\boxed{} or an explicit answer marker) or 'lenient' (also the last math span or number, for models that do not box) (verify.math.extraction)" },
  rerank: { kind: 'string', value: 'prm', help: 'Best-of-N: pick one of --samples responses by the implicit PRM (needs --prm); reports the pick\'s accuracy beside maj@N, avg@N, pass@N' },
  prm: { kind: 'string', value: 'DIR', help: 'with --rerank prm: the implicit PRM checkpoint' },
  ref: { kind: 'string', value: 'DIR', help: 'with --rerank prm: the reference checkpoint (default: --model)' },
  aggregate: { kind: 'string', value: 'AGG', help: "with --rerank prm: step-reward aggregate, 'min' (default; the ImplicitPRM paper's), 'sum', 'mean' (over steps) or 'token_mean' (the sum divided by the response's token count: length-neutral); steps end at newlines" },
  beta: { kind: 'positive-number', value: 'B', help: 'with --rerank prm: β of r_t = β·log(π_φ/π_ref) (default 0.05)' },
  seed: { kind: 'non-negative-integer', value: 'S', help: 'sampling seed: each row draws from a generator seeded from (S, row), so results repeat whatever --batch (default: unseeded; with --rerank prm: 0)' },
  limit: { kind: 'positive-integer', value: 'N', help: 'only the first N prompts of --data' },
  'show-failures': { kind: 'non-negative-integer', value: 'N', default: 0, help: 'print up to N failed rows to stderr: the prompt, the response, the extracted answer and the ground truth' },
};

const overridesHelp = () => 'Config options (in CONFIG.yaml, or as key=value overrides; later wins):\n\n' +
  // configHelp is cheap (no native code); loaded lazily to keep --version fast
  CONFIG_HELP();
let CONFIG_HELP: () => string = () => '';

export const COMMANDS: Command[] = [
  {
    name: 'train',
    summary: 'PRIME RL from a YAML config (algorithm.advantage: prime | rloo | grpo | drgrpo)',
    args: 'CONFIG.yaml [key=value …]',
    minArgs: 0,
    maxArgs: 1,
    overrides: true,
    options: {
      nproc: {
        kind: 'positive-integer', value: 'N',
        help: 'start N data-parallel ranks on this machine (torch.distributed, Gloo on loopback; each gets ' +
          'cores / N threads). Ranks started by torchrun-style MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE ' +
          'variables join the job without it. rollout.batch_prompts must be divisible by N.',
      },
    },
    moreHelp: overridesHelp,
    async run({ values, positionals, overrides }) {
      const { loadConfig } = await import('./config.js');
      const cfg = loadConfig(positionals[0] ?? null, overrides);
      if (values.nproc !== undefined) return launchRanks(values.nproc as number, positionals[0], overrides, cfg.rollout.batch_prompts);
      const { PrimeTrainer } = await import('./trainer.js');
      const { ProgressDisplay } = await import('./progress.js');
      // a live bar on a terminal (stderr), plain phase lines otherwise; step lines go to stdout
      const display = new ProgressDisplay({ totalSteps: cfg.trainer.total_steps });
      const t = await PrimeTrainer.create(cfg, { log: display.log, onProgress: display.onProgress });
      try {
        await t.train();
      } finally {
        display.end();
        t.dispose();
      }
      return 0;
    },
  },
  {
    name: 'sft',
    summary: 'supervised fine-tuning on chat data (sft.* options, data.train_files), for warm starts',
    args: 'CONFIG.yaml [key=value …]',
    minArgs: 0,
    maxArgs: 1,
    overrides: true,
    options: {},
    moreHelp: overridesHelp,
    async run({ positionals, overrides }) {
      const { loadConfig } = await import('./config.js');
      const { runSft } = await import('./sft.js');
      const r = await runSft(loadConfig(positionals[0] ?? null, overrides));
      console.log(`sft: done, ${r.steps} steps, final loss ${r.finalLoss.toFixed(4)}, saved to ${r.outputDir}`);
      return 0;
    },
  },
  {
    name: 'eval',
    summary: 'greedy accuracy, avg@K, maj@K, pass@K of a checkpoint on a prompt file',
    args: '--model DIR --data FILE',
    minArgs: 0,
    maxArgs: 0,
    options: evalOptions,
    async run({ values }) {
      const model = values.model as string | undefined, data = values.data as string | undefined;
      if (values.rerank !== undefined) {
        // Best-of-N (bestofn.ts reads its flags as strings)
        const flags = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, typeof v === 'number' ? String(v) : v]));
        return (await import('./bestofn.js')).bestOfNCommand(flags);
      }
      if (model === undefined) throw new UsageError('--model DIR is required', 'eval');
      for (const k of ['prm', 'ref', 'aggregate', 'beta'] as const)
        if (values[k] !== undefined) throw new UsageError(`--${k} only applies with --rerank prm`, 'eval');
      if (!['strict', 'lenient'].includes(values.extraction as string)) throw new UsageError(`--extraction: expected 'strict' or 'lenient', got '${String(values.extraction)}'`, 'eval');
      if (data === undefined) throw new UsageError('--data FILE is required', 'eval');
      const samples = values.samples as number;
      const { loadConfig } = await import('./config.js');
      const { loadPretrained } = await import('../lm/index.js');
      const { loadPromptFiles } = await import('./data.js');
      const { evaluateModel } = await import('./evaluate.js');
      const { defaultVerifier } = await import('./verifier.js');
      const cfg = loadConfig(null, [`model.path=${model}`, `data.train_files=${data}`, `verify.math.extraction=${values.extraction as string}`]);
      const pre = loadPretrained(model, { dtype: cfg.model.dtype });
      if (!pre.tokenizer) throw new Error(`${model}: no tokenizer.json`);
      const all = await loadPromptFiles([data]);
      const rows = values.limit !== undefined ? all.slice(0, values.limit as number) : all;
      await (await import('./verifier.js')).checkRowVerifiers(rows); // every row gradable, before any sampling
      const greedy = samples === 1 || values.greedy === true;
      const r = await evaluateModel(pre.model, pre.tokenizer, rows, defaultVerifier(cfg), {
        samples, greedy, maxNewTokens: values['max-new-tokens'] as number, temperature: values.temperature as number,
        batch: values.batch as number, stopTokenIds: pre.stopTokenIds, padTokenId: pre.tokenizer.padTokenId ?? pre.stopTokenIds[0] ?? 0,
        failures: values['show-failures'] as number, ...(values.seed !== undefined ? { seed: values.seed as number } : {}),
      });
      const { failures, ...summary } = r;
      // the failed rows go to stderr: stdout stays one JSON document
      if (failures?.length) console.error((await import('./evaluate.js')).formatFailures(failures));
      console.log(JSON.stringify({ model, data, samples: greedy ? 1 : samples, greedy, extraction: values.extraction, ...(values.seed !== undefined ? { seed: values.seed } : {}), ...summary }, null, 2));
      return 0;
    },
  },
  {
    name: 'convert',
    summary: 'gguf FILE.gguf DIR: a GGUF model (llama, qwen2) → a Hugging Face checkpoint directory; gsm8k|math500 IN OUT: a public math set → Eurus-2 prompt rows',
    args: 'gguf|gsm8k|math500 IN OUT',
    minArgs: 3,
    maxArgs: 3,
    options: { dtype: { kind: 'string', value: 'DTYPE', default: 'float32', help: "gguf: dtype of the written weights, 'float32' or 'bfloat16'" } },
    async run({ values, positionals }) {
      return (await import('./convert.js')).runConvert(positionals, values);
    },
  },
  {
    name: 'prm-train',
    summary: 'fit an implicit PRM offline on labelled samples of a policy (prm_fit.* options): a warm start for model.prm_path',
    args: 'CONFIG.yaml [key=value …]',
    minArgs: 0,
    maxArgs: 1,
    overrides: true,
    options: {},
    moreHelp: overridesHelp,
    async run({ positionals, overrides }) {
      const { loadConfig } = await import('./config.js');
      await (await import('./prm_fit.js')).runPrmFit(loadConfig(positionals[0] ?? null, overrides));
      return 0;
    },
  },
  {
    name: 'plot',
    summary: 'plot the metrics of one or several runs side by side (SVG; PNG when a renderer is installed)',
    args: 'RUN_DIR…',
    minArgs: 1,
    maxArgs: Infinity,
    options: {
      out: { kind: 'string', value: 'FILE', help: "output file, .svg or .png (default: RUN_DIR/metrics.svg for one run, 'runs.svg' for several)" },
      metrics: { kind: 'string', value: 'LIST', help: "comma-separated metric names or prefixes ending in '/' or '*' (e.g. 'val/,rollout/accuracy'); default: the main training curves, every val/* metric and every reward/<term>" },
      columns: { kind: 'positive-integer', value: 'N', default: 3, help: 'panels per row' },
    },
    async run({ values, positionals }) {
      const { plotRuns } = await import('./plot.js');
      const r = await plotRuns(positionals, {
        out: values.out as string | undefined, metrics: values.metrics as string | undefined, columns: values.columns as number,
      });
      console.log(`plot: ${r.panels} panels, ${r.runs} run(s) → ${r.written.join(', ')}`);
      for (const w of r.warnings) console.error(`plot: ${w}`);
      return r.ok ? 0 : 1;
    },
  },
  {
    name: 'demo',
    summary: 'the embedded default: generate data, train the SFT start, run PRIME, PRIME with PRM replay and RLOO, write a report',
    args: '',
    minArgs: 0,
    maxArgs: 0,
    options: {
      quick: { kind: 'boolean', help: 'a much shorter run (smoke test)' },
      task: { kind: 'string', value: 'NAME', default: 'carry', help: "the embedded task: 'carry' (demonstrations drop carries) or 'shortcut' (half answer without the working) or 'carry-long' (carry with 5–8 steps)" },
      'no-replay': { kind: 'boolean', help: 'skip the third run, PRIME with PRM replay and the RPO term (prm.replay_steps=4, prm.rpo_alpha=1, prm.lr=1e-4)' },
    },
    async run({ values }) {
      const { runDemo } = await import('./demo/run.js');
      await runDemo({ quick: values.quick === true, withReplay: values['no-replay'] !== true, ...(values.task !== undefined ? { task: values.task as string } : {}) });
      return 0;
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Parsing

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The candidate closest to `name` by edit distance (prefix matches first), or null when none is close. */
export function closest(name: string, candidates: readonly string[]): string | null {
  const prefixed = candidates.filter((c) => c.startsWith(name) || name.startsWith(c));
  if (prefixed.length === 1) return prefixed[0]!;
  let best: string | null = null, bestD = Infinity;
  for (const c of candidates) {
    const d = levenshtein(name, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(2, Math.floor(name.length / 2)) ? best : null;
}

const didYouMean = (near: string | null) => (near ? ` (did you mean '${near}'?)` : '');
const isOverride = (a: string) => /^[A-Za-z_][\w.-]*=/.test(a);

const KIND_TEXT: Record<ValueKind, string> = {
  string: 'a value',
  number: 'a number',
  'positive-number': 'a positive number',
  'positive-integer': 'a positive integer',
  'non-negative-integer': 'a non-negative integer',
};

/** Reads one option value by its kind; throws a UsageError naming the flag. */
function readValue(flag: string, kind: ValueKind, raw: string, command: string): string | number {
  if (kind === 'string') return raw;
  const n = raw.trim() === '' ? NaN : Number(raw);
  const ok = Number.isFinite(n) && (
    kind === 'number' ||
    (kind === 'positive-number' && n > 0) ||
    (kind === 'positive-integer' && Number.isInteger(n) && n >= 1) ||
    (kind === 'non-negative-integer' && Number.isInteger(n) && n >= 0));
  if (!ok) throw new UsageError(`--${flag}: expected ${KIND_TEXT[kind]}, got '${raw}'`, command);
  return n;
}

/** Parses a subcommand's arguments strictly (argv without the subcommand name). */
export function parseCommand(cmd: Command, argv: readonly string[]): ParsedCommand {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, o] of Object.entries(cmd.options)) options[name] = { type: o.kind === 'boolean' ? 'boolean' : 'string', ...(o.short ? { short: o.short } : {}) };
  const { tokens } = nodeParseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const known = Object.keys(cmd.options);
  const values: ParsedCommand['values'] = {};
  const positionals: string[] = [];
  const overrides: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'option-terminator') continue;
    if (t.kind === 'positional') {
      if (cmd.overrides && isOverride(t.value)) overrides.push(t.value);
      else positionals.push(t.value);
      continue;
    }
    const spec = cmd.options[t.name];
    if (!spec) {
      const where = cmd.name === '' ? "'prime'" : `'prime ${cmd.name}'`;
      const near = closest(t.name, known);
      throw new UsageError(`unknown option '${t.rawName}' for ${where}${didYouMean(near && (t.rawName.startsWith('--') ? `--${near}` : near))}`, cmd.name);
    }
    if (spec.kind === 'boolean') {
      if (t.value !== undefined) throw new UsageError(`--${t.name}: takes no value, got '${t.value}'`, cmd.name);
      values[t.name] = true;
    } else {
      if (t.value === undefined) throw new UsageError(`--${t.name}: expected ${KIND_TEXT[spec.kind]} (--${t.name} ${spec.value ?? 'VALUE'})`, cmd.name);
      values[t.name] = readValue(t.name, spec.kind, t.value, cmd.name);
    }
  }
  for (const [name, o] of Object.entries(cmd.options)) if (values[name] === undefined && o.default !== undefined) values[name] = o.default;
  if (positionals.length < cmd.minArgs) throw new UsageError(`expected ${cmd.args}`, cmd.name);
  if (positionals.length > cmd.maxArgs) {
    const extra = positionals[cmd.maxArgs]!;
    const hint = /^[^=]+=/.test(extra) && !cmd.overrides ? ' (this command takes no key=value overrides)'
      : /=/.test(extra) ? " (overrides are section.key=value, e.g. 'rollout.n=8')" : '';
    throw new UsageError(`unexpected argument '${extra}'${hint}`, cmd.name);
  }
  return { values, positionals, overrides };
}

// ---------------------------------------------------------------------------------------------
// Help

function wrap(text: string, width: number, indent: number): string {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur && cur.length + 1 + w.length > width) {
      lines.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines.join('\n' + ' '.repeat(indent));
}

export function commandHelp(cmd: Command): string {
  const opts = Object.entries(cmd.options).map(([name, o]) => {
    const left = `${o.short ? `-${o.short}, ` : ''}--${name}${o.kind === 'boolean' ? '' : ` ${o.value ?? 'VALUE'}`}`;
    const dflt = o.default !== undefined ? ` (default: ${o.default})` : '';
    return [left, o.help + dflt] as const;
  });
  opts.push(['-h, --help', 'this help']);
  const w = Math.max(...opts.map(([l]) => l.length)) + 2;
  const lines = [
    `usage: prime ${cmd.name} ${[cmd.args, Object.keys(cmd.options).length ? '[options]' : ''].filter(Boolean).join(' ')}`.trimEnd(),
    '',
    cmd.summary,
    '',
    'Options:',
    ...opts.map(([l, h]) => `  ${l.padEnd(w)}${wrap(h, Math.max(40, 100 - w), w + 2)}`),
  ];
  const more = cmd.moreHelp?.();
  return lines.join('\n') + '\n' + (more ? `\n${more}` : '');
}

export function mainHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'usage: prime <command> [options]',
    '',
    'PRIME (Process Reinforcement through Implicit Rewards) on libtorch.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}${c.summary}`),
    '',
    'Options:',
    '  -h, --help      this help; `prime <command> --help` shows a command\'s options',
    '  -V, --version   print the version',
  ].join('\n') + '\n';
}

export function version(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // dist/src/prime -> package root; src/prime when run from sources
  for (const up of ['../../..', '../..']) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(here, up, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'prime-ts' && pkg.version) return pkg.version;
    } catch {
      // try the next candidate
    }
  }
  return 'unknown';
}

// ---------------------------------------------------------------------------------------------
// Entry

/** Whether argv asks for help (before any `--`). */
const wantsHelp = (argv: readonly string[]) => {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
};

/**
 * Runs `prime` with argv (without node and the script); returns the exit status. Output goes to
 * the console; errors other than usage errors are thrown to the caller.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const first = argv[0];
  if (first === undefined) {
    process.stderr.write(mainHelp());
    return 2;
  }
  if (first === '--version' || first === '-V') {
    console.log(version());
    return 0;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    const target = first === 'help' && argv[1] !== undefined ? COMMANDS.find((c) => c.name === argv[1]) : undefined;
    if (first === 'help' && argv[1] !== undefined && !target) throw new UsageError(`unknown command '${argv[1]}'${didYouMean(closest(argv[1], COMMANDS.map((c) => c.name)))}`);
    if (target) await loadHelpText(target);
    process.stdout.write(target ? commandHelp(target) : mainHelp());
    return 0;
  }
  if (first.startsWith('-')) {
    const near = closest(first.replace(/^-+/, ''), ['help', 'version']);
    throw new UsageError(`unknown option '${first}' for 'prime'${didYouMean(near && `--${near}`)}; a command comes first`);
  }
  const cmd = COMMANDS.find((c) => c.name === first);
  if (!cmd) throw new UsageError(`unknown command '${first}'${didYouMean(closest(first, COMMANDS.map((c) => c.name)))}`);
  const rest = argv.slice(1);
  if (wantsHelp(rest)) {
    await loadHelpText(cmd);
    process.stdout.write(commandHelp(cmd));
    return 0;
  }
  return cmd.run(parseCommand(cmd, rest));
}

async function loadHelpText(cmd: Command): Promise<void> {
  if (cmd.moreHelp === overridesHelp) {
    const { configHelp } = await import('./config.js');
    CONFIG_HELP = configHelp;
  }
}

/**
 * `prime train --nproc N`: runs this command without --nproc on N local ranks (torch.distributed's
 * launcher sets the torchrun variables and cores / N threads per rank); each rank's output is
 * prefixed with its rank. Fails when a rank fails (the others are stopped).
 */
async function launchRanks(nproc: number, configFile: string | undefined, overrides: string[], batchPrompts: number): Promise<number> {
  if (process.env.WORLD_SIZE) throw new Error(`--nproc starts its own ranks, but this process is already rank ${process.env.RANK ?? '?'} of a job (WORLD_SIZE=${process.env.WORLD_SIZE}); drop --nproc`);
  if (batchPrompts % nproc !== 0) throw new Error(`rollout.batch_prompts (${batchPrompts}) must be divisible by --nproc (${nproc})`);
  const args = ['train', ...(configFile !== undefined ? [configFile] : []), ...overrides];
  const { distributed } = await import('../torch/index.js');
  await distributed.launch(nproc, fileURLToPath(import.meta.url), args);
  return 0;
}

/** True when this file is the process's entry point (directly, or through npm's bin symlink). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    async (e: unknown) => {
      if (e instanceof UsageError) {
        const where = e.command ? `prime ${e.command}` : 'prime';
        console.error(`${where}: ${e.message}\n(see '${where} --help')`);
        process.exit(2);
      }
      const { ConfigError } = await import('./config.js');
      if (e instanceof ConfigError) console.error(e.message);
      else console.error(e instanceof Error ? `prime: ${e.message}` : e);
      process.exit(1);
    },
  );
}
