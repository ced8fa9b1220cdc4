/*
 * test-netproxy-policy.c: the policy message au sends (strict: any error
 * rejects all of it), the two checks every entry path goes through
 * (destination, then each resolved address), the fake address table, and
 * the log record's JSON. Ends with a seeded mutation run of the policy fuzz
 * harness.
 */
#include <arpa/inet.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "netproxy-mutate.h"

#include "../../fuzz/fuzz-netproxy-policy.c"

#include "log.h"

#define HEAD "au-netproxy 1\nmode allow\nagent claude\nrun 20261201-1\n"

static struct policy parsed(const char *text)
{
	struct policy p;
	char *err = NULL;

	if (policy_parse(text, strlen(text), &p, &err) < 0)
		fail_msg("policy refused: %s", err);
	return p;
}

static void assert_policy_refused(const char *text, size_t len, const char *err_part)
{
	struct policy p;
	char *err = NULL;

	if (policy_parse(text, len, &p, &err) == 0)
		fail_msg("policy accepted:\n%s", text);
	if (!strstr(err, err_part))
		fail_msg("refused with '%s', not '%s'", err, err_part);
	assert_null(p.patterns);
	free(err);
}
#define REFUSED(text, part) assert_policy_refused((text), sizeof(text) - 1, (part))

static void test_message_parses(void **state)
{
	struct policy p = parsed(HEAD "allow example.com\nallow *.npmjs.org:443\nallow localhost:5432\nend\n");

	assert_int_equal(p.mode, NET_MODE_ALLOW);
	assert_string_equal(p.agent, "claude");
	assert_string_equal(p.run, "20261201-1");
	assert_int_equal(p.nr_patterns, 3);
	assert_int_equal(p.patterns[1].kind, NET_PATTERN_SUBDOMAINS);
	assert_int_equal(p.patterns[2].port, 5432);
	policy_release(&p);

	p = parsed("au-netproxy 1\nmode all\nagent a\nrun r:1.2_3\nend\n");
	assert_int_equal(p.mode, NET_MODE_ALL);
	assert_int_equal(p.nr_patterns, 0);
	policy_release(&p);
}

static void test_message_refusals(void **state)
{
	REFUSED("", "before 'end'");
	REFUSED("au-netproxy 2\n", "line 1: expected 'au-netproxy 1'");
	REFUSED("au-netproxy 1\r\nmode all\n", "line 1");
	REFUSED("au-netproxy 1\nmode none\nagent a\nrun r\nend\n", "line 2");
	REFUSED("au-netproxy 1\nmode  all\nagent a\nrun r\nend\n", "line 2");
	REFUSED("au-netproxy 1\nagent a\nmode all\nrun r\nend\n", "line 2");
	REFUSED("au-netproxy 1\nmode all\nagent \nrun r\nend\n", "line 3");
	REFUSED("au-netproxy 1\nmode all\nagent a b\nrun r\nend\n", "line 3");
	REFUSED("au-netproxy 1\nmode all\nagent -a\nrun r\nend\n", "line 3");
	REFUSED("au-netproxy 1\nmode all\nagent a\nrun r\"x\nend\n", "line 4");
	REFUSED("au-netproxy 1\nmode all\nagent a\nrun r\nallow *\nend\n", "line 5: '*' alone");
	REFUSED("au-netproxy 1\nmode all\nagent a\nrun r\nallow *.com\nend\n", "line 5");
	REFUSED("au-netproxy 1\nmode all\nagent a\nrun r\nallow  a.com\nend\n", "line 5");
	REFUSED("au-netproxy 1\nmode all\nagent a\nrun r\ndeny a.com\nend\n", "line 5: expected 'allow PATTERN' or 'end'");
	REFUSED("au-netproxy 1\nmode all\nagent a\nrun r\nend\nallow a.com\n", "line 6: nothing may follow 'end'");
	REFUSED("au-netproxy 1\nmode all\nagent a\nrun r\nend\n\n", "line 6");
	REFUSED("au-netproxy 1\nmode all\nagent a\nrun r\nend", "line 5: no newline");
	REFUSED("au-netproxy 1\nmode all\nagent a\nrun r\n", "line 5: the message ends before 'end'");
	REFUSED("au-netproxy 1\nmode all\nagent a\0b\nrun r\nend\n", "line 3");
	REFUSED("au-netproxy 1\nmode all\nagent a\nrun r\nallow a.com\0\nend\n", "line 5: NUL");
	{
		char agent[NETPROTO_AGENT_MAX + 2];
		char msg[256];

		memset(agent, 'a', sizeof(agent) - 1);
		agent[sizeof(agent) - 1] = '\0';
		snprintf(msg, sizeof(msg), "au-netproxy 1\nmode all\nagent %s\nrun r\nend\n", agent);
		assert_policy_refused(msg, strlen(msg), "line 3");
	}
	{
		autostrbuf struct strbuf big = STRBUF_INIT;

		strbuf_addstr(&big, "au-netproxy 1\nmode all\nagent a\nrun r\n");
		while (big.len <= NETPROTO_POLICY_MAX)
			strbuf_addstr(&big, "allow example.com\n");
		strbuf_addstr(&big, "end\n");
		assert_policy_refused(big.buf, big.len, "longer than");
	}
}

