/*
 * Writes the code sandbox's seccomp filter (classic BPF, as bwrap's --seccomp FD takes it) to
 * stdout. Built and run at build time (Makefile: native/build/seccomp/sandbox.bpf) with
 * libseccomp, which emits the architecture check (syscalls of any other ABI, x32 and i386
 * included, kill the process) and the syscall-number dispatch.
 *
 * Policy: allow by default, deny what an untrusted Python program never needs and what kernel
 * exploits and sandbox escapes start from:
 *   - namespaces and mounts: unshare, setns, mount & the new mount API, pivot_root, chroot;
 *     clone() with any CLONE_NEW* flag (fork and threads stay allowed); clone3 (its flags sit
 *     in memory a filter cannot read: ENOSYS, so libc falls back to clone)
 *   - other processes: ptrace, process_vm_readv/writev, pidfd_getfd, kcmp
 *   - kernel attack surface: io_uring_*, bpf, perf_event_open, userfaultfd, keyctl, add_key,
 *     request_key, kexec_*, (f)init_module, delete_module, fanotify_init, open_by_handle_at,
 *     name_to_handle_at, lookup_dcookie, quotactl*, iopl, ioperm, acct, swapon/off, reboot,
 *     settimeofday/clock_settime/adjtimex, syslog, personality, vhangup, mbind/migrate_pages/
 *     move_pages/set_mempolicy*
 *   - memory outside the rlimits: memfd_create, memfd_secret (pages written to a memfd but
 *     never mapped escape RLIMIT_AS)
 * Denied calls fail with EPERM (ENOSYS for clone3 and io_uring, the answers that make callers
 * fall back), so a program that merely probes for them keeps running.
 *
 * Usage: sandbox-filter > sandbox.bpf   (exit status 1 with a message on failure)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const char *const DENY_EPERM[] = {
    "unshare", "setns", "mount", "umount", "umount2", "pivot_root", "chroot",
    "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "fanotify_init", "open_by_handle_at", "name_to_handle_at", "lookup_dcookie",
    "quotactl", "quotactl_fd", "iopl", "ioperm", "acct", "swapon", "swapoff", "reboot",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "syslog", "personality",
    "vhangup", "mbind", "migrate_pages", "move_pages", "set_mempolicy",
    "set_mempolicy_home_node", "memfd_create", "memfd_secret", "uselib", "ustat", "sysfs",
    "_sysctl", "nfsservctl",
};

static const char *const DENY_ENOSYS[] = {
    "clone3", "io_uring_setup", "io_uring_enter", "io_uring_register",
};

static const unsigned long CLONE_NS_FLAGS[] = {
    CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWIPC,
    CLONE_NEWCGROUP, CLONE_NEWTIME,
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int deny(scmp_filter_ctx ctx, const char *name, int err) {
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) return 0; /* not a syscall of this architecture */
  int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(err), nr, 0);
  if (rc < 0) fprintf(stderr, "sandbox-filter: %s: %d\n", name, rc);
  return rc;
}

int main(void) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == NULL) {
    fprintf(stderr, "sandbox-filter: seccomp_init failed\n");
    return 1;
  }
  int rc = 0;
  for (size_t i = 0; i < COUNT(DENY_EPERM) && rc == 0; i++) rc = deny(ctx, DENY_EPERM[i], EPERM);
  for (size_t i = 0; i < COUNT(DENY_ENOSYS) && rc == 0; i++) rc = deny(ctx, DENY_ENOSYS[i], ENOSYS);
  /* clone(flags, ...): flags is argument 0 on every architecture libseccomp knows except s390. */
  for (size_t i = 0; i < COUNT(CLONE_NS_FLAGS) && rc == 0; i++) {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                          SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NS_FLAGS[i], CLONE_NS_FLAGS[i]));
    if (rc < 0) fprintf(stderr, "sandbox-filter: clone flag %#lx: %d\n", CLONE_NS_FLAGS[i], rc);
  }
  if (rc == 0) rc = seccomp_export_bpf(ctx, STDOUT_FILENO);
  seccomp_release(ctx);
  if (rc < 0) {
    fprintf(stderr, "sandbox-filter: failed (%d)\n", rc);
    return 1;
  }
  return 0;
}
