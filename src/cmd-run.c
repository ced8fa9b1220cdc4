/*
 * cmd-run.c: au run. Reads as its steps: the agent, its verified entrypoint,
 * its network mode, the request (environment, network, mounts, protections,
 * directory, command), then the launch (exec, or wait, or a pty relay), the
 * end of the network log and the audit of read-write shares afterwards.
 */
#include "agent-gitconfig.h"
#include "agent.h"
#include "au-config.h"
#include "au.h"
#include "config.h"
#include "entrypoint.h"
#include "limit.h"
#include "path-check.h"
#include "net.h"
#include "netlog.h"
#include "netproto.h"
#include "paths.h"
#include "protect.h"
#include "report.h"
#include "scope.h"
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
	"              [--keep-running] [--limit KEY=VALUE]... [--stats] [-v] [--] COMMAND [ARG]...\n"
	"\n"
	"Run COMMAND as the agent, in a cgroup and mount, PID, IPC and network namespaces\n"
	"of its own, with the limits of 'au limit', a scrubbed environment and, when you\n"
	"are on a terminal, a pseudo-terminal of its own.\n"
	"\n"
	"  -a, --agent NAME       the agent (default: agent)\n"
	"  -e, --env KEY[=VALUE]  set KEY for the command; a bare KEY passes your value\n"
	"  -d, --directory DIR    working directory: a folder the agent sees, or one of\n"
	"                         yours inside a share, which is mapped to its place for\n"
	"                         the agent (default: where you are, when it is inside a\n"
	"                         share, else the agent's home)\n"
	"      --net MODE         the network for this run: none, allow, all or host\n"
	"                         (default: the agent's, see 'au net')\n"
	"      --no-login         run COMMAND directly, not through the agent's login shell\n"
	"      --keep-running     leave the agent's background processes running after\n"
	"                         COMMAND exits (they are killed otherwise; once au run\n"
	"                         returns, the proxy refuses their new connections)\n"
	"      --limit KEY=VALUE  a limit for this run, over 'au limit': memory=16G,\n"
	"                         cpu=150%, tasks=512, or KEY=max for none\n"
	"      --stats            at the end, print what the run used on stderr: wall\n"
	"                         and CPU time, peak memory and tasks, OOM kills\n"
	"  -v, --verbose          say the limits, where the run lived, and --stats\n"
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
	bool stats;
	bool verbose;
	struct strvec limits; /* --limit KEY=VALUE, checked */
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
	strvec_clear(&o->limits);
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

#define SU_STR_(x) #x
#define SU_STR(x) SU_STR_(x)

/* Everything one au run holds; run_release() lets it all go. */
struct run {
	struct run_opts opts;
	struct agent *agent; /* in the context's config */
	struct agent_user user;
	int ep_fd;            /* the verified entrypoint */
	struct ep_request req;
	struct strvec argv;   /* the entrypoint's argv, from req */
	struct strvec env;    /* and its environment */
	struct protect_run protect; /* the read-write shares, protected before and checked after */
	int report_fds[2]; /* the report channel: au's end, the entrypoint's end */
	struct report_reader reader;
	bool scope; /* systemd is init: the entrypoint starts in a scope of the user manager */
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
	protect_run_release(&r->protect);
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
 * The agent's path for path (absolute, in the human's view), when it is in a
 * shared folder: the place under that mount's target. Ancestors are compared
 * by device and inode, so a path reached through a symlink or another bind
 * mount of the same folder still matches; the deepest matching ancestor
 * wins. NULL when no share holds it.
 */
static char *map_to_agent(const struct agent *a, const char *human_path)
{
	autofree char *path = xstrdup(human_path);
	autofree struct stat *src_st = NULL;
	autofree bool *src_ok = NULL;
	char *result = NULL;

	if (!a->nr_mounts || path[0] != '/')
		return NULL;
	src_st = xcalloc(a->nr_mounts, sizeof(*src_st));
	src_ok = xcalloc(a->nr_mounts, sizeof(*src_ok));
	for (size_t i = 0; i < a->nr_mounts; i++)
		src_ok[i] = stat(a->mounts[i].source, &src_st[i]) == 0;

	for (size_t len = strlen(path); len > 0 && !result;) {
		struct stat st;
		char saved = path[len];

		path[len] = '\0';
		if (stat(len ? path : "/", &st) == 0) {
			for (size_t i = 0; i < a->nr_mounts; i++) {
				if (src_ok[i] && st.st_dev == src_st[i].st_dev && st.st_ino == src_st[i].st_ino) {
					path[len] = saved;
					result = path_join(a->mounts[i].target, path[len] ? path + len + 1 : "");
					break;
				}
			}
		}
		path[len] = saved;
		while (len > 0 && path[len - 1] != '/')
			len--;
		if (len > 1)
			len--; /* drop the slash too, but keep "/" itself */
		else if (len == 1)
			break;
	}
	return result;
}

