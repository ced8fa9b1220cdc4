/*
 * test-shell-quote.c: every command au prints can be pasted into bash and
 * runs the same argv. Checked for real: the printed text is given to a bash
 * that prints its words back NUL-separated.
 */
#include "sys.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#define MAX_ARGS 8

static char *quote_one(const char *arg)
{
	struct strbuf sb = STRBUF_INIT;

	shell_quote(&sb, arg);
	return strbuf_detach(&sb);
}

static void assert_quoted(const char *arg, const char *want)
{
	autofree char *got = quote_one(arg);

	assert_string_equal(got, want);
}

/*
 * Runs shell -c script with a clean environment (no BASH_ENV, no rc file, a
 * UTF-8 locale like a terminal's) and returns its stdout and exit code.
 */
static int run_shell(const char *shell, const char *script, struct strbuf *out)
{
	static char *const envp[] = { (char *)"PATH=/usr/bin:/bin", (char *)"LC_ALL=C.UTF-8", NULL };
	int pipefd[2], status;
	pid_t pid;

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *const argv[] = { (char *)shell, (char *)"-c", (char *)script, NULL };
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		dup2(null, STDIN_FILENO);
		dup2(null, STDERR_FILENO);
		dup2(pipefd[1], STDOUT_FILENO);
		execve(shell, argv, envp);
		_exit(127);
	}
	close(pipefd[1]);
	assert_int_equal(read_fd_all(pipefd[0], 1 << 20, out), 0);
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* escape_display(), except for "", which it gets wrong (test-util.c). */
static char *shown(const char *s)
{
	return s[0] ? escape_display(s) : xstrdup("");
}

/* Printed with a visible escape for every byte, for failure messages. */
static char *show_argv(const char *const *argv)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; argv[i]; i++) {
		autofree char *e = shown(argv[i]);

		strbuf_addf(&sb, "%s[%s]", i ? " " : "", e);
	}
	return strbuf_detach(&sb);
}

/*
 * The property: the printed text, pasted after a command, gives that
 * command exactly argv. printf '%s\0' prints each word it got, NUL-ended.
 */
static void assert_round_trip_with(const char *shell, const char *const *argv)
{
	autofree char *printed = shell_quote_argv(argv);
	autofree char *script = xasprintf("printf '%%s\\0' %s", printed);
	autostrbuf struct strbuf out = STRBUF_INIT;
	size_t off = 0, i;
	int code;

	/* Nothing that would act on the terminal is printed raw. */
	for (const unsigned char *p = (const unsigned char *)printed; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			autofree char *shown_argv = show_argv(argv);
			fail_msg("raw control byte 0x%02x printed for %s", *p, shown_argv);
		}
	}

	code = run_shell(shell, script, &out);
	for (i = 0; argv[i]; i++) {
		size_t len = strlen(argv[i]);

		if (code != 0 || off + len >= out.len ||
		    memcmp(out.buf + off, argv[i], len) != 0 || out.buf[off + len] != '\0')
			break;
		off += len + 1;
	}
	if (code != 0 || argv[i] || off != out.len) {
		autofree char *shown_argv = show_argv(argv);
		autofree char *shown_printed = shown(printed);
		autofree char *got = NULL;

		for (size_t k = 0; k < out.len; k++) {
			if (out.buf[k] == '\0')
				out.buf[k] = '\n';
		}
		got = shown(strbuf_str(&out));
		fail_msg("%s: argv %s printed as %s came back as %s (exit %d)",
			 shell, shown_argv, shown_printed, got, code);
	}
}

static void assert_round_trip(const char *const *argv)
{
	assert_round_trip_with("/bin/bash", argv);
}

/* --- what the quoting looks like ---------------------------------------- */

static void test_plain_words_stay_plain(void **state)
{
	assert_quoted("sudo", "sudo");
	assert_quoted("/home/alice/src", "/home/alice/src");
	assert_quoted("--shell=/bin/bash", "--shell=/bin/bash");
	assert_quoted("user@host:a,b+c%d_e.f-g", "user@host:a,b+c%d_e.f-g");
	assert_quoted("64000", "64000");
}

