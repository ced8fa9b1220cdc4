/*
 * cmd-repair.c: au repair: the config and an agent's entrypoint made to match
 * the system again. It adopts an agent the config lost, imports one made by
 * the reference tool (agent-as-unix-user), and builds again an entrypoint
 * that is out of date (after an upgrade of au) or fails its checks. It never
 * creates a user, a group or a home: au new does that.
 */
#include "agent.h"
#include "au.h"
#include "config.h"
#include "entrypoint-build.h"
#include "paths.h"
#include "sys.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>

static const char repair_usage[] =
	"Usage: au repair [-a NAME | --all] [-y]\n"
	"\n"
	"Make the config and an agent's entrypoint match the system again:\n"
	"  - an agent that exists on this system (user NAME, group su-as-NAME, home\n"
	"    /home/NAME) but not in the config is adopted;\n"
	"  - an agent made by agent-as-unix-user, whose entrypoint is in its own home\n"
	"    where it can replace it, gets one in au's root-owned folder, and the old\n"
	"    one is removed;\n"
	"  - an entrypoint built from another version of au (after an upgrade), or\n"
	"    one that fails its checks, is built again.\n"
	"Adopting and importing ask first. Every system command is printed before it\n"
	"runs. Users, groups and homes are never created: 'au new' does that.\n"
	"\n"
	"  -a, --agent NAME  the agent (default: agent)\n"
	"      --all         every agent in the config\n"
	"  -y, --yes         do not ask for confirmation\n"
	"  -h, --help        show this help\n";

/* What one agent needs, found before anything changes. */
struct repair {
	const char *name;
	char *group;
	char *home;
	struct agent *agent; /* in the config; NULL: to adopt */
	struct agent_user user;
	char *old_entrypoint; /* the reference tool's, in the agent's home, to remove */
	struct strbuf reasons; /* why the entrypoint is built again */
	bool build;
	bool ask;             /* adopting or importing */
	bool join_group;      /* the human is not in the group yet */
};

static void repair_release(struct repair *r)
{
	free(r->group);
	free(r->home);
	agent_user_release(&r->user);
	free(r->old_entrypoint);
	strbuf_release(&r->reasons);
}

static void add_reason(struct repair *r, const char *fmt, ...) AU_PRINTF(2, 3);
static void add_reason(struct repair *r, const char *fmt, ...)
{
	va_list ap;

	strbuf_addstr(&r->reasons, r->reasons.len ? "; " : "");
	va_start(ap, fmt);
	strbuf_vaddf(&r->reasons, fmt, ap);
	va_end(ap);
	r->build = true;
}

/*
 * A user of the system that au would take for an agent: what au new (and
 * the reference tool) make, and nothing else. Adopting gives the human a
 * setuid entrypoint to run commands as that user, so a system account, the
 * human or a user whose group and home do not say "agent" is refused.
 */
