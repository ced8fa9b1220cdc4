/*
 * su_as_agent.c: the setuid-root entrypoint of one agent.
 *
 * "au new" compiles this file with the agent's ids baked in and installs it
 * as root:su-as-NAME, mode 4750, in a root-owned folder. "au run" verifies
 * the installed file by hash and executes that very file. Then, as root, this
 * program puts the agent in private mount, PID and network namespaces,
 * bind-mounts the human's shared folders by file descriptor, starts the
 * agent's network proxy outside its network namespace, drops every privilege
 * for good, and runs the command as the agent under a minimal init.
 *
 * Everything else lives in unprivileged au. This file uses libc only and no
 * heap. Read it as the agent would: every line runs as root.
 *
 * Protocol (argv, built by au run; parsed by su_parse_args, which a fuzzer
 * calls without root):
 *   su_as_agent au2 [-e NAME]... [-r|-w SOURCE TARGET]... [-p|-g PATH]...
 *               [-d DIR] [-k] [-c] [-n host|none|proxy] [-l PORT]...
 *               -- COMMAND [ARG]...
 *   -e NAME   pass the variable NAME from our environment to the agent
 *   -r / -w   bind SOURCE (under the human's home) read-only / read-write on
 *             TARGET (under the agent's home), in the order given
 *   -p PATH   make PATH (under the agent's home, usually inside a read-write
 *             mount) read-only over itself, when it exists
 *   -g PATH   bind PATH over itself, read-write, when it exists: a mount
 *             point cannot be renamed or replaced (a git directory)
 *   -d DIR    working directory of the command (the agent's home otherwise)
 *   -k        keep the agent's other processes when the command exits
 *   -c        report on fd 3, the report channel (see SU_REPORT_FD)
 *   -n MODE   the agent's network: "host", the host's network namespace as
 *             it is; "none", a network namespace of its own with loopback
 *             only (the default); "proxy", that and listeners inside it,
 *             served by au-netproxy outside it, whose channel to au is fd 4
 *             (see SU_NET_FD)
 *   -l PORT   with -n proxy: one more capture listener, besides
 *             SU_NET_CAPTURE_PORTS
 *
 * Exit status: the command's (128+N for signal N), 125 for a failure of this
 * program, 126 when the command cannot run, 127 when it is not found.
 */
/*
 * The protocol. This part is all that au sees of this file: src/entrypoint.h
 * includes it with SU_AS_AGENT_PROTOCOL_ONLY defined, and builds requests
 * with these very words, limits and codes. A change here changes both sides.
 */
#ifndef SU_AS_AGENT_PROTOCOL_H
#define SU_AS_AGENT_PROTOCOL_H

/* argv[1]: the protocol's version. A new option or meaning is a new version. */
#define SU_PROTOCOL "au2"

#define SU_OPT_ENV "-e"          /* NAME */
#define SU_OPT_MOUNT_RO "-r"     /* SOURCE TARGET */
#define SU_OPT_MOUNT_RW "-w"     /* SOURCE TARGET */
#define SU_OPT_PROTECT "-p"      /* PATH: read-only over itself */
#define SU_OPT_PIN "-g"          /* PATH: read-write over itself */
#define SU_OPT_DIRECTORY "-d"    /* DIR */
#define SU_OPT_KEEP_RUNNING "-k"
#define SU_OPT_REPORT "-c"       /* fd SU_REPORT_FD is the report channel */
#define SU_OPT_NET "-n"          /* SU_NET_HOST, SU_NET_NONE or SU_NET_PROXY */
#define SU_OPT_CAPTURE "-l"      /* PORT: a capture listener (with -n proxy) */
#define SU_OPT_END "--"          /* COMMAND [ARG]... follow */

#define SU_MAX_MOUNTS 64
#define SU_MAX_PROTECTED 1024
#define SU_MAX_ENV 128

/* Exit statuses of the entrypoint itself; anything else is the command's. */
#define SU_EXIT_SELF 125
#define SU_EXIT_CANNOT_RUN 126
#define SU_EXIT_NOT_FOUND 127

/* Set from the agent's own account: never passed in, never set with -e. */
#define SU_AGENT_VARS { "HOME", "USER", "LOGNAME", "SHELL" }
/* Passed from the caller's environment without -e. */
#define SU_CALLER_VARS { "LANG", "TERM" }

/*
 * The report channel, with -c: fd SU_REPORT_FD is one end of a unix
 * SOCK_SEQPACKET socket pair whose other end au holds. The outer side reports
 * the end of the run on it: one message per report, a struct
 * su_report_header and then its payload, at most SU_REPORT_MAX bytes in
 * all, and SU_REPORT_DONE last. Neither the agent nor anything it runs ever
 * holds this fd.
 */
#define SU_REPORT_FD 3
#define SU_REPORT_MAX 65536

struct su_report_header {
	unsigned int type; /* enum su_report_type */
	unsigned int size; /* of the payload that follows */
};

enum su_report_type {
	SU_REPORT_DONE = 1, /* no payload: the outer side has nothing more to say */
};

/*
 * The network (-n). In a namespace of its own the agent has loopback and
 * nothing else; with SU_NET_PROXY its only ways out are the listeners made
 * inside that namespace (below), whose connections au-netproxy serves from
 * outside it.
 */
#define SU_NET_HOST "host"
#define SU_NET_NONE "none"
#define SU_NET_PROXY "proxy"

enum su_net_mode {
	SU_NET_MODE_NONE = 0, /* without -n: the closed one */
	SU_NET_MODE_HOST,
	SU_NET_MODE_PROXY,
};

/*
 * With -n proxy: fd SU_NET_FD is a unix SOCK_SEQPACKET socket whose other
 * end au holds, the proxy's channel (au sends the policy, the proxy one log
 * record per message). The entrypoint hands it to the proxy and keeps no
 * copy: neither the agent nor anything it runs ever holds it.
 */
#define SU_NET_FD 4

/*
 * au-netproxy's side, which netproxy/netproto.h takes from here: the proxy
 * starts as "au-netproxy NLISTEN" with these fds (netproxy/main.c says what
 * each is), and decides each listener's role from its type and port alone.
 */
#define SU_NETPROXY_NAME "au-netproxy"
#define SU_NETPROXY_FD_CHANNEL 3   /* the channel to au (SU_NET_FD here) */
#define SU_NETPROXY_FD_LIFETIME 4  /* read end of a pipe that init holds open */
#define SU_NETPROXY_FD_FIRST_LISTENER 5
#define SU_NET_MAX_LISTENERS 64

/* The listeners' ports: DNS (UDP and TCP), the HTTP and SOCKS5 proxies, on SU_NET_LOOPBACK. */
#define SU_NET_LOOPBACK "127.0.0.1"
#define SU_NET_PORT_DNS 53
#define SU_NET_PORT_HTTP 3128
#define SU_NET_PORT_SOCKS 1080
/*
 * Capture listeners, on every address of the namespace ([::] taking IPv4
 * too), for tools that ignore proxy variables: these always (ssh, http,
 * https), and one per -l PORT.
 */
#define SU_NET_CAPTURE_PORTS { 22, 80, 443 }
#define SU_NET_FIXED_LISTENERS 7 /* DNS twice, HTTP, SOCKS and the three above */
#define SU_NET_MAX_CAPTURE (SU_NET_MAX_LISTENERS - SU_NET_FIXED_LISTENERS)

/*
 * The fake addresses the proxy's DNS stub hands out, 127.1.0.0/16 in host
 * byte order: loopback addresses of the agent's own namespace, so that a
 * client that ignores proxy variables connects to one of them, and a capture
 * listener learns the name from the local address.
 */
#define SU_NET_FAKE_NET 0x7f010000u   /* 127.1.0.0 */
#define SU_NET_FAKE_MASK 0xffff0000u  /* /16 */
#define SU_NET_FAKE_FIRST 0x7f010001u /* 127.1.0.1 */
#define SU_NET_FAKE_LAST 0x7f01fffeu  /* 127.1.255.254 */

