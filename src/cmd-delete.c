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
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

static const char delete_usage[] =
	"Usage: au delete [-a NAME] [-H] [-y]\n"
	"\n"
	"Delete an agent: stop its processes, take its access to your shared folders\n"
	"back (ACLs), remove its user, its group and its entrypoint, and forget it.\n"
	"Works on a half-made or half-deleted agent too: what is missing is skipped.\n"
	"A delete that cannot finish says why, keeps the agent in the config, and\n"
	"finishes when run again.\n"
	"\n"
	"Without --delete-home the home stays, with the agent's files, but owned by\n"
	"root with mode 0700: a later user who gets the same uid cannot read it.\n"
	"\n"
	"  -a, --agent NAME    the agent (default: agent)\n"
	"  -H, --delete-home   also remove the agent's home and everything in it\n"
	"  -y, --yes           do not ask for confirmation\n"
	"  -h, --help          show this help\n";

/* What one au delete works on. */
struct deletion {
	struct agent *agent; /* in the context's config */
	char *name;          /* copies: the config entry goes at the end */
	char *group;
	struct agent_user user; /* the user and group of those names, if any */
	bool has_uid, has_gid;  /* the agent's ids: recorded, or taken from the system */
	uid_t uid;
	gid_t gid;
	bool user_is_other;  /* a user of that name, with another uid: not ours to delete */
	bool group_is_other;
	bool uid_is_others;  /* the agent's uid now belongs to another user: its processes and files too */
	char *home;
	bool delete_home;
	bool user_left; /* userdel failed: the home is still in use */
};

static void deletion_release(struct deletion *d)
{
	free(d->name);
	free(d->group);
	agent_user_release(&d->user);
	free(d->home);
}

static void skip(const char *what)
{
	printf("%s, skipping\n", what);
}

/*
 * The agent's ids, recorded before anything changes: once userdel and
 * groupdel ran, the names say nothing, and a delete that stops halfway must
 * still know them when it is run again.
 */
static void load_ids(struct deletion *d, struct config *cfg)
{
	autostrbuf struct strbuf why = STRBUF_INIT;
	const struct agent *a = d->agent;

	if (agent_record_ids(d->agent))
		config_save(cfg);
	d->has_uid = a->has_uid;
	d->uid = a->uid;
	d->has_gid = a->has_gid;
	d->gid = a->gid;
	if (!agent_user_is_the_agents(a, &d->user, &why)) {
		warn("%s; leaving it alone", why.buf);
		d->user_is_other = true;
	}
	strbuf_reset(&why);
	if (!agent_group_is_the_agents(a, &d->user, &why)) {
		warn("%s; leaving it alone", why.buf);
		d->group_is_other = true;
	}
	if (d->has_uid) {
		struct passwd *pw = getpwuid(d->uid);

		if (pw && strcmp(pw->pw_name, d->name)) {
			warn("uid %u of agent '%s' now belongs to user '%s': leaving that user's processes and "
			     "files alone", (unsigned)d->uid, d->name, pw->pw_name);
			d->uid_is_others = true;
		}
	}
}

/*
 * Whether root may remove the home: only a directory that belongs to the
 * agent's uid. Returns false with why (and where useful a hint) set.
 */
static bool home_removable(const struct deletion *d, const struct stat *st, struct strbuf *why,
			   struct strbuf *hint_text)
{
	if (d->user_left) {
		strbuf_addf(why, "user '%s' is still there", d->name);
		return false;
	}
	if (!d->has_uid) {
		strbuf_addf(why, "user '%s' is gone and its uid was never recorded, so the owner cannot be checked",
			    d->name);
		strbuf_addf(hint_text, "check it and remove it by hand: sudo rm -rf -- %s", d->home);
		return false;
	}
	if (!S_ISDIR(st->st_mode) || st->st_uid != d->uid) {
		strbuf_addf(why, "it is not a directory owned by the agent (uid %u)", (unsigned)d->uid);
		return false;
	}
	if (d->uid_is_others) {
		strbuf_addf(why, "its owner, uid %u, now belongs to another user", (unsigned)d->uid);
		strbuf_addf(hint_text, "check it and remove it by hand: sudo rm -rf -- %s", d->home);
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
	     d->has_uid ? "" : ", then check and remove it by hand");
	exit(EXIT_FAIL);
}

