/*
 * test-netproxy-dns.c: the DNS stub: its packet parser (compression loops,
 * truncation, everything that is not one plain question is dropped), the
 * responses it writes, and its answers under a policy (fake addresses,
 * REFUSED, localhost, NOERROR without answers), with the records it logs.
 * Ends with a seeded mutation run of the fuzz harness.
 */
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "netproxy-mutate.h"

#include "../../fuzz/fuzz-netproxy-dns.c"

#include "conn.h"
#include "log.h"

/* A query for name (dotted) and type: header, question, optionally an EDNS OPT record. */
static size_t build_query(uint8_t *out, const char *name, uint16_t qtype, bool edns)
{
	size_t pos = DNS_HEADER_LEN;
	const char *label = name;

	memset(out, 0, DNS_HEADER_LEN);
	out[0] = 0xbe;
	out[1] = 0xef;
	out[2] = 0x01; /* RD */
	out[5] = 1;
	out[11] = edns ? 1 : 0;
	while (*label) {
		const char *dot = strchr(label, '.');
		size_t n = dot ? (size_t)(dot - label) : strlen(label);

		out[pos++] = (uint8_t)n;
		memcpy(out + pos, label, n);
		pos += n;
		label += n + (dot ? 1 : 0);
	}
	out[pos++] = 0;
	out[pos++] = (uint8_t)(qtype >> 8);
	out[pos++] = (uint8_t)qtype;
	out[pos++] = 0;
	out[pos++] = 1;
	if (edns) {
		static const uint8_t opt[] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0 };

		memcpy(out + pos, opt, sizeof(opt));
		pos += sizeof(opt);
	}
	return pos;
}

static void test_plain_queries(void **state)
{
	uint8_t pkt[512];
	struct dns_query q;
	size_t len = build_query(pkt, "WWW.Example.com", DNS_TYPE_A, true);

	assert_int_equal(dns_parse_query(pkt, len, &q), 0);
	assert_int_equal(q.id, 0xbeef);
	assert_true(q.recursion_desired);
	assert_true(q.name_ok);
	assert_string_equal(q.name, "www.example.com");
	assert_int_equal(q.qtype, DNS_TYPE_A);
	assert_int_equal(q.qclass, DNS_CLASS_IN);
	/* The wire name keeps the case it came in (some resolvers check the echo). */
	assert_memory_equal(q.qname_wire, "\x03WWW\x07" "Example\x03" "com\x00", 17);

	len = build_query(pkt, "example.com", DNS_TYPE_AAAA, false);
	assert_int_equal(dns_parse_query(pkt, len, &q), 0);
	assert_int_equal(q.qtype, DNS_TYPE_AAAA);
}

static void test_names_that_are_not_host_names(void **state)
{
	uint8_t pkt[512];
	struct dns_query q;
	size_t len;

	/* Parsed (the packet is fine) but not a name the policy will judge: REFUSED. */
	len = build_query(pkt, "", DNS_TYPE_A, false);
	assert_int_equal(dns_parse_query(pkt, len, &q), 0);
	assert_false(q.name_ok);
	len = build_query(pkt, "1.2.3.4", DNS_TYPE_A, false);
	assert_int_equal(dns_parse_query(pkt, len, &q), 0);
	assert_false(q.name_ok);
	len = build_query(pkt, "a b.example", DNS_TYPE_A, false);
	assert_int_equal(dns_parse_query(pkt, len, &q), 0);
	assert_false(q.name_ok);
	/* A dot inside a label would print as two labels. */
	len = build_query(pkt, "allowed.example", DNS_TYPE_A, false);
	pkt[DNS_HEADER_LEN + 3] = '.'; /* "al.owed" */
	assert_int_equal(dns_parse_query(pkt, len, &q), 0);
	assert_false(q.name_ok);
}

