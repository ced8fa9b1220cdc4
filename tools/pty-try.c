/*
 * pty-try: a manual test driver for the pty relay (src/term.c). It does
 * what au run and the entrypoint do around it, without the agent user:
 *
 *	pty-try [-u UID [-p PUID]] COMMAND [ARG...]
 *
 * With a terminal on fd 0, 1 or 2 the child gets a new pty (setsid() and
 * TIOCSCTTY as the entrypoint does, then setresuid(UID) with -u) and this
 * process relays; without one it just runs the command. Run as root with
 * -u and -p, the relay itself runs as PUID and may not signal the child,
 * as au may not signal the agent. Exits with the command's status, or 128+N for signal N.
 * Not built by meson:
 *	cc -I. -Isrc -Ibuild tools/pty-try.c build/libau.a -lacl -lnettle -o build/pty-try
 */
#include "term.h"
#include "util.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

static void become_session(const struct pty_session *s, long uid)
{
	int fd;

	if (setsid() < 0)
		die_errno("setsid");
	for (fd = 0; fd <= 2 && !s->tty_fds[fd]; fd++)
		;
	if (ioctl(fd, TIOCSCTTY, 0) < 0)
		die_errno("TIOCSCTTY");
	if (uid >= 0 && (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
			 setresuid(uid, uid, uid) < 0))
		die_errno("cannot become uid %ld", uid);
}

static int exit_code(int status)
{
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
	struct pty_session s;
	long uid = -1, parent_uid = -1;
	int status;
	pid_t pid;

	if (argc > 2 && !strcmp(argv[1], "-u")) {
		uid = strtol(argv[2], NULL, 10);
		argv += 2;
		argc -= 2;
	}
	if (argc > 2 && !strcmp(argv[1], "-p")) {
		parent_uid = strtol(argv[2], NULL, 10);
		argv += 2;
		argc -= 2;
	}
	if (argc < 2)
		die_usage("usage: pty-try [-u UID [-p PUID]] COMMAND [ARG...]");

	if (!term_needs_pty()) {
		pid = fork();
		if (pid < 0)
			die_errno("fork");
		if (pid == 0) {
			execvp(argv[1], argv + 1);
			warn_errno("cannot run '%s'", argv[1]);
			_exit(127);
		}
		while (waitpid(pid, &status, 0) < 0)
			if (errno != EINTR)
				die_errno("waitpid");
		return exit_code(status);
	}

	if (pty_open(&s) < 0)
		return EXIT_FAIL;
	pid = fork();
	if (pid < 0) {
		pty_release(&s);
		die_errno("fork");
	}
	if (pid == 0) {
		pty_child_setup(&s);
		become_session(&s, uid);
		execvp(argv[1], argv + 1);
		warn_errno("cannot run '%s'", argv[1]);
		_exit(127);
	}
	close(s.slave_fd);
	s.slave_fd = -1;
	if (parent_uid >= 0 && (setgroups(0, NULL) < 0 || setresgid(parent_uid, parent_uid, parent_uid) < 0 ||
				setresuid(parent_uid, parent_uid, parent_uid) < 0))
		die_errno("cannot become uid %ld", parent_uid);
	return exit_code(pty_relay(&s, pid));
}
