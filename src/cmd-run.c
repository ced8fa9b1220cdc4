/*
 * cmd-run.c: au run. Reads as its steps: the agent, its verified entrypoint,
 * its network mode, the request (environment, network, mounts, protections,
 * directory, command), then the launch (exec, or wait, or a pty relay), the
 * end of the network log and the audit of read-write shares afterwards.
 */
#include "agent.h"
#include "au-config.h"
#include "au.h"
#include "config.h"
#include "entrypoint.h"
#include "net.h"
#include "netlog.h"
#include "netproto.h"
#include "paths.h"
#include "protect.h"
#include "report.h"
#include "sys.h"
#include "term.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static const char run_usage[] =
	"Usage: au run [-a NAME] [-e KEY[=VALUE]]... [-d DIR] [--net MODE] [--no-login]\n"
	"              [--keep-running] [--] COMMAND [ARG]...\n"
	"\n"
	"Run COMMAND as the agent, in its own mount, PID and network namespaces, with a\n"
	"scrubbed environment and, when you are on a terminal, a pseudo-terminal of its own.\n"
	"\n"
	"  -a, --agent NAME       the agent (default: agent)\n"
	"  -e, --env KEY[=VALUE]  set KEY for the command; a bare KEY passes your value\n"
	"  -d, --directory DIR    working directory (default: where you are, when it is\n"
	"                         inside a mounted folder, else the agent's home)\n"
	"      --net MODE         the network for this run: none, allow, all or host\n"
	"                         (default: the agent's, see 'au net')\n"
	"      --no-login         run COMMAND directly, not through the agent's login shell\n"
	"      --keep-running     leave the agent's background processes running after\n"
	"                         COMMAND exits (they are killed otherwise; once au run\n"
	"                         returns, the proxy refuses their new connections)\n"
	"  -h, --help             show this help\n"
	"\n"
	"Only LANG and TERM pass from your environment, plus what 'au env' stored and\n"
	"each --env; in network modes allow and all, au sets the proxy variables.\n"
	"Options stop at COMMAND: 'au run ls -la' passes -la to ls.\n"
	"The exit status is COMMAND's, or 128+N when signal N ended it.\n";

struct env_entry {
	char *key;
	char *value; /* NULL: pass the human's value at run time */
};

struct run_opts {
	const char *agent;
	const char *directory;
	const char *net; /* --net MODE */
	bool no_login;
	bool keep_running;
	struct env_entry *env;
	size_t nr_env, alloc_env;
	int cmd_index; /* argv's index of COMMAND */
};

/* Frees the environment entries only: the other options point into argv. */
static void run_opts_release(struct run_opts *o)
{
	for (size_t i = 0; i < o->nr_env; i++) {
		free(o->env[i].key);
		free(o->env[i].value);
	}
	free(o->env);
	o->env = NULL;
	o->nr_env = o->alloc_env = 0;
}

/* KEY=VALUE splits at the first '=' (values may hold more); KEY alone passes through. */
static void env_add(struct run_opts *o, const char *entry, bool from_config)
{
	const char *eq = strchr(entry, '=');
	size_t klen = eq ? (size_t)(eq - entry) : strlen(entry);
	autofree char *key = xstrndup(entry, klen);

	if (!valid_env_key(entry, klen)) {
		autofree char *shown = escape_display(entry);
		if (from_config)
			die("invalid environment entry '%s' stored for this agent (see 'au env list')", shown);
		die_usage("run: invalid environment variable name in '%s'", shown);
	}
	if (env_key_is_agents(key)) {
		if (from_config)
			return;
		die_usage("run: %s is the agent's own and cannot be set", key);
	}
	for (size_t i = 0; i < o->nr_env; i++) {
		if (!strcmp(o->env[i].key, key)) {
			free(o->env[i].value);
			o->env[i].value = eq ? xstrdup(eq + 1) : NULL;
			return;
		}
	}
	ALLOC_GROW(o->env, o->nr_env, o->alloc_env);
	o->env[o->nr_env].key = steal_pointer(&key);
	o->env[o->nr_env].value = eq ? xstrdup(eq + 1) : NULL;
	o->nr_env++;
}

/* A read-write share, scanned before the run and audited after it. */
struct share_watch {
	const struct mount_spec *mount;
	struct protect_scan scan;
};

