/*
 * su_as_agent.c: the setuid-root entrypoint of one agent.
 *
 * "au new" compiles this file with the agent's ids baked in and installs it
 * as root:su-as-NAME, mode 4750, in a root-owned folder. "au run" verifies
 * the installed file by hash and executes that very file. Then, as root, this
 * program puts the agent in a cgroup of its own (with the limits asked for)
 * and in private mount, PID, IPC and network namespaces, bind-mounts the
 * human's shared folders by file descriptor, starts the agent's network
 * proxy outside its network namespace, drops every privilege for good, gives
 * the agent a session keyring of its own, and runs the command as the agent
 * under a minimal init.
 *
 * Everything else lives in unprivileged au. This file uses libc only and no
 * heap. Read it as the agent would: every line runs as root.
 *
 * Protocol (argv, built by au run; parsed by su_parse_args, which a fuzzer
 * calls without root):
 *   su_as_agent au3 [-e NAME]... [-r|-w SOURCE ID TARGET]... [-p|-g PATH]...
 *               [-d DIR] [-k] [-c] [-W] [-j] [-m BYTES] [-q PERCENT] [-t TASKS]
 *               [-n host|none|proxy] [-l PORT]...
 *               -- COMMAND [ARG]...
 *   -e NAME   pass the variable NAME from our environment to the agent
 *   -r / -w   bind SOURCE (under the human's home) read-only / read-write on
 *             TARGET (under the agent's home), in the order given; ID is
 *             "DEV:INO", SOURCE's device and inode (decimal) as recorded at
 *             "au mount add": a source that is no longer that inode is refused
 *   -p PATH   make PATH (under the agent's home, usually inside a read-write
 *             mount) read-only over itself, when it exists
 *   -g PATH   bind PATH over itself, read-write, when it exists: a mount
 *             point cannot be renamed or replaced (a git directory)
 *   -d DIR    working directory of the command (the agent's home otherwise)
 *   -k        keep the agent's other processes when the command exits
 *   -c        report on fd 3, the report channel (see SU_REPORT_FD); au is
 *             our parent and waits for us: when it is gone, so is the run
 *   -W        watch the file systems of the read-write mounts while the
 *             command runs, and report each folder of those mounts where
 *             something changed, with the names that changed (needs -c)
 *   -j        job control: the command is the foreground job of the terminal
 *             on fds 0 to 2 (a pty of au's); when it stops (Ctrl-Z), this
 *             program stops too, so that its caller sees the stop, and when
 *             this program is continued, so is the command
 *   -m BYTES  memory limit of the run, swap included (none: no limit)
 *   -q PERCENT  CPU quota of the run, in percent of one CPU
 *   -t TASKS  processes and threads of the run (and RLIMIT_NPROC of the
 *             agent's uid; SU_TASKS_DEFAULT without -t)
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
#define SU_PROTOCOL "au3"

#define SU_OPT_ENV "-e"          /* NAME */
#define SU_OPT_MOUNT_RO "-r"     /* SOURCE ID TARGET */
#define SU_OPT_MOUNT_RW "-w"     /* SOURCE ID TARGET */
#define SU_ID_MAX 42             /* "DEV:INO": two 64-bit numbers in decimal, the colon, the NUL */
#define SU_OPT_PROTECT "-p"      /* PATH: read-only over itself */
#define SU_OPT_PIN "-g"          /* PATH: read-write over itself */
#define SU_OPT_DIRECTORY "-d"    /* DIR */
#define SU_OPT_KEEP_RUNNING "-k"
#define SU_OPT_REPORT "-c"       /* fd SU_REPORT_FD is the report channel */
#define SU_OPT_WATCH "-W"        /* report changes in the read-write mounts (needs -c) */
#define SU_OPT_JOB_CONTROL "-j"  /* stops of the command go up to the caller */
#define SU_OPT_MEMORY "-m"       /* BYTES */
#define SU_OPT_CPU "-q"          /* PERCENT */
#define SU_OPT_TASKS "-t"        /* TASKS */
#define SU_OPT_NET "-n"          /* SU_NET_HOST, SU_NET_NONE or SU_NET_PROXY */
#define SU_OPT_CAPTURE "-l"      /* PORT: a capture listener (with -n proxy) */
#define SU_OPT_END "--"          /* COMMAND [ARG]... follow */

#define SU_MAX_MOUNTS 64
#define SU_MAX_ENV 128
/* -p and -g have no limit of their own: the entrypoint walks its argv for them. */

/* The limits a run may ask for (au checks the same numbers). */
#define SU_MEMORY_MIN (1ULL << 20)     /* 1 MiB */
#define SU_MEMORY_MAX (1ULL << 50)     /* 1 PiB */
#define SU_CPU_PERCENT_MAX 100000ULL   /* a thousand CPUs */
#define SU_TASKS_MIN 2ULL              /* init and the command */
#define SU_TASKS_MAX 4194304ULL        /* the kernel's PID_MAX_LIMIT */
/*
 * RLIMIT_NPROC of the agent's uid when no tasks limit is asked for: a cap on
 * the processes and threads of all the agent's runs together, which holds
 * even where no cgroup can be had.
 */
#define SU_TASKS_DEFAULT 8192ULL

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
	/*
	 * With -W, one folder inside a read-write mount where something
	 * changed: its O_PATH fd comes along (SCM_RIGHTS), and the payload is
	 * a list of struct su_report_name, each followed by its name's bytes
	 * (no NUL). A folder with many names comes in several messages.
	 */
	SU_REPORT_CHANGED = 2,
	/* With -W, after the last SU_REPORT_CHANGED: nothing that changed went unreported. */
	SU_REPORT_WATCH_END = 3,
	/* With -W, instead of SU_REPORT_WATCH_END: a struct su_watch_lost, and au must look everywhere. */
	SU_REPORT_WATCH_LOST = 4,
	SU_REPORT_USAGE = 5, /* struct su_usage: what the run used */
};

/* How an entry changed (any of them, or'ed). */
enum su_change {
	SU_CHANGE_ADDED = 1 << 0,   /* created, or moved in, under this name */
	SU_CHANGE_REMOVED = 1 << 1, /* deleted, or moved away, from this name */
	SU_CHANGE_WRITTEN = 1 << 2, /* its content was written */
	SU_CHANGE_ATTRIB = 1 << 3,  /* its mode, owner, times or extended attributes */
};

struct su_report_name {
	unsigned int changes; /* enum su_change */
	unsigned int len;     /* of the name that follows, 1 to 255 bytes */
};

enum su_watch_lost_reason {
	SU_LOST_UNAVAILABLE = 1, /* no watch: old kernel, no permission, or a file system without handles */
	SU_LOST_OVERFLOW = 2,    /* more changes than the kernel's queue or our tables hold */
	SU_LOST_LINK = 3,        /* a link count changed on a file that still has a name: a hard link */
	SU_LOST_UNRESOLVED = 4,  /* a changed folder could not be told inside or outside the mounts */
};

struct su_watch_lost {
	unsigned int reason; /* enum su_watch_lost_reason */
	int error;           /* errno, when one said why */
};

/*
 * What a run used, measured by the outer side when the command has exited
 * (with -k, what it used until then). Fixed-size fields only: au and the
 * entrypoint may be built by different compilers and C libraries.
 */
struct su_usage {
	unsigned long long measured;    /* SU_USAGE_* bits: which fields hold a value */
	unsigned long long placement;   /* SU_PLACED_* bits: where the run lived */
	unsigned long long wall_usec;   /* from the start of init to the command's end */
	unsigned long long cpu_usec;    /* user and system, every process of the run */
	unsigned long long user_usec;
	unsigned long long system_usec;
	unsigned long long memory_peak; /* bytes, of the whole run (or its largest process) */
	unsigned long long tasks_peak;  /* processes and threads at once */
	unsigned long long oom_kills;   /* processes killed for lack of memory */
};

enum su_usage_measured {
	SU_USAGE_WALL = 1 << 0,
	SU_USAGE_CPU = 1 << 1,
	SU_USAGE_CPU_SPLIT = 1 << 2,     /* user_usec and system_usec */
	SU_USAGE_MEMORY = 1 << 3,
	SU_USAGE_MEMORY_LARGEST = 1 << 4, /* memory_peak is the largest process's, not the run's */
	SU_USAGE_TASKS = 1 << 5,
	SU_USAGE_OOM = 1 << 6,
};

enum su_placement {
	SU_PLACED_V2 = 1 << 0,      /* a cgroup of its own on the cgroup v2 hierarchy */
	SU_PLACED_V1 = 1 << 1,      /* ... and/or on cgroup v1 hierarchies */
	SU_PLACED_SYSTEMD = 1 << 2, /* a systemd scope that au asked the user manager for */
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
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
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
	unsigned long long dev, ino; /* what source must be */
	bool read_only;
};

struct su_request {
	const char *env_names[SU_MAX_ENV];
	size_t nr_env;
	struct su_mount mounts[SU_MAX_MOUNTS];
	size_t nr_mounts;
	char *const *options; /* argv's words from the first option to "--", for su_next_protected() */
	int nr_options;
	size_t nr_protected;  /* -p and -g */
	const char *directory;
	bool keep_running;
	bool report; /* -c: report on SU_REPORT_FD */
	bool watch;  /* -W: report changes in the read-write mounts */
	bool job_control; /* -j: the command's stops go up to the caller */
	unsigned long long memory_max;  /* -m, bytes; 0: no limit */
	unsigned long long cpu_percent; /* -q; 0: no limit */
	unsigned long long tasks_max;   /* -t; 0: no limit */
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

/* A decimal number that fits 64 bits, up to end (or the NUL); false otherwise. */
static bool parse_u64(const char *s, const char *end, unsigned long long *out)
{
	unsigned long long v = 0;

	if (s == end || !*s)
		return false;
	for (; s != end && *s; s++) {
		if (*s < '0' || *s > '9' || v > (~0ULL - (unsigned)(*s - '0')) / 10)
			return false;
		v = v * 10 + (unsigned)(*s - '0');
	}
	*out = v;
	return s == end || !end;
}

/* "DEV:INO" into m. */
static bool parse_id(const char *s, struct su_mount *m)
{
	const char *colon = strchr(s, ':');

	return colon && strnlen(s, SU_ID_MAX) < SU_ID_MAX && parse_u64(s, colon, &m->dev) &&
	       parse_u64(colon + 1, NULL, &m->ino);
}

/* path is a normal path strictly below the normal path dir. */
static bool below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return normal_path(path) && strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1];
}

