/*
 * test-limit.c: resource limits as the human writes them (au limit, au run
 * --limit), and the usage line au run --stats prints from the entrypoint's
 * report. Which numbers the entrypoint takes is test-entrypoint-protocol's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "entrypoint.h"
#include "limit.h"
#include "util.h"

static void assert_limit(const char *entry, enum limit_key key, unsigned long long value)
{
	autostrbuf struct strbuf why = STRBUF_INIT;
	unsigned long long got;
	enum limit_key got_key;

	if (limit_parse(entry, &got_key, &got, &why) < 0)
		fail_msg("refused '%s': %s", entry, why.buf);
	assert_int_equal(got_key, key);
	if (got != value)
		fail_msg("'%s' gave %llu, not %llu", entry, got, value);
}

static void assert_refused(const char *entry, const char *why_part)
{
	autostrbuf struct strbuf why = STRBUF_INIT;
	unsigned long long got;
	enum limit_key key;

	if (limit_parse(entry, &key, &got, &why) == 0)
		fail_msg("accepted '%s'", entry);
	if (!strstr(why.buf, why_part))
		fail_msg("refused '%s' with '%s', expected '%s' in it", entry, why.buf, why_part);
}

static void test_values_as_people_write_them(void **state)
{
	(void)state;
	assert_limit("memory=16G", LIMIT_MEMORY, 16ULL << 30);
	assert_limit("memory=512m", LIMIT_MEMORY, 512ULL << 20);
	assert_limit("memory=2T", LIMIT_MEMORY, 2ULL << 40);
	assert_limit("memory=2000000", LIMIT_MEMORY, 2000000);
	assert_limit("cpu=150%", LIMIT_CPU, 150);
	assert_limit("cpu=5%", LIMIT_CPU, 5);
	assert_limit("tasks=512", LIMIT_TASKS, 512);
	/* max: no limit, for one run over a stored one. */
	assert_limit("memory=max", LIMIT_MEMORY, 0);
	assert_limit("cpu=max", LIMIT_CPU, 0);
	assert_limit("tasks=max", LIMIT_TASKS, 0);
}

static void test_bad_values_say_what_is_wanted(void **state)
{
	(void)state;
	assert_refused("memory=16GB", "such as 512M or 16G");
	assert_refused("memory=1.5G", "such as 512M or 16G");
	assert_refused("memory=100K", "from 1M to 1024T");
	assert_refused("cpu=1.5", "percentage of one CPU");
	assert_refused("cpu=150", "such as 50% or 150%");
	assert_refused("tasks=1", "from 2 to 4194304");
	assert_refused("tasks=ten", "not a number");
	assert_refused("memory", "is not KEY=VALUE");
	assert_refused("swap=0", "KEY memory, cpu or tasks");
	assert_refused("MEMORY=1G", "KEY memory, cpu or tasks");
	/* What the human typed comes back escaped. */
	assert_refused("memory=\x1b[31m", "memory '\\x1b[31m'");
	assert_refused("\x1b]0;x\x07=1", "'\\x1b]0;x\\x07=1'");
}

static void test_set_replaces_the_key(void **state)
{
	autostrbuf struct strbuf why = STRBUF_INIT;
	struct limits l = { { 0 } };

	(void)state;
	assert_int_equal(limits_set(&l, "memory=1G", &why), 0);
	assert_int_equal(limits_set(&l, "tasks=64", &why), 0);
	assert_int_equal(limits_set(&l, "memory=2G", &why), 0);
	assert_true(l.value[LIMIT_MEMORY] == 2ULL << 30);
	assert_true(l.value[LIMIT_TASKS] == 64);
	assert_true(l.value[LIMIT_CPU] == 0);
	assert_int_equal(limits_set(&l, "memory=max", &why), 0);
	assert_true(l.value[LIMIT_MEMORY] == 0);
	assert_int_equal(limits_set(&l, "tasks=0", &why), -1);
	assert_true(l.value[LIMIT_TASKS] == 64);
}

static void assert_usage(const struct su_usage *u, const char *expected)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;

	usage_line(&sb, u);
	assert_string_equal(sb.buf, expected);
}

static void test_usage_line(void **state)
{
	struct su_usage u = {
		.measured = SU_USAGE_WALL | SU_USAGE_CPU | SU_USAGE_CPU_SPLIT | SU_USAGE_MEMORY | SU_USAGE_TASKS |
			    SU_USAGE_OOM,
		.wall_usec = 2012345,
		.cpu_usec = 400000,
		.user_usec = 350000,
		.system_usec = 50000,
		.memory_peak = 109261619, /* 104.2 MiB */
		.tasks_peak = 3,
	};

	(void)state;
	assert_usage(&u, "usage: wall 2.01 s, CPU 0.40 s (user 0.35 s, system 0.05 s), peak memory 104.1 MiB, "
			 "peak tasks 3");
	u.oom_kills = 1;
	assert_usage(&u, "usage: wall 2.01 s, CPU 0.40 s (user 0.35 s, system 0.05 s), peak memory 104.1 MiB, "
			 "peak tasks 3, 1 OOM kill");
	u.oom_kills = 2;
	u.memory_peak = 3ULL << 30;
	u.measured &= ~(unsigned long long)(SU_USAGE_CPU_SPLIT | SU_USAGE_TASKS);
	assert_usage(&u, "usage: wall 2.01 s, CPU 0.40 s, peak memory 3.0 GiB, 2 OOM kills");
	/* Without a cgroup: rusage, whose memory is the largest process's. */
	u.measured = SU_USAGE_WALL | SU_USAGE_MEMORY | SU_USAGE_MEMORY_LARGEST;
	u.memory_peak = 900;
	assert_usage(&u, "usage: wall 2.01 s, peak memory 900 B (largest process)");
	u.measured = 0;
	assert_usage(&u, "usage: ");
}

static void test_describe(void **state)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;
	struct limits l = { { 0 } };

	(void)state;
	limits_describe(&sb, &l);
	assert_string_equal(sb.buf, "none");
	strbuf_reset(&sb);
	l.value[LIMIT_MEMORY] = 16ULL << 30;
	l.value[LIMIT_CPU] = 150;
	l.value[LIMIT_TASKS] = 512;
	limits_describe(&sb, &l);
	assert_string_equal(sb.buf, "memory 16.0 GiB, cpu 150%, tasks 512");
}

static void test_placement(void **state)
{
	static const struct {
		unsigned long long placement;
		const char *text;
	} cases[] = {
		{ SU_PLACED_V2, "a cgroup of its own (cgroup v2)" },
		{ SU_PLACED_V1, "a cgroup of its own (cgroup v1)" },
		{ SU_PLACED_V1 | SU_PLACED_V2, "a cgroup of its own (cgroup v1 and v2)" },
		{ SU_PLACED_SYSTEMD, "a systemd scope of its own" },
		{ 0, "no cgroup of its own (none can be made here)" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		autostrbuf struct strbuf sb = STRBUF_INIT;
		struct su_usage u = { .placement = cases[i].placement };

		usage_placement(&sb, &u);
		assert_string_equal(sb.buf, cases[i].text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values_as_people_write_them),
		cmocka_unit_test(test_bad_values_say_what_is_wanted),
		cmocka_unit_test(test_set_replaces_the_key),
		cmocka_unit_test(test_usage_line),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_placement),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
