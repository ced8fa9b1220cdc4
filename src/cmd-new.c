/* cmd-new.c: au new: the agent's user, group, shared home and entrypoint. */
#include "acl.h"
#include "agent.h"
#include "au-config.h"
#include "au.h"
#include "config.h"
#include "entrypoint-build.h"
#include "entrypoint.h"
#include "sys.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>

static const char new_usage[] =
	"Usage: au new [-a NAME] [-y]\n"
	"\n"
	"Create an agent: a UNIX user NAME with the group su-as-NAME (which you join),\n"
	"a home /home/NAME that you can both edit, and a small setuid entrypoint,\n"
	"compiled for this agent and you alone, that 'au run' goes through.\n"
	"Every system command is printed before it runs. An agent that exists and is\n"
	"whole already is left as it is, with success ('already exists').\n"
	"\n"
	"  -a, --agent NAME  the agent's user name (default: agent)\n"
	"  -y, --yes         do not ask for confirmation\n"
	"  -h, --help        show this help\n";

/* A name useradd takes, whose group "su-as-NAME" groupadd takes too: checked before anything is made. */
static void check_name(const char *name)
{
	if (!valid_agent_name(name) || strlen(name) > AGENT_NAME_MAX) {
		autofree char *shown = escape_display(name);
		autofree char *group_shown = xasprintf(AGENT_GROUP_PREFIX "%s", shown);

		if (valid_agent_name(name))
			die_usage("new: agent name '%s' is too long: its group '%s' would have %zu characters, "
				  "and groupadd takes at most %d (use up to %d)", shown, group_shown,
				  strlen(group_shown), GROUP_NAME_MAX, AGENT_NAME_MAX);
		die_usage("new: invalid agent name '%s': use a portable user name "
			  "(a lowercase letter or _, then up to %d of a-z, 0-9, _ and -)", shown, AGENT_NAME_MAX - 1);
	}
}

struct new_state {
	const char *name;
	uid_t uid; /* once useradd made it */
	gid_t gid;
	char *group;
	char *home;
	char *shell;
	char *tmpdir;
	char *entrypoint;
	struct human human;
};

static void new_state_release(struct new_state *s)
{
	human_release(&s->human);
	free(s->group);
	free(s->home);
	free(s->shell);
	free(s->tmpdir);
	free(s->entrypoint);
}

__attribute__((noreturn))
static void step_failed(const struct new_state *s, const char *step, const char *detail)
{
	error("creating agent '%s' failed at step '%s'%s%s", s->name, step, detail ? ": " : "",
	      detail ? detail : "");
	hint("'au delete -a %s' cleans up what was made", s->name);
	exit(EXIT_FAIL);
}

static void step(const struct new_state *s, const char *name, const char *const *argv, unsigned flags)
{
	int rc = run_command(argv, flags);

	if (rc != 0) {
		autofree char *detail = xasprintf("exit status %d", rc);
		step_failed(s, name, detail);
	}
}

static void check_prerequisites(struct new_state *s)
{
	autofree char *setfacl = find_in_path("setfacl");
	autofree char *bash = find_in_path("bash");
	autoclose int home_fd = open("/home", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (home_fd < 0)
		die_errno("cannot open '/home'");
	if (!acl_supported(home_fd)) {
		error("the file system of '/home' does not support POSIX ACLs, which the shared home needs");
		hint("mount it with ACL support (ext4, xfs, btrfs and tmpfs have it)");
		exit(EXIT_FAIL);
	}
	entrypoint_build_check_prerequisites();
	if (!setfacl) {
		error("'setfacl' not found: the shared home needs it");
		hint("install it: sudo apt-get install acl");
		exit(EXIT_FAIL);
	}
	if (!running_as_root()) {
		autofree char *sudo = find_in_path("sudo");
		if (!sudo) {
			error("'sudo' not found: creating a user needs root");
			hint("install it as root: apt-get install sudo");
			exit(EXIT_FAIL);
		}
	}
	s->shell = bash ? steal_pointer(&bash) : xstrdup("/bin/sh");
	if (!entrypoint_build_can_bake(s->human.home_real) || !entrypoint_build_can_bake(s->shell))
		die("your home '%s' or the shell '%s' has characters au cannot compile in",
		    s->human.home_real, s->shell);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	autoclose int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);

	if (fd < 0 || write_all(fd, text, strlen(text)) < 0)
		die_errno("cannot write '%s'", path);
}