/* A decimal number in [min, max], digits only (no sign, no space, no suffix). */
static bool parse_number(const char *s, unsigned long long min, unsigned long long max,
			 unsigned long long *out)
{
	unsigned long long n = 0;

	if (!s || !*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || n > (max - (unsigned)(*s - '0')) / 10)
			return false;
		n = n * 10 + (unsigned)(*s - '0');
	}
	if (n < min)
		return false;
	*out = n;
	return true;
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
		*why = "protocol mismatch: this entrypoint speaks '" SU_PROTOCOL "' (was au upgraded? run 'au repair --all')";
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

			if (i + 3 >= argc || !argv[i + 1] || !argv[i + 2] || !argv[i + 3]) {
				*why = "a mount needs a source, its id and a target";
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
			if (!below(argv[i + 3], AGENT_HOME)) {
				*why = "mount target is not a normal path below the agent's home";
				return -1;
			}
			m = &req->mounts[req->nr_mounts];
			if (!parse_id(argv[i + 2], m)) {
				*why = "mount id is not DEV:INO (the source's device and inode)";
				return -1;
			}
			req->nr_mounts++;
			m->read_only = !strcmp(opt, SU_OPT_MOUNT_RO);
			m->source = argv[i + 1];
			m->target = argv[i + 3];
			i += 3;
		} else if (!strcmp(opt, SU_OPT_PROTECT) || !strcmp(opt, SU_OPT_PIN)) {
			if (i + 1 >= argc || !argv[i + 1] || !below(argv[i + 1], AGENT_HOME)) {
				*why = "protected path is not a normal path below the agent's home";
				return -1;
			}
			req->nr_protected++;
			i++;
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
		} else if (!strcmp(opt, SU_OPT_WATCH)) {
			req->watch = true;
		} else if (!strcmp(opt, SU_OPT_JOB_CONTROL)) {
			req->job_control = true;
		} else if (!strcmp(opt, SU_OPT_MEMORY)) {
			if (i + 1 >= argc || !parse_number(argv[i + 1], SU_MEMORY_MIN, SU_MEMORY_MAX, &req->memory_max)) {
				*why = "-m needs a number of bytes";
				return -1;
			}
			i++;
		} else if (!strcmp(opt, SU_OPT_CPU)) {
			if (i + 1 >= argc || !parse_number(argv[i + 1], 1, SU_CPU_PERCENT_MAX, &req->cpu_percent)) {
				*why = "-q needs a percentage";
				return -1;
			}
			i++;
		} else if (!strcmp(opt, SU_OPT_TASKS)) {
			if (i + 1 >= argc || !parse_number(argv[i + 1], SU_TASKS_MIN, SU_TASKS_MAX, &req->tasks_max)) {
				*why = "-t needs a number of tasks";
				return -1;
			}
			i++;
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
	if (req->watch && !req->report) {
		*why = "-W needs -c";
		return -1;
	}
	req->options = &argv[2];
	req->nr_options = i - 3; /* up to, not including, "--" */
	req->command = &argv[i];
	return 0;
}

/*
 * The -p and -g paths of a request that su_parse_args() accepted, in their
 * order: set *i to 0 first; false after the last one. The words were
 * checked by the parser, so each option here has its arguments.
 */
bool su_next_protected(const struct su_request *req, int *i, const char **path, bool *pin);
bool su_next_protected(const struct su_request *req, int *i, const char **path, bool *pin)
{
	while (*i < req->nr_options) {
		const char *opt = req->options[(*i)++];

		if (!strcmp(opt, SU_OPT_PROTECT) || !strcmp(opt, SU_OPT_PIN)) {
			*pin = !strcmp(opt, SU_OPT_PIN);
			*path = req->options[(*i)++];
			return true;
		}
		if (!strcmp(opt, SU_OPT_MOUNT_RO) || !strcmp(opt, SU_OPT_MOUNT_RW))
			*i += 2;
		else if (!strcmp(opt, SU_OPT_ENV) || !strcmp(opt, SU_OPT_DIRECTORY))
			*i += 1;
	}
	return false;
}

#ifndef SU_AS_AGENT_NO_MAIN

/* --- reporting ----------------------------------------------------------- */

/*
 * One line on stderr. Paths in it may have been named by the agent: every
 * byte that is not printable ASCII becomes \xNN, so that none acts on the
 * human's terminal.
 */
static void say(const char *fmt, va_list ap)
{
	/* One write: no stdio buffers, nothing allocated. */
	char text[3 * PATH_MAX], buf[4 * sizeof(text) + 8];
	size_t n = 0;
	int len = vsnprintf(text, sizeof(text), fmt, ap);

	if (len < 0)
		len = 0;
	if ((size_t)len >= sizeof(text))
		len = (int)sizeof(text) - 1;
	memcpy(buf, "au: ", 4);
	n = 4;
	for (int i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c >= 0x20 && c < 0x7f) {
			buf[n++] = (char)c;
		} else {
			static const char hex[] = "0123456789abcdef";

			buf[n++] = '\\';
			buf[n++] = 'x';
			buf[n++] = hex[c >> 4];
			buf[n++] = hex[c & 15];
		}
	}
	buf[n++] = '\n';
	(void)!write(STDERR_FILENO, buf, n);
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

/* A failure, with a second line that says what to do about it. */
__attribute__((noreturn, format(printf, 2, 3)))
static void fail_with_hint(const char *hint, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	say(fmt, ap);
	va_end(ap);
	n = snprintf(buf, sizeof(buf), "hint: %s\n", hint);
	(void)!write(STDERR_FILENO, buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	_exit(SU_EXIT_SELF);
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

/* One report with an fd passed along (SCM_RIGHTS). */
static void report_fd(const struct su_request *req, unsigned type, const void *payload, unsigned size, int fd)
{
	struct su_report_header h = { type, size };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)payload, size } };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1, .msg_control = control.buf,
			      .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	if (!req->report)
		return;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
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
 * A call of the new mount API that the kernel lacks (ENOSYS: open_tree and
 * move_mount came in Linux 5.2, mount_setattr in 5.12), or that a seccomp
 * policy refuses without knowing it (EPERM, as container runtimes answer).
 * The legacy path does the same by /proc/self/fd and is no less strict: a
 * real refusal meets it there too.
 */
static bool new_mount_api_missing(int err)
{
	return err == ENOSYS || err == EPERM;
}

/*
 * Binds the object open at src_fd onto the object open at dst_fd, as a new
 * mount with nosuid, nodev (and rdonly), all by fd: the new mount API never
 * sees a path string. On kernels without it (or without mount_setattr, before
 * 5.12), fall back to /proc/self/fd magic links, which name the opened
 * objects just as exactly.
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
	if (tree < 0 && !new_mount_api_missing(errno))
		die_errno("cannot clone '%s'", what);
	if (tree >= 0) {
		if (sys_mount_setattr(tree, "", AT_EMPTY_PATH, &attr) < 0) {
			if (!new_mount_api_missing(errno))
				die_errno("cannot set mount flags for '%s'", what);
		} else if (sys_move_mount(tree, "", dst_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
			if (!new_mount_api_missing(errno))
				die_errno("cannot mount '%s'", what);
		} else {
			close(tree);
			return;
		}
		/* Why this is safe: the detached copy, never attached, goes with its last fd. */
		close(tree);
	}

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
		die("cannot remount '%s' on this kernel: binding by fd needs Linux 5.12", what);
	fresh = openat(dst_parent, dst_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fresh < 0 || fstat(fresh, &new_st) < 0 || fstat(src_fd, &src_st) < 0 ||
	    new_st.st_dev != src_st.st_dev || new_st.st_ino != src_st.st_ino)
		die("'%s' changed while it was being mounted", what);
	snprintf(to, sizeof(to), "/proc/self/fd/%d", fresh);
	if (mount(NULL, to, NULL, flags, NULL) < 0)
		die_errno("cannot set mount flags for '%s'", what);
	close(fresh);
}

/* s in single quotes for a shell, in buf; what does not fit is cut (the message says where). */
static const char *shell_quoted(char *buf, size_t size, const char *s)
{
	size_t n = 0;

	buf[n++] = '\'';
	for (; *s && n + 6 < size; s++) {
		if (*s == '\'') {
			memcpy(buf + n, "'\\''", 4);
			n += 4;
		} else {
			buf[n++] = *s;
		}
	}
	buf[n++] = '\'';
	buf[n] = '\0';
	return buf;
}

/*
 * The source au recorded at "au mount add" is the inode the human chose:
 * a folder rebuilt or swapped in at the same path since (by the agent, from
 * a share it writes, or by anyone) is not it, and is not mounted. The fstat
 * is of the very fd that is bound below.
 */
static void check_source_identity(const struct su_mount *m, const struct stat *st)
{
	char src[PATH_MAX + 16], dst[PATH_MAX + 16];

	if ((unsigned long long)st->st_dev == m->dev && (unsigned long long)st->st_ino == m->ino)
		return;
	die("mount source '%s' is not the folder that was shared (device %llu, inode %llu at 'au mount "
	    "add'; device %llu, inode %llu now): if it is the one you mean, run: au mount remove %s && "
	    "au mount add%s %s %s", m->source, m->dev, m->ino, (unsigned long long)st->st_dev,
	    (unsigned long long)st->st_ino, shell_quoted(src, sizeof(src), m->source),
	    m->read_only ? "" : " --rw", src, shell_quoted(dst, sizeof(dst), m->target));
}

/*
 * A folder cannot be mounted on a file, nor a file on a folder; the kernel
 * says only EINVAL. The agent can put either in the way of a share, so name
 * the share and the command that removes it.
 */
static void check_share_types(const struct su_mount *m, int src_fd, int dst_fd)
{
	char hint[PATH_MAX + 128];
	struct stat src, dst;

	if (fstat(src_fd, &src) < 0 || fstat(dst_fd, &dst) < 0)
		die_errno("cannot stat '%s'", m->target);
	if (S_ISDIR(src.st_mode) == S_ISDIR(dst.st_mode))
		return;
	snprintf(hint, sizeof(hint), "move the agent's %s '%s' away, or remove the share: au mount remove -a %s %s",
		 S_ISDIR(dst.st_mode) ? "folder" : "file", m->target, AGENT_NAME, m->source);
	fail_with_hint(hint, "entrypoint: cannot share '%s' at '%s': the source is a %s and the target a %s",
		       m->source, m->target, S_ISDIR(src.st_mode) ? "folder" : "file",
		       S_ISDIR(dst.st_mode) ? "folder" : "file");
}

#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 0x00000001
#endif
#ifndef FSCONFIG_SET_STRING
#define FSCONFIG_SET_STRING 1
#endif
#ifndef FSCONFIG_CMD_CREATE
#define FSCONFIG_CMD_CREATE 6
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif

/*
 * A new, empty instance of fstype (options: NULL, or one "key=value") over
 * the directory path, nosuid and nodev, by fd; nothing when path does not
 * exist. Safe as root: path is a fixed one under /dev, which is root's, it is
 * opened without following any symlink, and the mount goes on that very
 * directory, in our private mount namespace only. Kernels before 5.2 (or a
 * seccomp filter that predates fsopen) get mount(2) on the fd's magic link.
 */
