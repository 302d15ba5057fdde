/**
 * Code grading: extract the last python block, run it on every test in a fresh sandbox,
 * score 1 if all pass else 0 (or the fraction passed).
 *
 * Each test case is its own sandbox run (no state carries over between tests); runs across
 * all concurrent gradeCode calls share one semaphore sized to the cores, so grading many
 * samples at once is just Promise.all over gradeCode.
 */
import { extractCode, type CodeExtractionMethod } from './extract.js';
import { CALL_HARNESS } from './harness.js';
import {
  type RunResult,
  type SandboxConfig,
  type SandboxLimits,
  defaultRunSlots,
  probeSandbox,
  runSandboxed,
  SandboxUnavailableError,
  Semaphore,
} from './sandbox.js';
import {
  type CodeTests,
  type OutputMatch,
  BadTestsError,
  callResultMatches,
  parseExactJson,
  parseTests,
  stdoutMatches,
} from './tests.js';

export interface CodeGradeOptions {
  /** 'all' (default): score 1 only if every test passes. 'fraction': passed / total. */
  scoring?: 'all' | 'fraction';
  /** Wall-clock limit per test in ms (default 4000). */
  timeoutMs?: number;
  /** Other per-run limits (see SandboxLimits for defaults). */
  limits?: Partial<Omit<SandboxLimits, 'timeoutMs'>>;
  /** Stop at the first failing test (default: true when scoring is 'all'); the rest are 'skipped'. */
  stopOnFirstFailure?: boolean;
  /** Run at most this many tests (default: all). */
  maxTests?: number;
  /** stdout comparison (default 'lines'; see tests.ts). */
  outputMatch?: OutputMatch;
  /** Paths and uid of the sandbox tools. */
  sandbox?: Partial<SandboxConfig>;
  /**
   * If no working sandbox exists, run the code anyway with only rlimits, a temp cwd and a
   * cleared environment (default false: throw SandboxUnavailableError). Never use this with
   * untrusted code on a machine you care about.
   */
  allowUnsandboxed?: boolean;
  /** Bounds concurrent runs (default: a process-wide semaphore of os.availableParallelism()). */
  slots?: Semaphore;
}

export type TestStatus = 'passed' | 'wrong-answer' | 'runtime-error' | 'timeout' | 'output-limit' | 'skipped' | 'error';

export interface TestDetail {
  index: number;
  status: TestStatus;
  wallMs: number;
  exitCode: number | null;
  /** Start of stdout (or the call result's JSON), for debugging; at most 512 chars. */
  got?: string;
  /** Tail of stderr; at most 512 chars. */
  stderr?: string;
  /** The run hit its memory cgroup's cap (the OOM killer acted inside it). */
  memoryLimit?: boolean;
}

export interface CodeGrade {
  score: number;
  passed: number;
  total: number;
  /** The extracted program, or null. */
  extracted: string | null;
  /** 'passed', 'failed', 'no-code', 'bad-tests'. */
  reason: 'passed' | 'failed' | 'no-code' | 'bad-tests';
  method: CodeExtractionMethod;
  /** Whether the code ran in the bubblewrap sandbox (false only with allowUnsandboxed). */
  sandboxed: boolean;
  details: TestDetail[];
  /** Why the tests were rejected, for reason 'bad-tests'. */
  error?: string;
}

const clip = (s: string, n = 512) => (s.length > n ? s.slice(0, n) + '…' : s);

function judge(run: RunResult, style: 'stdio' | 'call', expected: unknown, match: OutputMatch): TestStatus {
  if (run.status === 'timeout') return 'timeout';
  if (run.status === 'output-limit') return 'output-limit';
  if (run.status === 'spawn-error') return 'error';
  if (run.exitCode !== 0) return 'runtime-error';
  if (style === 'stdio') return stdoutMatches(run.stdout, expected as string, match) ? 'passed' : 'wrong-answer';
  const last = run.stdout.trimEnd().split('\n').pop() ?? '';
  let got: unknown;
  try {
    got = parseExactJson(last);
  } catch {
    return 'wrong-answer';
  }
  return callResultMatches(got, expected) ? 'passed' : 'wrong-answer';
}

/**
 * Grades a response's last python block against APPS/TACO-style tests (a JSON string or an
 * object). Throws SandboxUnavailableError if no sandbox works and allowUnsandboxed is not set.
 */
export async function gradeCode(response: string, tests: string | CodeTests, options: CodeGradeOptions = {}): Promise<CodeGrade> {
  const scoring = options.scoring ?? 'all';
  const stopOnFirstFailure = options.stopOnFirstFailure ?? scoring === 'all';
  const match = options.outputMatch ?? 'lines';
  const { code, method } = extractCode(response);

  let parsed;
  try {
    parsed = parseTests(tests);
  } catch (e) {
    if (!(e instanceof BadTestsError)) throw e;
    return { score: 0, passed: 0, total: 0, extracted: code, reason: 'bad-tests', method, sandboxed: false, details: [], error: e.message };
  }
  const count = Math.min(parsed.inputs.length, options.maxTests ?? Infinity);
  const base = { extracted: code, method, total: count };
  if (code === null) {
    return { ...base, score: 0, passed: 0, reason: 'no-code', sandboxed: false, details: [] };
  }

  const probe = await probeSandbox(options.sandbox);
  if (!probe.ok && !options.allowUnsandboxed) throw new SandboxUnavailableError(probe.reason);
  const unsandboxed = !probe.ok;

  const limits: Partial<SandboxLimits> = { ...options.limits, timeoutMs: options.timeoutMs ?? 4000 };
  const runTest = async (k: number): Promise<TestDetail> => {
    const run = await runSandboxed(
      {
        program: code,
        stdin: parsed.inputs[k]!,
        pythonArgs: parsed.style === 'call' ? ['-c', CALL_HARNESS, parsed.fnName!, '{program}'] : ['{program}'],
        limits,
        sandbox: options.sandbox,
        unsandboxed,
      },
      options.slots ?? defaultRunSlots,
    );
    const status = judge(run, parsed.style, parsed.outputs[k], match);
    const detail: TestDetail = { index: k, status, wallMs: run.wallMs, exitCode: run.exitCode, got: clip(run.stdout) };
    if (run.stderr.length > 0) detail.stderr = clip(run.stderr.slice(-512));
    if (run.memoryLimit) detail.memoryLimit = true;
    return detail;
  };

  const details: TestDetail[] = [];
  if (stopOnFirstFailure) {
    for (let k = 0; k < count; k++) {
      const d = await runTest(k);
      details.push(d);
      if (d.status !== 'passed') {
        for (let j = k + 1; j < count; j++) details.push({ index: j, status: 'skipped', wallMs: 0, exitCode: null });
        break;
      }
    }
  } else {
    // Tests of one sample are independent: let the shared semaphore interleave them.
    details.push(...(await Promise.all(Array.from({ length: count }, (_, k) => runTest(k)))));
  }
  const passed = details.filter((d) => d.status === 'passed').length;
  const score = scoring === 'fraction' ? passed / count : passed === count ? 1 : 0;
  return { ...base, score, passed, reason: passed === count ? 'passed' : 'failed', sandboxed: !unsandboxed, details };
}
