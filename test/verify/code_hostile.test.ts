/**
 * Hostile programs against the sandbox's second line of defence (issue #12): a program that
 * frees the sandbox's init from its parent-death signal, memory held across processes and in
 * memfds, nested user namespaces, and the syscalls the seccomp filter denies. Each test checks
 * that the run is contained and that nothing of THIS run (found by its pid namespace) is alive
 * when the call returns. Also: code extraction stays linear on degenerate responses.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { extractCode, gradeCode, probeSandbox, runSandboxed, Semaphore } from '../../src/verify/index.js';
import { sandboxCgroupParent, type ProbeResult, type SandboxConfig } from '../../src/verify/code/sandbox.js';
import { listRunCgroups, pendingCgroups, removeIdleCgroups } from '../../src/verify/code/cgroup.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertNoStragglers, namespaceOf, NS_LINE } from './sandbox_util.js';

const py = (src: string) => '```python\n' + src + '\n```';
const X64 = process.arch === 'x64';
let probe: ProbeResult;

before(async () => {
  probe = await probeSandbox();
  assert.ok(probe.ok, `sandbox probe failed: ${JSON.stringify(probe)}`);
  console.log(`sandbox: cgroup ${probe.ok ? probe.cgroup ?? `none (${probe.cgroupReason})` : '?'}, seccomp ${probe.ok && probe.seccomp}`);
});

/**
 * Attaches to the namespace's init (pid 1: bwrap's init) with ptrace and makes it call
 * prctl(PR_SET_PDEATHSIG, 0) by pointing its rip at the syscall instruction it is blocked in;
 * then starts a setsid daemon and sleeps past the timeout. Without the init kill, init, the
 * program and the daemon outlive the run (they did before issue #12).
 */
const CLEAR_INIT_PDEATHSIG = (marker: string) => `${NS_LINE}
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
class Regs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_ulonglong) for n in (
        "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp ss "
        "fs_base gs_base ds es fs gs").split()]
def clear_pdeathsig(pid):
    if libc.ptrace(16, pid, None, None) != 0:  # PTRACE_ATTACH
        return "attach:" + os.strerror(ctypes.get_errno())
    os.waitpid(pid, 0x40000000)  # __WALL
    old = Regs(); libc.ptrace(12, pid, None, ctypes.byref(old))  # PTRACE_GETREGS
    new = Regs.from_buffer_copy(old)
    new.rip = old.rip - 2; new.rax = 157; new.rdi = 1; new.rsi = 0; new.orig_rax = 2**64 - 1
    libc.ptrace(13, pid, None, ctypes.byref(new))  # PTRACE_SETREGS
    libc.ptrace(9, pid, None, None)  # PTRACE_SINGLESTEP: prctl(PR_SET_PDEATHSIG, 0)
    os.waitpid(pid, 0x40000000)
    got = Regs(); libc.ptrace(12, pid, None, ctypes.byref(got))
    libc.ptrace(13, pid, None, ctypes.byref(old))
    libc.ptrace(17, pid, None, None)  # PTRACE_DETACH
    return "prctl=%d" % ctypes.c_longlong(got.rax).value
print("inject", clear_pdeathsig(1), flush=True)
if os.fork() == 0:
    os.setsid()
    os.execv("/usr/bin/python3", ["python3", "-c", "import time; time.sleep(120)", "${marker}"])
time.sleep(60)
`;

for (const [what, sandbox, expectInjected] of [
  ['default sandbox (ptrace denied)', {}, false],
  ['without the seccomp filter (the init kill alone)', { seccompPath: null }, true],
  ['without filter or cgroup (the init kill by host pid alone)', { seccompPath: null, cgroup: 'off' }, true],
] as [string, Partial<SandboxConfig>, boolean][]) {
  test(`a program that frees init from its parent-death signal leaves nothing behind: ${what}`, { skip: !X64 && 'x86_64 register layout' }, async () => {
    const marker = `hostile-daemon-${randomBytes(6).toString('hex')}`;
    const t = Date.now();
    const g = await gradeCode(py(CLEAR_INIT_PDEATHSIG(marker)), { inputs: [''], outputs: ['x'] }, { timeoutMs: 1500, sandbox });
    const ms = Date.now() - t;
    const got = g.details[0]!.got ?? '';
    assert.equal(g.details[0]!.status, 'timeout');
    if (expectInjected) assert.match(got, /inject prctl=0/, `the attack itself must work here, else this test proves nothing: ${got}`);
    else assert.match(got, /inject attach:Operation not permitted/, `ptrace must be denied: ${got}`);
    assertNoStragglers(namespaceOf(got), marker);
    assert.ok(ms < 4000, `verdict took ${ms} ms`);
  });
}