static void mount_fresh(const char *path, const char *fstype, const char *key, const char *value)
{
	char target[64], data[64];
	struct stat st;
	int dir, fs, mnt;

	dir = su_open_path(path, false, false, NULL, NULL);
	if (dir < 0) {
		if (errno == ENOENT)
			return;
		die_errno("cannot open '%s'", path);
	}
	if (fstat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		die("'%s' is not a directory", path);
	fs = (int)syscall(SYS_fsopen, fstype, FSOPEN_CLOEXEC);
	if (fs >= 0) {
		if ((key && syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, key, value, 0) < 0) ||
		    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
			die_errno("cannot make a new %s for '%s'", fstype, path);
		mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
		if (mnt < 0 || sys_move_mount(mnt, "", dir, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
			die_errno("cannot mount a new %s on '%s'", fstype, path);
		close(mnt);
		close(fs);
	} else if (errno == ENOSYS || errno == EPERM) {
		snprintf(target, sizeof(target), "/proc/self/fd/%d", dir);
		snprintf(data, sizeof(data), "%s=%s", key ? key : "", value ? value : "");
		if (mount(fstype, target, fstype, MS_NOSUID | MS_NODEV, key ? data : NULL) < 0)
			die_errno("cannot mount a new %s on '%s'", fstype, path);
	} else {
		die_errno("cannot make a new %s for '%s'", fstype, path);
	}
	close(dir);
}

/*
 * The new IPC namespace hides the human's SysV IPC objects and POSIX
 * message queues from the agent's calls; the file systems that show them
 * must be new too: a POSIX shared memory object or queue the human made
 * with mode 0666 is not the agent's to open.
 */
static void mount_ipc_file_systems(void)
{
	mount_fresh("/dev/shm", "tmpfs", "mode", "1777");
	mount_fresh("/dev/mqueue", "mqueue", NULL, NULL);
}

/*
 * The agent's view: a private copy of the mount table, with the shared
 * folders bound in and the protected paths made read-only. Only this
 * process's new namespace changes; the human's stays as it was.
 */
static void setup_mounts(const struct su_request *req)
{
	int src_fds[SU_MAX_MOUNTS];
	const char *path;
	struct stat st;
	bool pin;
	int home;

	if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC) < 0)
		die_errno("cannot create namespaces");
	/* Slave: the host's later mounts still reach us, ours never leave. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		die_errno("cannot make the mount namespace private");
	mount_ipc_file_systems();

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
		check_source_identity(&req->mounts[i], &st);
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
		check_share_types(m, src_fds[i], dst);
		bind_by_fd(src_fds[i], dst, parent, name, m->read_only, m->target);
		close(dst);
		close(parent);
		close(src_fds[i]);
	}

	for (int i = 0; su_next_protected(req, &i, &path, &pin);) {
		const char *name = NULL;
		int parent = -1, fd;

		fd = su_open_path(path, false, false, &parent, &name);
		if (fd < 0) {
			if (errno == ENOENT)
				continue; /* nothing there to protect */
			die_errno("cannot open protected path '%s'", path);
		}
		bind_by_fd(fd, fd, parent, name, !pin, path);
		close(fd);
		close(parent);
	}
	fs_identity(0, 0, false);
}

/* --- watching the read-write mounts (-W) --------------------------------- */

/*
 * What the agent changed in its read-write mounts, so that au can check
 * those places after the run instead of walking every folder. As root,
 * before the namespaces, a fanotify group gets a mark on each such mount's
 * whole file system (directory-entry events need an inode or a file system
 * mark; FAN_MARK_FILESYSTEM needs CAP_SYS_ADMIN). Events carry the folder's
 * file handle and the entry's name (FAN_REPORT_DFID_NAME), never an open
 * fd. The outer side keeps the distinct (folder, name) pairs in static
 * tables while the command runs (no heap), and at the end, as root again,
 * opens each folder by its handle, keeps only those inside a read-write
 * mount (walking ".." by fd to the mount's source), and passes each one's
 * O_PATH fd and names to au. Whatever it cannot account for (a full queue or
 * table, a link count change on a file that still has a name) is reported
 * as lost, and au then looks at everything.
 */
#define SU_WATCH_EVENTS (FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_ATTRIB | \
			 FAN_MODIFY | FAN_CLOSE_WRITE | FAN_ONDIR)
#define SU_WATCH_ARENA (16u << 20) /* handles and names */
#define SU_WATCH_SLOTS (1u << 18)  /* hash slots; half of them may be used */
#define SU_WATCH_KEY_MAX (sizeof(fsid_t) + sizeof(struct file_handle) + MAX_HANDLE_SZ)

struct su_watch_fs {
	fsid_t fsid;
	int mount_fd; /* a read-write mount's source: open_by_handle_at() interprets handles in it */
	dev_t dev;
};

struct su_watch_top {
	dev_t dev;
	ino_t ino; /* a read-write mount's source folder */
};

/* Arena records, 4-byte aligned. A key is fsid, then struct file_handle and its bytes. */
struct su_watch_dir {
	unsigned int next;  /* the next folder, in the order they came (arena offset, 0: none) */
	unsigned int names; /* its first name */
	unsigned int key_len;
	unsigned char key[];
};

struct su_watch_name {
	unsigned int dir;  /* its folder */
	unsigned int next; /* the folder's next name */
	unsigned int changes; /* enum su_change */
	unsigned int len;
	char name[];
};

/* A file whose link count changed, with no name to go by. */
struct su_watch_fid {
	unsigned int next;
	unsigned int key_len;
	unsigned char key[];
};

/* struct statx as the kernel lays it out (musl 1.2.3 has neither statx() nor <linux/stat.h> for it). */
struct su_statx {
	unsigned int mask, blksize;
	unsigned long long attributes;
	unsigned int nlink, uid, gid;
	unsigned short mode, pad1;
	unsigned long long ino, size, blocks, attributes_mask;
	struct {
		long long sec;
		unsigned int nsec;
		int pad;
	} atime, btime, ctime, mtime;
	unsigned long long rest[16]; /* devices, mount id, alignments, spare */
};
_Static_assert(sizeof(struct su_statx) == 256, "struct statx is 256 bytes");
#define SU_STATX_BTIME 0x800U
#ifndef SYS_statx
#define SYS_statx 332
#endif

static struct {
	int fd; /* the fanotify group, -1 when none */
	struct timespec started; /* on the clock file systems stamp with: what is born after is the run's */
	bool lost;
	struct su_watch_lost why;
	struct su_watch_fs fs[SU_MAX_MOUNTS];
	size_t nr_fs;
	struct su_watch_top tops[SU_MAX_MOUNTS];
	size_t nr_tops;
	unsigned int arena_used; /* offset 0 is never a record */
	unsigned int first_dir, last_dir, first_fid;
	unsigned int used_slots;
} watch = { .fd = -1, .arena_used = 4 };

static unsigned char watch_arena[SU_WATCH_ARENA] __attribute__((aligned(8)));
static unsigned int watch_slots[SU_WATCH_SLOTS]; /* arena offsets of dirs, names and fids */

static void watch_lose(unsigned reason, int error)
{
	if (watch.lost)
		return;
	watch.lost = true;
	watch.why.reason = reason;
	watch.why.error = error;
	/* Nothing more to learn: let the kernel stop queueing for us. */
	if (watch.fd >= 0)
		close(watch.fd);
	watch.fd = -1;
}

static unsigned watch_hash(unsigned h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u; /* FNV-1a */
	return h;
}

/* len bytes of the arena, 4-byte aligned; 0 when full (the watch is then lost). */
static unsigned watch_alloc(size_t len)
{
	unsigned off = watch.arena_used;

	len = (len + 3) & ~(size_t)3;
	if (len > SU_WATCH_ARENA - off || 2 * (watch.used_slots + 1) > SU_WATCH_SLOTS) {
		watch_lose(SU_LOST_OVERFLOW, 0);
		return 0;
	}
	watch.arena_used += (unsigned)len;
	watch.used_slots++;
	return off;
}

/* The slot for a record that equal() says is the one, or the empty slot where it goes. */
#define WATCH_FIND(hash, equal)                                                 \
	({                                                                      \
		unsigned _s = (hash) & (SU_WATCH_SLOTS - 1);                    \
		while (watch_slots[_s] && !(equal(watch_slots[_s])))            \
			_s = (_s + 1) & (SU_WATCH_SLOTS - 1);                   \
		_s;                                                             \
	})

static unsigned watch_dir(const unsigned char *key, unsigned key_len)
{
	struct su_watch_dir *d;
	unsigned h = watch_hash(2166136261u, key, key_len), off;
#define DIR_EQUAL(o) (((struct su_watch_dir *)(watch_arena + (o)))->key_len == key_len + 1 && \
		      !memcmp(((struct su_watch_dir *)(watch_arena + (o)))->key, key, key_len))
	unsigned slot = WATCH_FIND(h, DIR_EQUAL);
#undef DIR_EQUAL

	if (watch_slots[slot])
		return watch_slots[slot];
	off = watch_alloc(sizeof(*d) + key_len);
	if (!off)
		return 0;
	d = (struct su_watch_dir *)(watch_arena + off);
	d->next = 0;
	d->names = 0;
	d->key_len = key_len + 1; /* +1: never equal to a fid's or a name's length field by accident */
	memcpy(d->key, key, key_len);
	if (watch.last_dir)
		((struct su_watch_dir *)(watch_arena + watch.last_dir))->next = off;
	else
		watch.first_dir = off;
	watch.last_dir = off;
	watch_slots[slot] = off;
	return off;
}

static void watch_name(unsigned dir, const char *name, unsigned len, unsigned changes)
{
	struct su_watch_dir *d = (struct su_watch_dir *)(watch_arena + dir);
	struct su_watch_name *n;
	unsigned h = watch_hash(watch_hash(2166136261u, &dir, sizeof(dir)), name, len), off;
#define NAME_EQUAL(o) (((struct su_watch_name *)(watch_arena + (o)))->dir == dir && \
		       ((struct su_watch_name *)(watch_arena + (o)))->len == len && \
		       !memcmp(((struct su_watch_name *)(watch_arena + (o)))->name, name, len))
	unsigned slot = WATCH_FIND(h, NAME_EQUAL);
#undef NAME_EQUAL

	if (watch_slots[slot]) {
		((struct su_watch_name *)(watch_arena + watch_slots[slot]))->changes |= changes;
		return;
	}
	off = watch_alloc(sizeof(*n) + len);
	if (!off)
		return;
	n = (struct su_watch_name *)(watch_arena + off);
	n->dir = dir;
	n->changes = changes;
	n->len = len;
	memcpy(n->name, name, len);
	n->next = d->names;
	d->names = off;
	watch_slots[slot] = off;
}

static void watch_fid(const unsigned char *key, unsigned key_len)
{
	struct su_watch_fid *f;
	unsigned h = watch_hash(2166136261u ^ 0x5bd1e995u, key, key_len), off;
#define FID_EQUAL(o) (((struct su_watch_fid *)(watch_arena + (o)))->key_len == key_len + 2 && \
		      !memcmp(((struct su_watch_fid *)(watch_arena + (o)))->key, key, key_len))
	unsigned slot = WATCH_FIND(h, FID_EQUAL);
#undef FID_EQUAL

	if (watch_slots[slot])
		return;
	off = watch_alloc(sizeof(*f) + key_len);
	if (!off)
		return;
	f = (struct su_watch_fid *)(watch_arena + off);
	f->key_len = key_len + 2;
	memcpy(f->key, key, key_len);
	f->next = watch.first_fid;
	watch.first_fid = off;
	watch_slots[slot] = off;
}

static unsigned su_changes(unsigned long long mask)
{
	unsigned c = 0;

	if (mask & (FAN_CREATE | FAN_MOVED_TO))
		c |= SU_CHANGE_ADDED;
	if (mask & (FAN_DELETE | FAN_MOVED_FROM))
		c |= SU_CHANGE_REMOVED;
	if (mask & (FAN_MODIFY | FAN_CLOSE_WRITE))
		c |= SU_CHANGE_WRITTEN;
	if (mask & FAN_ATTRIB)
		c |= SU_CHANGE_ATTRIB;
	return c;
}

