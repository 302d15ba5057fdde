/**
 * Helpers for the sandbox tests: find the processes of ONE run (by its pid namespace, or a
 * marker in the command line), so concurrent grading jobs on the host do not count.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * The program prints the id of its pid namespace first (`NS pid:[…]`); the namespace id is
 * the same seen from the host, so the test can find the processes of THIS run and no other
 * (other sandboxes may run on the host at the same time).
 */
export const NS_LINE = 'import os as _os; print("NS", _os.readlink("/proc/self/ns/pid"), flush=True)';

export function namespaceOf(stdout: string | undefined): string {
  const m = /NS (pid:\[\d+\])/.exec(stdout ?? '');
  assert.ok(m, `the program did not report its pid namespace: ${stdout}`);
  return m[1]!;
}

/** Live (non-zombie) processes whose pid namespace is `ns`, or whose command line has `marker`. */
export function processesOfRun(ns: string | null, marker?: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue; // zombie: already dead
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      if ((ns !== null && readlinkSync(`/proc/${pid}/ns/pid`) === ns) || (marker !== undefined && cmd.includes(marker))) found.push(`${pid} ${cmd}`);
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/**
 * Asserts that nothing of the run survives, right when gradeCode has returned: runs resolve
 * only after their namespace (or cgroup) is empty, so no grace period is given.
 */
export function assertNoStragglers(ns: string | null, marker?: string): void {
  const left = processesOfRun(ns, marker);
  assert.deepEqual(left, [], `processes of this run survived it:\n${left.join('\n')}`);
}