static void confirm(const struct deletion *d, bool yes)
{
	autofree char *question = xasprintf("Delete agent %s (user, group '%s', entrypoint%s)?", d->name,
					    d->group, d->delete_home ? ", and its home with everything in it" : "");

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

/*
 * Its processes first: a running agent could race the ACL walk below. By
 * uid: a user removed by hand leaves its processes running, nameless.
 */
static int stop_processes(const struct deletion *d)
{
	if (!d->has_uid || d->user_is_other || d->uid_is_others)
		return 0;
	return agent_stop_processes(d->uid) < 0;
}

/* The gids named by group entries of fd's ACLs that no group has: stale, whoever's they were. */
static size_t nameless_gids(int fd, gid_t *gids, size_t max)
{
	static const char *const names[] = { "system.posix_acl_access", "system.posix_acl_default" };
	size_t nr = 0;

	for (size_t n = 0; n < ARRAY_SIZE(names); n++) {
		unsigned char buf[4096];
		char proc[64];
		ssize_t size;

		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		size = getxattr(proc, names[n], buf, sizeof(buf));
		/* The kernel's format: a 4-byte version, then {le16 tag, le16 perm, le32 id}. */
		for (ssize_t off = 4; size > 0 && off + 8 <= size; off += 8) {
			unsigned tag = buf[off] | buf[off + 1] << 8;
			gid_t gid = (gid_t)(buf[off + 4] | buf[off + 5] << 8 | buf[off + 6] << 16 |
					    (unsigned)buf[off + 7] << 24);
			bool seen = false;

			if (tag != 0x08 || getgrgid(gid)) /* ACL_GROUP, with a name */
				continue;
			for (size_t i = 0; i < nr; i++)
				seen |= gids[i] == gid;
			if (!seen && nr < max)
				gids[nr++] = gid;
		}
	}
	return nr;
}

/*
 * Takes the group's entries back from one read-write share, by number: the
 * recorded gid, which works with the group gone. An entry from before au
 * recorded gids, whose group is gone, takes back every nameless group entry
 * found at the top of the share, where au mount add put the agent's: such
 * an entry can only give access to whoever gets that gid next.
 */
static int revoke_share(const struct deletion *d, const struct mount_spec *m)
{
	autofree char *shown = escape_display(m->source);
	autoclose int fd = open_nofollow(m->source, O_RDONLY | O_DIRECTORY);
	gid_t gids[16];
	size_t nr = 0;
	int failed = 0;

	if (fd < 0) {
		if (errno == ENOENT) {
			printf("'%s' is gone, skipping\n", shown);
			return 0;
		}
		error_errno("cannot open '%s' to take group '%s' access back", shown, d->group);
		return 1;
	}
	if (d->has_gid && !d->group_is_other)
		gids[nr++] = d->gid;
	else
		nr = nameless_gids(fd, gids, ARRAY_SIZE(gids));
	if (!nr && !d->has_gid) {
		printf("No entries of a group that is gone on %s, skipping\n", shown);
		return 0;
	}
	for (size_t i = 0; i < nr; i++) {
		struct acl_walk_stats stats = { 0 };

		printf("Removing group '%s' (gid %u) access from %s\n", d->group, (unsigned)gids[i], shown);
		fflush(stdout);
		if (acl_walk(fd, m->source, gids[i], getuid(), ACL_WALK_REVOKE, true, &stats) < 0)
			failed = 1;
		printf("  %zu %s changed, %zu already clean", stats.changed, plural(stats.changed, "entry", "entries"),
		       stats.unchanged);
		if (stats.not_owned)
			printf(", %zu not yours left as they are", stats.not_owned);
		printf("\n");
	}
	return failed;
}

/*
 * Every read-write share gives the group up before the group goes: a gid
 * that groupadd hands out again would inherit whatever entries were left.
 */
static int revoke_mounts(const struct deletion *d)
{
	const struct agent *a = d->agent;
	int failed = 0;

	for (size_t i = 0; i < a->nr_mounts; i++) {
		if (!a->mounts[i].read_only)
			failed |= revoke_share(d, &a->mounts[i]);
	}
	return failed;
}

static int remove_user(struct deletion *d)
{
	autofree char *what = NULL;

	if (d->user_is_other)
		return 0;
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

	if (d->group_is_other)
		return 0;
	if (getgrnam(d->group))
		return run_command((const char *const[]){ "groupdel", d->group, NULL }, RUN_SUDO) != 0;
	what = xasprintf("group '%s' does not exist", d->group);
	skip(what);
	return 0;
}

/*
 * The reference tool's entrypoint, in the agent's home: setuid root without
 * a caller check. Left there, a later user with its gid could run it. The
 * agent's processes are stopped, so the human removes it by fd (the home is
 * shared with the human's group).
 */
static int remove_entrypoint_in_home(const struct deletion *d)
{
	autofree char *shown = escape_display(d->agent->entrypoint);
	autostrbuf struct strbuf why = STRBUF_INIT;
	int rc = entrypoint_remove_from_home(d->agent->entrypoint, &why);

	if (rc > 0)
		printf("Removed the old entrypoint '%s'\n", shown);
	if (rc >= 0)
		return 0;
	error("%s", why.buf);
	hint("it is a setuid program: remove it as root (no process of the agent's runs now): "
	     "sudo rm -f -- %s", shown);
	return 1;
}

/*
 * Root removes only the entrypoint au new installs, in its root-owned
 * folder; an entrypoint elsewhere is not touched as root by path.
 */
static int remove_entrypoint(const struct deletion *d)
{
	autofree char *expected = entrypoint_install_path(d->name);
	autofree char *dir = NULL;
	autostrbuf struct strbuf why = STRBUF_INIT;
	struct stat st;
	int failed = 0;

	if (strcmp(d->agent->entrypoint, expected)) {
		if (entrypoint_is_in_home(d->agent->entrypoint, d->home))
			return remove_entrypoint_in_home(d);
		autofree char *shown = escape_display(d->agent->entrypoint);
		warn("leaving the entrypoint '%s': it is not where au installs entrypoints", shown);
		return 0;
	}
	dir = xstrdup(expected);
	*strrchr(dir, '/') = '\0';
	if (lstat(dir, &st) < 0 && errno == ENOENT) {
		autofree char *what = xasprintf("entrypoint folder '%s' does not exist", dir);
		skip(what);
		return 0;
	}
	/* Another error (EACCES) is no reason to skip: the check below says what it is. */
	if (!safe_dir_chain(dir, &why)) {
		error("not removing '%s' as root: %s", dir, why.buf);
		return 1;
	}
	/*
	 * The folder and all above it are root's alone: root may act on these
	 * paths. A file we cannot even see is removed all the same (rm -f
	 * says nothing when it is not there).
	 */
	if ((lstat(expected, &st) == 0 || errno != ENOENT) &&
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
		autofree char *what = NULL;

		if (errno != ENOENT) {
			error_errno("cannot check '%s'", d->home);
			return 1;
		}
		what = xasprintf("home '%s' does not exist", d->home);
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

/*
 * A home that stays (no --delete-home) keeps the agent's files, secrets
 * included (~/.codex/auth.json). The next useradd may hand the agent's uid
 * to a new user, who would own it all: so it becomes root's, mode 0700, and
 * the human is told where it is and how to get at it.
 */
static int keep_home(const struct deletion *d)
{
	struct stat st;

	if (lstat(d->home, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		error_errno("cannot check '%s'", d->home);
		return 1;
	}
	if (d->user_left || !S_ISDIR(st.st_mode) || (st.st_uid == 0 && !(st.st_mode & 077)))
		return 0;
	if (!d->has_uid || st.st_uid != d->uid) {
		warn("the home '%s' stays as it is: it is not the agent's (owner uid %u)", d->home,
		     (unsigned)st.st_uid);
		return 0;
	}
	/*
	 * Why root may act on this path: /home is root's, and no process of
	 * the agent's is left to swap what is below it. --no-dereference and
	 * the lstat above: it is the directory itself that changes hands.
	 * 00700, five digits: chmod keeps a folder's setgid bit otherwise.
	 */
	if (run_command((const char *const[]){ "chown", "--no-dereference", "root:root", d->home, NULL },
			RUN_SUDO) != 0 ||
	    run_command((const char *const[]){ "chmod", "00700", d->home, NULL }, RUN_SUDO) != 0)
		return 1;
	printf("Kept the home '%s' with the agent's files, now root's alone (mode 0700), so that no later\n"
	       "user with uid %u can read them. To look inside: sudo ls -la %s; to remove it: sudo rm -rf -- %s\n",
	       d->home, (unsigned)d->uid, d->home, d->home);
	return 0;
}

/*
 * What the agent left in the system's shared temporary folders (Claude Code
 * and Codex keep session files in /tmp) would belong to the next user who
 * gets its uid: it goes with the user. find(1) acts relative to the folders
 * it opened and never follows a symlink; its messages are not shown, as
 * they would print names the agent chose.
 */
static void remove_leftovers(const struct deletion *d)
{
	static const char *const shared[] = { "/tmp", "/var/tmp", "/dev/shm" };
	autostrvec struct strvec argv = STRVEC_INIT;
	size_t nr = 0;

	if (!d->has_uid || d->user_is_other || d->uid_is_others || d->user_left)
		return;
	strvec_push(&argv, "find");
	for (size_t i = 0; i < ARRAY_SIZE(shared); i++) {
		struct stat st;

		/* Only what is the system's: root's, sticky. */
		if (lstat(shared[i], &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0 && (st.st_mode & S_ISVTX)) {
			strvec_push(&argv, shared[i]);
			nr++;
		}
	}
	if (!nr)
		return;
	strvec_pushv(&argv, (const char *const[]){ "-xdev", "-uid", NULL });
	strvec_pushf(&argv, "%u", (unsigned)d->uid);
	strvec_push(&argv, "-delete");
	if (run_command(strvec_argv(&argv), RUN_SUDO | RUN_NO_STDERR) != 0)
		warn("some files of uid %u in the shared temporary folders could not be removed (a folder of "
		     "the agent's holding others' files?)", (unsigned)d->uid);
}

/* A delete that could not finish leaves the agent in the config, to be run again. */
AU_NORETURN static void unfinished(const struct deletion *d, const char *why)
{
	error("agent '%s' was not completely deleted%s; it stays in the config", d->name, why);
	hint("fix what is reported above and run 'au delete -a %s' again to finish", d->name);
	exit(EXIT_FAIL);
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
	d.group = xstrdup(d.agent->group);
	if (!valid_agent_name(d.name))
		die("the config names an agent '%s' that is not a valid user name; fix it by hand", d.name);
	agent_user_load(&d.user, d.name, d.group);
	d.home = xasprintf("/home/%s", d.name);
	load_ids(&d, &ctx->cfg);

	check_home_first(&d);
	confirm(&d, yes);
	failed |= stop_processes(&d);
	/* No user or group goes while the agent's access to the human's files may remain. */
	if (revoke_mounts(&d) || failed)
		unfinished(&d, ": its access to your files could not all be taken back, so its user and group stay");
	failed |= remove_user(&d);
	remove_leftovers(&d);
	/* Nor the group while its user still holds it. */
	if (!d.user_left)
		failed |= remove_group(&d);
	failed |= remove_entrypoint(&d);
	if (d.delete_home)
		failed |= remove_home(&d);
	else if (!d.user_left)
		failed |= keep_home(&d);

	if (failed)
		unfinished(&d, "");
	config_remove_agent(&ctx->cfg, d.name);
	config_save(&ctx->cfg);
	printf("Deleted agent %s\n", d.name);
	return EXIT_OK;
}