static void test_specials_are_single_quoted(void **state)
{
	assert_quoted("", "''");
	assert_quoted("my project", "'my project'");
	assert_quoted("$HOME", "'$HOME'");
	assert_quoted("`id`", "'`id`'");
	assert_quoted("a*b?[c]", "'a*b?[c]'");
	assert_quoted("!!", "'!!'");
	assert_quoted("~", "'~'");
	assert_quoted("#x", "'#x'");
	assert_quoted("a;b|c&d>e<f(g)", "'a;b|c&d>e<f(g)'");
	assert_quoted("{a,b}", "'{a,b}'");
	assert_quoted("it's", "'it'\\''s'");
	assert_quoted("\"q\"", "'\"q\"'");
	assert_quoted("back\\slash", "'back\\slash'");
}

static void test_controls_are_spelled_out(void **state)
{
	autofree char *nl = quote_one("a\nb");
	autofree char *esc = quote_one("\x1b[31mred");

	/* Spelled out, not printed: a newline would split the pasted line. */
	assert_null(strchr(nl, '\n'));
	assert_null(strchr(esc, '\x1b'));
	assert_quoted("a\nb", "$'a\\x0ab'");
	assert_quoted("\t", "$'\\x09'");
	assert_quoted("\x7f", "$'\\x7f'");
	assert_quoted("it's\n", "$'it\\'s\\x0a'");
	assert_quoted("a\\b\n", "$'a\\\\b\\x0a'");
}

static void test_utf8_is_kept_readable(void **state)
{
	assert_quoted("caf\xc3\xa9", "'caf\xc3\xa9'");
	assert_quoted("\xe6\x97\xa5\xe6\x9c\xac", "'\xe6\x97\xa5\xe6\x9c\xac'");
}

static void test_argv_is_space_separated(void **state)
{
	static const char *const argv[] = { "sudo", "setfacl", "-m", "u:agent:rwx", "/home/alice/my dir", NULL };
	autofree char *s = shell_quote_argv(argv);

	assert_string_equal(s, "sudo setfacl -m u:agent:rwx '/home/alice/my dir'");
}

/* Fixed, kept as a regression test: an empty argv detaches a never-written strbuf (see test-util.c). */
static void test_empty_argv_prints_nothing(void **state)
{
	static const char *const empty[] = { NULL };
	autofree char *e = NULL;

	/* Freed 'Z'-filled chunks first, so a missing NUL cannot pass by luck. */
	for (size_t size = 16; size <= 256; size *= 2) {
		char *p = xmalloc(size);

		memset(p, 'Z', size);
		free(p);
	}
	e = shell_quote_argv(empty);
	assert_int_equal(e[0], '\0');
}

/* --- the round trip through a real bash ---------------------------------- */

