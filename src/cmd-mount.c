/* cmd-mount.c: au mount add|remove|list: folders of the human's home shared with an agent. */
#include "acl.h"
#include "agent.h"
#include "au-json.h"
#include "au.h"
#include "config.h"
#include "paths.h"
#include "protect.h"
#include "share.h"
#include "sys.h"
#include "toml.h"
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
	"the group su-as-NAME rwx on SOURCE and everything below it with ACLs, but\n"
	"nothing on files with more than one link (they may be files outside SOURCE\n"
	"too); 'remove' takes them back, and always stops sharing.\n"
	"SOURCE must be yours, reached through symlinks and folders of yours only, and\n"
	"is never a secret of yours (~/.ssh, ~/.gnupg...) or au's own config or state.\n"
	"'au run' refuses a SOURCE that is another folder than the one shared.\n"
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

/* path quoted so that it pastes into a shell (control bytes spelled out). */
static char *quoted(const char *path)
{
	struct strbuf sb = STRBUF_INIT;

	shell_quote(&sb, path);
	return strbuf_detach(&sb);
}

static void print_stats(const struct acl_walk_stats *st)
{
	autostrbuf struct strbuf line = STRBUF_INIT;

	strbuf_addf(&line, "  %zu %s changed, %zu already as wanted", st->changed,
		    plural(st->changed, "entry", "entries"), st->unchanged);
	if (st->not_owned)
		strbuf_addf(&line, ", %zu not yours left as they are (you keep access through the group)",
			    st->not_owned);
	if (st->skipped)
		strbuf_addf(&line, ", %zu symlinks or vanished entries skipped", st->skipped);
	line_out("%s", line.buf);
}

/* Up to the noted paths, one per line, and how many more there are. */
static void print_noted(const struct strvec *paths, size_t total)
{
	for (size_t i = 0; i < paths->nr; i++)
		line_out("    %s", paths->v[i]);
	if (total > paths->nr)
		line_out("    (and %zu more)", total - paths->nr);
}

/*
 * Files with more than one link were not shared for writing: which, why,
 * and how to give each its own copy when the human wants the agent to write
 * them.
 */
static void report_linked(const struct mount_ctx *m, const char *source, const struct acl_walk_stats *st,
			  const struct acl_walk_notes *notes)
{
	autofree char *q = quoted(source);

	if (!st->linked)
		return;
	line_out("  %zu file%s with more than one link not shared for writing (the agent reads %s only if "
		 "everyone may): the same file may be elsewhere too (uv's and pnpm's caches link theirs into "
		 "projects), and write here would be write there:", st->linked, st->linked == 1 ? "" : "s",
		 st->linked == 1 ? "it" : "them");
	print_noted(&notes->linked, st->linked);
	line_out("  To let the agent write them, give each its own copy (uv: UV_LINK_MODE=copy, pnpm: "
		 "package-import-method=copy), then share the folder again:");
	line_out("    find %s -type f -links +1 -exec sh -c 'cp -p -- \"$1\" \"$1.au-copy\" && "
		 "mv -f -- \"$1.au-copy\" \"$1\"' sh {} \\;", q);
	line_out("    au mount remove -a %s %s && au mount add -a %s --rw %s", m->a->user_name, q,
		 m->a->user_name, q);
}

/* The walk of a read-write share, from fd (the folder that was checked), with its report. */
static int acl_change(struct mount_ctx *m, int fd, const char *source, enum acl_walk_mode mode,
		      struct acl_walk_stats *stats, struct acl_walk_notes *notes)
{
	int rc;

	if (mode == ACL_WALK_GRANT)
		line_out("Giving group '%s' rwx on %s (ACL entries, default entries and setgid on folders)",
			 m->a->group, source);
	else
		line_out("Taking group '%s' access back from %s", m->a->group, source);
	fflush(stdout);
	rc = acl_walk_noting(fd, source, m->user.gid, m->human.uid, mode, true, stats, notes);
	print_stats(stats);
	return rc;
}

