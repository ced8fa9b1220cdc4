/*
 * sandbox.h: what au-netproxy checks about itself before it reads any input,
 * and the seccomp filter it puts on itself.
 */
#pragma once

/*
 * Refuses (returns a static reason) when the process could do more than an
 * unprivileged proxy needs: any uid or gid 0, any capability, or
 * no_new_privs not set (without it a setuid program would be a way back up,
 * and seccomp could not be installed). NULL when all is well.
 */
const char *sandbox_check_identity(void);

/*
 * A seccomp filter that kills the process on execve, execveat, ptrace,
 * process_vm_readv/writev, fork (a clone without CLONE_THREAD) and the
 * namespace, mount, module, BPF and keyring calls, and on any foreign
 * architecture's system calls. A denylist, not an allowlist: the host's
 * resolver may load NSS modules whose system calls we do not know.
 * Returns 0, or -1 with errno (no filter on an architecture it does not know:
 * errno ENOSYS).
 */
int sandbox_install_seccomp(void);
