/*
 * test-net.c: au's side of the agent's network (src/net.c): modes, the
 * policy message (read back by au-netproxy's own parser, netproxy/policy.c,
 * compiled into this test), capture ports, the limits "au net allow" checks,
 * and the proxy variables.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "config.h"
#include "entrypoint.h"
#include "net.h"
#include "netproto.h"
#include "policy.h"
#include "util.h"

static void test_modes(void **state)
{
	static const char *const names[] = { "none", "allow", "all", "host" };
	enum au_net_mode mode;
	struct agent a = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		assert_int_equal(au_net_mode_parse(names[i], &mode), 0);
		assert_string_equal(au_net_mode_name(mode), names[i]);
	}
	for (const char *const *bad = (const char *const[]){ "", "ALL", "full", "proxy", "all ", NULL }; *bad; bad++)
		assert_int_equal(au_net_mode_parse(*bad, &mode), -1);
	/* An agent without the key is in mode all: the default. */
	assert_int_equal(agent_net_mode(&a), AU_NET_ALL);
	a.net_mode = (char *)"none";
	assert_int_equal(agent_net_mode(&a), AU_NET_NONE);
	assert_true(au_net_mode_has_proxy(AU_NET_ALL));
	assert_true(au_net_mode_has_proxy(AU_NET_ALLOW));
	assert_false(au_net_mode_has_proxy(AU_NET_NONE));
	assert_false(au_net_mode_has_proxy(AU_NET_HOST));
}

static void test_patterns_are_made_canonical(void **state)
{
	char out[NET_PATTERN_TEXT_MAX];
	const char *why;

	assert_int_equal(au_net_pattern_canonical("Registry.NPMJS.org.", out, &why), 0);
	assert_string_equal(out, "registry.npmjs.org");
	assert_int_equal(au_net_pattern_canonical("*.Example.com:443", out, &why), 0);
	assert_string_equal(out, "*.example.com:443");
	assert_int_equal(au_net_pattern_canonical("localhost:5432", out, &why), 0);
	assert_int_equal(au_net_pattern_canonical("[2001:DB8::7]:22", out, &why), 0);
	assert_string_equal(out, "[2001:db8::7]:22");
	for (const char *const *bad = (const char *const[]){ "", "*", "localhost", "a b", "x.com:0", "x.com:65536",
							      "x.com:", "*.com", "a.*.com", "2001:db8::7", NULL };
	     *bad; bad++)
		if (au_net_pattern_canonical(*bad, out, &why) == 0)
			fail_msg("accepted '%s'", *bad);
}

/* What au sends, au-netproxy reads back the same. */
static void test_policy_is_what_the_proxy_reads(void **state)
{
	char *patterns[] = { (char *)"registry.npmjs.org", (char *)"*.Example.com:443", (char *)"localhost:5432",
			     (char *)"[2001:db8::7]", NULL };
	autostrbuf struct strbuf msg = STRBUF_INIT;
	autostrbuf struct strbuf why = STRBUF_INIT;
	autostrbuf struct strbuf again = STRBUF_INIT;
	struct policy policy = POLICY_INIT;
	char *err = NULL;

	assert_int_equal(au_net_policy(AU_NET_ALLOW, "agent", "0123abcd", patterns, 4, &msg, &why), 0);
	assert_int_equal(policy_parse(msg.buf, msg.len, &policy, &err), 0);
	assert_int_equal(policy.mode, NET_MODE_ALLOW);
	assert_string_equal(policy.agent, "agent");
	assert_string_equal(policy.run, "0123abcd");
	assert_int_equal(policy.nr_patterns, 4);
	/* The canonical text both sides write is the same text. */
	policy_format(&policy, &again);
	assert_string_equal(again.buf, msg.buf);
	policy_release(&policy);

	strbuf_reset(&msg);
	assert_int_equal(au_net_policy(AU_NET_ALL, "claude-2", "r", NULL, 0, &msg, &why), 0);
	assert_int_equal(policy_parse(msg.buf, msg.len, &policy, &err), 0);
	assert_int_equal(policy.mode, NET_MODE_ALL);
	assert_int_equal(policy.nr_patterns, 0);
	policy_release(&policy);

	/* No proxy in none and host; names the proxy cannot carry are said before a run. */
	strbuf_reset(&msg);
	assert_int_equal(au_net_policy(AU_NET_NONE, "agent", "r", NULL, 0, &msg, &why), -1);
	strbuf_reset(&why);
	assert_int_equal(au_net_policy(AU_NET_ALL, "-agent", "r", NULL, 0, &msg, &why), -1);
	assert_non_null(strstr(why.buf, "'-agent' cannot go in the network log"));
	strbuf_reset(&why);
	assert_int_equal(au_net_policy(AU_NET_ALL, "a\nmode all", "r", NULL, 0, &msg, &why), -1);
	assert_non_null(strstr(why.buf, "'a\\x0amode all'"));
}

