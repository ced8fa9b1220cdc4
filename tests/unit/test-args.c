/*
 * test-args.c: the pure helpers behind au's command line. The command line
 * itself, through the real binary, is tested by tests/integration (bats).
 */
#include "agent.h"
#include "util.h"

#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

static void assert_name(const char *name, bool want)
{
	autofree char *shown = escape_display(name[0] ? name : "(empty)");

	if (valid_agent_name(name) != want)
		fail_msg("valid_agent_name('%s') should be %s", shown, want ? "true" : "false");
}

static void test_agent_name_accepted(void **state)
{
	assert_name("agent", true);
	assert_name("_x", true);
	assert_name("_", true);
	assert_name("a", true);
	assert_name("a-b_1", true);
	assert_name("claude", true);
	assert_name("agent2", true);
	assert_name("a-", true);
	/* 31 characters: the longest name useradd takes everywhere. */
	assert_name("abcdefghijklmnopqrstuvwxyz01234", true);
}

static void test_agent_name_refused(void **state)
{
	assert_name("", false);
	/* 32 characters. */
	assert_name("abcdefghijklmnopqrstuvwxyz012345", false);
	assert_name("Agent", false);
	assert_name("agEnt", false);
	assert_name("1abc", false);
	assert_name("-abc", false);
	assert_name("a.b", false);
	assert_name("a/b", false);
	assert_name("../x", false);
	assert_name("a b", false);
	assert_name(" a", false);
	assert_name("a\n", false);
	assert_name("a\t", false);
	assert_name("a$", false);
	assert_name("a:b", false);
	assert_name("a=b", false);
	assert_name("\xc3\xa9t\xc3\xa9", false);
	assert_name("caf\xc3\xa9", false);
	assert_name("a\x7f", false);
}

static void test_agent_name_every_byte(void **state)
{
	char name[3] = { 'a', 0, 0 };

	/* Second character: exactly a-z, 0-9, '_' and '-' pass. */
	for (int c = 1; c < 256; c++) {
		bool want = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';

		name[1] = (char)c;
		assert_name(name, want);
	}
	/* First character: only a-z and '_'. */
	name[1] = 'a';
	for (int c = 1; c < 256; c++) {
		bool want = (c >= 'a' && c <= 'z') || c == '_';

		name[0] = (char)c;
		assert_name(name, want);
	}
}

static void test_agent_name_lengths(void **state)
{
	char name[64];

	for (size_t len = 1; len < sizeof(name); len++) {
		memset(name, 'a', len);
		name[len] = '\0';
		assert_name(name, len <= 31);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_name_accepted),
		cmocka_unit_test(test_agent_name_refused),
		cmocka_unit_test(test_agent_name_every_byte),
		cmocka_unit_test(test_agent_name_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