static void test_round_trip_handpicked(void **state)
{
	static const char *const cases[][16] = {
		{ "plain", "words", "/and/paths", "--opt=value" },
		{ "" },
		{ "", "", "" },
		{ "two words", "  leading and trailing  " },
		{ "'" },
		{ "''" },
		{ "\"" },
		{ "it's", "a \"quoted\" 'word'" },
		/* The reference tool printed these as text bash could not parse. */
		{ "\\'" },
		{ "a\\'b", "\\", "\\\\", "'\\''", "x\\" },
		{ "$HOME", "${PATH}", "$(id)", "`id`", "$'x'", "$\"x\"" },
		{ "!", "!!", "!$", "a!b", "!-1" },
		{ "*", "?", "[a-z]", "*.c", "{a,b}", "~", "~root", "a=~" },
		{ "#", "#comment", "a #b" },
		{ ";", "&", "|", "&&", "||", ">", "<", ">>", "<<EOF", "(", ")", "()" },
		{ "line\nbreak", "\n", "\n\n", "trailing\n" },
		{ "\t", "tab\there", "\r\n" },
		{ "\x1b[2J", "\x1b]0;title\x07", "\x01\x02\x1f\x7f" },
		{ "it's\nnew", "back\\slash\t", "\\x41", "\\\n" },
		{ "caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x98\x80 emoji" },
		{ "\xff", "\x80\x9b", "\xc3", "\xc3\n" },
		{ "-", "--", "-e", "-n" },
		{ "x=1", "A=B", "=" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_round_trip(cases[i]);
}

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic, so a failure can be replayed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static void test_round_trip_random(void **state)
{
	static const char specials[] = " '\"\\$`!*?[]{}~#&;|<>()=%\n\t\r\x1b\x7f";
	char args[MAX_ARGS][40];
	const char *argv[MAX_ARGS + 1];

	rng_state = 0x5eed0fa0a0a0a0a1ULL;
	for (int round = 0; round < 300; round++) {
		size_t nr = 1 + rng() % MAX_ARGS;

		for (size_t i = 0; i < nr; i++) {
			size_t len = rng() % sizeof(args[i]);

			for (size_t k = 0; k < len; k++) {
				uint64_t r = rng();

				/* Half any byte 1..255, half the bytes shells care about. */
				if (r & 1)
					args[i][k] = (char)(1 + (r >> 8) % 255);
				else
					args[i][k] = specials[(r >> 8) % (sizeof(specials) - 1)];
			}
			args[i][len] = '\0';
			argv[i] = args[i];
		}
		argv[nr] = NULL;
		assert_round_trip(argv);
	}
}

/*
 * Fixed, kept as a regression test: shell_quote_argv() prints argv[0] bare when it is made of "plain"
 * characters, but as the first word of a command bash reads "A=1" as a
 * variable assignment and "if" or "time" as reserved words, so the pasted
 * line does not run argv[0]. Quoting argv[0] whenever it contains '=' or is
 * a reserved word would make it run the command it names.
 */
static void test_first_word_runs_as_a_command(void **state)
{
	static const char *const cases[][3] = {
		{ "A=1", "true" },
		{ "if", "true" },
		{ "time", "true" },
	};

	autostrbuf struct strbuf wrong = STRBUF_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		autofree char *printed = shell_quote_argv(cases[i]);
		autofree char *script = xasprintf("PATH=/nonexistent; %s", printed);
		autostrbuf struct strbuf out = STRBUF_INIT;
		int code;

		/* No command of that name exists: bash must say so (127). */
		code = run_shell("/bin/bash", script, &out);
		if (code != 127)
			strbuf_addf(&wrong, "\n  '%s' did not run a command '%s' (exit %d)",
				    printed, cases[i][0], code);
	}
	if (wrong.len)
		fail_msg("printed first words that bash does not run:%s", wrong.buf);
}

/*
 * Fixed, kept as a regression test: au run's fallback through "sg GROUP -c 'exec ...'" (cmd-run.c) hands
 * shell_quote_argv()'s text to sg, which runs it with /bin/sh (dash on
 * Debian). dash has no $'...' quoting, so any argument with a control
 * character (a newline in "bash -c 'a<NL>b'", a tab) reaches the agent
 * changed: $'a\x0ab' arrives as the literal "$a\x0ab". Text for a shell
 * other than the human's bash needs POSIX quoting (a raw newline inside
 * '...' is fine there; only display needs the escapes).
 */
static void test_round_trip_through_posix_sh(void **state)
{
	static const char *const argv[] = { "bash", "-c", "echo one\necho two", "tab\there", "it's", "", NULL };
	autostrbuf struct strbuf script = STRBUF_INIT;
	autostrbuf struct strbuf out = STRBUF_INIT;
	size_t off = 0;

	(void)state;
	/* What au gives to sg -c: shell_quote_posix() words, run by /bin/sh (dash). */
	strbuf_addstr(&script, "printf '%s\\0'");
	for (size_t i = 0; argv[i]; i++) {
		strbuf_addch(&script, ' ');
		shell_quote_posix(&script, argv[i]);
	}
	assert_int_equal(run_shell("/bin/sh", script.buf, &out), 0);
	for (size_t i = 0; argv[i]; i++) {
		assert_true(off + strlen(argv[i]) < out.len);
		assert_memory_equal(out.buf + off, argv[i], strlen(argv[i]) + 1);
		off += strlen(argv[i]) + 1;
	}
	assert_int_equal(off, out.len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_words_stay_plain),
		cmocka_unit_test(test_specials_are_single_quoted),
		cmocka_unit_test(test_controls_are_spelled_out),
		cmocka_unit_test(test_utf8_is_kept_readable),
		cmocka_unit_test(test_argv_is_space_separated),
		cmocka_unit_test(test_empty_argv_prints_nothing),
		cmocka_unit_test(test_round_trip_handpicked),
		cmocka_unit_test(test_round_trip_random),
		cmocka_unit_test(test_first_word_runs_as_a_command),
		cmocka_unit_test(test_round_trip_through_posix_sh),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
