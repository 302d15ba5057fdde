/**
 * Prompt data for PRIME RL (DESIGN.md §5): rows in the Eurus-2-RL-Data schema, read from parquet
 * (via hyparquet), JSONL or a JSON array, and a dataset that hands them out in a seeded,
 * resumable order.
 *
 * Row schema (one prompt with its rule-based ground truth):
 *   data_source   string                 e.g. "numina_olympiads", "taco"
 *   prompt        [{role, content}, …]   chat messages (system + user); also accepted: the same
 *                                        list as a JSON string, or a plain string (→ one user message)
 *   ability       string                 "math" | "code" | …
 *   reward_model  {style, ground_truth}  ground_truth is a string; for code a JSON string
 *                                        {"inputs": [...], "outputs": [...], "fn_name"?}; the struct
 *                                        may also be stored as a JSON string
 *   extra_info    {split, index, …}      optional
 * Fallback for simple question/answer files: a row with no `prompt` and no `reward_model` but with
 * `question` and `answer` becomes one user message and its ground truth (ability defaults to
 * "math", data_source to "").
 *
 * A malformed row is an error that names the file, the 0-based row (and the 1-based line for
 * JSONL) and the field — at load time, for everything a row's own fields can tell:
 *   - an empty file (no rows) is "FILE: no rows";
 *   - ability "math": the ground truth must not be empty or whitespace;
 *   - ability "code"/"coding": the ground truth must be test cases the code verifier accepts
 *     (JSON, inputs/outputs lists of equal, non-zero length; see prime-ts/verify's parseTests).
 * Which verifier handles each row (data_source, then ability, through the registry) is checked by
 * `checkRowVerifiers` in verifier.ts, which the trainer calls right after loading.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { BadTestsError, parseTests } from '../verify/code/tests.js';

// A type alias (not an interface) so it is assignable to prime-ts/lm's open-ended ChatMessage.
export type ChatMessage = {
  role: string;
  content: string;
};

export interface PromptRow {
  dataSource: string;
  messages: ChatMessage[];
  ability: string;
  groundTruth: string;
  extraInfo: Record<string, unknown>;
  /** 0-based row in its file */
  row: number;
  file: string;
  /** 1-based line (JSONL files). */
  line?: number;
  /** Where the ground truth came from: 'reward_model.ground_truth' or 'answer'. */
  groundTruthField?: string;
}

/** A row to be written (the demo's generated data): position fields are not needed. */
export type NewPromptRow = Pick<PromptRow, 'dataSource' | 'messages' | 'ability' | 'groundTruth'> & {
  extraInfo?: Record<string, unknown>;
};

// ---------------------------------------------------------------------------------------------
// Loading

/** Reads every prompt row of a `.parquet`, `.jsonl` or `.json` (array of objects) file. */
export async function loadPromptRows(file: string): Promise<PromptRow[]> {
  const ext = extname(file).toLowerCase();
  let rows: PromptRow[];
  if (ext === '.parquet') rows = await loadParquet(file);
  else if (ext === '.jsonl') rows = await loadJsonl(file);
  else if (ext === '.json') rows = await loadJsonArray(file);
  else throw new Error(`${file}: unknown data file extension '${ext || '(none)'}'; expected .parquet, .jsonl or .json`);
  if (rows.length === 0) throw new Error(`${file}: no rows`);
  return rows;
}

/** Reads several files in order and concatenates their rows (each row keeps its own file/row). */
export async function loadPromptFiles(files: readonly string[]): Promise<PromptRow[]> {
  const out: PromptRow[] = [];
  for (const f of files) out.push(...(await loadPromptRows(f)));
  return out;
}

async function loadParquet(file: string): Promise<PromptRow[]> {
  const buf = await readFile(file);
  // hyparquet takes an ArrayBuffer as an AsyncBuffer; copy out of Node's shared pool.
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  let records: Record<string, unknown>[];
  try {
    records = (await parquetReadObjects({ file: ab })) as Record<string, unknown>[];
  } catch (e) {
    throw new Error(`${file}: cannot read parquet: ${(e as Error).message}`);
  }
  return records.map((rec, i) => parseRecord(rec, { file, row: i }));
}

async function loadJsonl(file: string): Promise<PromptRow[]> {
  const text = await readFile(file, 'utf8');
  const lines = text.split('\n');
  const rows: PromptRow[] = [];
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li]!.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const at: RowContext = { file, row: rows.length, line: li + 1 };
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new Error(`${where(at)}: invalid JSON: ${(e as Error).message}`);
    }
    rows.push(parseRecord(value, at));
  }
  return rows;
}

async function loadJsonArray(file: string): Promise<PromptRow[]> {
  const text = await readFile(file, 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: invalid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(value)) throw new Error(`${file}: expected a JSON array of rows, got ${describe(value)}`);
  return value.map((rec, i) => parseRecord(rec, { file, row: i }));
}

