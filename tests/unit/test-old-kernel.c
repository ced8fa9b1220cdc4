/*
 * test-old-kernel.c: every newer call that the entrypoint, the ACL walk and
 * the pty relay use has a fallback that works, on a kernel without the call
 * (ENOSYS) and under a seccomp policy that does not know it (EPERM). Each
 * test refuses one call of tests/old-kernel/calls.h in a child, checks that
 * the refusal took, then runs au's code and checks its result as a user
 * would: the mount is there and read-only, the fds are closed, the pty
 * works, the ACL is set.
 */
#include "acl.h"
#include "filter.h"
#include "term.h"
#include "util.h"

#include <acl/libacl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/acl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

/* From old-kernel-entrypoint.c: the entrypoint's own functions. */
void ep_bind_by_fd(int src_fd, int dst_fd, int dst_parent, const char *dst_name, bool read_only);
void ep_close_inherited_fds(void);
int ep_watch_statx(int fd, unsigned int *nlink, unsigned int *mode, bool *has_btime);
void ep_wait_for_proxy(pid_t pid);

/* Runs fn in a child; returns its exit status (128 + N for signal N). */
static int in_child(int (*fn)(const void *), const void *arg)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(60);
		_exit(fn(arg));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The call refused, and the refusal seen: nr with bad arguments now fails with errnum, not EBADF. */
static int refuse(const char *name, long nr, int errnum)
{
	if (old_kernel_refuse(name, errnum) < 0)
		return -1;
	errno = 0;
	if (nr >= 0 && (syscall(nr, -1, NULL, 0, NULL, 0) != -1 || errno != errnum)) {
		fprintf(stderr, "the filter did not take for %s: %s\n", name, strerror(errno));
		return -1;
	}
	return 0;
}

struct refusal {
	const char *name; /* in calls.h; NULL: none refused */
	long nr;
	int errnum;
};

/* Runs fn in a child once for each case; every one must exit 0. */
static void run_cases(const char *what, int (*fn)(const void *), const struct refusal *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int status = in_child(fn, &cases[i]);

		if (status)
			fail_msg("%s with %s refused (%s): status %d", what, cases[i].name ? cases[i].name : "nothing",
				 cases[i].name ? strerror(cases[i].errnum) : "-", status);
	}
}

/* ---- the entrypoint's binds ---- */

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/*
 * A mount namespace of our own with a tmpfs in it, where a bind cannot
 * touch anything else: as root, or as anyone in a user namespace.
 */