/* --- destinations and the two checks -------------------------------------- */

static struct dest dest_of(const char *host, uint16_t port, struct fakeip *fake)
{
	struct dest d;
	const char *why = NULL;

	if (dest_from_host(host, strlen(host), port, fake, &d, &why) < 0)
		fail_msg("'%s' is no destination: %s", host, why);
	return d;
}

static struct in6_addr ip(const char *text)
{
	struct in6_addr a;

	assert_true(addr_parse(text, strlen(text), &a));
	return a;
}

/* The verdict for host:port resolving to address: NULL (allowed) or the reason. */
static const char *verdict(const struct policy *p, const char *host, uint16_t port, const char *address,
			   bool host_address)
{
	struct dest d = dest_of(host, port, NULL);
	struct in6_addr a;
	const char *reason = policy_check_dest(p, &d);

	if (reason)
		return reason;
	a = address ? ip(address) : d.addr;
	return policy_check_address(p, &d, &a, host_address);
}

#define ALLOWED(p, host, port, addr) assert_null(verdict((p), (host), (port), (addr), false))
#define DENIED(p, host, port, addr, why) assert_string_equal(verdict((p), (host), (port), (addr), false), (why))

static void test_allow_mode(void **state)
{
	struct policy p = parsed(HEAD "allow example.com\nallow *.corp.example:443\nallow 192.0.2.9:8080\n"
				      "allow localhost:5432\nend\n");

	ALLOWED(&p, "example.com", 443, "93.184.215.14");
	ALLOWED(&p, "EXAMPLE.com.", 22, "93.184.215.14");
	DENIED(&p, "www.example.com", 443, "93.184.215.14", "not in allow list");
	DENIED(&p, "example.org", 443, "93.184.215.14", "not in allow list");
	ALLOWED(&p, "git.corp.example", 443, "203.0.113.5");
	DENIED(&p, "git.corp.example", 80, "203.0.113.5", "not in allow list");
	DENIED(&p, "corp.example", 443, "203.0.113.5", "not in allow list");
	/* A listed name may reach the LAN: the human named it. */
	ALLOWED(&p, "git.corp.example", 443, "10.1.2.3");
	/* Never the loopback, link-local or metadata, whatever the name says. */
	DENIED(&p, "example.com", 443, "127.0.0.1", "loopback address");
	DENIED(&p, "example.com", 443, "::ffff:127.0.0.1", "loopback address");
	DENIED(&p, "example.com", 443, "169.254.169.254", "cloud metadata address");
	DENIED(&p, "example.com", 443, "fe80::1", "link-local address");
	DENIED(&p, "example.com", 443, "0.0.0.0", "unspecified address");
	DENIED(&p, "example.com", 443, "224.0.0.1", "multicast address");
	assert_string_equal(verdict(&p, "example.com", 443, "198.51.100.1", true), "address of this host");
	/* IP literals: only those listed, on their port. */
	ALLOWED(&p, "192.0.2.9", 8080, NULL);
	DENIED(&p, "192.0.2.9", 8081, NULL, "not in allow list");
	DENIED(&p, "192.0.2.10", 8080, NULL, "not in allow list");
	/* localhost:PORT and its literal forms. */
	ALLOWED(&p, "localhost", 5432, "127.0.0.1");
	ALLOWED(&p, "127.0.0.1", 5432, NULL);
	ALLOWED(&p, "::1", 5432, NULL);
	DENIED(&p, "localhost", 5433, "127.0.0.1", "localhost port not listed");
	DENIED(&p, "127.0.0.1", 22, NULL, "localhost port not listed");
	DENIED(&p, "localhost", 5432, "192.0.2.1", "localhost resolved to another address");
	policy_release(&p);
}

