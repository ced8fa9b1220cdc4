/*
 * dns.c: DNS query parsing and response writing (see dns.h).
 *
 * The parser is the part an attacker reaches with a single UDP packet, so it
 * checks every length against the packet before reading, follows a
 * compression pointer only to before where the name (or its last jump)
 * began, at most DNS_MAX_POINTERS times, and wants the packet to end exactly
 * where the records do.
 */
#include "dns.h"

#include <stdio.h>
#include <string.h>

#define DNS_FLAG_QR 0x8000
#define DNS_FLAG_AA 0x0400
#define DNS_FLAG_TC 0x0200
#define DNS_FLAG_RD 0x0100
#define DNS_FLAG_RA 0x0080
#define DNS_OPCODE_MASK 0x7800
/* Ever-backward jumps cannot loop; the bound is there for a reviewer's peace of mind. */
#define DNS_MAX_POINTERS 16
#define DNS_TTL 1

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * Reads the name at *pos. Writes it uncompressed to wire (if not NULL) and
 * moves *pos past the name as it sits in the packet. Returns its wire length,
 * or -1 when malformed.
 */
static int read_name(const uint8_t *pkt, size_t len, size_t *pos, uint8_t wire[DNS_WIRE_NAME_MAX])
{
	size_t at = *pos, wire_len = 0;
	size_t end_in_packet = 0;
	/* Every pointer must land before the last place we jumped to (or began). */
	size_t limit = *pos;
	int pointers = 0;

	for (;;) {
		uint8_t n;

		if (at >= len)
			return -1;
		n = pkt[at];
		if ((n & 0xc0) == 0xc0) {
			size_t target;

			if (at + 1 >= len || ++pointers > DNS_MAX_POINTERS)
				return -1;
			target = (size_t)(n & 0x3f) << 8 | pkt[at + 1];
			if (!end_in_packet)
				end_in_packet = at + 2;
			/*
			 * Strictly before where this name (or the last jump) began: the
			 * jumps go ever backwards, so they cannot loop, and never forward.
			 * (Before the pointer itself is not enough: "a" then a pointer to
			 * the "a" is a loop.)
			 */
			if (target >= limit || target < DNS_HEADER_LEN)
				return -1;
			at = limit = target;
			continue;
		}
		if (n & 0xc0) /* 0x40 and 0x80: extended and reserved label types */
			return -1;
		if (wire_len + 1 + n > DNS_WIRE_NAME_MAX || at + 1 + n > len)
			return -1;
		if (wire)
			memcpy(wire + wire_len, pkt + at, 1 + (size_t)n);
		wire_len += 1 + (size_t)n;
		at += 1 + (size_t)n;
		if (n == 0)
			break;
	}
	*pos = end_in_packet ? end_in_packet : at;
	return (int)wire_len;
}

/* The wire name as dotted text, if it is a host name (pattern.h's rules). */
static void name_to_text(struct dns_query *q)
{
	char text[DNS_WIRE_NAME_MAX + 1];
	size_t at = 0, out = 0;

	q->name_ok = false;
	while (at < q->qname_wire_len && q->qname_wire[at]) {
		uint8_t n = q->qname_wire[at];

		for (size_t i = 0; i < n; i++) {
			char c = (char)q->qname_wire[at + 1 + i];

			/* A dot inside a label would make two labels of one when printed. */
			if (c == '.' || c == '\0') {
				q->name_why = "invalid character in host name";
				return;
			}
			text[out++] = c;
		}
		text[out++] = '.';
		at += 1 + (size_t)n;
	}
	if (net_name_normalize(text, out, q->name, &q->name_why) == 0)
		q->name_ok = true;
}

/* Skips one resource record; only an EDNS OPT record (owner: the root) may be there. */
static int skip_opt_record(const uint8_t *pkt, size_t len, size_t *pos)
{
	uint8_t wire[DNS_WIRE_NAME_MAX];
	int wire_len = read_name(pkt, len, pos, wire);
	uint16_t rdlength;

	if (wire_len != 1 || *pos + 10 > len)
		return -1;
	if (get16(pkt + *pos) != DNS_TYPE_OPT)
		return -1;
	rdlength = get16(pkt + *pos + 8);
	*pos += 10;
	if (*pos + rdlength > len)
		return -1;
	*pos += rdlength;
	return 0;
}