static int private_mounts(const char *dir)
{
	if (geteuid() == 0) {
		if (unshare(CLONE_NEWNS) < 0)
			return -1;
	} else {
		char map[64];
		uid_t uid = geteuid();
		gid_t gid = getegid();

		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
			return -1;
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
		if (write_file("/proc/self/uid_map", map) < 0 || write_file("/proc/self/setgroups", "deny") < 0)
			return -1;
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
		if (write_file("/proc/self/gid_map", map) < 0)
			return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	return mount("au-test", dir, "tmpfs", 0, "mode=0755");
}

/*
 * As the entrypoint binds a read-only share: a folder with a file onto an
 * empty folder, by fd. Then, as the agent would find it: the file is there,
 * and the mount is read-only, nosuid and nodev.
 */
static int bind_with(const void *arg)
{
	const struct refusal *r = arg;
	char dir[] = "/tmp/au-test-old-kernel.XXXXXX";
	autofree char *src = NULL, *dst = NULL, *file = NULL, *seen = NULL;
	struct statvfs vfs;
	int src_fd, dst_fd, parent_fd;

	if (!mkdtemp(dir))
		return 10;
	if (private_mounts(dir) < 0) {
		perror("private mounts");
		return 11;
	}
	src = xasprintf("%s/src", dir);
	dst = xasprintf("%s/dst", dir);
	file = xasprintf("%s/file", src);
	seen = xasprintf("%s/file", dst);
	if (mkdir(src, 0755) < 0 || mkdir(dst, 0755) < 0 || write_file(file, "shared\n") < 0)
		return 12;
	src_fd = open(src, O_PATH | O_DIRECTORY | O_CLOEXEC);
	parent_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	dst_fd = openat(parent_fd, "dst", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (src_fd < 0 || parent_fd < 0 || dst_fd < 0)
		return 13;
	if (r->name && refuse(r->name, r->nr, r->errnum) < 0)
		return 14;

	ep_bind_by_fd(src_fd, dst_fd, parent_fd, "dst", true);

	if (access(seen, F_OK) < 0)
		return 20;
	if (statvfs(dst, &vfs) < 0)
		return 21;
	if ((vfs.f_flag & (ST_RDONLY | ST_NOSUID | ST_NODEV)) != (ST_RDONLY | ST_NOSUID | ST_NODEV)) {
		fprintf(stderr, "mount flags %#lx\n", vfs.f_flag);
		return 22;
	}
	if (open(seen, O_WRONLY | O_CLOEXEC) >= 0 || errno != EROFS)
		return 23;
	return 0;
}

static void test_bind_without_the_new_mount_api(void **state)
{
	static const struct refusal cases[] = {
		{ NULL, -1, 0 },                               /* this kernel */
		{ "mount_setattr", SYS_mount_setattr, ENOSYS }, /* Linux 5.2 to 5.11 */
		{ "mount_setattr", SYS_mount_setattr, EPERM },
		{ "move_mount", SYS_move_mount, ENOSYS },
		{ "move_mount", SYS_move_mount, EPERM },
		{ "open_tree", SYS_open_tree, ENOSYS },        /* before Linux 5.2 */
		{ "open_tree", SYS_open_tree, EPERM },
		{ "open_tree,move_mount,mount_setattr", SYS_open_tree, ENOSYS },
	};

	(void)state;
	run_cases("bind", bind_with, cases, ARRAY_SIZE(cases));
}

/* ---- the entrypoint's closing of inherited fds ---- */

static int close_with(const void *arg)
{
	const struct refusal *r = arg;
	static const int fds[] = { 5, 200, 5000 };
	struct rlimit lim = { 8192, 8192 };
	int null = open("/dev/null", O_RDONLY);

	/* As the caller may: more fds than the usual 1024, some far up. */
	setrlimit(RLIMIT_NOFILE, &lim);
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		if (dup2(null, fds[i]) != fds[i])
			return 10;
	}
	if (dup2(null, 3) != 3 || dup2(null, 4) != 4)
		return 11;
	if (r->name && refuse(r->name, r->nr, r->errnum) < 0)
		return 14;

	ep_close_inherited_fds();

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		if (fcntl(fds[i], F_GETFD) != -1 || errno != EBADF)
			return 20 + (int)i;
	}
	/* 0 to 2, the report channel's 3 and the proxy's channel's 4 stay. */
	for (int fd = 0; fd <= 4; fd++) {
		if (fcntl(fd, F_GETFD) < 0)
			return 30 + fd;
	}
	return 0;
}

static void test_close_inherited_fds_without_close_range(void **state)
{
	static const struct refusal cases[] = {
		{ NULL, -1, 0 },
		{ "close_range", SYS_close_range, ENOSYS }, /* before Linux 5.9 */
		{ "close_range", SYS_close_range, EPERM },
	};

	(void)state;
	run_cases("close", close_with, cases, ARRAY_SIZE(cases));
}

/* ---- the relay's pty ---- */

