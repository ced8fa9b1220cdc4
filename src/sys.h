/*
 * sys.h: system commands, printed before they run. Every command au runs on
 * the human's behalf is shown as "$ sudo ..." exactly as it could be typed.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct strbuf;
struct strvec;

/* Appends arg to sb quoted for bash: the printed text runs the same argv. */
void shell_quote(struct strbuf *sb, const char *arg);
/* Quotes for POSIX sh (sg's -c): always single quotes, control bytes kept as they are. */
void shell_quote_posix(struct strbuf *sb, const char *arg);
/* Quotes a whole argv, separated by spaces. Caller frees. */
char *shell_quote_argv(const char *const *argv);

/* True when au runs as root, so "sudo" is left out. */
bool running_as_root(void);

enum {
	RUN_SUDO = 1 << 0,      /* prefix with sudo unless already root */
	RUN_QUIET = 1 << 1,     /* do not print the command */
	RUN_NO_STDOUT = 1 << 2, /* send the command's stdout to /dev/null */
	RUN_NO_STDERR = 1 << 3, /* send the command's stderr to /dev/null */
	RUN_NO_STDIN = 1 << 4,  /* stdin from /dev/null */
	/* No terminal at all: for commands that may run the agent's code. */
	RUN_NULL_STDIO = RUN_NO_STDIN | RUN_NO_STDOUT | RUN_NO_STDERR,
};

/*
 * Prints "$ argv..." (with sudo when RUN_SUDO and not root), runs it with
 * fork/exec (never a shell), waits. Returns the exit status, 128+N for signal
 * N, or 127 when it could not be started.
 */
int run_command(const char *const *argv, unsigned flags);
/* Same, but captures stdout (up to 1 MiB) into out. */
int run_command_capture(const char *const *argv, unsigned flags, struct strbuf *out);

/* Prints "$ argv..." the way run_command does, without running anything. */
void print_command(const char *const *argv, unsigned flags);

/* Turns a wait status into an exit code: the code, or 128+signal. */
int wait_status_to_exit(int status);

/*
 * The folders au takes every helper program from (sudo, cc, setfacl,
 * useradd, pkill, sg...), in this order, as sudo's secure_path does: never
 * the human's PATH, which may pass through a folder the agent writes (a
 * project's .venv/bin). The list is Debian's default secure_path, so that a
 * printed "$ sudo useradd ..." pasted into a shell runs the same programs.
 */
#define HELPER_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/*
 * Finds prog in the first folder of dirs (a HELPER_PATH-like list) that has
 * it, and accepts it only when root alone could have put it there: every
 * folder passed through, and every symlink met on the way to the program, is
 * root's (or trusted_uid's, for tests) and not writable by group or others,
 * and the program is a regular executable file. Returns its absolute path
 * (dir/prog, which is what runs), or NULL with why said in the human's
 * words.
 */
char *find_helper_in(const char *dirs, const char *prog, uid_t trusted_uid, struct strbuf *why);

/*
 * find_helper_in(HELPER_PATH, prog, 0): the path of a helper au may run, or
 * NULL with a warning that names what was refused, or the copy found only in
 * the human's PATH. The name says where it looks: the helper path, never
 * the human's PATH.
 */
char *find_in_path(const char *prog);

/*
 * The environment helpers run with: PATH is HELPER_PATH (cc finds as and ld,
 * musl-gcc finds gcc, through it), and only HOME, USER, LOGNAME, LANG,
 * LANGUAGE, LC_*, TERM and TZ pass from ours: nothing else of the human's
 * environment (TMPDIR, GCC_EXEC_PREFIX, COMPILER_PATH...) can point a
 * helper at a folder the agent writes.
 */
void helper_environment(struct strvec *env);
