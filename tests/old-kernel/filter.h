/*
 * filter.h: a seccomp filter that refuses what calls.h lists, as a kernel
 * without it would.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

/*
 * Refuses the calls of calls.h named in only (comma-separated; NULL: all of
 * them) from now on, for this process and everything it runs. errnum is what
 * a refused system call returns: ENOSYS (an old kernel) or EPERM (a seccomp
 * policy that does not know it); with ENOSYS, an entry with an errno of its
 * own (ENOTTY for an ioctl, EINVAL for a flag) gives that instead. As root, the filter is installed without
 * no_new_privs, so that setuid programs still gain their privileges (and
 * keep the filter); otherwise no_new_privs is set first, as the kernel
 * requires. Returns 0, or -1 with a message on stderr.
 */
int old_kernel_refuse(const char *only, int errnum);

/* Prints the list: name, kernel, what does without it. */
void old_kernel_list(FILE *out);

/* True when name is in the list. */
bool old_kernel_known(const char *name);
