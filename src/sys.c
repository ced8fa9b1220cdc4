/* sys.c: printed system commands, fork/exec and waiting. */
#include "sys.h"
#include "entrypoint.h"
#include "paths.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static bool is_safe_shell_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("_@%+=:,./-", c);
}

void shell_quote(struct strbuf *sb, const char *arg)
{
	bool plain = *arg != '\0', printable = true;

	for (const unsigned char *p = (const unsigned char *)arg; *p; p++) {
		if (!is_safe_shell_char(*p))
			plain = false;
		if (*p < 0x20 || *p == 0x7f)
			printable = false;
	}
	if (plain) {
		strbuf_addstr(sb, arg);
		return;
	}
	if (printable) {
		shell_quote_posix(sb, arg);
		return;
	}
	/*
	 * Control characters would act on the terminal if printed raw, so use
	 * bash's $'...' quoting, which spells every byte out and still pastes.
	 */
	strbuf_addstr(sb, "$'");
	for (const unsigned char *p = (const unsigned char *)arg; *p; p++) {
		if (*p == '\'' || *p == '\\')
			strbuf_addf(sb, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			strbuf_addf(sb, "\\x%02x", *p);
		else
			strbuf_addch(sb, (char)*p);
	}
	strbuf_addch(sb, '\'');
}

/* A first word that bash would take as an assignment or a keyword, not as the command. */
static bool needs_quoting_first(const char *arg)
{
	static const char *const reserved[] = {
		"if", "then", "else", "elif", "fi", "case", "esac", "for", "select", "while", "until",
		"do", "done", "in", "function", "time", "coproc", "{", "}", "!", "[[", "]]",
	};

	if (strchr(arg, '='))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(reserved); i++) {
		if (!strcmp(arg, reserved[i]))
			return true;
	}
	return false;
}

char *shell_quote_argv(const char *const *argv)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; argv[i]; i++) {
		if (i)
			strbuf_addch(&sb, ' ');
		size_t start = sb.len;

		shell_quote(&sb, argv[i]);
		/* Printed plain, it would be an assignment or a keyword: quote it. */
		if (i == 0 && needs_quoting_first(argv[i]) && !strcmp(sb.buf + start, argv[i])) {
			sb.len = start;
			strbuf_addf(&sb, "'%s'", argv[i]);
		}
	}
	strbuf_grow(&sb, 0);
	return strbuf_detach(&sb);
}

void shell_quote_posix(struct strbuf *sb, const char *arg)
{
	/*
	 * POSIX sh has no $'...': single quotes keep every byte but the quote
	 * itself, which is spelled 'it'\''s': close, an escaped quote, reopen.
	 */
	strbuf_addch(sb, '\'');
	for (const char *p = arg; *p; p++) {
		if (*p == '\'')
			strbuf_addstr(sb, "'\\''");
		else
			strbuf_addch(sb, *p);
	}
	strbuf_addch(sb, '\'');
}

bool running_as_root(void)
{
	return geteuid() == 0;
}

static bool use_sudo(unsigned flags)
{
	return (flags & RUN_SUDO) && !running_as_root();
}

void print_command(const char *const *argv, unsigned flags)
{
	autofree char *quoted = shell_quote_argv(argv);
	const char *dim = color(STDOUT_FILENO, COLOR_BOLD);
	const char *reset = *dim ? color(STDOUT_FILENO, COLOR_RESET) : "";

	printf("%s$ %s%s%s\n", dim, use_sudo(flags) ? "sudo " : "", quoted, reset);
	fflush(stdout);
}

int wait_status_to_exit(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return SU_EXIT_SELF;
}

struct trusted_check {
	uid_t trusted_uid;
	struct strbuf *why;
};

/* path_resolve()'s visitor for find_helper_in(): only root could have made each step. */
static int visit_trusted(const struct path_step *step, void *data)
{
	struct trusted_check *c = data;
	const struct stat *st = step->st;

	if (st->st_uid != 0 && st->st_uid != c->trusted_uid) {
		strbuf_addf(c->why, "'%s' is owned by uid %u, not by root", step->path, (unsigned)st->st_uid);
		errno = EPERM;
		return -1;
	}
	if (step->kind == PATH_STEP_SYMLINK)
		return 0; /* a link's mode means nothing; who made it does */
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		strbuf_addf(c->why, "'%s' is writable by %s (mode %04o)", step->path,
			    st->st_mode & S_IWOTH ? "others" : "its group", (unsigned)(st->st_mode & 07777));
		errno = EPERM;
		return -1;
	}
	if (step->kind == PATH_STEP_LAST && (!S_ISREG(st->st_mode) || !(st->st_mode & 0111))) {
		strbuf_addf(c->why, "'%s' is not an executable file", step->path);
		errno = EPERM;
		return -1;
	}
	return 0;
}