/* One event from the kernel: its folder and name, or the file alone. */
static void watch_event(const struct fanotify_event_metadata *m)
{
	const unsigned char *p = (const unsigned char *)m + m->metadata_len;
	const unsigned char *end = (const unsigned char *)m + m->event_len;
	const unsigned char *dir_key = NULL, *fid_key = NULL;
	unsigned dir_len = 0, fid_len = 0;
	const char *name = NULL;
	size_t name_len = 0;

	if (m->vers != FANOTIFY_METADATA_VERSION || (m->mask & FAN_Q_OVERFLOW)) {
		watch_lose(SU_LOST_OVERFLOW, 0);
		return;
	}
	while (end - p >= (ptrdiff_t)sizeof(struct fanotify_event_info_header)) {
		const struct fanotify_event_info_fid *info = (const void *)p;
		const struct file_handle *h = (const void *)info->handle;
		size_t len = info->hdr.len, key_len;

		if (len < sizeof(*info) + sizeof(*h) || len > (size_t)(end - p) ||
		    h->handle_bytes > MAX_HANDLE_SZ || sizeof(*info) + sizeof(*h) + h->handle_bytes > len) {
			watch_lose(SU_LOST_UNRESOLVED, EPROTO);
			return;
		}
		key_len = sizeof(info->fsid) + sizeof(*h) + h->handle_bytes;
		if (info->hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME) {
			const char *n = (const char *)h->f_handle + h->handle_bytes;
			size_t room = len - (sizeof(*info) + sizeof(*h) + h->handle_bytes);

			name_len = strnlen(n, room);
			if (name_len == room || name_len == 0 || name_len > 255) {
				watch_lose(SU_LOST_UNRESOLVED, EPROTO);
				return;
			}
			name = n;
			dir_key = (const unsigned char *)&info->fsid;
			dir_len = (unsigned)key_len;
		} else if (info->hdr.info_type == FAN_EVENT_INFO_TYPE_FID) {
			fid_key = (const unsigned char *)&info->fsid;
			fid_len = (unsigned)key_len;
		}
		p += len;
	}
	if (dir_key) {
		unsigned dir;

		/* "." is the folder's own attributes: its name in its parent says it all. */
		if (name_len == 1 && name[0] == '.')
			return;
		dir = watch_dir(dir_key, dir_len);
		if (dir)
			watch_name(dir, name, (unsigned)name_len, su_changes(m->mask));
	} else if (fid_key) {
		/* No name: a link count changed (link, unlink, a rename over it). */
		watch_fid(fid_key, fid_len);
	} else {
		watch_lose(SU_LOST_UNRESOLVED, EPROTO);
	}
}

/* Takes every queued event, without waiting. */
static void watch_drain(void)
{
	static char buf[65536] __attribute__((aligned(8)));

	while (watch.fd >= 0) {
		ssize_t n = read(watch.fd, buf, sizeof(buf));
		const struct fanotify_event_metadata *m = (const void *)buf;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				watch_lose(SU_LOST_OVERFLOW, errno);
			return;
		}
		if (n == 0)
			return;
		for (; FAN_EVENT_OK(m, n) && watch.fd >= 0; m = FAN_EVENT_NEXT(m, n))
			watch_event(m);
	}
}

/*
 * As root, before the namespaces: a fanotify mark on the file system of each
 * read-write mount. Failing here loses the watch, not the run: au then looks
 * at everything afterwards.
 */
static void watch_setup(const struct su_request *req)
{
	if (!req->watch)
		return;
	clock_gettime(CLOCK_REALTIME_COARSE, &watch.started);
	/* Why this is safe: a notification group only reads events; FAN_CLOEXEC, closed in init. */
	watch.fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME |
				 FAN_REPORT_FID, O_RDONLY | O_CLOEXEC | O_LARGEFILE);
	if (watch.fd < 0) {
		watch_lose(SU_LOST_UNAVAILABLE, errno);
		return;
	}
	for (size_t i = 0; i < req->nr_mounts && !watch.lost; i++) {
		const struct su_mount *m = &req->mounts[i];
		struct { struct file_handle h; unsigned char bytes[MAX_HANDLE_SZ]; } fh;
		struct statfs sfs;
		struct stat st;
		int path_fd, fd, mount_id;
		size_t f;

		if (m->read_only)
			continue;
		/*
		 * As the human, one component at a time without following a
		 * symlink: the same walk the mount itself does just after.
		 */
		fs_identity(CALLER_UID, getegid(), false);
		path_fd = su_open_path(m->source, false, false, NULL, NULL);
		fd = path_fd < 0 ? -1 : openat(path_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		fs_identity(0, 0, false);
		if (path_fd >= 0)
			close(path_fd);
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != CALLER_UID ||
		    fstatfs(fd, &sfs) < 0) {
			watch_lose(SU_LOST_UNAVAILABLE, errno);
			if (fd >= 0)
				close(fd);
			break;
		}
		fh.h.handle_bytes = MAX_HANDLE_SZ;
		if (name_to_handle_at(fd, "", &fh.h, &mount_id, AT_EMPTY_PATH) < 0) {
			watch_lose(SU_LOST_UNAVAILABLE, errno); /* a file system without handles */
			close(fd);
			break;
		}
		watch.tops[watch.nr_tops].dev = st.st_dev;
		watch.tops[watch.nr_tops++].ino = st.st_ino;
		for (f = 0; f < watch.nr_fs && memcmp(&watch.fs[f].fsid, &sfs.f_fsid, sizeof(sfs.f_fsid)); f++)
			;
		if (f < watch.nr_fs) {
			close(fd);
			continue;
		}
		/* Why this is safe: the mark only makes the kernel queue events for us to read. */
		if (fanotify_mark(watch.fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, SU_WATCH_EVENTS, fd, NULL) < 0) {
			watch_lose(SU_LOST_UNAVAILABLE, errno);
			close(fd);
			break;
		}
		watch.fs[f].fsid = sfs.f_fsid;
		watch.fs[f].mount_fd = fd;
		watch.fs[f].dev = st.st_dev;
		watch.nr_fs++;
	}
}

/* In init, before it becomes the agent: the watch's fds are the outer side's alone. */
static void watch_close_in_child(void)
{
	if (watch.fd >= 0)
		close(watch.fd);
	for (size_t i = 0; i < watch.nr_fs; i++)
		close(watch.fs[i].mount_fd);
}

/*
 * Waits until fd (init's status pipe) has something to read, draining the
 * watch meanwhile so that the kernel's queue never fills while the command
 * runs.
 */
static void watch_wait_for(int fd)
{
	struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN } };

	while (watch.fd >= 0) {
		pfd[1].fd = watch.fd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return; /* the read that follows waits */
		}
		if (pfd[1].revents)
			watch_drain();
		if (pfd[0].revents)
			return;
	}
}

static const struct su_watch_fs *watch_fs_of(const unsigned char *key)
{
	for (size_t i = 0; i < watch.nr_fs; i++) {
		if (!memcmp(&watch.fs[i].fsid, key, sizeof(fsid_t)))
			return &watch.fs[i];
	}
	return NULL;
}

/* The object a recorded key names, opened O_PATH by its handle; -1 when it is gone. */
static int watch_open(const unsigned char *key, unsigned key_len, int flags)
{
	struct { struct file_handle h; unsigned char bytes[MAX_HANDLE_SZ]; } fh;
	const struct su_watch_fs *fs = watch_fs_of(key);

	if (!fs || key_len < sizeof(fsid_t) + sizeof(struct file_handle) ||
	    key_len - sizeof(fsid_t) > sizeof(fh))
		return -1;
	memcpy(&fh, key + sizeof(fsid_t), key_len - sizeof(fsid_t));
	/*
	 * Why this is safe: CAP_DAC_READ_SEARCH opens any object of the file
	 * system by handle, so what we open here never reaches au until the
	 * ancestry check says it is inside a read-write mount; O_PATH reads
	 * nothing.
	 */
	return open_by_handle_at(fs->mount_fd, &fh.h, flags | O_PATH | O_CLOEXEC);
}

/*
 * Whether the folder open at fd is one of the mounts' sources or below one,
 * by walking ".." by fd: 1 inside, 0 outside (the top of its file system was
 * reached), -1 when that cannot be told (an error, or deeper than we walk:
 * the agent can make a folder of any depth), which fails closed: the watch
 * is lost, and au looks everywhere.
 */
static int watch_inside(int fd)
{
	int cur = dup(fd);
	int verdict = -1;

	for (int depth = 0; cur >= 0 && depth < PATH_MAX / 2; depth++) {
		struct stat st, up_st;
		int up;

		if (fstat(cur, &st) < 0)
			break;
		for (size_t i = 0; i < watch.nr_tops; i++) {
			if (watch.tops[i].dev == st.st_dev && watch.tops[i].ino == st.st_ino) {
				close(cur);
				return 1;
			}
		}
		up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (up < 0 || fstat(up, &up_st) < 0) {
			if (up >= 0)
				close(up);
			break;
		}
		if (up_st.st_dev != st.st_dev || up_st.st_ino == st.st_ino) {
			close(up);
			verdict = 0; /* the top of the file system: outside */
			break;
		}
		close(cur);
		cur = up;
	}
	if (cur >= 0)
		close(cur);
	return verdict;
}

/* Sends one folder's names, as many messages as they need, each with the folder's fd. */
static void watch_send_dir(const struct su_request *req, int dir_fd, const struct su_watch_dir *d)
{
	static unsigned char buf[SU_REPORT_MAX - sizeof(struct su_report_header)];
	size_t used = 0;

	for (unsigned off = d->names; off;) {
		const struct su_watch_name *n = (const struct su_watch_name *)(watch_arena + off);
		struct su_report_name rn = { n->changes, n->len };

		if (used + sizeof(rn) + n->len > sizeof(buf)) {
			report_fd(req, SU_REPORT_CHANGED, buf, (unsigned)used, dir_fd);
			used = 0;
		}
		memcpy(buf + used, &rn, sizeof(rn));
		memcpy(buf + used + sizeof(rn), n->name, n->len);
		used += sizeof(rn) + n->len;
		off = n->next;
	}
	if (used)
		report_fd(req, SU_REPORT_CHANGED, buf, (unsigned)used, dir_fd);
}

/*
 * The link count, the mode and, where the file system keeps it, the birth
 * time of fd. Where statx is refused (before Linux 4.11, or a seccomp
 * policy that does not know it), fstat: no birth time, so the file counts
 * as one that was there before the run, and au checks everywhere: slower,
 * never blind.
 */
static int watch_statx(int fd, struct su_statx *sx)
{
	struct stat st;

	if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, SU_STATX_BTIME, sx) == 0)
		return 0;
	if (errno != ENOSYS && errno != EPERM)
		return -1;
	if (fstat(fd, &st) < 0)
		return -1;
	memset(sx, 0, sizeof(*sx));
	sx->nlink = (unsigned int)st.st_nlink;
	sx->mode = (unsigned short)st.st_mode;
	return 0;
}

/*
 * At the end, on the outer side: the last events, then, as root for
 * open_by_handle_at() (regain_root()), what changed inside the read-write
 * mounts goes to au. drop_to_caller() gives root up for good right after.
 */