static void test_compression_pointers(void **state)
{
	/* Header, then "\x01a" and a pointer back to it: a loop through offset 12. */
	uint8_t loop[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0xc0, 12, 0, 1, 0, 1 };
	/* A pointer to itself. */
	uint8_t self[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1 };
	/* A pointer forward, to a name after the question. */
	uint8_t forward[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 18, 0, 1, 0, 1, 1, 'a', 0 };
	/* A pointer into the header. */
	uint8_t header[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 2, 0, 1, 0, 1 };
	/* A pointer cut in half. */
	uint8_t half[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0xc0 };
	/* The extended and reserved label types. */
	uint8_t ext[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 'a', 0, 0, 1, 0, 1 };
	uint8_t res[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x81, 'a', 0, 0, 1, 0, 1 };
	struct dns_query q;

	assert_int_equal(dns_parse_query(loop, sizeof(loop), &q), -1);
	assert_int_equal(dns_parse_query(self, sizeof(self), &q), -1);
	assert_int_equal(dns_parse_query(forward, sizeof(forward), &q), -1);
	assert_int_equal(dns_parse_query(header, sizeof(header), &q), -1);
	assert_int_equal(dns_parse_query(half, sizeof(half), &q), -1);
	assert_int_equal(dns_parse_query(ext, sizeof(ext), &q), -1);
	assert_int_equal(dns_parse_query(res, sizeof(res), &q), -1);
}

static void test_a_valid_backward_pointer_in_the_opt_record(void **state)
{
	/* The OPT record's owner may be compressed: a pointer to the root label that ends the question. */
	uint8_t pkt[64];
	struct dns_query q;
	size_t len = build_query(pkt, "a.example", DNS_TYPE_A, true);
	size_t root = DNS_HEADER_LEN + 10; /* "\x01a\x07example" is 10 bytes, then the root label */

	memmove(pkt + len - 10, pkt + len - 11, 11);
	pkt[len - 11] = 0xc0;
	pkt[len - 10] = (uint8_t)root;
	len++;
	assert_int_equal(dns_parse_query(pkt, len, &q), 0);
	assert_string_equal(q.name, "a.example");
}

static void test_truncation_and_shape(void **state)
{
	uint8_t pkt[512], bad[512];
	struct dns_query q;
	size_t len = build_query(pkt, "a.example", DNS_TYPE_A, true);

	/* Every prefix is dropped; only the whole packet parses. */
	for (size_t n = 0; n < len; n++)
		if (dns_parse_query(pkt, n, &q) != -1)
			fail_msg("a query cut to %zu of %zu bytes parsed", n, len);
	assert_int_equal(dns_parse_query(pkt, len, &q), 0);
	/* Trailing garbage. */
	memcpy(bad, pkt, len);
	bad[len] = 0;
	assert_int_equal(dns_parse_query(bad, len + 1, &q), -1);

#define REFUSE_WITH(byte, value)                                               \
	do {                                                                   \
		memcpy(bad, pkt, len);                                         \
		bad[(byte)] = (value);                                         \
		assert_int_equal(dns_parse_query(bad, len, &q), -1);           \
	} while (0)
	REFUSE_WITH(2, 0x81); /* QR: a response */
	REFUSE_WITH(2, 0x09); /* opcode 1 */
	REFUSE_WITH(2, 0x03); /* TC */
	REFUSE_WITH(5, 2);    /* two questions */
	REFUSE_WITH(5, 0);    /* none */
	REFUSE_WITH(7, 1);    /* an answer */
	REFUSE_WITH(9, 1);    /* an authority record */
	REFUSE_WITH(11, 2);   /* two additional records */
	REFUSE_WITH(len - 9, 1); /* an additional record that is not OPT */
	REFUSE_WITH(len - 1, 1); /* OPT rdata longer than the packet */
#undef REFUSE_WITH

	/* A name of 256 wire bytes. */
	{
		char name[300] = "";

		for (int i = 0; i < 4; i++)
			strcat(name, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.");
		strcat(name, "bbb");
		len = build_query(pkt, name, DNS_TYPE_A, false);
		assert_int_equal(dns_parse_query(pkt, len, &q), -1);
	}
}

static void test_responses(void **state)
{
	uint8_t pkt[512], out[DNS_RESPONSE_MAX];
	struct dns_query q;
	size_t len = build_query(pkt, "Example.com", DNS_TYPE_A, false);
	uint32_t fake = 0x7f010003u;

	assert_int_equal(dns_parse_query(pkt, len, &q), 0);
	len = dns_format_response(&q, DNS_RCODE_NOERROR, &fake, out);
	assert_int_equal(len, 12 + 13 + 4 + 16);
	assert_memory_equal(out, ((const uint8_t[]){ 0xbe, 0xef, 0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 0 }), 12);
	assert_memory_equal(out + 12, "\x07" "Example\x03" "com\x00\x00\x01\x00\x01", 17);
	assert_memory_equal(out + 29,
			    ((const uint8_t[]){ 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 127, 1, 0, 3 }), 16);

	len = dns_format_response(&q, DNS_RCODE_REFUSED, NULL, out);
	assert_int_equal(len, 12 + 13 + 4);
	assert_memory_equal(out, ((const uint8_t[]){ 0xbe, 0xef, 0x85, 0x85, 0, 1, 0, 0, 0, 0, 0, 0 }), 12);
}

/* --- the stub's answers under a policy, and its records ---------------------- */

struct stub {
	struct proxy proxy;
	int log_sv[2];
};

static struct stub *stub_new(const char *policy_text)
{
	struct stub *s = xcalloc(1, sizeof(*s));
	char *err = NULL;

	if (policy_parse(policy_text, strlen(policy_text), &s->proxy.policy, &err) < 0)
		fail_msg("policy: %s", err);
	s->proxy.fake = fakeip_new();
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, s->log_sv), 0);
	log_init(s->log_sv[0]);
	return s;
}

