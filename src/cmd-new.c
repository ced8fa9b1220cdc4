/* cmd-new.c: au new: the agent's user, group, shared home and entrypoint. */
#include "acl.h"
#include "agent.h"
#include "au-config.h"
#include "au.h"
#include "config.h"
#include "entrypoint.h"
#include "entrypoint-hash.h"
#include "hash.h"
#include "sys.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

static const char new_usage[] =
	"Usage: au new [-a NAME] [-y]\n"
	"\n"
	"Create an agent: a UNIX user NAME with the group su-as-NAME (which you join),\n"
	"a home /home/NAME that you can both edit, and a small setuid entrypoint,\n"
	"compiled for this agent and you alone, that 'au run' goes through.\n"
	"Every system command is printed before it runs.\n"
	"\n"
	"  -a, --agent NAME  the agent's user name (default: agent)\n"
	"  -y, --yes         do not ask for confirmation\n"
	"  -h, --help        show this help\n";

struct new_state {
	const char *name;
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

/* Text that goes into a C string literal through -D must not end the literal. */
static bool safe_for_literal(const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	}
	return true;
}

static void check_prerequisites(struct new_state *s)
{
	autofree char *cc = find_in_path("cc");
	autofree char *setfacl = find_in_path("setfacl");
	autofree char *bash = find_in_path("bash");
	autoclose int home_fd = open("/home", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	autostrbuf struct strbuf why = STRBUF_INIT;
	autofree char *parent = xstrdup(AU_LIBEXECDIR);
	struct stat st;

	if (home_fd < 0)
		die_errno("cannot open '/home'");
	if (!acl_supported(home_fd)) {
		error("the file system of '/home' does not support POSIX ACLs, which the shared home needs");
		hint("mount it with ACL support (ext4, xfs, btrfs and tmpfs have it)");
		exit(EXIT_FAIL);
	}
	if (!cc) {
		error("no C compiler found ('cc'): au compiles each agent's entrypoint");
		hint("install it: sudo apt-get install gcc libc6-dev");
		exit(EXIT_FAIL);
	}
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
	/* The entrypoint goes below AU_LIBEXECDIR: what exists of it must be safe already. */
	while (stat(parent, &st) < 0) {
		char *slash = strrchr(parent, '/');
		if (!slash || slash == parent)
			break;
		*slash = '\0';
	}
	if (!safe_dir_chain(parent, &why)) {
		error("cannot install the entrypoint below '%s': %s", AU_LIBEXECDIR, why.buf);
		exit(EXIT_FAIL);
	}
	if (!safe_for_literal(AU_NETPROXY_PATH) || !safe_for_literal(AU_RESOLV_CONF_PATH))
		die("au's install prefix '%s' has characters au cannot compile in", AU_PREFIX);
	if (!safe_for_literal(s->human.home_real) || !safe_for_literal(s->shell))
		die("your home '%s' or the shell '%s' has characters au cannot compile in",
		    s->human.home_real, s->shell);
}

/* Reads the installed entrypoint source once, and checks it is the one au was built with. */
static void load_entrypoint_source(struct strbuf *src)
{
	autoclose int fd = open(AU_ENTRYPOINT_SOURCE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char hex[SHA256_HEX_LEN + 1];

	if (fd < 0)
		die_errno("cannot read the entrypoint source '%s'", AU_ENTRYPOINT_SOURCE);
	if (read_fd_all(fd, 1 << 20, src) < 0)
		die_errno("cannot read '%s'", AU_ENTRYPOINT_SOURCE);
	sha256_buf(src->buf, src->len, hex);
	if (strcmp(hex, AU_ENTRYPOINT_SOURCE_SHA256) != 0) {
		error("'%s' is not the entrypoint source this au was built with (SHA-256 %s, expected %s)",
		      AU_ENTRYPOINT_SOURCE, hex, AU_ENTRYPOINT_SOURCE_SHA256);
		hint("reinstall au: make && sudo make install");
		exit(EXIT_FAIL);
	}
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

/* musl's files for this machine (Debian's musl-tools), or NULL. */
static char *musl_dir(void)
{
	static const char *const needed[] = { "rcrt1.o", "crti.o", "crtn.o", "libc.a" };
	autofree char *musl_gcc = find_in_path("musl-gcc");
	autofree char *dir = NULL;
	struct utsname u;

	if (!musl_gcc || uname(&u) < 0)
		return NULL;
	dir = xasprintf("/usr/lib/%s-linux-musl", u.machine);
	for (size_t i = 0; i < ARRAY_SIZE(needed); i++) {
		autofree char *path = xasprintf("%s/%s", dir, needed[i]);
		if (access(path, R_OK) < 0)
			return NULL;
	}
	return steal_pointer(&dir);
}

/* gcc's own start and end files (crtbeginS.o...), by asking gcc. */
static char *gcc_file(const char *name)
{
	autostrbuf struct strbuf out = STRBUF_INIT;
	autofree char *arg = xasprintf("-print-file-name=%s", name);

	if (run_command_capture((const char *const[]){ "gcc", arg, NULL }, RUN_QUIET, &out) != 0 || !out.len)
		die("cannot find gcc's '%s'", name);
	while (out.len && out.buf[out.len - 1] == '\n')
		out.buf[--out.len] = '\0';
	return strbuf_detach(&out);
}

static void compile_entrypoint(struct new_state *s, const struct strbuf *source, char hex[SHA256_HEX_LEN + 1])
{
	autofree char *src = xasprintf("%s/su_as_agent.c", s->tmpdir);
	autofree char *bin = xasprintf("%s/su_as_agent", s->tmpdir);
	struct passwd *pw = getpwnam(s->name);
	struct group *gr = getgrnam(s->group);
	autostrvec struct strvec argv = STRVEC_INIT;
	autofree char *musl = NULL;
	autoclose int fd = -1;
	char home_real[PATH_MAX];

	if (!pw || !gr)
		step_failed(s, "compile", "the new user or group cannot be found");
	if (!realpath(s->home, home_real) || !safe_for_literal(home_real))
		step_failed(s, "compile", "the agent's home cannot be resolved");
	write_file(src, source->buf, 0600);

	musl = musl_dir();
	if (musl) {
		/*
		 * Static and position-independent against musl: about 50 KB,
		 * where glibc's static libc alone is 700 KB that au run would
		 * hash at every start. musl-gcc has no -static-pie of its own,
		 * so the start files are named here.
		 */
		autofree char *crtbegin = gcc_file("crtbeginS.o");
		autofree char *crtend = gcc_file("crtendS.o");

		strvec_pushv(&argv, (const char *const[]){
			"musl-gcc", "-std=gnu11", "-O2", "-fPIE", "-static-pie", "-nostartfiles",
			"-Wl,--no-dynamic-linker", "-Wl,-Bstatic", "-s", NULL });
		strvec_pushf(&argv, "%s/rcrt1.o", musl);
		strvec_pushf(&argv, "%s/crti.o", musl);
		strvec_push(&argv, crtbegin);
		strvec_push(&argv, src);
		strvec_push(&argv, crtend);
		strvec_pushf(&argv, "%s/crtn.o", musl);
	} else {
		strvec_pushv(&argv, (const char *const[]){ "cc", "-std=gnu11", "-O2", "-static-pie", "-s",
							   "-D_FORTIFY_SOURCE=3", src, NULL });
	}
	strvec_pushv(&argv, (const char *const[]){
		"-Wall", "-Wextra", "-Werror",
		"-fstack-protector-strong", "-fstack-clash-protection", "-fcf-protection",
		"-Wl,-z,relro,-z,now,-z,noexecstack", NULL });
	strvec_pushf(&argv, "-DTARGET_UID=%u", (unsigned)pw->pw_uid);
	strvec_pushf(&argv, "-DTARGET_GID=%u", (unsigned)gr->gr_gid);
	strvec_pushf(&argv, "-DCALLER_UID=%u", (unsigned)s->human.uid);
	strvec_pushf(&argv, "-DAGENT_NAME=\"%s\"", s->name);
	strvec_pushf(&argv, "-DAGENT_HOME=\"%s\"", home_real);
	strvec_pushf(&argv, "-DAGENT_SHELL=\"%s\"", s->shell);
	strvec_pushf(&argv, "-DCALLER_HOME=\"%s\"", s->human.home_real);
	strvec_pushf(&argv, "-DNETPROXY_PATH=\"%s\"", AU_NETPROXY_PATH);
	strvec_pushf(&argv, "-DRESOLV_CONF_PATH=\"%s\"", AU_RESOLV_CONF_PATH);
	strvec_push(&argv, "-o");
	strvec_push(&argv, bin);
	step(s, "compile", strvec_argv(&argv), 0);

	fd = open(bin, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || sha256_fd(fd, hex) < 0)
		die_errno("cannot read '%s'", bin);
}

static void remove_tmpdir(struct new_state *s)
{
	static const char *const names[] = { "README.md", "gitconfig", "su_as_agent.c", "su_as_agent" };
	autoclose int dfd = open(s->tmpdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (dfd < 0)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		unlinkat(dfd, names[i], 0);
	rmdir(s->tmpdir);
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
	if (getpwnam(s->name))
		die("a user named '%s' already exists", s->name);
	if (getgrnam(s->group))
		die("a group named '%s' already exists", s->group);
	if (lstat(s->home, &st) == 0) {
		error("'%s' already exists (left by an earlier agent?)", s->home);
		hint("remove it, or pick another name with -a");
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

static void make_tmpdir(struct new_state *s)
{
	const char *tmp = getenv("TMPDIR");
	char template[PATH_MAX];

	snprintf(template, sizeof(template), "%s/au-new-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
	if (!mkdtemp(template))
		die_errno("cannot create a temporary folder in '%s'", tmp ? tmp : "/tmp");
	s->tmpdir = xstrdup(template);
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

/* Root-owned, group su-as-NAME, mode 4750, in a root-owned folder of its own. */
static void install_entrypoint(struct new_state *s)
{
	autofree char *install_dir = xasprintf("%s/%s", AU_LIBEXECDIR, s->name);
	autofree char *bin = xasprintf("%s/su_as_agent", s->tmpdir);
	autostrbuf struct strbuf why = STRBUF_INIT;

	step(s, "install", (const char *const[]){ "install", "-d", "-o", "root", "-g", "root", "-m", "0755",
						  install_dir, NULL }, RUN_SUDO);
	if (!safe_dir_chain(install_dir, &why))
		step_failed(s, "install", why.buf);
	step(s, "install", (const char *const[]){ "install", "-o", "root", "-g", s->group, "-m", "4750",
						  bin, s->entrypoint, NULL }, RUN_SUDO);
}

static void mark_bootstrapped(const struct new_state *s, struct config *cfg, const char *hex)
{
	struct agent *a = config_find_agent(cfg, s->name);

	free(a->entrypoint_sha256);
	a->entrypoint_sha256 = xstrdup(hex);
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
	if (!valid_agent_name(s.name)) {
		autofree char *shown = escape_display(s.name);
		die_usage("new: invalid agent name '%s': use a portable user name "
			  "(a lowercase letter or _, then up to 30 of a-z, 0-9, _ and -)", shown);
	}
	s.group = xasprintf("su-as-%s", s.name);
	s.home = xasprintf("/home/%s", s.name);
	s.entrypoint = entrypoint_install_path(s.name);
	human_load(&s.human);

	au_setup(ctx, NULL);
	check_name_free(&s, &ctx->cfg);
	check_prerequisites(&s);
	load_entrypoint_source(&source);
	confirm(&s, yes);

	record_agent(&s, &ctx->cfg);
	make_tmpdir(&s);
	create_user(&s);
	install_home_files(&s);
	compile_entrypoint(&s, &source, hex);
	install_entrypoint(&s);
	remove_tmpdir(&s);
	mark_bootstrapped(&s, &ctx->cfg, hex);

	printf("Created agent %s\n", s.name);
	gr = getgrnam(s.group);
	if (!process_has_gid(gr ? gr->gr_gid : (gid_t)-1))
		hint("log in again (or run 'su - %s') so that your session joins group '%s'; "
		     "'au run' works meanwhile", s.human.name, s.group);
	return EXIT_OK;
}
