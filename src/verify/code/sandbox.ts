/**
 * Running untrusted Python in a bubblewrap sandbox.
 *
 * One run = one fresh sandbox:
 *
 *   [setpriv --reuid=U --regid=U --clear-groups --]       only when we are root (see below)
 *   bwrap --unshare-all                                   new user, pid, net, ipc, uts, cgroup ns:
 *                                                         no network (only a down loopback)
 *         --die-with-parent --new-session                 dies with us; no terminal to inject into
 *         --ro-bind /usr /usr + /bin /lib /lib64 symlinks read-only system; nothing else of the host
 *         --proc /proc --dev /dev                         the sandbox's own /proc, minimal /dev
 *         --tmpfs /tmp, /dev/shm (size-capped)            private writable space
 *         --ro-bind-data 3 /sandbox/solution.py           the program, copied in from a pipe
 *         --remount-ro /dev --remount-ro /                nothing else writable (else the root
 *                                                         tmpfs would be unbounded RAM)
 *         --clearenv --setenv PATH … LANG …               no inherited environment
 *     /usr/bin/prlimit --cpu --as --nproc --fsize --nofile --core=0 --
 *       /usr/bin/python3 -I -B …
 *
 * Why setpriv when root: RLIMIT_NPROC is not enforced for processes whose real uid is
 * global root (the kernel exempts INIT_USER), and bwrap run by root maps the sandbox to uid
 * 0 outside. Dropping to an unprivileged uid first makes bwrap create an unprivileged user
 * namespace, where the process limit counts only that sandbox's processes. The probe
 * (probeSandbox) checks that a fork loop really hits the limit before any untrusted code runs.
 *
 * The wall-clock timeout and output caps are enforced here: the run's process group is
 * SIGKILLed, which kills bwrap, whose death kills the sandbox's pid-1 and with it every
 * process in the namespace (including daemonized ones).
 */
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SandboxLimits {
  /** Wall-clock limit per run in ms (default 4000). The whole sandbox is killed past it. */
  timeoutMs: number;
  /** RLIMIT_CPU in seconds (default: ceil(timeoutMs / 1000) + 1, so the wall clock fires first). */
  cpuSeconds?: number;
  /** RLIMIT_AS in bytes (default 1 GiB): address space, so a memory bomb gets MemoryError. */
  memoryBytes: number;
  /** RLIMIT_NPROC (default 32): processes + threads of the sandbox user in its namespace. */
  maxProcesses: number;
  /** RLIMIT_FSIZE in bytes (default 16 MiB): largest file the program may write. */
  maxFileBytes: number;
  /** RLIMIT_NOFILE (default 64). */
  maxOpenFiles: number;
  /** Size of the private /tmp and /dev/shm tmpfs each (default 64 MiB). */
  tmpBytes: number;
  /** Stdout kept; past it the run is killed with status 'output-limit' (default 8 MiB). */
  maxStdoutBytes: number;
  /** Stderr kept; past it the run is killed with status 'output-limit' (default 1 MiB). */
  maxStderrBytes: number;
}

export const DEFAULT_LIMITS: SandboxLimits = {
  timeoutMs: 4000,
  memoryBytes: 1 << 30,
  maxProcesses: 32,
  maxFileBytes: 16 << 20,
  maxOpenFiles: 64,
  tmpBytes: 64 << 20,
  maxStdoutBytes: 8 << 20,
  maxStderrBytes: 1 << 20,
};

export interface SandboxConfig {
  /** bubblewrap binary (default /usr/bin/bwrap). */
  bwrapPath: string;
  /** Python inside the sandbox (default /usr/bin/python3, Debian's, under the /usr bind). */
  pythonPath: string;
  /** prlimit binary (util-linux; default /usr/bin/prlimit, also visible inside the sandbox). */
  prlimitPath: string;
  /** setpriv binary used to drop root before bwrap (default /usr/bin/setpriv). */
  setprivPath: string;
  /** Unprivileged uid/gid the sandbox runs as when we are root (default 65534, nobody). */
  sandboxUid: number;
}

export const DEFAULT_SANDBOX: SandboxConfig = {
  bwrapPath: '/usr/bin/bwrap',
  pythonPath: '/usr/bin/python3',
  prlimitPath: '/usr/bin/prlimit',
  setprivPath: '/usr/bin/setpriv',
  sandboxUid: 65534,
};

