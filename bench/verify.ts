/**
 * Grading throughput on this machine (not a test; prints figures).
 *
 *   math: checks/s over the case table (src/verify/cases.ts), in-thread and via the worker pool
 *   code: samples/s for 64 samples × 10 stdin/stdout tests in the bubblewrap sandbox
 *   sandbox: per-run wall time of a one-line program, one run at a time, interleaved between
 *     the full sandbox (seccomp filter + memory cgroup, the default) and peers without the
 *     filter, without the cgroup and without both; medians and ratios to the bare peer
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/verify.js [--reps N]
 */
import { availableParallelism, cpus } from 'node:os';
import { MATH_CASES } from '../src/verify/cases.js';
import { closeMathPool, gradeCode, gradeMath, gradeMathSync, probeSandbox, runSandboxed, Semaphore, type SandboxConfig } from '../src/verify/index.js';

const repsArg = process.argv.indexOf('--reps');
const REPS = repsArg >= 0 ? Number(process.argv[repsArg + 1]) : 5;

const responseOf = (k: (typeof MATH_CASES)[number]) => k.response ?? `\\boxed{${k.answer}}`;

function rate(n: number, ms: number): string {
  return `${((n * 1000) / ms).toFixed(1)}/s`;
}

async function benchMath(): Promise<void> {
  // Warm-up: loads the engine in this thread and starts the pool's workers.
  for (const k of MATH_CASES) gradeMathSync(responseOf(k), k.truth);
  await Promise.all(MATH_CASES.map((k) => gradeMath(responseOf(k), k.truth)));

  let t = performance.now();
  const cpu0 = process.cpuUsage();
  for (let r = 0; r < REPS; r++) for (const k of MATH_CASES) gradeMathSync(responseOf(k), k.truth);
  const syncMs = performance.now() - t;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const n = REPS * MATH_CASES.length;
  // CPU time is less sensitive than wall time to other load on a shared machine.
  console.log(`math  gradeMathSync (1 thread):     ${n} checks in ${syncMs.toFixed(0)} ms = ${rate(n, syncMs)} (CPU ${cpuMs.toFixed(0)} ms = ${rate(n, cpuMs)} per CPU-second)`);

  t = performance.now();
  for (let r = 0; r < REPS; r++) await Promise.all(MATH_CASES.map((k) => gradeMath(responseOf(k), k.truth)));
  const poolMs = performance.now() - t;
  console.log(`math  gradeMath (worker pool):      ${n} checks in ${poolMs.toFixed(0)} ms = ${rate(n, poolMs)}`);
  await closeMathPool();
}

/** Ten stdin/stdout tests of "sum the numbers on each line". */
function codeTests(): { inputs: string[]; outputs: string[] } {
  const inputs: string[] = [];
  const outputs: string[] = [];
  for (let t = 0; t < 10; t++) {
    const lines = Array.from({ length: 20 }, (_, i) => Array.from({ length: 5 }, (_, j) => (t + 1) * (i + 2) * (j - 2)));
    inputs.push(`${lines.length}\n${lines.map((l) => l.join(' ')).join('\n')}\n`);
    outputs.push(lines.map((l) => String(l.reduce((a, b) => a + b, 0))).join('\n') + '\n');
  }
  return { inputs, outputs };
}

const SOLUTIONS = [
  'n = int(input())\nfor _ in range(n):\n    print(sum(map(int, input().split())))',
  'import sys\ndata = sys.stdin.read().split("\\n")\nn = int(data[0])\nprint("\\n".join(str(sum(int(x) for x in data[i].split())) for i in range(1, n + 1)))',
];

async function benchCode(): Promise<void> {
  const probe = await probeSandbox();
  if (!probe.ok) {
    console.log(`code  skipped: ${probe.reason}`);
    return;
  }
  const tests = codeTests();
  const samples = Array.from({ length: 64 }, (_, k) => '```python\n' + SOLUTIONS[k % SOLUTIONS.length] + '\n```');
  // Warm-up (page cache, first-run costs).
  await gradeCode(samples[0]!, tests, { timeoutMs: 4000 });

  const t = performance.now();
  const grades = await Promise.all(samples.map((s) => gradeCode(s, tests, { timeoutMs: 4000 })));
  const ms = performance.now() - t;
  const passed = grades.filter((g) => g.score === 1).length;
  if (passed !== samples.length) {
    const bad = grades.find((g) => g.score !== 1)!;
    throw new Error(`bench solutions should all pass; ${passed}/64 did: ${JSON.stringify(bad.details.slice(0, 2))}`);
  }
  const runs = grades.reduce((a, g) => a + g.details.length, 0);
  const perRun = grades.flatMap((g) => g.details.map((d) => d.wallMs)).sort((a, b) => a - b);
  const median = perRun[Math.floor(perRun.length / 2)]!;
  console.log(
    `code  gradeCode 64 samples × 10 tests: ${ms.toFixed(0)} ms = ${rate(64, ms)} samples (${rate(runs, ms)} sandbox runs, ` +
      `median run ${median} ms, ${availableParallelism()} concurrent)`,
  );
}

async function benchSandboxOverhead(): Promise<void> {
  const probe = await probeSandbox();
  if (!probe.ok) return;
  const peers: [string, Partial<SandboxConfig>][] = [
    ['full (filter + cgroup)', {}],
    ['no cgroup', { cgroup: 'off' }],
    ['no filter', { seccompPath: null }],
    ['bare (neither)', { cgroup: 'off', seccompPath: null }],
  ];
  const times = peers.map(() => [] as number[]);
  const one = new Semaphore(1);
  const rounds = 8 * REPS;
  for (let r = 0; r < rounds; r++) {
    for (const [k, [, sandbox]] of peers.entries()) {
      const t = performance.now();
      const run = await runSandboxed({ program: 'print(1)', stdin: '', sandbox }, one);
      if (run.stdout !== '1\n') throw new Error(`sandbox run failed: ${JSON.stringify(run)}`);
      times[k]!.push(performance.now() - t);
    }
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const bare = median(times[peers.length - 1]!);
  console.log(`sandbox per-run overhead, ${rounds} interleaved runs each (cgroup: ${probe.cgroup ?? 'none here'}):`);
  for (const [k, [name]] of peers.entries()) {
    const m = median(times[k]!);
    console.log(`  ${name.padEnd(24)} median ${m.toFixed(1)} ms  = ${(m / bare).toFixed(2)}× bare`);
  }
}

console.log(`verify benchmark — ${cpus()[0]?.model ?? 'cpu'} × ${availableParallelism()}, node ${process.version}, ${MATH_CASES.length} math cases × ${REPS}`);
await benchMath();
await benchCode();
await benchSandboxOverhead();
