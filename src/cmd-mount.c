/* cmd-mount.c: au mount add|remove|list: folders of the human's home shared with an agent. */
#include "acl.h"
#include "agent.h"
#include "au-json.h"
#include "au.h"
#include "config.h"
#include "paths.h"
#include "protect.h"
#include "sys.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

static const char mount_usage[] =
	"Usage: au mount add [-a NAME] [--rw] SOURCE [TARGET]\n"
	"       au mount remove [-a NAME] SOURCE_OR_TARGET\n"
	"       au mount list [-a NAME] [--json]\n"
	"\n"
	"Share a folder (or, read-only, a file) of your home with an agent. It appears\n"
	"at TARGET (by default the same place below the agent's home) in the agent's\n"
	"private mount namespace, at each 'au run'. Read-only unless --rw, which gives\n"
	"the group su-as-NAME rwx on SOURCE and everything below it with ACLs; 'remove'\n"
	"takes them back.\n"
	"In read-write folders, git hooks, .git/config, .envrc, .vscode and .idea stay\n"
	"read-only for the agent ('au mount list' shows the list once a folder is\n"
	"shared read-write).\n"
	"\n"
	"  -a, --agent NAME  the agent (default: agent)\n"
	"      --rw          share read-write\n"
	"      --json        list: one JSON object {\"agent\", \"mounts\": [{\"source\",\n"
	"                    \"target\", \"read_only\"}, ...], \"protected_paths\"} (see 'man au')\n"
	"  -h, --help        show this help\n";

struct mount_ctx {
	struct au_ctx *au;
	const char *agent;
	bool rw;
	bool json; /* mount list --json */
	struct config *cfg; /* the context's */
	struct agent *a;
	struct agent_user user;
	struct human human;
	char *agent_home; /* canonical */
};