static void watch_report(const struct su_request *req)
{
	if (!req->watch)
		return;
	watch_drain();
	/* As root (regain_root()), which is safe: the handles are the kernel's, and every fd is checked inside. */
	/*
	 * A link count changed on a file that still has a name and was there
	 * before the run: a hard link was made to it (or one of its names
	 * went), and what is written through one name shows under the other
	 * in no event. Files born during the run (git writes each object
	 * under a temporary name and links it into place) have all their
	 * names in the events.
	 */
	for (unsigned off = watch.first_fid; off && !watch.lost;) {
		const struct su_watch_fid *f = (const struct su_watch_fid *)(watch_arena + off);
		int fd = watch_open(f->key, f->key_len - 2, 0);
		struct su_statx sx;

		if (fd >= 0 && watch_statx(fd, &sx) == 0 && sx.nlink > 0 && !S_ISDIR(sx.mode) &&
		    (!(sx.mask & SU_STATX_BTIME) || sx.btime.sec < watch.started.tv_sec ||
		     (sx.btime.sec == watch.started.tv_sec && sx.btime.nsec < watch.started.tv_nsec)))
			watch_lose(SU_LOST_LINK, 0);
		if (fd >= 0)
			close(fd);
		off = f->next;
	}
	for (unsigned off = watch.first_dir; off && !watch.lost;) {
		const struct su_watch_dir *d = (const struct su_watch_dir *)(watch_arena + off);
		int fd = watch_open(d->key, d->key_len - 1, O_DIRECTORY);

		/* Gone (ESTALE): what was in it and still exists was moved, and reported where it went. */
		if (fd < 0 && errno != ESTALE && errno != ENOENT)
			watch_lose(SU_LOST_UNRESOLVED, errno);
		if (fd >= 0) {
			int inside = watch_inside(fd);

			if (inside < 0)
				watch_lose(SU_LOST_UNRESOLVED, 0);
			else if (inside)
				watch_send_dir(req, fd, d);
		}
		if (fd >= 0)
			close(fd);
		off = d->next;
	}
	if (watch.lost)
		report(req, SU_REPORT_WATCH_LOST, &watch.why, sizeof(watch.why));
	else
		report(req, SU_REPORT_WATCH_END, NULL, 0);
}

/* --- the run's cgroup ---------------------------------------------------- */

/*
 * Every run lives in a cgroup of its own, out of the human's login session
 * (logind and polkit count the processes of a session's cgroup as the human
 * at the console), where its limits apply and its usage is counted. The
 * setuid switch alone moves no process to another cgroup.
 *
 * With systemd as init, the cgroup tree is systemd's, and nobody else may
 * create cgroups in it (systemd's CGROUP_DELEGATION.md). au, unprivileged,
 * asks the human's user manager for a transient scope with the limits and
 * starts us in it; we only verify the placement and the limits, and refuse
 * when either is wrong (cgroup_verify_scope).
 *
 * Without systemd we make the cgroup ourselves, under a name the caller
 * cannot choose (firejail removed --cgroup for letting it): au/AGENT/RUN
 * below the root of each hierarchy, RUN made of our pid and random bits, so
 * that concurrent runs never meet. On cgroup v2; on machines with cgroup v1
 * controllers, the same in each of their hierarchies, as nsjail does. The
 * outer side removes it at the end of the run, and a sweeper process
 * whenever the outer side cannot: when it was killed, or with -k, once the
 * processes kept have ended.
 */

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#define SU_CGROUP_FS "/sys/fs/cgroup"
#define SU_CGROUP_TOP "au"            /* au/AGENT/RUN */
#define SU_MAX_HIERARCHIES 8
#define SU_CPU_PERIOD_USEC 100000ULL

/* The run's cgroup in one hierarchy; fds are O_RDONLY|O_DIRECTORY, -1 when not open. */
struct su_hierarchy {
	bool v2;
	dev_t dev;
	int root_fd, top_fd, agent_fd, run_fd;
};

static struct {
	struct su_hierarchy h[SU_MAX_HIERARCHIES];
	size_t nr;
	char run[64];     /* RUN */
	int scope_fd;     /* with systemd: the scope au started us in */
	int sweeper_fd;   /* our end of the sweeper's pipe */
} cgroup = { .nr = 0, .scope_fd = -1, .sweeper_fd = -1 };

/*
 * Writes value to an interface file of a cgroup open at dir. Safe as root:
 * dir is one of the cgroups named above (made by root in a root-owned tree,
 * checked root-owned), file a fixed name, and cgroupfs has no symlinks.
 */
static int cgroup_write(int dir, const char *file, const char *value)
{
	size_t len = strlen(value);
	int fd = openat(dir, file, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;
	int saved;

	if (fd < 0)
		return -1;
	n = write(fd, value, len);
	saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)len ? 0 : -1;
}

/* The file's text, NUL-terminated and cut to size; -1 when it cannot be read. */
static ssize_t cgroup_read(int dir, const char *file, char *buf, size_t size)
{
	int fd = openat(dir, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* A file of one number, such as memory.peak; false when absent or "max". */
static bool cgroup_read_number(int dir, const char *file, unsigned long long *out)
{
	char buf[64];
	ssize_t n = cgroup_read(dir, file, buf, sizeof(buf));

	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return n > 0 && parse_number(buf, 0, ~0ULL, out);
}

/* The value of key in a file of "key value" lines, such as cpu.stat. */
static bool cgroup_read_key(int dir, const char *file, const char *key, unsigned long long *out)
{
	char buf[4096];
	size_t klen = strlen(key);

	if (cgroup_read(dir, file, buf, sizeof(buf)) < 0)
		return false;
	for (char *line = buf; *line;) {
		char *end = strchr(line, '\n');

		if (end)
			*end = '\0';
		if (!strncmp(line, key, klen) && line[klen] == ' ')
			return parse_number(line + klen + 1, 0, ~0ULL, out);
		if (!end)
			break;
		line = end + 1;
	}
	return false;
}

/* word is one of the space-separated words of list (cgroup.controllers). */
static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || !p[n]))
			return true;
	}
	return false;
}

static bool on_fs(int fd, unsigned long magic)
{
	struct statfs sf;

	return fstatfs(fd, &sf) == 0 && (unsigned long)sf.f_type == magic;
}

/* systemd is init: what sd_booted() checks. /run is root's. */
static bool systemd_booted(void)
{
	struct stat st;

	return lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

/* Takes fd, the root of a hierarchy, unless the same one is in already (cpu and cpuacct mounted together). */
static void cgroup_add_hierarchy(int fd, bool v2)
{
	struct su_hierarchy *h;
	struct stat st;

	if (fstat(fd, &st) < 0 || st.st_uid != 0 || cgroup.nr == SU_MAX_HIERARCHIES) {
		close(fd); /* not root's to use (a container's), or one too many */
		return;
	}
	for (size_t i = 0; i < cgroup.nr; i++) {
		if (cgroup.h[i].dev == st.st_dev) {
			close(fd);
			return;
		}
	}
	h = &cgroup.h[cgroup.nr++];
	h->v2 = v2;
	h->dev = st.st_dev;
	h->root_fd = fd;
	h->top_fd = h->agent_fd = h->run_fd = -1;
}

/*
 * The hierarchies mounted at /sys/fs/cgroup: the v2 one (there, or at
 * "unified" beside v1 ones), and the v1 ones the run needs: memory and pids
 * (limits and peaks), cpu for a quota, cpuacct for CPU time where v2's
 * cpu.stat is missing, and those that track login sessions (elogind's, and
 * systemd's name on machines without systemd). These names are followed (cpu
 * may be a link to cpu,cpuacct): /sys/fs/cgroup is root's own, and each one
 * is checked to be a cgroup file system.
 */
static void cgroup_find_hierarchies(bool cpu)
{
	static const char *const v1_names[] = { "memory", "pids", "cpu", "cpuacct", "elogind", "systemd" };
	struct stat st;
	int top, fd;

	top = open(SU_CGROUP_FS, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top < 0)
		return; /* no cgroups to be had */
	if (fstat(top, &st) < 0 || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))
		die("'" SU_CGROUP_FS "' is not root's alone");
	if (on_fs(top, CGROUP2_SUPER_MAGIC)) {
		cgroup_add_hierarchy(top, true);
		return;
	}
	fd = openat(top, "unified", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && on_fs(fd, CGROUP2_SUPER_MAGIC))
		cgroup_add_hierarchy(fd, true);
	else if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < sizeof(v1_names) / sizeof(v1_names[0]); i++) {
		if ((!cpu && !strcmp(v1_names[i], "cpu")) || (cgroup.nr && !strcmp(v1_names[i], "cpuacct")))
			continue;
		fd = openat(top, v1_names[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0 && on_fs(fd, CGROUP_SUPER_MAGIC))
			cgroup_add_hierarchy(fd, false);
		else if (fd >= 0)
			close(fd);
	}
	close(top);
}

/*
 * Opens name in dir, making it first (fresh: it must not exist). Only root
 * can make a directory there (the hierarchy's root is root's), and only a
 * root-owned one is used.
 */
static int cgroup_subdir(int dir, const char *name, bool fresh)
{
	struct stat st;
	int fd;

	if (mkdirat(dir, name, 0755) < 0 && (errno != EEXIST || fresh))
		return -1;
	fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || st.st_uid != 0)
		die("cgroup '%s' is not root's", name);
	return fd;
}

/*
 * On v2, a controller acts in a cgroup only when every parent enables it
 * for its children. memory and pids always (their peaks are the usage
 * report), cpu when a quota is asked for. The parents have no processes of
 * their own, as v2 requires.
 */
