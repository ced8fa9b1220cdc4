/*
 * fuzz-netproxy-dns.c: libFuzzer harness for the DNS stub's query parser
 * and response writer (netproxy/dns.c): one UDP packet is all an agent
 * needs to reach them.
 *
 * A query that parses gets a response that fits DNS_RESPONSE_MAX, echoes
 * the question's wire name, and, read back as a query (QR cleared), names
 * the same question. A name the policy would judge is canonical.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz-netproxy.h"

#include "../netproxy/dns.c"
#include "../netproxy/pattern.c"
#include "../netproxy/addr.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_query q, again;
	uint8_t out[DNS_RESPONSE_MAX];
	char canonical[NET_NAME_MAX + 1];
	const char *why;
	uint32_t fake = 0x7f010001u;
	size_t len;

	if (dns_parse_query(data, size, &q) < 0)
		return 0;
	FUZZ_CHECK(q.qname_wire_len >= 1 && q.qname_wire_len <= DNS_WIRE_NAME_MAX, "wire name length");
	FUZZ_CHECK(q.qname_wire[q.qname_wire_len - 1] == 0, "wire name without its root label");
	if (q.name_ok) {
		FUZZ_CHECK(net_name_normalize(q.name, strlen(q.name), canonical, &why) == 0 &&
				   !strcmp(canonical, q.name),
			   "name '%s' is not canonical", q.name);
	} else {
		FUZZ_CHECK(q.name_why != NULL, "a bad name without a reason");
	}

	len = dns_format_response(&q, DNS_RCODE_REFUSED, NULL, out);
	FUZZ_CHECK(len <= DNS_RESPONSE_MAX, "response too long");
	FUZZ_CHECK(out[0] == data[0] && out[1] == data[1], "response id");
	FUZZ_CHECK(out[2] & 0x80, "response without QR");
	FUZZ_CHECK(!memcmp(out + DNS_HEADER_LEN, q.qname_wire, q.qname_wire_len), "question not echoed");
	/* The same packet, turned back into a query, reads as the same question. */
	out[2] &= 0x01;
	out[3] = 0;
	FUZZ_CHECK(dns_parse_query(out, len, &again) == 0, "own response does not parse back");
	FUZZ_CHECK(again.qtype == q.qtype && again.qclass == q.qclass && again.qname_wire_len == q.qname_wire_len &&
			   !memcmp(again.qname_wire, q.qname_wire, q.qname_wire_len),
		   "own response names another question");

	len = dns_format_response(&q, DNS_RCODE_NOERROR, &fake, out);
	FUZZ_CHECK(len == DNS_HEADER_LEN + q.qname_wire_len + 4 + 16 && len <= DNS_RESPONSE_MAX, "A response length");
	FUZZ_CHECK(!memcmp(out + len - 4, "\x7f\x01\x00\x01", 4), "A record address");
	return 0;
}
