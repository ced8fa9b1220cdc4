/*
 * sandbox.c: identity checks and the seccomp filter (see sandbox.h).
 *
 * The proxy parses what a hostile agent sends. Should a bug in a parser give
 * the agent control of it, the filter keeps it from becoming anything else:
 * it cannot run a program, trace or read another process, make a child
 * process, or enter a namespace. It can still do what the proxy does
 * (sockets, threads, the resolver), as the agent's own uid.
 */
#include "sandbox.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

const char *sandbox_check_identity(void)
{
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;

	if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0)
		return "cannot read the process's ids";
	if (ruid == 0 || euid == 0 || suid == 0)
		return "refusing to run as root: au-netproxy runs as the agent's uid";
	if (rgid == 0 || egid == 0 || sgid == 0)
		return "refusing to run with group id 0";
	if (syscall(SYS_capget, &header, data) < 0)
		return "cannot read the process's capabilities";
	for (size_t i = 0; i < ARRAY_SIZE(data); i++)
		if (data[i].effective || data[i].permitted || data[i].inheritable)
			return "refusing to run with capabilities";
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return "refusing to run without no_new_privs";
	return NULL;
}

#if defined(__x86_64__)
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef SANDBOX_AUDIT_ARCH

#define LOAD(field) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))
#define KILL_IF(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS)
#define RETURN(action) BPF_STMT(BPF_RET | BPF_K, (action))

int sandbox_install_seccomp(void)
{
	struct sock_filter filter[] = {
		/* Another architecture's system call numbers mean other calls: refuse them all. */
		LOAD(arch),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_AUDIT_ARCH, 1, 0),
		RETURN(SECCOMP_RET_KILL_PROCESS),
		LOAD(nr),
#if defined(__x86_64__)
		/* x32's numbers are x86_64's plus this bit: a second name for every call below. */
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
		RETURN(SECCOMP_RET_KILL_PROCESS),
#endif
		/* Running anything else. */
		KILL_IF(__NR_execve),
		KILL_IF(__NR_execveat),
		/* Reaching into other processes of the same uid (the agent's). */
		KILL_IF(__NR_ptrace),
		KILL_IF(__NR_process_vm_readv),
		KILL_IF(__NR_process_vm_writev),
		KILL_IF(__NR_pidfd_getfd),
		/* Child processes. Threads are clones with CLONE_THREAD, checked below. */
#ifdef __NR_fork
		KILL_IF(__NR_fork),
#endif
#ifdef __NR_vfork
		KILL_IF(__NR_vfork),
#endif
		/* Namespaces and mounts. */
		KILL_IF(__NR_unshare),
		KILL_IF(__NR_setns),
		KILL_IF(__NR_mount),
		KILL_IF(__NR_umount2),
		KILL_IF(__NR_pivot_root),
		KILL_IF(__NR_chroot),
		KILL_IF(__NR_open_tree),
		KILL_IF(__NR_move_mount),
		KILL_IF(__NR_fsopen),
		KILL_IF(__NR_fsmount),
		KILL_IF(__NR_mount_setattr),
		/* Kernel attack surface a proxy has no use for. */
		KILL_IF(__NR_bpf),
		KILL_IF(__NR_perf_event_open),
		KILL_IF(__NR_userfaultfd),
		KILL_IF(__NR_keyctl),
		KILL_IF(__NR_add_key),
		KILL_IF(__NR_request_key),
		KILL_IF(__NR_io_uring_setup),
		KILL_IF(__NR_io_uring_enter),
		KILL_IF(__NR_io_uring_register),
		KILL_IF(__NR_init_module),
		KILL_IF(__NR_finit_module),
		KILL_IF(__NR_delete_module),
		KILL_IF(__NR_kexec_load),
		KILL_IF(__NR_open_by_handle_at),
		KILL_IF(__NR_personality),
		/*
		 * clone3 passes its flags in memory, which a filter cannot read:
		 * ENOSYS makes glibc fall back to clone, whose flags it can.
		 */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
		RETURN(SECCOMP_RET_ERRNO | ENOSYS),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 3),
		/* clone's flags are its first argument on both architectures (the low 32 bits). */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 1, 0),
		RETURN(SECCOMP_RET_KILL_PROCESS),
		RETURN(SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = ARRAY_SIZE(filter), .filter = filter };

	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

#else

int sandbox_install_seccomp(void)
{
	errno = ENOSYS;
	return -1;
}

#endif