/** Where the program appears inside the sandbox. */
export const SANDBOX_PROGRAM = '/sandbox/solution.py';

export type RunStatus = 'exited' | 'timeout' | 'output-limit' | 'spawn-error';

export interface RunResult {
  status: RunStatus;
  /** Exit code of the run (bwrap passes the program's through), or null if killed. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  wallMs: number;
}

export class SandboxUnavailableError extends Error {
  constructor(reason: string) {
    super(
      `code sandbox unavailable: ${reason}. Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) ` +
        'and allow unprivileged user namespaces, or pass allowUnsandboxed: true to run untrusted code ' +
        'WITHOUT isolation.',
    );
    this.name = 'SandboxUnavailableError';
  }
}

// ---------------------------------------------------------------------------
// A counting semaphore bounding concurrent sandboxes
// ---------------------------------------------------------------------------

export class Semaphore {
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  constructor(readonly capacity: number) {}
  async acquire(): Promise<() => void> {
    if (this.active >= this.capacity) await new Promise<void>((r) => this.waiters.push(r));
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.waiters.shift()?.();
    };
  }
}

/** Concurrent sandbox runs across all gradeCode calls: one per core. */
export const defaultRunSlots = new Semaphore(availableParallelism());

// ---------------------------------------------------------------------------
// Process runner with timeout, output caps and group kill
// ---------------------------------------------------------------------------

interface ProcessSpec {
  argv: string[];
  stdin: string;
  /** Data written to fds 3, 4, … of the child (then closed). */
  extraFds: string[];
  env: Record<string, string>;
  cwd: string;
  limits: SandboxLimits;
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function runProcess(spec: ProcessSpec): Promise<RunResult> {
  const started = Date.now();
  return new Promise<RunResult>((resolve) => {
    let status: RunStatus = 'exited';
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let settled = false;
    let exitCode: number | null = null;
    let signal: NodeJS.Signals | null = null;

    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(spec.argv[0]!, spec.argv.slice(1), {
        stdio: ['pipe', 'pipe', 'pipe', ...spec.extraFds.map(() => 'pipe' as const)],
        detached: true, // own process group (and session): killGroup reaches bwrap/prlimit/python
        env: spec.env,
        cwd: spec.cwd,
      });
    } catch (e) {
      resolve({ status: 'spawn-error', exitCode: null, signal: null, stdout: '', stderr: String(e), wallMs: 0 });
      return;
    }

    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(closeTimer);
      resolve({
        status,
        exitCode: status === 'exited' ? exitCode : null,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        wallMs: Date.now() - started,
      });
    };
    const kill = (why: RunStatus) => {
      if (status === 'exited') status = why;
      killGroup(child.pid);
    };

    const timer = setTimeout(() => kill('timeout'), spec.limits.timeoutMs);
    let closeTimer: NodeJS.Timeout | undefined;

    // Keeps at most `limit` bytes of a stream; past it, kills the run and stops reading.
    const capture = (stream: NodeJS.ReadableStream & { destroy(): void }, chunks: Buffer[], limit: number, count: (n: number) => number) =>
      stream.on('data', (b: Buffer) => {
        const have = count(0);
        if (have + b.length > limit) {
          chunks.push(b.subarray(0, Math.max(0, limit - have)));
          count(limit - have);
          kill('output-limit');
          stream.destroy();
          return;
        }
        count(b.length);
        chunks.push(b);
      });
    capture(child.stdout!, out, spec.limits.maxStdoutBytes, (n) => (outBytes += n));
    capture(child.stderr!, err, spec.limits.maxStderrBytes, (n) => (errBytes += n));
    // A child that exits without reading its input makes our writes fail with EPIPE: ignore.
    for (const s of child.stdio) s?.on('error', () => {});

    child.on('error', (e) => {
      status = 'spawn-error';
      err.push(Buffer.from(String(e)));
      finish();
    });
    child.on('exit', (code, sig) => {
      exitCode = code;
      signal = sig;
      // Anything left in the group (unsandboxed stragglers) dies with the run.
      killGroup(child.pid);
      // 'close' follows once the pipes drain; don't wait forever on a leaked descriptor.
      closeTimer = setTimeout(() => {
        for (const s of child.stdio) s?.destroy();
        finish();
      }, 500);
    });
    child.on('close', finish);

    spec.extraFds.forEach((data, k) => {
      const stream = child.stdio[3 + k] as NodeJS.WritableStream | null;
      stream?.end(data);
    });
    child.stdin!.end(spec.stdin);
  });
}