char *find_helper_in(const char *dirs, const char *prog, uid_t trusted_uid, struct strbuf *why)
{
	autofree char *copy = xstrdup(dirs);
	struct trusted_check check = { trusted_uid, why };
	char *save = NULL;

	if (!*prog || strchr(prog, '/')) {
		strbuf_addf(why, "'%s' is not a program name", prog);
		return NULL;
	}
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		autofree char *full = xasprintf("%s/%s", dir, prog);
		size_t why_len = why->len;
		int fd;

		if (*dir != '/')
			continue;
		fd = path_resolve(full, visit_trusted, &check, NULL, NULL);
		if (fd >= 0) {
			close(fd);
			return steal_pointer(&full);
		}
		/* Not in this folder: the next one. Anything else decides, as the first hit would. */
		if (errno == ENOENT || errno == ENOTDIR)
			continue;
		if (why->len == why_len)
			strbuf_addf(why, "cannot look at '%s': %s", full, strerror(errno));
		strbuf_addf(why, ": au runs no '%s' from there", prog);
		return NULL;
	}
	strbuf_addf(why, "'%s' is not in any of the folders au takes programs from (%s)", prog, dirs);
	return NULL;
}

/* Where the human's own PATH has prog, to say why it is not taken from there. */
static char *find_in_human_path(const char *prog)
{
	const char *path = getenv("PATH");
	autofree char *copy = xstrdup(path ? path : "");
	char *save = NULL;

	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		autofree char *full = xasprintf("%s/%s", dir, prog);
		struct stat st;

		if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
			return steal_pointer(&full);
	}
	return NULL;
}

char *find_in_path(const char *prog)
{
	autostrbuf struct strbuf why = STRBUF_INIT;
	autofree char *elsewhere = NULL;
	char *found = find_helper_in(HELPER_PATH, prog, 0, &why);

	if (found)
		return found;
	elsewhere = find_in_human_path(prog);
	if (elsewhere)
		warn("%s; the '%s' at '%s' is not one of them: au does not run it", why.buf, prog, elsewhere);
	else
		warn("%s", why.buf);
	return NULL;
}

void helper_environment(struct strvec *env)
{
	static const char *const kept[] = { "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TERM", "TZ" };
	extern char **environ;

	strvec_push(env, "PATH=" HELPER_PATH);
	for (char **e = environ; e && *e; e++) {
		size_t len = strcspn(*e, "=");
		bool keep = len > 3 && !strncmp(*e, "LC_", 3);

		for (size_t i = 0; i < ARRAY_SIZE(kept) && !keep; i++)
			keep = strlen(kept[i]) == len && !strncmp(*e, kept[i], len);
		if (keep && (*e)[len] == '=')
			strvec_push(env, *e);
	}
}

/*
 * argv with every program au runs named by its trusted absolute path: sudo,
 * and the command (which sudo then runs as given, not through its own
 * lookup). -1, said, when one is not to be had.
 */
static int resolve_helpers(const char *const *argv, unsigned flags, struct strvec *full)
{
	autofree char *sudo = NULL;
	autofree char *prog = NULL;

	if (use_sudo(flags) && !(sudo = find_in_path("sudo"))) {
		error("cannot run '%s' as root without a trusted 'sudo'", argv[0]);
		return -1;
	}
	prog = find_in_path(argv[0]);
	if (!prog) {
		error("cannot run '%s'", argv[0]);
		hint("install it where root alone can write (%s)", HELPER_PATH);
		return -1;
	}
	if (sudo)
		strvec_push(full, sudo);
	strvec_push(full, prog);
	strvec_pushv(full, argv + 1);
	return 0;
}

static int spawn_and_wait(const char *const *argv, unsigned flags, struct strbuf *out)
{
	autostrvec struct strvec full = STRVEC_INIT;
	autostrvec struct strvec env = STRVEC_INIT;
	int pipefd[2] = { -1, -1 };
	int status;
	pid_t pid;

	if (!(flags & RUN_QUIET))
		print_command(argv, flags);
	if (resolve_helpers(argv, flags, &full) < 0)
		return 127;
	helper_environment(&env);

	if (out && pipe2(pipefd, O_CLOEXEC) < 0)
		die_errno("cannot create a pipe");
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		die_errno("cannot fork");
	if (pid == 0) {
		if (out)
			dup2(pipefd[1], STDOUT_FILENO);
		if (flags & (RUN_NO_STDIN | RUN_NO_STDOUT | RUN_NO_STDERR)) {
			int null = open("/dev/null", O_RDWR | O_CLOEXEC);
			if (null < 0)
				_exit(127);
			if (flags & RUN_NO_STDIN)
				dup2(null, STDIN_FILENO);
			if ((flags & RUN_NO_STDOUT) && !out)
				dup2(null, STDOUT_FILENO);
			if (flags & RUN_NO_STDERR)
				dup2(null, STDERR_FILENO);
		}
		execve(full.v[0], full.v, env.v);
		fprintf(stderr, "au: cannot run '%s': %s\n", full.v[0], strerror(errno));
		_exit(127);
	}
	if (out) {
		close(pipefd[1]);
		if (read_fd_all(pipefd[0], 1 << 20, out) < 0)
			warn_errno("cannot read the output of '%s'", argv[0]);
		close(pipefd[0]);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			die_errno("cannot wait for '%s'", argv[0]);
	}
	return wait_status_to_exit(status);
}

int run_command(const char *const *argv, unsigned flags)
{
	return spawn_and_wait(argv, flags, NULL);
}

int run_command_capture(const char *const *argv, unsigned flags, struct strbuf *out)
{
	return spawn_and_wait(argv, flags, out);
}