static void test_all_mode(void **state)
{
	struct policy p = parsed("au-netproxy 1\nmode all\nagent a\nrun r\nallow 10.9.9.9:22\nend\n");

	ALLOWED(&p, "anything.example", 443, "93.184.215.14");
	ALLOWED(&p, "8.8.8.8", 53, NULL);
	ALLOWED(&p, "2001:4860:4860::8888", 443, NULL);
	/* Rebinding: a public-looking name that resolves home is refused in every form. */
	DENIED(&p, "rebind.example", 443, "127.0.0.1", "loopback address");
	DENIED(&p, "rebind.example", 443, "::1", "loopback address");
	DENIED(&p, "rebind.example", 443, "::ffff:127.0.0.1", "loopback address");
	DENIED(&p, "rebind.example", 443, "64:ff9b::7f00:1", "loopback address");
	DENIED(&p, "rebind.example", 443, "100.100.100.200", "cloud metadata address");
	DENIED(&p, "rebind.example", 443, "fd00:ec2::254", "cloud metadata address");
	/* The LAN is not "all". */
	DENIED(&p, "nas.example", 443, "192.168.1.10", "private address");
	DENIED(&p, "192.168.1.10", 443, NULL, "private address");
	DENIED(&p, "fd12::1", 443, NULL, "private address");
	DENIED(&p, "100.64.1.1", 443, NULL, "private address");
	/* ...unless that very address and port are listed. */
	ALLOWED(&p, "10.9.9.9", 22, NULL);
	ALLOWED(&p, "gw.example", 22, "10.9.9.9");
	DENIED(&p, "10.9.9.9", 23, NULL, "private address");
	/* localhost is never implied by "all". */
	DENIED(&p, "localhost", 8080, "127.0.0.1", "localhost port not listed");
	DENIED(&p, "127.0.0.1", 8080, NULL, "localhost port not listed");
	DENIED(&p, "127.0.0.2", 8080, NULL, "loopback address");
	assert_string_equal(verdict(&p, "myhost.example", 443, "203.0.113.1", true), "address of this host");
	policy_release(&p);
}

