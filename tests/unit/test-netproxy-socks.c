/*
 * test-netproxy-socks.c: the SOCKS5 subset (netproxy/socks.c): no
 * authentication, CONNECT only, the three address types; everything else is
 * answered or refused as RFC 1928 says. Ends with a seeded mutation run of
 * the fuzz harness.
 */
#include <arpa/inet.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "netproxy-mutate.h"

#include "../../fuzz/fuzz-netproxy-socks.c"

#define BYTES(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

static void test_greeting(void **state)
{
	size_t consumed = 0;

	assert_int_equal(socks_parse_greeting(BYTES(5, 1, 0), &consumed), SOCKS_OK);
	assert_int_equal(consumed, 3);
	assert_int_equal(socks_parse_greeting(BYTES(5, 3, 2, 1, 0, 0xaa), &consumed), SOCKS_OK);
	assert_int_equal(consumed, 5);
	/* Only username/password or GSSAPI offered: we have none of those. */
	assert_int_equal(socks_parse_greeting(BYTES(5, 2, 1, 2), &consumed), SOCKS_NO_ACCEPTABLE_AUTH);
	assert_int_equal(socks_parse_greeting(BYTES(5, 0), &consumed), SOCKS_BAD);
	/* SOCKS4 and HTTP are not SOCKS5. */
	assert_int_equal(socks_parse_greeting(BYTES(4, 1, 0, 80), &consumed), SOCKS_BAD);
	assert_int_equal(socks_parse_greeting(BYTES('G', 'E', 'T'), &consumed), SOCKS_BAD);
	assert_int_equal(socks_parse_greeting(BYTES(5), &consumed), SOCKS_NEED_MORE);
	assert_int_equal(socks_parse_greeting(BYTES(5, 2, 0), &consumed), SOCKS_NEED_MORE);
	assert_int_equal(socks_parse_greeting(NULL, 0, &consumed), SOCKS_NEED_MORE);
}

static void test_connect_requests(void **state)
{
	struct socks_request req;
	size_t consumed = 0;
	char text[INET6_ADDRSTRLEN];

	assert_int_equal(socks_parse_request(BYTES(5, 1, 0, 1, 192, 0, 2, 7, 0x01, 0xbb, 'x'), &req, &consumed),
			 SOCKS_OK);
	assert_int_equal(consumed, 10);
	assert_int_equal(req.atyp, SOCKS_ATYP_IPV4);
	assert_int_equal(req.port, 443);
	assert_non_null(inet_ntop(AF_INET6, &req.addr, text, sizeof(text)));
	assert_string_equal(text, "::ffff:192.0.2.7");

	assert_int_equal(socks_parse_request(BYTES(5, 1, 0, 3, 11, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o',
						  'm', 0, 80),
					     &req, &consumed),
			 SOCKS_OK);
	assert_int_equal(consumed, 18);
	assert_string_equal(req.domain, "example.com");
	assert_int_equal(req.port, 80);

	assert_int_equal(socks_parse_request(BYTES(5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
						  0, 1, 0, 22),
					     &req, &consumed),
			 SOCKS_OK);
	assert_int_equal(consumed, 22);
	assert_non_null(inet_ntop(AF_INET6, &req.addr, text, sizeof(text)));
	assert_string_equal(text, "2001:db8::1");
	assert_int_equal(req.port, 22);
}