/* Everything one au run holds; run_release() lets it all go. */
struct run {
	struct run_opts opts;
	struct agent *agent; /* in the context's config */
	struct agent_user user;
	int ep_fd;            /* the verified entrypoint */
	struct ep_request req;
	struct strvec argv;   /* the entrypoint's argv, from req */
	struct strvec env;    /* and its environment */
	struct share_watch *watches;
	size_t nr_watches;
	int report_fds[2]; /* the report channel: au's end, the entrypoint's end */
	struct report_reader reader;
	enum au_net_mode net_mode;
	char run_id[NETPROTO_RUN_MAX + 1];
	int net_fds[2];  /* the proxy's channel: au's end, the entrypoint's end (SU_NET_FD) */
	int net_log_fd;  /* the agent's connection log, for appending */
	struct netlog_reader net_reader;
};

static void run_release(struct run *r)
{
	run_opts_release(&r->opts);
	agent_user_release(&r->user);
	if (r->ep_fd >= 0)
		close(r->ep_fd);
	ep_request_release(&r->req);
	strvec_clear(&r->argv);
	strvec_clear(&r->env);
	for (size_t i = 0; i < r->nr_watches; i++)
		protect_scan_release(&r->watches[i].scan);
	free(r->watches);
	for (int i = 0; i < 2; i++) {
		if (r->report_fds[i] >= 0)
			close(r->report_fds[i]);
		if (r->net_fds[i] >= 0)
			close(r->net_fds[i]);
	}
	report_reader_release(&r->reader);
	if (r->net_log_fd >= 0)
		close(r->net_log_fd);
	netlog_reader_release(&r->net_reader);
}

/*
 * Where the command starts when -d is not given: the place under a mount's
 * target that matches where the human is. Ancestors are compared by device
 * and inode, so a cwd reached through a symlink or another bind mount of the
 * same folder still matches; the deepest matching ancestor wins.
 */
static char *detect_directory(const struct agent *a)
{
	char cwd[PATH_MAX];
	struct stat *src_st;
	bool *src_ok;
	char *result = NULL;

	if (!a->nr_mounts || !getcwd(cwd, sizeof(cwd)) || cwd[0] != '/')
		return NULL;
	src_st = xcalloc(a->nr_mounts, sizeof(*src_st));
	src_ok = xcalloc(a->nr_mounts, sizeof(*src_ok));
	for (size_t i = 0; i < a->nr_mounts; i++)
		src_ok[i] = stat(a->mounts[i].source, &src_st[i]) == 0;

	for (size_t len = strlen(cwd); len > 0 && !result;) {
		struct stat st;
		char saved = cwd[len];

		cwd[len] = '\0';
		if (stat(len ? cwd : "/", &st) == 0) {
			for (size_t i = 0; i < a->nr_mounts; i++) {
				if (src_ok[i] && st.st_dev == src_st[i].st_dev && st.st_ino == src_st[i].st_ino) {
					cwd[len] = saved;
					result = path_join(a->mounts[i].target, cwd[len] ? cwd + len + 1 : "");
					break;
				}
			}
		}
		cwd[len] = saved;
		while (len > 0 && cwd[len - 1] != '/')
			len--;
		if (len > 1)
			len--; /* drop the slash too, but keep "/" itself */
		else if (len == 1)
			break;
	}
	free(src_st);
	free(src_ok);
	return result;
}

/* sg runs its text with /bin/sh, which may be dash: POSIX quoting only. */
static char *sg_script(const struct strvec *cmd)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, "exec");
	for (size_t i = 0; i < cmd->nr; i++) {
		strbuf_addch(&sb, ' ');
		shell_quote_posix(&sb, cmd->v[i]);
	}
	return strbuf_detach(&sb);
}

/*
 * Just after "au new" the human's session lacks the agent's group, so the
 * entrypoint (mode 4750) cannot be opened. Go through sg, which starts a
 * process with that group, and run this very command again there.
 */