static int cgroup_enable_controllers(int dir, bool cpu)
{
	static const char *const names[] = { "memory", "pids", "cpu" };
	char have[512], enabled[512], op[16];

	if (cgroup_read(dir, "cgroup.controllers", have, sizeof(have)) < 0 ||
	    cgroup_read(dir, "cgroup.subtree_control", enabled, sizeof(enabled)) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((!cpu && !strcmp(names[i], "cpu")) || !has_word(have, names[i]) || has_word(enabled, names[i]))
			continue;
		snprintf(op, sizeof(op), "+%s", names[i]);
		if (cgroup_write(dir, "cgroup.subtree_control", op) < 0)
			return -1;
	}
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Lets go of every hierarchy (what was made stays). */
static void cgroup_forget(void)
{
	for (size_t i = 0; i < cgroup.nr; i++) {
		close_fd(&cgroup.h[i].run_fd);
		close_fd(&cgroup.h[i].agent_fd);
		close_fd(&cgroup.h[i].top_fd);
		close_fd(&cgroup.h[i].root_fd);
	}
	cgroup.nr = 0;
}

/*
 * au/AGENT/RUN in one hierarchy. -1 with errno; ENOENT or ENODEV when a
 * concurrent run removed a parent meanwhile.
 */
static int cgroup_create_in(struct su_hierarchy *h, bool cpu)
{
	if (h->v2 && cgroup_enable_controllers(h->root_fd, cpu) < 0)
		return -1;
	if ((h->top_fd = cgroup_subdir(h->root_fd, SU_CGROUP_TOP, false)) < 0)
		return -1;
	if (h->v2 && cgroup_enable_controllers(h->top_fd, cpu) < 0)
		return -1;
	if ((h->agent_fd = cgroup_subdir(h->top_fd, AGENT_NAME, false)) < 0)
		return -1;
	if (h->v2 && cgroup_enable_controllers(h->agent_fd, cpu) < 0)
		return -1;
	if ((h->run_fd = cgroup_subdir(h->agent_fd, cgroup.run, true)) < 0)
		return -1;
	return 0;
}


static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Removes RUN (once its last process is gone), then AGENT and au when no
 * other run uses them, in every hierarchy. What is left in RUN is killed
 * first on v2 (cgroup.kill, Linux 5.14); on v1, and before 5.14, nothing can
 * be left: every process of the run is in its PID namespace, whose end
 * killed them all, and no process can be moved into a root-owned cgroup
 * but by root. Never kill by pid from cgroup.procs: a pid may be reused.
 */
static void cgroup_remove(void)
{
	for (size_t i = 0; i < cgroup.nr; i++) {
		struct su_hierarchy *h = &cgroup.h[i];

		if (h->run_fd >= 0 && h->v2)
			cgroup_write(h->run_fd, "cgroup.kill", "1");
	}
	for (size_t i = 0; i < cgroup.nr; i++) {
		struct su_hierarchy *h = &cgroup.h[i];

		if (h->run_fd >= 0) {
			/* A task killed a moment ago may still be leaving it (EBUSY). */
			for (int tries = 0; unlinkat(h->agent_fd, cgroup.run, AT_REMOVEDIR) < 0 &&
					    errno == EBUSY && tries < 100; tries++)
				sleep_ms(10);
		}
		if (h->agent_fd >= 0)
			unlinkat(h->top_fd, AGENT_NAME, AT_REMOVEDIR);
		if (h->top_fd >= 0)
			unlinkat(h->root_fd, SU_CGROUP_TOP, AT_REMOVEDIR);
		close_fd(&h->run_fd);
		close_fd(&h->agent_fd);
		close_fd(&h->top_fd);
	}
}

/* RUN holds no process (or is gone) in any hierarchy. */
static bool cgroup_empty(void)
{
	char buf[16];

	for (size_t i = 0; i < cgroup.nr; i++) {
		if (cgroup.h[i].run_fd >= 0 && cgroup_read(cgroup.h[i].run_fd, "cgroup.procs", buf, sizeof(buf)) > 0)
			return false;
	}
	return true;
}

/* RUN: our pid, which no other live run has, and random bits against a pid reused in another PID namespace. */
static void cgroup_name_run(void)
{
	unsigned int bits = 0;

	if (getrandom(&bits, sizeof(bits), GRND_NONBLOCK) != (ssize_t)sizeof(bits)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		bits = (unsigned int)ts.tv_nsec;
	}
	snprintf(cgroup.run, sizeof(cgroup.run), "run-%d-%08x", (int)getpid(), bits);
}

/*
 * RUN in every hierarchy, or none: a concurrent run that removes AGENT or au
 * between our mkdir and our use of it makes us start again. Returns false
 * when cgroups cannot be made here at all (read-only, a container's).
 */
static bool cgroup_create(bool cpu)
{
	for (int attempt = 0;; attempt++) {
		size_t made = 0;
		int saved;

		cgroup_name_run();
		while (made < cgroup.nr && cgroup_create_in(&cgroup.h[made], cpu) == 0)
			made++;
		if (made == cgroup.nr)
			return true;
		saved = errno;
		cgroup_remove();
		if (saved == EROFS || saved == EACCES || saved == EPERM)
			return false;
		if ((saved != ENOENT && saved != ENODEV && saved != EEXIST) || attempt == 10) {
			errno = saved;
			die_errno("cannot create the run's cgroup");
		}
	}
}

/* Writes a limit; false when this hierarchy has no such controller. */
static bool cgroup_limit(int dir, const char *file, unsigned long long value)
{
	char text[32];

	snprintf(text, sizeof(text), "%llu", value);
	if (cgroup_write(dir, file, text) == 0)
		return true;
	if (errno != ENOENT)
		die_errno("cannot set '%s' of the run's cgroup", file);
	return false;
}

/*
 * Memory without swap (or the limit would leak into it), a CPU quota, a
 * task count. On v2, memory.oom.group stays 0: out of memory, the kernel
 * kills the biggest process, not the whole run with the agent's own runtime.
 */
static void cgroup_set_limits(const struct su_request *req)
{
	unsigned long long quota = req->cpu_percent * SU_CPU_PERIOD_USEC / 100;
	bool memory = false, cpu = false;

	for (size_t i = 0; i < cgroup.nr; i++) {
		const struct su_hierarchy *h = &cgroup.h[i];
		int dir = h->run_fd;

		if (h->v2) {
			if (req->memory_max && cgroup_limit(dir, "memory.max", req->memory_max)) {
				memory = true;
				cgroup_limit(dir, "memory.swap.max", 0);
			}
			cgroup_write(dir, "memory.oom.group", "0");
			if (req->cpu_percent) {
				char text[64];

				snprintf(text, sizeof(text), "%llu %llu", quota, SU_CPU_PERIOD_USEC);
				if (cgroup_write(dir, "cpu.max", text) == 0)
					cpu = true;
				else if (errno != ENOENT)
					die_errno("cannot set 'cpu.max' of the run's cgroup");
			}
		} else {
			if (req->memory_max && cgroup_limit(dir, "memory.limit_in_bytes", req->memory_max)) {
				memory = true;
				/* Without swap accounting (swapaccount=0), the next best thing. */
				if (!cgroup_limit(dir, "memory.memsw.limit_in_bytes", req->memory_max))
					cgroup_limit(dir, "memory.swappiness", 0);
			}
			if (req->cpu_percent && cgroup_limit(dir, "cpu.cfs_period_us", SU_CPU_PERIOD_USEC))
				cpu = cgroup_limit(dir, "cpu.cfs_quota_us", quota);
		}
		if (req->tasks_max)
			cgroup_limit(dir, "pids.max", req->tasks_max);
	}
	/* A tasks limit holds without a pids controller: RLIMIT_NPROC (limit_agent). */
	if (req->memory_max && !memory)
		die("cannot limit memory: no cgroup memory controller here");
	if (req->cpu_percent && !cpu)
		die("cannot limit CPU time: no cgroup cpu controller here");
}

/*
 * A root process of its own, out of every namespace of the run, that
 * removes the run's cgroups once they are empty, whenever the outer side
 * cannot: it was killed, it failed, or (-k) it left processes running. It
 * wakes when the last holder of the pipe's other end, the outer side, ends.
 */
__attribute__((noreturn))
static void cgroup_sweep(const struct su_request *req, int wake_fd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	char byte;

	/* Nothing of au's: its pipes, terminal and report channel must close with the outer side. */
	if (null < 0)
		_exit(SU_EXIT_SELF);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	if (req->report)
		close(SU_REPORT_FD);
	/* Nor the proxy's channel, which au reads to its end. */
	if (req->net == SU_NET_MODE_PROXY)
		close(SU_NET_FD);
	setsid(); /* no signal from the human's terminal */
	while (read(wake_fd, &byte, 1) < 0 && errno == EINTR)
		;
	for (unsigned ms = 10; !cgroup_empty(); ms = ms < 1000 ? ms * 2 : 1000)
		sleep_ms(ms);
	cgroup_remove();
	_exit(0);
}

static void cgroup_start_sweeper(const struct su_request *req)
{
	int wake[2];
	pid_t pid;

	if (pipe2(wake, O_CLOEXEC) < 0)
		die_errno("cannot create a pipe");
	pid = fork();
	if (pid < 0)
		die_errno("cannot fork");
	if (pid == 0) {
		close(wake[1]);
		cgroup_sweep(req, wake[0]);
	}
	close(wake[0]);
	cgroup.sweeper_fd = wake[1];
}

/* A component of path is a login session's scope (logind's "session-N.scope"). */
static bool in_session_scope(const char *path)
{
	for (const char *c = path; (c = strstr(c, "/session-")); c++) {
		const char *end = strchr(c + 1, '/');
		size_t n = end ? (size_t)(end - c) : strlen(c);

		if (n > 6 && !strncmp(c + n - 6, ".scope", 6))
			return true;
	}
	return false;
}

/* The scope's name au chose: "au-AGENT-HEX.scope". */
static bool our_scope_name(const char *name)
{
	static const char prefix[] = "au-" AGENT_NAME "-";
	size_t len = strlen(name), n = sizeof(prefix) - 1;

	if (strncmp(name, prefix, n) || len < n + 7 || strcmp(name + len - 6, ".scope"))
		return false;
	for (const char *p = name + n; p < name + len - 6; p++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	}
	return true;
}

/* A limit found in the scope is at most what was asked for. */
static void check_scope_limit(int dir, const char *file, unsigned long long asked, const char *what)
{
	unsigned long long found;

	if (!cgroup_read_number(dir, file, &found) || found > asked)
		die("the systemd scope does not limit %s as asked: is its controller delegated to your user manager?", what);
}

/*
 * With systemd: au asked the human's user manager for a scope with the
 * limits and started us in it. We check it, by reading only: our cgroup v2
 * is "au-AGENT-HEX.scope" below user@CALLER.service, no hierarchy has us in
 * a login session's scope, and each limit asked for is there.
 */
static void cgroup_verify_scope(const struct su_request *req)
{
	char text[8192], expected[128], *path = NULL, *line, *leaf;
	size_t len = 0;
	ssize_t n;
	int fd, dir;

	fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die_errno("cannot read /proc/self/cgroup");
	while ((n = read(fd, text + len, sizeof(text) - 1 - len)) > 0)
		len += (size_t)n;
	if (n < 0 || len == 0 || len == sizeof(text) - 1)
		die("cannot read /proc/self/cgroup whole");
	close(fd);
	text[len] = '\0';
	for (line = text; *line;) {
		char *end = strchr(line, '\n');

		if (end)
			*end = '\0';
		for (const char *p = line; *p; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				die("/proc/self/cgroup names a cgroup with control characters");
		}
		if (in_session_scope(line))
			die("started in a login session's cgroup (%s), not in a scope of its own", line);
		if (!strncmp(line, "0::", 3))
			path = line + 3;
		if (!end)
			break;
		line = end + 1;
	}
	snprintf(expected, sizeof(expected), "/user.slice/user-%u.slice/user@%u.service/",
		 (unsigned)CALLER_UID, (unsigned)CALLER_UID);
	leaf = path ? strrchr(path, '/') : NULL;
	if (!path || strncmp(path, expected, strlen(expected)) || !normal_path(path) || !our_scope_name(leaf + 1))
		die("not started in a systemd scope of its own (cgroup v2 '%s')", path ? path : "none");

	cgroup_find_hierarchies(false);
	dir = -1;
	for (size_t i = 0; i < cgroup.nr; i++) {
		if (cgroup.h[i].v2)
			dir = fcntl(cgroup.h[i].root_fd, F_DUPFD_CLOEXEC, 0);
	}
	cgroup_forget(); /* nothing to make here: the tree is systemd's */
	if (dir < 0)
		die("no cgroup v2 hierarchy at " SU_CGROUP_FS);
	/* Walk down the scope's path, component by component, following nothing. */
	for (char *c = path + 1; *c;) {
		char *slash = strchr(c, '/');
		int next;

		if (slash)
			*slash = '\0';
		next = openat(dir, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			die_errno("cannot open the scope's cgroup");
		close(dir);
		dir = next;
		if (!slash)
			break;
		c = slash + 1;
	}
	if (req->memory_max) {
		check_scope_limit(dir, "memory.max", req->memory_max, "memory");
		check_scope_limit(dir, "memory.swap.max", 0, "swap");
	}
	if (req->tasks_max)
		check_scope_limit(dir, "pids.max", req->tasks_max, "tasks");
	if (req->cpu_percent) {
		unsigned long long quota, period;
		char cpu_max[64], *space;

		if (cgroup_read(dir, "cpu.max", cpu_max, sizeof(cpu_max)) < 0 || !(space = strchr(cpu_max, ' ')))
			die("the systemd scope does not limit CPU time as asked");
		*space = '\0';
		space[strcspn(space + 1, "\n") + 1] = '\0';
		if (!parse_number(cpu_max, 1, ~0ULL / 100, &quota) || !parse_number(space + 1, 1, ~0ULL, &period) ||
		    quota * 100 > req->cpu_percent * period)
			die("the systemd scope does not limit CPU time as asked");
	}
	cgroup.scope_fd = dir;
}

/*
 * Before the namespaces: the run's cgroup, verified (systemd) or made, with
 * its limits. Where no cgroup can be had at all, a run without limits goes
 * on: nobody tracks sessions by cgroup there either.
 */
static void setup_cgroup(const struct su_request *req)
{
	bool limits = req->memory_max || req->cpu_percent;

	if (systemd_booted()) {
		cgroup_verify_scope(req);
		return;
	}
	for (const char *p = AGENT_NAME; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			die("the agent's name is not fit for a cgroup");
	}
	cgroup_find_hierarchies(req->cpu_percent != 0);
	if (cgroup.nr && !cgroup_create(req->cpu_percent != 0))
		cgroup_forget();
	if (!cgroup.nr) {
		if (limits)
			die("cannot limit memory or CPU time: no cgroup can be made here");
		return;
	}
	cgroup_start_sweeper(req);
	cgroup_set_limits(req);
}

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* clone3's arguments (Linux 5.3), up to cgroup (5.7); spelled out for musl. */
struct su_clone_args {
	unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
	unsigned long long set_tid, set_tid_size, cgroup;
};

/*
 * fork(), but on v2 straight into the run's cgroup (clone3 with
 * CLONE_INTO_CGROUP): the child never runs a moment outside it. *placed
 * says so, in both processes. Older kernels get a plain fork, and the child
 * moves itself (cgroup_enter). The child of a raw clone3 must not use what
 * relies on the C library's idea of its thread id (raise, abort); init never
 * does, and what it forks comes from fork() again.
 */
static pid_t fork_into_cgroup(bool *placed)
{
	*placed = false;
	for (size_t i = 0; i < cgroup.nr; i++) {
		struct su_clone_args args = { 0 };
		long pid;

		if (!cgroup.h[i].v2)
			continue;
		args.flags = CLONE_INTO_CGROUP;
		args.exit_signal = SIGCHLD;
		args.cgroup = (unsigned long long)cgroup.h[i].run_fd;
		pid = syscall(SYS_clone3, &args, sizeof(args));
		if (pid >= 0) {
			*placed = true;
			return (pid_t)pid;
		}
		/* Before 5.7 (5.3 for clone3 itself), or a seccomp filter that predates it. */
		if (errno != ENOSYS && errno != E2BIG && errno != EINVAL && errno != EPERM)
			die_errno("cannot start init in the run's cgroup");
		break;
	}
	return fork();
}

/*
 * In init, still root, before anything of the agent's runs: into the run's
 * cgroup in every hierarchy not done by clone3 (writing 0 moves the writer),
 * then none of the cgroup fds is kept, and a cgroup namespace rooted there,
 * so that the agent's /proc/self/cgroup names nothing of the host's.
 */
static void cgroup_enter(bool placed_v2)
{
	for (size_t i = 0; i < cgroup.nr; i++) {
		struct su_hierarchy *h = &cgroup.h[i];

		if (!(h->v2 && placed_v2) && cgroup_write(h->run_fd, "cgroup.procs", "0") < 0)
			die_errno("cannot enter the run's cgroup");
	}
	cgroup_forget();
	close_fd(&cgroup.scope_fd);
	close_fd(&cgroup.sweeper_fd);
	if (unshare(CLONE_NEWCGROUP) < 0 && errno != EINVAL)
		die_errno("cannot create a cgroup namespace");
}

/* What the run used, from its cgroup: the first hierarchy that has each figure. */
static void cgroup_read_usage(struct su_usage *u)
{
	long ticks = sysconf(_SC_CLK_TCK);

	for (size_t i = 0; i <= cgroup.nr; i++) {
		bool v2 = i == cgroup.nr ? true : cgroup.h[i].v2;
		int dir = i == cgroup.nr ? cgroup.scope_fd : cgroup.h[i].run_fd;
		unsigned long long n, user, system;

		if (dir < 0)
			continue;
		if (!(u->measured & SU_USAGE_CPU) && v2 && cgroup_read_key(dir, "cpu.stat", "usage_usec", &u->cpu_usec)) {
			u->measured |= SU_USAGE_CPU;
			if (cgroup_read_key(dir, "cpu.stat", "user_usec", &u->user_usec) &&
			    cgroup_read_key(dir, "cpu.stat", "system_usec", &u->system_usec))
				u->measured |= SU_USAGE_CPU_SPLIT;
		}
		if (!(u->measured & SU_USAGE_CPU) && !v2 && cgroup_read_number(dir, "cpuacct.usage", &n)) {
			u->measured |= SU_USAGE_CPU;
			u->cpu_usec = n / 1000;
			if (ticks > 0 && cgroup_read_key(dir, "cpuacct.stat", "user", &user) &&
			    cgroup_read_key(dir, "cpuacct.stat", "system", &system)) {
				u->user_usec = user * 1000000ULL / (unsigned long long)ticks;
				u->system_usec = system * 1000000ULL / (unsigned long long)ticks;
				u->measured |= SU_USAGE_CPU_SPLIT;
			}
		}
		if (!(u->measured & SU_USAGE_MEMORY) &&
		    cgroup_read_number(dir, v2 ? "memory.peak" : "memory.max_usage_in_bytes", &u->memory_peak))
			u->measured |= SU_USAGE_MEMORY;
		if (!(u->measured & SU_USAGE_OOM) &&
		    cgroup_read_key(dir, v2 ? "memory.events" : "memory.oom_control", "oom_kill", &u->oom_kills))
			u->measured |= SU_USAGE_OOM;
		if (!(u->measured & SU_USAGE_TASKS) && cgroup_read_number(dir, "pids.peak", &u->tasks_peak))
			u->measured |= SU_USAGE_TASKS;
		if (i < cgroup.nr)
			u->placement |= v2 ? SU_PLACED_V2 : SU_PLACED_V1;
		else
			u->placement |= SU_PLACED_SYSTEMD;
	}
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

/* --- the agent's keyring and resource limits ----------------------------- */

#define SU_KEYCTL_GET_KEYRING_ID 0
#define SU_KEYCTL_JOIN_SESSION_KEYRING 1
#define SU_KEY_SPEC_SESSION_KEYRING (-3)

/* The session keyring this process possesses (create nothing), or -1. */
static long session_keyring(void)
{
	return syscall(SYS_keyctl, SU_KEYCTL_GET_KEYRING_ID, SU_KEY_SPEC_SESSION_KEYRING, 0L, 0L, 0L);
}

/*
 * After the drop, as the agent: a new session keyring of its own, as
 * pam_keyinit's "force revoke" gives a login (sudo and su get one from PAM;
 * we have no PAM). The caller's session keyring, joined at login and
 * inherited through exec, and the user keyring linked into it, are no
 * longer possessed: their keys cannot be searched, read or used. Then prove
 * it against the caller's keyring, read before the drop.
 */
static void new_session_keyring(long callers)
{
	long ring = syscall(SYS_keyctl, SU_KEYCTL_JOIN_SESSION_KEYRING, NULL, 0L, 0L, 0L);

	if (ring < 0) {
		/* No keys in this kernel, or keyctl refused to all (a container's seccomp): none possessed. */
		if ((errno == ENOSYS || errno == EPERM) && callers < 0 && session_keyring() < 0)
			return;
		die_errno("cannot give the agent a session keyring of its own");
	}
	if (ring == callers || session_keyring() != ring)
		die("the caller's session keyring is still the agent's after the switch");
}

/*
 * As the agent, which can only lower them: no core dumps (a core lands in
 * the working directory, often a shared folder, with the secrets of the
 * process's memory), and a cap on the processes and threads of the agent's
 * uid. The kernel counts that cap over all the agent's runs, and it holds
 * where no cgroup can be had. No RLIMIT_AS: runtimes reserve address space
 * they never use, and memory is the cgroup's to limit.
 */
static void limit_agent(const struct su_request *req)
{
	struct rlimit none = { 0, 0 }, nproc;
	rlim_t tasks = (rlim_t)(req->tasks_max ? req->tasks_max : SU_TASKS_DEFAULT);

	if (setrlimit(RLIMIT_CORE, &none) < 0)
		die_errno("cannot turn core dumps off");
	if (getrlimit(RLIMIT_NPROC, &nproc) < 0)
		die_errno("cannot read RLIMIT_NPROC");
	if (nproc.rlim_max != RLIM_INFINITY && nproc.rlim_max < tasks)
		tasks = nproc.rlim_max;
	nproc.rlim_cur = nproc.rlim_max = tasks;
	if (setrlimit(RLIMIT_NPROC, &nproc) < 0)
		die_errno("cannot set RLIMIT_NPROC");
}

/* --- the network --------------------------------------------------------- */

#ifndef SIOCGSKNS
#define SIOCGSKNS 0x894C
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
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
/* The proxy's process, a child of the outer side: -1 when there is none. */
static pid_t proxy_pid = -1;

static unsigned long long monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL;
}

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
		/*
		 * Into the run's cgroup, as init goes (still root): nothing of
		 * the run stays in the caller's session, and the run's limits
		 * and usage count the proxy too. The watch is not its to hold.
		 */
		cgroup_enter(false);
		watch_close_in_child();
		drop_privileges();
		place_proxy_fds(net);
		wait_for_first_use(net->nr_listeners);
		syscall(SYS_execveat, net->proxy_exe, "", argv, envp, AT_EMPTY_PATH);
		_exit(SU_EXIT_SELF); /* au sees the channel close without a word */
	}
	proxy_pid = pid;
	/* Only the proxy holds these now: the agent never gets the channel or a listener. */
	close(SU_NET_FD);
	close(net->proxy_exe);
	close(net->host_netns);
	close(net->lifetime[0]);
	for (size_t i = 0; i < net->nr_listeners; i++)
		close(net->listeners[i]);
	net->nr_listeners = 0;
}