test('memory held by several processes is capped per run (cgroup), not per process', async (t) => {
  if (!probe.ok || probe.cgroup === null) {
    t.skip(`no memory cgroup on this host: ${probe.ok ? probe.cgroupReason : ''} (README: per-process bound only)`);
    return;
  }
  // 4 children each touch 160 MiB and hold it for a second; the cap is 256 MiB in all, so at
  // most one of them can hold its memory (RLIMIT_AS alone let all four: 672 MiB).
  const src = `${NS_LINE}
import os, time
kids = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        try:
            block = b"\\x01" * (160 << 20)
            time.sleep(1.0)
            os._exit(0)
        except MemoryError:
            os._exit(3)
    kids.append(pid)
held = sum(1 for pid in kids if os.waitpid(pid, 0)[1] == 0)
print("held", held, flush=True)
`;
  const r = await runSandboxed({ program: src, stdin: '', limits: { timeoutMs: 8000, memoryBytes: 256 << 20 } }, new Semaphore(1));
  const held = /held (\d+)/.exec(r.stdout)?.[1];
  console.log(`status ${r.status}, memoryLimit ${r.memoryLimit}, held ${held ?? '(parent killed)'}`);
  assert.equal(r.memoryLimit, true, 'the OOM killer must have acted in the run cgroup');
  if (held !== undefined) assert.ok(Number(held) <= 1, `${held} children held 160 MiB each under a 256 MiB cap`);
  assertNoStragglers(namespaceOf(r.stdout));
  // The run cgroups of this process (pooled for reuse) are empty, and none is stuck.
  const where = sandboxCgroupParent();
  assert.ok(where.ok);
  const mine = listRunCgroups(where.parent).filter((n) => n.startsWith(`prime-sandbox-${process.pid}-`));
  assert.ok(mine.length > 0);
  for (const n of mine) assert.equal(readFileSync(join(where.parent.dir, n, 'cgroup.procs'), 'utf8').trim(), '', `${n} still holds processes`);
  assert.deepEqual(pendingCgroups(), []);
  // …and removed when asked (as at exit).
  removeIdleCgroups();
  assert.deepEqual(listRunCgroups(where.parent).filter((n) => n.startsWith(`prime-sandbox-${process.pid}-`)), []);
});

test('memfd_create is denied (its pages escape RLIMIT_AS)', async () => {
  const src = 'import os\ntry:\n    os.memfd_create("x")\n    print("allowed")\nexcept PermissionError:\n    print("denied")';
  const g = await gradeCode(py(src), { inputs: [''], outputs: ['denied'] }, { timeoutMs: 2000 });
  assert.equal(g.score, 1, JSON.stringify(g.details));
});

const NESTED_USERNS = `
import ctypes, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
out = []
r = libc.unshare(0x10000000 | 0x40000000)  # CLONE_NEWUSER | CLONE_NEWNET
out.append("unshare:" + ("ok" if r == 0 else os.strerror(ctypes.get_errno())))
p = subprocess.run(["/usr/bin/unshare", "-Urm", "/bin/sh", "-c", "mount -t tmpfs -o size=1g none /tmp && echo mounted"],
                   capture_output=True, text=True)
out.append("tool:" + ("mounted" if "mounted" in p.stdout else "failed"))
print(" ".join(out))
`;

for (const [what, sandbox] of [
  ['default sandbox', {}],
  ['--disable-userns alone (no seccomp filter)', { seccompPath: null }],
] as [string, Partial<SandboxConfig>][]) {
  test(`no nested user namespace (own tmpfs, capabilities, nf_tables): ${what}`, async () => {
    const g = await gradeCode(py(NESTED_USERNS), { inputs: [''], outputs: ['x'] }, { timeoutMs: 3000, sandbox });
    const got = g.details[0]!.got ?? '';
    assert.equal(g.details[0]!.status, 'wrong-answer', JSON.stringify(g.details));
    assert.doesNotMatch(got, /unshare:ok/);
    assert.match(got, /tool:failed/);
  });
}

/** x86_64 syscall numbers and the errno the filter must give; getpid (39) must still work. */
const DENIED: [string, number, string, number][] = [
  // name, nr, ctypes args, expected errno (1 EPERM, 38 ENOSYS)
  ['ptrace', 101, '16, 1, 0, 0', 1],
  ['process_vm_readv', 310, '1, 0, 0, 0, 0, 0', 1],
  ['io_uring_setup', 425, '8, 0', 38],
  ['io_uring_enter', 426, '0, 0, 0, 0, 0, 0', 38],
  ['io_uring_register', 427, '0, 0, 0, 0', 38],
  ['keyctl', 250, '0, -3, 0', 1],
  ['add_key', 248, 'b"user", b"k", b"v", 1, -3', 1],
  ['request_key', 249, 'b"user", b"k", 0, 0', 1],
  ['unshare', 272, '0x40000000', 1],
  ['setns', 308, '0, 0', 1],
  ['mount', 165, 'b"none", b"/tmp", b"tmpfs", 0, 0', 1],
  ['pivot_root', 155, 'b"/tmp", b"/tmp"', 1],
  ['bpf', 321, '0, 0, 0', 1],
  ['perf_event_open', 298, '0, 0, -1, -1, 0', 1],
  ['userfaultfd', 323, '0', 1],
  ['kexec_load', 246, '0, 0, 0, 0', 1],
  ['init_module', 175, '0, 0, 0', 1],
  ['finit_module', 313, '0, 0, 0', 1],
  ['delete_module', 176, 'b"x", 0', 1],
  ['memfd_create', 319, 'b"x", 0', 1],
  ['clone3', 435, '0, 0', 38],
  ['clone(CLONE_NEWUSER)', 56, '0x10000000 | 17, 0, 0, 0, 0', 1],
  ['clone(CLONE_NEWNET)', 56, '0x40000000 | 17, 0, 0, 0, 0', 1],
];