int dns_parse_query(const uint8_t *pkt, size_t len, struct dns_query *q)
{
	uint16_t flags, qdcount, ancount, nscount, arcount;
	size_t pos = DNS_HEADER_LEN;
	int wire_len;

	memset(q, 0, sizeof(*q));
	if (len < DNS_HEADER_LEN || len > 65535)
		return -1;
	q->id = get16(pkt);
	flags = get16(pkt + 2);
	qdcount = get16(pkt + 4);
	ancount = get16(pkt + 6);
	nscount = get16(pkt + 8);
	arcount = get16(pkt + 10);
	/* A response (or one forged to look like one) is never answered: no reflection loops. */
	if (flags & (DNS_FLAG_QR | DNS_FLAG_TC | DNS_OPCODE_MASK))
		return -1;
	if (qdcount != 1 || ancount != 0 || nscount != 0 || arcount > 1)
		return -1;
	q->recursion_desired = flags & DNS_FLAG_RD;

	wire_len = read_name(pkt, len, &pos, q->qname_wire);
	if (wire_len < 0 || pos + 4 > len)
		return -1;
	q->qname_wire_len = (size_t)wire_len;
	q->qtype = get16(pkt + pos);
	q->qclass = get16(pkt + pos + 2);
	pos += 4;
	if (arcount && skip_opt_record(pkt, len, &pos) < 0)
		return -1;
	if (pos != len)
		return -1;
	name_to_text(q);
	return 0;
}

size_t dns_format_response(const struct dns_query *q, enum dns_rcode rcode, const uint32_t *a,
			   uint8_t out[DNS_RESPONSE_MAX])
{
	uint16_t flags = DNS_FLAG_QR | DNS_FLAG_AA | DNS_FLAG_RA | (uint16_t)rcode;
	size_t pos = DNS_HEADER_LEN;

	if (q->recursion_desired)
		flags |= DNS_FLAG_RD;
	put16(out, q->id);
	put16(out + 2, flags);
	put16(out + 4, 1);
	put16(out + 6, a ? 1 : 0);
	put16(out + 8, 0);
	put16(out + 10, 0);
	memcpy(out + pos, q->qname_wire, q->qname_wire_len);
	pos += q->qname_wire_len;
	put16(out + pos, q->qtype);
	put16(out + pos + 2, q->qclass);
	pos += 4;
	if (a) {
		put16(out + pos, 0xc000 | DNS_HEADER_LEN); /* the question's name */
		put16(out + pos + 2, DNS_TYPE_A);
		put16(out + pos + 4, DNS_CLASS_IN);
		put16(out + pos + 6, 0);
		put16(out + pos + 8, DNS_TTL);
		put16(out + pos + 10, 4);
		out[pos + 12] = (uint8_t)(*a >> 24);
		out[pos + 13] = (uint8_t)(*a >> 16);
		out[pos + 14] = (uint8_t)(*a >> 8);
		out[pos + 15] = (uint8_t)*a;
		pos += 16;
	}
	return pos;
}

void dns_type_name(uint16_t qtype, char out[16])
{
	static const struct {
		uint16_t type;
		const char *name;
	} names[] = {
		{ 1, "A" },     { 2, "NS" },   { 5, "CNAME" }, { 6, "SOA" },    { 12, "PTR" },
		{ 15, "MX" },   { 16, "TXT" }, { 28, "AAAA" }, { 33, "SRV" },   { 35, "NAPTR" },
		{ 64, "SVCB" }, { 65, "HTTPS" }, { 255, "ANY" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].type == qtype) {
			snprintf(out, 16, "%s", names[i].name);
			return;
		}
	}
	snprintf(out, 16, "TYPE%u", qtype);
}
