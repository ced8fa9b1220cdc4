/*
 * dns.h: the DNS stub's wire format: one question in, one answer out.
 *
 * The agent's resolver asks the stub, and the stub answers from the policy
 * alone: an allowed name gets its fake address (fakeip.h), other names
 * REFUSED. It never forwards a query, so nothing leaves through DNS.
 *
 * Pure: no I/O. Anything that is not a plain standard query with exactly one
 * question (and at most an EDNS OPT record) is malformed and dropped.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pattern.h"

#define DNS_HEADER_LEN 12
/* The longest name in wire form, length bytes and root label included (RFC 1035). */
#define DNS_WIRE_NAME_MAX 255
/* Room for any response the stub writes: header, question, one A record. */
#define DNS_RESPONSE_MAX (DNS_HEADER_LEN + DNS_WIRE_NAME_MAX + 4 + 16)

enum dns_type { DNS_TYPE_A = 1, DNS_TYPE_AAAA = 28, DNS_TYPE_OPT = 41 };
#define DNS_CLASS_IN 1

enum dns_rcode {
	DNS_RCODE_NOERROR = 0,
	DNS_RCODE_REFUSED = 5,
};

struct dns_query {
	uint16_t id;
	bool recursion_desired;
	/* The question's name in wire form, uncompressed, its case as sent (echoed back). */
	uint8_t qname_wire[DNS_WIRE_NAME_MAX];
	size_t qname_wire_len;
	/* The name as text with the case folded; valid only when name_ok. */
	char name[NET_NAME_MAX + 1];
	bool name_ok;
	/* Why the name is not a host name, when !name_ok. */
	const char *name_why;
	uint16_t qtype, qclass;
};

/* 0, or -1 for a packet to drop. */
int dns_parse_query(const uint8_t *pkt, size_t len, struct dns_query *q);

/*
 * The response to q: rcode, and an A record with a (host byte order, TTL 1)
 * when a is not NULL. Returns its length, at most DNS_RESPONSE_MAX.
 */
size_t dns_format_response(const struct dns_query *q, enum dns_rcode rcode, const uint32_t *a,
			   uint8_t out[DNS_RESPONSE_MAX]);

/* "A", "AAAA", "MX", ..., or "TYPE99" (RFC 3597) for the rest, for the log. */
void dns_type_name(uint16_t qtype, char out[16]);
