/**
 * prime-ts/verify — outcome verifiers for PRIME RL (DESIGN §6).
 *
 *   gradeMath(response, groundTruth, opts?)  → Promise<MathGrade>   answer extraction + equivalence
 *   gradeMathSync(...)                        → MathGrade            same, soft time bound only
 *   gradeCode(response, tests, opts?)         → Promise<CodeGrade>   sandboxed execution of tests
 *   verify(row, response, opts?)              → Promise<VerifyResult> dispatch by data_source/ability
 *   registerVerifier(name, fn)                                        add your own
 *
 * See README.md in this directory for the rules, invariants and documented choices.
 */
export { gradeMath, closeMathPool, MathWorkerPool, type MathPoolOptions } from './math/pool.js';
export {
  gradeMathSync,
  prepareMathCheck,
  finishMathCheck,
  MATH_DEFAULTS,
  type MathGrade,
  type MathGradeOptions,
  type MathReason,
} from './math/grade.js';
export { extractAnswer, EXTRACTION_MODES, type Extraction, type ExtractionMethod, type ExtractionMode } from './math/extract.js';
export { normalizeAnswer, UNIT_WORDS, TEXT_ONLY_UNIT_WORDS } from './math/normalize.js';
export { answersEquivalent } from './math/equivalence.js';

export { gradeCode, type CodeGrade, type CodeGradeOptions, type TestDetail, type TestStatus } from './code/grade.js';
export { extractCode, type CodeExtraction } from './code/extract.js';
export {
  runSandboxed,
  probeSandbox,
  SandboxUnavailableError,
  Semaphore,
  DEFAULT_LIMITS,
  DEFAULT_SANDBOX,
  sandboxCgroupParent,
  type ProbeResult,
  type SandboxLimits,
  type SandboxConfig,
  type RunResult,
  type RunRequest,
} from './code/sandbox.js';
export { parseTests, normalizeOutput, type CodeTests } from './code/tests.js';

export {
  verify,
  registerVerifier,
  unregisterVerifier,
  resolveVerifier,
  mathVerifier,
  codeVerifier,
  UnknownVerifierError,
  VerifierScoreError,
  checkScore,
  type VerifyRow,
  type VerifyOptions,
  type VerifyResult,
  type VerifierFn,
} from './registry.js';
