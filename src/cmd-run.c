/* cmd-run.c: au run: verify the entrypoint, then execute that very file. */
#include "agent.h"
#include "au.h"
#include "config.h"
#include "paths.h"
#include "protect.h"
#include "sys.h"
#include "term.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static const char run_usage[] =
	"Usage: au run [-a NAME] [-e KEY[=VALUE]]... [-d DIR] [--no-login] [--keep-running]\n"
	"              [--] COMMAND [ARG]...\n"
	"\n"
	"Run COMMAND as the agent, in its own mount and PID namespaces, with a scrubbed\n"
	"environment and, when you are on a terminal, a pseudo-terminal of its own.\n"
	"\n"
	"  -a, --agent NAME       the agent (default: agent)\n"
	"  -e, --env KEY[=VALUE]  set KEY for the command; a bare KEY passes your value\n"
	"  -d, --directory DIR    working directory (default: where you are, when it is\n"
	"                         inside a mounted folder, else the agent's home)\n"
	"      --no-login         run COMMAND directly, not through the agent's login shell\n"
	"      --keep-running     leave the agent's background processes running after\n"
	"                         COMMAND exits (they are killed otherwise)\n"
	"  -h, --help             show this help\n"
	"\n"
	"Only LANG and TERM pass from your environment, plus what 'au env' stored and\n"
	"each --env. Options stop at COMMAND: 'au run ls -la' passes -la to ls.\n"
	"The exit status is COMMAND's, or 128+N when signal N ended it.\n";

struct env_entry {
	char *key;
	char *value; /* NULL: pass the human's value at run time */
};