// ---------------------------------------------------------------------------------------------
// Row validation

interface RowContext {
  file: string;
  /** 0-based row in the file */
  row: number;
  /** 1-based line (JSONL only) */
  line?: number;
}

/** "FILE: row N (line L)" for a loaded row. */
export function rowWhere(row: Pick<PromptRow, 'file' | 'row' | 'line'>): string {
  return where(row);
}

function where(at: RowContext): string {
  return `${at.file}: row ${at.row}${at.line !== undefined ? ` (line ${at.line})` : ''}`;
}

function fieldError(at: RowContext, field: string, problem: string): Error {
  return new Error(`${where(at)}: field '${field}' ${problem}`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `a string (${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)})`;
  return `a ${typeof v}`;
}

const isMissing = (v: unknown): v is null | undefined => v === null || v === undefined;
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

/** Parquet INT64 columns arrive as bigint; JSON-friendly numbers are easier on everyone downstream. */
function debigint(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(debigint);
  if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, debigint(x)]));
  return v;
}

function requireString(rec: Record<string, unknown>, key: string, at: RowContext, field = key): string {
  const v = rec[key];
  if (isMissing(v)) throw fieldError(at, field, 'is missing');
  if (typeof v !== 'string') throw fieldError(at, field, `must be a string, got ${describe(v)}`);
  return v;
}

/** A struct column may also be stored as a JSON string (common when exporting from pandas). */
function structOrJson(v: unknown, at: RowContext, field: string): Record<string, unknown> {
  if (typeof v === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch (e) {
      throw fieldError(at, field, `is a string that is not valid JSON: ${(e as Error).message}`);
    }
    v = parsed;
  }
  if (!isPlainObject(v)) throw fieldError(at, field, `must be an object, got ${describe(v)}`);
  return v;
}

function parseMessages(v: unknown, at: RowContext): ChatMessage[] {
  if (typeof v === 'string') {
    // A JSON-encoded message list, or else the prompt text itself.
    const t = v.trimStart();
    if (t.startsWith('[')) {
      try {
        v = JSON.parse(v);
      } catch (e) {
        throw fieldError(at, 'prompt', `looks like a JSON list but does not parse: ${(e as Error).message}`);
      }
    } else {
      return [{ role: 'user', content: v }];
    }
  }
  if (!Array.isArray(v)) throw fieldError(at, 'prompt', `must be a list of {role, content} messages or a string, got ${describe(v)}`);
  if (v.length === 0) throw fieldError(at, 'prompt', 'is an empty message list');
  return v.map((m, j) => {
    if (!isPlainObject(m)) throw fieldError(at, `prompt[${j}]`, `must be a {role, content} object, got ${describe(m)}`);
    return {
      role: requireString(m, 'role', at, `prompt[${j}].role`),
      content: requireString(m, 'content', at, `prompt[${j}].content`),
    };
  });
}

/**
 * The ground truth is a string. A number is accepted and stringified (e.g. GSM8K answers); an
 * object (code tests given as a structure rather than a JSON string) is JSON-encoded, which is
 * exactly the string form the code verifier expects.
 */
function parseGroundTruth(v: unknown, at: RowContext, field: string): string {
  if (isMissing(v)) throw fieldError(at, field, 'is missing');
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'bigint') return v.toString();
  if (isPlainObject(v)) return JSON.stringify(debigint(v));
  throw fieldError(at, field, `must be a string, got ${describe(v)}`);
}