/* Where the command starts when -d is not given: where the human is, when it is shared. */
static char *detect_directory(const struct agent *a)
{
	char cwd[PATH_MAX];

	if (!getcwd(cwd, sizeof(cwd)) || cwd[0] != '/')
		return NULL;
	return map_to_agent(a, cwd);
}

/*
 * -d DIR, in the agent's view. A folder of the human's that is shared (or
 * inside a share) becomes its place in the agent's view, as the current
 * folder does without -d. A path in the agent's home, or outside both homes
 * (/tmp), is the agent's already. A folder of the human's home that is not
 * shared is nowhere in the agent's view: say so, with what would work.
 */
static char *agent_directory(const struct run *r, const char *dir)
{
	autofree char *normal = path_normalize(dir);
	autohuman struct human human = { 0 };
	char *mapped;

	if (!normal)
		die_usage("run: --directory needs an absolute path");
	if (path_at_or_below(normal, r->user.home))
		return steal_pointer(&normal);
	mapped = map_to_agent(r->agent, normal);
	if (mapped)
		return mapped;
	human_load(&human);
	if (path_at_or_below(normal, human.home) || path_at_or_below(normal, human.home_real)) {
		autofree char *shown = escape_display(dir);

		error("'%s' is in your home, but not in a folder shared with agent '%s': the agent "
		      "cannot see it", shown, r->agent->user_name);
		if (r->agent->nr_mounts)
			hint("give a folder the agent sees: one in '%s' (its shares: 'au mount list -a %s'), "
			     "or share this one: au mount add -a %s %s", r->user.home, r->agent->user_name,
			     r->agent->user_name, shown);
		else
			hint("give a folder in the agent's home '%s', or share this one first: "
			     "au mount add -a %s %s", r->user.home, r->agent->user_name, shown);
		exit(EXIT_FAIL);
	}
	return steal_pointer(&normal);
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
	autofree char *sg = NULL;
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
	/* From a root-owned folder, never from the PATH: sg runs as root. */
	sg = find_in_path("sg");
	if (!sg)
		die("cannot run 'sg'");
	fflush(NULL);
	execv(sg, (char *const *)sg_argv);
	die_errno("cannot run '%s'", sg);
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
		{ "limit", required_argument, NULL, 'l' },
		{ "stats", no_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	/* "+": options stop at the first operand, which is the command. */
	while ((c = getopt_long(argc, argv, "+:a:e:d:vh", options, NULL)) != -1) {
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
		case 'l': {
			autostrbuf struct strbuf why = STRBUF_INIT;
			unsigned long long value;
			enum limit_key key;

			if (limit_parse(optarg, &key, &value, &why) < 0)
				die_usage("run: --limit: %s", why.buf);
			strvec_push(&o->limits, optarg);
			break;
		}
		case 's':
			o->stats = true;
			break;
		case 'v':
			o->verbose = o->stats = true;
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

	autostrbuf struct strbuf why = STRBUF_INIT;

	if (!a->bootstrapped) {
		error("agent '%s' is not fully set up ('au new' did not finish)", a->user_name);
		hint("'au repair -a %s' finishes it; 'au delete -a %s' removes what was made", a->user_name,
		     a->user_name);
		exit(EXIT_FAIL);
	}
	agent_user_load(&r->user, a->user_name, a->group);
	if (!r->user.user_exists || !r->user.group_exists) {
		error("the %s of agent '%s' does not exist", r->user.user_exists ? "group" : "user", a->user_name);
		hint("run 'au info -a %s' to see what is broken", a->user_name);
		exit(EXIT_FAIL);
	}
	/* The entrypoint would become the uid it was built with: whoever has it now. */
	if (!agent_user_is_the_agents(a, &r->user, &why) || !agent_group_is_the_agents(a, &r->user, &why)) {
		error("refusing to run agent '%s': %s", a->user_name, why.buf);
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

	/*
	 * An entrypoint that misses what this au's fixes is never run, even
	 * when it checks out: after the checks, whose reasons are more precise.
	 */
	if (fd >= 0 && !entrypoint_up_to_date(a, &why)) {
		close(fd);
		error("refusing to run agent '%s': %s", a->user_name, why.buf);
		hint("run 'au repair -a %s' to build it again (or 'au repair --all' for every agent)", a->user_name);
		exit(EXIT_FAIL);
	}
	if (fd >= 0)
		return fd;
	human_load(&human);
	if (unreadable && human_in_group_db(&human, a->group))
		reexec_through_sg(a, argc, argv, ctx->config_path);
	error("refusing to run the entrypoint of agent '%s': %s", a->user_name, why.buf);
	hint("run 'au info -a %s'; 'au repair -a %s' builds a fresh one", a->user_name, a->user_name);
	exit(EXIT_FAIL);
}

/* KEY is set by "au env" or --env: then the human's own LANG or TERM does not pass as well. */
static bool env_has(const struct run_opts *o, const char *key)
{
	for (size_t i = 0; i < o->nr_env; i++) {
		if (!strcmp(o->env[i].key, key))
			return true;
	}
	return false;
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
 * KEY takes the human's value now; unset stays unset, like docker -e KEY. An
 * explicit LANG or TERM replaces the human's: the entrypoint takes the first
 * one it finds, so the human's must not be there too. Where au-netproxy
 * serves the agent, the proxy variables are au's (add_proxy_environment()),
 * and one stored or given is left out, with a word: it would lead nowhere
 * from the agent's namespace.
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
		if (v && !env_has(&stored, caller_vars[i]))
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
 * A share made by the reference tool or an older au has no recorded inode:
 * the entrypoint could not tell the folder shared from one put at its path
 * since, so it is not mounted until "au mount add" records it.
 */
static void refuse_unrecorded_share(const struct agent *a, const struct mount_spec *m)
{
	autofree char *source = NULL;
	autofree char *target = NULL;
	autostrbuf struct strbuf q = STRBUF_INIT;

	if (m->has_identity)
		return;
	shell_quote(&q, m->source);
	source = strbuf_detach(&q);
	shell_quote(&q, m->target);
	target = strbuf_detach(&q);
	error("the share '%s' of agent '%s' has no recorded device and inode (made by the reference tool "
	      "or an older au)", m->source, a->user_name);
	hint("if it is the folder you mean, record it: au mount remove -a %s %s && au mount add -a %s%s %s %s",
	     a->user_name, source, a->user_name, m->read_only ? "" : " --rw", source, target);
	exit(EXIT_FAIL);
}

/*
 * Each share, and for the read-write ones their protections (pins of the
 * human's git directories, read-only hooks, configs, .envrc...) and the
 * watch of what changes in them (protect.c).
 */
static void add_shares(struct run *r, const struct config *cfg)
{
	const struct agent *a = r->agent;

	for (size_t i = 0; i < a->nr_mounts; i++) {
		const struct mount_spec *m = &a->mounts[i];

		refuse_unrecorded_share(a, m);
		ep_request_add_mount(&r->req, m->source, m->source_device, m->source_inode, m->target,
				     m->read_only);
	}
	protect_prepare(&r->protect, a, r->user.gid, cfg, &r->req);
	agent_gitconfig_add_mount(&r->req, a, &r->user);
}

/*
 * COMMAND, through the agent's login shell unless --no-login, so that its
 * profile sets it up as a login would.
 */
/*
 * What the login shell runs: Debian's ~/.profile adds ~/.local/bin only if it
 * existed at login, so make sure; then COMMAND ("$@"). A command that is not
 * found or cannot run is said in au's words, the entrypoint's own for
 * --no-login (see exec_command()), not in the shell's ("au: line 1: exec:
 * ..."). POSIX sh: the agent's shell may be dash. PATH is searched as exec
 * would, files only (a function of the profile is not what exec runs).
 */
static const char login_script[] =
	"case \":$PATH:\" in *\":$HOME/.local/bin:\"*) ;; *) PATH=\"$HOME/.local/bin:$PATH\" ;; esac\n"
	"case $1 in\n"
	"*/*) au_cmd=$1 ;;\n"
	"*) au_cmd=; set -f; au_ifs=$IFS; IFS=:\n"
	"   for au_dir in $PATH; do\n"
	"     if [ -f \"${au_dir:-.}/$1\" ] && [ -x \"${au_dir:-.}/$1\" ]; then au_cmd=${au_dir:-.}/$1; break; fi\n"
	"   done\n"
	"   IFS=$au_ifs; set +f ;;\n"
	"esac\n"
	"if [ -z \"$au_cmd\" ] || ! [ -e \"$au_cmd\" ]; then\n"
	"  printf \"au: '%s': command not found\\n\" \"$1\" >&2; exit " SU_STR(SU_EXIT_NOT_FOUND) "\n"
	"elif [ -d \"$au_cmd\" ] || ! [ -x \"$au_cmd\" ]; then\n"
	"  printf \"au: cannot run '%s': Permission denied\\n\" \"$1\" >&2; exit " SU_STR(SU_EXIT_CANNOT_RUN) "\n"
	"fi\n"
	"unset au_cmd au_dir au_ifs\n"
	"exec \"$@\"";

static void add_command(struct run *r, int argc, char **argv)
{
	struct strvec *cmd = &r->req.command;

	if (!r->opts.no_login) {
		strvec_push(cmd, r->user.shell);
		strvec_push(cmd, "--login");
		if (isatty(STDIN_FILENO))
			strvec_push(cmd, "-i");
		strvec_push(cmd, "-c");
		strvec_push(cmd, login_script);
		strvec_push(cmd, "au");
	}
	for (int i = r->opts.cmd_index; i < argc; i++)
		strvec_push(cmd, argv[i]);
}

/*
 * au stays the entrypoint's parent when it relays a terminal, keeps the
 * network log, audits read-write shares afterwards or prints the usage; then
 * the entrypoint reports to it.
 */
static bool au_stays_parent(const struct run *r)
{
	return term_needs_pty() || r->protect.nr_shares || r->opts.stats || r->req.net == SU_NET_MODE_PROXY;
}

/*
 * The run's limits: the agent's stored ones, then each --limit. They were
 * checked when stored and when given.
 */
static void add_limits(struct run *r)
{
	struct limits limits = { { 0 } };
	autostrbuf struct strbuf why = STRBUF_INIT; /* none: each was checked before */

	for (size_t i = 0; i < r->agent->nr_limits; i++)
		limits_set(&limits, r->agent->limits[i], &why);
	for (size_t i = 0; i < r->opts.limits.nr; i++)
		limits_set(&limits, r->opts.limits.v[i], &why);
	r->req.memory_max = limits.value[LIMIT_MEMORY];
	r->req.cpu_percent = limits.value[LIMIT_CPU];
	r->req.tasks_max = limits.value[LIMIT_TASKS];
	if (r->opts.verbose) {
		limits_describe(&why, &limits);
		fprintf(stderr, "au: limits: %s\n", why.buf);
	}
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
		hint("share fewer folders");
		exit(EXIT_FAIL);
	}
	r->req.directory = r->opts.directory ? agent_directory(r, r->opts.directory) : detect_directory(r->agent);
	r->req.keep_running = r->opts.keep_running;
	/* On au's pty, Ctrl-Z stops the agent's job, then the entrypoint, then au (term.c). */
	r->req.job_control = term_needs_pty();
	add_limits(r);
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

/*
 * Where systemd is init, systemd-run starts the entrypoint in a scope of
 * the human's user manager (scope.h): the verified file, by its fd, which
 * therefore stays open across this exec and systemd-run's.
 */
AU_NORETURN static void exec_in_scope(struct run *r)
{
	struct strvec argv = STRVEC_INIT, env = STRVEC_INIT;

	scope_argv(r->agent->user_name, &r->req, r->ep_fd, &r->argv, &argv);
	scope_env(&r->env, &env);
	if (fcntl(r->ep_fd, F_SETFD, 0) == 0)
		execve(SYSTEMD_RUN, argv.v, env.v);
	fprintf(stderr, "au: cannot run '%s': %s\n", SYSTEMD_RUN, strerror(errno));
	_exit(SU_EXIT_SELF);
}

/* In whatever process is to become the entrypoint. */
AU_NORETURN static void exec_entrypoint(struct run *r)
{
	place_channel_fds(r);
	if (r->scope)
		exec_in_scope(r);
	syscall(SYS_execveat, r->ep_fd, "", r->argv.v, r->env.v, AT_EMPTY_PATH);
	fprintf(stderr, "au: cannot execute the entrypoint '%s': %s\n", r->agent->entrypoint, strerror(errno));
	_exit(SU_EXIT_SELF);
}

static volatile pid_t entrypoint_pid = -1;

/* The signals the entrypoint passes on to the command. */
static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

/*
 * A signal that would end au goes to the entrypoint instead (as SIGTERM if
 * the entrypoint does not pass it on), and au waits for the run to end and
 * audits the read-write shares: the check must happen on every path where
 * au survives.
 */
static void forward_signal(int sig)
{
	int to = SIGTERM;

	for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++) {
		if (forwarded[i] == sig)
			to = sig;
	}
	if (entrypoint_pid > 0)
		kill(entrypoint_pid, to);
}

static void catch_signal(int sig)
{
	struct sigaction sa = { 0 }, cur;

	/* One the caller ignores stays ignored (nohup): it cannot end au. */
	if (sigaction(sig, NULL, &cur) < 0 || cur.sa_handler == SIG_IGN)
		return;
	sa.sa_handler = forward_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/*
 * Every signal whose default ends a process, but for faults (a bug of au's
 * own, which must not loop) and SIGKILL: caught from here on, and SIGPIPE
 * ignored. The pty relay takes its own through a signalfd.
 */
static void survive_signals(void)
{
	static const int fatal[] = {
		SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM, SIGSTKFLT, SIGXCPU, SIGXFSZ,
		SIGVTALRM, SIGPROF, SIGIO, SIGPWR,
	};

	for (size_t i = 0; i < ARRAY_SIZE(fatal); i++)
		catch_signal(fatal[i]);
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		catch_signal(sig);
	signal(SIGPIPE, SIG_IGN);
}

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
	r->reader.fds_as_paths = true; /* the watch may report thousands of folders */
	report_reader_start(&r->reader, r->report_fds[0]);
	r->report_fds[0] = -1; /* the reader's now */
}

/*
 * Without a terminal, but with read-write mounts to look at afterwards (or
 * the usage to print): run the entrypoint as a child in a process group of
 * its own (so that signals from a terminal reach it once, through us),
 * forward signals, wait.
 */
static int run_and_wait(struct run *r)
{
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
	int status;

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
	entrypoint_pid = child;
	status = pty_relay(&pty, child);
	entrypoint_pid = -1;
	return status;
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
	survive_signals();
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

/* --stats and -v: what the entrypoint measured, on stderr. */
static void print_usage(const struct run *r)
{
	if (!r->opts.stats)
		return;
	for (size_t i = 0; i < r->reader.nr; i++) {
		const struct report_msg *m = &r->reader.msgs[i];
		autostrbuf struct strbuf line = STRBUF_INIT;
		struct su_usage u;

		if (m->type != SU_REPORT_USAGE || m->size != sizeof(u))
			continue;
		memcpy(&u, m->data, sizeof(u));
		if (r->opts.verbose) {
			usage_placement(&line, &u);
			fprintf(stderr, "au: the run lived in %s\n", line.buf);
			strbuf_reset(&line);
		}
		usage_line(&line, &u);
		fprintf(stderr, "au: %s\n", line.buf);
	}
}

/* The agent may have set a trap for the human's next git command. */
static void audit_shares(struct run *r)
{
	protect_audit(&r->protect, &r->reader);
}

int cmd_run(int argc, char **argv, struct au_ctx *ctx)
{
	struct run r __attribute__((cleanup(run_release))) = {
		.opts = { .limits = STRVEC_INIT },
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
	warn_agent_writable_path(r.agent->user_name, r.user.uid, r.user.gid);
	choose_network(&r);
	build_environment(&r);
	prepare_network(&r);
	build_request(&r, &ctx->cfg, argc, argv);
	r.scope = systemd_booted();
	if (r.scope)
		scope_check_ready(r.agent->user_name);
	/* The agent starts after the lock is gone, as in the reference tool. */
	au_unlock(ctx);
	status = launch(&r);
	finish_network(&r);
	print_usage(&r);
	audit_shares(&r);
	return wait_status_to_exit(status);
}
