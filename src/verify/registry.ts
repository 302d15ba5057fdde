/**
 * Verifier registry: picks the grader for a dataset row.
 *
 * Lookup order: the row's `data_source` (e.g. "numina_olympiads", "taco"), then its
 * `ability` ("math", "code"). Built in: "math" → gradeMath, "code" (alias "coding") →
 * gradeCode. `registerVerifier(name, fn)` adds or replaces a verifier under a name, which
 * may be a data_source (more specific) or an ability. An unknown row is an error naming both.
 */
import { gradeMath } from './math/pool.js';
import type { MathGradeOptions } from './math/grade.js';
import { gradeCode, type CodeGradeOptions } from './code/grade.js';
import type { CodeTests } from './code/tests.js';

/** A dataset row as Eurus-2-RL-Data carries it (flat ground_truth or nested reward_model). */
export interface VerifyRow {
  ability?: string;
  data_source?: string;
  ground_truth?: unknown;
  reward_model?: { ground_truth?: unknown };
  /** Where the row comes from, for error messages: its data file and 0-based row index. */
  file?: string;
  index?: number;
}

export interface VerifyOptions {
  /** Code scoring: 'all' (default) or 'fraction' (passed / total). */
  codeReward?: 'all' | 'fraction';
  /** Wall-clock limit per code test in ms (default 4000). Math uses math.timeoutMs. */
  timeoutMs?: number;
  /** Options passed to the math grader. */
  math?: MathGradeOptions;
  /** Options passed to the code grader (codeReward and timeoutMs override its fields). */
  code?: CodeGradeOptions;
}

/** Every verifier returns a score in [0, 1]; other fields are verifier-specific details. */
export interface VerifyResult {
  score: number;
  /** The extracted answer or program, when the verifier has one. */
  extracted?: string | null;
  reason?: string;
  [detail: string]: unknown;
}

export type VerifierFn = (
  response: string,
  groundTruth: unknown,
  row: VerifyRow,
  options: VerifyOptions,
) => VerifyResult | Promise<VerifyResult>;

const registry = new Map<string, VerifierFn>();

export class UnknownVerifierError extends Error {
  constructor(row: VerifyRow) {
    super(
      `Unknown verifier: no verifier registered for data_source ${JSON.stringify(row.data_source ?? null)} ` +
        `or ability ${JSON.stringify(row.ability ?? null)} (registered: ${[...registry.keys()].sort().join(', ')})`,
    );
    this.name = 'UnknownVerifierError';
  }
}

/**
 * A verifier returned a score that is not a finite number in [0, 1]. One NaN would turn every
 * advantage of its batch into NaN (whitening spans the batch), so it is stopped where produced.
 */
export class VerifierScoreError extends Error {
  constructor(
    readonly verifier: string,
    readonly score: unknown,
    readonly file: string | undefined,
    readonly index: number | undefined,
  ) {
    const where = file !== undefined ? ` (data file ${file}, row ${index ?? '?'})` : index !== undefined ? ` (row ${index})` : '';
    super(`verifier '${verifier}' returned score ${typeof score === 'number' ? String(score) : JSON.stringify(score) ?? String(score)}${where}; a score must be a finite number in [0, 1]`);
    this.name = 'VerifierScoreError';
  }
}

/** Returns `score` if it is a finite number in [0, 1]; else throws VerifierScoreError. */
export function checkScore(score: unknown, verifier: string, where: { file?: string; index?: number } = {}): number {
  if (typeof score !== 'number' || !Number.isFinite(score) || score < 0 || score > 1) {
    throw new VerifierScoreError(verifier, score, where.file, where.index);
  }
  return score;
}

/** Adds (or replaces) the verifier for a data_source or ability name. */
export function registerVerifier(name: string, fn: VerifierFn): void {
  if (name.length === 0) throw new Error('verifier name must be non-empty');
  registry.set(name, fn);
}

/** Removes a registered verifier; returns whether one existed. */
export function unregisterVerifier(name: string): boolean {
  return registry.delete(name);
}

/** The verifier a row would use, and the name it was found under. */
export function resolveVerifier(row: VerifyRow): { name: string; fn: VerifierFn } {
  for (const name of [row.data_source, row.ability]) {
    if (name === undefined || name === null || name === '') continue;
    const fn = registry.get(name);
    if (fn !== undefined) return { name, fn };
  }
  throw new UnknownVerifierError(row);
}

function groundTruthOf(row: VerifyRow): unknown {
  return row.ground_truth !== undefined ? row.ground_truth : row.reward_model?.ground_truth;
}

/**
 * Grades `response` for `row` with the verifier its data_source/ability selects. Throws
 * VerifierScoreError (naming the verifier and the row's file and index) if the verifier's
 * score is NaN, ±∞, not a number, or outside [0, 1].
 */
export async function verify(row: VerifyRow, response: string, options: VerifyOptions = {}): Promise<VerifyResult & { verifier: string }> {
  const { name, fn } = resolveVerifier(row);
  const result = await fn(response, groundTruthOf(row), row, options);
  checkScore((result as Partial<VerifyResult> | null)?.score, name, row);
  return { ...result, verifier: name };
}

// ---------------------------------------------------------------------------
// Built-in verifiers
// ---------------------------------------------------------------------------

export const mathVerifier: VerifierFn = async (response, groundTruth, _row, options) => {
  if (typeof groundTruth !== 'string' && typeof groundTruth !== 'number') {
    throw new TypeError(`math ground_truth must be a string, got ${typeof groundTruth}`);
  }
  const g = await gradeMath(response, String(groundTruth), options.math);
  return { ...g, score: g.correct ? 1 : 0 };
};

export const codeVerifier: VerifierFn = async (response, groundTruth, _row, options) => {
  if (typeof groundTruth !== 'string' && (groundTruth === null || typeof groundTruth !== 'object')) {
    throw new TypeError(`code ground_truth must be a JSON string or an object, got ${typeof groundTruth}`);
  }
  const opts: CodeGradeOptions = { ...options.code };
  if (options.codeReward !== undefined) opts.scoring = options.codeReward;
  if (options.timeoutMs !== undefined) opts.timeoutMs = options.timeoutMs;
  const g = await gradeCode(response, groundTruth as string | CodeTests, opts);
  return { ...g };
};

registerVerifier('math', mathVerifier);
registerVerifier('code', codeVerifier);
registerVerifier('coding', codeVerifier);