// ---------------------------------------------------------------------------
// Sandbox command lines
// ---------------------------------------------------------------------------

function prlimitArgs(cfg: SandboxConfig, limits: SandboxLimits): string[] {
  const cpu = limits.cpuSeconds ?? Math.ceil(limits.timeoutMs / 1000) + 1;
  return [
    cfg.prlimitPath,
    `--cpu=${cpu}`,
    `--as=${limits.memoryBytes}`,
    `--nproc=${limits.maxProcesses}`,
    `--fsize=${limits.maxFileBytes}`,
    `--nofile=${limits.maxOpenFiles}`,
    '--core=0',
    '--',
  ];
}

const SANDBOX_ENV = ['--clearenv', '--setenv', 'PATH', '/usr/bin:/bin', '--setenv', 'LANG', 'C.UTF-8', '--setenv', 'HOME', '/tmp'];

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** argv for running `pythonArgs` under bwrap with the program on fd 3. */
function bwrapArgv(cfg: SandboxConfig, limits: SandboxLimits, pythonArgs: string[]): string[] {
  const drop = isRoot()
    ? [cfg.setprivPath, `--reuid=${cfg.sandboxUid}`, `--regid=${cfg.sandboxUid}`, '--clear-groups', '--']
    : [];
  const size = String(limits.tmpBytes);
  return [
    ...drop,
    cfg.bwrapPath,
    '--unshare-all',
    '--die-with-parent',
    '--new-session',
    '--hostname', 'sandbox',
    '--ro-bind', '/usr', '/usr',
    '--symlink', 'usr/bin', '/bin',
    '--symlink', 'usr/lib', '/lib',
    '--symlink', 'usr/lib64', '/lib64',
    '--proc', '/proc',
    '--dev', '/dev',
    '--size', size, '--tmpfs', '/dev/shm',
    '--size', size, '--tmpfs', '/tmp',
    '--ro-bind-data', '3', SANDBOX_PROGRAM,
    '--remount-ro', '/dev',
    '--remount-ro', '/',
    ...SANDBOX_ENV,
    '--chdir', '/tmp',
    ...prlimitArgs(cfg, limits),
    cfg.pythonPath,
    '-I', // isolated: ignore PYTHON* variables and the user site directory
    '-B', // write no .pyc files
    ...pythonArgs,
  ];
}

export interface RunRequest {
  /** Python source of the program under test. */
  program: string;
  /** Data on the program's stdin. */
  stdin: string;
  /**
   * Arguments after `python3 -I -B`; `{program}` is replaced by the program's path.
   * Default: [`{program}`] (run the program as a script).
   */
  pythonArgs?: string[];
  limits?: Partial<SandboxLimits>;
  sandbox?: Partial<SandboxConfig>;
  /** Run without bubblewrap (prlimit + a private temp cwd + cleared env only). */
  unsandboxed?: boolean;
}

/**
 * Runs a program once in a fresh sandbox (or, if `unsandboxed`, directly under prlimit).
 * Does not probe: callers check `probeSandbox` first (gradeCode does).
 */