#endif /* SU_AS_AGENT_PROTOCOL_H */

#ifndef SU_AS_AGENT_PROTOCOL_ONLY

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#if !defined(TARGET_UID) || !defined(TARGET_GID) || !defined(CALLER_UID) || \
	!defined(AGENT_NAME) || !defined(AGENT_HOME) || !defined(AGENT_SHELL) || \
	!defined(CALLER_HOME)
#error "compile with -DTARGET_UID -DTARGET_GID -DCALLER_UID -DAGENT_NAME -DAGENT_HOME -DAGENT_SHELL -DCALLER_HOME"
#endif

/* uid -1 is "unchanged" to setresuid (sudo CVE-2019-14287), 0 is root. */
_Static_assert(TARGET_UID > 0 && TARGET_UID < 4294967295U, "bad TARGET_UID");
_Static_assert(TARGET_GID > 0 && TARGET_GID < 4294967295U, "bad TARGET_GID");
_Static_assert(CALLER_UID < 4294967295U, "bad CALLER_UID");
_Static_assert(TARGET_UID != CALLER_UID, "the agent cannot be the caller");

/*
 * Where au new found au-netproxy and the agent's resolv.conf: files in
 * root-owned folders, opened as root without following symlinks (see
 * open_root_file()). The argument parser does not need them.
 */
#if !defined(SU_AS_AGENT_NO_MAIN) && (!defined(NETPROXY_PATH) || !defined(RESOLV_CONF_PATH))
#error "compile with -DNETPROXY_PATH -DRESOLV_CONF_PATH"
#endif


#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#endif
#ifndef MOUNT_ATTR_SIZE_VER0
struct mount_attr {
	unsigned long long attr_set;
	unsigned long long attr_clr;
	unsigned long long propagation;
	unsigned long long userns_fd;
};
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

struct su_mount {
	const char *source;
	const char *target;
	bool read_only;
};

struct su_request {
	const char *env_names[SU_MAX_ENV];
	size_t nr_env;
	struct su_mount mounts[SU_MAX_MOUNTS];
	size_t nr_mounts;
	const char *protected[SU_MAX_PROTECTED];
	bool protected_rw[SU_MAX_PROTECTED]; /* -g: pinned, not made read-only */
	size_t nr_protected;
	const char *directory;
	bool keep_running;
	bool report; /* -c: report on SU_REPORT_FD */
	enum su_net_mode net;  /* -n */
	unsigned short capture_ports[SU_NET_MAX_CAPTURE]; /* -l, besides SU_NET_CAPTURE_PORTS */
	size_t nr_capture;
	char *const *command; /* NULL-terminated, at least one entry */
};

/* --- argument parsing: pure, no side effects, fuzzed --------------------- */

static bool valid_env_name(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++) {
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	}
	return true;
}

/*
 * An absolute path in normal form: starts with '/', no empty, "." or ".."
 * component, no trailing slash, shorter than PATH_MAX. With no ".." and (at
 * open time) no symlink, a path that starts with "HOME/" names something
 * below HOME.
 */
static bool normal_path(const char *s)
{
	size_t len = strnlen(s, PATH_MAX);

	if (len == 0 || len >= PATH_MAX || s[0] != '/')
		return false;
	if (len == 1)
		return true;
	for (const char *p = s; *p; ) {
		const char *comp = ++p; /* p was at a '/' */
		size_t n;

		while (*p && *p != '/')
			p++;
		n = (size_t)(p - comp);
		if (n == 0 || (n == 1 && comp[0] == '.') ||
		    (n == 2 && comp[0] == '.' && comp[1] == '.'))
			return false;
	}
	return true;
}

/* path is a normal path strictly below the normal path dir. */
static bool below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return normal_path(path) && strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1];
}

static const unsigned short fixed_capture_ports[] = SU_NET_CAPTURE_PORTS;

/*
 * A port for -l: decimal, 1 to 65535, no sign or leading zero, not one whose
 * role is taken (DNS, HTTP, SOCKS), not a fixed capture port, not given twice.
 */
static bool valid_capture_port(const char *s, const struct su_request *req, unsigned short *port)
{
	unsigned long n = 0;

	if (!s || !*s || *s == '0' || strlen(s) > 5)
		return false;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9')
			return false;
		n = n * 10 + (unsigned long)(*c - '0');
	}
	if (n > 65535 || n == SU_NET_PORT_DNS || n == SU_NET_PORT_HTTP || n == SU_NET_PORT_SOCKS)
		return false;
	for (size_t i = 0; i < sizeof(fixed_capture_ports) / sizeof(fixed_capture_ports[0]); i++) {
		if (n == fixed_capture_ports[i])
			return false;
	}
	for (size_t i = 0; i < req->nr_capture; i++) {
		if (n == req->capture_ports[i])
			return false;
	}
	*port = (unsigned short)n;
	return true;
}

int su_parse_args(int argc, char *const argv[], struct su_request *req, const char **why);
int su_parse_args(int argc, char *const argv[], struct su_request *req, const char **why)
{
	int i = 2;

	memset(req, 0, sizeof(*req));
	*why = NULL;
	if (argc < 2 || !argv[1] || strcmp(argv[1], SU_PROTOCOL) != 0) {
		*why = "protocol mismatch: this entrypoint speaks '" SU_PROTOCOL "' (was au upgraded? run 'au new' again)";
		return -1;
	}
	for (; i < argc; i++) {
		const char *opt = argv[i];

		if (!opt) {
			*why = "missing argument";
			return -1;
		}
		if (!strcmp(opt, SU_OPT_END)) {
			i++;
			break;
		}
		if (!strcmp(opt, SU_OPT_ENV)) {
			if (i + 1 >= argc || !argv[i + 1] || !valid_env_name(argv[i + 1])) {
				*why = "-e needs a variable name";
				return -1;
			}
			if (req->nr_env >= SU_MAX_ENV) {
				*why = "too many variables";
				return -1;
			}
			req->env_names[req->nr_env++] = argv[++i];
		} else if (!strcmp(opt, SU_OPT_MOUNT_RO) || !strcmp(opt, SU_OPT_MOUNT_RW)) {
			struct su_mount *m;

			if (i + 2 >= argc || !argv[i + 1] || !argv[i + 2]) {
				*why = "a mount needs a source and a target";
				return -1;
			}
			if (req->nr_mounts >= SU_MAX_MOUNTS) {
				*why = "too many mounts";
				return -1;
			}
			if (!below(argv[i + 1], CALLER_HOME)) {
				*why = "mount source is not a normal path below the caller's home";
				return -1;
			}
			if (!below(argv[i + 2], AGENT_HOME)) {
				*why = "mount target is not a normal path below the agent's home";
				return -1;
			}
			m = &req->mounts[req->nr_mounts++];
			m->read_only = !strcmp(opt, SU_OPT_MOUNT_RO);
			m->source = argv[i + 1];
			m->target = argv[i + 2];
			i += 2;
		} else if (!strcmp(opt, SU_OPT_PROTECT) || !strcmp(opt, SU_OPT_PIN)) {
			if (i + 1 >= argc || !argv[i + 1] || !below(argv[i + 1], AGENT_HOME)) {
				*why = "protected path is not a normal path below the agent's home";
				return -1;
			}
			if (req->nr_protected >= SU_MAX_PROTECTED) {
				*why = "too many protected paths";
				return -1;
			}
			req->protected_rw[req->nr_protected] = !strcmp(opt, SU_OPT_PIN);
			req->protected[req->nr_protected++] = argv[++i];
		} else if (!strcmp(opt, SU_OPT_DIRECTORY)) {
			if (i + 1 >= argc || !argv[i + 1] || argv[i + 1][0] != '/' ||
			    strnlen(argv[i + 1], PATH_MAX) >= PATH_MAX) {
				*why = "-d needs an absolute directory";
				return -1;
			}
			req->directory = argv[++i];
		} else if (!strcmp(opt, SU_OPT_KEEP_RUNNING)) {
			req->keep_running = true;
		} else if (!strcmp(opt, SU_OPT_REPORT)) {
			req->report = true;
		} else if (!strcmp(opt, SU_OPT_NET)) {
			const char *mode = i + 1 < argc ? argv[i + 1] : NULL;

			if (mode && !strcmp(mode, SU_NET_HOST)) {
				req->net = SU_NET_MODE_HOST;
			} else if (mode && !strcmp(mode, SU_NET_NONE)) {
				req->net = SU_NET_MODE_NONE;
			} else if (mode && !strcmp(mode, SU_NET_PROXY)) {
				req->net = SU_NET_MODE_PROXY;
			} else {
				*why = "-n needs host, none or proxy";
				return -1;
			}
			i++;
		} else if (!strcmp(opt, SU_OPT_CAPTURE)) {
			unsigned short port;

			if (req->nr_capture >= SU_NET_MAX_CAPTURE) {
				*why = "too many capture ports";
				return -1;
			}
			if (i + 1 >= argc || !valid_capture_port(argv[i + 1], req, &port)) {
				*why = "-l needs a port that is not taken";
				return -1;
			}
			req->capture_ports[req->nr_capture++] = port;
			i++;
		} else {
			*why = "unknown option";
			return -1;
		}
	}
	if (req->nr_capture && req->net != SU_NET_MODE_PROXY) {
		*why = "-l needs -n proxy";
		return -1;
	}
	if (i >= argc || !argv[i] || !argv[i][0]) {
		*why = "missing command";
		return -1;
	}
	req->command = &argv[i];
	return 0;
}