static void install_home_files(struct new_state *s)
{
	autofree char *readme = xasprintf("%s/README.md", s->tmpdir);
	autofree char *gitconfig = xasprintf("%s/gitconfig", s->tmpdir);
	autofree char *readme_dst = xasprintf("%s/README.md", s->home);
	autofree char *gitconfig_dst = xasprintf("%s/.gitconfig", s->home);
	autofree char *readme_text = NULL;
	autofree char *gitconfig_text = NULL;
	char host[256] = "localhost";

	gethostname(host, sizeof(host) - 1);
	readme_text = xasprintf(
		"# %s: an agent of %s\n"
		"\n"
		"This is the home of `%s`, a UNIX user made by au (agent-as-unix-user) so that\n"
		"AI coding agents run as it, in a box of their own, and not as %s:\n"
		"\n"
		"    au run -a %s -- claude\n"
		"\n"
		"%s shares folders with it with `au mount add -a %s [--rw] FOLDER`; see `au info -a %s`.\n"
		"To remove this agent, its group, its entrypoint and this home:\n"
		"\n"
		"    au delete -a %s --delete-home\n",
		s->name, s->human.name, s->name, s->human.name, s->name, s->human.name, s->name,
		s->name, s->name);
	/* Commits by the agent say whose agent made them; the human can change it. */
	gitconfig_text = xasprintf("[user]\n\tname = %s (agent of %s)\n\temail = %s@%s\n",
				   s->name, s->human.name, s->name, host);
	write_file(readme, readme_text, 0644);
	write_file(gitconfig, gitconfig_text, 0644);
	/*
	 * Root writes into the agent's home only here, right after useradd
	 * made it: no process of the agent's exists yet to race us.
	 */
	step(s, "README", (const char *const[]){ "install", "-o", s->name, "-g", s->group, "-m", "0644",
						readme, readme_dst, NULL }, RUN_SUDO);
	step(s, "git identity", (const char *const[]){ "install", "-o", s->name, "-g", s->group, "-m",
						      "0644", gitconfig, gitconfig_dst, NULL }, RUN_SUDO);
	{
		/* Where the agent installs its tools (npm -g --prefix ~/.local, pipx): on its PATH. */
		autofree char *local = xasprintf("%s/.local", s->home);
		autofree char *bin = xasprintf("%s/.local/bin", s->home);
		step(s, "~/.local/bin", (const char *const[]){ "install", "-d", "-o", s->name, "-g", s->group,
							      "-m", "0755", local, bin, NULL }, RUN_SUDO);
	}
}

/*
 * An agent that is in the config, set up completely, with its user, group and
 * verified entrypoint, is made already: au new has nothing to do, and says so
 * with success, so that scripts and configuration managers can run it again.
 * Anything less is left to check_name_free(), which names what is in the way.
 */
