/**
 * Running untrusted Python in a bubblewrap sandbox.
 *
 * One run = one fresh sandbox:
 *
 *   [/bin/sh -c 'echo $$ > RUN_CGROUP/cgroup.procs; exec "$@"']  when a memory cgroup is usable
 *   [setpriv --reuid=U --regid=U --clear-groups --]       only when we are root (see below)
 *   bwrap --unshare-all --unshare-user --disable-userns   new user, pid, net, ipc, uts, cgroup ns;
 *                                                         no nested user namespaces inside
 *         --die-with-parent --new-session                 dies with us; no terminal to inject into
 *         --json-status-fd 5                              reports the host pid of the namespace's init
 *         --seccomp 4                                     the syscall filter (native/seccomp)
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
 * Ending a run (timeout, output cap, or normal exit): the namespace's init is SIGKILLed by its
 * host pid (from --json-status-fd) before the run's process group, so a program that cleared
 * init's parent-death signal (ptrace is denied by the filter, but the kill does not rely on
 * that) still loses its whole pid namespace; the run cgroup, where there is one, is then
 * killed until empty (and pooled for a later run). A run resolves only once nothing of it is left.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CgroupMode, type CgroupParent, RunCgroup, detectCgroupParent } from './cgroup.js';

export interface SandboxLimits {
  /** Wall-clock limit per run in ms (default 4000). The whole sandbox is killed past it. */
  timeoutMs: number;
  /** RLIMIT_CPU in seconds (default: ceil(timeoutMs / 1000) + 1, so the wall clock fires first). */
  cpuSeconds?: number;
  /**
   * Memory cap in bytes (default 1 GiB), twice: the run's aggregate cap (its memory cgroup:
   * every process, tmpfs and memfd pages included; past it the OOM killer acts inside the run)
   * and RLIMIT_AS of each process (a single-process bomb gets MemoryError). Without a cgroup
   * only the per-process bound holds: up to maxProcesses × memoryBytes (see README).
   */
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
  /**
   * The compiled seccomp filter bwrap loads (default: native/build/seccomp/sandbox.bpf, built by
   * `make build`). `null` runs without a syscall filter (only for comparisons; the probe reports it).
   */
  seccompPath: string | null;
  /**
   * Per-run memory cgroup: 'auto' (default: use one where the host allows, see cgroup.ts),
   * 'require' (the probe fails without one), 'off'.
   */
  cgroup: CgroupMode;
  /** Where run cgroups are created (default: env PRIME_SANDBOX_CGROUP, else detected). */
  cgroupParent?: string;
}

export const DEFAULT_SANDBOX: SandboxConfig = {
  bwrapPath: '/usr/bin/bwrap',
  pythonPath: '/usr/bin/python3',
  prlimitPath: '/usr/bin/prlimit',
  setprivPath: '/usr/bin/setpriv',
  sandboxUid: 65534,
  seccompPath: defaultSeccompPath(),
  cgroup: 'auto',
};

/** native/build/seccomp/sandbox.bpf of this checkout (from dist/src/verify/code or src/verify/code). */
function defaultSeccompPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, '../../../..'), resolve(here, '../../..')].map((r) => join(r, 'native/build/seccomp/sandbox.bpf'));
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}

/** Where the program appears inside the sandbox. */
export const SANDBOX_PROGRAM = '/sandbox/solution.py';

export type RunStatus = 'exited' | 'timeout' | 'output-limit' | 'spawn-error';

export interface RunResult {
  status: RunStatus;
  /** The run's memory cgroup hit its cap and the OOM killer acted (only with a cgroup). */
  memoryLimit?: boolean;
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
// Process runner with timeout, output caps, and a teardown that leaves nothing behind
// ---------------------------------------------------------------------------

interface ProcessSpec {
  argv: string[];
  stdin: string;
  /** Data written to fds 3, 4, … of the child (then closed). */
  extraFds: (string | Buffer)[];
  /** One more fd after extraFds that bwrap writes its JSON status to (--json-status-fd). */
  statusFd: boolean;
  /** The run's cgroup: killed with the run, emptied (and returned to the pool) before the run resolves. */
  cgroup?: RunCgroup;
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

/** Field 22 of /proc/PID/stat (start time in clock ticks) and the state letter, or null if gone. */
function procStat(pid: number): { state: string; start: string } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0]!, start: rest[19]! };
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the process `pid` started at `start` is a zombie or gone. For a pid namespace's
 * init that means the namespace is empty: the kernel reaps every other member before init exits.
 */