#ifndef SU_AS_AGENT_NO_MAIN

/* --- reporting ----------------------------------------------------------- */

static void say(const char *fmt, va_list ap)
{
	/* One write: no stdio buffers, nothing allocated. */
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "au: ");

	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)!write(STDERR_FILENO, buf, (size_t)n);
}

__attribute__((noreturn, format(printf, 2, 3)))
static void fail(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(fmt, ap);
	va_end(ap);
	_exit(code);
}

#define die(...) fail(SU_EXIT_SELF, "entrypoint: " __VA_ARGS__)
#define die_errno(fmt, ...) fail(SU_EXIT_SELF, "entrypoint: " fmt ": %s", ##__VA_ARGS__, strerror(errno))

/* --- setup of the process ------------------------------------------------ */

/*
 * Make sure fds 0, 1 and 2 are open, so that a file we open later cannot land
 * on one of them and receive error messages or the agent's output.
 */
static void ensure_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
			int null = open("/dev/null", O_RDWR);
			if (null != fd)
				_exit(SU_EXIT_SELF); /* cannot even report it */
		}
	}
}

/*
 * Nothing inherited reaches the agent but fds 0 to 2 (runc CVE-2024-21626).
 * SU_REPORT_FD and SU_NET_FD stay until the request says whether they are
 * the report channel and the proxy's channel (keep_report_channel(),
 * keep_net_channel()).
 */
static void close_inherited_fds(void)
{
	struct rlimit lim;
	rlim_t max = 65536;

	_Static_assert(SU_REPORT_FD == 3 && SU_NET_FD == 4,
		       "the fds kept are 0 to 2, the report channel and the proxy's channel");
	if (syscall(SYS_close_range, SU_NET_FD + 1U, ~0U, 0U) == 0)
		return;
	/* Kernels before 5.9: every fd the caller could have opened. */
	if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur > max)
		max = lim.rlim_cur;
	for (rlim_t fd = SU_NET_FD + 1; fd < max; fd++)
		close((int)fd);
}

/*
 * With -c, fd SU_REPORT_FD must be a unix SOCK_SEQPACKET socket, which only
 * the outer side will use (close-on-exec, and closed in init). Without -c,
 * whatever it is goes.
 */
