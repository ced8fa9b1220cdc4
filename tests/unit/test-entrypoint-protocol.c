/*
 * test-entrypoint-protocol.c: the two sides of the entrypoint's protocol
 * agree. A request built the way au run builds it goes through
 * ep_request_to_argv() (src/entrypoint.c, the only writer of the format) and
 * back through su_parse_args() of entrypoint/su_as_agent.c itself (compiled
 * here without its main, with the ids au new would bake in), and what comes
 * out must be what went in. Any change to one side that the other does not
 * follow fails here, not in a user's run.
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

#define SU_AS_AGENT_NO_MAIN
#define TARGET_UID 64000
#define TARGET_GID 64000
#define CALLER_UID 64001
#define AGENT_NAME "agent"
#define AGENT_HOME "/home/agent"
#define AGENT_SHELL "/bin/bash"
#define CALLER_HOME "/home/alice"
#include "../../entrypoint/su_as_agent.c"

/* Where the entrypoint's fixed-size tables must hold what its limits allow. */
_Static_assert(ARRAY_SIZE(((struct su_request *)0)->mounts) == SU_MAX_MOUNTS, "mount table size");
_Static_assert(ARRAY_SIZE(((struct su_request *)0)->env_names) == SU_MAX_ENV, "variable table size");
/* au's own failures in a child before exec report as the entrypoint's do. */
_Static_assert(SU_EXIT_SELF == 125 && SU_EXIT_CANNOT_RUN == 126 && SU_EXIT_NOT_FOUND == 127,
	       "the exit statuses documented in au(1)");

static struct su_request parsed;

/* The n-th -p or -g path the entrypoint will walk. */
static const char *protected_at(int n, bool *pin)
{
	const char *path = NULL;

	for (int i = 0; su_next_protected(&parsed, &i, &path, pin); n--) {
		if (n == 0)
			return path;
	}
	return NULL;
}

/* argv from req, parsed by the entrypoint; returns su_parse_args()'s result. */
static int round_trip(const struct ep_request *req, struct strvec *argv, const char **why)
{
	ep_request_to_argv(req, argv);
	return su_parse_args((int)argv->nr, argv->v, &parsed, why);
}

static void test_command_only(void **state)
{
	autoeprequest struct ep_request req = EP_REQUEST_INIT;
	autostrvec struct strvec argv = STRVEC_INIT;
	const char *why;

	(void)state;
	strvec_push(&req.command, "true");
	assert_int_equal(round_trip(&req, &argv, &why), 0);
	assert_string_equal(argv.v[1], SU_PROTOCOL);
	assert_int_equal(parsed.nr_env, 0);
	assert_int_equal(parsed.nr_mounts, 0);
	assert_int_equal(parsed.nr_protected, 0);
	assert_null(parsed.directory);
	assert_false(parsed.keep_running);
	assert_false(parsed.report);
	assert_false(parsed.watch);
	assert_false(parsed.job_control);
	assert_true(parsed.memory_max == 0 && parsed.cpu_percent == 0 && parsed.tasks_max == 0);
	/* A request that says nothing of the network gets the closed namespace, said out loud. */
	assert_int_equal(parsed.net, SU_NET_MODE_NONE);
	assert_int_equal(parsed.nr_capture, 0);
	assert_string_equal(parsed.command[0], "true");
	assert_null(parsed.command[1]);
}

