/*
 * test-netproxy-addr.c: address classes (netproxy/addr.c), the check that
 * stands between a name the agent may use and the host's loopback, its LAN
 * and the cloud's metadata service. Every range, its edges, and the IPv6
 * forms that carry an IPv4 address.
 */
#include "addr.h"

#include <arpa/inet.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "netproto.h"

static struct in6_addr addr(const char *text)
{
	struct in6_addr a;

	if (!addr_parse(text, strlen(text), &a))
		fail_msg("'%s' does not parse", text);
	return a;
}

static void expect(const char *text, enum addr_class want)
{
	struct in6_addr a = addr(text);
	enum addr_class got = addr_classify(&a);

	if (got != want)
		fail_msg("%s: class %d, want %d", text, got, want);
}

static void test_ipv4_ranges_and_edges(void **state)
{
	expect("0.0.0.0", ADDR_UNSPECIFIED);
	expect("0.255.255.255", ADDR_UNSPECIFIED);
	expect("1.0.0.0", ADDR_PUBLIC);
	expect("126.255.255.255", ADDR_PUBLIC);
	expect("127.0.0.1", ADDR_LOOPBACK);
	expect("127.255.255.254", ADDR_LOOPBACK);
	expect("128.0.0.0", ADDR_PUBLIC);
	expect("9.255.255.255", ADDR_PUBLIC);
	expect("10.0.0.0", ADDR_PRIVATE);
	expect("10.255.255.255", ADDR_PRIVATE);
	expect("11.0.0.0", ADDR_PUBLIC);
	expect("172.15.255.255", ADDR_PUBLIC);
	expect("172.16.0.0", ADDR_PRIVATE);
	expect("172.31.255.255", ADDR_PRIVATE);
	expect("172.32.0.0", ADDR_PUBLIC);
	expect("192.167.255.255", ADDR_PUBLIC);
	expect("192.168.0.1", ADDR_PRIVATE);
	expect("192.168.255.255", ADDR_PRIVATE);
	expect("192.169.0.0", ADDR_PUBLIC);
	expect("100.63.255.255", ADDR_PUBLIC);
	expect("100.64.0.0", ADDR_PRIVATE);
	expect("100.127.255.255", ADDR_PRIVATE);
	expect("100.128.0.0", ADDR_PUBLIC);
	expect("169.253.255.255", ADDR_PUBLIC);
	expect("169.254.0.1", ADDR_LINK_LOCAL);
	expect("169.254.255.255", ADDR_LINK_LOCAL);
	expect("169.255.0.0", ADDR_PUBLIC);
	expect("223.255.255.255", ADDR_PUBLIC);
	expect("224.0.0.1", ADDR_MULTICAST);
	expect("239.255.255.255", ADDR_MULTICAST);
	expect("240.0.0.1", ADDR_RESERVED);
	expect("255.255.255.254", ADDR_RESERVED);
	expect("255.255.255.255", ADDR_BROADCAST);
	/* Documentation ranges stay public: the end-to-end test's "internet" lives there. */
	expect("192.0.2.1", ADDR_PUBLIC);
	expect("198.51.100.2", ADDR_PUBLIC);
	expect("203.0.113.9", ADDR_PUBLIC);
	expect("8.8.8.8", ADDR_PUBLIC);
}

static void test_metadata_addresses_come_first(void **state)
{
	/* Inside link-local, shared and ULA space, but named for what they are. */
	expect("169.254.169.254", ADDR_METADATA);
	expect("100.100.100.200", ADDR_METADATA);
	expect("fd00:ec2::254", ADDR_METADATA);
	expect("169.254.169.253", ADDR_LINK_LOCAL);
	expect("fd00:ec2::253", ADDR_PRIVATE);
}

static void test_ipv6_ranges(void **state)
{
	expect("::", ADDR_UNSPECIFIED);
	expect("::1", ADDR_LOOPBACK);
	expect("fe80::1", ADDR_LINK_LOCAL);
	expect("febf:ffff::1", ADDR_LINK_LOCAL);
	expect("fec0::1", ADDR_PRIVATE);
	expect("fc00::1", ADDR_PRIVATE);
	expect("fdff:ffff::1", ADDR_PRIVATE);
	expect("fbff::1", ADDR_PUBLIC);
	expect("fe00::1", ADDR_PUBLIC);
	expect("ff02::1", ADDR_MULTICAST);
	expect("ff0e::1", ADDR_MULTICAST);
	expect("2001:4860:4860::8888", ADDR_PUBLIC);
	expect("2001:db8::1", ADDR_PUBLIC);
	expect("100::1", ADDR_RESERVED);
	expect("2001:0:4136:e378::1", ADDR_RESERVED); /* Teredo */
}