static void keep_report_channel(const struct su_request *req)
{
	struct stat st;
	int type = 0;
	socklen_t len = sizeof(type);

	if (!req->report) {
		close(SU_REPORT_FD);
		return;
	}
	if (fstat(SU_REPORT_FD, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    getsockopt(SU_REPORT_FD, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET)
		die("-c: fd %d is not a SOCK_SEQPACKET socket", SU_REPORT_FD);
	if (fcntl(SU_REPORT_FD, F_SETFD, FD_CLOEXEC) < 0)
		die_errno("cannot set close-on-exec on the report channel");
}

/*
 * With -n proxy, fd SU_NET_FD must be a unix SOCK_SEQPACKET socket: the
 * proxy's channel to au, which spawn_proxy() hands to the proxy and closes
 * (close-on-exec until then). Otherwise, whatever it is goes.
 */
static void keep_net_channel(const struct su_request *req)
{
	int domain = 0, type = 0;
	socklen_t len = sizeof(domain);

	if (req->net != SU_NET_MODE_PROXY) {
		close(SU_NET_FD);
		return;
	}
	if (getsockopt(SU_NET_FD, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain != AF_UNIX ||
	    (len = sizeof(type), getsockopt(SU_NET_FD, SOL_SOCKET, SO_TYPE, &type, &len)) < 0 ||
	    type != SOCK_SEQPACKET)
		die("-n proxy: fd %d is not a unix SOCK_SEQPACKET socket", SU_NET_FD);
	if (fcntl(SU_NET_FD, F_SETFD, FD_CLOEXEC) < 0)
		die_errno("cannot set close-on-exec on the proxy's channel");
}

/* One report; a lost reader loses nothing of ours (SIGPIPE is ignored on the outer side). */
static void report(const struct su_request *req, unsigned type, const void *payload, unsigned size)
{
	struct su_report_header h = { type, size };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)payload, size } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };

	if (!req->report)
		return;
	while (sendmsg(SU_REPORT_FD, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

/* An ignored or blocked signal would be inherited by the agent and by us. */
static void reset_signals(void)
{
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* --- environment, from an allowlist -------------------------------------- */

static char *agent_env[SU_MAX_ENV + 8];

static const char *find_env(char **envp, const char *name)
{
	size_t n = strlen(name);

	for (char **e = envp; e && *e; e++) {
		if (!strncmp(*e, name, n) && (*e)[n] == '=')
			return *e;
	}
	return NULL;
}

static bool in_list(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(name, list[i]))
			return true;
	}
	return false;
}

static const char *const agent_vars[] = SU_AGENT_VARS;
static const char *const caller_vars[] = SU_CALLER_VARS;

/*
 * The agent's environment: its identity, a default PATH, LANG and TERM, and
 * the variables au named with -e. The strings stay where the kernel put them
 * (our stack); only pointers are copied.
 */
static void build_env(const struct su_request *req, char **envp)
{
	size_t n = 0;
	const char *path = NULL;

	agent_env[n++] = (char *)"HOME=" AGENT_HOME;
	agent_env[n++] = (char *)"USER=" AGENT_NAME;
	agent_env[n++] = (char *)"LOGNAME=" AGENT_NAME;
	agent_env[n++] = (char *)"SHELL=" AGENT_SHELL;
	_Static_assert(sizeof(agent_vars) / sizeof(agent_vars[0]) == 4, "set every agent variable above");
	for (size_t i = 0; i < sizeof(caller_vars) / sizeof(caller_vars[0]); i++) {
		const char *e = find_env(envp, caller_vars[i]);
		if (e)
			agent_env[n++] = (char *)e;
	}
	for (size_t i = 0; i < req->nr_env && n < SU_MAX_ENV + 6; i++) {
		const char *name = req->env_names[i];
		const char *e;

		if (in_list(name, agent_vars, sizeof(agent_vars) / sizeof(agent_vars[0])) ||
		    in_list(name, caller_vars, sizeof(caller_vars) / sizeof(caller_vars[0])))
			continue;
		e = find_env(envp, name);
		if (!e)
			continue;
		if (!strcmp(name, "PATH"))
			path = e;
		else
			agent_env[n++] = (char *)e;
	}
	agent_env[n++] = (char *)(path ? path : "PATH=" AGENT_HOME "/.local/bin:/usr/local/bin:/usr/bin:/bin");
	agent_env[n] = NULL;
}

/* --- opening paths by fd, never following a symlink ---------------------- */

/*
 * Opens the normal absolute path component by component from "/", each with
 * O_PATH|O_NOFOLLOW from its parent's fd, and refuses any symlink on the way:
 * no string is ever resolved by the kernel as a whole, so nothing the agent
 * renames or links can redirect us. With create, missing components are made
 * (directories, or the last one as a file when last_is_file) with the current
 * fsuid. Returns the fd of the last component; *parent gets its parent's fd
 * and *last its name when asked (for the legacy mount fallback).
 */
static int su_open_path(const char *path, bool create, bool last_is_file, int *parent, const char **last)
{
	char buf[PATH_MAX];
	char *p, *comp;
	int dirfd;

	if (strlen(path) >= sizeof(buf))
		die("path too long: '%s'", path);
	memcpy(buf, path, strlen(path) + 1);
	dirfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		die_errno("cannot open '/'");
	p = buf + 1;
	while (*p) {
		struct stat st;
		bool is_last;
		int fd;

		comp = p;
		while (*p && *p != '/')
			p++;
		is_last = *p == '\0';
		if (!is_last)
			*p++ = '\0';

		fd = openat(dirfd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && create) {
			if (is_last && last_is_file) {
				fd = openat(dirfd, comp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
				if (fd >= 0)
					close(fd);
			} else {
				fd = mkdirat(dirfd, comp, 0755);
			}
			if (fd < 0 && errno != EEXIST)
				die_errno("cannot create '%s' in '%s'", comp, path);
			fd = openat(dirfd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		}
		if (fd < 0) {
			int saved = errno;
			close(dirfd);
			errno = saved;
			return -1;
		}
		if (fstat(fd, &st) < 0)
			die_errno("cannot stat '%s'", path);
		if (S_ISLNK(st.st_mode))
			die("'%s' has a symlink at '%s': refusing to follow it", path, comp);
		if (!is_last && !S_ISDIR(st.st_mode))
			die("'%s': '%s' is not a directory", path, comp);
		if (is_last) {
			if (parent) {
				*parent = dirfd;
				*last = path + (comp - buf);
			} else {
				close(dirfd);
			}
			return fd;
		}
		close(dirfd);
		dirfd = fd;
	}
	return dirfd; /* path was "/" */
}

/*
 * Switches the identity used for file system access only. Permission checks
 * then apply as that user (bubblewrap #140: access files as the invoking
 * uid), while CAP_SYS_ADMIN for the mount calls stays. Groups follow, so the
 * agent's side is checked with the agent's group alone.
 */
static void fs_identity(uid_t uid, gid_t gid, bool agent_groups)
{
	static gid_t caller_groups[NGROUPS_MAX];
	static int nr_caller_groups = -1;
	gid_t target_gid = TARGET_GID;

	if (nr_caller_groups < 0) {
		nr_caller_groups = getgroups(NGROUPS_MAX, caller_groups);
		if (nr_caller_groups < 0)
			die_errno("cannot read the caller's groups");
	}
	if (setgroups(agent_groups ? 1 : (size_t)nr_caller_groups,
		      agent_groups ? &target_gid : caller_groups) < 0)
		die_errno("cannot set groups");
	setfsgid(gid);
	setfsuid(uid);
	if ((uid_t)setfsuid((uid_t)-1) != uid || (gid_t)setfsgid((gid_t)-1) != gid)
		die("cannot switch the file system identity");
}

/* --- mounts -------------------------------------------------------------- */

static int sys_open_tree(int dirfd, const char *path, unsigned flags)
{
	return (int)syscall(SYS_open_tree, dirfd, path, flags);
}

static int sys_move_mount(int from_fd, const char *from, int to_fd, const char *to, unsigned flags)
{
	return (int)syscall(SYS_move_mount, from_fd, from, to_fd, to, flags);
}

static int sys_mount_setattr(int fd, const char *path, unsigned flags, struct mount_attr *attr)
{
	return (int)syscall(SYS_mount_setattr, fd, path, flags, attr, sizeof(*attr));
}

/*
 * Binds the object open at src_fd onto the object open at dst_fd, as a new
 * mount with nosuid, nodev (and rdonly), all by fd: the new mount API never
 * sees a path string. On kernels without it, fall back to /proc/self/fd
 * magic links, which name the opened objects just as exactly.
 */
static void bind_by_fd(int src_fd, int dst_fd, int dst_parent, const char *dst_name,
		       bool read_only, const char *what)
{
	struct mount_attr attr = { 0 };
	char from[64], to[64];
	unsigned long flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | (read_only ? MS_RDONLY : 0);
	struct stat src_st, new_st;
	int tree, fresh;

	attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (read_only ? MOUNT_ATTR_RDONLY : 0);
	attr.propagation = MS_PRIVATE;
	tree = sys_open_tree(src_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (tree >= 0) {
		if (sys_mount_setattr(tree, "", AT_EMPTY_PATH, &attr) < 0)
			die_errno("cannot set mount flags for '%s'", what);
		if (sys_move_mount(tree, "", dst_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
			die_errno("cannot mount '%s'", what);
		close(tree);
		return;
	}
	if (errno != ENOSYS)
		die_errno("cannot clone '%s'", what);

	/* Legacy path: bind, then remount the new mount with its flags. */
	snprintf(from, sizeof(from), "/proc/self/fd/%d", src_fd);
	snprintf(to, sizeof(to), "/proc/self/fd/%d", dst_fd);
	if (mount(from, to, NULL, MS_BIND, NULL) < 0)
		die_errno("cannot mount '%s'", what);
	/*
	 * dst_fd still names the covered object; the new mount is what a
	 * lookup of the name in the parent finds now. Check it is ours (same
	 * inode as the source) before touching it.
	 */
	if (dst_parent < 0)
		die("cannot remount '%s' on this kernel", what);
	fresh = openat(dst_parent, dst_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fresh < 0 || fstat(fresh, &new_st) < 0 || fstat(src_fd, &src_st) < 0 ||
	    new_st.st_dev != src_st.st_dev || new_st.st_ino != src_st.st_ino)
		die("'%s' changed while it was being mounted", what);
	snprintf(to, sizeof(to), "/proc/self/fd/%d", fresh);
	if (mount(NULL, to, NULL, flags, NULL) < 0)
		die_errno("cannot set mount flags for '%s'", what);
	close(fresh);
}

/*
 * The agent's view: a private copy of the mount table, with the shared
 * folders bound in and the protected paths made read-only. Only this
 * process's new namespace changes; the human's stays as it was.
 */
static void setup_mounts(const struct su_request *req)
{
	int src_fds[SU_MAX_MOUNTS];
	struct stat st;
	int home;

	if (unshare(CLONE_NEWNS | CLONE_NEWPID) < 0)
		die_errno("cannot create namespaces");
	/* Slave: the host's later mounts still reach us, ours never leave. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		die_errno("cannot make the mount namespace private");

	/* Sources, as the human: only what the human can reach. */
	fs_identity(CALLER_UID, getegid(), false);
	for (size_t i = 0; i < req->nr_mounts; i++) {
		const char *src = req->mounts[i].source;

		src_fds[i] = su_open_path(src, false, false, NULL, NULL);
		if (src_fds[i] < 0)
			die_errno("cannot open mount source '%s'", src);
		if (fstat(src_fds[i], &st) < 0)
			die_errno("cannot stat '%s'", src);
		if (st.st_uid != CALLER_UID)
			die("mount source '%s' is not owned by the caller", src);
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
			die("mount source '%s' is not a directory or a file", src);
	}

	/* Targets, as the agent, below a home that must be the agent's. */
	fs_identity(TARGET_UID, TARGET_GID, true);
	home = su_open_path(AGENT_HOME, false, false, NULL, NULL);
	if (home < 0)
		die_errno("cannot open the agent's home '%s'", AGENT_HOME);
	if (fstat(home, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != TARGET_UID)
		die("'%s' is not a directory owned by the agent", AGENT_HOME);
	close(home);

	for (size_t i = 0; i < req->nr_mounts; i++) {
		const struct su_mount *m = &req->mounts[i];
		const char *name = NULL;
		int parent = -1, dst;

		if (fstat(src_fds[i], &st) < 0)
			die_errno("cannot stat '%s'", m->source);
		dst = su_open_path(m->target, true, S_ISREG(st.st_mode), &parent, &name);
		if (dst < 0)
			die_errno("cannot open mount target '%s'", m->target);
		bind_by_fd(src_fds[i], dst, parent, name, m->read_only, m->target);
		close(dst);
		close(parent);
		close(src_fds[i]);
	}

	for (size_t i = 0; i < req->nr_protected; i++) {
		const char *path = req->protected[i];
		const char *name = NULL;
		int parent = -1, fd;

		fd = su_open_path(path, false, false, &parent, &name);
		if (fd < 0) {
			if (errno == ENOENT)
				continue; /* nothing there to protect */
			die_errno("cannot open protected path '%s'", path);
		}
		bind_by_fd(fd, fd, parent, name, !req->protected_rw[i], path);
		close(fd);
		close(parent);
	}
	fs_identity(0, 0, false);
}

/* --- dropping privileges ------------------------------------------------- */

/* Spelled out rather than from <linux/capability.h>, which a musl build lacks. */
#ifndef _LINUX_CAPABILITY_VERSION_3
#define _LINUX_CAPABILITY_VERSION_3 0x20080522
#endif

struct cap_header {
	unsigned version;
	int pid;
};
struct cap_data {
	unsigned effective, permitted, inheritable;
};

/*
 * From here on the process is the agent and nothing else: no groups, no way
 * back to root or to the caller, no capabilities, and no_new_privs so that
 * sudo, su and every setuid or file-capability program stays powerless.
 */
static void drop_privileges(void)
{
	struct cap_header hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct cap_data caps[2];
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	/* While still root: empty the bounding set, for defense in depth. */
	for (int cap = 0; cap <= 63; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL)
			break;
	}
	if (setgroups(0, NULL) < 0)
		die_errno("cannot drop supplementary groups");
	if (setresgid(TARGET_GID, TARGET_GID, TARGET_GID) < 0)
		die_errno("cannot set the agent's group");
	if (setresuid(TARGET_UID, TARGET_UID, TARGET_UID) < 0)
		die_errno("cannot set the agent's user");

	/* Prove it. */
	if (getresuid(&ru, &eu, &su) < 0 || ru != TARGET_UID || eu != TARGET_UID || su != TARGET_UID)
		die("user ids are not the agent's after the switch");
	if (getresgid(&rg, &eg, &sg) < 0 || rg != TARGET_GID || eg != TARGET_GID || sg != TARGET_GID)
		die("group ids are not the agent's after the switch");
	if (getgroups(0, NULL) != 0)
		die("supplementary groups remain after the switch");
	if (setuid(0) != -1 || seteuid(0) != -1 || setreuid((uid_t)-1, 0) != -1 ||
	    setgid(0) != -1 || setegid(0) != -1)
		die("root can be regained after the switch");
	if (setuid(CALLER_UID) != -1 || seteuid(CALLER_UID) != -1)
		die("the caller's uid can be regained after the switch");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		die_errno("cannot clear ambient capabilities");
	if (syscall(SYS_capget, &hdr, caps) < 0)
		die_errno("cannot read capabilities");
	for (int i = 0; i < 2; i++) {
		if (caps[i].effective || caps[i].permitted || caps[i].inheritable)
			die("capabilities remain after the switch");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		die_errno("cannot set no_new_privs");
	/* Explicit, though the uid change already did it: no ptrace, no core. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* --- the network --------------------------------------------------------- */

#ifndef SIOCGSKNS
#define SIOCGSKNS 0x894C
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SYS_execveat
#define SYS_execveat 322
#endif

/* What the outer side holds for the network between its set-up and the spawns. */
struct su_net {
	int host_netns;  /* the host's network namespace, for the proxy to return to */
	int proxy_exe;   /* au-netproxy, opened as root, executed as the agent */
	int listeners[SU_NET_MAX_LISTENERS];
	size_t nr_listeners;
	int lifetime[2]; /* the proxy reads [0]; init alone holds [1] */
};

#define SU_NET_INIT { -1, -1, { 0 }, 0, { -1, -1 } }

/* Nobody but root can write a folder that root owns and keeps from group and others. */
static bool root_only(const struct stat *st)
{
	return st->st_uid == 0 && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

/*
 * A file only root can have put in place: every folder from "/" down is
 * root's alone, no component is a symlink, and the file is a regular file
 * of root's that group and others cannot write. sudo's secure_path, by fd:
 * neither the agent nor the human can put anything there. Returns an O_PATH
 * fd, or dies naming the part that is not so.
 */
static int open_root_file(const char *path, const char *what)
{
	char buf[PATH_MAX];
	struct stat st;
	char *p;
	int dirfd;

	if (!normal_path(path) || strlen(path) >= sizeof(buf))
		die("%s: '%s' is not a normal absolute path", what, path);
	memcpy(buf, path, strlen(path) + 1);
	dirfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 || fstat(dirfd, &st) < 0 || !root_only(&st))
		die("%s: '/' is not root's alone", what);
	for (p = buf + 1;;) {
		char *comp = p;
		bool last;
		int fd;

		while (*p && *p != '/')
			p++;
		last = *p == '\0';
		*p = '\0';
		fd = openat(dirfd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			die_errno("%s: cannot open '%s'", what, path);
		close(dirfd);
		if (fstat(fd, &st) < 0)
			die_errno("%s: cannot stat '%s'", what, path);
		if (S_ISLNK(st.st_mode))
			die("%s: '%s' has a symlink at '%s': refusing to follow it", what, path, buf);
		if (!root_only(&st))
			die("%s: '%s' is not root's alone (owner uid %u, mode %04o)", what, buf,
			    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		if (last) {
			if (!S_ISREG(st.st_mode))
				die("%s: '%s' is not a regular file", what, path);
			return fd;
		}
		if (!S_ISDIR(st.st_mode))
			die("%s: '%s' is not a directory", what, buf);
		*p++ = '/';
		dirfd = fd;
	}
}

/*
 * A network namespace of the agent's own. Only loopback comes up there, and
 * with -n proxy, the listeners; nothing else leads out of it (no veth, no
 * route). Before leaving the host's namespace, keep a handle on it for the
 * proxy, which serves the listeners from there.
 */
static void setup_network(const struct su_request *req, struct su_net *net)
{
	struct ifreq ifr;
	int sock;

	if (req->net == SU_NET_MODE_HOST)
		return;
	if (req->net == SU_NET_MODE_PROXY) {
		/*
		 * Why this is safe: the proxy is found at a path fixed when
		 * this file was compiled, every folder and the file root's
		 * alone (open_root_file), and it only ever runs as the agent.
		 */
		net->proxy_exe = open_root_file(NETPROXY_PATH, "the network proxy");
		/*
		 * The namespace of a socket made here (SIOCGSKNS) is the host's:
		 * no path to resolve, no /proc to trust.
		 */
		sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		net->host_netns = sock < 0 ? -1 : ioctl(sock, SIOCGSKNS);
		if (net->host_netns < 0)
			die_errno("cannot hold the host's network namespace");
		close(sock);
		if (fcntl(net->host_netns, F_SETFD, FD_CLOEXEC) < 0)
			die_errno("cannot set close-on-exec");
	}
	/* Why this is safe: a new namespace holds nothing of the host's; only this process is in it yet. */
	if (unshare(CLONE_NEWNET) < 0)
		fail(SU_EXIT_SELF, "entrypoint: cannot create a network namespace: %s (does this kernel have them? "
		     "'au net mode host' runs the agent on the host's network)", strerror(errno));
	/* Loopback is down in a new namespace. 127/8 and ::1 come with it; 127.1/16 are the proxy's fake addresses. */
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
		die_errno("cannot read the loopback interface");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
		die_errno("cannot bring the loopback interface up");
	/*
	 * glibc's getaddrinfo() with AI_ADDRCONFIG (getent, Node's dns.lookup)
	 * returns no IPv4 address unless some interface has one that is not
	 * 127.0.0.1 (its check_pf.c). One more address on loopback, the fake
	 * range's own (never given to a name), lets the DNS stub's answers through.
	 */
	if (req->net == SU_NET_MODE_PROXY) {
		struct sockaddr_in fake = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(SU_NET_FAKE_NET) };

		memset(&ifr, 0, sizeof(ifr));
		memcpy(ifr.ifr_name, "lo:au", 6);
		memcpy(&ifr.ifr_addr, &fake, sizeof(fake));
		if (ioctl(sock, SIOCSIFADDR, &ifr) < 0)
			die_errno("cannot add an address to the loopback interface");
	}
	close(sock);
}

/*
 * A socket bound (and listening, for TCP) in the agent's namespace: on
 * SU_NET_LOOPBACK, or on every address ([::] with IPv4 too; 0.0.0.0 where
 * IPv6 is not built in).
 */
static int listen_on(int type, bool every_address, unsigned short port)
{
	struct sockaddr_in6 any6 = { .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in v4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = -1, off = 0;

	if (every_address) {
		fd = socket(AF_INET6, type | SOCK_CLOEXEC, 0);
		if (fd >= 0 && (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0 ||
				bind(fd, (struct sockaddr *)&any6, sizeof(any6)) < 0))
			die_errno("cannot listen on port %u", port);
		if (fd < 0 && errno != EAFNOSUPPORT)
			die_errno("cannot make a socket");
		v4.sin_addr.s_addr = htonl(INADDR_ANY);
	} else if (inet_pton(AF_INET, SU_NET_LOOPBACK, &v4.sin_addr) != 1) {
		die("bad loopback address");
	}
	if (fd < 0) {
		fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&v4, sizeof(v4)) < 0)
			die_errno("cannot listen on port %u", port);
	}
	if (type == SOCK_STREAM && listen(fd, SOMAXCONN) < 0)
		die_errno("cannot listen on port %u", port);
	return fd;
}

/*
 * The agent's only ways out: DNS, the HTTP and SOCKS5 proxies on loopback,
 * and the capture ports on every address. They are made here, as root and
 * inside the agent's namespace, and the proxy serves them from outside it (a
 * socket keeps the namespace it was made in). Why this is safe: root binds
 * and listens, nothing more, in a namespace that holds nothing of the host's.
 */
static void make_listeners(const struct su_request *req, struct su_net *net)
{
	_Static_assert(sizeof(fixed_capture_ports) / sizeof(fixed_capture_ports[0]) + 4 == SU_NET_FIXED_LISTENERS,
		       "SU_NET_FIXED_LISTENERS counts every listener made below but the -l ones");

	if (req->net != SU_NET_MODE_PROXY)
		return;
	net->listeners[net->nr_listeners++] = listen_on(SOCK_DGRAM, false, SU_NET_PORT_DNS);
	net->listeners[net->nr_listeners++] = listen_on(SOCK_STREAM, false, SU_NET_PORT_DNS);
	net->listeners[net->nr_listeners++] = listen_on(SOCK_STREAM, false, SU_NET_PORT_HTTP);
	net->listeners[net->nr_listeners++] = listen_on(SOCK_STREAM, false, SU_NET_PORT_SOCKS);
	for (size_t i = 0; i < sizeof(fixed_capture_ports) / sizeof(fixed_capture_ports[0]); i++)
		net->listeners[net->nr_listeners++] = listen_on(SOCK_STREAM, true, fixed_capture_ports[i]);
	for (size_t i = 0; i < req->nr_capture; i++)
		net->listeners[net->nr_listeners++] = listen_on(SOCK_STREAM, true, req->capture_ports[i]);
	if (pipe2(net->lifetime, O_CLOEXEC) < 0)
		die_errno("cannot create a pipe");
}

/*
 * In the proxy's process: fds 0 to 2 /dev/null, then the channel, the
 * lifetime pipe and the listeners at the places au-netproxy expects, the
 * executable's fd (close-on-exec) just above them, and nothing else. The
 * process waits before its exec (wait_for_first_use), so every other fd is
 * closed now, not at the exec: above all the write end of the lifetime pipe,
 * with which it would wait for its own EOF, for ever.
 */
static void place_proxy_fds(struct su_net *net)
{
	int from[2 + SU_NET_MAX_LISTENERS];
	size_t n = 0;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	from[n++] = SU_NET_FD;
	from[n++] = net->lifetime[0];
	for (size_t i = 0; i < net->nr_listeners; i++)
		from[n++] = net->listeners[i];
	if (null < 0)
		_exit(SU_EXIT_SELF);
	/* Out of the way of every place first, then into place (dup2 clears close-on-exec). */
	net->proxy_exe = fcntl(net->proxy_exe, F_DUPFD_CLOEXEC, SU_NETPROXY_FD_FIRST_LISTENER + (int)n);
	if (net->proxy_exe < 0)
		_exit(SU_EXIT_SELF);
	for (size_t i = 0; i < n; i++) {
		from[i] = fcntl(from[i], F_DUPFD_CLOEXEC, SU_NETPROXY_FD_FIRST_LISTENER + (int)n);
		if (from[i] < 0)
			_exit(SU_EXIT_SELF);
	}
	for (int fd = 0; fd < 3; fd++) {
		if (dup2(null, fd) < 0)
			_exit(SU_EXIT_SELF);
	}
	for (size_t i = 0; i < n; i++) {
		if (dup2(from[i], SU_NETPROXY_FD_CHANNEL + (int)i) < 0)
			_exit(SU_EXIT_SELF);
	}
	_Static_assert(SU_NETPROXY_FD_LIFETIME == SU_NETPROXY_FD_CHANNEL + 1 &&
		       SU_NETPROXY_FD_FIRST_LISTENER == SU_NETPROXY_FD_CHANNEL + 2, "the order above");
	/* (It is at SU_NETPROXY_FD_FIRST_LISTENER + n or above, so never there already.) */
	if (dup3(net->proxy_exe, SU_NETPROXY_FD_CHANNEL + (int)n, O_CLOEXEC) < 0)
		_exit(SU_EXIT_SELF);
	net->proxy_exe = SU_NETPROXY_FD_CHANNEL + (int)n;
	if (syscall(SYS_close_range, (unsigned)(net->proxy_exe + 1), ~0U, 0U) < 0) {
		/* Kernels before 5.9: every fd this program opened is below the fd limit. */
		struct rlimit lim;
		rlim_t max = 65536;

		if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur > max)
			max = lim.rlim_cur;
		for (rlim_t fd = (rlim_t)net->proxy_exe + 1; fd < max; fd++)
			close((int)fd);
	}
}

/*
 * The proxy starts when the agent first uses its network: until a listener
 * has something for it (a connection, a DNS query, which wait there), this
 * process, already the agent with the proxy's fds in place and nothing else
 * (place_proxy_fds), waits; and it leaves with the agent if that never
 * comes. A run that does not touch the network costs no proxy. Once the
 * agent is gone nothing more is started, even for what it left queued: the
 * proxy would refuse it anyway.
 */
static void wait_for_first_use(size_t nr_listeners)
{
	struct pollfd pfd[1 + SU_NET_MAX_LISTENERS];

	/*
	 * Not dumpable while it waits, whatever fs.suid_dumpable says (the uid
	 * change clears it only when that is 0): the agent's uid never traces a
	 * process of the host's network namespace. (au-netproxy says so again
	 * first thing after the exec, which resets it.)
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		_exit(SU_EXIT_SELF);
	pfd[0] = (struct pollfd){ .fd = SU_NETPROXY_FD_LIFETIME, .events = POLLIN };
	for (size_t i = 0; i < nr_listeners; i++)
		pfd[1 + i] = (struct pollfd){ .fd = SU_NETPROXY_FD_FIRST_LISTENER + (int)i, .events = POLLIN };
	for (;;) {
		if (poll(pfd, 1 + nr_listeners, -1) < 0) {
			if (errno == EINTR)
				continue;
			return; /* the proxy will see for itself */
		}
		if (pfd[0].revents)
			_exit(0);
		for (size_t i = 1; i <= nr_listeners; i++) {
			if (pfd[i].revents)
				return;
		}
	}
}

/*
 * The proxy: a process of the agent's uid, outside the agent's network, PID
 * and mount namespaces (it is forked before the other namespaces exist, and
 * returns to the host's network), in a session of its own, with no_new_privs,
 * no capability, an empty environment. It cannot be signalled or traced from
 * inside the agent's PID namespace, which does not show it; it is not
 * dumpable (it says so first thing, and its file is not readable by others,
 * so it is not dumpable from its exec on); its connections leave with the
 * agent's uid, which the host's firewall can match. It parses what the agent
 * sends, so it is neither root nor the human.
 */
static void spawn_proxy(const struct su_request *req, struct su_net *net)
{
	char count[16];
	char *argv[] = { (char *)SU_NETPROXY_NAME, count, NULL };
	char *envp[] = { NULL };
	pid_t pid;

	if (req->net != SU_NET_MODE_PROXY)
		return;
	snprintf(count, sizeof(count), "%zu", net->nr_listeners);
	pid = fork();
	if (pid < 0)
		die_errno("cannot fork");
	if (pid == 0) {
		/* Why this is safe: back to where this process came from, still root, before the drop. */
		if (setns(net->host_netns, CLONE_NEWNET) < 0)
			die_errno("cannot return to the host's network namespace");
		/* The caller's terminal is never the proxy's to open (TIOCSTI). */
		if (setsid() < 0)
			die_errno("cannot create a session");
		/* No folder of the human's held open. */
		if (chdir("/") < 0)
			die_errno("cannot change directory to '/'");
		drop_privileges();
		place_proxy_fds(net);
		wait_for_first_use(net->nr_listeners);
		syscall(SYS_execveat, net->proxy_exe, "", argv, envp, AT_EMPTY_PATH);
		_exit(SU_EXIT_SELF); /* au sees the channel close without a word */
	}
	/* Only the proxy holds these now: the agent never gets the channel or a listener. */
	close(SU_NET_FD);
	close(net->proxy_exe);
	close(net->host_netns);
	close(net->lifetime[0]);
	for (size_t i = 0; i < net->nr_listeners; i++)
		close(net->listeners[i]);
	net->nr_listeners = 0;
}

/* Once init exists it alone holds the write end: the proxy goes when the agent's namespace does. */
static void hand_lifetime_to_init(struct su_net *net)
{
	if (net->lifetime[1] >= 0)
		close(net->lifetime[1]);
	net->lifetime[1] = -1;
}

/*
 * Opens what path names, following symlinks as the kernel would, but never
 * through a folder that the agent or the human could change: every folder on
 * the way is someone else's (root's, or a system service's) and not writable
 * by group or others, and a symlink is followed only from a folder of root's.
 * Returns an O_PATH fd of a regular file, with its folder's fd in *parent and
 * its name in name; -1 with errno ENOENT when the way ends before the file
 * (a dangling link); dies when the way is not so.
 */
static int open_root_target(const char *path, int *parent, char name[NAME_MAX + 1])
{
	char rest[PATH_MAX], next[PATH_MAX];
	struct stat dir_st;
	int dirfd, links = 0;
	char *p;

	snprintf(rest, sizeof(rest), "%s", path);
	dirfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 || fstat(dirfd, &dir_st) < 0 || !root_only(&dir_st))
		die("'/' is not root's alone");
	for (p = rest;;) {
		char *comp;
		size_t len;
		struct stat st;
		bool last;
		int fd;

		while (*p == '/')
			p++;
		comp = p;
		while (*p && *p != '/')
			p++;
		len = (size_t)(p - comp);
		while (*p == '/')
			p++;
		last = *p == '\0';
		if (len == 0 || len > NAME_MAX)
			die("'%s' does not name a file", path);
		memcpy(name, comp, len);
		name[len] = '\0';
		if (!strcmp(name, ".") || !strcmp(name, "..")) {
			fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
		} else {
			fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0 && errno == ENOENT) {
				close(dirfd);
				return -1;
			}
		}
		if (fd < 0 || fstat(fd, &st) < 0)
			die_errno("cannot open '%s' on the way to '%s'", name, path);
		if (S_ISLNK(st.st_mode)) {
			char link[PATH_MAX];
			ssize_t n = readlinkat(fd, "", link, sizeof(link) - 1);

			close(fd);
			if (!root_only(&dir_st))
				die("'%s' leads through a symlink in a folder that is not root's alone", path);
			if (n <= 0 || ++links > 40)
				die("'%s' leads through too many symlinks", path);
			link[n] = '\0';
			if ((size_t)snprintf(next, sizeof(next), "%s/%s", link, p) >= sizeof(next))
				die("'%s' leads through a path too long", path);
			memcpy(rest, next, sizeof(rest));
			p = rest;
			if (link[0] == '/') {
				close(dirfd);
				dirfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
				if (dirfd < 0 || fstat(dirfd, &dir_st) < 0)
					die_errno("cannot open '/'");
			}
			continue;
		}
		if (last && S_ISREG(st.st_mode)) {
			*parent = dirfd;
			return fd;
		}
		if (!S_ISDIR(st.st_mode))
			die("'%s' is not a regular file", path);
		if (st.st_uid == TARGET_UID || st.st_uid == CALLER_UID || (st.st_mode & (S_IWGRP | S_IWOTH)))
			die("'%s' leads through '%s', which the agent or you could change", path, name);
		if (last)
			die("'%s' is a directory", path);
		close(dirfd);
		dirfd = fd;
		dir_st = st;
	}
}

/*
 * In the agent's mount namespace: au's resolv.conf ("nameserver 127.0.0.1",
 * the proxy's DNS stub) over the real target of /etc/resolv.conf, which is
 * often a symlink into /run. The file is root's (open_root_file), the bind
 * read-only, nosuid, nodev: neither the human nor the agent can write what
 * the agent's resolver reads. Where /etc/resolv.conf leads nowhere, the
 * resolver already asks 127.0.0.1.
 */
static void bind_resolv_conf(const struct su_request *req)
{
	char name[NAME_MAX + 1];
	int src, dst, parent = -1;

	if (req->net == SU_NET_MODE_HOST)
		return;
	src = open_root_file(RESOLV_CONF_PATH, "the agent's resolv.conf");
	dst = open_root_target("/etc/resolv.conf", &parent, name);
	if (dst < 0) {
		close(src);
		return;
	}
	/* Why this is safe: our own file, read-only, on the inode the walk above opened, in our namespace only. */
	bind_by_fd(src, dst, parent, name, true, "/etc/resolv.conf");
	close(dst);
	close(parent);
	close(src);
}

/* --- the command --------------------------------------------------------- */

__attribute__((noreturn))
static void exec_command(const struct su_request *req)
{
	extern char **environ;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/*
	 * A session of its own. If au gave us a fresh pty, it becomes the
	 * controlling terminal; the human's terminal never can (TIOCSCTTY
	 * fails on a terminal that already belongs to a session).
	 */
	if (setsid() < 0)
		die_errno("cannot create a session");
	for (int fd = 0; fd < 3; fd++) {
		if (isatty(fd)) {
			ioctl(fd, TIOCSCTTY, 0);
			break;
		}
	}
	environ = agent_env;
	execvp(req->command[0], req->command);
	if (errno == ENOENT)
		fail(SU_EXIT_NOT_FOUND, "'%s': command not found", req->command[0]);
	fail(SU_EXIT_CANNOT_RUN, "cannot run '%s': %s", req->command[0], strerror(errno));
}

static int status_to_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return SU_EXIT_SELF;
}

static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

/*
 * pid 1 of the agent's PID namespace, running as the agent. It runs the
 * command, forwards signals to it (from the namespace, or from the outer
 * side through ctl_fd), reaps orphans, reports the command's status through
 * status_fd, and then ends every other process of the agent in the namespace
 * (unless keep_running). When pid 1 exits the kernel kills the rest anyway.
 */
__attribute__((noreturn))
static void run_init(const struct su_request *req, int ctl_fd, int status_fd)
{
	sigset_t mask;
	struct pollfd pfd[2];
	pid_t child;
	int sfd, code = SU_EXIT_SELF;
	bool child_done = false;

	/* The command must never hold these. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&mask, forwarded[i]);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0)
		die_errno("cannot create a signalfd");

	child = fork();
	if (child < 0)
		die_errno("cannot fork");
	if (child == 0)
		exec_command(req);
	/*
	 * The command has the standard fds; init lets go of them, or a kept
	 * process (-k) would hold the caller's pipes open after we report.
	 */
	{
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
			if (null > 2)
				close(null);
		}
	}

	pfd[0].fd = sfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = ctl_fd;
	pfd[1].events = POLLIN;
	for (;;) {
		struct signalfd_siginfo si;
		unsigned char sig;
		int status;
		pid_t pid;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die_errno("poll");
		}
		if (pfd[1].revents) {
			ssize_t n = read(ctl_fd, &sig, 1);
			if (n == 1 && !child_done) {
				kill(child, sig);
			} else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
				/* The outer side is gone: nobody waits for us. */
				if (!child_done || !req->keep_running)
					kill(-1, SIGKILL);
				pfd[1].fd = -1;
			}
		}
		if (pfd[0].revents && read(sfd, &si, sizeof(si)) == sizeof(si) &&
		    si.ssi_signo != SIGCHLD && !child_done)
			kill(child, (int)si.ssi_signo);

		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid == child && !child_done) {
				child_done = true;
				code = status_to_code(status);
				(void)!write(status_fd, &status, sizeof(status));
				close(status_fd);
				if (!req->keep_running)
					kill(-1, SIGKILL);
			}
		}
		if (pid < 0 && errno == ECHILD && child_done)
			_exit(code);
	}
}