AU_NORETURN static void reexec_through_sg(const struct agent *a, int argc, char **argv, const char *config_path)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	autostrvec struct strvec cmd = STRVEC_INIT;
	autofree char *script = NULL;
	const char *sg_argv[5];

	if (getenv("AU_THROUGH_SG"))
		die("this session is still not in group '%s' after sg", a->group);
	if (n < 0)
		die_errno("cannot find au's own executable");
	self[n] = '\0';
	strvec_push(&cmd, self);
	strvec_push(&cmd, "-C");
	strvec_push(&cmd, config_path);
	for (int i = 0; i < argc; i++)
		strvec_push(&cmd, argv[i]);
	script = sg_script(&cmd);
	hint("this session is not in group '%s' yet; going through 'sg %s' (log in again to skip this)",
	     a->group, a->group);
	if (setenv("AU_THROUGH_SG", "1", 1) < 0)
		die_errno("setenv");
	sg_argv[0] = "sg";
	sg_argv[1] = a->group;
	sg_argv[2] = "-c";
	sg_argv[3] = script;
	sg_argv[4] = NULL;
	fflush(NULL);
	execvp("sg", (char *const *)sg_argv);
	die_errno("cannot run 'sg'");
}

static void parse_run_options(int argc, char **argv, struct run_opts *o)
{
	static const struct option options[] = {
		{ "agent", required_argument, NULL, 'a' },
		{ "env", required_argument, NULL, 'e' },
		{ "directory", required_argument, NULL, 'd' },
		{ "net", required_argument, NULL, 'n' },
		{ "no-login", no_argument, NULL, 'L' },
		{ "keep-running", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	/* "+": options stop at the first operand, which is the command. */
	while ((c = getopt_long(argc, argv, "+:a:e:d:h", options, NULL)) != -1) {
		switch (c) {
		case 'a':
			o->agent = optarg;
			break;
		case 'e':
			env_add(o, optarg, false);
			break;
		case 'd':
			if (optarg[0] != '/')
				die_usage("run: --directory needs an absolute path");
			o->directory = optarg;
			break;
		case 'n': {
			enum au_net_mode mode;

			if (au_net_mode_parse(optarg, &mode) < 0) {
				autofree char *shown = escape_display(optarg);
				die_usage("run: bad network mode '%s': use " AU_NET_MODE_NAMES, shown);
			}
			o->net = optarg;
			break;
		}
		case 'L':
			o->no_login = true;
			break;
		case 'k':
			o->keep_running = true;
			break;
		case 'h':
			fputs(run_usage, stdout);
			exit(EXIT_OK);
		default:
			die_bad_option(c, argv, "run");
		}
	}
	if (optind >= argc)
		die_usage("run: missing command");
	o->cmd_index = optind;
}

/* A half-made agent, or one whose user or group is gone, cannot run. */
static void check_agent_ready(struct run *r)
{
	const struct agent *a = r->agent;

	if (!a->bootstrapped) {
		error("agent '%s' is not fully set up ('au new' did not finish)", a->user_name);
		hint("run 'au delete -a %s', then 'au new -a %s'", a->user_name, a->user_name);
		exit(EXIT_FAIL);
	}
	agent_user_load(&r->user, a->user_name, a->group);
	if (!r->user.user_exists || !r->user.group_exists) {
		error("the %s of agent '%s' does not exist", r->user.user_exists ? "group" : "user", a->user_name);
		hint("run 'au info -a %s' to see what is broken", a->user_name);
		exit(EXIT_FAIL);
	}
}

/*
 * The entrypoint, opened once and checked on that open file. Just after "au
 * new" the session may lack the agent's group: then this whole command runs
 * again through sg, and this function does not return.
 */
static int open_entrypoint(struct run *r, struct au_ctx *ctx, int argc, char **argv)
{
	const struct agent *a = r->agent;
	autostrbuf struct strbuf why = STRBUF_INIT;
	autohuman struct human human = { 0 };
	bool unreadable;
	int fd = entrypoint_open_verified(a, r->user.gid, &why, &unreadable);

	if (fd >= 0)
		return fd;
	human_load(&human);
	if (unreadable && human_in_group_db(&human, a->group))
		reexec_through_sg(a, argc, argv, ctx->config_path);
	error("refusing to run the entrypoint of agent '%s': %s", a->user_name, why.buf);
	hint("run 'au info -a %s'; 'au delete -a %s' and 'au new -a %s' make a fresh one",
	     a->user_name, a->user_name, a->user_name);
	exit(EXIT_FAIL);
}

/* The run's network mode: --net, or the agent's (all when it has none). */
static void choose_network(struct run *r)
{
	if (!r->opts.net || au_net_mode_parse(r->opts.net, &r->net_mode) < 0)
		r->net_mode = agent_net_mode(r->agent);
}

/*
 * The entrypoint's environment: LANG and TERM, then each variable stored with
 * "au env" and each --env (which wins), named in the request with -e. A bare
 * KEY takes the human's value now; unset stays unset, like docker -e KEY.
 * Where au-netproxy serves the agent, the proxy variables are au's
 * (add_proxy_environment()), and one stored or given is left out, with a
 * word: it would lead nowhere from the agent's namespace.
 */
static void build_environment(struct run *r)
{
	static const char *const caller_vars[] = SU_CALLER_VARS;
	struct run_opts stored = { 0 };
	autostrbuf struct strbuf replaced = STRBUF_INIT;

	for (size_t i = 0; i < r->agent->nr_env; i++)
		env_add(&stored, r->agent->env[i], true);
	for (size_t i = 0; i < r->opts.nr_env; i++) {
		autofree char *entry = r->opts.env[i].value
					       ? xasprintf("%s=%s", r->opts.env[i].key, r->opts.env[i].value)
					       : xstrdup(r->opts.env[i].key);
		env_add(&stored, entry, false);
	}
	for (size_t i = 0; i < ARRAY_SIZE(caller_vars); i++) {
		const char *v = getenv(caller_vars[i]);
		if (v)
			strvec_pushf(&r->env, "%s=%s", caller_vars[i], v);
	}
	for (size_t i = 0; i < stored.nr_env; i++) {
		const char *v = stored.env[i].value ? stored.env[i].value : getenv(stored.env[i].key);

		if (!v)
			continue;
		if (au_net_mode_has_proxy(r->net_mode) && au_net_is_proxy_var(stored.env[i].key)) {
			strbuf_addf(&replaced, "%s%s", replaced.len ? ", " : "", stored.env[i].key);
			continue;
		}
		strvec_pushf(&r->env, "%s=%s", stored.env[i].key, v);
		ep_request_add_env(&r->req, stored.env[i].key);
	}
	run_opts_release(&stored);
	if (replaced.len)
		warn("%s: in network mode %s the agent's proxy is au's", replaced.buf, au_net_mode_name(r->net_mode));
}

/* HTTP_PROXY and the others, pointing at the proxy's listeners in the agent's namespace. */
static void add_proxy_environment(struct run *r)
{
	for (const char *const *e = au_net_proxy_env; *e; e++) {
		autofree char *key = xstrndup(*e, strcspn(*e, "="));

		strvec_push(&r->env, *e);
		ep_request_add_env(&r->req, key);
	}
}

/* A short random id that names this run in the log. */
static void make_run_id(struct run *r)
{
	unsigned char bytes[8];

	if (getrandom(bytes, sizeof(bytes), 0) != sizeof(bytes))
		die_errno("cannot make a run id");
	for (size_t i = 0; i < sizeof(bytes); i++)
		snprintf(r->run_id + 2 * i, 3, "%02x", bytes[i]);
}

/* au-netproxy, where au was installed: the entrypoint checks it again, as root. */
static void check_proxy_installed(const struct run *r)
{
	autostrbuf struct strbuf why = STRBUF_INIT;
	autofree char *dir = xstrndup(AU_NETPROXY_PATH, strrchr(AU_NETPROXY_PATH, '/') - AU_NETPROXY_PATH);
	struct stat st;

	if (stat(AU_NETPROXY_PATH, &st) < 0 || !S_ISREG(st.st_mode))
		strbuf_addf(&why, "'%s' is missing", AU_NETPROXY_PATH);
	else if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) || !safe_dir_chain(dir, &why))
		strbuf_addf(&why, "%s'%s' is not root's alone", why.len ? "; " : "", AU_NETPROXY_PATH);
	if (!why.len)
		return;
	error("cannot give agent '%s' its network proxy: %s", r->agent->user_name, why.buf);
	hint("reinstall au (make && sudo make install), or run with '--net none' or '--net host'");
	exit(EXIT_FAIL);
}

