/*
 * test-gitconfig.c: au reads git's config syntax itself (it never runs git on
 * what the agent may have written), for core.hooksPath, include paths and
 * safe.*. What git would read, au must read the same.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gitconfig.h"
#include "util.h"

static void collect(const char *section, const char *subsection, const char *key, const char *value, void *data)
{
	struct strbuf *sb = data;

	strbuf_addf(sb, "%s|%s|%s|%s\n", section, subsection ? subsection : "-", key, value ? value : "(true)");
}

static char *parse(const char *text, int *rc)
{
	struct strbuf sb = STRBUF_INIT;

	*rc = gitconfig_parse(text, strlen(text), collect, &sb);
	return strbuf_detach(&sb);
}

static void assert_parses_to(const char *text, const char *want)
{
	int rc;
	autofree char *got = parse(text, &rc);

	assert_int_equal(rc, 0);
	assert_string_equal(got, want);
}

static void test_sections_and_keys(void **state)
{
	assert_parses_to("[core]\n\thooksPath = .husky/_\n[Include]\n\tPATH=../x\n",
			 "core|-|hookspath|.husky/_\ninclude|-|path|../x\n");
	assert_parses_to("[includeIf \"gitdir:~/work/\"]\n path = ~/.gitconfig-work\n",
			 "includeif|gitdir:~/work/|path|~/.gitconfig-work\n");
	/* The old form: [section.subsection], lowercased. */
	assert_parses_to("[Safe.Dir]\nx = 1\n", "safe|dir|x|1\n");
	/* A key without "=" is true. */
	assert_parses_to("[core]\nbare\n", "core|-|bare|(true)\n");
}

static void test_values(void **state)
{
	/* Quotes keep spaces and comment characters; escapes; trailing blanks go. */
	assert_parses_to("[core]\nfsmonitor = \"id -un > /tmp/x; false\" \t\n",
			 "core|-|fsmonitor|id -un > /tmp/x; false\n");
	assert_parses_to("[a]\nb = one # comment\nc = two ; comment\n", "a|-|b|one\na|-|c|two\n");
	assert_parses_to("[a]\nb = x\\ty\\\\z\\\"\n", "a|-|b|x\ty\\z\"\n");
	/* A backslash at the end of a line continues it. */
	assert_parses_to("[core]\nhooksPath = .hu\\\nsky\n", "core|-|hookspath|.husky\n");
	assert_parses_to("[a]\nb = \"  kept  \"  \n", "a|-|b|  kept  \n");
	assert_parses_to("[a]\nb =\n", "a|-|b|\n");
}

static void test_comments_and_blanks(void **state)
{
	assert_parses_to("# top\n\n; another\n[a] # after a section\n\tb = 1\n", "a|-|b|1\n");
	assert_parses_to("[a \"sub \\\"q\\\"\"]\nb = 1\n", "a|sub \"q\"|b|1\n");
}

static void test_errors(void **state)
{
	static const char *const bad[] = {
		"b = 1\n",              /* a key before any section */
		"[a\n",                 /* an open section */
		"[a \"x]\n",            /* an open subsection */
		"[a]\nb = \"open\n",    /* an open quote */
		"[a]\nb = \\q\n",       /* an unknown escape */
		"[a]\n1b = 2\n",        /* a key that is not a name */
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int rc;
		autofree char *got = parse(bad[i], &rc);

		if (rc != -1)
			fail_msg("accepted: %s", bad[i]);
	}
	/* What came before an error was seen. */
	{
		int rc;
		autofree char *got = parse("[core]\nhooksPath = h\n[broken\n", &rc);

		assert_int_equal(rc, -1);
		assert_string_equal(got, "core|-|hookspath|h\n");
	}
}

/* What the agent may have put there: no FIFO waited on, no symlink followed, no huge file. */
static void test_read_untrusted_file(void **state)
{
	char dir[] = "/tmp/au-test-gitconfig.XXXXXX";
	autostrbuf struct strbuf sb = STRBUF_INIT;
	int dfd;

	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_PATH | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_int_equal(mkfifoat(dfd, "fifo", 0600), 0);
	assert_int_equal(read_untrusted_file(dfd, "fifo", 100, &sb), -1);
	assert_int_equal(symlinkat("/etc/passwd", dfd, "link"), 0);
	assert_int_equal(read_untrusted_file(dfd, "link", 100000, &sb), -1);
	assert_int_equal(errno, ELOOP);
	{
		int fd = openat(dfd, "config", O_WRONLY | O_CREAT, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "[a]\nb=1\n", 8), 8);
		close(fd);
	}
	assert_int_equal(read_untrusted_file(dfd, "config", 7, &sb), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(read_untrusted_file(dfd, "config", 100, &sb), 0);
	assert_string_equal(sb.buf, "[a]\nb=1\n");
	unlinkat(dfd, "fifo", 0);
	unlinkat(dfd, "link", 0);
	unlinkat(dfd, "config", 0);
	close(dfd);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sections_and_keys),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_comments_and_blanks),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_read_untrusted_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