/* A terminal on fd 0 (a pty of the test's own), as the human's, then au's pty_open(). */
static int pty_with(const void *arg)
{
	const struct refusal *r = arg;
	struct pty_session s;
	char name[64];
	const char *slave_name;
	int human_master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	int human_slave;

	if (human_master < 0 || grantpt(human_master) < 0 || unlockpt(human_master) < 0 ||
	    ptsname_r(human_master, name, sizeof(name)))
		return 10;
	human_slave = open(name, O_RDWR | O_NOCTTY);
	if (human_slave < 0 || dup2(human_slave, 0) != 0)
		return 11;
	if (r->name) {
		if (old_kernel_refuse(r->name, r->errnum) < 0)
			return 14;
		if (ioctl(human_master, TIOCGPTPEER, O_RDWR) != -1 || errno != (r->errnum == EPERM ? EPERM : ENOTTY))
			return 15;
	}

	if (pty_open(&s) < 0)
		return 20;
	/* The slave au opened is its master's own. */
	if (ptsname_r(s.master_fd, name, sizeof(name)) || !(slave_name = ttyname(s.slave_fd)) ||
	    strcmp(name, slave_name))
		return 21;
	pty_release(&s);
	return 0;
}

static void test_pty_without_tiocgptpeer(void **state)
{
	static const struct refusal cases[] = {
		{ NULL, -1, 0 },
		{ "TIOCGPTPEER", -1, ENOSYS }, /* before Linux 4.13: ENOTTY */
		{ "TIOCGPTPEER", -1, EPERM },
	};

	(void)state;
	run_cases("pty", pty_with, cases, ARRAY_SIZE(cases));
}

/* ---- threads (the ACL walk's worker, the report reader) ---- */

static void *answer(void *arg)
{
	(void)arg;
	return (void *)42;
}

static int thread_with(const void *arg)
{
	const struct refusal *r = arg;
	pthread_t t;
	void *result = NULL;

	if (r->name && refuse(r->name, r->nr, r->errnum) < 0)
		return 14;
	if (pthread_create(&t, NULL, answer, NULL) || pthread_join(t, &result) || result != (void *)42)
		return 20;
	return 0;
}

/*
 * Before Linux 5.3: glibc falls back to clone. (Under EPERM it does not: a
 * seccomp policy must answer ENOSYS for clone3, as Docker's does since
 * 20.10; every threaded program depends on that, not au alone.)
 */
static void test_threads_without_clone3(void **state)
{
	static const struct refusal cases[] = {
		{ NULL, -1, 0 },
		{ "clone3", SYS_clone3, ENOSYS },
	};

	(void)state;
	run_cases("threads", thread_with, cases, ARRAY_SIZE(cases));
}

/* ---- the ACL walk ---- */