/*
 * The agent's network for this run. host is the exception, and said so once.
 * none: a namespace with loopback only. allow and all: the entrypoint starts
 * au-netproxy for the agent; its policy goes into the channel now, and its
 * log is opened now, so that a run whose connections could not be recorded
 * never starts.
 */
static void prepare_network(struct run *r)
{
	const struct agent *a = r->agent;
	autostrbuf struct strbuf policy = STRBUF_INIT;
	autostrbuf struct strbuf why = STRBUF_INIT;
	autofree char *shown = escape_display(a->user_name);

	if (r->net_mode == AU_NET_HOST) {
		r->req.net = SU_NET_MODE_HOST;
		fprintf(stderr, "au: agent '%s' runs on the host's network (network mode host): "
			"no namespace, no proxy, no log\n", shown);
		return;
	}
	if (!au_net_mode_has_proxy(r->net_mode)) {
		r->req.net = SU_NET_MODE_NONE;
		return;
	}
	r->req.net = SU_NET_MODE_PROXY;
	check_proxy_installed(r);
	make_run_id(r);
	if (au_net_policy(r->net_mode, a->user_name, r->run_id, a->net_allow, a->nr_net_allow, &policy, &why) < 0) {
		error("cannot give agent '%s' its network proxy: %s", shown, why.buf);
		hint("'au net list -a %s' shows the allow list; '--net none' runs without a proxy", shown);
		exit(EXIT_FAIL);
	}
	for (size_t i = 0; i < a->nr_net_allow; i++)
		ep_request_add_capture_port(&r->req, au_net_capture_port(a->net_allow[i]));
	r->net_log_fd = netlog_open_append(a->user_name, &why);
	if (r->net_log_fd < 0) {
		autofree char *log = netlog_path(a->user_name);
		autofree char *shown_log = escape_display(log);

		error("cannot keep the network log '%s': %s", shown_log, why.buf);
		hint("au records every connection of the agent, and runs it only then; '--net none' runs without network");
		exit(EXIT_FAIL);
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, r->net_fds) < 0)
		die_errno("cannot create the proxy's channel");
	/* One message, sent before the proxy exists: the socket holds it (NETPROTO_POLICY_MAX fits). */
	if (send(r->net_fds[0], policy.buf, policy.len, MSG_NOSIGNAL) != (ssize_t)policy.len)
		die_errno("cannot send the proxy its policy");
	add_proxy_environment(r);
}

