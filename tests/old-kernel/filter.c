/* filter.c: the seccomp filter of old-kernel, from the one list in calls.h. */
#include "filter.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define OLD_KERNEL_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define OLD_KERNEL_ARCH AUDIT_ARCH_AARCH64
#else
#error "old-kernel knows x86_64 and aarch64: add this architecture's AUDIT_ARCH"
#endif

struct old_call {
	const char *name;
	long nr;
	int arg;           /* -1: the call itself */
	uint32_t mask, value;
	int errnum;        /* 0: the caller's choice (ENOSYS or EPERM) */
	const char *since;
	const char *fallback;
};

static const struct old_call calls[] = {
#define OLD_KERNEL_SYSCALL(name, nr, since, fallback) { #name, nr, -1, 0, 0, 0, since, fallback },
#define OLD_KERNEL_ARG(name, nr, arg, mask, value, errnum, since, fallback) \
	{ #name, nr, arg, mask, value, errnum, since, fallback },
#include "calls.h"
#undef OLD_KERNEL_SYSCALL
#undef OLD_KERNEL_ARG
};

#define NR_CALLS (sizeof(calls) / sizeof(calls[0]))

static bool named(const char *only, const char *name)
{
	size_t len = strlen(name);

	if (!only)
		return true;
	for (const char *p = only; *p;) {
		size_t n = strcspn(p, ",");

		if (n == len && !strncmp(p, name, len))
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

bool old_kernel_known(const char *name)
{
	for (size_t i = 0; i < NR_CALLS; i++) {
		if (!strcmp(calls[i].name, name))
			return true;
	}
	return false;
}

void old_kernel_list(FILE *out)
{
	for (size_t i = 0; i < NR_CALLS; i++)
		fprintf(out, "%-18s Linux %-5s %s\n", calls[i].name, calls[i].since, calls[i].fallback);
}

int old_kernel_refuse(const char *only, int errnum)
{
	/* Per entry at most 5 instructions, plus the head and the tail. */
	struct sock_filter f[NR_CALLS * 5 + 8];
	struct sock_fprog prog;
	size_t n = 0;

	for (const char *p = only; p && *p;) {
		char name[64];
		size_t len = strcspn(p, ",");

		snprintf(name, sizeof(name), "%.*s", (int)len, p);
		if (!old_kernel_known(name)) {
			fprintf(stderr, "old-kernel: '%s' is not in tests/old-kernel/calls.h\n", name);
			return -1;
		}
		p += len + (p[len] == ',');
	}

	/* Another architecture's calls (x32, a 32-bit ABI) go through unfiltered: we never use them. */
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, OLD_KERNEL_ARCH, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	for (size_t i = 0; i < NR_CALLS; i++) {
		const struct old_call *c = &calls[i];
		/* As an old kernel: the entry's own errno, if it has one; as a policy: EPERM for all. */
		uint32_t ret = SECCOMP_RET_ERRNO | (uint32_t)(c->errnum && errnum != EPERM ? c->errnum : errnum);

		if (!named(only, c->name))
			continue;
		f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
		if (c->arg < 0) {
			f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)c->nr, 0, 1);
			f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, ret);
			continue;
		}
		/* The low 32 bits of the argument (little-endian), masked. */
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)c->nr, 0, 4);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						      offsetof(struct seccomp_data, args) + 8 * (unsigned)c->arg);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, c->mask);
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, c->value, 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, ret);
	}
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);

	prog.len = (unsigned short)n;
	prog.filter = f;
	/*
	 * Without no_new_privs the kernel wants CAP_SYS_ADMIN; with it, setuid
	 * programs (su, sudo, au's entrypoint) would run without privileges.
	 */
	if (geteuid() != 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		perror("old-kernel: no_new_privs");
		return -1;
	}
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
		perror("old-kernel: cannot install the seccomp filter");
		return -1;
	}
	return 0;
}