export async function runSandboxed(req: RunRequest, slots: Semaphore = defaultRunSlots): Promise<RunResult> {
  const limits: SandboxLimits = { ...DEFAULT_LIMITS, ...req.limits };
  const cfg: SandboxConfig = { ...DEFAULT_SANDBOX, ...req.sandbox };
  const release = await slots.acquire();
  try {
    if (!req.unsandboxed) {
      const args = (req.pythonArgs ?? ['{program}']).map((a) => a.replaceAll('{program}', SANDBOX_PROGRAM));
      return await runProcess({
        argv: bwrapArgv(cfg, limits, args),
        stdin: req.stdin,
        extraFds: [req.program],
        env: {},
        cwd: '/',
        limits,
      });
    }
    // Unsandboxed: rlimits, a throwaway cwd, a cleared environment — and nothing else.
    const dir = mkdtempSync(join(tmpdir(), 'prime-verify-'));
    try {
      const file = join(dir, 'solution.py');
      writeFileSync(file, req.program);
      const args = (req.pythonArgs ?? ['{program}']).map((a) => a.replaceAll('{program}', file));
      return await runProcess({
        argv: [...prlimitArgs(cfg, limits), cfg.pythonPath, '-I', '-B', ...args],
        stdin: req.stdin,
        extraFds: [],
        env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', HOME: dir },
        cwd: dir,
        limits,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    release();
  }
}

// ---------------------------------------------------------------------------
// Probe: does the sandbox work, and does it give the guarantees we claim?
// ---------------------------------------------------------------------------

export type ProbeResult = { ok: true } | { ok: false; reason: string };

/** Process limit used by the probe's fork test. */
const PROBE_NPROC = 8;

const PROBE_PROGRAM = `
import json, os, socket, time
res = {"env": sorted(os.environ.keys())}
pids, limited = [], False
for _ in range(${PROBE_NPROC + 8}):
    try:
        pid = os.fork()
    except OSError:
        limited = True
        break
    if pid == 0:
        time.sleep(0.3)
        os._exit(0)
    pids.append(pid)
for pid in pids:
    os.waitpid(pid, 0)
res["nproc_limited"] = limited
try:
    socket.create_connection(("1.1.1.1", 53), timeout=0.5).close()
    res["network"] = True
except OSError:
    res["network"] = False
try:
    open("/sandbox/escape", "w").write("x")
    res["root_writable"] = True
except OSError:
    res["root_writable"] = False
print(json.dumps(res))
`;

const probes = new Map<string, Promise<ProbeResult>>();

function executable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function runProbe(cfg: SandboxConfig): Promise<ProbeResult> {
  if (process.platform !== 'linux') return { ok: false, reason: `bubblewrap needs Linux (this is ${process.platform})` };
  for (const [what, path] of [
    ['bubblewrap', cfg.bwrapPath],
    ['python3', cfg.pythonPath],
    ['prlimit', cfg.prlimitPath],
    ...(isRoot() ? [['setpriv', cfg.setprivPath]] : []),
  ] as const) {
    if (!executable(path)) return { ok: false, reason: `${what} not found at ${path}` };
  }
  const r = await runSandboxed(
    {
      program: PROBE_PROGRAM,
      stdin: '',
      limits: { timeoutMs: 10_000, maxProcesses: PROBE_NPROC },
      sandbox: cfg,
    },
    new Semaphore(1),
  );
  if (r.status !== 'exited' || r.exitCode !== 0) {
    const detail = r.stderr.trim().split('\n').slice(-3).join(' | ');
    return { ok: false, reason: `probe run failed (${r.status}, exit ${r.exitCode}): ${detail}` };
  }
  let res: { env: string[]; nproc_limited: boolean; network: boolean; root_writable: boolean };
  try {
    res = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
  } catch {
    return { ok: false, reason: `probe printed unexpected output: ${r.stdout.slice(0, 200)}` };
  }
  if (!res.nproc_limited) return { ok: false, reason: 'the process limit (RLIMIT_NPROC) is not enforced in the sandbox' };
  if (res.network) return { ok: false, reason: 'the sandbox can reach the network' };
  if (res.root_writable) return { ok: false, reason: 'the sandbox root is writable' };
  const allowedEnv = new Set(['PATH', 'LANG', 'HOME', 'LC_CTYPE', 'PWD']);
  const leaked = res.env.filter((k) => !allowedEnv.has(k));
  if (leaked.length > 0) return { ok: false, reason: `environment not cleared (saw ${leaked.join(', ')})` };
  return { ok: true };
}

/**
 * Checks once per configuration (memoized) that bubblewrap runs Python with the promised
 * isolation: a fork loop hits the process limit, the network is unreachable, the root is
 * read-only and the environment is cleared.
 */
export function probeSandbox(sandbox: Partial<SandboxConfig> = {}): Promise<ProbeResult> {
  const cfg: SandboxConfig = { ...DEFAULT_SANDBOX, ...sandbox };
  const key = JSON.stringify(cfg);
  let p = probes.get(key);
  if (p === undefined) {
    p = runProbe(cfg);
    probes.set(key, p);
  }
  return p;
}