#define TEST_GID 4242

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A grant and a revoke of 1,500 files (two threads) by fd only: the walk's EPERM route. */
static int walk_with(const void *arg)
{
	const struct refusal *r = arg;
	char dir[] = "/tmp/au-test-old-kernel.XXXXXX";
	struct acl_walk_stats stats;
	autofree char *probe = NULL;
	int fd, status = 0;
	acl_t acl;

	if (!mkdtemp(dir))
		return 10;
	for (int d = 0; d < 15; d++) {
		autofree char *sub = xasprintf("%s/d%d", dir, d);

		if (mkdir(sub, 0755) < 0)
			return 11;
		for (int f = 0; f < 100; f++) {
			autofree char *file = xasprintf("%s/f%d", sub, f);

			if (write_file(file, "x\n") < 0)
				return 12;
		}
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 13;
	if (r->name && refuse(r->name, r->nr, r->errnum) < 0)
		status = 14;
	else if (acl_walk(fd, dir, TEST_GID, geteuid(), ACL_WALK_GRANT, false, &stats) < 0 ||
		 stats.changed != 1 + 15 + 1500)
		status = 20;
	probe = xasprintf("%s/d7/f42", dir);
	if (!status) {
		acl = acl_get_file(probe, ACL_TYPE_ACCESS);
		if (!acl || acl_entries(acl) != 5) /* user::, group::, group:4242:, mask::, other:: */
			status = 21;
		if (acl)
			acl_free(acl);
	}
	if (!status && (acl_walk(fd, dir, TEST_GID, geteuid(), ACL_WALK_REVOKE, false, &stats) < 0 ||
			stats.changed != 1 + 15 + 1500 || getxattr(probe, "system.posix_acl_access", NULL, 0) >= 0))
		status = 22;
	close(fd);
	nftw(dir, remove_entry, 64, FTW_DEPTH | FTW_PHYS);
	return status;
}

static void test_acl_walk_without_xattrat(void **state)
{
	static const struct refusal cases[] = {
		{ NULL, -1, 0 },
		{ "getxattrat,setxattrat", 464, ENOSYS }, /* before Linux 6.13 */
		{ "getxattrat,setxattrat", 464, EPERM },
		{ "getxattrat,setxattrat,clone3", 464, ENOSYS },
	};

	(void)state;
	run_cases("walk", walk_with, cases, ARRAY_SIZE(cases));
}

/* ---- the watch's link check ---- */

/*
 * A file with two names, as the watch's link check meets it: its link count
 * and mode either way; without statx no birth time, which makes au check the
 * whole share (the file counts as one from before the run).
 */
static int statx_with(const void *arg)
{
	const struct refusal *r = arg;
	char dir[] = "/tmp/au-test-old-kernel.XXXXXX";
	autofree char *file = NULL, *other = NULL;
	unsigned int nlink = 0, mode = 0;
	bool has_btime = true;
	int fd, status = 0;

	if (!mkdtemp(dir))
		return 10;
	file = xasprintf("%s/config", dir);
	other = xasprintf("%s/x", dir);
	if (write_file(file, "[core]\n") < 0 || link(file, other) < 0)
		return 11;
	fd = open(file, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return 12;
	if (r->name && refuse(r->name, r->nr, r->errnum) < 0)
		status = 14;
	else if (ep_watch_statx(fd, &nlink, &mode, &has_btime) < 0)
		status = 20;
	else if (nlink != 2 || !S_ISREG(mode))
		status = 21;
	else if (r->name && has_btime)
		status = 22;
	close(fd);
	unlink(other);
	unlink(file);
	rmdir(dir);
	return status;
}

static void test_watch_link_check_without_statx(void **state)
{
	static const struct refusal cases[] = {
		{ NULL, -1, 0 },
		{ "statx", SYS_statx, ENOSYS }, /* before Linux 4.11 */
		{ "statx", SYS_statx, EPERM },
	};

	(void)state;
	run_cases("statx", statx_with, cases, ARRAY_SIZE(cases));
}

/* ---- the wait for the proxy's end ---- */

static int64_t elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* A child that leaves after 50 ms is waited for, reaped, and not for the whole 3 s. */
static int proxy_wait_with(const void *arg)
{
	const struct refusal *r = arg;
	struct timespec start;
	int64_t took;
	pid_t pid;

	if (r->name && refuse(r->name, r->nr, r->errnum) < 0)
		return 14;
	clock_gettime(CLOCK_MONOTONIC, &start);
	pid = fork();
	if (pid < 0)
		return 10;
	if (pid == 0) {
		poll(NULL, 0, 50);
		_exit(0);
	}
	ep_wait_for_proxy(pid);
	took = elapsed_ms(&start);
	if (waitpid(pid, NULL, WNOHANG) != -1 || errno != ECHILD)
		return 20;
	if (took < 50 || took > 1500) {
		fprintf(stderr, "waited %lld ms\n", (long long)took);
		return 21;
	}
	return 0;
}

static void test_proxy_wait_without_pidfd_open(void **state)
{
	static const struct refusal cases[] = {
		{ NULL, -1, 0 },
		{ "pidfd_open", 434, ENOSYS }, /* before Linux 5.3 */
		{ "pidfd_open", 434, EPERM },
	};

	(void)state;
	run_cases("proxy wait", proxy_wait_with, cases, ARRAY_SIZE(cases));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bind_without_the_new_mount_api),
		cmocka_unit_test(test_close_inherited_fds_without_close_range),
		cmocka_unit_test(test_pty_without_tiocgptpeer),
		cmocka_unit_test(test_threads_without_clone3),
		cmocka_unit_test(test_acl_walk_without_xattrat),
		cmocka_unit_test(test_watch_link_check_without_statx),
		cmocka_unit_test(test_proxy_wait_without_pidfd_open),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
