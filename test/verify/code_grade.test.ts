/**
 * Code grading: extraction, both test styles (stdin/stdout and call-based) with correct and
 * incorrect solutions, scoring modes, output normalization, and refusal without a sandbox.
 * Runs real sandboxes (bubblewrap must be installed), with short timeouts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  extractCode,
  gradeCode,
  normalizeOutput,
  parseTests,
  SandboxUnavailableError,
  probeSandbox,
} from '../../src/verify/index.js';

const py = (src: string) => `Here is my solution:\n\n\`\`\`python\n${src}\n\`\`\`\n`;
const FAST = { timeoutMs: 2000 };

const SUM_TESTS = { inputs: ['1 2\n', '10 -3\n', '0 0'], outputs: ['3\n', '7\n', '0'] };
// Call-based, with a big integer that JSON.parse would round and an APPS-style wrapped output.
const CALL_TESTS =
  '{"fn_name": "add", "inputs": [[1, 2], [12345678901234567890, 1], [[1], [2]]], ' +
  '"outputs": [[3], 12345678901234567891, [[1, 2]]]}';

test('the sandbox probe passes on this machine', async () => {
  const probe = await probeSandbox();
  assert.ok(probe.ok, JSON.stringify(probe));
  assert.equal(probe.seccomp, true, 'the seccomp filter is loaded by default');
});

test('extractCode takes the last python block', () => {
  const r = extractCode('```python\nprint(1)\n```\ntext\n```py\nprint(2)\n```\n```\nplain\n```');
  assert.deepEqual(r, { code: 'print(2)', method: 'python-block' });
  assert.deepEqual(extractCode('```\nprint(3)\n```'), { code: 'print(3)', method: 'plain-block' });
  assert.deepEqual(extractCode('no code here'), { code: null, method: 'none' });
  assert.deepEqual(extractCode('```python\nprint(1)\n```\n```python\nprint(2'), { code: 'print(1)', method: 'python-block' }, 'unclosed final block ignored');
});

test('stdin/stdout: a correct solution scores 1', async () => {
  const g = await gradeCode(py('a, b = map(int, input().split())\nprint(a + b)'), SUM_TESTS, FAST);
  assert.equal(g.score, 1, JSON.stringify(g.details));
  assert.equal(g.passed, 3);
  assert.equal(g.total, 3);
  assert.equal(g.reason, 'passed');
  assert.equal(g.sandboxed, true);
});

test('stdin/stdout: an incorrect solution scores 0 and stops at the first failure', async () => {
  const g = await gradeCode(py('a, b = map(int, input().split())\nprint(a - b)'), SUM_TESTS, FAST);
  assert.equal(g.score, 0);
  assert.equal(g.reason, 'failed');
  assert.deepEqual(
    g.details.map((d) => d.status),
    ['wrong-answer', 'skipped', 'skipped'],
  );
});

test('stdin/stdout: fraction scoring runs every test', async () => {
  // Correct only when b is non-negative: passes tests 0 and 2.
  const g = await gradeCode(py('a, b = map(int, input().split())\nprint(a + abs(b))'), SUM_TESTS, { ...FAST, scoring: 'fraction' });
  assert.equal(g.passed, 2);
  assert.equal(g.score, 2 / 3);
});

test('stdin/stdout: whitespace is normalized (trailing spaces, trailing newlines, CRLF)', async () => {
  const tests = { inputs: [''], outputs: ['1 2\n3\n'] };
  const ok = await gradeCode(py('print("1 2   ")\nprint("3")\nprint()\nprint()'), tests, FAST);
  assert.equal(ok.score, 1);
  const crlf = await gradeCode(py('import sys\nsys.stdout.write("1 2\\r\\n3\\r\\n")'), tests, FAST);
  assert.equal(crlf.score, 1);
  const bad = await gradeCode(py('print("1  2")\nprint("3")'), tests, FAST);
  assert.equal(bad.score, 0, 'inner spaces are significant');
  assert.equal(normalizeOutput('a \r\nb\t\n\n\n'), 'a\nb');
});

test('stdin/stdout: a runtime error is a failure with the traceback kept', async () => {
  const g = await gradeCode(py('raise ValueError("nope")'), SUM_TESTS, FAST);
  assert.equal(g.score, 0);
  assert.equal(g.details[0]!.status, 'runtime-error');
  assert.match(g.details[0]!.stderr ?? '', /ValueError: nope/);
});

test('call-based: a correct function scores 1 (big ints exact, wrapped outputs accepted)', async () => {
  const g = await gradeCode(py('def add(a, b):\n    print("debug output is ignored")\n    return a + b'), CALL_TESTS, FAST);
  assert.equal(g.score, 1, JSON.stringify(g.details));
});

test('call-based: a LeetCode-style Solution class is found', async () => {
  const g = await gradeCode(py('class Solution:\n    def add(self, a, b):\n        return a + b'), CALL_TESTS, FAST);
  assert.equal(g.score, 1, JSON.stringify(g.details));
});

test('call-based: an incorrect function scores 0; off-by-one on a big int is caught', async () => {
  const offByOne = 'def add(a, b):\n    r = a + b\n    return r - 1 if isinstance(r, int) and r > 10**18 else r';
  const g = await gradeCode(py(offByOne), CALL_TESTS, {
    ...FAST,
    scoring: 'fraction',
  });
  assert.deepEqual(
    g.details.map((d) => d.status),
    ['passed', 'wrong-answer', 'passed'],
  );
  assert.equal(g.score, 2 / 3);
});

test('call-based: a missing function is a runtime error', async () => {
  const g = await gradeCode(py('def plus(a, b):\n    return a + b'), CALL_TESTS, FAST);
  assert.equal(g.details[0]!.status, 'runtime-error');
  assert.match(g.details[0]!.stderr ?? '', /function 'add' not found/);
});

test('call-based: a result with a rigged __eq__ gains nothing', async () => {
  const src = 'class Always:\n    def __eq__(self, other):\n        return True\ndef add(a, b):\n    return Always()';
  const g = await gradeCode(py(src), CALL_TESTS, FAST);
  assert.equal(g.score, 0);
});

test('tuples compare as lists; floats within 1e-9', async () => {
  const tests = { fn_name: 'f', inputs: [[2]], outputs: [[[2, 0.5]]] };
  assert.equal((await gradeCode(py('def f(x):\n    return (x, 1 / x)'), tests, FAST)).score, 1);
  assert.equal((await gradeCode(py('def f(x):\n    return (x, 0.5000001)'), tests, FAST)).score, 0);
});

test('no code block → score 0, reason no-code, nothing run', async () => {
  const g = await gradeCode('I would write a loop.', SUM_TESTS, FAST);
  assert.deepEqual([g.score, g.reason, g.extracted], [0, 'no-code', null]);
});

test('malformed tests → reason bad-tests', async () => {
  assert.equal((await gradeCode(py('print(1)'), '{"inputs": [1]', FAST)).reason, 'bad-tests');
  assert.equal((await gradeCode(py('print(1)'), { inputs: ['1'], outputs: [] }, FAST)).reason, 'bad-tests');
  assert.equal((await gradeCode(py('print(1)'), { inputs: [[1]], outputs: [1], fn_name: 'os.system' }, FAST)).reason, 'bad-tests');
  assert.throws(() => parseTests('{"inputs": [], "outputs": []}'), /no test cases/);
});

test('tests given as lists of lines are joined', async () => {
  const g = await gradeCode(py('print(int(input()) + int(input()))'), { inputs: [['1', '2']], outputs: [['3']] }, FAST);
  assert.equal(g.score, 1);
});

test('many samples graded concurrently share the core-bounded pool', async () => {
  const samples = Array.from({ length: 8 }, (_, k) => py(k % 2 === 0 ? 'a, b = map(int, input().split())\nprint(a + b)' : 'print(0)'));
  const grades = await Promise.all(samples.map((s) => gradeCode(s, SUM_TESTS, FAST)));
  assert.deepEqual(
    grades.map((g) => g.score),
    [1, 0, 1, 0, 1, 0, 1, 0],
  );
});

test('without a working sandbox: refuse clearly, or run only when explicitly allowed', async () => {
  const sandbox = { bwrapPath: '/nonexistent/bwrap' };
  await assert.rejects(gradeCode(py('print(3)'), SUM_TESTS, { ...FAST, sandbox }), (e: unknown) => {
    assert.ok(e instanceof SandboxUnavailableError);
    assert.match(e.message, /bubblewrap not found at \/nonexistent\/bwrap/);
    assert.match(e.message, /allowUnsandboxed/);
    return true;
  });
  const g = await gradeCode(py('a, b = map(int, input().split())\nprint(a + b)'), SUM_TESTS, {
    ...FAST,
    sandbox,
    allowUnsandboxed: true,
  });
  assert.equal(g.sandboxed, false);
  assert.equal(g.score, 1);
});