static void parse_mount_options(int argc, char **argv, struct mount_ctx *m, const char *verb, bool allow_rw)
{
	static const struct option options[] = {
		{ "agent", required_argument, NULL, 'a' },
		{ "rw", no_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	autofree char *cmd = xasprintf("mount %s", verb);
	int c;

	while ((c = getopt_long(argc, argv, ":a:h", options, NULL)) != -1) {
		switch (c) {
		case 'a':
			m->agent = optarg;
			break;
		case 'w':
			if (!allow_rw)
				die_usage("%s: unknown option '--rw'", cmd);
			m->rw = true;
			break;
		case 'j':
			if (strcmp(verb, "list"))
				die_usage("%s: unknown option '--json'", cmd);
			m->json = true;
			break;
		case 'h':
			fputs(mount_usage, stdout);
			exit(EXIT_OK);
		default:
			die_bad_option(c, argv, cmd);
		}
	}
}

/* After the options: the shared start (the mount table says how to lock), then the agent's side. */
static void open_agent(struct mount_ctx *m)
{
	char real[PATH_MAX];

	m->a = au_setup(m->au, m->agent);
	m->cfg = &m->au->cfg;
	agent_user_load(&m->user, m->a->user_name, m->a->group);
	human_load(&m->human);
	m->agent_home = xstrdup(realpath(m->user.home, real) ? real : m->user.home);
}

static void mount_ctx_release(struct mount_ctx *m)
{
	agent_user_release(&m->user);
	human_release(&m->human);
	free(m->agent_home);
	m->agent_home = NULL;
}

/* Makes path absolute (from the current directory) and lexically normal. */
static char *absolute(const char *path)
{
	char cwd[PATH_MAX];
	autofree char *joined = NULL;

	if (path[0] == '/')
		return path_normalize(path);
	if (!getcwd(cwd, sizeof(cwd)))
		die_errno("cannot get the current directory");
	joined = xasprintf("%s/%s", cwd, path);
	return path_normalize(joined);
}

/*
 * realpath() follows symlinks, and inside a read-write share the agent can
 * plant one (proj/sub -> ~/.ssh) for the human to pass to "mount add --rw".
 * So every symlink on the way must be the human's own, or root's.
 */
static void refuse_foreign_symlinks(const char *abs, uid_t uid)
{
	autofree char *copy = xstrdup(abs);

	for (char *p = copy + 1;; p++) {
		char saved = *p;
		struct stat st;

		if (*p && *p != '/')
			continue;
		*p = '\0';
		if (lstat(copy, &st) == 0 && S_ISLNK(st.st_mode) && st.st_uid != uid && st.st_uid != 0) {
			autofree char *shown = escape_display(copy);
			die("'%s' is a symlink made by uid %u, not by you: refusing to follow it", shown,
			    (unsigned)st.st_uid);
		}
		*p = saved;
		if (!saved)
			break;
	}
}

/*
 * Keeps safe.directory in the agent's global git config in step with its
 * mounts, so that its git accepts the human's repositories. This runs as the
 * agent, through its entrypoint (the agent's ~/.gitconfig is its own file,
 * never written by the human by path), with the system's git by absolute
 * path, and with no terminal: whatever the agent planted cannot talk to the
 * human (a fake password prompt) while the human runs a mount command.
 */
static void sync_safe_directory(struct mount_ctx *m, const char *target, bool add)
{
	static const char *const system_gits[] = { "/usr/bin/git", "/bin/git", "/usr/local/bin/git" };
	const char *git = NULL;
	char self[PATH_MAX];
	struct stat st;
	ssize_t n;

	for (size_t i = 0; i < ARRAY_SIZE(system_gits) && !git; i++) {
		if (stat(system_gits[i], &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
		    !(st.st_mode & (S_IWGRP | S_IWOTH)))
			git = system_gits[i];
	}
	if (!git || !m->user.user_exists)
		return;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return;
	self[n] = '\0';
	{
		const char *shown[] = { "au", "run", "-a", m->a->user_name, "--no-login", "--", git, "config",
					"--global", add ? "--add" : "--unset-all", "safe.directory", target, NULL };
		const char *fixed[] = { "au", "run", "-a", m->a->user_name, "--no-login", "--", git, "config",
					"--global", "--fixed-value", "--unset-all", "safe.directory", target, NULL };
		const char *const *cmd = add ? shown : fixed;
		autostrvec struct strvec argv = STRVEC_INIT;
		int rc;

		print_command(cmd, 0);
		strvec_push(&argv, self);
		strvec_push(&argv, "-C");
		strvec_push(&argv, m->cfg->path);
		strvec_pushv(&argv, cmd + 1);
		rc = run_command(strvec_argv(&argv), RUN_QUIET | RUN_NULL_STDIO);
		/* git config --unset-all exits 5 when there was nothing to unset. */
		if (rc != 0 && !(rc == 5 && !add))
			warn("could not update the agent's git safe.directory (exit status %d)", rc);
	}
}

static void print_stats(const struct acl_walk_stats *st)
{
	printf("  %zu entries changed, %zu already as wanted", st->changed, st->unchanged);
	if (st->not_owned)
		printf(", %zu not yours left as they are (you keep access through the group)", st->not_owned);
	if (st->skipped)
		printf(", %zu symlinks or vanished entries skipped", st->skipped);
	printf("\n");
}

static int acl_change(struct mount_ctx *m, const char *source, enum acl_walk_mode mode)
{
	struct acl_walk_stats stats = { 0 };
	autofree char *shown = escape_display(source);
	autoclose int fd = open_nofollow(source, O_RDONLY | O_DIRECTORY);
	int rc;

	if (fd < 0) {
		if (errno == ENOTDIR)
			return error("read-write sharing of a single file is not supported: share its folder");
		return error_errno("cannot open '%s'", shown);
	}
	if (mode == ACL_WALK_GRANT)
		printf("Giving group '%s' rwx on %s (ACL entries, default entries and setgid on folders)\n",
		       m->a->group, shown);
	else
		printf("Taking group '%s' access back from %s\n", m->a->group, shown);
	fflush(stdout);
	rc = acl_walk(fd, source, m->user.gid, m->human.uid, mode, true, &stats);
	print_stats(&stats);
	return rc;
}

static void print_protected(const struct config *cfg)
{
	const char *const *p = config_protected_paths(cfg);

	if (!*p) {
		printf("No protected paths: read-write mounts are writable everywhere (protected_paths = [])\n");
		return;
	}
	printf("Read-only for the agent inside read-write mounts, in each git repository:");
	for (; *p; p++) {
		autofree char *shown = escape_display(*p);
		printf(" %s", shown);
	}
	printf("\n");
}

/*
 * SOURCE as the human meant it: inside their home (not the home itself),
 * their own, a folder or (read-only) a file. Returns its canonical path.
 */
static char *resolve_source(struct mount_ctx *m, const char *arg, struct stat *st)
{
	autofree char *given = absolute(arg);
	char real[PATH_MAX];

	refuse_foreign_symlinks(given, m->human.uid);
	if (!realpath(given, real))
		die_errno("cannot use '%s'", arg);
	if (!strcmp(real, m->human.home_real))
		die("'%s' is your home itself: share a folder inside it", real);
	if (!path_below(real, m->human.home_real))
		die("'%s' is not inside your home '%s'", real, m->human.home_real);
	if (lstat(real, st) < 0)
		die_errno("cannot stat '%s'", real);
	if (st->st_uid != m->human.uid)
		die("'%s' is not owned by you (uid %u)", real, (unsigned)st->st_uid);
	if (!S_ISDIR(st->st_mode) && !S_ISREG(st->st_mode))
		die("'%s' is not a folder or a file", real);
	if (m->rw && !S_ISDIR(st->st_mode))
		die("'%s' is a file: read-write sharing is for folders (share its folder, or the file read-only)",
		    real);
	return xstrdup(real);
}

/* TARGET as given, or the same place below the agent's home; strictly inside that home. */
static char *choose_target(const struct mount_ctx *m, const char *source, const char *arg)
{
	char *target;

	if (arg) {
		if (arg[0] != '/')
			die_usage("mount add: TARGET must be an absolute path inside '%s'", m->agent_home);
		target = path_normalize(arg);
	} else {
		target = path_join(m->agent_home, source + strlen(m->human.home_real) + 1);
	}
	if (!strcmp(target, m->agent_home))
		die("'%s' is the agent's home itself: mount inside it", target);
	if (!path_below(target, m->agent_home))
		die("'%s' is not inside the agent's home '%s'", target, m->agent_home);
	return target;
}

static void refuse_duplicate(const struct mount_ctx *m, const char *source, const char *target)
{
	for (size_t i = 0; i < m->a->nr_mounts; i++) {
		const struct mount_spec *o = &m->a->mounts[i];
		if (!strcmp(o->source, source))
			die("'%s' is already shared (mounted at '%s')", source, o->target);
		if (!strcmp(o->target, target))
			die("'%s' is already a mount target (of '%s')", target, o->source);
	}
}

static int mount_add(int argc, char **argv, struct mount_ctx *m)
{
	autofree char *source = NULL;
	autofree char *target = NULL;
	struct stat st;

	parse_mount_options(argc, argv, m, "add", true);
	if (optind >= argc)
		die_usage("mount add: missing SOURCE");
	if (argc - optind > 2)
		die_usage("mount add: unexpected argument '%s'", argv[optind + 2]);
	open_agent(m);
	if (!m->user.user_exists || !m->user.group_exists)
		die("the %s of agent '%s' does not exist (see 'au info -a %s')",
		    m->user.user_exists ? "group" : "user", m->a->user_name, m->a->user_name);

	source = resolve_source(m, argv[optind], &st);
	target = choose_target(m, source, argc - optind == 2 ? argv[optind + 1] : NULL);
	refuse_duplicate(m, source, target);

	if (m->rw && acl_change(m, source, ACL_WALK_GRANT) < 0) {
		/* Half a share is worse than none: take back what was given. */
		acl_change(m, source, ACL_WALK_REVOKE);
		error("could not give access to all of '%s'; nothing was shared", source);
		hint("fix the errors above and try again");
		return EXIT_FAIL;
	}
	agent_add_mount(m->a, source, target, !m->rw);
	config_save(m->cfg);
	printf("Added %s %s access to %s (mounted at %s)\n", m->a->user_name,
	       m->rw ? "read-write" : "read-only", source, target);
	if (m->rw)
		print_protected(m->cfg);
	au_unlock(m->au);
	if (S_ISDIR(st.st_mode))
		sync_safe_directory(m, target, true);
	return EXIT_OK;
}

static int mount_remove(int argc, char **argv, struct mount_ctx *m)
{
	autofree char *given = NULL;
	autofree char *source = NULL;
	autofree char *target = NULL;
	char real[PATH_MAX];
	size_t index = SIZE_MAX;
	bool read_only;

	parse_mount_options(argc, argv, m, "remove", false);
	if (optind >= argc)
		die_usage("mount remove: missing SOURCE_OR_TARGET");
	if (argc - optind > 1)
		die_usage("mount remove: unexpected argument '%s'", argv[optind + 1]);
	open_agent(m);

	given = absolute(argv[optind]);
	for (size_t i = 0; i < m->a->nr_mounts && index == SIZE_MAX; i++) {
		const struct mount_spec *o = &m->a->mounts[i];
		if (!strcmp(o->source, given) || !strcmp(o->target, given))
			index = i;
	}
	/* The source may have been given through a symlink of the human's. */
	if (index == SIZE_MAX && realpath(given, real)) {
		for (size_t i = 0; i < m->a->nr_mounts && index == SIZE_MAX; i++) {
			if (!strcmp(m->a->mounts[i].source, real))
				index = i;
		}
	}
	if (index == SIZE_MAX) {
		autofree char *shown = escape_display(given);
		error("agent '%s' has no mount with source or target '%s'", m->a->user_name, shown);
		hint("'au mount list -a %s' shows them", m->a->user_name);
		return EXIT_FAIL;
	}
	source = xstrdup(m->a->mounts[index].source);
	target = xstrdup(m->a->mounts[index].target);
	read_only = m->a->mounts[index].read_only;

	if (!read_only && m->user.group_exists) {
		struct stat st;
		if (lstat(source, &st) == 0 && acl_change(m, source, ACL_WALK_REVOKE) < 0) {
			error("could not take access back from all of '%s'; the mount stays recorded", source);
			return EXIT_FAIL;
		}
	}
	agent_remove_mount(m->a, index);
	config_save(m->cfg);
	printf("Removed %s %s access to %s (was mounted at %s)\n", m->a->user_name,
	       read_only ? "read-only" : "read-write", source, target);
	if (m->user.user_exists && agent_has_processes(m->user.uid)) {
		/* A mount lives as long as the namespace of the processes that see it. */
		warn("processes of agent '%s' are still running (au run --keep-running?): they keep "
		     "the mount until they exit", m->a->user_name);
		hint("stop them with: sudo pkill --uid %s", m->a->user_name);
	}
	au_unlock(m->au);
	sync_safe_directory(m, target, false);
	return EXIT_OK;
}

static void mount_list_json(struct mount_ctx *m)
{
	autostrbuf struct strbuf out = STRBUF_INIT;
	struct json_writer w;

	json_init(&w, &out);
	json_begin_object(&w);
	json_key(&w, "agent");
	json_string(&w, m->a->user_name);
	json_key(&w, "mounts");
	json_mounts(&w, m->a);
	json_key(&w, "protected_paths");
	json_strings(&w, config_protected_paths(m->cfg));
	json_end_object(&w);
	json_print(&w, stdout);
}

static int mount_list(int argc, char **argv, struct mount_ctx *m)
{
	bool any_rw = false;

	parse_mount_options(argc, argv, m, "list", false);
	if (optind < argc)
		die_usage("mount list: unexpected argument '%s'", argv[optind]);
	open_agent(m);
	if (m->json) {
		mount_list_json(m);
		return EXIT_OK;
	}
	if (!m->a->nr_mounts)
		printf("No mounts for agent %s.\n", m->a->user_name);
	for (size_t i = 0; i < m->a->nr_mounts; i++) {
		const struct mount_spec *o = &m->a->mounts[i];
		autofree char *src = escape_display(o->source);
		autofree char *dst = escape_display(o->target);

		printf("%s -> %s [%s]\n", src, dst, o->read_only ? "ro" : "rw");
		any_rw |= !o->read_only;
	}
	if (any_rw)
		print_protected(m->cfg);
	au_unlock(m->au);
	return EXIT_OK;
}

static const struct mount_command {
	const char *name;
	int (*fn)(int argc, char **argv, struct mount_ctx *m);
	unsigned setup;
} mount_commands[] = {
	{ "add", mount_add, NEED_AGENT | LOCK_WRITE },
	{ "remove", mount_remove, NEED_AGENT | LOCK_WRITE },
	{ "list", mount_list, NEED_AGENT | LOCK_READ },
};

int cmd_mount(int argc, char **argv, struct au_ctx *ctx)
{
	struct mount_ctx m __attribute__((cleanup(mount_ctx_release))) = { .au = ctx };

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(mount_usage, stdout);
		return EXIT_OK;
	}
	if (argc < 2)
		die_usage("mount: missing subcommand (add, remove or list)");
	for (size_t i = 0; i < ARRAY_SIZE(mount_commands); i++) {
		if (!strcmp(argv[1], mount_commands[i].name)) {
			ctx->setup = mount_commands[i].setup;
			return mount_commands[i].fn(argc - 1, argv + 1, &m);
		}
	}
	die_usage("mount: unknown subcommand '%s'", argv[1]);
}