/* Every field at once, given in an order the writer must fix. */
static void test_everything(void **state)
{
	static const char *const command[] = { "bash", "--", "-e", "-d", "x y", "--", NULL };
	autoeprequest struct ep_request req = EP_REQUEST_INIT;
	autostrvec struct strvec argv = STRVEC_INIT;
	const char *why;
	bool pin;
	size_t i;

	(void)state;
	ep_request_add_env(&req, "ANTHROPIC_API_KEY");
	ep_request_add_env(&req, "PATH");
	ep_request_add_mount(&req, "/home/alice/p/sub", 2049, 131, "/home/agent/p/sub", false);
	ep_request_add_mount(&req, "/home/alice/p", 0, 18446744073709551615ULL, "/home/agent/p", true);
	ep_request_add_mount(&req, "/home/alice/doc.txt", 18446744073709551615ULL, 0, "/home/agent/doc.txt",
			     true);
	ep_request_add_protected(&req, "/home/agent/p/.envrc", EP_READ_ONLY);
	ep_request_add_protected(&req, "/home/agent/p/.git/modules/m", EP_PIN);
	ep_request_add_protected(&req, "/home/agent/p/.git/hooks", EP_READ_ONLY);
	ep_request_add_protected(&req, "/home/agent/p/.git", EP_PIN);
	req.directory = xstrdup("/home/agent/p/sub");
	req.keep_running = true;
	req.report = true;
	req.watch = true;
	req.job_control = true;
	req.memory_max = 16ULL << 30;
	req.cpu_percent = 150;
	req.tasks_max = 512;
	req.net = SU_NET_MODE_PROXY;
	/* Fixed capture ports, ports whose role is taken and repeats are left out by the writer. */
	ep_request_add_capture_port(&req, 8080);
	ep_request_add_capture_port(&req, 443);
	ep_request_add_capture_port(&req, 3128);
	ep_request_add_capture_port(&req, 53);
	ep_request_add_capture_port(&req, 5432);
	ep_request_add_capture_port(&req, 8080);
	strvec_pushv(&req.command, command);

	assert_int_equal(round_trip(&req, &argv, &why), 0);

	assert_int_equal(parsed.nr_env, 2);
	assert_string_equal(parsed.env_names[0], "ANTHROPIC_API_KEY");
	assert_string_equal(parsed.env_names[1], "PATH");

	/* Parents are mounted first. */
	assert_int_equal(parsed.nr_mounts, 3);
	assert_string_equal(parsed.mounts[0].target, "/home/agent/doc.txt");
	assert_true(parsed.mounts[0].dev == 18446744073709551615ULL && parsed.mounts[0].ino == 0);
	assert_string_equal(parsed.mounts[1].target, "/home/agent/p");
	assert_true(parsed.mounts[1].read_only);
	assert_string_equal(parsed.mounts[1].source, "/home/alice/p");
	/* Each source keeps its own id through the sort. */
	assert_true(parsed.mounts[1].dev == 0 && parsed.mounts[1].ino == 18446744073709551615ULL);
	assert_string_equal(parsed.mounts[2].target, "/home/agent/p/sub");
	assert_string_equal(parsed.mounts[2].source, "/home/alice/p/sub");
	assert_true(parsed.mounts[2].dev == 2049 && parsed.mounts[2].ino == 131);
	assert_false(parsed.mounts[2].read_only);

	/* Pins before read-only protections, parents first within each. */
	assert_int_equal(parsed.nr_protected, 4);
	assert_string_equal(protected_at(0, &pin), "/home/agent/p/.git");
	assert_true(pin);
	assert_string_equal(protected_at(1, &pin), "/home/agent/p/.git/modules/m");
	assert_true(pin);
	assert_string_equal(protected_at(2, &pin), "/home/agent/p/.envrc");
	assert_false(pin);
	assert_string_equal(protected_at(3, &pin), "/home/agent/p/.git/hooks");
	assert_false(pin);
	assert_null(protected_at(4, &pin));

	assert_string_equal(parsed.directory, "/home/agent/p/sub");
	assert_true(parsed.keep_running);
	assert_true(parsed.report);
	assert_true(parsed.watch);
	assert_true(parsed.job_control);
	assert_true(parsed.memory_max == 16ULL << 30);
	assert_true(parsed.cpu_percent == 150);
	assert_true(parsed.tasks_max == 512);
	assert_int_equal(parsed.net, SU_NET_MODE_PROXY);
	assert_int_equal(parsed.nr_capture, 2);
	assert_int_equal(parsed.capture_ports[0], 8080);
	assert_int_equal(parsed.capture_ports[1], 5432);
	/* Words after the end of options are the command's, whatever they look like. */
	for (i = 0; command[i]; i++)
		assert_string_equal(parsed.command[i], command[i]);
	assert_null(parsed.command[i]);
}

/* Each network mode au can ask for is the one the entrypoint gets. */
static void test_network_modes(void **state)
{
	static const enum su_net_mode modes[] = { SU_NET_MODE_HOST, SU_NET_MODE_NONE, SU_NET_MODE_PROXY };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		autoeprequest struct ep_request req = EP_REQUEST_INIT;
		autostrvec struct strvec argv = STRVEC_INIT;
		const char *why;

		req.net = modes[i];
		strvec_push(&req.command, "true");
		assert_int_equal(round_trip(&req, &argv, &why), 0);
		assert_int_equal(parsed.net, modes[i]);
	}
}

/*
 * At each limit the writer's check and the entrypoint agree: the largest
 * request passes both, one more is refused by both.
 */
static void test_limits_agree(void **state)
{
	static const struct {
		const char *what;
		int limit;
	} limits[] = {
		{ "mounts", SU_MAX_MOUNTS },
		{ "variables", SU_MAX_ENV },
		{ "capture ports", SU_NET_MAX_CAPTURE },
	};

	(void)state;
	for (size_t l = 0; l < ARRAY_SIZE(limits); l++) {
		for (int extra = 0; extra <= 1; extra++) {
			autoeprequest struct ep_request req = EP_REQUEST_INIT;
			autostrvec struct strvec argv = STRVEC_INIT;
			autostrbuf struct strbuf why_au = STRBUF_INIT;
			const char *why;
			int n = limits[l].limit + extra;

			for (int i = 0; i < n; i++) {
				autofree char *source = xasprintf("/home/alice/m%d", i);
				autofree char *target = xasprintf("/home/agent/m%d", i);
				autofree char *name = xasprintf("V%d", i);

				if (l == 0)
					ep_request_add_mount(&req, source, (unsigned)i, (unsigned)i + 1, target, true);
				else if (l == 1)
					ep_request_add_env(&req, name);
				else
					ep_request_add_capture_port(&req, (unsigned short)(10000 + i));
			}
			req.net = SU_NET_MODE_PROXY;
			strvec_push(&req.command, "true");
			if (extra) {
				assert_int_equal(ep_request_check(&req, &why_au), -1);
				assert_int_equal(round_trip(&req, &argv, &why), -1);
			} else {
				if (ep_request_check(&req, &why_au) < 0)
					fail_msg("%d %s refused by au: %s", n, limits[l].what, why_au.buf);
				if (round_trip(&req, &argv, &why) < 0)
					fail_msg("%d %s refused by the entrypoint: %s", n, limits[l].what, why);
			}
		}
	}
}

