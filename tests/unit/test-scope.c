/*
 * test-scope.c: the systemd-run command au runs where systemd is init: a
 * user scope named as the entrypoint expects, the limits as its
 * properties, and the verified entrypoint by its fd with the request's words.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <regex.h>
#include <string.h>

#include "entrypoint.h"
#include "scope.h"
#include "util.h"

static char *joined(const struct strvec *v)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < v->nr; i++)
		strbuf_addf(&sb, "%s%s", i ? " " : "", v->v[i]);
	return strbuf_detach(&sb);
}

static void assert_matches(const char *text, const char *pattern)
{
	regex_t re;

	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	if (regexec(&re, text, 0, NULL, 0))
		fail_msg("'%s' does not match '%s'", text, pattern);
	regfree(&re);
}

static void test_scope_without_limits(void **state)
{
	autoeprequest struct ep_request req = EP_REQUEST_INIT;
	autostrvec struct strvec ep_argv = STRVEC_INIT;
	autostrvec struct strvec argv = STRVEC_INIT;
	autofree char *text = NULL;

	(void)state;
	strvec_push(&req.command, "true");
	ep_request_to_argv(&req, &ep_argv);
	scope_argv("agent", &req, 7, &ep_argv, &argv);
	text = joined(&argv);
	assert_string_equal(argv.v[0], SYSTEMD_RUN);
	assert_matches(text, "^/usr/bin/systemd-run --user --scope --quiet --collect "
			     "--unit=au-agent-[0-9a-f]{16} -- /proc/self/fd/7 " SU_PROTOCOL " -n none -- true$");
}

static void test_scope_with_limits(void **state)
{
	autoeprequest struct ep_request req = EP_REQUEST_INIT;
	autostrvec struct strvec ep_argv = STRVEC_INIT;
	autostrvec struct strvec argv = STRVEC_INIT;
	autofree char *text = NULL;

	(void)state;
	req.memory_max = 16ULL << 30;
	req.cpu_percent = 150;
	req.tasks_max = 512;
	strvec_push(&req.command, "claude");
	ep_request_to_argv(&req, &ep_argv);
	scope_argv("my-agent", &req, 4, &ep_argv, &argv);
	text = joined(&argv);
	/* The entrypoint reads the same limits back from the scope's cgroup. */
	assert_matches(text, " --unit=au-my-agent-[0-9a-f]{16} --property=MemoryMax=17179869184 "
			     "--property=MemorySwapMax=0 --property=CPUQuota=150% --property=TasksMax=512 -- "
			     "/proc/self/fd/4 " SU_PROTOCOL " -m 17179869184 -q 150 -t 512 -n none -- claude$");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scope_without_limits),
		cmocka_unit_test(test_scope_with_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