static void test_request_refusals(void **state)
{
	struct socks_request req;
	size_t consumed = 0;

	/* BIND and UDP ASSOCIATE: a well-formed request, an unsupported command. */
	assert_int_equal(socks_parse_request(BYTES(5, 2, 0, 1, 1, 2, 3, 4, 0, 80), &req, &consumed),
			 SOCKS_UNSUPPORTED_CMD);
	assert_int_equal(socks_parse_request(BYTES(5, 3, 0, 1, 0, 0, 0, 0, 0, 0), &req, &consumed),
			 SOCKS_UNSUPPORTED_CMD);
	assert_int_equal(socks_parse_request(BYTES(5, 1, 0, 2, 1, 2, 3, 4, 0, 80), &req, &consumed),
			 SOCKS_UNSUPPORTED_ATYP);
	assert_int_equal(socks_parse_request(BYTES(4, 1, 0, 1, 1, 2, 3, 4, 0, 80), &req, &consumed), SOCKS_BAD);
	assert_int_equal(socks_parse_request(BYTES(5, 1, 1, 1, 1, 2, 3, 4, 0, 80), &req, &consumed), SOCKS_BAD);
	/* An empty name, a NUL or a space in the name. */
	assert_int_equal(socks_parse_request(BYTES(5, 1, 0, 3, 0, 0, 80), &req, &consumed), SOCKS_BAD);
	assert_int_equal(socks_parse_request(BYTES(5, 1, 0, 3, 3, 'a', 0, 'b', 0, 80), &req, &consumed), SOCKS_BAD);
	assert_int_equal(socks_parse_request(BYTES(5, 1, 0, 3, 3, 'a', ' ', 'b', 0, 80), &req, &consumed), SOCKS_BAD);
	/* Cut short anywhere: more is needed. */
	assert_int_equal(socks_parse_request(BYTES(5, 1, 0), &req, &consumed), SOCKS_NEED_MORE);
	assert_int_equal(socks_parse_request(BYTES(5, 1, 0, 3), &req, &consumed), SOCKS_NEED_MORE);
	assert_int_equal(socks_parse_request(BYTES(5, 1, 0, 3, 5, 'a', 'b'), &req, &consumed), SOCKS_NEED_MORE);
	assert_int_equal(socks_parse_request(BYTES(5, 1, 0, 1, 1, 2, 3, 4, 0), &req, &consumed), SOCKS_NEED_MORE);
	assert_int_equal(socks_parse_request(BYTES(5, 1, 0, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9), &req, &consumed),
			 SOCKS_NEED_MORE);
}

static void test_longest_domain(void **state)
{
	uint8_t buf[4 + 1 + 255 + 2];
	struct socks_request req;
	size_t consumed;

	memcpy(buf, (const uint8_t[]){ 5, 1, 0, 3, 255 }, 5);
	memset(buf + 5, 'a', 255);
	buf[260] = 1;
	buf[261] = 0;
	assert_int_equal(socks_parse_request(buf, sizeof(buf), &req, &consumed), SOCKS_OK);
	assert_int_equal(strlen(req.domain), 255);
	assert_int_equal(req.port, 256);
	assert_int_equal(consumed, sizeof(buf));
}

static void test_replies(void **state)
{
	uint8_t out[10];

	assert_int_equal(socks_format_reply(out, SOCKS_REP_NOT_ALLOWED), 10);
	assert_memory_equal(out, ((const uint8_t[]){ 5, 2, 0, 1, 0, 0, 0, 0, 0, 0 }), 10);
	socks_format_reply(out, SOCKS_REP_SUCCEEDED);
	assert_int_equal(out[1], 0);
}

static void test_mutation_run(void **state)
{
	static const uint8_t domain[] = { 5, 1, 0, 5, 1, 0, 3, 11, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm', 1, 187 };
	static const uint8_t v4[] = { 5, 2, 0, 2, 5, 1, 0, 1, 127, 1, 0, 1, 0, 22 };
	static const uint8_t v6[] = { 5, 1, 0, 5, 1, 0, 4, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80 };
	static const struct sample samples[] = { { domain, sizeof(domain) }, { v4, sizeof(v4) }, { v6, sizeof(v6) } };
	static const char interesting[] = "\x00\x01\x02\x03\x04\x05\xff .";
	autostrbuf struct strbuf sb = STRBUF_INIT;
	size_t accepted = 0, runs = 60000;

	mutate_rng_state = 0x50c45ULL;
	for (size_t run = 0; run < runs; run++) {
		struct socks_request req;
		size_t g, r;

		mutate_one(&sb, samples, ARRAY_SIZE(samples), interesting, sizeof(interesting) - 1);
		LLVMFuzzerTestOneInput((const uint8_t *)sb.buf, sb.len);
		if (socks_parse_greeting((const uint8_t *)sb.buf, sb.len, &g) == SOCKS_OK &&
		    socks_parse_request((const uint8_t *)sb.buf + g, sb.len - g, &req, &r) == SOCKS_OK)
			accepted++;
	}
	print_message("# socks mutation run: %zu runs, %zu accepted\n", runs, accepted);
	assert_true(accepted > runs / 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting),
		cmocka_unit_test(test_connect_requests),
		cmocka_unit_test(test_request_refusals),
		cmocka_unit_test(test_longest_domain),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_mutation_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
