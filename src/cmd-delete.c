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

static void skip(const char *what)
{
	printf("%s, skipping\n", what);
}

static int revoke_mounts(const struct agent *a, const struct agent_user *u)
{
	int failed = 0;

	for (size_t i = 0; i < a->nr_mounts; i++) {
		const struct mount_spec *m = &a->mounts[i];
		struct acl_walk_stats stats = { 0 };
		autofree char *shown = escape_display(m->source);
		autoclose int fd = -1;

		if (m->read_only)
			continue;
		if (!u->group_exists) {
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
		if (acl_walk(fd, m->source, u->gid, getuid(), ACL_WALK_REVOKE, true, &stats) < 0)
			failed = 1;
		printf("  %zu entries changed, %zu already clean, %zu not yours left as they are\n",
		       stats.changed, stats.unchanged, stats.not_owned);
	}
	return failed;
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
	const char *name = NULL;
	bool yes = false, delete_home = false, user_left = false;
	int failed = 0, c;
	autoconfig struct config cfg = { 0 };
	struct agent *a;
	autoagentuser struct agent_user u = { 0 };
	autofree char *question = NULL;
	autofree char *expected_entrypoint = NULL;
	autofree char *home = NULL;
	autofree char *name_copy = NULL;
	struct stat st;

	while ((c = getopt_long(argc, argv, ":a:Hyh", options, NULL)) != -1) {
		switch (c) {
		case 'a':
			name = optarg;
			break;
		case 'H':
			delete_home = true;
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

	config_lock(ctx->config_path, true);
	config_load(&cfg, ctx->config_path);
	startup_warnings(&cfg);
	a = agent_select(&cfg, name);
	name_copy = xstrdup(a->user_name);
	if (!valid_agent_name(a->user_name))
		die("the config names an agent '%s' that is not a valid user name; fix it by hand",
		    a->user_name);
	agent_user_load(&u, a->user_name, a->group);
	home = xasprintf("/home/%s", a->user_name);

	/* A home that cannot be removed is refused before anything changes. */
	if (delete_home && lstat(home, &st) == 0) {
		if (!u.user_exists) {
			error("not removing '%s': user '%s' is gone, so its owner cannot be checked", home,
			      a->user_name);
			hint("run 'au delete -a %s' without --delete-home, then check and remove it by hand",
			     a->user_name);
			return EXIT_FAIL;
		}
		if (!S_ISDIR(st.st_mode) || st.st_uid != u.uid) {
			error("not removing '%s': it is not a directory owned by the agent (uid %u)", home,
			      (unsigned)u.uid);
			hint("run 'au delete -a %s' without --delete-home", a->user_name);
			return EXIT_FAIL;
		}
	}

	question = xasprintf("Delete agent %s (user, group '%s', entrypoint%s)?", a->user_name, a->group,
			     delete_home ? ", and its home with everything in it" : "");
	if (!yes) {
		if (!can_ask()) {
			error("no terminal to confirm on");
			hint("pass --yes to delete agent '%s'", a->user_name);
			return EXIT_FAIL;
		}
		if (!ask_yes_no(question)) {
			puts("Nothing done.");
			return EXIT_FAIL;
		}
	}

	/* Its processes first: a running agent could race the ACL walk below. */
	if (u.user_exists && agent_has_processes(u.uid) &&
	    run_command((const char *const[]){ "pkill", "--signal", "KILL", "--uid", a->user_name, NULL },
			RUN_SUDO) > 1)
		failed = 1;
	failed |= revoke_mounts(a, &u);

	if (u.user_exists) {
		if (run_command((const char *const[]){ "userdel", a->user_name, NULL }, RUN_SUDO) != 0) {
			failed = 1;
			user_left = true;
		}
	} else {
		autofree char *what = xasprintf("user '%s' does not exist", a->user_name);
		skip(what);
	}
	if (getgrnam(a->group)) {
		if (run_command((const char *const[]){ "groupdel", a->group, NULL }, RUN_SUDO) != 0)
			failed = 1;
	} else {
		autofree char *what = xasprintf("group '%s' does not exist", a->group);
		skip(what);
	}

	/*
	 * Root removes only the entrypoint au new installs, in its root-owned
	 * folder; an entrypoint elsewhere (the reference tool kept it in the
	 * agent's home) is not touched as root by path.
	 */
	expected_entrypoint = entrypoint_install_path(a->user_name);
	if (!strcmp(a->entrypoint, expected_entrypoint)) {
		autofree char *dir = xstrdup(expected_entrypoint);
		autostrbuf struct strbuf why = STRBUF_INIT;

		*strrchr(dir, '/') = '\0';
		if (lstat(dir, &st) < 0) {
			autofree char *what = xasprintf("entrypoint folder '%s' does not exist", dir);
			skip(what);
		} else if (!safe_dir_chain(dir, &why)) {
			error("not removing '%s' as root: %s", dir, why.buf);
			failed = 1;
		} else {
			if (lstat(expected_entrypoint, &st) == 0 &&
			    run_command((const char *const[]){ "rm", "-f", "--", expected_entrypoint, NULL },
					RUN_SUDO) != 0)
				failed = 1;
			if (run_command((const char *const[]){ "rmdir", "--", dir, NULL }, RUN_SUDO) != 0)
				failed = 1;
		}
	} else if (!delete_home || !path_below(a->entrypoint, home)) {
		autofree char *shown = escape_display(a->entrypoint);
		warn("leaving the entrypoint '%s': it is not where au installs entrypoints", shown);
	}

	if (delete_home) {
		if (lstat(home, &st) < 0) {
			autofree char *what = xasprintf("home '%s' does not exist", home);
			skip(what);
		} else if (user_left) {
			error("not removing '%s': user '%s' is still there", home, a->user_name);
			failed = 1;
		} else if (!u.user_exists) {
			error("not removing '%s': user '%s' is gone, so its owner cannot be checked", home,
			      a->user_name);
			hint("check it and remove it by hand: sudo rm -rf -- %s", home);
			failed = 1;
		} else if (!S_ISDIR(st.st_mode) || st.st_uid != u.uid) {
			error("not removing '%s': it is not a directory owned by uid %u", home, (unsigned)u.uid);
			failed = 1;
		} else if (run_command((const char *const[]){ "rm", "-rf", "--", home, NULL }, RUN_SUDO) != 0) {
			failed = 1;
		}
	}

	if (failed) {
		error("agent '%s' was not completely deleted; it stays in the config", name_copy);
		hint("fix what is reported above and run 'au delete -a %s' again", name_copy);
		return EXIT_FAIL;
	}
	config_remove_agent(&cfg, name_copy);
	config_save(&cfg);
	printf("Deleted agent %s\n", name_copy);
	return EXIT_OK;
}