static void test_fake_addresses_map_back_to_names(void **state)
{
	struct policy p = parsed(HEAD "allow allowed.example\nend\n");
	struct fakeip *fake = fakeip_new();
	struct dest d;
	const char *why;
	uint32_t a1, a2, a3;
	struct in6_addr a;
	char name[NET_NAME_MAX + 1];

	assert_int_equal(fakeip_assign(fake, "allowed.example", &a1), 0);
	assert_int_equal(fakeip_assign(fake, "denied.example", &a2), 0);
	assert_int_equal(fakeip_assign(fake, "allowed.example", &a3), 0);
	/* Stable per name, from 127.1.0.1 upward. */
	assert_int_equal(a1, 0x7f010001u);
	assert_int_equal(a2, 0x7f010002u);
	assert_int_equal(a3, a1);
	assert_true(fakeip_lookup(fake, a2, name));
	assert_string_equal(name, "denied.example");
	assert_false(fakeip_lookup(fake, 0x7f010003u, name));
	assert_false(fakeip_lookup(fake, 0x7f000001u, name));

	/* CONNECT 127.1.0.1:443 is CONNECT allowed.example:443. */
	d = dest_of("127.1.0.1", 443, fake);
	assert_int_equal(d.kind, DEST_NAME);
	assert_string_equal(d.name, "allowed.example");
	assert_null(policy_check_dest(&p, &d));
	/* The fake address of a denied name is that denied name. */
	d = dest_of("127.1.0.2", 443, fake);
	assert_string_equal(policy_check_dest(&p, &d), "not in allow list");
	/* One never handed out is nothing. */
	assert_int_equal(dest_from_host("127.1.0.9", 9, 443, fake, &d, &why), -1);
	assert_string_equal(why, "fake address given to no name");
	addr_from_v4(0x7f010001u, &a);
	assert_int_equal(dest_from_address(&a, 443, fake, &d, &why), 0);
	assert_string_equal(d.name, "allowed.example");
	fakeip_free(fake);
	policy_release(&p);
}

static void test_fake_addresses_run_out(void **state)
{
	struct fakeip *fake = fakeip_new();
	char name[32];
	uint32_t a = 0;

	for (uint32_t i = 0; i < NETPROTO_FAKE_LAST - NETPROTO_FAKE_FIRST + 1; i++) {
		snprintf(name, sizeof(name), "n%u.example", i);
		assert_int_equal(fakeip_assign(fake, name, &a), 0);
	}
	assert_int_equal(a, NETPROTO_FAKE_LAST);
	assert_int_equal(fakeip_assign(fake, "one-more.example", &a), -1);
	/* Names that have one keep it. */
	assert_int_equal(fakeip_assign(fake, "n7.example", &a), 0);
	assert_int_equal(a, NETPROTO_FAKE_FIRST + 7);
	fakeip_free(fake);
}

static void test_destinations(void **state)
{
	struct dest d;
	const char *why;
	char text[NET_PATTERN_TEXT_MAX];

	d = dest_of("Example.COM.", 443, NULL);
	assert_int_equal(d.kind, DEST_NAME);
	dest_format(&d, text);
	assert_string_equal(text, "example.com:443");
	d = dest_of("2001:db8::1", 443, NULL);
	assert_int_equal(d.kind, DEST_ADDRESS);
	dest_format(&d, text);
	assert_string_equal(text, "[2001:db8::1]:443");
	d = dest_of("LocalHost", 80, NULL);
	assert_int_equal(d.kind, DEST_LOCALHOST);
	assert_false(d.has_addr);
	d = dest_of("::ffff:127.0.0.1", 80, NULL);
	assert_int_equal(d.kind, DEST_LOCALHOST);
	assert_true(d.has_addr);
	assert_int_equal(dest_from_host("a b", 3, 80, NULL, &d, &why), -1);
	assert_int_equal(dest_from_host("127.1", 5, 80, NULL, &d, &why), -1);
	assert_int_equal(dest_from_host("example.com", 11, 0, NULL, &d, &why), -1);
}

static void test_dns_question_uses_names_only(void **state)
{
	struct policy p = parsed(HEAD "allow example.com:443\nallow *.example.org\nallow localhost:80\n"
				      "allow 192.0.2.1\nend\n");
	struct policy all = parsed("au-netproxy 1\nmode all\nagent a\nrun r\nend\n");

	assert_true(policy_name_allowed(&p, "example.com"));
	assert_true(policy_name_allowed(&p, "a.example.org"));
	assert_false(policy_name_allowed(&p, "example.org"));
	assert_false(policy_name_allowed(&p, "localhost"));
	assert_false(policy_name_allowed(&p, "other.example"));
	assert_true(policy_name_allowed(&all, "other.example"));
	policy_release(&p);
	policy_release(&all);
}