/*
 * The agent is gone (init has exited): the proxy cuts what it still carries,
 * says so in its last records, and leaves, within a second or so. It is in
 * the run's cgroup, which end_of_run() empties: wait for it first, a moment,
 * so that its last records are not cut short. With -k the agent may go on,
 * and so does the proxy.
 */
static void wait_for_proxy(const struct su_request *req)
{
	int pidfd;

	if (proxy_pid <= 0 || req->keep_running)
		return;
	/*
	 * It usually leaves within a millisecond of init: wait on a pidfd
	 * rather than polling, which made every run pay for the tick.
	 */
	pidfd = (int)syscall(SYS_pidfd_open, proxy_pid, 0);
	if (pidfd >= 0) {
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
		unsigned long long deadline = monotonic_usec() + 3000000ULL, now;

		while ((now = monotonic_usec()) < deadline &&
		       poll(&pfd, 1, (int)((deadline - now) / 1000ULL) + 1) < 0 && errno == EINTR)
			;
		close(pidfd);
		waitpid(proxy_pid, NULL, WNOHANG);
	} else {
		/* Kernels before 5.3: a short tick, then a longer one. */
		for (int ms = 0; ms < 3000; ms += ms < 20 ? 1 : 10) {
			pid_t done = waitpid(proxy_pid, NULL, WNOHANG);

			if (done == proxy_pid || (done < 0 && errno != EINTR))
				break;
			poll(NULL, 0, ms < 20 ? 1 : 10);
		}
	}
	proxy_pid = -1;
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

/* With -j: the pty (one of fds 0 to 2) that init made its session's terminal; -1 without. */
static int job_tty = -1;

/*
 * With -j, init (already the leader of a session of its own, as the agent)
 * takes the first terminal of fds 0 to 2 as its session's controlling
 * terminal. It can only be au's fresh pty: the human's terminal belongs to
 * the human's session, and TIOCSCTTY fails on a terminal that does. Without
 * one, there is no job control, and the command gets a session of its own.
 */
static void take_terminal(const struct su_request *req)
{
	if (!req->job_control)
		return;
	for (int fd = 0; fd < 3; fd++) {
		if (isatty(fd)) {
			if (ioctl(fd, TIOCSCTTY, 0) == 0)
				job_tty = fd;
			return;
		}
	}
}

/*
 * The command's own process group in init's session, and the terminal's
 * foreground job. Its parent, init, is in the same session but in another
 * group, so the group is not orphaned, and Ctrl-Z stops it: the kernel
 * drops job control signals sent to an orphaned group, which a command in
 * a session of its own is (POSIX; kernel/signal.c, get_signal()).
 */
static void become_foreground_job(void)
{
	sigset_t ttou;

	/* tcsetpgrp() from a background group sends it SIGTTOU, unless blocked. */
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, NULL);
	if (setpgid(0, 0) < 0 || tcsetpgrp(job_tty, getpid()) < 0)
		die_errno("cannot make the command the terminal's foreground job");
}