async function waitGone(pid: number, start: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 1; Date.now() < deadline; wait = Math.min(wait * 2, 50)) {
    const st = procStat(pid);
    if (st === null || st.start !== start || st.state === 'Z' || st.state === 'X') return;
    await sleep(wait);
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
    let exited = false;
    let exitCode: number | null = null;
    let signal: NodeJS.Signals | null = null;
    // The namespace's init as the host sees it, from bwrap's JSON status.
    let init: { pid: number; start: string } | null = null;

    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(spec.argv[0]!, spec.argv.slice(1), {
        stdio: ['pipe', 'pipe', 'pipe', ...spec.extraFds.map(() => 'pipe' as const), ...(spec.statusFd ? ['pipe' as const] : [])],
        detached: true, // own process group (and session): killGroup reaches bwrap/prlimit/python
        env: spec.env,
        cwd: spec.cwd,
      });
    } catch (e) {
      resolve({ status: 'spawn-error', exitCode: null, signal: null, stdout: '', stderr: String(e), wallMs: 0 });
      void spec.cgroup?.release();
      return;
    }

    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(closeTimer);
      void (async () => {
        // Nothing of the run may outlive it: empty the cgroup, or wait for the killed init.
        let memoryLimit: boolean | undefined;
        // (A task leaves cgroup.procs before it finishes exiting: wait for init as well, which
        // finishes only after every other member of its pid namespace.)
        if (spec.cgroup !== undefined) {
          memoryLimit = spec.cgroup.oomKilled();
          await spec.cgroup.release();
        }
        if (init !== null) await waitGone(init.pid, init.start);
        resolve({
          status,
          ...(memoryLimit ? { memoryLimit } : {}),
          exitCode: status === 'exited' ? exitCode : null,
          signal,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          wallMs: Date.now() - started,
        });
      })();
    };
    // Init first, while bwrap (its parent) is alive and its pid cannot have been reused; its
    // death takes the whole pid namespace, whatever the program did to init's death signal.
    const killInit = () => {
      if (init === null || exited) return;
      try {
        process.kill(init.pid, 'SIGKILL');
      } catch {
        // gone
      }
    };
    const kill = (why: RunStatus) => {
      if (status === 'exited') status = why;
      killInit();
      killGroup(child.pid);
      spec.cgroup?.killNow();
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

    if (spec.statusFd) {
      // bwrap writes `{ "child-pid": N, … }` first (N: init's pid in our namespace), then
      // `{ "exit-code": … }`. Only the first few hundred bytes matter.
      let text = '';
      const statusStream = child.stdio[3 + spec.extraFds.length] as NodeJS.ReadableStream;
      statusStream.on('data', (b: Buffer) => {
        if (init !== null || text.length > 4096) return;
        text += b.toString('utf8');
        const m = /"child-pid"\s*:\s*(\d+)/.exec(text);
        if (m === null) return;
        const pid = Number(m[1]);
        const st = procStat(pid);
        if (st !== null) init = { pid, start: st.start };
        if (status !== 'exited') killInit(); // the kill came before the status
      });
    }

    child.on('error', (e) => {
      status = 'spawn-error';
      err.push(Buffer.from(String(e)));
      finish();
    });
    child.on('exit', (code, sig) => {
      exited = true;
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

/** Joins the run cgroup, then execs the rest of the command line (so every process starts inside). */
const JOIN_CGROUP = 'echo $$ > "$0" || exit 125; exec "$@"';

interface Fds {
  /** fd of the compiled seccomp filter, if any. */
  seccomp?: number;
  /** fd bwrap writes its JSON status to. */
  status: number;
  /** cgroup.procs of the run cgroup, if any. */
  cgroupProcs?: string;
}

/** argv for running `pythonArgs` under bwrap with the program on fd 3. */
function bwrapArgv(cfg: SandboxConfig, limits: SandboxLimits, pythonArgs: string[], fds: Fds): string[] {
  const enter = fds.cgroupProcs !== undefined ? ['/bin/sh', '-c', JOIN_CGROUP, fds.cgroupProcs] : [];
  const drop = isRoot()
    ? [cfg.setprivPath, `--reuid=${cfg.sandboxUid}`, `--regid=${cfg.sandboxUid}`, '--clear-groups', '--']
    : [];
  const size = String(limits.tmpBytes);
  return [
    ...enter,
    ...drop,
    cfg.bwrapPath,
    '--unshare-all',
    '--unshare-user', // explicit: --disable-userns needs it
    '--disable-userns', // no nested user namespaces (their own mounts, capabilities, tmpfs)
    '--die-with-parent',
    '--new-session',
    '--json-status-fd', String(fds.status),
    ...(fds.seccomp !== undefined ? ['--seccomp', String(fds.seccomp)] : []),
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

const filters = new Map<string, Buffer>();

/** The compiled seccomp filter (read once per path). Throws SandboxUnavailableError if missing. */
function seccompFilter(path: string): Buffer {
  let bpf = filters.get(path);
  if (bpf === undefined) {
    try {
      bpf = readFileSync(path);
    } catch {
      throw new SandboxUnavailableError(`the seccomp filter ${path} is missing (build it with \`make build\`)`);
    }
    if (bpf.length === 0 || bpf.length % 8 !== 0) throw new SandboxUnavailableError(`${path} is not a BPF program (${bpf.length} bytes)`);
    filters.set(path, bpf);
  }
  return bpf;
}

const cgroupParents = new Map<string, ReturnType<typeof detectCgroupParent>>();

/** Where this configuration's run cgroups go (detected once per parent setting), or why none. */
export function sandboxCgroupParent(sandbox: Partial<SandboxConfig> = {}): { ok: true; parent: CgroupParent } | { ok: false; reason: string } {
  const cfg: SandboxConfig = { ...DEFAULT_SANDBOX, ...sandbox };
  if (cfg.cgroup === 'off') return { ok: false, reason: "cgroup: 'off'" };
  const key = cfg.cgroupParent ?? `env:${process.env['PRIME_SANDBOX_CGROUP'] ?? ''}`;
  let d = cgroupParents.get(key);
  if (d === undefined) {
    d = detectCgroupParent(cfg.cgroupParent);
    cgroupParents.set(key, d);
  }
  return d;
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
 * Resolves once no process of the run is left. Does not probe: callers check `probeSandbox`
 * first (gradeCode does). Throws SandboxUnavailableError if the seccomp filter is missing or
 * `cgroup: 'require'` and no run cgroup can be made.
 */
export async function runSandboxed(req: RunRequest, slots: Semaphore = defaultRunSlots): Promise<RunResult> {
  const limits: SandboxLimits = { ...DEFAULT_LIMITS, ...req.limits };
  const cfg: SandboxConfig = { ...DEFAULT_SANDBOX, ...req.sandbox };
  const release = await slots.acquire();
  try {
    if (!req.unsandboxed) {
      const args = (req.pythonArgs ?? ['{program}']).map((a) => a.replaceAll('{program}', SANDBOX_PROGRAM));
      const extraFds: (string | Buffer)[] = [req.program];
      const fds: Fds = { status: 4 };
      if (cfg.seccompPath !== null) {
        extraFds.push(seccompFilter(cfg.seccompPath));
        fds.seccomp = 4;
        fds.status = 5;
      }
      let cgroup: RunCgroup | undefined;
      const where = sandboxCgroupParent(cfg);
      if (where.ok) {
        try {
          // Tasks: the program's processes and threads plus bwrap's monitor and init.
          cgroup = RunCgroup.acquire(where.parent, { memoryBytes: limits.memoryBytes, maxTasks: limits.maxProcesses + 4 });
          fds.cgroupProcs = cgroup.procsFile;
        } catch (e) {
          if (cfg.cgroup === 'require') throw new SandboxUnavailableError(`cannot create a run cgroup: ${(e as Error).message}`);
        }
      } else if (cfg.cgroup === 'require') {
        throw new SandboxUnavailableError(`no memory cgroup for the sandbox: ${where.reason}`);
      }
      return await runProcess({
        argv: bwrapArgv(cfg, limits, args, fds),
        stdin: req.stdin,
        extraFds,
        statusFd: true,
        ...(cgroup !== undefined ? { cgroup } : {}),
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
        statusFd: false,
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

export type ProbeResult =
  | {
      ok: true;
      /** The per-run memory cgroup in use ('v1' / 'v2'), or null with the reason. */
      cgroup: 'v1' | 'v2' | null;
      cgroupReason?: string;
      /** Whether the seccomp filter is loaded (false only with seccompPath: null). */
      seccomp: boolean;
    }
  | { ok: false; reason: string };

/** Process limit used by the probe's fork test. */
const PROBE_NPROC = 8;

const PROBE_PROGRAM = `
import ctypes, errno, json, os, socket, time
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
try:
    os.close(os.memfd_create("probe"))
    res["filtered"] = False
except OSError as e:
    res["filtered"] = e.errno == errno.EPERM
libc = ctypes.CDLL(None, use_errno=True)
res["userns"] = libc.unshare(0x10000000) == 0
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
  const where = sandboxCgroupParent(cfg);
  if (!where.ok && cfg.cgroup === 'require') return { ok: false, reason: `no memory cgroup for the sandbox: ${where.reason}` };
  let r: RunResult;
  try {
    r = await runSandboxed(
      {
        program: PROBE_PROGRAM,
        stdin: '',
        limits: { timeoutMs: 10_000, maxProcesses: PROBE_NPROC },
        sandbox: cfg,
      },
      new Semaphore(1),
    );
  } catch (e) {
    if (e instanceof SandboxUnavailableError) return { ok: false, reason: e.message };
    throw e;
  }
  if (r.status !== 'exited' || r.exitCode !== 0) {
    const detail = r.stderr.trim().split('\n').slice(-3).join(' | ');
    return { ok: false, reason: `probe run failed (${r.status}, exit ${r.exitCode}): ${detail}` };
  }
  let res: { env: string[]; nproc_limited: boolean; network: boolean; root_writable: boolean; filtered: boolean; userns: boolean };
  try {
    res = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
  } catch {
    return { ok: false, reason: `probe printed unexpected output: ${r.stdout.slice(0, 200)}` };
  }
  if (!res.nproc_limited) return { ok: false, reason: 'the process limit (RLIMIT_NPROC) is not enforced in the sandbox' };
  if (res.network) return { ok: false, reason: 'the sandbox can reach the network' };
  if (res.root_writable) return { ok: false, reason: 'the sandbox root is writable' };
  if (res.userns) return { ok: false, reason: 'the sandbox can create nested user namespaces' };
  if (cfg.seccompPath !== null && !res.filtered) return { ok: false, reason: 'the seccomp filter is not in effect (memfd_create was allowed)' };
  const allowedEnv = new Set(['PATH', 'LANG', 'HOME', 'LC_CTYPE', 'PWD']);
  const leaked = res.env.filter((k) => !allowedEnv.has(k));
  if (leaked.length > 0) return { ok: false, reason: `environment not cleared (saw ${leaked.join(', ')})` };
  return {
    ok: true,
    cgroup: where.ok ? (where.parent.version === 2 ? 'v2' : 'v1') : null,
    ...(where.ok ? {} : { cgroupReason: where.reason }),
    seccomp: cfg.seccompPath !== null,
  };
}

/**
 * Checks once per configuration (memoized) that bubblewrap runs Python with the promised
 * isolation: a fork loop hits the process limit, the network is unreachable, the root is
 * read-only, the environment is cleared, nested user namespaces are refused and the seccomp
 * filter is in effect. Reports whether runs get a memory cgroup.
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