/* --- the log record ---------------------------------------------------------- */

static void test_log_record(void **state)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;
	struct timespec t = { .tv_sec = 1796156796, .tv_nsec = 123456789 }; /* 2026-12-01T20:26:36.123Z */

	log_format(&(struct log_record){ .kind = "connect", .dest = "example.com:443", .addr = "93.184.215.14:443",
					 .allowed = true, .reason = "closed", .up = 517, .down = 4096, .ms = 1234 },
		   "claude", "20261201-1", &t, &sb);
	assert_string_equal(sb.buf, "{\"time\":\"2026-12-01T20:26:36.123Z\",\"agent\":\"claude\",\"run\":\"20261201-1\","
				    "\"kind\":\"connect\",\"dest\":\"example.com:443\",\"addr\":\"93.184.215.14:443\","
				    "\"decision\":\"allow\",\"reason\":\"closed\",\"up\":517,\"down\":4096,\"ms\":1234}");
	strbuf_reset(&sb);
	log_format(&(struct log_record){ .kind = "http", .dest = NULL, .addr = "", .allowed = false,
					 .reason = "bad \"request\"\n" },
		   "a", "r", &t, &sb);
	assert_non_null(strstr(sb.buf, "\"dest\":\"\""));
	assert_non_null(strstr(sb.buf, "\"decision\":\"deny\",\"reason\":\"bad \\\"request\\\"\\u000a\""));
}

/* --- seeded mutation run of the policy harness ----------------------------- */

static void test_mutation_run(void **state)
{
	static const char *const texts[] = {
		HEAD "allow example.com\nallow *.npmjs.org:443\nallow localhost:5432\nend\n",
		"au-netproxy 1\nmode all\nagent a\nrun r\nallow [2001:db8::1]:22\nallow 10.0.0.1\nend\n",
		HEAD "end\n",
		"*.example.com:443\n",
		"[::ffff:10.1.2.3]:8080\n",
		"localhost:3000\n",
	};
	static const char interesting[] = "\n*.:[]0123456789azAZ-_ %@/\\\0\r";
	struct sample samples[ARRAY_SIZE(texts)];
	autostrbuf struct strbuf sb = STRBUF_INIT;
	size_t accepted = 0, patterns = 0, runs = 60000;

	for (size_t i = 0; i < ARRAY_SIZE(texts); i++)
		samples[i] = (struct sample){ (const uint8_t *)texts[i], strlen(texts[i]) };
	mutate_rng_state = 0x5eed0f9011c1e5ULL;
	for (size_t run = 0; run < runs; run++) {
		struct policy p;
		struct net_pattern pattern;
		const char *why;
		char *err = NULL;

		mutate_one(&sb, samples, ARRAY_SIZE(samples), interesting, sizeof(interesting) - 1);
		LLVMFuzzerTestOneInput((const uint8_t *)sb.buf, sb.len);
		if (policy_parse(sb.buf, sb.len, &p, &err) == 0) {
			accepted++;
			policy_release(&p);
		}
		free(err);
		/* The harness also tries the first line as a pattern: count those too. */
		sb.buf[strcspn(sb.buf, "\n")] = '\0';
		if (net_pattern_parse(sb.buf, &pattern, &why) == 0)
			patterns++;
	}
	print_message("# policy mutation run: %zu runs, %zu policies and %zu single patterns accepted\n", runs,
		      accepted, patterns);
	assert_true(accepted > runs / 500);
	assert_true(patterns > runs / 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_parses),
		cmocka_unit_test(test_message_refusals),
		cmocka_unit_test(test_allow_mode),
		cmocka_unit_test(test_all_mode),
		cmocka_unit_test(test_fake_addresses_map_back_to_names),
		cmocka_unit_test(test_fake_addresses_run_out),
		cmocka_unit_test(test_destinations),
		cmocka_unit_test(test_dns_question_uses_names_only),
		cmocka_unit_test(test_log_record),
		cmocka_unit_test(test_mutation_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
