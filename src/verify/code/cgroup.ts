/**
 * One memory cgroup per sandbox run: an aggregate memory cap over every process of the run
 * (RLIMIT_AS is per process), charged with tmpfs and memfd pages too, and a kill that reaches
 * every process of the run whatever it did inside its namespaces.
 *
 * Where the run cgroups go (the "parent"), in order:
 *   1. `cgroupParent` of the sandbox config, else the env var PRIME_SANDBOX_CGROUP: a cgroup
 *      directory (v2 with `memory` in its cgroup.subtree_control, or a v1 memory directory) that
 *      this process may create children in and move processes into;
 *   2. cgroup v2: this process's own cgroup, if `memory` is already enabled in its
 *      cgroup.subtree_control (a delegated cgroup, e.g. systemd `Delegate=yes`);
 *   3. cgroup v1 (hybrid hosts): this process's own directory in the memory hierarchy, if we
 *      may create a child there (typically root).
 * The run cgroups are children of the parent, so the parent's own limits keep applying; they are
 * pooled (see RunCgroup) and removed at exit.
 * None of these → no cgroup; the caller decides whether that is acceptable (see sandbox.ts).
 *
 * v2 files: memory.max, memory.swap.max = 0, memory.oom.group = 1, pids.max (when the pids
 * controller is enabled), cgroup.kill. v1 files: memory.limit_in_bytes, memory.memsw.limit_in_bytes
 * (when swap accounting exists). The OOM killer acts inside the run cgroup only.
 * Kernel docs: Documentation/admin-guide/cgroup-v2.rst, cgroup-v1/memory.rst.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type CgroupMode = 'auto' | 'require' | 'off';

export interface CgroupParent {
  version: 1 | 2;
  /** Directory the run cgroups are created in. */
  dir: string;
}

export type CgroupDetection = { ok: true; parent: CgroupParent } | { ok: false; reason: string };

interface Mount {
  root: string;
  point: string;
  fstype: string;
  superOptions: string[];
}

function mounts(): Mount[] {
  const out: Mount[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const pre = line.slice(0, dash).split(' ');
    const post = line.slice(dash + 3).split(' ');
    const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    out.push({ root: unescape(pre[3] ?? ''), point: unescape(pre[4] ?? ''), fstype: post[0] ?? '', superOptions: (post[2] ?? '').split(',') });
  }
  return out;
}

/** The directory of cgroup `path` (as /proc/self/cgroup names it) under a mount, if visible there. */
function underMount(m: Mount, path: string): string | null {
  if (m.root === '/') return join(m.point, path);
  if (path === m.root || path.startsWith(m.root + '/')) return join(m.point, path.slice(m.root.length));
  return null;
}

const readTrim = (f: string) => readFileSync(f, 'utf8').trim();

function versionOf(dir: string): 1 | 2 | null {
  if (existsSync(join(dir, 'cgroup.controllers'))) return 2;
  if (existsSync(join(dir, 'memory.limit_in_bytes'))) return 1;
  return null;
}