struct run_opts {
	const char *agent;
	const char *directory;
	bool no_login;
	bool keep_running;
	struct env_entry *env;
	size_t nr_env, alloc_env;
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
#define autorunopts __attribute__((cleanup(run_opts_release)))

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
	if (!strcmp(key, "HOME") || !strcmp(key, "USER") || !strcmp(key, "LOGNAME") || !strcmp(key, "SHELL")) {
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

static int compare_mounts(const void *a, const void *b)
{
	const struct mount_spec *x = *(const struct mount_spec *const *)a;
	const struct mount_spec *y = *(const struct mount_spec *const *)b;

	/* A parent sorts before its children, so it is mounted first. */
	return strcmp(x->target, y->target);
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

/*
 * Just after "au new" the human's session lacks the agent's group, so the
 * entrypoint (mode 4750) cannot be opened. Go through sg, which starts a
 * process with that group, and run this very command again there.
 */
static int reexec_through_sg(const struct agent *a, int argc, char **argv, const char *config_path)
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
	{
		/* sg runs the text with /bin/sh, which may be dash: POSIX quoting only. */
		struct strbuf sb = STRBUF_INIT;

		strbuf_addstr(&sb, "exec");
		for (size_t i = 0; i < cmd.nr; i++) {
			strbuf_addch(&sb, ' ');
			shell_quote_posix(&sb, cmd.v[i]);
		}
		script = strbuf_detach(&sb);
	}
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
static int run_and_wait(int ep_fd, struct strvec *argv, struct strvec *env, const char *path)
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
		syscall(SYS_execveat, ep_fd, "", argv->v, env->v, AT_EMPTY_PATH);
		fprintf(stderr, "au: cannot execute the entrypoint '%s': %s\n", path, strerror(errno));
		_exit(125);
	}
	close(ep_fd);
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

static void parse_run_options(int argc, char **argv, struct run_opts *o)
{
	static const struct option options[] = {
		{ "agent", required_argument, NULL, 'a' },
		{ "env", required_argument, NULL, 'e' },
		{ "directory", required_argument, NULL, 'd' },
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
}

int cmd_run(int argc, char **argv, struct au_ctx *ctx)
{
	autorunopts struct run_opts o = { 0 };
	autoconfig struct config cfg = { 0 };
	struct agent *a;
	autoagentuser struct agent_user user = { 0 };
	autohuman struct human human = { 0 };
	autostrvec struct strvec ep_argv = STRVEC_INIT;
	autostrvec struct strvec ep_env = STRVEC_INIT;
	autostrbuf struct strbuf why = STRBUF_INIT;
	autofree char *directory = NULL;
	const struct mount_spec **sorted;
	struct protect_scan *scans;
	size_t nr_rw = 0;
	int status;
	struct pty_session pty;
	bool use_pty, unreadable;
	int lock_fd, ep_fd, cmd_index;
	pid_t child;

	/* An inherited SIG_IGN would let the kernel reap our child before we wait. */
	signal(SIGCHLD, SIG_DFL);
	parse_run_options(argc, argv, &o);
	cmd_index = optind;

	lock_fd = config_lock(ctx->config_path, false);
	config_load(&cfg, ctx->config_path);
	startup_warnings(&cfg);
	a = agent_select(&cfg, o.agent);
	if (!a->bootstrapped) {
		error("agent '%s' is not fully set up ('au new' did not finish)", a->user_name);
		hint("run 'au delete -a %s', then 'au new -a %s'", a->user_name, a->user_name);
		return EXIT_FAIL;
	}
	agent_user_load(&user, a->user_name, a->group);
	if (!user.user_exists || !user.group_exists) {
		error("the %s of agent '%s' does not exist", user.user_exists ? "group" : "user", a->user_name);
		hint("run 'au info -a %s' to see what is broken", a->user_name);
		return EXIT_FAIL;
	}

	ep_fd = entrypoint_open_verified(a, user.gid, &why, &unreadable);
	if (ep_fd < 0) {
		human_load(&human);
		if (unreadable && human_in_group_db(&human, a->group))
			return reexec_through_sg(a, argc, argv, ctx->config_path);
		error("refusing to run the entrypoint of agent '%s': %s", a->user_name, why.buf);
		hint("run 'au info -a %s'; 'au delete -a %s' and 'au new -a %s' make a fresh one",
		     a->user_name, a->user_name, a->user_name);
		return EXIT_FAIL;
	}

	/* The stored environment first, so that --env wins. */
	{
		struct run_opts stored = { 0 };
		for (size_t i = 0; i < a->nr_env; i++)
			env_add(&stored, a->env[i], true);
		for (size_t i = 0; i < o.nr_env; i++) {
			autofree char *entry = o.env[i].value ? xasprintf("%s=%s", o.env[i].key, o.env[i].value)
							      : xstrdup(o.env[i].key);
			env_add(&stored, entry, false);
		}
		run_opts_release(&o);
		o.env = stored.env;
		o.nr_env = stored.nr_env;
		o.alloc_env = stored.alloc_env;
	}
	for (const char *const *name = (const char *const[]){ "LANG", "TERM", NULL }; *name; name++) {
		const char *v = getenv(*name);
		if (v)
			strvec_pushf(&ep_env, "%s=%s", *name, v);
	}

	strvec_push(&ep_argv, "su_as_agent");
	strvec_push(&ep_argv, "au1");
	for (size_t i = 0; i < o.nr_env; i++) {
		const char *v = o.env[i].value ? o.env[i].value : getenv(o.env[i].key);
		if (!v)
			continue; /* like docker -e KEY: unset stays unset */
		strvec_pushf(&ep_env, "%s=%s", o.env[i].key, v);
		strvec_push(&ep_argv, "-e");
		strvec_push(&ep_argv, o.env[i].key);
	}

	sorted = xcalloc(a->nr_mounts + 1, sizeof(*sorted));
	for (size_t i = 0; i < a->nr_mounts; i++)
		sorted[i] = &a->mounts[i];
	qsort(sorted, a->nr_mounts, sizeof(*sorted), compare_mounts);
	for (size_t i = 0; i < a->nr_mounts; i++) {
		strvec_push(&ep_argv, sorted[i]->read_only ? "-r" : "-w");
		strvec_push(&ep_argv, sorted[i]->source);
		strvec_push(&ep_argv, sorted[i]->target);
	}
	scans = xcalloc(a->nr_mounts + 1, sizeof(*scans));
	{
		/*
		 * Every pin (-g) before any read-only protection (-p): a pin is
		 * a copy of its folder without the mounts inside it, so a pin
		 * after a -p below it would hide that -p.
		 */
		autostrvec struct strvec prot = STRVEC_INIT;

		for (size_t i = 0; i < a->nr_mounts; i++) {
			if (!sorted[i]->read_only) {
				protect_collect(sorted[i], config_protected_paths(&cfg), getuid(), &prot, &scans[i]);
				nr_rw++;
			}
		}
		for (int pass = 0; pass < 2; pass++) {
			for (size_t i = 0; i + 1 < prot.nr; i += 2) {
				if (!strcmp(prot.v[i], pass ? "-p" : "-g")) {
					strvec_push(&ep_argv, prot.v[i]);
					strvec_push(&ep_argv, prot.v[i + 1]);
				}
			}
		}
	}

	{
		/* The entrypoint takes at most 1024 (-p and -g); say so here, clearly. */
		size_t nr_protected = 0;
		for (size_t i = 0; i < ep_argv.nr && strcmp(ep_argv.v[i], "--"); i++)
			nr_protected += !strcmp(ep_argv.v[i], "-p") || !strcmp(ep_argv.v[i], "-g");
		if (nr_protected > 1024) {
			error("the read-write mounts of agent '%s' hold too many git repositories to protect "
			      "(%zu paths; the limit is 1024)", a->user_name, nr_protected);
			hint("share smaller folders, or fewer of them read-write");
			return EXIT_FAIL;
		}
	}
	directory = o.directory ? xstrdup(o.directory) : detect_directory(a);
	if (directory) {
		strvec_push(&ep_argv, "-d");
		strvec_push(&ep_argv, directory);
	}
	if (o.keep_running)
		strvec_push(&ep_argv, "-k");
	strvec_push(&ep_argv, "--");

	use_pty = term_needs_pty();
	if (!o.no_login) {
		strvec_push(&ep_argv, user.shell);
		strvec_push(&ep_argv, "--login");
		if (isatty(STDIN_FILENO))
			strvec_push(&ep_argv, "-i");
		strvec_push(&ep_argv, "-c");
		/* Debian's ~/.profile adds ~/.local/bin only if it existed at login: make sure. */
		strvec_push(&ep_argv, "case \":$PATH:\" in *\":$HOME/.local/bin:\"*) ;; "
				      "*) PATH=\"$HOME/.local/bin:$PATH\" ;; esac; exec \"$@\"");
		strvec_push(&ep_argv, "au");
	}
	for (int i = cmd_index; i < argc; i++)
		strvec_push(&ep_argv, argv[i]);

	/* The agent starts after the lock is gone, as in the reference tool. */
	if (lock_fd >= 0)
		close(lock_fd);
	fflush(NULL);

	if (!use_pty && !nr_rw) {
		/* Nothing to look at afterwards: become the entrypoint. */
		syscall(SYS_execveat, ep_fd, "", ep_argv.v, ep_env.v, AT_EMPTY_PATH);
		die_errno("cannot execute the entrypoint '%s'", a->entrypoint);
	}
	if (!use_pty) {
		status = run_and_wait(ep_fd, &ep_argv, &ep_env, a->entrypoint);
		goto audit;
	}

	if (pty_open(&pty) < 0)
		return EXIT_FAIL; /* it said why */
	child = fork();
	if (child < 0) {
		pty_release(&pty);
		die_errno("cannot fork");
	}
	if (child == 0) {
		pty_child_setup(&pty);
		syscall(SYS_execveat, ep_fd, "", ep_argv.v, ep_env.v, AT_EMPTY_PATH);
		fprintf(stderr, "au: cannot execute the entrypoint '%s': %s\n", a->entrypoint, strerror(errno));
		_exit(125);
	}
	close(ep_fd);
	status = pty_relay(&pty, child);
audit:
	/* The agent may have set a trap for the human's next git command. */
	for (size_t i = 0; i < a->nr_mounts; i++) {
		if (!sorted[i]->read_only)
			protect_audit(sorted[i], config_protected_paths(&cfg), getuid(), &scans[i]);
		protect_scan_release(&scans[i]);
	}
	free(scans);
	free(sorted);
	return wait_status_to_exit(status);
}