static int ctl_write_fd = -1;

static void forward_to_init(int sig)
{
	unsigned char b = (unsigned char)sig;
	int saved = errno;

	(void)!write(ctl_write_fd, &b, 1);
	errno = saved;
}

/* Who may use this file, and only as a setuid program. */
static void check_caller(int argc, char **argv)
{
	ensure_std_fds();
	/* pkexec CVE-2021-4034: argv can be empty. */
	if (argc < 1 || !argv[0])
		die("called without arguments");
	/*
	 * The agent is in our group and can execute this file; the baked-in
	 * caller uid is what keeps it (and everyone else) out.
	 */
	if (getuid() != CALLER_UID)
		die("permission denied: only uid %u may use this entrypoint", (unsigned)CALLER_UID);
	if (geteuid() != 0)
		die("not running as root: the entrypoint must be setuid root (run 'au info')");
}

/* The two pipes between init and the outer side. */
struct init_pipes {
	int ctl[2];    /* outer side -> init: signals to pass on; EOF: the outer side is gone */
	int status[2]; /* init -> outer side: the command's wait status */
};

/*
 * Forks pid 1 of the new PID namespace, which becomes the agent for good and
 * runs the command under run_init().
 */
static pid_t spawn_init(const struct su_request *req, struct init_pipes *p)
{
	pid_t init;

	if (pipe2(p->ctl, O_CLOEXEC) < 0 || pipe2(p->status, O_CLOEXEC) < 0)
		die_errno("cannot create pipes");
	init = fork();
	if (init < 0)
		die_errno("cannot fork");
	if (init > 0) {
		close(p->ctl[0]);
		close(p->status[1]);
		return init;
	}
	close(p->ctl[1]);
	close(p->status[0]);
	if (req->report)
		close(SU_REPORT_FD);
	/* A /proc of the new PID namespace: the human's processes are not in it. */
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		die_errno("cannot mount /proc");
	drop_privileges();
	/*
	 * After the uid change, which clears it: die with the outer side
	 * (which, with -k, leaves as soon as the command has).
	 */
	if (!req->keep_running)
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* Leave the caller's session: its terminal is never ours to open. */
	if (setsid() < 0)
		die_errno("cannot create a session");
	if (chdir(req->directory ? req->directory : AGENT_HOME) < 0)
		die_errno("cannot change directory to '%s'", req->directory ? req->directory : AGENT_HOME);
	run_init(req, p->ctl[0], p->status[1]);
}