static void test_capture_ports(void **state)
{
	assert_int_equal(au_net_capture_port("example.com"), 0);
	assert_int_equal(au_net_capture_port("example.com:8080"), 8080);
	assert_int_equal(au_net_capture_port("*.example.com:2222"), 2222);
	assert_int_equal(au_net_capture_port("localhost:5432"), 5432);
	assert_int_equal(au_net_capture_port("[2001:db8::7]:22"), 22);
	/* The roles of these ports are taken inside the agent's namespace. */
	assert_int_equal(au_net_capture_port("localhost:3128"), 0);
	assert_int_equal(au_net_capture_port("localhost:1080"), 0);
	assert_int_equal(au_net_capture_port("dns.example:53"), 0);
	assert_int_equal(au_net_capture_port("not a pattern:80"), 0);
}

/* au net allow refuses what au run could not do, before it stores anything. */
static void test_list_limits(void **state)
{
	autostrvec struct strvec v = STRVEC_INIT;
	autostrbuf struct strbuf why = STRBUF_INIT;

	/* One capture port per distinct port: 22, 80 and 443 are always there, the others count. */
	for (int i = 0; i < SU_NET_MAX_CAPTURE; i++)
		strvec_pushf(&v, "host%d.example:%d", i, 10000 + i);
	strvec_push(&v, "again.example:10000");
	strvec_push(&v, "ssh.example:22");
	strvec_push(&v, "proxy.example:3128");
	assert_int_equal(au_net_check_list("agent", v.v, v.nr, &why), 0);
	strvec_push(&v, "one-more.example:9999");
	assert_int_equal(au_net_check_list("agent", v.v, v.nr, &why), -1);
	assert_non_null(strstr(why.buf, "too many ports"));

	/* Names without ports cost no listener; the policy message is what fills up. */
	strvec_clear(&v);
	strbuf_reset(&why);
	for (int i = 0; i < 1000; i++)
		strvec_pushf(&v, "a-rather-long-name-for-a-host-number-%04d.subdomain.of.some.example.org", i);
	assert_int_equal(au_net_check_list("agent", v.v, v.nr, &why), -1);
	assert_non_null(strstr(why.buf, "too long for the proxy"));
}

static const char *env_value(const char *key)
{
	size_t len = strlen(key);

	for (const char *const *e = au_net_proxy_env; *e; e++) {
		if (!strncmp(*e, key, len) && (*e)[len] == '=')
			return *e + len + 1;
	}
	return NULL;
}

static void test_proxy_variables(void **state)
{
	autofree char *http = xasprintf("http://%s:%d", SU_NET_LOOPBACK, SU_NET_PORT_HTTP);
	autofree char *socks = xasprintf("socks5h://%s:%d", SU_NET_LOOPBACK, SU_NET_PORT_SOCKS);

	for (const char *const *key = (const char *const[]){ "HTTP_PROXY", "http_proxy", "HTTPS_PROXY",
							      "https_proxy", NULL };
	     *key; key++) {
		assert_non_null(env_value(*key));
		assert_string_equal(env_value(*key), http);
		assert_true(au_net_is_proxy_var(*key));
	}
	assert_string_equal(env_value("ALL_PROXY"), socks);
	assert_string_equal(env_value("all_proxy"), socks);
	/* The agent's own loopback stays direct: its test servers listen there. */
	assert_string_equal(env_value("NO_PROXY"), "localhost,127.0.0.1,::1");
	assert_string_equal(env_value("no_proxy"), "localhost,127.0.0.1,::1");
	assert_false(au_net_is_proxy_var("PROXY"));
	assert_false(au_net_is_proxy_var("HTTP"));
	assert_false(au_net_is_proxy_var("FTP_PROXY"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_patterns_are_made_canonical),
		cmocka_unit_test(test_policy_is_what_the_proxy_reads),
		cmocka_unit_test(test_capture_ports),
		cmocka_unit_test(test_list_limits),
		cmocka_unit_test(test_proxy_variables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
