/*
 * calls.h: what an old kernel lacks, in ONE list. Every system call (or
 * ioctl, or flag of a call) that au, the libraries it uses or the system tools
 * it runs could meet and that Linux 4.4 does not have, with the kernel that
 * brought it and what does without it. tests/old-kernel/old-kernel refuses
 * them all, as an old kernel would, for the CI job that runs the integration
 * suite again (.ci/run, make check-old-kernel); the unit tests refuse single
 * ones by name to prove each fallback (tests/unit/test-old-kernel.c).
 *
 * To add one: a line here, nothing else.
 *   OLD_KERNEL_SYSCALL(name, number, "kernel", "what does without it")
 *	the call fails (ENOSYS, as on a kernel without it; old-kernel --errno
 *	EPERM answers as a seccomp policy that does not know it would)
 *   OLD_KERNEL_ARG(name, number, arg, mask, value, errno, "kernel", "...")
 *	the call fails with errno when (argument arg & mask) == value: an ioctl
 *	(arg 1 is its request) or a flag the kernel did not know yet (EINVAL)
 * Numbers: from the C library's headers where they have them; calls from
 * Linux 5.1 on have the same number on every architecture, given here for
 * headers older than the call.
 */

/* au's own: the entrypoint, the ACL walk, the pty relay */
OLD_KERNEL_SYSCALL(open_tree, 428, "5.2", "entrypoint: binds through /proc/self/fd with mount(2), then remounts")
OLD_KERNEL_SYSCALL(move_mount, 429, "5.2", "entrypoint: the same legacy bind")
OLD_KERNEL_SYSCALL(mount_setattr, 442, "5.12", "entrypoint: the same legacy bind, flags by a remount")
OLD_KERNEL_SYSCALL(close_range, 436, "5.9", "entrypoint: closes inherited fds one by one")
OLD_KERNEL_SYSCALL(setxattrat, 463, "6.13", "ACL walk: every file by fd (open, fsetxattr)")
OLD_KERNEL_SYSCALL(getxattrat, 464, "6.13", "ACL walk: every file by fd (open, fgetxattr)")
OLD_KERNEL_ARG(TIOCGPTPEER, __NR_ioctl, 1, 0xffffffff, 0x5441, ENOTTY, "4.13",
	       "pty relay: opens the slave by its name (ptsname)")
/* glibc's own, on au's behalf */
OLD_KERNEL_SYSCALL(clone3, 435, "5.3", "glibc: pthread_create (ACL walk, report reader) and posix_spawn use clone")
OLD_KERNEL_SYSCALL(rseq, __NR_rseq, "4.18", "glibc: threads run without restartable sequences")
OLD_KERNEL_SYSCALL(faccessat2, 439, "5.8", "glibc: faccessat with flags emulated")
OLD_KERNEL_SYSCALL(statx, __NR_statx, "4.11", "au: no watch, a scan before the run (entrypoint: the link check by fstat); glibc, coreutils: fstatat")
OLD_KERNEL_SYSCALL(openat2, 437, "5.6", "-: unused; a newer libc or tool falls back to openat")
/* what the system tools au runs (install, useradd, sudo, setfacl, cc) may try first */
OLD_KERNEL_SYSCALL(copy_file_range, __NR_copy_file_range, "4.5", "coreutils install: read and write")
OLD_KERNEL_SYSCALL(preadv2, __NR_preadv2, "4.6", "-: preadv")
OLD_KERNEL_SYSCALL(pwritev2, __NR_pwritev2, "4.6", "-: pwritev")
OLD_KERNEL_SYSCALL(pidfd_send_signal, 424, "5.1", "-: kill")
OLD_KERNEL_SYSCALL(pidfd_open, 434, "5.3", "entrypoint: waits for the proxy with waitpid and a short tick")
OLD_KERNEL_SYSCALL(pidfd_getfd, 438, "5.6", "-")
OLD_KERNEL_SYSCALL(io_uring_setup, 425, "5.1", "-: plain read and write")
OLD_KERNEL_SYSCALL(fsopen, 430, "5.2", "-: mount(2)")
OLD_KERNEL_SYSCALL(fspick, 433, "5.2", "-: mount(2)")
OLD_KERNEL_SYSCALL(epoll_pwait2, 441, "5.11", "-: epoll_pwait")
OLD_KERNEL_SYSCALL(fchmodat2, 452, "6.6", "-: fchmodat")
OLD_KERNEL_SYSCALL(statmount, 457, "6.8", "-: /proc/self/mountinfo")
OLD_KERNEL_SYSCALL(listmount, 458, "6.8", "-: /proc/self/mountinfo")
