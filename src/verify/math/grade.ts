/**
 * Math grading: extract → normalize → (string match | structural/numeric/symbolic match).
 *
 * `gradeMathSync` runs in the calling thread with a *soft* time budget (the clock is checked
 * between stages and every 256 evaluation steps). `gradeMath` (pool.ts) adds a *hard* one by
 * running the expensive stage in a worker thread that is terminated past the deadline.
 */
import { extractAnswer, type ExtractionMethod, type ExtractionMode } from './extract.js';
import { comparisonKey, normalizeAnswer } from './normalize.js';
import { answersEquivalent, type EquivalenceVerdict } from './equivalence.js';

export interface MathGradeOptions {
  /**
   * Relative tolerance for approximate numbers (default 1e-4): |a − b| ≤ relTol·max(|a|,|b|).
   * With 1e-4, 1/3 vs 0.333 (relative error 1e-3) is NOT equivalent: a three-digit rounding
   * of an exact answer is treated as a different answer, because accepting it would also
   * accept wrong answers that round alike; 0.3333 (error 1e-4) is the coarsest accepted.
   * Exact rationals (integers and their ratios, no decimals) always compare exactly.
   */
  relTol?: number;
  /** Time budget per check in ms (default 1000). Past it the verdict is incorrect/'timeout'. */
  timeoutMs?: number;
  /** Extracted answers or ground truths longer than this (default 2000 chars) are rejected
   *  ('too-long') before any parsing. */
  maxAnswerLength?: number;
  /** Deepest ( / [ nesting handed to the engine's parser (default 8); see equivalence.ts. */
  maxBracketDepth?: number;
  /**
   * How the answer is found in the response (default 'strict'): 'strict' takes a `\boxed{}`
   * or an explicit answer marker ("the answer is", "Answer:"), as RL prompts ask for a box;
   * 'lenient' also takes the last math span or the last number, for models that do not box.
   */
  extraction?: ExtractionMode;
}

export const MATH_DEFAULTS: Required<MathGradeOptions> = {
  relTol: 1e-4,
  timeoutMs: 1000,
  maxAnswerLength: 2000,
  maxBracketDepth: 8,
  extraction: 'strict',
};

export type MathReason =
  | EquivalenceVerdict['reason']
  | 'no-answer'
  | 'empty'
  | 'too-long'
  | 'worker-crash'
  | 'internal-error'
  | 'string';

export interface MathGrade {
  correct: boolean;
  /** The raw extracted answer (before normalization), or null if none was found. */
  extracted: string | null;
  /**
   * Why: for a correct answer how it matched — 'string' (equal after normalization),
   * 'structural', 'exact', 'numeric', 'symbolic', 'text' (see equivalence.ts); otherwise 'mismatch', 'unparseable', 'no-answer', 'empty', 'too-long',
   * 'timeout', 'worker-crash' (the worker died, e.g. out of memory), 'internal-error'.
   */
  reason: MathReason;
  /** How the answer was extracted: 'boxed', 'fbox', 'answer-is', 'math-span' / 'last-number'
   *  (lenient mode only), 'none', 'unclosed-box'. */
  method: ExtractionMethod;
}

/** The prepared (cheap, string-only) part of a check. */
export interface PreparedCheck {
  /** Final verdict if the cheap stage already decides, else null. */
  verdict: MathGrade | null;
  pred: string;
  truth: string;
  extracted: string | null;
  method: ExtractionMethod;
}

/** The ground truth's own answer: a boxed ground truth is unwrapped, otherwise it is used whole. */
function truthAnswer(groundTruth: string): string {
  if (/\\(?:boxed|fbox)(?![a-zA-Z])/.test(groundTruth)) {
    const ex = extractAnswer(groundTruth);
    if (ex.answer !== null) return ex.answer;
  }
  return groundTruth;
}

/** Extraction, normalization and the string-equality test: linear-time, no engine. */
export function prepareMathCheck(response: string, groundTruth: string, options: MathGradeOptions = {}): PreparedCheck {
  const opts = { ...MATH_DEFAULTS, ...options };
  if (opts.extraction !== 'strict' && opts.extraction !== 'lenient') {
    throw new TypeError(`math extraction must be 'strict' or 'lenient', got ${JSON.stringify(opts.extraction)}`);
  }
  const ex = extractAnswer(response, opts.extraction);
  const base = { extracted: ex.answer, method: ex.method };
  const decided = (correct: boolean, reason: MathReason): PreparedCheck => ({
    verdict: { correct, reason, ...base },
    pred: '',
    truth: '',
    ...base,
  });
  if (ex.answer === null) return decided(false, 'no-answer');
  const truthRaw = truthAnswer(groundTruth);
  if (ex.answer.length > opts.maxAnswerLength || truthRaw.length > opts.maxAnswerLength) return decided(false, 'too-long');
  const pred = normalizeAnswer(ex.answer);
  const truth = normalizeAnswer(truthRaw);
  if (pred === '') return decided(false, 'empty');
  if (comparisonKey(pred) === comparisonKey(truth)) return decided(true, 'string');
  return { verdict: null, pred, truth, ...base };
}

/** The expensive stage on normalized strings, with a soft deadline. */
export function finishMathCheck(prepared: PreparedCheck, options: MathGradeOptions = {}, startedAt = Date.now()): MathGrade {
  if (prepared.verdict !== null) return prepared.verdict;
  const opts = { ...MATH_DEFAULTS, ...options };
  const v = answersEquivalent(prepared.pred, prepared.truth, { relTol: opts.relTol, maxBracketDepth: opts.maxBracketDepth }, startedAt + opts.timeoutMs);
  return { correct: v.equal, reason: v.reason, extracted: prepared.extracted, method: prepared.method };
}

/**
 * Grades a response against a ground-truth answer in the calling thread. The time budget is
 * soft (checked cooperatively); use `gradeMath` for a hard bound on untrusted input.
 */
export function gradeMathSync(response: string, groundTruth: string, options: MathGradeOptions = {}): MathGrade {
  const startedAt = Date.now();
  return finishMathCheck(prepareMathCheck(response, groundTruth, options), options, startedAt);
}
