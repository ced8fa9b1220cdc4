/*
 * old-kernel: runs a command as if on an old kernel (Linux 4.4), refusing
 * what tests/old-kernel/calls.h lists, for it and everything it runs. Run as
 * root, setuid programs keep their privileges under it (au's entrypoint, su,
 * sudo), so a whole test world can run on the "old kernel":
 *
 *	old-kernel [--errno ENOSYS|EPERM] [--only NAME[,NAME]...] [--] COMMAND [ARG]...
 *	old-kernel --list
 */
#include "filter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fputs("Usage: old-kernel [--errno ENOSYS|EPERM] [--only NAME[,NAME]...] [--] COMMAND [ARG]...\n"
	      "       old-kernel --list\n"
	      "Runs COMMAND with the system calls of tests/old-kernel/calls.h refused (all of\n"
	      "them, or those named), as a kernel without them would.\n", out);
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	int errnum = ENOSYS;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (!strcmp(argv[i], "--list")) {
			old_kernel_list(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--errno") && i + 1 < argc) {
			if (!strcmp(argv[++i], "ENOSYS")) {
				errnum = ENOSYS;
			} else if (!strcmp(argv[i], "EPERM")) {
				errnum = EPERM;
			} else {
				usage(stderr);
				return 2;
			}
		} else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
			only = argv[++i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (old_kernel_refuse(only, errnum) < 0)
		return 125;
	execvp(argv[i], argv + i);
	fprintf(stderr, "old-kernel: cannot run '%s': %s\n", argv[i], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