static bool already_made(const struct new_state *s, struct config *cfg)
{
	struct agent *a = config_find_agent(cfg, s->name);
	autoagentuser struct agent_user u = { 0 };
	autostrbuf struct strbuf why = STRBUF_INIT;
	bool unreadable;
	int fd;

	if (!a || !a->bootstrapped)
		return false;
	agent_user_load(&u, a->user_name, a->group);
	if (!u.user_exists || !u.group_exists)
		return false;
	fd = entrypoint_open_verified(a, u.gid, &why, &unreadable);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Nothing of that name may exist yet: au new never adopts a user, group or home. */
static void check_name_free(const struct new_state *s, struct config *cfg)
{
	struct stat st;

	if (config_find_agent(cfg, s->name))
		die("agent '%s' is already in '%s'", s->name, cfg->path);
	/* Its entrypoint's folder would be the network proxy's file. */
	if (!strcmp(s->name, SU_NETPROXY_NAME))
		die_usage("new: '%s' is the name of au's network proxy: pick another", s->name);
	if (getpwnam(s->name) || getgrnam(s->group)) {
		error("a %s named '%s' already exists", getpwnam(s->name) ? "user" : "group",
		      getpwnam(s->name) ? s->name : s->group);
		if (getpwnam(s->name) && getgrnam(s->group))
			hint("if it is an agent whose config entry was lost (or one made by agent-as-unix-user), "
			     "'au repair -a %s' adopts it; else pick another name with -a", s->name);
		else
			hint("pick another name with -a");
		exit(EXIT_FAIL);
	}
	if (lstat(s->home, &st) == 0) {
		error("'%s' already exists (left by an earlier agent?)", s->home);
		hint("look inside (it may hold an earlier agent's files and secrets), then remove it: "
		     "sudo rm -rf -- %s; or pick another name with -a", s->home);
		exit(EXIT_FAIL);
	}
}

static void confirm(const struct new_state *s, bool yes)
{
	autofree char *question = xasprintf("Create agent %s in %s and configure group '%s'?", s->name, s->home,
					    s->group);

	if (yes)
		return;
	if (!can_ask()) {
		error("no terminal to confirm on");
		hint("pass --yes to create agent '%s'", s->name);
		exit(EXIT_FAIL);
	}
	if (!ask_yes_no(question)) {
		puts("Nothing done.");
		exit(EXIT_FAIL);
	}
}

/* Recorded before any change, so that a crash leaves something 'au delete' can clean. */
static void record_agent(const struct new_state *s, struct config *cfg)
{
	struct agent *a = config_add_agent(cfg, s->name);

	free(a->entrypoint);
	a->entrypoint = xstrdup(s->entrypoint);
	config_save(cfg);
}

/* The user, its group (which the human joins) and a home both can edit. */
static void create_user(struct new_state *s)
{
	autofree char *entry = xasprintf("default:group:%s:rwx", s->group);

	step(s, "groupadd", (const char *const[]){ "groupadd", s->group, NULL }, RUN_SUDO);
	step(s, "useradd", (const char *const[]){ "useradd", "--shell", s->shell, "--no-user-group",
						  "--create-home", "--home-dir", s->home, "--gid", s->group,
						  s->name, NULL }, RUN_SUDO);
	step(s, "usermod", (const char *const[]){ "usermod", "--append", "--groups", s->group,
						  s->human.name, NULL }, RUN_SUDO);
	step(s, "chgrp", (const char *const[]){ "chgrp", s->group, s->home, NULL }, RUN_SUDO);
	step(s, "chmod", (const char *const[]){ "chmod", "2770", s->home, NULL }, RUN_SUDO);
	step(s, "setfacl", (const char *const[]){ "setfacl", "--modify", entry, s->home, NULL }, RUN_SUDO);
}

/*
 * The ids useradd and groupadd chose, recorded at once: au delete takes ACL
 * entries back by number, and checks owners, even once the names are gone.
 */
static void record_ids(struct new_state *s, struct config *cfg)
{
	struct passwd *pw = getpwnam(s->name);
	struct group *gr = getgrnam(s->group);
	struct agent *a = config_find_agent(cfg, s->name);

	if (!pw || !gr)
		step_failed(s, "useradd", "the new user or group cannot be found");
	s->uid = pw->pw_uid;
	s->gid = gr->gr_gid;
	a->uid = s->uid;
	a->gid = s->gid;
	a->has_uid = a->has_gid = true;
	config_save(cfg);
}

static void build_entrypoint(struct new_state *s, const struct strbuf *source, char hex[SHA256_HEX_LEN + 1])
{
	const struct entrypoint_build b = {
		.name = s->name, .group = s->group, .uid = s->uid, .gid = s->gid, .home = s->home,
		.shell = s->shell, .caller_uid = s->human.uid, .caller_home = s->human.home_real,
		.tmpdir = s->tmpdir,
	};
	autostrbuf struct strbuf why = STRBUF_INIT;
	const char *failed_step = NULL;

	if (entrypoint_build_install(&b, source, hex, &failed_step, &why) < 0)
		step_failed(s, failed_step, why.buf);
}

static void mark_bootstrapped(const struct new_state *s, struct config *cfg, const char *hex)
{
	struct agent *a = config_find_agent(cfg, s->name);

	free(a->entrypoint_sha256);
	a->entrypoint_sha256 = xstrdup(hex);
	free(a->entrypoint_source_sha256);
	a->entrypoint_source_sha256 = xstrdup(entrypoint_source_sha256());
	a->bootstrapped = true;
	config_save(cfg);
}

int cmd_new(int argc, char **argv, struct au_ctx *ctx)
{
	static const struct option options[] = {
		{ "agent", required_argument, NULL, 'a' },
		{ "yes", no_argument, NULL, 'y' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct new_state s __attribute__((cleanup(new_state_release))) = { .name = DEFAULT_AGENT };
	autostrbuf struct strbuf source = STRBUF_INIT;
	char hex[SHA256_HEX_LEN + 1];
	struct group *gr;
	bool yes = false;
	int c;

	while ((c = getopt_long(argc, argv, ":a:yh", options, NULL)) != -1) {
		switch (c) {
		case 'a':
			s.name = optarg;
			break;
		case 'y':
			yes = true;
			break;
		case 'h':
			fputs(new_usage, stdout);
			return EXIT_OK;
		default:
			die_bad_option(c, argv, "new");
		}
	}
	if (optind < argc)
		die_usage("new: unexpected argument '%s'", argv[optind]);
	check_name(s.name);
	s.group = xasprintf("su-as-%s", s.name);
	s.home = xasprintf("/home/%s", s.name);
	s.entrypoint = entrypoint_install_path(s.name);
	human_load(&s.human);

	au_setup(ctx, NULL);
	if (already_made(&s, &ctx->cfg)) {
		printf("Agent %s already exists: nothing to do\n", s.name);
		return EXIT_OK;
	}
	check_name_free(&s, &ctx->cfg);
	check_prerequisites(&s);
	entrypoint_build_load_source(&source);
	confirm(&s, yes);
	au_lock_for_write(ctx);
	check_name_free(&s, &ctx->cfg);

	record_agent(&s, &ctx->cfg);
	s.tmpdir = entrypoint_build_tmpdir("new");
	create_user(&s);
	record_ids(&s, &ctx->cfg);
	install_home_files(&s);
	build_entrypoint(&s, &source, hex);
	entrypoint_build_tmpdir_remove(s.tmpdir);
	mark_bootstrapped(&s, &ctx->cfg, hex);

	printf("Created agent %s\n", s.name);
	gr = getgrnam(s.group);
	if (!process_has_gid(gr ? gr->gr_gid : (gid_t)-1))
		hint("log in again, or run 'newgrp %s' in this shell, so that your session joins the "
		     "group; 'au run' works meanwhile", s.group);
	return EXIT_OK;
}
