/*
 * test-netproxy-pattern.c: allow-list patterns and host names
 * (netproxy/pattern.c): what the human may write, what it allows, and what
 * is refused before it could allow more than was meant.
 */
#include "pattern.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

static struct net_pattern parsed(const char *text)
{
	struct net_pattern p;
	const char *why = NULL;

	if (net_pattern_parse(text, &p, &why) < 0)
		fail_msg("'%s' was refused: %s", text, why);
	return p;
}

static void assert_refused(const char *text, const char *why_part)
{
	struct net_pattern p;
	const char *why = NULL;

	if (net_pattern_parse(text, &p, &why) == 0)
		fail_msg("'%s' was accepted", text);
	if (!strstr(why, why_part))
		fail_msg("'%s' refused with '%s', not '%s'", text, why, why_part);
}

static void assert_canonical(const char *text, const char *want)
{
	struct net_pattern p = parsed(text);
	char out[NET_PATTERN_TEXT_MAX];

	net_pattern_format(&p, out);
	assert_string_equal(out, want);
}

static struct in6_addr v6(const char *text)
{
	struct in6_addr a;

	assert_int_equal(inet_pton(AF_INET6, text, &a), 1);
	return a;
}

static void test_exact_names(void **state)
{
	struct net_pattern p = parsed("Example.COM.");

	assert_int_equal(p.kind, NET_PATTERN_NAME);
	assert_string_equal(p.name, "example.com");
	assert_int_equal(p.port, 0);
	assert_true(net_pattern_matches_name(&p, "example.com", 443));
	assert_true(net_pattern_matches_name(&p, "example.com", 22));
	assert_false(net_pattern_matches_name(&p, "www.example.com", 443));
	assert_false(net_pattern_matches_name(&p, "example.com.evil.net", 443));
	assert_false(net_pattern_matches_name(&p, "notexample.com", 443));
	assert_true(net_pattern_matches_name_any_port(&p, "example.com"));
}

static void test_wildcards_are_strict_subdomains(void **state)
{
	struct net_pattern p = parsed("*.example.com");

	assert_int_equal(p.kind, NET_PATTERN_SUBDOMAINS);
	assert_true(net_pattern_matches_name(&p, "a.example.com", 443));
	assert_true(net_pattern_matches_name(&p, "a.b.example.com", 443));
	/* Never the apex, never a name that only ends the same way. */
	assert_false(net_pattern_matches_name(&p, "example.com", 443));
	assert_false(net_pattern_matches_name(&p, "badexample.com", 443));
	assert_false(net_pattern_matches_name(&p, ".example.com", 443));
	assert_false(net_pattern_matches_name(&p, "example.com.a", 443));
}

static void test_ports(void **state)
{
	struct net_pattern p = parsed("example.com:443");

	assert_int_equal(p.port, 443);
	assert_true(net_pattern_matches_name(&p, "example.com", 443));
	assert_false(net_pattern_matches_name(&p, "example.com", 80));
	/* The DNS stub asks without a port: the name is known either way. */
	assert_true(net_pattern_matches_name_any_port(&p, "example.com"));
	p = parsed("*.example.com:22");
	assert_true(net_pattern_matches_name(&p, "git.example.com", 22));
	assert_false(net_pattern_matches_name(&p, "git.example.com", 23));
	assert_int_equal(parsed("h.example:65535").port, 65535);
	assert_int_equal(parsed("h.example:1").port, 1);
}

static void test_localhost_needs_a_port(void **state)
{
	struct net_pattern p = parsed("LOCALHOST:5432");

	assert_int_equal(p.kind, NET_PATTERN_LOCALHOST);
	assert_true(net_pattern_matches_name(&p, "localhost", 5432));
	assert_false(net_pattern_matches_name(&p, "localhost", 5433));
	/* It is not a name the DNS stub hands a fake address for. */
	assert_false(net_pattern_matches_name_any_port(&p, "localhost"));
	assert_refused("localhost", "localhost needs a port");
	assert_refused("localhost.", "localhost needs a port");
}

static void test_ip_literals(void **state)
{
	struct net_pattern p = parsed("192.0.2.7:8443");
	struct in6_addr mapped = v6("::ffff:192.0.2.7");

	assert_int_equal(p.kind, NET_PATTERN_ADDRESS);
	assert_true(net_pattern_matches_address(&p, &mapped, 8443));
	assert_false(net_pattern_matches_address(&p, &mapped, 443));
	assert_false(net_pattern_matches_name(&p, "192.0.2.7", 8443));

	p = parsed("[2001:DB8::7]");
	mapped = v6("2001:db8::7");
	assert_true(net_pattern_matches_address(&p, &mapped, 1));
	/* An IPv4 address written as IPv6 is the same address. */
	assert_canonical("[::ffff:10.1.2.3]:22", "10.1.2.3:22");
	assert_canonical("[2001:db8:0:0::1]:443", "[2001:db8::1]:443");
	assert_canonical("10.0.0.5", "10.0.0.5");
}