test('the seccomp filter denies what untrusted Python never needs, and nothing it does', { skip: !X64 && 'x86_64 syscall numbers' }, async () => {
  const lines = ['import ctypes, os', 'libc = ctypes.CDLL(None, use_errno=True)', 'libc.syscall.restype = ctypes.c_long'];
  for (const [name, nr, args] of DENIED) {
    lines.push(`ctypes.set_errno(0); r = libc.syscall(${nr}, ${args}); print(${JSON.stringify(name)}, r, ctypes.get_errno(), flush=True)`);
  }
  lines.push('print("getpid", libc.syscall(39) == os.getpid(), 0)');
  // Everyday Python still works: threads, subprocess, multiprocessing-style fork.
  lines.push('import threading, subprocess; th = threading.Thread(target=print, args=("thread", 1, 0)); th.start(); th.join()');
  lines.push('print("subprocess", subprocess.run(["/bin/echo", "x"], capture_output=True).stdout == b"x\\n", 0)');
  const expected = [...DENIED.map(([name, , , errno]) => `${name} -1 ${errno}`), 'getpid True 0', 'thread 1 0', 'subprocess True 0'];
  const g = await gradeCode(py(lines.join('\n')), { inputs: [''], outputs: [expected.join('\n')] }, { timeoutMs: 4000 });
  assert.equal(g.details[0]!.status, 'passed', `got:\n${g.details[0]!.got}\nexpected:\n${expected.join('\n')}\n${g.details[0]!.stderr ?? ''}`);
  // Without the filter the same calls give other answers: the test can fail.
  const g0 = await gradeCode(py(lines.join('\n')), { inputs: [''], outputs: [expected.join('\n')] }, { timeoutMs: 4000, sandbox: { seccompPath: null } });
  assert.notEqual(g0.details[0]!.status, 'passed');
  // A syscall of another ABI (x32: number | 0x40000000) kills the process (SIGSYS) instead of
  // slipping past a filter written for x86_64 numbers.
  const x32 = 'import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nprint("before", flush=True)\nlibc.syscall(0x40000000 + 39)\nprint("after")';
  const gx = await gradeCode(py(x32), { inputs: [''], outputs: ['before\nafter'] }, { timeoutMs: 2000 });
  assert.equal(gx.details[0]!.status, 'runtime-error', JSON.stringify(gx.details));
  assert.equal(gx.details[0]!.got?.trim(), 'before');
});

test('code extraction is linear: 1 MB of ``` on one line and other degenerate responses', () => {
  const MB = 1 << 20;
  const cases: [string, string][] = [
    ['``` repeated on one line', '`'.repeat(3).repeat(MB / 3)],
    ['```python then ``` repeated', '```python\n' + 'x = 1 ```'.repeat(MB / 9)],
    ['open fences on every line', '```python\n'.repeat(MB / 10)],
    ['a closed block after 1 MB of backticks', '`'.repeat(MB) + '\n```python\nprint(1)\n```'],
  ];
  for (const [what, s] of cases) {
    // Linear baseline: one scan over the same string.
    let t = performance.now();
    let lines = 0;
    for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) lines++;
    const baseMs = performance.now() - t;
    t = performance.now();
    const r = extractCode(s);
    const ms = performance.now() - t;
    console.log(`${what}: ${(s.length / MB).toFixed(2)} MB in ${ms.toFixed(1)} ms (newline scan ${baseMs.toFixed(1)} ms, ${lines} lines), method ${r.method}`);
    assert.ok(ms < 1000, `${what}: ${ms.toFixed(0)} ms`);
  }
  assert.deepEqual(extractCode('`'.repeat(MB) + '\n```python\nprint(1)\n```'), { code: 'print(1)', method: 'python-block' });
  assert.deepEqual(extractCode('```python\n' + 'x = 1 ```'.repeat(1000)), { code: null, method: 'none' }, 'mid-line ``` closes nothing');
  assert.deepEqual(extractCode('```x```\n```python\nprint(2)\n```'), { code: 'print(2)', method: 'python-block' }, 'a backtick in the info string opens nothing');
  assert.deepEqual(extractCode('  ```py\n  a = 1\n  ```'), { code: '  a = 1', method: 'python-block' }, 'indented fences');
});
