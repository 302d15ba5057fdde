/**
 * Test-case formats (APPS / TACO as carried by Eurus-2-RL-Data's `reward_model.ground_truth`)
 * and output comparison.
 *
 *   stdin/stdout: { inputs: string[], outputs: string[] }
 *                 each input is fed on stdin; stdout must equal the output after whitespace
 *                 normalization (\r\n → \n, trailing spaces of each line, trailing blank lines).
 *                 An input/output given as a list of lines is joined with \n.
 *   call-based:   { fn_name: string, inputs: unknown[][], outputs: unknown[] }
 *                 fn_name(*inputs[i]) must equal outputs[i] as JSON values (tuples are lists;
 *                 APPS often wraps the expected value in a one-element list, which is accepted
 *                 too). Integers compare exactly — big ones included, via a BigInt-preserving
 *                 JSON reader — and non-integers within 1e-9 relative.
 */

export interface CodeTests {
  inputs: unknown[];
  outputs: unknown[];
  fn_name?: string;
}

export type TestStyle = 'stdio' | 'call';

export interface ParsedTests {
  style: TestStyle;
  fnName: string | null;
  /** stdin text (stdio) or JSON of the argument list (call). */
  inputs: string[];
  /** Expected stdout (stdio) or expected value (call). */
  outputs: unknown[];
}

export class BadTestsError extends Error {}

// ---------------------------------------------------------------------------
// JSON with exact integers
// ---------------------------------------------------------------------------

/** A JSON value whose integers beyond 2^53 are kept exact as BigInt. */
export type ExactJson = null | boolean | number | bigint | string | ExactJson[] | { [k: string]: ExactJson };

/**
 * JSON.parse, except that integer literals outside the safe range become BigInt (JSON.parse
 * would round 12345678901234567891 to ...7890). Also accepts Python's NaN/Infinity tokens.
 */
export function parseExactJson(text: string): ExactJson {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const fail = (what: string): never => {
    throw new SyntaxError(`bad JSON at ${i}: ${what}`);
  };
  const value = (depth: number): ExactJson => {
    if (depth > 512) fail('nesting too deep');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: { [k: string]: ExactJson } = {};
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        const k = value(depth + 1);
        if (typeof k !== 'string') fail('object key');
        ws();
        if (text[i++] !== ':') fail('expected :');
        obj[k as string] = value(depth + 1);
        ws();
        const d = text[i++];
        if (d === '}') return obj;
        if (d !== ',') fail('expected , or }');
      }
    }
    if (c === '[') {
      i++;
      const arr: ExactJson[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        const d = text[i++];
        if (d === ']') return arr;
        if (d !== ',') fail('expected , or ]');
      }
    }
    if (c === '"') {
      const start = i;
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      return JSON.parse(text.slice(start, i)) as string;
    }
    for (const [tok, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
      ['NaN', NaN],
      ['Infinity', Infinity],
      ['-Infinity', -Infinity],
    ] as const) {
      if (text.startsWith(tok, i)) {
        i += tok.length;
        return v;
      }
    }
    const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 4096));
    if (m === null) return fail('unexpected token');
    i += m[0].length;
    if (m[1] === undefined && m[2] === undefined) {
      const n = Number(m[0]);
      return Number.isSafeInteger(n) ? n : BigInt(m[0]);
    }
    return Number(m[0]);
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail('trailing data');
  return v;
}

// ---------------------------------------------------------------------------
// Parsing test sets
// ---------------------------------------------------------------------------

function asText(v: unknown, what: string): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.join('\n');
  throw new BadTestsError(`${what} must be a string or a list of lines`);
}

/** Serializes a JSON value (BigInt as its digits) for the Python harness. */
export function stringifyExactJson(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  if (Array.isArray(v)) return `[${v.map(stringifyExactJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${JSON.stringify(k)}:${stringifyExactJson(x)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** Accepts the ground-truth JSON string or an already-parsed object. */
export function parseTests(tests: string | CodeTests): ParsedTests {
  let obj: unknown = tests;
  if (typeof tests === 'string') {
    if (tests.trim() === '') throw new BadTestsError('tests are empty');
    try {
      obj = parseExactJson(tests);
    } catch (e) {
      throw new BadTestsError(`tests are not valid JSON: ${(e as Error).message}`);
    }
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new BadTestsError('tests must be an object');
  const t = obj as Record<string, unknown>;
  if (!Array.isArray(t['inputs']) || !Array.isArray(t['outputs'])) throw new BadTestsError('tests need inputs and outputs lists');
  const inputs = t['inputs'] as unknown[];
  const outputs = t['outputs'] as unknown[];
  if (inputs.length !== outputs.length) throw new BadTestsError(`${inputs.length} inputs but ${outputs.length} outputs`);
  if (inputs.length === 0) throw new BadTestsError('no test cases');
  const fn = t['fn_name'];
  if (typeof fn === 'string' && fn.length > 0) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(fn)) throw new BadTestsError(`fn_name ${JSON.stringify(fn)} is not an identifier`);
    return {
      style: 'call',
      fnName: fn,
      inputs: inputs.map((a) => stringifyExactJson(Array.isArray(a) ? a : [a])),
      outputs,
    };
  }
  return {
    style: 'stdio',
    fnName: null,
    inputs: inputs.map((x, k) => asText(x, `inputs[${k}]`)),
    outputs: outputs.map((x, k) => asText(x, `outputs[${k}]`)),
  };
}

// ---------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------

/** \r\n → \n, trailing whitespace of each line dropped, trailing blank lines dropped. */
export function normalizeOutput(s: string): string {
  const lines = s.replace(/\r\n?/g, '\n').split('\n').map((l) => l.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.join('\n');
}

export type OutputMatch = 'lines' | 'tokens';

/**
 * stdout vs expected. 'lines' (default): equal after normalizeOutput. 'tokens': equal as
 * whitespace-separated token sequences (what many contest checkers accept).
 */
export function stdoutMatches(got: string, expected: string, mode: OutputMatch = 'lines'): boolean {
  if (mode === 'tokens') {
    const a = got.split(/\s+/).filter(Boolean);
    const b = expected.split(/\s+/).filter(Boolean);
    return a.length === b.length && a.every((x, k) => x === b[k]);
  }
  return normalizeOutput(got) === normalizeOutput(expected);
}

function numbersEqual(a: number | bigint, b: number | bigint): boolean {
  if (typeof a === 'bigint' || typeof b === 'bigint') {
    try {
      return BigInt(a) === BigInt(b);
    } catch {
      return false; // a non-integer number against a BigInt
    }
  }
  if (a === b) return true;
  if (Number.isInteger(a) && Number.isInteger(b)) return false;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

/** Structural equality of JSON values, numbers per numbersEqual. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  const isNum = (x: unknown): x is number | bigint => typeof x === 'number' || typeof x === 'bigint';
  if (isNum(a) && isNum(b)) return numbersEqual(a, b);
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, k) => jsonEqual(x, b[k]));
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    if (ka.length !== kb.length || ka.some((k, j) => k !== kb[j])) return false;
    return ka.every((k) => jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

/** A call-based result vs the expected value (or the expected value wrapped in a list). */
export function callResultMatches(got: unknown, expected: unknown): boolean {
  if (jsonEqual(got, expected)) return true;
  return Array.isArray(expected) && expected.length === 1 && jsonEqual(got, expected[0]);
}
