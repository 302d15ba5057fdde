/**
 * Hostile programs in the sandbox. Each must be contained, scored as it deserves, and leave
 * the host unchanged: no surviving processes, files outside the sandbox untouched, secrets in
 * our environment unseen, no network reached. Timeouts are 1–1.5 s to keep the file short.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { gradeCode, probeSandbox, type CodeGradeOptions } from '../../src/verify/index.js';
import { assertNoStragglers, namespaceOf, NS_LINE } from './sandbox_util.js';

const py = (src: string) => '```python\n' + src + '\n```';
const OPTS: CodeGradeOptions = { timeoutMs: 1000 };

before(async () => {
  const probe = await probeSandbox();
  assert.ok(probe.ok, `sandbox probe failed: ${JSON.stringify(probe)}`);
});

test('infinite loop: killed at the wall-clock timeout', async () => {
  const t = Date.now();
  const g = await gradeCode(py(NS_LINE + '\nwhile True:\n    pass'), { inputs: [''], outputs: ['done'] }, OPTS);
  assert.equal(g.score, 0);
  assert.equal(g.details[0]!.status, 'timeout');
  assert.ok(Date.now() - t < 2500, `took ${Date.now() - t} ms`);
  assertNoStragglers(namespaceOf(g.details[0]!.got));
});

test('sleeping past the timeout: killed, status timeout', async () => {
  const t = Date.now();
  const g = await gradeCode(py('import time\ntime.sleep(30)\nprint("done")'), { inputs: [''], outputs: ['done'] }, OPTS);
  assert.equal(g.details[0]!.status, 'timeout');
  assert.ok(Date.now() - t < 2500);
});

test('fork bomb: the process limit holds inside the user/pid namespace', async () => {
  // A counting bomb first: it reports how many processes it got before fork failed.
  const counting = [
    'import os, time',
    'n = 0',
    'try:',
    '    while n < 10000:',
    '        if os.fork() == 0:',
    '            time.sleep(5)',
    '            os._exit(0)',
    '        n += 1',
    'except OSError:',
    '    pass',
    'print(n)',
  ].join('\n');
  const g1 = await gradeCode(py(counting), { inputs: [''], outputs: ['10000'] }, { ...OPTS, limits: { maxProcesses: 16 } });
  assert.equal(g1.score, 0);
  const forks = Number(g1.details[0]!.got);
  assert.ok(Number.isInteger(forks) && forks > 0 && forks < 16, `got ${forks} forks with maxProcesses 16`);

  // Then a real one, every child forking forever until the timeout.
  const g2 = await gradeCode(py(NS_LINE + '\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass'), { inputs: [''], outputs: ['x'] }, OPTS);
  assert.equal(g2.score, 0);
  assert.ok(['timeout', 'runtime-error'].includes(g2.details[0]!.status), g2.details[0]!.status);
  assertNoStragglers(namespaceOf(g2.details[0]!.got));
  // The host can still create processes.
  assert.equal(execFileSync('echo', ['alive'], { encoding: 'utf8' }).trim(), 'alive');
});

test('memory bomb: stopped by the address-space limit (one process)', async () => {
  const t = Date.now();
  const g = await gradeCode(py('x = []\nwhile True:\n    x.append(bytearray(64 * 1024 * 1024))'), { inputs: [''], outputs: [''] }, {
    ...OPTS,
    limits: { memoryBytes: 256 << 20 },
  });
  assert.equal(g.score, 0);
  assert.equal(g.details[0]!.status, 'runtime-error');
  assert.match(g.details[0]!.stderr ?? '', /MemoryError/);
  assert.ok(Date.now() - t < 2500);
});

test('gigabytes of output: killed at the output cap', async () => {
  const t = Date.now();
  const g = await gradeCode(py('import sys\nchunk = "x" * (1 << 20)\nwhile True:\n    sys.stdout.write(chunk)'), { inputs: [''], outputs: ['x'] }, {
    ...OPTS,
    limits: { maxStdoutBytes: 4 << 20 },
  });
  assert.equal(g.score, 0);
  assert.equal(g.details[0]!.status, 'output-limit');
  assert.ok(Date.now() - t < 2500, `took ${Date.now() - t} ms`);
});

test('output flood on stderr is capped too', async () => {
  const g = await gradeCode(py('import sys\nwhile True:\n    sys.stderr.write("e" * 65536)'), { inputs: [''], outputs: ['x'] }, OPTS);
  assert.equal(g.details[0]!.status, 'output-limit');
});

test('network: neither the internet nor a server on the host loopback is reachable', async () => {
  let connections = 0;
  const server = createServer((s) => {
    connections++;
    s.end('hello\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const src = [
      'import socket',
      'port = int(input())',
      'for host, p in [("1.1.1.1", 80), ("127.0.0.1", port), ("example.com", 80)]:',
      '    try:',
      '        socket.create_connection((host, p), timeout=0.5).close()',
      '        print("connected", host)',
      '    except OSError:',
      '        print("blocked", host)',
    ].join('\n');
    const g = await gradeCode(py(src), { inputs: [`${port}\n`], outputs: ['blocked 1.1.1.1\nblocked 127.0.0.1\nblocked example.com'] }, OPTS);
    assert.equal(g.score, 1, `the program reached something: ${g.details[0]!.got}`);
    assert.equal(connections, 0);
  } finally {
    server.close();
  }
});

test('files outside the sandbox tmp can be neither deleted nor created', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'verify-canary-'));
  const canary = join(dir, 'canary.txt');
  writeFileSync(canary, 'precious');
  try {
    const src = [
      'import os, sys',
      'canary = input().strip()',
      'results = []',
      'for action in ("delete", "create", "usr", "tmp"):',
      '    try:',
      '        if action == "delete": os.remove(canary)',
      '        elif action == "create": open(os.path.join(os.path.dirname(canary), "pwned"), "w").write("x")',
      '        elif action == "usr": open("/usr/pwned", "w").write("x")',
      '        else: open("/tmp/scratch", "w").write("ok")',
      '        results.append(action + ":ok")',
      '    except OSError:',
      '        results.append(action + ":denied")',
      'print(" ".join(results))',
    ].join('\n');
    const g = await gradeCode(py(src), { inputs: [canary + '\n'], outputs: ['delete:denied create:denied usr:denied tmp:ok'] }, OPTS);
    assert.equal(g.score, 1, `got: ${g.details[0]!.got}`);
    assert.equal(readFileSync(canary, 'utf8'), 'precious');
    assert.equal(existsSync(join(dir, 'pwned')), false);
    assert.equal(existsSync('/usr/pwned'), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the parent's environment is invisible", async () => {
  const secret = `s3cret-${randomBytes(8).toString('hex')}`;
  process.env['PRIME_VERIFY_TEST_SECRET'] = secret;
  try {
    const src = [
      'import os',
      'seen = repr(dict(os.environ))',
      'for path in ("/proc/self/environ", "/proc/1/environ"):',
      '    try:',
      '        seen += open(path, "rb").read().decode(errors="replace")',
      '    except OSError:',
      '        pass',
      'print(seen)',
    ].join('\n');
    const g = await gradeCode(py(src), { inputs: [''], outputs: [secret] }, OPTS);
    assert.equal(g.score, 0);
    assert.ok(!(g.details[0]!.got ?? '').includes(secret), 'the secret leaked');
    assert.ok(!(g.details[0]!.got ?? '').includes('PRIME_VERIFY_TEST_SECRET'));
  } finally {
    delete process.env['PRIME_VERIFY_TEST_SECRET'];
  }
});

test('signalling the parent (and everyone) harms nothing outside', async () => {
  const src = [
    'import os, signal',
    'host_pid = int(input())',
    'for pid in (os.getppid(), 1, host_pid):',
    '    try:',
    '        os.kill(pid, signal.SIGKILL)',
    '    except OSError:',
    '        pass',
    'print("done")',
  ].join('\n');
  const g = await gradeCode(py(src), { inputs: [`${process.pid}\n`], outputs: ['done'] }, OPTS);
  assert.equal(g.score, 1, JSON.stringify(g.details));
  // kill(-1) reaches only the sandbox's own processes (itself included).
  const g2 = await gradeCode(py('import os, signal\nos.kill(-1, signal.SIGKILL)\nprint("done")'), { inputs: [''], outputs: ['done'] }, OPTS);
  assert.equal(g2.score, 0);
  assert.ok(process.kill(process.pid, 0), 'we are alive');
});

test('a background process that outlives the program is killed with the sandbox', async () => {
  const marker = `verify-straggler-${randomBytes(6).toString('hex')}`;
  const src = [
    NS_LINE,
    'import os, time',
    'pid = os.fork()',
    'if pid == 0:',
    '    os.setsid()',
    '    if os.fork() == 0:',
    `        os.execv("/usr/bin/python3", ["python3", "-c", "import time; time.sleep(60)", "${marker}"])`,
    '    os._exit(0)',
    'os.waitpid(pid, 0)',
    'time.sleep(0.3)',
    `alive = any("${marker}" in open("/proc/%s/cmdline" % p).read().replace(chr(0), " ") for p in os.listdir("/proc") if p.isdigit())`,
    'print("spawned" if alive else "failed")',
  ].join('\n');
  const g = await gradeCode(py(src), { inputs: [''], outputs: ['spawned'] }, OPTS);
  assert.match(g.details[0]!.got ?? '', /spawned/, `the daemon was not running inside the sandbox: ${JSON.stringify(g.details)}`);
  assertNoStragglers(namespaceOf(g.details[0]!.got), marker);
});

test('writing a big file hits the file-size limit; the private /tmp is size-capped', async () => {
  const src = [
    'import os',
    'try:',
    '    with open("/tmp/big", "wb") as f:',
    '        for _ in range(64):',
    '            f.write(b"x" * (1 << 20))',
    '    print("wrote 64 MiB")',
    'except OSError as e:',
    '    print("stopped", os.path.getsize("/tmp/big") >> 20)',
  ].join('\n');
  const g = await gradeCode(py(src), { inputs: [''], outputs: ['x'] }, { ...OPTS, limits: { maxFileBytes: 8 << 20 } });
  // RLIMIT_FSIZE delivers SIGXFSZ (fatal) unless ignored; either way no 64 MiB file is written.
  assert.notEqual(g.details[0]!.got?.trim(), 'wrote 64 MiB');
});