/* Protected paths have no limit any more: thousands go through, in the order the writer fixes. */
static void test_protected_paths_without_limit(void **state)
{
	autoeprequest struct ep_request req = EP_REQUEST_INIT;
	autostrvec struct strvec argv = STRVEC_INIT;
	autostrbuf struct strbuf why_au = STRBUF_INIT;
	const char *why, *path;
	bool pin;
	int n = 0;

	(void)state;
	for (int i = 0; i < 5000; i++) {
		autofree char *target = xasprintf("/home/agent/p/r%04d/.git", i);

		ep_request_add_protected(&req, target, i % 2 ? EP_PIN : EP_READ_ONLY);
	}
	strvec_push(&req.command, "true");
	assert_int_equal(ep_request_check(&req, &why_au), 0);
	assert_int_equal(round_trip(&req, &argv, &why), 0);
	assert_int_equal(parsed.nr_protected, 5000);
	for (int i = 0; su_next_protected(&parsed, &i, &path, &pin); n++)
		assert_int_equal(pin, n < 2500); /* pins first */
	assert_int_equal(n, 5000);
}

/*
 * Every limit au's own parser (limit.c) accepts, the entrypoint accepts as
 * the same number: the bounds, and the units.
 */
static void test_resource_limits_agree(void **state)
{
	static const struct {
		const char *entry;
		unsigned long long value;
	} cases[] = {
		{ "memory=1M", 1ULL << 20 },
		{ "memory=1048576", 1ULL << 20 },
		{ "memory=16G", 16ULL << 30 },
		{ "memory=16g", 16ULL << 30 },
		{ "memory=1024T", SU_MEMORY_MAX },
		{ "memory=1500K", 1500ULL << 10 },
		{ "cpu=1%", 1 },
		{ "cpu=150%", 150 },
		{ "cpu=100000%", SU_CPU_PERCENT_MAX },
		{ "tasks=2", SU_TASKS_MIN },
		{ "tasks=512", 512 },
		{ "tasks=4194304", SU_TASKS_MAX },
	};
	static const char *const refused[] = {
		"memory=1023K", "memory=1025T", "memory=0", "memory=16GB", "memory=16 G", "memory=-1G",
		"memory=", "memory=G", "cpu=0%", "cpu=150", "cpu=100001%", "cpu=1.5%", "tasks=1",
		"tasks=4194305", "tasks=5k", "tasks=", "cpus=1%", "memory", "=16G", "Memory=16G",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		autoeprequest struct ep_request req = EP_REQUEST_INIT;
		autostrvec struct strvec argv = STRVEC_INIT;
		autostrbuf struct strbuf why_au = STRBUF_INIT;
		struct limits limits = { { 0 } };
		const char *why;

		if (limits_set(&limits, cases[i].entry, &why_au) < 0)
			fail_msg("au refused '%s': %s", cases[i].entry, why_au.buf);
		req.memory_max = limits.value[LIMIT_MEMORY];
		req.cpu_percent = limits.value[LIMIT_CPU];
		req.tasks_max = limits.value[LIMIT_TASKS];
		strvec_push(&req.command, "true");
		if (round_trip(&req, &argv, &why) < 0)
			fail_msg("the entrypoint refused '%s': %s", cases[i].entry, why);
		assert_true(parsed.memory_max + parsed.cpu_percent + parsed.tasks_max == cases[i].value);
	}
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		autostrbuf struct strbuf why_au = STRBUF_INIT;
		struct limits limits = { { 0 } };

		if (limits_set(&limits, refused[i], &why_au) == 0)
			fail_msg("au accepted '%s'", refused[i]);
		assert_true(why_au.len > 0);
	}
}

/* What the entrypoint refuses, the writer can still express; the refusal is the entrypoint's. */
static void test_entrypoint_refuses_what_au_must_not_send(void **state)
{
	autoeprequest struct ep_request req = EP_REQUEST_INIT;
	autostrvec struct strvec argv = STRVEC_INIT;
	const char *why;

	(void)state;
	ep_request_add_mount(&req, "/etc", 1, 2, "/home/agent/etc", true);
	strvec_push(&req.command, "true");
	assert_int_equal(round_trip(&req, &argv, &why), -1);
	assert_non_null(strstr(why, "source"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_only),
		cmocka_unit_test(test_everything),
		cmocka_unit_test(test_network_modes),
		cmocka_unit_test(test_limits_agree),
		cmocka_unit_test(test_protected_paths_without_limit),
		cmocka_unit_test(test_resource_limits_agree),
		cmocka_unit_test(test_entrypoint_refuses_what_au_must_not_send),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