/** Finds where per-run memory cgroups can be created (see the module comment for the order). */
export function detectCgroupParent(explicit?: string): CgroupDetection {
  if (process.platform !== 'linux') return { ok: false, reason: 'cgroups need Linux' };
  const given = explicit ?? process.env['PRIME_SANDBOX_CGROUP'];
  if (given !== undefined && given !== '') {
    const v = versionOf(given);
    if (v === null) return { ok: false, reason: `${given} (cgroupParent / PRIME_SANDBOX_CGROUP) is not a cgroup v2 or v1 memory directory` };
    if (v === 2 && !readTrim(join(given, 'cgroup.subtree_control')).split(' ').includes('memory')) {
      return { ok: false, reason: `${given}: the memory controller is not enabled in its cgroup.subtree_control` };
    }
    return { ok: true, parent: { version: v, dir: given } };
  }
  let own: string;
  try {
    own = readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    return { ok: false, reason: 'no /proc/self/cgroup' };
  }
  const all = mounts();
  const reasons: string[] = [];
  // cgroup v2: "0::/path".
  const v2path = /^0::(.*)$/m.exec(own)?.[1];
  const v2mount = all.find((m) => m.fstype === 'cgroup2');
  if (v2path !== undefined && v2mount !== undefined) {
    const dir = underMount(v2mount, v2path);
    if (dir !== null && existsSync(join(dir, 'cgroup.subtree_control'))) {
      const enabled = readTrim(join(dir, 'cgroup.subtree_control')).split(' ');
      if (enabled.includes('memory')) return { ok: true, parent: { version: 2, dir } };
      const avail = readTrim(join(dir, 'cgroup.controllers')).split(' ').filter(Boolean);
      reasons.push(
        `cgroup v2 at ${dir}: memory ${avail.includes('memory') ? 'available but not delegated to children (cgroup.subtree_control)' : 'controller not available'}`,
      );
    }
  } else {
    reasons.push('no cgroup v2 hierarchy');
  }
  // cgroup v1: "N:memory[,…]:/path".
  const v1line = own.split('\n').find((l) => l.split(':')[1]?.split(',').includes('memory'));
  const v1mount = all.find((m) => m.fstype === 'cgroup' && m.superOptions.includes('memory'));
  if (v1line !== undefined && v1mount !== undefined) {
    const dir = underMount(v1mount, v1line.split(':').slice(2).join(':'));
    if (dir !== null && existsSync(join(dir, 'memory.limit_in_bytes'))) return { ok: true, parent: { version: 1, dir } };
    reasons.push('cgroup v1 memory hierarchy: own cgroup not visible');
  } else {
    reasons.push('no cgroup v1 memory hierarchy');
  }
  return { ok: false, reason: reasons.join('; ') };
}

let counter = 0;
/** Run cgroups not yet removed (removal retried later and at exit). */
const stale = new Set<string>();
/** Empty run cgroups ready for the next run, per parent directory. */
const idle = new Map<string, RunCgroup[]>();
let exitHook = false;
const sweptParents = new Set<string>();