/*
 * Each share, and in each read-write one the protected paths and the git
 * directories to pin, recorded so that the audit can compare afterwards.
 */
static void add_shares(struct run *r, const struct config *cfg)
{
	const struct agent *a = r->agent;

	r->watches = xcalloc(a->nr_mounts + 1, sizeof(*r->watches));
	for (size_t i = 0; i < a->nr_mounts; i++) {
		const struct mount_spec *m = &a->mounts[i];
		struct share_watch *w;

		ep_request_add_mount(&r->req, m->source, m->target, m->read_only);
		if (m->read_only)
			continue;
		w = &r->watches[r->nr_watches++];
		w->mount = m;
		protect_collect(m, config_protected_paths(cfg), getuid(), &r->req, &w->scan);
	}
}

/*
 * COMMAND, through the agent's login shell unless --no-login, so that its
 * profile sets it up as a login would.
 */
static void add_command(struct run *r, int argc, char **argv)
{
	struct strvec *cmd = &r->req.command;

	if (!r->opts.no_login) {
		strvec_push(cmd, r->user.shell);
		strvec_push(cmd, "--login");
		if (isatty(STDIN_FILENO))
			strvec_push(cmd, "-i");
		strvec_push(cmd, "-c");
		/* Debian's ~/.profile adds ~/.local/bin only if it existed at login: make sure. */
		strvec_push(cmd, "case \":$PATH:\" in *\":$HOME/.local/bin:\"*) ;; "
				 "*) PATH=\"$HOME/.local/bin:$PATH\" ;; esac; exec \"$@\"");
		strvec_push(cmd, "au");
	}
	for (int i = r->opts.cmd_index; i < argc; i++)
		strvec_push(cmd, argv[i]);
}

/*
 * au stays the entrypoint's parent when it relays a terminal, keeps the
 * network log, or audits read-write shares afterwards; then the entrypoint
 * reports to it.
 */
