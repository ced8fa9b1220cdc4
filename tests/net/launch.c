/*
 * launch.c: starts au-netproxy the way the setuid entrypoint will, for the
 * end-to-end tests and the benchmark (built, never installed).
 *
 * As root: creates the listeners inside the agent's network namespace
 * (--netns), lays out fds 3 (channel), 4 (lifetime pipe) and 5.. (listeners)
 * exactly as netproxy/main.c specifies, switches to --uid/--gid with
 * no_new_privs, and executes the proxy with an empty environment in the
 * launcher's own network namespace. Then it plays unprivileged au: sends the
 * policy, and appends each log record as one line to DIR/log.
 *
 *	launch --netns /run/netns/agent --uid 64123 --gid 64123 --dir DIR
 *	       --policy FILE --listen tcp:[::]:443 --listen udp:127.0.0.1:53 ... PROXY
 *
 * DIR receives: pid (the proxy's), ready (once the proxy logged "started"),
 * channel-closed (after SIGUSR1), exit (the proxy's exit status, at the end).
 * Signals: SIGUSR1 closes the channel (au going away); SIGTERM closes the
 * lifetime pipe (the agent going away) and waits for the proxy.
 * Options that break the layout on purpose, to see the proxy refuse:
 * --no-nnp, --keep-root, --listen-here (listeners in the proxy's own
 * namespace), --no-lifetime (fd 4 is not a pipe), --policy-text TEXT.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "netproto.h"

#define MAX_LISTEN NETPROTO_MAX_LISTENERS

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	fputs("launch: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	exit(2);
}

static const char *status_dir;

static void write_status(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void write_status(const char *name, const char *fmt, ...)
{
	char path[4096], tmp[4200];
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", status_dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		die("cannot write %s", tmp);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
	/* Renamed into place: a test that sees the file sees all of it. */
	rename(tmp, path);
}

/* "tcp:[::]:443", "udp:127.0.0.1:53": a socket bound (and listening, for TCP). */
static int make_listener(const char *spec)
{
	char host[128];
	const char *rest, *colon;
	bool tcp = !strncmp(spec, "tcp:", 4), udp = !strncmp(spec, "udp:", 4);
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd, one = 1, zero = 0, port;

	if (!tcp && !udp)
		die("bad --listen '%s'", spec);
	rest = spec + 4;
	colon = strrchr(rest, ':');
	if (!colon || (size_t)(colon - rest) >= sizeof(host))
		die("bad --listen '%s'", spec);
	memcpy(host, rest, (size_t)(colon - rest));
	host[colon - rest] = '\0';
	port = atoi(colon + 1);
	if (host[0] == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		host[strlen(host) - 1] = '\0';
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) != 1)
			die("bad address in '%s'", spec);
		len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			die("bad address in '%s'", spec);
		len = sizeof(*sin);
	}
	fd = socket(ss.ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Dual-stack [::]: IPv4 connections arrive with ::ffff:a.b.c.d local addresses. */
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		die("cannot bind '%s'", spec);
	if (tcp && listen(fd, 128) < 0)
		die("cannot listen on '%s'", spec);
	return fd;
}

