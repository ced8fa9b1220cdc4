/* cmd-delete.c: au delete: undo everything au new and au mount made, whatever is left. */
#include "acl.h"
#include "agent.h"
#include "au.h"
#include "config.h"
#include "paths.h"
#include "sys.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char delete_usage[] =
	"Usage: au delete [-a NAME] [-H] [-y]\n"
	"\n"
	"Delete an agent: stop its processes, take its access to your shared folders\n"
	"back (ACLs), remove its user, its group and its entrypoint, and forget it.\n"
	"Works on a half-made or half-deleted agent too: what is missing is skipped.\n"
	"\n"
	"  -a, --agent NAME    the agent (default: agent)\n"
	"  -H, --delete-home   also remove the agent's home and everything in it\n"
	"  -y, --yes           do not ask for confirmation\n"
	"  -h, --help          show this help\n";

/* What one au delete works on. */
struct deletion {
	struct agent *agent; /* in the context's config */
	char *name;          /* a copy: the config entry goes at the end */
	struct agent_user user;
	char *home;
	bool delete_home;
	bool user_left; /* userdel failed: the home is still in use */
};

static void deletion_release(struct deletion *d)
{
	free(d->name);
	agent_user_release(&d->user);
	free(d->home);
}

static void skip(const char *what)
{
	printf("%s, skipping\n", what);
}

/*
 * Whether root may remove the home: only a directory that belongs to the
 * agent's user, checked while that user still exists. Returns false with why
 * (and where useful a hint) set.
 */
static bool home_removable(const struct deletion *d, const struct stat *st, struct strbuf *why,
			   struct strbuf *hint_text)
{
	if (d->user_left) {
		strbuf_addf(why, "user '%s' is still there", d->name);
		return false;
	}
	if (!d->user.user_exists) {
		strbuf_addf(why, "user '%s' is gone, so its owner cannot be checked", d->name);
		strbuf_addf(hint_text, "check it and remove it by hand: sudo rm -rf -- %s", d->home);
		return false;
	}
	if (!S_ISDIR(st->st_mode) || st->st_uid != d->user.uid) {
		strbuf_addf(why, "it is not a directory owned by the agent (uid %u)", (unsigned)d->user.uid);
		return false;
	}
	return true;
}

/* A home that cannot be removed is refused before anything changes. */
static void check_home_first(const struct deletion *d)
{
	autostrbuf struct strbuf why = STRBUF_INIT;
	autostrbuf struct strbuf unused = STRBUF_INIT;
	struct stat st;

	if (!d->delete_home || lstat(d->home, &st) < 0 || home_removable(d, &st, &why, &unused))
		return;
	error("not removing '%s': %s", d->home, why.buf);
	hint("run 'au delete -a %s' without --delete-home%s", d->name,
	     d->user.user_exists ? "" : ", then check and remove it by hand");
	exit(EXIT_FAIL);
}

static void confirm(const struct deletion *d, bool yes)
{
	autofree char *question = xasprintf("Delete agent %s (user, group '%s', entrypoint%s)?", d->name,
					    d->agent->group,
					    d->delete_home ? ", and its home with everything in it" : "");

	if (yes)
		return;
	if (!can_ask()) {
		error("no terminal to confirm on");
		hint("pass --yes to delete agent '%s'", d->name);
		exit(EXIT_FAIL);
	}
	if (!ask_yes_no(question)) {
		puts("Nothing done.");
		exit(EXIT_FAIL);
	}
}

/* Its processes first: a running agent could race the ACL walk below. */
static int stop_processes(const struct deletion *d)
{
	if (!d->user.user_exists || !agent_has_processes(d->user.uid))
		return 0;
	return run_command((const char *const[]){ "pkill", "--signal", "KILL", "--uid", d->name, NULL },
			   RUN_SUDO) > 1;
}

static int revoke_mounts(const struct deletion *d)
{
	const struct agent *a = d->agent;
	int failed = 0;

	for (size_t i = 0; i < a->nr_mounts; i++) {
		const struct mount_spec *m = &a->mounts[i];
		struct acl_walk_stats stats = { 0 };
		autofree char *shown = escape_display(m->source);
		autoclose int fd = -1;

		if (m->read_only)
			continue;
		if (!d->user.group_exists) {
			/* Nothing to retry: without the group its gid is unknown. */
			warn("group '%s' is gone: cannot tell which ACL entries on '%s' were its", a->group, shown);
			continue;
		}
		fd = open_nofollow(m->source, O_RDONLY | O_DIRECTORY);
		if (fd < 0) {
			if (errno == ENOENT) {
				printf("'%s' is gone, skipping\n", shown);
				continue;
			}
			error_errno("cannot open '%s'", shown);
			failed = 1;
			continue;
		}
		printf("Removing group '%s' access from %s\n", a->group, shown);
		if (acl_walk(fd, m->source, d->user.gid, getuid(), ACL_WALK_REVOKE, true, &stats) < 0)
			failed = 1;
		printf("  %zu entries changed, %zu already clean, %zu not yours left as they are\n",
		       stats.changed, stats.unchanged, stats.not_owned);
	}
	return failed;
}