static void print_protected(const struct config *cfg)
{
	const char *const *p = config_protected_paths(cfg);
	autostrbuf struct strbuf line = STRBUF_INIT;

	if (!*p) {
		line_out("No protected paths: read-write mounts are writable everywhere (protected_paths = [])");
		return;
	}
	strbuf_addstr(&line, "Read-only for the agent inside read-write mounts, in each git repository:");
	for (; *p; p++) {
		autofree char *shown = escape_display(*p);
		strbuf_addf(&line, " %s", shown);
	}
	line_out("%s", line.buf);
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

/*
 * A folder cannot be mounted on a file, nor a file on a folder: what is at
 * TARGET already must be of SOURCE's kind, and no symlink, which au run
 * refuses. (The agent can still put one in the way later: then au run and
 * au info name the share.)
 */
static void refuse_type_mismatch(const struct stat *src, const char *source, const char *target)
{
	struct stat st;

	if (lstat(target, &st) < 0 || (!S_ISLNK(st.st_mode) && S_ISDIR(st.st_mode) == S_ISDIR(src->st_mode)))
		return;
	{
		autofree char *shown = escape_display(target);

		error("'%s' is a %s in the agent's home, and '%s' a %s: one cannot be mounted on the other",
		      shown, S_ISDIR(st.st_mode) ? "folder" : S_ISLNK(st.st_mode) ? "symlink" : "file", source,
		      S_ISDIR(src->st_mode) ? "folder" : "file");
		hint("give another TARGET: au mount add SOURCE TARGET");
		exit(EXIT_FAIL);
	}
}

/*
 * The config is TOML, whose strings are UTF-8: a path with other bytes (the
 * agent names folders in a share as it likes) cannot be recorded, and
 * written raw it would leave a config that no command loads.
 */
static void refuse_unwritable(const char *path)
{
	if (!toml_string_valid(path, strlen(path)))
		die("'%s' is not valid UTF-8, which the config cannot hold: rename it", path);
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

/*
 * This agent first, then every other one of the config that exists: none
 * may have shaped the path of a source (another agent could hand this one
 * a folder it should not have).
 */
static struct share_agent *every_agent(const struct mount_ctx *m, size_t *nr)
{
	struct share_agent *agents = xcalloc(m->cfg->nr_agents + 1, sizeof(*agents));

	*nr = 0;
	agents[(*nr)++] = (struct share_agent){ m->user.uid, m->user.gid };
	for (size_t i = 0; i < m->cfg->nr_agents; i++) {
		const struct agent *a = &m->cfg->agents[i];
		autoagentuser struct agent_user u = { 0 };

		if (a == m->a)
			continue;
		agent_user_load(&u, a->user_name, a->group);
		if (u.user_exists && u.group_exists)
			agents[(*nr)++] = (struct share_agent){ u.uid, u.gid };
	}
	return agents;
}

/*
 * The grant of a read-write share, from the fd of the folder that was
 * checked (never its path again). Half a share is worse than none: on any
 * failure what was given is taken back, from the same fd.
 */
static void grant_share(struct mount_ctx *m, const struct share_source *src)
{
	struct acl_walk_notes notes __attribute__((cleanup(acl_walk_notes_release))) = ACL_WALK_NOTES_INIT;
	struct acl_walk_stats stats = { 0 };
	autoclose int fd = openat(src->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		die_errno("cannot open '%s'", src->path);
	if (acl_change(m, fd, src->path, ACL_WALK_GRANT, &stats, &notes) < 0) {
		struct acl_walk_stats undo = { 0 };

		acl_walk(fd, src->path, m->user.gid, m->human.uid, ACL_WALK_REVOKE, true, &undo);
		error("could not give access to all of '%s'; nothing was shared", src->path);
		hint("fix the errors above and try again");
		exit(EXIT_FAIL);
	}
	report_linked(m, src->path, &stats, &notes);
}

static int mount_add(int argc, char **argv, struct mount_ctx *m)
{
	struct share_source src __attribute__((cleanup(share_source_release))) = { .fd = -1 };
	autofree struct share_agent *agents = NULL;
	size_t nr_agents;
	autofree char *target = NULL;
	struct mount_spec *spec;

	parse_mount_options(argc, argv, m, "add", true);
	if (optind >= argc)
		die_usage("mount add: missing SOURCE");
	if (argc - optind > 2)
		die_usage("mount add: unexpected argument '%s'", argv[optind + 2]);
	open_agent(m);
	if (!m->user.user_exists || !m->user.group_exists)
		die("the %s of agent '%s' does not exist (see 'au info -a %s')",
		    m->user.user_exists ? "group" : "user", m->a->user_name, m->a->user_name);

	agents = every_agent(m, &nr_agents);
	share_source_resolve(argv[optind], &m->human, agents, nr_agents, &src);
	share_refuse_secrets(src.path, &m->human, m->au->config_path);
	if (m->rw && !S_ISDIR(src.st.st_mode))
		die("'%s' is a file: read-write sharing is for folders (share its folder, or the file read-only)",
		    src.path);
	target = choose_target(m, src.path, argc - optind == 2 ? argv[optind + 1] : NULL);
	refuse_unwritable(src.path);
	refuse_unwritable(target);
	refuse_duplicate(m, src.path, target);
	refuse_type_mismatch(&src.st, src.path, target);

	if (m->rw)
		grant_share(m, &src);
	spec = agent_add_mount(m->a, src.path, target, !m->rw);
	/* What the entrypoint will insist on finding at that path. */
	spec->has_identity = true;
	spec->source_device = src.st.st_dev;
	spec->source_inode = src.st.st_ino;
	config_save(m->cfg);
	line_out("Added %s %s access to %s (mounted at %s)", m->a->user_name,
		 m->rw ? "read-write" : "read-only", src.path, target);
	if (m->rw) {
		print_protected(m->cfg);
		protect_share_added(m->a, m->user.gid, m->cfg, spec);
	}
	au_unlock(m->au);
	return EXIT_OK;
}

/*
 * The command that takes every entry of the agent's group back from the
 * folder quoted q: root's setfacl, which reads folders the human cannot, and
 * which no running process of the agent's can race (they are stopped first).
 */
static void hint_finish(const struct mount_ctx *m, const char *q)
{
	hint("nothing shares the folder now; to take every entry of group '%s' back, as root:", m->a->group);
	if (m->user.user_exists && agent_has_processes(m->user.uid))
		hint("  sudo pkill -KILL -u %s; sudo setfacl -R -P -x group:%s,default:group:%s -- %s",
		     m->a->user_name, m->a->group, m->a->group, q);
	else
		hint("  sudo setfacl -R -P -x group:%s,default:group:%s -- %s", m->a->group, m->a->group, q);
}

/* What a revoke could not take back, and the command that finishes the job. */
static void report_leftovers(const struct mount_ctx *m, const char *source, const struct acl_walk_stats *st,
			     const struct acl_walk_notes *notes)
{
	autofree char *q = quoted(source);

	if (st->unreadable) {
		error("%zu folder%s of others in '%s' could not be read: files of yours the agent moved "
		      "there keep its group's entries", st->unreadable, st->unreadable == 1 ? "" : "s", source);
		for (size_t i = 0; i < notes->unreadable.nr; i++)
			hint("not read: '%s'", notes->unreadable.v[i]);
	}
	if (st->lost)
		error("%zu folder%s in '%s' were moved during the walk and not seen to the end", st->lost,
		      st->lost == 1 ? "" : "s", source);
	if (st->errors)
		error("%zu entr%s in '%s' could not be changed (above)", st->errors,
		      st->errors == 1 ? "y" : "ies", source);
	hint_finish(m, q);
}

/* The revoke of a read-write share; false when something could not be taken back (said). */
static bool revoke_share(struct mount_ctx *m, const struct mount_spec *spec)
{
	struct acl_walk_notes notes __attribute__((cleanup(acl_walk_notes_release))) = ACL_WALK_NOTES_INIT;
	struct acl_walk_stats stats = { 0 };
	autostrbuf struct strbuf why = STRBUF_INIT;
	bool gone;
	autoclose int fd = share_open_recorded(spec, &why, &gone);

	if (fd < 0) {
		if (gone && !spec->has_identity)
			return true; /* gone, and no way to know where: nothing to do */
		error("%s: its ACL entries were not taken back", why.buf);
		if (spec->has_identity)
			hint("find it with: find ~ -xdev -inum %llu -type d; then take them back: "
			     "setfacl -R -P -x group:%s,default:group:%s -- FOLDER",
			     spec->source_inode, m->a->group, m->a->group);
		return false;
	}
	if (acl_change(m, fd, spec->source, ACL_WALK_REVOKE, &stats, &notes) == 0 && !stats.unreadable)
		return true;
	report_leftovers(m, spec->source, &stats, &notes);
	return false;
}

static int mount_remove(int argc, char **argv, struct mount_ctx *m)
{
	autofree char *given = NULL;
	autofree char *source = NULL;
	autofree char *target = NULL;
	char real[PATH_MAX];
	size_t index = SIZE_MAX;
	bool read_only, complete = true;

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

	/* The share leaves the config whatever the walk meets: what it could not do is said. */
	if (!read_only && m->user.group_exists)
		complete = revoke_share(m, &m->a->mounts[index]);
	agent_remove_mount(m->a, index);
	config_save(m->cfg);
	line_out("Removed %s %s access to %s (was mounted at %s)", m->a->user_name,
		 read_only ? "read-only" : "read-write", source, target);
	if (m->user.user_exists && agent_has_processes(m->user.uid)) {
		/* A mount lives as long as the namespace of the processes that see it. */
		warn("processes of agent '%s' are still running (au run --keep-running?): they keep "
		     "the mount until they exit", m->a->user_name);
		if (!read_only && complete) {
			/* They could have moved files of yours out of the walk's way, into folders of theirs. */
			autofree char *q = quoted(source);

			warn("they could also have moved files of yours where the walk did not see them");
			hint_finish(m, q);
		} else {
			hint("stop them with: sudo pkill --uid %s", m->a->user_name);
		}
	}
	au_unlock(m->au);
	return complete ? EXIT_OK : EXIT_FAIL;
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
		line_out("No mounts for agent %s.", m->a->user_name);
	for (size_t i = 0; i < m->a->nr_mounts; i++) {
		const struct mount_spec *o = &m->a->mounts[i];
		autofree char *src = escape_display(o->source);
		autofree char *dst = escape_display(o->target);

		line_out("%s -> %s [%s]", src, dst, o->read_only ? "ro" : "rw");
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