function tryRemove(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

function sweepStale(): void {
  for (const d of stale) if (tryRemove(d)) stale.delete(d);
}

/** At exit: remove the idle pool and what could not be removed before. */
function removeAll(): void {
  for (const list of idle.values()) for (const cg of list.splice(0)) if (!tryRemove(cg.dir)) stale.add(cg.dir);
  sweepStale();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Once per parent: removes empty `prime-sandbox-PID-*` cgroups of processes that are gone (killed before their exit hook ran). */
function sweepDeadOwners(parentDir: string): void {
  if (sweptParents.has(parentDir)) return;
  sweptParents.add(parentDir);
  for (const name of listRunCgroups({ version: 2, dir: parentDir })) {
    const pid = Number(/^prime-sandbox-(\d+)-/.exec(name)?.[1]);
    if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) tryRemove(join(parentDir, name));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RunCgroupLimits {
  memoryBytes: number;
  /** pids.max (v2 with the pids controller only). */
  maxTasks: number;
}

/**
 * A cgroup holding every process of one sandbox run. Run cgroups are pooled: `acquire` hands out
 * an empty one (made on first need) with the run's limits written, `release` empties it (kills
 * until no process is left) and returns it to the pool. Reuse avoids a mkdir/rmdir per run — on
 * cgroup v1 each rmdir queues memcg teardown work that competed with the next runs for the CPU.
 * A cgroup is only reused once empty, so the cap is still per run; the pool is removed at exit.
 */
export class RunCgroup {
  /** memory.events / memory.oom_control's oom_kill count when this run started. */
  private oomBase = 0;

  private constructor(
    readonly version: 1 | 2,
    readonly dir: string,
    private readonly parentDir: string,
  ) {}

  /** The file a process writes its pid to in order to join. */
  get procsFile(): string {
    return join(this.dir, 'cgroup.procs');
  }

  /** An empty run cgroup under `parent` with `limits` written. Throws (with the path) if the kernel refuses. */
  static acquire(parent: CgroupParent, limits: RunCgroupLimits): RunCgroup {
    sweepStale();
    sweepDeadOwners(parent.dir);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', removeAll);
    }
    let cg = idle.get(parent.dir)?.pop();
    let made = false;
    if (cg === undefined) {
      const dir = join(parent.dir, `prime-sandbox-${process.pid}-${++counter}`);
      mkdirSync(dir);
      cg = new RunCgroup(parent.version, dir, parent.dir);
      made = true;
    }
    try {
      cg.setLimits(limits);
    } catch (e) {
      if (!tryRemove(cg.dir)) stale.add(cg.dir);
      if (made) throw e;
      return RunCgroup.acquire(parent, limits); // a pooled one went bad: make a fresh one
    }
    cg.oomBase = cg.oomKillCount();
    return cg;
  }

  private setLimits(limits: RunCgroupLimits): void {
    const dir = this.dir;
    const mem = String(limits.memoryBytes);
    if (this.version === 2) {
      writeFileSync(join(dir, 'memory.max'), mem);
      if (existsSync(join(dir, 'memory.swap.max'))) writeFileSync(join(dir, 'memory.swap.max'), '0');
      if (existsSync(join(dir, 'memory.oom.group'))) writeFileSync(join(dir, 'memory.oom.group'), '1');
      if (existsSync(join(dir, 'pids.max'))) writeFileSync(join(dir, 'pids.max'), String(limits.maxTasks));
    } else {
      // memsw (memory + swap) must stay >= the memory limit: lower order matters both ways.
      const memsw = join(dir, 'memory.memsw.limit_in_bytes');
      const hasMemsw = existsSync(memsw);
      const current = Number(readTrim(join(dir, 'memory.limit_in_bytes')));
      if (hasMemsw && limits.memoryBytes > current) writeFileSync(memsw, mem);
      writeFileSync(join(dir, 'memory.limit_in_bytes'), mem);
      if (hasMemsw) writeFileSync(memsw, mem); // equal to the memory limit: no swap
    }
  }

  /** Pids in the cgroup now. */
  pids(): number[] {
    try {
      return readTrim(this.procsFile).split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  private oomKillCount(): number {
    try {
      const f = this.version === 2 ? 'memory.events' : 'memory.oom_control';
      const m = /^oom_kill (\d+)$/m.exec(readFileSync(join(this.dir, f), 'utf8'));
      return m === null ? 0 : Number(m[1]);
    } catch {
      return 0;
    }
  }

  /** Whether the OOM killer acted in this cgroup during this run (memory.events / memory.oom_control). */
  oomKilled(): boolean {
    return this.oomKillCount() > this.oomBase;
  }

  /** SIGKILLs every process in the cgroup now (cgroup.kill where the kernel has it). */
  killNow(): void {
    if (this.version === 2 && existsSync(join(this.dir, 'cgroup.kill'))) {
      try {
        writeFileSync(join(this.dir, 'cgroup.kill'), '1');
        return;
      } catch {
        // fall through to one kill per process
      }
    }
    for (const pid of this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }

  /**
   * Kills everything in the cgroup until it is empty, then returns it to the pool. Resolves once
   * the cgroup is empty (or after `timeoutMs`: then it is never reused, and removed when it can be).
   */
  async release(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let wait = 1; this.pids().length > 0; wait = Math.min(wait * 2, 50)) {
      if (Date.now() > deadline) {
        stale.add(this.dir);
        return;
      }
      this.killNow();
      await sleep(wait);
    }
    let list = idle.get(this.parentDir);
    if (list === undefined) idle.set(this.parentDir, (list = []));
    list.push(this);
  }
}

/** Run cgroups of this process that could not be emptied or removed yet (for tests and diagnostics). */
export function pendingCgroups(): string[] {
  sweepStale();
  return [...stale];
}

/** Removes the pool of idle run cgroups now (also done at exit). */
export function removeIdleCgroups(): void {
  removeAll();
}

/** Lists leftover `prime-sandbox-*` cgroups under a parent (for tests). */
export function listRunCgroups(parent: CgroupParent): string[] {
  try {
    return readdirSync(parent.dir).filter((n) => n.startsWith('prime-sandbox-'));
  } catch {
    return [];
  }
}