static bool looks_like_an_agent(const struct repair *r, const struct human *hu, struct strbuf *why)
{
	struct passwd *pw = getpwnam(r->name);
	struct group *gr = getgrnam(r->group);
	struct stat st;

	if (!pw) {
		strbuf_addf(why, "there is no user '%s' on this system", r->name);
		return false;
	}
	if (!gr) {
		strbuf_addf(why, "there is no group '%s' on this system", r->group);
		return false;
	}
	if (pw->pw_uid < 1000 || pw->pw_uid == 65534 || pw->pw_uid == hu->uid) {
		strbuf_addf(why, "user '%s' (uid %u) is a system account or yourself, not an agent", r->name,
			    (unsigned)pw->pw_uid);
		return false;
	}
	if (pw->pw_gid != gr->gr_gid) {
		strbuf_addf(why, "the primary group of user '%s' is not '%s', as it is for an agent", r->name, r->group);
		return false;
	}
	if (strcmp(pw->pw_dir, r->home)) {
		strbuf_addf(why, "the home of user '%s' is '%s', not '%s'", r->name, pw->pw_dir, r->home);
		return false;
	}
	if (lstat(r->home, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != pw->pw_uid) {
		strbuf_addf(why, "'%s' is not a directory owned by user '%s'", r->home, r->name);
		return false;
	}
	return true;
}

/* Where the reference tool kept the entrypoint, for an agent the config lost. */
static char *reference_entrypoint(const struct repair *r)
{
	autofree char *path = xasprintf("%s/.config/agent-as-unix-user/su_as_agent", r->home);
	struct stat st;

	return lstat(path, &st) == 0 && S_ISREG(st.st_mode) ? steal_pointer(&path) : NULL;
}

/* What the agent needs; false (with the error said) when it cannot be repaired. */
static bool plan(struct repair *r, struct config *cfg, const struct human *hu)
{
	autostrbuf struct strbuf why = STRBUF_INIT;
	autofree char *expected = entrypoint_install_path(r->name);
	const struct agent *a;
	bool unreadable;
	int fd;

	r->agent = config_find_agent(cfg, r->name);
	agent_user_load(&r->user, r->name, r->group);
	if (!r->agent) {
		if (!looks_like_an_agent(r, hu, &why)) {
			error("cannot adopt '%s': %s", r->name, why.buf);
			hint("'au new -a %s' creates an agent", r->name);
			return false;
		}
		r->ask = true;
		r->old_entrypoint = reference_entrypoint(r);
		add_reason(r, "user '%s' exists on this system but not in '%s'", r->name, cfg->path);
		r->join_group = !human_in_group_db(hu, r->group);
		return true;
	}
	a = r->agent;
	if (!r->user.user_exists || !r->user.group_exists) {
		error("cannot repair agent '%s': its %s '%s' does not exist", r->name,
		      r->user.user_exists ? "group" : "user", r->user.user_exists ? r->group : r->name);
		hint("'au delete -a %s' removes what is left; 'au new -a %s' makes it again", r->name, r->name);
		return false;
	}
	if (!agent_user_is_the_agents(a, &r->user, &why) || !agent_group_is_the_agents(a, &r->user, &why)) {
		error("cannot repair agent '%s': %s", r->name, why.buf);
		return false;
	}
	if (strcmp(a->group, r->group) || lstat(r->home, &(struct stat){ 0 }) < 0) {
		error("cannot repair agent '%s': its group is not '%s', or its home '%s' is gone", r->name,
		      r->group, r->home);
		return false;
	}
	r->join_group = !human_in_group_db(hu, r->group);
	if (strcmp(a->entrypoint, expected)) {
		r->ask = true;
		if (entrypoint_is_in_home(a->entrypoint, r->home))
			r->old_entrypoint = xstrdup(a->entrypoint);
		add_reason(r, "its entrypoint '%s' is not in au's root-owned folder", a->entrypoint);
		return true;
	}
	if (!a->bootstrapped)
		add_reason(r, "'au new' did not finish");
	if (!a->entrypoint_source_sha256)
		add_reason(r, "its entrypoint was built by an older au");
	else if (strcmp(a->entrypoint_source_sha256, entrypoint_source_sha256()))
		add_reason(r, "its entrypoint was built from another version of au's entrypoint source");
	fd = entrypoint_open_verified(a, r->user.gid, &why, &unreadable);
	if (fd >= 0)
		close(fd);
	else if (!unreadable)
		add_reason(r, "%s", why.buf);
	return true;
}

static bool confirm(const struct repair *r, bool yes)
{
	autofree char *question = NULL;

	if (yes || !r->ask)
		return true;
	question = xasprintf("%s agent %s (%s)%s?", r->agent ? "Import" : "Adopt", r->name, r->reasons.buf,
			     r->old_entrypoint ? ", stopping its processes and removing its old entrypoint" : "");
	if (!can_ask()) {
		error("no terminal to confirm on");
		hint("pass --yes to %s agent '%s'", r->agent ? "import" : "adopt", r->name);
		return false;
	}
	if (!ask_yes_no(question)) {
		puts("Nothing done.");
		return false;
	}
	return true;
}

/*
 * The old entrypoint runs as root for anyone in the agent's group, the agent
 * included: no process of the agent's may use or hold it while it goes.
 */
static int stop_processes(const struct repair *r)
{
	return agent_stop_processes(r->user.uid) < 0;
}

static int remove_old_entrypoint(const struct repair *r)
{
	autostrbuf struct strbuf why = STRBUF_INIT;
	autofree char *shown = escape_display(r->old_entrypoint);
	int rc = entrypoint_remove_from_home(r->old_entrypoint, &why);

	if (rc > 0)
		printf("Removed the old entrypoint '%s'\n", shown);
	if (rc >= 0)
		return 0;
	error("%s", why.buf);
	hint("it is a setuid program the agent can run: remove it as root (no process of the agent's runs "
	     "now): sudo rm -f -- %s", shown);
	return -1;
}

/* The config entry as au new would have left it, with the new entrypoint's fingerprint. */
static void record(struct repair *r, struct config *cfg, const char *hex)
{
	struct agent *a = r->agent ? r->agent : config_add_agent(cfg, r->name);

	free(a->entrypoint);
	a->entrypoint = entrypoint_install_path(r->name);
	free(a->entrypoint_sha256);
	a->entrypoint_sha256 = xstrdup(hex);
	free(a->entrypoint_source_sha256);
	a->entrypoint_source_sha256 = xstrdup(entrypoint_source_sha256());
	a->bootstrapped = true;
	a->uid = r->user.uid;
	a->gid = r->user.gid;
	a->has_uid = a->has_gid = true;
	r->agent = a;
	config_save(cfg);
}

static int rebuild(struct repair *r, struct config *cfg, const struct human *hu, const struct strbuf *source)
{
	autofree char *tmpdir = entrypoint_build_tmpdir("repair");
	autostrbuf struct strbuf why = STRBUF_INIT;
	const char *step = NULL;
	char hex[SHA256_HEX_LEN + 1];
	const struct entrypoint_build b = {
		.name = r->name, .group = r->group, .uid = r->user.uid, .gid = r->user.gid, .home = r->home,
		.shell = r->user.shell, .caller_uid = hu->uid, .caller_home = hu->home_real, .tmpdir = tmpdir,
	};

	if (r->join_group &&
	    run_command((const char *const[]){ "usermod", "--append", "--groups", r->group, hu->name, NULL },
			RUN_SUDO) != 0) {
		entrypoint_build_tmpdir_remove(tmpdir);
		return error("repairing agent '%s' failed at step 'usermod'", r->name);
	}
	if (entrypoint_build_install(&b, source, hex, &step, &why) < 0) {
		entrypoint_build_tmpdir_remove(tmpdir);
		return error("repairing agent '%s' failed at step '%s': %s", r->name, step, why.buf);
	}
	entrypoint_build_tmpdir_remove(tmpdir);
	/*
	 * The old one goes before the config forgets it: if it cannot, the
	 * config still names it, au run still refuses it, and the next au
	 * repair tries again.
	 */
	if (r->old_entrypoint && remove_old_entrypoint(r) < 0)
		return error("agent '%s' keeps its old entrypoint until it is removed: run 'au repair -a %s' "
			     "again then", r->name, r->name);
	record(r, cfg, hex);
	printf("Repaired agent %s: a new entrypoint, as %s\n", r->name, r->reasons.buf);
	return 0;
}

/* One agent: 0 when it is (now) as it should be, -1 when not. source is loaded on first need. */
static int repair_one(const char *name, struct au_ctx *ctx, bool yes, struct strbuf *source)
{
	struct repair r __attribute__((cleanup(repair_release))) = { .name = name, .reasons = STRBUF_INIT };
	autohuman struct human hu = { 0 };

	human_load(&hu);
	r.group = xasprintf(AGENT_GROUP_PREFIX "%s", name);
	r.home = xasprintf("/home/%s", name);
	if (!plan(&r, &ctx->cfg, &hu))
		return -1;
	if (!r.build) {
		if (agent_record_ids(r.agent))
			config_save(&ctx->cfg);
		printf("Agent %s needs no repair\n", name);
		return 0;
	}
	if (!source->len) {
		entrypoint_build_check_prerequisites();
		entrypoint_build_load_source(source);
	}
	if (!confirm(&r, yes))
		return -1;
	if (r.old_entrypoint && stop_processes(&r))
		return error("cannot stop the processes of agent '%s'", name);
	return rebuild(&r, &ctx->cfg, &hu, source);
}

/* Users that look like agents (a group su-as-NAME of their own) but that the config does not know. */
static void mention_unknown_agents(const struct config *cfg)
{
	struct group *gr;

	setgrent();
	while ((gr = getgrent())) {
		const char *name = gr->gr_name + strlen(AGENT_GROUP_PREFIX);
		struct passwd *pw;

		if (strncmp(gr->gr_name, AGENT_GROUP_PREFIX, strlen(AGENT_GROUP_PREFIX)) ||
		    !valid_agent_name(name) || config_find_agent((struct config *)cfg, name))
			continue;
		pw = getpwnam(name);
		if (pw && pw->pw_gid == gr->gr_gid)
			printf("User %s looks like an agent that the config does not know: 'au repair -a %s' "
			       "adopts it\n", name, name);
	}
	endgrent();
}

int cmd_repair(int argc, char **argv, struct au_ctx *ctx)
{
	static const struct option options[] = {
		{ "agent", required_argument, NULL, 'a' },
		{ "all", no_argument, NULL, 'A' },
		{ "yes", no_argument, NULL, 'y' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	autostrbuf struct strbuf source = STRBUF_INIT;
	autostrvec struct strvec names = STRVEC_INIT;
	const char *name = NULL;
	bool all = false, yes = false;
	int failed = 0, c;

	while ((c = getopt_long(argc, argv, ":a:yh", options, NULL)) != -1) {
		switch (c) {
		case 'a':
			name = optarg;
			break;
		case 'A':
			all = true;
			break;
		case 'y':
			yes = true;
			break;
		case 'h':
			fputs(repair_usage, stdout);
			return EXIT_OK;
		default:
			die_bad_option(c, argv, "repair");
		}
	}
	if (optind < argc)
		die_usage("repair: unexpected argument '%s'", argv[optind]);
	if (all && name)
		die_usage("repair: give -a NAME or --all, not both");
	if (name && (!valid_agent_name(name))) {
		autofree char *shown = escape_display(name);
		die_usage("repair: invalid agent name '%s'", shown);
	}

	au_setup(ctx, NULL);
	if (all) {
		for (size_t i = 0; i < ctx->cfg.nr_agents; i++)
			strvec_push(&names, ctx->cfg.agents[i].user_name);
		if (!names.nr)
			puts("No agents configured.");
	} else {
		strvec_push(&names, name ? name : DEFAULT_AGENT);
	}
	for (size_t i = 0; i < names.nr; i++) {
		if (!valid_agent_name(names.v[i])) {
			autofree char *shown = escape_display(names.v[i]);
			error("the config names an agent '%s' that is not a valid user name; fix it by hand", shown);
			failed = 1;
			continue;
		}
		if (repair_one(names.v[i], ctx, yes, &source) < 0)
			failed = 1;
	}
	if (all)
		mention_unknown_agents(&ctx->cfg);
	return failed ? EXIT_FAIL : EXIT_OK;
}
