/*
 * test-netproxy-sandbox.c: what au-netproxy checks about itself and the
 * seccomp filter it installs (netproxy/sandbox.c). Each forbidden call is
 * made in a child under the filter, which must die of SIGSYS; what the
 * proxy needs (threads, sockets, the resolver) must still work there.
 */
#include "sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util.h"

/* Runs fn in a child under the filter; returns its exit code, or 128 + the signal that killed it. */
static int under_filter(void (*fn)(void))
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || sandbox_install_seccomp() < 0)
			_exit(99);
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void do_execve(void)
{
	char *argv[] = { (char *)"true", NULL };
	char *envp[] = { NULL };

	execve("/bin/true", argv, envp);
	_exit(1);
}

static void do_execveat(void)
{
	char *argv[] = { (char *)"true", NULL };
	char *envp[] = { NULL };

	syscall(SYS_execveat, AT_FDCWD, "/bin/true", argv, envp, 0);
	_exit(1);
}

static void do_fork(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	_exit(1);
}

static void do_ptrace(void)
{
	ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	_exit(1);
}

static void do_process_vm_readv(void)
{
	char a[4], b[4];
	struct iovec local = { a, 4 }, remote = { b, 4 };

	process_vm_readv(getppid(), &local, 1, &remote, 1, 0);
	_exit(1);
}

static void do_process_vm_writev(void)
{
	char a[4] = "x", b[4];
	struct iovec local = { a, 4 }, remote = { b, 4 };

	process_vm_writev(getppid(), &local, 1, &remote, 1, 0);
	_exit(1);
}

static void do_unshare(void)
{
	unshare(CLONE_NEWUSER);
	_exit(1);
}

static void do_setns(void)
{
	setns(0, CLONE_NEWNET);
	_exit(1);
}

static void *thread_fn(void *arg)
{
	return arg;
}

/* What the proxy does all day: threads, sockets, the resolver. Exits 0 if all worked. */
static void do_proxy_work(void)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;
	pthread_t t;
	void *ret = NULL;
	int fd, sv[2];

	if (pthread_create(&t, NULL, thread_fn, (void *)1) != 0 || pthread_join(t, &ret) != 0 || ret != (void *)1)
		_exit(2);
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		_exit(3);
	if (getaddrinfo("localhost", "80", &hints, &res) != 0)
		_exit(4);
	freeaddrinfo(res);
	_exit(0);
}

static void test_forbidden_calls_kill(void **state)
{
	static const struct {
		const char *what;
		void (*fn)(void);
	} calls[] = {
		{ "execve", do_execve },
		{ "execveat", do_execveat },
		{ "fork", do_fork },
		{ "ptrace", do_ptrace },
		{ "process_vm_readv", do_process_vm_readv },
		{ "process_vm_writev", do_process_vm_writev },
		{ "unshare", do_unshare },
		{ "setns", do_setns },
	};

	for (size_t i = 0; i < ARRAY_SIZE(calls); i++) {
		int code = under_filter(calls[i].fn);

		if (code != 128 + SIGSYS)
			fail_msg("%s under the filter: %s %d, not SIGSYS", calls[i].what,
				 code > 128 ? "signal" : "exit", code > 128 ? code - 128 : code);
	}
}

static void test_the_proxys_own_work_still_runs(void **state)
{
	assert_int_equal(under_filter(do_proxy_work), 0);
}

static void test_without_the_filter_the_calls_work(void **state)
{
	/* The control: the same fork and execve succeed in a child without the filter. */
	int status;
	pid_t pid = fork();

	if (pid == 0)
		do_execve();
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_identity_checks(void **state)
{
	int status;
	pid_t pid;

	if (geteuid() != 0) {
		/* As an ordinary user, only no_new_privs is missing, until it is set. */
		pid = fork();
		if (pid == 0) {
			const char *why = sandbox_check_identity();

			if (!why || !strstr(why, "no_new_privs"))
				_exit(1);
			prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
			_exit(sandbox_check_identity() == NULL ? 0 : 2);
		}
		waitpid(pid, &status, 0);
		assert_int_equal(WEXITSTATUS(status), 0);
		return;
	}
	assert_non_null(strstr(sandbox_check_identity(), "refusing to run as root"));
	pid = fork();
	if (pid == 0) {
		const char *why;

		/* Group 0 is refused too, then capabilities, then a missing no_new_privs. */
		if (setresuid(65534, 65534, 0) < 0)
			_exit(10);
		why = sandbox_check_identity();
		if (!why || !strstr(why, "root"))
			_exit(11);
		if (setresuid(65534, 65534, 65534) < 0)
			_exit(12);
		why = sandbox_check_identity();
		if (!why || !strstr(why, "group id 0"))
			_exit(13);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	assert_int_equal(WEXITSTATUS(status), 0);
	pid = fork();
	if (pid == 0) {
		const char *why;

		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
			_exit(20);
		why = sandbox_check_identity();
		if (!why || !strstr(why, "no_new_privs"))
			_exit(21);
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		_exit(sandbox_check_identity() == NULL ? 0 : 22);
	}
	waitpid(pid, &status, 0);
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forbidden_calls_kill),
		cmocka_unit_test(test_the_proxys_own_work_still_runs),
		cmocka_unit_test(test_without_the_filter_the_calls_work),
		cmocka_unit_test(test_identity_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