static char *read_file(const char *path, size_t *len)
{
	static char buf[NETPROTO_POLICY_MAX * 2];
	FILE *f = fopen(path, "r");

	if (!f)
		die("cannot open %s", path);
	*len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	enum { OPT_NETNS = 256, OPT_UID, OPT_GID, OPT_DIR, OPT_POLICY, OPT_POLICY_TEXT, OPT_LISTEN,
	       OPT_NO_NNP, OPT_KEEP_ROOT, OPT_LISTEN_HERE, OPT_NO_LIFETIME };
	static const struct option options[] = {
		{ "netns", required_argument, NULL, OPT_NETNS },
		{ "uid", required_argument, NULL, OPT_UID },
		{ "gid", required_argument, NULL, OPT_GID },
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "policy-text", required_argument, NULL, OPT_POLICY_TEXT },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "no-nnp", no_argument, NULL, OPT_NO_NNP },
		{ "keep-root", no_argument, NULL, OPT_KEEP_ROOT },
		{ "listen-here", no_argument, NULL, OPT_LISTEN_HERE },
		{ "no-lifetime", no_argument, NULL, OPT_NO_LIFETIME },
		{ NULL, 0, NULL, 0 },
	};
	const char *netns = NULL, *listen_specs[MAX_LISTEN], *policy = NULL;
	size_t policy_len = 0;
	int nr_listen = 0, listeners[MAX_LISTEN], channel[2], lifetime[2], sfd;
	uid_t uid = 0;
	gid_t gid = 0;
	bool have_uid = false, no_nnp = false, keep_root = false, listen_here = false, no_lifetime = false;
	sigset_t mask;
	pid_t pid;
	int c, status, log_fd;
	char path[4096];

	while ((c = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		switch (c) {
		case OPT_NETNS:
			netns = optarg;
			break;
		case OPT_UID:
			uid = (uid_t)strtoul(optarg, NULL, 10);
			have_uid = true;
			break;
		case OPT_GID:
			gid = (gid_t)strtoul(optarg, NULL, 10);
			break;
		case OPT_DIR:
			status_dir = optarg;
			break;
		case OPT_POLICY:
			policy = read_file(optarg, &policy_len);
			break;
		case OPT_POLICY_TEXT:
			policy = optarg;
			policy_len = strlen(optarg);
			break;
		case OPT_LISTEN:
			if (nr_listen == MAX_LISTEN)
				die("too many --listen");
			listen_specs[nr_listen++] = optarg;
			break;
		case OPT_NO_NNP:
			no_nnp = true;
			break;
		case OPT_KEEP_ROOT:
			keep_root = true;
			break;
		case OPT_LISTEN_HERE:
			listen_here = true;
			break;
		case OPT_NO_LIFETIME:
			no_lifetime = true;
			break;
		default:
			exit(2);
		}
	}
	errno = 0;
	if (optind + 1 != argc || !status_dir || !nr_listen || (!have_uid && !keep_root) ||
	    (!netns && !listen_here))
		die("usage: launch --dir DIR --uid N --gid N --netns PATH --listen SPEC... [--policy FILE] PROXY");

	/* The listeners, made inside the agent's namespace; then back home. */
	{
		int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), agent = -1;

		if (home < 0)
			die("cannot open /proc/self/ns/net");
		if (!listen_here) {
			agent = open(netns, O_RDONLY | O_CLOEXEC);
			if (agent < 0 || setns(agent, CLONE_NEWNET) < 0)
				die("cannot enter %s", netns);
		}
		for (int i = 0; i < nr_listen; i++)
			listeners[i] = make_listener(listen_specs[i]);
		if (setns(home, CLONE_NEWNET) < 0)
			die("cannot return to the launcher's network namespace");
		close(home);
		if (agent >= 0)
			close(agent);
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) < 0 || pipe2(lifetime, O_CLOEXEC) < 0)
		die("cannot make the channel and the pipe");

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		int src[3 + MAX_LISTEN], n = 0;
		char count[16];
		char *child_argv[] = { argv[optind], count, NULL };
		char *child_envp[] = { NULL };

		sigprocmask(SIG_UNBLOCK, &mask, NULL);
		/* Everything out of the way first (above any target), then into place. */
		src[n++] = channel[1];
		src[n++] = no_lifetime ? null : lifetime[0];
		for (int i = 0; i < nr_listen; i++)
			src[n++] = listeners[i];
		for (int i = 0; i < n; i++)
			src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 200);
		for (int fd = 0; fd <= 2; fd++)
			dup2(null, fd);
		for (int i = 0; i < n; i++)
			if (dup2(src[i], NETPROTO_FD_CHANNEL + i) < 0)
				_exit(126);
		close_range((unsigned)(NETPROTO_FD_CHANNEL + n), ~0U, 0);
		snprintf(count, sizeof(count), "%d", nr_listen);
		if (!keep_root) {
			if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
				_exit(126);
		}
		if (!no_nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(126);
		execve(argv[optind], child_argv, child_envp);
		_exit(127);
	}
	close(channel[1]);
	close(lifetime[0]);
	for (int i = 0; i < nr_listen; i++)
		close(listeners[i]);
	write_status("pid", "%d\n", pid);
	if (policy && send(channel[0], policy, policy_len, MSG_NOSIGNAL) < 0)
		fprintf(stderr, "launch: cannot send the policy: %s\n", strerror(errno));

	snprintf(path, sizeof(path), "%s/log", status_dir);
	log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (log_fd < 0 || sfd < 0)
		die("cannot open %s or a signalfd", path);

	for (;;) {
		struct pollfd pfd[2] = { { .fd = channel[0], .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
		struct signalfd_siginfo si;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			die("poll");
		if (pfd[0].revents) {
			char record[NETPROTO_RECORD_MAX + 2];
			ssize_t n = recv(channel[0], record, NETPROTO_RECORD_MAX + 1, MSG_DONTWAIT);

			if (n > 0) {
				/* One record per line; a record longer than the limit shows as such. */
				if (n > NETPROTO_RECORD_MAX)
					n = snprintf(record, sizeof(record), "RECORD TOO LONG");
				record[n++] = '\n';
				if (write(log_fd, record, (size_t)n) < 0)
					die("cannot write the log");
				if (memmem(record, (size_t)n, "\"reason\":\"started:", 18))
					write_status("ready", "1\n");
			} else if (n == 0) {
				close(channel[0]);
				channel[0] = -1;
			}
		}
		if (!pfd[1].revents || read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGUSR1 && channel[0] >= 0) {
			close(channel[0]);
			channel[0] = -1;
			write_status("channel-closed", "1\n");
		} else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			close(lifetime[1]);
			lifetime[1] = -1;
		} else if (si.ssi_signo == SIGCHLD) {
			if (waitpid(pid, &status, WNOHANG) != pid)
				continue;
			/* Whatever the proxy sent before it died is still in the socket. */
			while (channel[0] >= 0) {
				char record[NETPROTO_RECORD_MAX + 2];
				ssize_t n = recv(channel[0], record, NETPROTO_RECORD_MAX, MSG_DONTWAIT);

				if (n <= 0)
					break;
				record[n++] = '\n';
				if (write(log_fd, record, (size_t)n) < 0)
					break;
			}
			status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			write_status("exit", "%d\n", status);
			return status;
		}
	}
}