static int remove_user(struct deletion *d)
{
	autofree char *what = NULL;

	if (d->user.user_exists) {
		if (run_command((const char *const[]){ "userdel", d->name, NULL }, RUN_SUDO) == 0)
			return 0;
		d->user_left = true;
		return 1;
	}
	what = xasprintf("user '%s' does not exist", d->name);
	skip(what);
	return 0;
}

static int remove_group(const struct deletion *d)
{
	autofree char *what = NULL;

	if (getgrnam(d->agent->group))
		return run_command((const char *const[]){ "groupdel", d->agent->group, NULL }, RUN_SUDO) != 0;
	what = xasprintf("group '%s' does not exist", d->agent->group);
	skip(what);
	return 0;
}

/*
 * Root removes only the entrypoint au new installs, in its root-owned
 * folder; an entrypoint elsewhere (the reference tool kept it in the
 * agent's home) is not touched as root by path.
 */
static int remove_entrypoint(const struct deletion *d)
{
	autofree char *expected = entrypoint_install_path(d->name);
	autofree char *dir = NULL;
	autostrbuf struct strbuf why = STRBUF_INIT;
	struct stat st;
	int failed = 0;

	if (strcmp(d->agent->entrypoint, expected)) {
		if (!d->delete_home || !path_below(d->agent->entrypoint, d->home)) {
			autofree char *shown = escape_display(d->agent->entrypoint);
			warn("leaving the entrypoint '%s': it is not where au installs entrypoints", shown);
		}
		return 0;
	}
	dir = xstrdup(expected);
	*strrchr(dir, '/') = '\0';
	if (lstat(dir, &st) < 0) {
		autofree char *what = xasprintf("entrypoint folder '%s' does not exist", dir);
		skip(what);
		return 0;
	}
	if (!safe_dir_chain(dir, &why)) {
		error("not removing '%s' as root: %s", dir, why.buf);
		return 1;
	}
	if (lstat(expected, &st) == 0 &&
	    run_command((const char *const[]){ "rm", "-f", "--", expected, NULL }, RUN_SUDO) != 0)
		failed = 1;
	if (run_command((const char *const[]){ "rmdir", "--", dir, NULL }, RUN_SUDO) != 0)
		failed = 1;
	return failed;
}

static int remove_home(const struct deletion *d)
{
	autostrbuf struct strbuf why = STRBUF_INIT;
	autostrbuf struct strbuf hint_text = STRBUF_INIT;
	struct stat st;

	if (lstat(d->home, &st) < 0) {
		autofree char *what = xasprintf("home '%s' does not exist", d->home);
		skip(what);
		return 0;
	}
	if (!home_removable(d, &st, &why, &hint_text)) {
		error("not removing '%s': %s", d->home, why.buf);
		if (hint_text.len)
			hint("%s", hint_text.buf);
		return 1;
	}
	return run_command((const char *const[]){ "rm", "-rf", "--", d->home, NULL }, RUN_SUDO) != 0;
}

int cmd_delete(int argc, char **argv, struct au_ctx *ctx)
{
	static const struct option options[] = {
		{ "agent", required_argument, NULL, 'a' },
		{ "delete-home", no_argument, NULL, 'H' },
		{ "yes", no_argument, NULL, 'y' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct deletion d __attribute__((cleanup(deletion_release))) = { 0 };
	const char *name = NULL;
	bool yes = false;
	int failed = 0, c;

	while ((c = getopt_long(argc, argv, ":a:Hyh", options, NULL)) != -1) {
		switch (c) {
		case 'a':
			name = optarg;
			break;
		case 'H':
			d.delete_home = true;
			break;
		case 'y':
			yes = true;
			break;
		case 'h':
			fputs(delete_usage, stdout);
			return EXIT_OK;
		default:
			die_bad_option(c, argv, "delete");
		}
	}
	if (optind < argc)
		die_usage("delete: unexpected argument '%s'", argv[optind]);

	d.agent = au_setup(ctx, name);
	d.name = xstrdup(d.agent->user_name);
	if (!valid_agent_name(d.name))
		die("the config names an agent '%s' that is not a valid user name; fix it by hand", d.name);
	agent_user_load(&d.user, d.name, d.agent->group);
	d.home = xasprintf("/home/%s", d.name);

	check_home_first(&d);
	confirm(&d, yes);
	failed |= stop_processes(&d);
	failed |= revoke_mounts(&d);
	failed |= remove_user(&d);
	failed |= remove_group(&d);
	failed |= remove_entrypoint(&d);
	if (d.delete_home)
		failed |= remove_home(&d);

	if (failed) {
		error("agent '%s' was not completely deleted; it stays in the config", d.name);
		hint("fix what is reported above and run 'au delete -a %s' again", d.name);
		return EXIT_FAIL;
	}
	config_remove_agent(&ctx->cfg, d.name);
	config_save(&ctx->cfg);
	printf("Deleted agent %s\n", d.name);
	return EXIT_OK;
}