__attribute__((noreturn))
static void exec_command(const struct su_request *req)
{
	extern char **environ;
	sigset_t none;

	if (job_tty >= 0) {
		become_foreground_job();
	} else {
		/*
		 * A session of its own. If au gave us a fresh pty, it becomes
		 * the controlling terminal; the human's terminal never can
		 * (TIOCSCTTY fails on a terminal that already belongs to a
		 * session).
		 */
		if (setsid() < 0)
			die_errno("cannot create a session");
		for (int fd = 0; fd < 3; fd++) {
			if (isatty(fd)) {
				ioctl(fd, TIOCSCTTY, 0);
				break;
			}
		}
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
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
 * It dies with the outer side (PR_SET_PDEATHSIG), but for the processes kept
 * with -k once the command has exited.
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
				/* A stopped job is continued whole, as a shell's fg does. */
				kill(sig == SIGCONT && job_tty >= 0 ? -child : child, sig);
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

		while ((pid = waitpid(-1, &status, WNOHANG | (job_tty >= 0 ? WUNTRACED : 0))) > 0) {
			if (WIFSTOPPED(status)) {
				/* The command's job stopped: tell the outer side, which stops too. */
				if (pid == child && !child_done)
					(void)!write(status_fd, &status, sizeof(status));
				continue;
			}
			if (pid == child && !child_done) {
				child_done = true;
				code = status_to_code(status);
				/* Before the outer side can read it and leave: what -k keeps stays. */
				if (req->keep_running)
					prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
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
 * The outer side has ended before PR_SET_PDEATHSIG could be armed: the
 * write end of the ctl pipe, which only it holds, is closed.
 */
static bool outer_side_gone(int ctl_fd)
{
	struct pollfd pfd = { .fd = ctl_fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP);
}

/*
 * Forks pid 1 of the new PID namespace, straight into the run's cgroup,
 * which becomes the agent for good and runs the command under run_init().
 */
static pid_t spawn_init(const struct su_request *req, struct init_pipes *p)
{
	bool in_cgroup;
	long callers_keyring;
	pid_t init;

	if (pipe2(p->ctl, O_CLOEXEC) < 0 || pipe2(p->status, O_CLOEXEC) < 0)
		die_errno("cannot create pipes");
	init = fork_into_cgroup(&in_cgroup);
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
	watch_close_in_child();
	cgroup_enter(in_cgroup);
	/* A /proc of the new PID namespace: the human's processes are not in it. */
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		die_errno("cannot mount /proc");
	callers_keyring = session_keyring();
	drop_privileges();
	/*
	 * After the uid change, which clears it: die with the outer side. If
	 * it is gone already, the EOF on ctl_fd says so to run_init().
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		die_errno("cannot tie init to the outer side");
	if (outer_side_gone(p->ctl[0]))
		_exit(SU_EXIT_SELF);
	limit_agent(req);
	new_session_keyring(callers_keyring);
	/* Leave the caller's session: its terminal is never ours to open. */
	if (setsid() < 0)
		die_errno("cannot create a session");
	/* Before run_init() lets go of fds 0 to 2. */
	take_terminal(req);
	if (chdir(req->directory ? req->directory : AGENT_HOME) < 0)
		die_errno("cannot change directory to '%s'", req->directory ? req->directory : AGENT_HOME);
	run_init(req, p->ctl[0], p->status[1]);
}

/*
 * With -c, au is our parent and waits for us: when it dies, in any way, so
 * does the run (init dies with us, and the sweeper removes the cgroup). A
 * setuid exec clears what au could have set, and so does every change of
 * credentials (setfsuid included): this comes after each. au may also be
 * gone already, which its end of the report channel tells.
 */
static void die_with_au(const struct su_request *req)
{
	struct pollfd pfd = { .fd = SU_REPORT_FD, .events = 0 };

	if (!req->report)
		return;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		die_errno("cannot tie the run to au");
	if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR)))
		die("au is gone");
}

/*
 * While the command runs, the outer side is the caller, with root kept as
 * its saved uid alone for the root work at the end (end_of_run(),
 * watch_report()): what it does meanwhile (pass signals on, read the
 * watch's events, wait) needs no privilege. Not dumpable: the caller cannot
 * ptrace a process that can become root again.
 */
static void drop_while_waiting(void)
{
	if (setresuid(CALLER_UID, CALLER_UID, 0) < 0)
		die_errno("cannot return to the caller's uid");
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* For the root work at the end of the run; why it is safe is said there. */
static void regain_root(void)
{
	if (seteuid(0) < 0)
		die_errno("cannot become root again for the end of the run");
}

/*
 * The outer side becomes the caller again, for good, once the root work at
 * the end of the run is done: it only reports then.
 */
static void drop_to_caller(void)
{
	if (setresuid(CALLER_UID, CALLER_UID, CALLER_UID) < 0)
		die_errno("cannot return to the caller's uid");
	if (CALLER_UID != 0 && setuid(0) != -1)
		die("root can be regained on the outer side");
}

/*
 * Signals sent to us (by au, or a terminal) go on to init, which passes
 * them to the command. While the command runs, this and waiting are all
 * the outer side does: it keeps root only for end_of_run().
 */
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

	for (;;) {
		watch_wait_for(status_fd);
		do
			n = read(status_fd, &status, sizeof(status));
		while (n < 0 && errno == EINTR);
		if (n != sizeof(status) || !WIFSTOPPED(status) || !req->job_control)
			break;
		/*
		 * -j: the command stopped (Ctrl-Z). Stop, so that au sees it
		 * and gives the human's shell back; whoever continues us (the
		 * shell's fg, through au) continues the command. The watch
		 * goes on for the agent's other processes once we are back.
		 */
		raise(SIGSTOP);
		forward_to_init(SIGCONT);
	}
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

/*
 * The root work at the end of a run, in one place: what the run used, then
 * whatever is left of it killed and its cgroup removed (with -k, the sweeper
 * does that once the processes kept have ended). Without a cgroup, the
 * usage of init and every process it reaped.
 */
static void end_of_run(const struct su_request *req, unsigned long long started, struct su_usage *usage)
{
	struct rusage ru;

	usage->wall_usec = monotonic_usec() - started;
	usage->measured |= SU_USAGE_WALL;
	cgroup_read_usage(usage);
	if (!(usage->measured & SU_USAGE_CPU) && !req->keep_running && getrusage(RUSAGE_CHILDREN, &ru) == 0) {
		usage->user_usec = (unsigned long long)ru.ru_utime.tv_sec * 1000000ULL + (unsigned long long)ru.ru_utime.tv_usec;
		usage->system_usec = (unsigned long long)ru.ru_stime.tv_sec * 1000000ULL + (unsigned long long)ru.ru_stime.tv_usec;
		usage->cpu_usec = usage->user_usec + usage->system_usec;
		usage->measured |= SU_USAGE_CPU | SU_USAGE_CPU_SPLIT;
		if (!(usage->measured & SU_USAGE_MEMORY)) {
			usage->memory_peak = (unsigned long long)ru.ru_maxrss * 1024ULL;
			usage->measured |= SU_USAGE_MEMORY | SU_USAGE_MEMORY_LARGEST;
		}
	}
	if (!req->keep_running)
		cgroup_remove();
}

int main(int argc, char **argv, char **envp)
{
	static struct su_request req;
	struct su_usage usage = { 0 };
	struct su_net net = SU_NET_INIT;
	struct init_pipes pipes;
	unsigned long long started;
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
	setup_cgroup(&req);
	watch_setup(&req);
	/* The proxy leaves before the mount and PID namespaces exist: it lives in the host's. */
	setup_network(&req, &net);
	make_listeners(&req, &net);
	spawn_proxy(&req, &net);
	setup_mounts(&req);
	bind_resolv_conf(&req);
	die_with_au(&req);
	started = monotonic_usec();
	init = spawn_init(&req, &pipes);
	hand_lifetime_to_init(&net);
	drop_while_waiting();
	die_with_au(&req);
	forward_signals(pipes.ctl[1]);
	status = wait_for_command(&req, init, pipes.status[0]);
	wait_for_proxy(&req);
	regain_root();
	end_of_run(&req, started, &usage);
	watch_report(&req);
	drop_to_caller();
	die_with_au(&req);
	report(&req, SU_REPORT_USAGE, &usage, sizeof(usage));
	report(&req, SU_REPORT_DONE, NULL, 0);
	return status_to_code(status);
}

#endif /* SU_AS_AGENT_NO_MAIN */

#endif /* SU_AS_AGENT_PROTOCOL_ONLY */