static bool au_stays_parent(const struct run *r)
{
	return term_needs_pty() || r->nr_watches || r->req.net == SU_NET_MODE_PROXY;
}

static void build_request(struct run *r, const struct config *cfg, int argc, char **argv)
{
	autostrbuf struct strbuf why = STRBUF_INIT;

	add_shares(r, cfg);
	if (au_stays_parent(r)) {
		report_channel(r->report_fds);
		r->req.report = true;
	}
	if (ep_request_check(&r->req, &why) < 0) {
		error("cannot run agent '%s': %s", r->agent->user_name, why.buf);
		hint("share smaller folders, or fewer of them read-write");
		exit(EXIT_FAIL);
	}
	r->req.directory = r->opts.directory ? xstrdup(r->opts.directory) : detect_directory(r->agent);
	r->req.keep_running = r->opts.keep_running;
	add_command(r, argc, argv);
	ep_request_to_argv(&r->req, &r->argv);
}

/*
 * In the child that becomes the entrypoint: its end of the report channel
 * goes to SU_REPORT_FD and its end of the proxy's channel to SU_NET_FD
 * (moving whatever else is there out of the way first), and they stay open
 * across the exec. Every other fd of au's is close-on-exec.
 */
static void place_channel_fds(struct run *r)
{
	int *fds[] = { &r->ep_fd, &r->report_fds[1], &r->net_fds[1] };
	const int place[] = { -1, SU_REPORT_FD, SU_NET_FD };

	_Static_assert(SU_REPORT_FD < SU_NET_FD, "the fds moved out of the way below");
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0 && *fds[i] <= SU_NET_FD) {
			*fds[i] = fcntl(*fds[i], F_DUPFD_CLOEXEC, SU_NET_FD + 1);
			if (*fds[i] < 0)
				goto fail;
		}
	}
	for (size_t i = 1; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0 && dup2(*fds[i], place[i]) < 0)
			goto fail;
	}
	return;
fail:
	fprintf(stderr, "au: cannot pass the channels to the entrypoint: %s\n", strerror(errno));
	_exit(SU_EXIT_SELF);
}

/* In whatever process is to become the entrypoint. */
AU_NORETURN static void exec_entrypoint(struct run *r)
{
	place_channel_fds(r);
	syscall(SYS_execveat, r->ep_fd, "", r->argv.v, r->env.v, AT_EMPTY_PATH);
	fprintf(stderr, "au: cannot execute the entrypoint '%s': %s\n", r->agent->entrypoint, strerror(errno));
	_exit(SU_EXIT_SELF);
}

static pid_t entrypoint_pid = -1;

static void forward_signal(int sig)
{
	if (entrypoint_pid > 0)
		kill(entrypoint_pid, sig);
}

/*
 * Without a terminal, but with read-write mounts to look at afterwards: run
 * the entrypoint as a child in a process group of its own (so that signals
 * from a terminal reach it once, through us), forward signals, wait.
 */
/* In au, once the entrypoint's process exists: only it holds the channels' other ends now. */
static void start_reading_reports(struct run *r)
{
	if (r->net_fds[1] >= 0) {
		close(r->net_fds[1]);
		r->net_fds[1] = -1;
		netlog_reader_start(&r->net_reader, r->net_fds[0], r->net_log_fd, r->agent->user_name, r->run_id);
		r->net_fds[0] = r->net_log_fd = -1; /* the reader's now */
	}
	if (r->report_fds[1] < 0)
		return;
	close(r->report_fds[1]);
	r->report_fds[1] = -1;
	report_reader_start(&r->reader, r->report_fds[0]);
	r->report_fds[0] = -1; /* the reader's now */
}

static int run_and_wait(struct run *r)
{
	static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
	struct sigaction sa = { 0 };
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die_errno("cannot fork");
	if (pid == 0) {
		setpgid(0, 0);
		exec_entrypoint(r);
	}
	start_reading_reports(r);
	entrypoint_pid = pid;
	sa.sa_handler = forward_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
		sigaction(forwarded[i], &sa, NULL);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			die_errno("cannot wait for the agent");
	}
	entrypoint_pid = -1; /* the pid may be reused from now on */
	return status;
}