/*
 * The outer side becomes the caller again, for good: it only waits and
 * passes signals on, so it needs nothing of root.
 */
static void drop_to_caller(void)
{
	if (setresuid(CALLER_UID, CALLER_UID, CALLER_UID) < 0)
		die_errno("cannot return to the caller's uid");
	if (CALLER_UID != 0 && setuid(0) != -1)
		die("root can be regained on the outer side");
}

/* Signals sent to us (by au, or a terminal) go on to init, which passes them to the command. */
static void forward_signals(int ctl_fd)
{
	struct sigaction sa;

	ctl_write_fd = ctl_fd;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward_to_init;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaction(forwarded[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * The command's wait status, once init reports it; with -k that is all we
 * wait for. If init ends first (it failed, or was killed), how it ended.
 */
static int wait_for_command(const struct su_request *req, pid_t init, int status_fd)
{
	int status;
	ssize_t n;

	do
		n = read(status_fd, &status, sizeof(status));
	while (n < 0 && errno == EINTR);
	if (n == sizeof(status)) {
		if (!req->keep_running) {
			while (waitpid(init, NULL, 0) < 0 && errno == EINTR)
				;
		}
		return status;
	}
	while (waitpid(init, &status, 0) < 0) {
		if (errno != EINTR)
			die_errno("cannot wait for the agent");
	}
	return status;
}

int main(int argc, char **argv, char **envp)
{
	static struct su_request req;
	struct su_net net = SU_NET_INIT;
	struct init_pipes pipes;
	const char *why;
	pid_t init;
	int status;

	check_caller(argc, argv);
	close_inherited_fds();
	reset_signals();
	if (su_parse_args(argc, argv, &req, &why) < 0)
		die("%s", why);
	keep_report_channel(&req);
	keep_net_channel(&req);
	build_env(&req, envp);
	/* The proxy leaves before the mount and PID namespaces exist: it lives in the host's. */
	setup_network(&req, &net);
	make_listeners(&req, &net);
	spawn_proxy(&req, &net);
	setup_mounts(&req);
	bind_resolv_conf(&req);
	init = spawn_init(&req, &pipes);
	hand_lifetime_to_init(&net);
	drop_to_caller();
	forward_signals(pipes.ctl[1]);
	status = wait_for_command(&req, init, pipes.status[0]);
	report(&req, SU_REPORT_DONE, NULL, 0);
	return status_to_code(status);
}

#endif /* SU_AS_AGENT_NO_MAIN */

#endif /* SU_AS_AGENT_PROTOCOL_ONLY */