static void stub_free(struct stub *s)
{
	close(s->log_sv[0]);
	close(s->log_sv[1]);
	fakeip_free(s->proxy.fake);
	policy_release(&s->proxy.policy);
	free(s);
}

/* Asks name/type; returns the rcode, *a the answer's address (0 if none). */
static int ask(struct stub *s, const char *name, uint16_t qtype, uint32_t *a)
{
	uint8_t pkt[512], out[DNS_RESPONSE_MAX];
	size_t len = build_query(pkt, name, qtype, false);
	size_t out_len = dns_stub_answer(&s->proxy, pkt, len, out);

	assert_true(out_len >= 12);
	*a = 0;
	if (out[7] == 1) {
		assert_int_equal(out_len, len + 16);
		*a = (uint32_t)out[out_len - 4] << 24 | (uint32_t)out[out_len - 3] << 16 |
		     (uint32_t)out[out_len - 2] << 8 | out[out_len - 1];
	}
	return out[3] & 0x0f;
}

/* The next record the stub logged, or "" if none is waiting. */
static const char *next_record(struct stub *s)
{
	static char buf[NETPROTO_RECORD_MAX + 1];
	struct pollfd pfd = { .fd = s->log_sv[1], .events = POLLIN };
	ssize_t n;

	if (poll(&pfd, 1, 0) <= 0)
		return "";
	n = recv(s->log_sv[1], buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	return buf;
}

#define assert_record_has(s, part)                                             \
	do {                                                                   \
		const char *r_ = next_record(s);                               \
		if (!strstr(r_, (part)))                                       \
			fail_msg("record '%s' lacks '%s'", r_, (part));         \
	} while (0)

static void test_stub_in_allow_mode(void **state)
{
	struct stub *s = stub_new("au-netproxy 1\nmode allow\nagent a\nrun r\nallow allowed.example\n"
				  "allow *.corp.example:443\nend\n");
	uint32_t a, b;

	assert_int_equal(ask(s, "allowed.example", DNS_TYPE_A, &a), DNS_RCODE_NOERROR);
	assert_int_equal(a, 0x7f010001u);
	assert_record_has(s, "\"kind\":\"dns\",\"dest\":\"allowed.example\",\"addr\":\"127.1.0.1\",\"decision\":\"allow\",\"reason\":\"A\"");
	/* Same name, same address, and no second record. */
	assert_int_equal(ask(s, "ALLOWED.example.", DNS_TYPE_A, &b), DNS_RCODE_NOERROR);
	assert_int_equal(b, a);
	assert_string_equal(next_record(s), "");
	/* A port-restricted pattern still lets the name resolve. */
	assert_int_equal(ask(s, "git.corp.example", DNS_TYPE_A, &a), DNS_RCODE_NOERROR);
	assert_int_equal(a, 0x7f010002u);
	next_record(s);
	/* AAAA and the rest: NOERROR, no answer, so that clients use IPv4. */
	assert_int_equal(ask(s, "allowed.example", DNS_TYPE_AAAA, &a), DNS_RCODE_NOERROR);
	assert_int_equal(a, 0);
	assert_record_has(s, "\"reason\":\"AAAA: no address given\"");
	assert_int_equal(ask(s, "allowed.example", 65, &a), DNS_RCODE_NOERROR);
	assert_record_has(s, "\"reason\":\"HTTPS: no address given\"");
	/* Names not allowed: REFUSED, and every refusal is logged. */
	assert_int_equal(ask(s, "denied.example", DNS_TYPE_A, &a), DNS_RCODE_REFUSED);
	assert_int_equal(a, 0);
	assert_record_has(s, "\"dest\":\"denied.example\",\"addr\":\"\",\"decision\":\"deny\",\"reason\":\"not in allow list (A)\"");
	assert_int_equal(ask(s, "denied.example", DNS_TYPE_A, &a), DNS_RCODE_REFUSED);
	assert_record_has(s, "\"decision\":\"deny\"");
	assert_int_equal(ask(s, "corp.example", DNS_TYPE_A, &a), DNS_RCODE_REFUSED);
	next_record(s);
	/* localhost is the agent's own loopback. */
	assert_int_equal(ask(s, "localhost", DNS_TYPE_A, &a), DNS_RCODE_NOERROR);
	assert_int_equal(a, 0x7f000001u);
	next_record(s);
	assert_int_equal(ask(s, "1.2.3.4", DNS_TYPE_A, &a), DNS_RCODE_REFUSED);
	assert_record_has(s, "\"reason\":\"a numeric address is not a host name (A)\"");
	stub_free(s);
}

static void test_stub_in_all_mode(void **state)
{
	struct stub *s = stub_new("au-netproxy 1\nmode all\nagent a\nrun r\nend\n");
	uint32_t a;

	assert_int_equal(ask(s, "anything.example", DNS_TYPE_A, &a), DNS_RCODE_NOERROR);
	assert_int_equal(a, 0x7f010001u);
	assert_int_equal(ask(s, "other.example", DNS_TYPE_A, &a), DNS_RCODE_NOERROR);
	assert_int_equal(a, 0x7f010002u);
	assert_int_equal(ask(s, "bad_name!.example", DNS_TYPE_A, &a), DNS_RCODE_REFUSED);
	stub_free(s);
}

static void test_stub_fails_closed_without_a_log(void **state)
{
	struct stub *s = stub_new("au-netproxy 1\nmode all\nagent a\nrun r\nend\n");
	uint8_t pkt[512], out[DNS_RESPONSE_MAX];
	size_t len = build_query(pkt, "a.example", DNS_TYPE_A, false);

	assert_true(dns_stub_answer(&s->proxy, pkt, len, out) > 0);
	/* au closes its end: no answer any more. */
	close(s->log_sv[1]);
	s->log_sv[1] = open("/dev/null", 0);
	assert_int_equal(dns_stub_answer(&s->proxy, pkt, len, out), 0);
	assert_false(log_usable());
	stub_free(s);
}

static void test_mutation_run(void **state)
{
	uint8_t a[512], b[512], c[512];
	struct sample samples[3];
	static const char interesting[] = "\x00\x01\x3f\x40\xc0\x0c\xff.";
	autostrbuf struct strbuf sb = STRBUF_INIT;
	size_t accepted = 0, runs = 80000;

	samples[0] = (struct sample){ a, build_query(a, "www.Example.com", DNS_TYPE_A, true) };
	samples[1] = (struct sample){ b, build_query(b, "a.b.c", DNS_TYPE_AAAA, false) };
	samples[2] = (struct sample){ c, build_query(c, "x", 255, true) };
	/* One with a compressed OPT owner. */
	c[samples[2].len - 11] = 0xc0;
	memmove(c + samples[2].len - 9, c + samples[2].len - 10, 10);
	c[samples[2].len - 10] = 14;
	samples[2].len++;
	mutate_rng_state = 0xd25ULL;
	for (size_t run = 0; run < runs; run++) {
		struct dns_query q;

		mutate_one(&sb, samples, ARRAY_SIZE(samples), interesting, sizeof(interesting) - 1);
		LLVMFuzzerTestOneInput((const uint8_t *)sb.buf, sb.len);
		accepted += dns_parse_query((const uint8_t *)sb.buf, sb.len, &q) == 0;
	}
	print_message("# dns mutation run: %zu runs, %zu accepted\n", runs, accepted);
	assert_true(accepted > runs / 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_queries),
		cmocka_unit_test(test_names_that_are_not_host_names),
		cmocka_unit_test(test_compression_pointers),
		cmocka_unit_test(test_a_valid_backward_pointer_in_the_opt_record),
		cmocka_unit_test(test_truncation_and_shape),
		cmocka_unit_test(test_responses),
		cmocka_unit_test(test_stub_in_allow_mode),
		cmocka_unit_test(test_stub_in_all_mode),
		cmocka_unit_test(test_stub_fails_closed_without_a_log),
		cmocka_unit_test(test_mutation_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