static void test_canonical_forms(void **state)
{
	assert_canonical("Example.Com", "example.com");
	assert_canonical("*.EXAMPLE.com.:8080", "*.example.com:8080");
	assert_canonical("localhost:3000", "localhost:3000");
	assert_canonical("under_score.example", "under_score.example");
	assert_canonical("xn--bcher-kva.example", "xn--bcher-kva.example");
}

static void test_refusals(void **state)
{
	assert_refused("", "empty pattern");
	assert_refused("*", "'*' alone");
	assert_refused("*.com", "two labels or more");
	assert_refused("*.com.", "two labels or more");
	assert_refused("*.*.example.com", "'*' may only start");
	assert_refused("a.*.example.com", "'*' may only start");
	assert_refused("*example.com", "'*' may only start");
	assert_refused("example.*", "'*' may only start");
	assert_refused("*.", "empty host name");
	assert_refused("example..com", "empty label");
	assert_refused(".example.com", "empty label");
	assert_refused("example.com..", "empty label");
	assert_refused("exa mple.com", "invalid character");
	assert_refused("exa%2fmple.com", "invalid character");
	assert_refused("user@example.com", "invalid character");
	assert_refused("example.com/path", "invalid character");
	assert_refused("example.com:", "port");
	assert_refused("example.com:0", "port");
	assert_refused("example.com:65536", "port");
	assert_refused("example.com:080", "port");
	assert_refused("example.com:+80", "port");
	assert_refused("example.com:8o", "port");
	assert_refused("example.com:80:81", "brackets");
	assert_refused("2001:db8::1", "brackets");
	assert_refused("[2001:db8::1", "without ']'");
	assert_refused("[2001:db8::1]x", "only ':PORT'");
	assert_refused("[fe80::1%eth0]", "zone");
	assert_refused("[example.com]", "invalid IPv6");
	assert_refused("1.2.3", "invalid IPv4");
	assert_refused("1.2.3.4.5", "invalid IPv4");
	assert_refused("256.1.1.1", "invalid IPv4");
	/* Numeric forms getaddrinfo would take for an address. */
	assert_refused("example.123", "numeric");
	assert_refused("0x7f000001", "numeric");
	assert_refused("a.0x7f", "numeric");
	/* Addresses that name no single host, and the fake range. */
	assert_refused("0.0.0.0", "unspecified");
	assert_refused("[::]", "unspecified");
	assert_refused("[::ff3]", "unspecified"); /* IPv4-compatible 0.0.15.243 */
	assert_refused("[::ffff:0.1.2.3]", "unspecified");
	assert_refused("224.0.0.1", "multicast");
	assert_refused("[ff02::1]", "multicast");
	assert_refused("255.255.255.255", "broadcast");
	assert_refused("127.1.0.5", "fake addresses");
	{
		char label[80], name[300];

		memset(label, 'a', 64);
		label[64] = '\0';
		snprintf(name, sizeof(name), "%s.example", label);
		assert_refused(name, "longer than 63");
		memset(name, 0, sizeof(name));
		for (int i = 0; i < 64; i++)
			strcat(name, "abc.");
		strcat(name, "com");
		assert_refused(name, "longer than 253");
	}
}

static void test_names(void **state)
{
	char out[NET_NAME_MAX + 1];
	const char *why;

	assert_int_equal(net_name_normalize("WWW.Example.ORG.", 16, out, &why), 0);
	assert_string_equal(out, "www.example.org");
	/* A length, not a string: a NUL inside is a bad character. */
	assert_int_equal(net_name_normalize("a\0b.com", 7, out, &why), -1);
	assert_int_equal(net_name_normalize(".", 1, out, &why), -1);
	assert_int_equal(net_name_normalize("1.2.3.4", 7, out, &why), -1);
	assert_string_equal(why, "a numeric address is not a host name");
	assert_int_equal(net_name_normalize("123abc.example", 14, out, &why), 0);
	assert_int_equal(net_name_normalize("localhost", 9, out, &why), 0);
}

static void test_ports_parse(void **state)
{
	uint16_t port;

	assert_int_equal(net_port_parse("443", 3, &port), 0);
	assert_int_equal(port, 443);
	assert_int_equal(net_port_parse("65535", 5, &port), 0);
	assert_int_equal(net_port_parse("65536", 5, &port), -1);
	assert_int_equal(net_port_parse("0", 1, &port), -1);
	assert_int_equal(net_port_parse("", 0, &port), -1);
	assert_int_equal(net_port_parse("123456", 6, &port), -1);
	assert_int_equal(net_port_parse("-1", 2, &port), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_names),
		cmocka_unit_test(test_wildcards_are_strict_subdomains),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_localhost_needs_a_port),
		cmocka_unit_test(test_ip_literals),
		cmocka_unit_test(test_canonical_forms),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_ports_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