function parseRecord(raw: unknown, at: RowContext): PromptRow {
  if (!isPlainObject(raw)) throw new Error(`${where(at)}: expected an object, got ${describe(raw)}`);
  const rec = raw;
  const base = { row: at.row, file: at.file, ...(at.line !== undefined ? { line: at.line } : {}) };

  // Fallback: plain question/answer rows.
  if (isMissing(rec['prompt']) && isMissing(rec['reward_model']) && !isMissing(rec['question'])) {
    const question = requireString(rec, 'question', at);
    const ability = isMissing(rec['ability']) ? 'math' : requireString(rec, 'ability', at);
    if (MATH_ABILITIES.has(ability) && typeof rec['answer'] === 'string' && /^####\s*\S/m.test(rec['answer']))
      throw fieldError(at, 'answer', "is a GSM8K worked solution ending in '#### N', not an answer: samples would be graded against the whole text; convert the file first (prime convert gsm8k IN OUT)");
    return {
      dataSource: isMissing(rec['data_source']) ? '' : requireString(rec, 'data_source', at),
      messages: [{ role: 'user', content: question }],
      ability,
      groundTruth: checkGroundTruth(ability, parseGroundTruth(rec['answer'], at, 'answer'), at, 'answer'),
      extraInfo: parseExtraInfo(rec['extra_info'], at),
      groundTruthField: 'answer',
      ...base,
    };
  }

  const dataSource = requireString(rec, 'data_source', at);
  if (isMissing(rec['prompt'])) throw fieldError(at, 'prompt', 'is missing');
  const messages = parseMessages(rec['prompt'], at);
  const ability = requireString(rec, 'ability', at);
  if (isMissing(rec['reward_model'])) throw fieldError(at, 'reward_model', 'is missing');
  const rm = structOrJson(rec['reward_model'], at, 'reward_model');
  if (!isMissing(rm['style']) && typeof rm['style'] !== 'string') {
    throw fieldError(at, 'reward_model.style', `must be a string, got ${describe(rm['style'])}`);
  }
  const field = 'reward_model.ground_truth';
  const groundTruth = checkGroundTruth(ability, parseGroundTruth(rm['ground_truth'], at, field), at, field);
  return { dataSource, messages, ability, groundTruth, extraInfo: parseExtraInfo(rec['extra_info'], at), groundTruthField: field, ...base };
}

/** Abilities whose ground truth the built-in verifiers define (prime-ts/verify's registry). */
const MATH_ABILITIES = new Set(['math']);
const CODE_ABILITIES = new Set(['code', 'coding']);

/**
 * The ground truth a built-in verifier could never grade against is a load error: an empty or
 * whitespace math answer (every sample would score 0), or code tests that are empty, not JSON or
 * hold no cases. Other abilities are left to their verifiers. Returns the ground truth.
 */
function checkGroundTruth(ability: string, gt: string, at: RowContext, field: string): string {
  const problem = groundTruthProblem(ability, gt);
  if (problem !== null) throw fieldError(at, field, problem);
  return gt;
}

/** Why `gt` cannot be graded by the built-in verifier of `ability`, or null (also for other abilities). */
export function groundTruthProblem(ability: string, gt: string): string | null {
  if (MATH_ABILITIES.has(ability) && gt.trim() === '') return `is empty: a math row needs the answer to compare with`;
  if (CODE_ABILITIES.has(ability)) {
    if (gt.trim() === '') return 'is empty: a code row needs its test cases ({"inputs": [...], "outputs": [...]})';
    try {
      parseTests(gt);
    } catch (e) {
      if (e instanceof BadTestsError) return `holds no usable code tests: ${e.message}`;
      throw e;
    }
  }
  return null;
}

function parseExtraInfo(v: unknown, at: RowContext): Record<string, unknown> {
  if (isMissing(v)) return {};
  return debigint(structOrJson(v, at, 'extra_info')) as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Writing

/** The Eurus-2-RL-Data record for a row (the inverse of loading). */
export function toEurusRecord(row: NewPromptRow): Record<string, unknown> {
  return {
    data_source: row.dataSource,
    prompt: row.messages.map((m) => ({ role: m.role, content: m.content })),
    ability: row.ability,
    reward_model: { style: 'rule', ground_truth: row.groundTruth },
    extra_info: row.extraInfo ?? {},
  };
}

/** Writes rows as JSONL in the Eurus schema; atomic (temp file + rename), parent dirs created. */
export async function writePromptRowsJsonl(file: string, rows: Iterable<NewPromptRow>): Promise<void> {
  const lines: string[] = [];
  for (const r of rows) lines.push(JSON.stringify(toEurusRecord(r)));
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, lines.length ? lines.join('\n') + '\n' : '');
  await rename(tmp, file);
}

// ---------------------------------------------------------------------------------------------
// Seeded order

/** Mixes a 32-bit word (the finalizer of MurmurHash3): nearby seeds give unrelated streams. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** mulberry32: a small 32-bit-state PRNG; returns uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A permutation of 0..n-1 by Fisher–Yates under a PRNG seeded from (seed, stream). The seed and the
 * stream (the epoch) are hashed separately, so seed 1 / epoch 1 is not seed 2 / epoch 0.
 */
export function seededPermutation(n: number, seed: number, stream = 0): number[] {
  const rand = mulberry32(mix32(mix32(seed >>> 0) ^ Math.imul(stream + 1, 0x9e3779b1)));
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/** Where a dataset's cursor stands; saved in checkpoints. */
export interface DatasetState {
  /** Epochs completed so far; the current epoch's order is seededPermutation(size, seed, epoch). */
  epoch: number;
  /** Rows of the current epoch already drawn. */
  index: number;
  seed: number;
  /** Number of rows (after filtering) the cursor refers to; checked on resume. */
  size: number;
}

/**
 * Hands out prompt rows in a deterministic order: each epoch is a fresh seeded shuffle, and
 * `next(n)` continues across epoch boundaries. `state()` / `restore()` let a resumed run continue
 * exactly where it stopped.
 *
 * Filtering (`dropWhere`) must happen before the first draw. The shuffle is computed over the rows
 * that remain, so it does not matter whether rows are dropped before or after `restore` — only that
 * the same rows remain (the row count is checked at the first draw).
 */
export class PromptDataset {
  #rows: PromptRow[];
  #seed: number;
  #epoch = 0;
  #index = 0;
  #order: number[] | null = null;
  #drawn = false;
  /** Size recorded in a restored state, checked lazily at the first draw. */
  #expectedSize: number | null = null;

  constructor(rows: readonly PromptRow[], seed: number) {
    if (!Number.isInteger(seed)) throw new Error(`PromptDataset: seed must be an integer, got ${seed}`);
    this.#rows = rows.slice();
    this.#seed = seed;
  }

  get size(): number {
    return this.#rows.length;
  }
  get epoch(): number {
    return this.#epoch;
  }
  /** The rows in their load order (not the shuffled order). */
  get rows(): readonly PromptRow[] {
    return this.#rows;
  }

  /** Drops rows for which `pred` is true (e.g. prompts over the token limit); returns how many. */
  dropWhere(pred: (row: PromptRow) => boolean): number {
    if (this.#drawn) throw new Error('PromptDataset.dropWhere: rows must be dropped before the first next()');
    const before = this.#rows.length;
    this.#rows = this.#rows.filter((r) => !pred(r));
    this.#order = null;
    return before - this.#rows.length;
  }

  /** Keeps rows for which `keep` is true; returns how many were dropped. */
  filter(keep: (row: PromptRow) => boolean): number {
    return this.dropWhere((r) => !keep(r));
  }

  /** The next n rows in order, starting a newly shuffled epoch whenever one runs out. */
  next(n: number): PromptRow[] {
    if (!Number.isInteger(n) || n < 0) throw new Error(`PromptDataset.next: n must be a non-negative integer, got ${n}`);
    if (this.#rows.length === 0) throw new Error('PromptDataset.next: the dataset is empty (were all rows dropped?)');
    if (this.#expectedSize !== null && this.#expectedSize !== this.#rows.length) {
      throw new Error(
        `PromptDataset: the saved cursor refers to ${this.#expectedSize} rows but the dataset has ${this.#rows.length}; ` +
          'the data files or the prompt-length filter changed since the checkpoint',
      );
    }
    this.#drawn = true;
    const out: PromptRow[] = [];
    while (out.length < n) {
      if (this.#index >= this.#rows.length) {
        this.#epoch++;
        this.#index = 0;
        this.#order = null;
      }
      this.#order ??= seededPermutation(this.#rows.length, this.#seed, this.#epoch);
      out.push(this.#rows[this.#order[this.#index++]!]!);
    }
    return out;
  }

  state(): DatasetState {
    return { epoch: this.#epoch, index: this.#index, seed: this.#seed, size: this.#expectedSize ?? this.#rows.length };
  }

  /**
   * A dataset over `rows` whose cursor stands where `state` was taken. `rows` must be the same rows
   * in the same load order (possibly still to be filtered with the same `dropWhere`).
   */
  static restore(rows: readonly PromptRow[], state: Omit<DatasetState, 'size'> & { size?: number }): PromptDataset {
    const ok = (x: unknown) => Number.isInteger(x) && (x as number) >= 0;
    if (!ok(state.epoch) || !ok(state.index) || !Number.isInteger(state.seed)) {
      throw new Error(`PromptDataset.restore: malformed state ${JSON.stringify(state)}`);
    }
    const ds = new PromptDataset(rows, state.seed);
    ds.#epoch = state.epoch;
    ds.#index = state.index;
    if (state.size !== undefined) {
      if (!ok(state.size) || state.index > state.size) throw new Error(`PromptDataset.restore: malformed state ${JSON.stringify(state)}`);
      ds.#expectedSize = state.size;
    }
    return ds;
  }
}

/**
 * Splits rows into non-overlapping train and test sets: round(testFraction · n) rows chosen by a
 * seeded shuffle go to test. Both keep the input order.
 */
export function splitRows<T>(rows: readonly T[], testFraction: number, seed: number): { train: T[]; test: T[] } {
  if (!(testFraction >= 0 && testFraction <= 1)) throw new Error(`splitRows: testFraction must be in [0, 1], got ${testFraction}`);
  const nTest = Math.round(testFraction * rows.length);
  const isTest = new Uint8Array(rows.length);
  for (const i of seededPermutation(rows.length, seed, -1).slice(0, nTest)) isTest[i] = 1;
  const train: T[] = [];
  const test: T[] = [];
  rows.forEach((r, i) => (isTest[i] ? test : train).push(r));
  return { train, test };
}