static void test_ipv4_inside_ipv6(void **state)
{
	/* Mapped: the same address as the IPv4 one, in every class. */
	expect("::ffff:127.0.0.1", ADDR_LOOPBACK);
	expect("::ffff:169.254.169.254", ADDR_METADATA);
	expect("::ffff:10.0.0.1", ADDR_PRIVATE);
	expect("::ffff:0.0.0.0", ADDR_UNSPECIFIED);
	expect("::ffff:8.8.8.8", ADDR_PUBLIC);
	/* Compatible (deprecated): never public, and the carried class when it is worse. */
	expect("::127.0.0.1", ADDR_LOOPBACK);
	expect("::169.254.169.254", ADDR_METADATA);
	expect("::8.8.8.8", ADDR_RESERVED);
	/* SIIT. */
	expect("::ffff:0:127.0.0.1", ADDR_LOOPBACK);
	expect("::ffff:0:8.8.8.8", ADDR_RESERVED);
	/* NAT64: public through a translator, unless what it carries is not. */
	expect("64:ff9b::8.8.8.8", ADDR_PUBLIC);
	expect("64:ff9b::127.0.0.1", ADDR_LOOPBACK);
	expect("64:ff9b::169.254.169.254", ADDR_METADATA);
	expect("64:ff9b::10.1.1.1", ADDR_PRIVATE);
	expect("64:ff9b:1::8.8.8.8", ADDR_PRIVATE);
	expect("64:ff9b:1::7f00:1", ADDR_LOOPBACK);
	/* 6to4. */
	expect("2002:7f00:1::1", ADDR_LOOPBACK);
	expect("2002:a9fe:a9fe::1", ADDR_METADATA);
	expect("2002:c0a8:101::1", ADDR_PRIVATE);
	expect("2002:808:808::1", ADDR_PUBLIC);
}

static void test_reasons(void **state)
{
	assert_null(addr_class_reason(ADDR_PUBLIC));
	assert_string_equal(addr_class_reason(ADDR_LOOPBACK), "loopback address");
	assert_string_equal(addr_class_reason(ADDR_METADATA), "cloud metadata address");
	assert_string_equal(addr_class_reason(ADDR_PRIVATE), "private address");
	for (int c = ADDR_PRIVATE; c <= ADDR_RESERVED; c++)
		assert_non_null(addr_class_reason((enum addr_class)c));
}

static void test_fake_range(void **state)
{
	struct in6_addr a = addr("127.1.0.1");

	assert_true(addr_is_fake(&a));
	a = addr("127.1.255.254");
	assert_true(addr_is_fake(&a));
	a = addr("127.0.0.1");
	assert_false(addr_is_fake(&a));
	a = addr("127.2.0.1");
	assert_false(addr_is_fake(&a));
	a = addr("::7f01:1"); /* IPv4-compatible form: not an address the stub gave */
	assert_false(addr_is_fake(&a));
}

static void test_formats_and_sockaddrs(void **state)
{
	char out[ADDR_TEXT_MAX];
	struct in6_addr a = addr("192.0.2.1"), back;
	struct sockaddr_storage ss;
	socklen_t len;
	uint16_t port;

	addr_format(&a, 443, out);
	assert_string_equal(out, "192.0.2.1:443");
	addr_format(&a, 0, out);
	assert_string_equal(out, "192.0.2.1");
	len = addr_to_sockaddr(&a, 443, &ss);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(addr_from_sockaddr((struct sockaddr *)&ss, len, &back, &port), 0);
	assert_memory_equal(&a, &back, sizeof(a));
	assert_int_equal(port, 443);

	a = addr("2001:db8::5");
	addr_format(&a, 22, out);
	assert_string_equal(out, "[2001:db8::5]:22");
	len = addr_to_sockaddr(&a, 22, &ss);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(addr_from_sockaddr((struct sockaddr *)&ss, len, &back, &port), 0);
	assert_memory_equal(&a, &back, sizeof(a));
	/* A short sockaddr is refused, not read past. */
	assert_int_equal(addr_from_sockaddr((struct sockaddr *)&ss, 8, &back, &port), -1);

	assert_false(addr_parse("1.2.3.4\0", 8, &a));
	assert_false(addr_parse("example.com", 11, &a));
	assert_false(addr_parse("", 0, &a));
}

static void test_sets(void **state)
{
	struct addr_set set = ADDR_SET_INIT;
	struct in6_addr a = addr("192.0.2.1"), b = addr("2001:db8::1"), c = addr("::ffff:192.0.2.1");

	addr_set_add(&set, &a);
	addr_set_add(&set, &b);
	addr_set_add(&set, &a);
	assert_int_equal(set.nr, 2);
	assert_true(addr_set_contains(&set, &c));
	c = addr("192.0.2.2");
	assert_false(addr_set_contains(&set, &c));
	addr_set_release(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_ranges_and_edges),
		cmocka_unit_test(test_metadata_addresses_come_first),
		cmocka_unit_test(test_ipv6_ranges),
		cmocka_unit_test(test_ipv4_inside_ipv6),
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_fake_range),
		cmocka_unit_test(test_formats_and_sockaddrs),
		cmocka_unit_test(test_sets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