/* On a terminal: the agent gets a pty of its own, and au relays (term.c). */
static int run_on_pty(struct run *r)
{
	struct pty_session pty;
	pid_t child;

	if (pty_open(&pty) < 0)
		exit(EXIT_FAIL); /* it said why */
	fflush(NULL);
	child = fork();
	if (child < 0) {
		pty_release(&pty);
		die_errno("cannot fork");
	}
	if (child == 0) {
		pty_child_setup(&pty);
		exec_entrypoint(r);
	}
	start_reading_reports(r);
	return pty_relay(&pty, child);
}

/*
 * Runs the entrypoint and returns its wait status. With nothing to relay and
 * nothing to audit afterwards, au simply becomes the entrypoint.
 */
static int launch(struct run *r)
{
	int status;

	fflush(NULL);
	if (!au_stays_parent(r))
		exec_entrypoint(r);
	status = term_needs_pty() ? run_on_pty(r) : run_and_wait(r);
	close(r->ep_fd);
	r->ep_fd = -1;
	report_reader_finish(&r->reader);
	return status;
}

/*
 * The proxy leaves when the agent's namespace does, and says so last: wait
 * a moment for that, so that the log is whole. With --keep-running the
 * agent's processes may go on; au stops reading at once, and the proxy
 * refuses their new connections from then on (nobody would record them).
 */
static void finish_network(struct run *r)
{
	struct netlog_reader *n = &r->net_reader;
	autofree char *shown = escape_display(r->agent->user_name);

	if (!n->running)
		return;
	netlog_reader_finish(n, r->opts.keep_running ? 0 : 2000);
	/*
	 * A proxy that has not said "started" was not needed (it is executed
	 * on the agent's first use of its network), or was still starting as
	 * the agent left: only its own refusal is news. (An exec that failed
	 * on that first use leaves no word: the listeners close, the agent's
	 * connections are refused, and au cannot tell it from a run that never
	 * used the network.)
	 */
	if (!n->started && n->failure) {
		autofree char *reason = escape_display(n->failure);

		error("the network proxy of agent '%s' did not start (%s): the agent had no network", shown, reason);
	} else if (n->started && n->eof && !n->stopped) {
		warn("the network proxy of agent '%s' stopped during the run: the agent had no network from then on",
		     shown);
	}
	if (n->malformed)
		warn("the network proxy sent %zu malformed record%s: not in the log", n->malformed,
		     n->malformed == 1 ? "" : "s");
	if (n->write_error) {
		autofree char *log = netlog_path(r->agent->user_name);
		autofree char *shown_log = escape_display(log);

		error("cannot write the network log '%s': %s: the proxy refused new connections from then on",
		      shown_log, strerror(n->write_error));
	}
}

/* The agent may have set a trap for the human's next git command. */
static void audit_shares(const struct run *r, const struct config *cfg)
{
	for (size_t i = 0; i < r->nr_watches; i++)
		protect_audit(r->watches[i].mount, config_protected_paths(cfg), getuid(), &r->watches[i].scan);
}

int cmd_run(int argc, char **argv, struct au_ctx *ctx)
{
	struct run r __attribute__((cleanup(run_release))) = {
		.ep_fd = -1, .req = EP_REQUEST_INIT, .argv = STRVEC_INIT, .env = STRVEC_INIT,
		.report_fds = { -1, -1 }, .reader = { .fd = -1 },
		.net_fds = { -1, -1 }, .net_log_fd = -1, .net_reader = NETLOG_READER_INIT,
	};
	int status;

	/* An inherited SIG_IGN would let the kernel reap our child before we wait. */
	signal(SIGCHLD, SIG_DFL);
	parse_run_options(argc, argv, &r.opts);
	r.agent = au_setup(ctx, r.opts.agent);
	check_agent_ready(&r);
	r.ep_fd = open_entrypoint(&r, ctx, argc, argv);
	choose_network(&r);
	build_environment(&r);
	prepare_network(&r);
	build_request(&r, &ctx->cfg, argc, argv);
	/* The agent starts after the lock is gone, as in the reference tool. */
	au_unlock(ctx);
	status = launch(&r);
	finish_network(&r);
	audit_shares(&r, &ctx->cfg);
	return wait_status_to_exit(status);
}
