/*
 * addr.c: address forms, classes and sets (see addr.h).
 *
 * The classes are what the policy refuses after name resolution: a name the
 * agent may use can still resolve to the host's loopback, the LAN or a cloud
 * metadata service (DNS rebinding), so the proxy judges the address it is
 * about to dial, not the name.
 */
#include "addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "netproto.h"
#include "util.h"

void addr_from_v4(uint32_t v4, struct in6_addr *out)
{
	memset(out, 0, sizeof(*out));
	out->s6_addr[10] = 0xff;
	out->s6_addr[11] = 0xff;
	out->s6_addr[12] = (uint8_t)(v4 >> 24);
	out->s6_addr[13] = (uint8_t)(v4 >> 16);
	out->s6_addr[14] = (uint8_t)(v4 >> 8);
	out->s6_addr[15] = (uint8_t)v4;
}

bool addr_is_v4(const struct in6_addr *a)
{
	return IN6_IS_ADDR_V4MAPPED(a);
}

/* The IPv4 address in the last four bytes, in host byte order. */
static uint32_t last_32_bits(const struct in6_addr *a)
{
	return (uint32_t)a->s6_addr[12] << 24 | (uint32_t)a->s6_addr[13] << 16 |
	       (uint32_t)a->s6_addr[14] << 8 | a->s6_addr[15];
}

uint32_t addr_v4(const struct in6_addr *a)
{
	return last_32_bits(a);
}

int addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct in6_addr *addr, uint16_t *port)
{
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		addr_from_v4(ntohl(sin->sin_addr.s_addr), addr);
		*port = ntohs(sin->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		*addr = sin6->sin6_addr;
		*port = ntohs(sin6->sin6_port);
		return 0;
	}
	return -1;
}

socklen_t addr_to_sockaddr(const struct in6_addr *addr, uint16_t port, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (addr_is_v4(addr)) {
		struct sockaddr_in *sin = (struct sockaddr_in *)out;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(addr_v4(addr));
		return sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = *addr;
		return sizeof(*sin6);
	}
}

bool addr_parse(const char *text, size_t len, struct in6_addr *out)
{
	char buf[INET6_ADDRSTRLEN];
	struct in_addr v4;

	if (len == 0 || len >= sizeof(buf) || memchr(text, '\0', len))
		return false;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, &v4) == 1) {
		addr_from_v4(ntohl(v4.s_addr), out);
		return true;
	}
	return inet_pton(AF_INET6, buf, out) == 1;
}

void addr_format(const struct in6_addr *addr, uint16_t port, char out[ADDR_TEXT_MAX])
{
	char host[INET6_ADDRSTRLEN];

	if (addr_is_v4(addr)) {
		inet_ntop(AF_INET, &addr->s6_addr[12], host, sizeof(host));
		if (port)
			snprintf(out, ADDR_TEXT_MAX, "%s:%u", host, port);
		else
			snprintf(out, ADDR_TEXT_MAX, "%s", host);
	} else {
		inet_ntop(AF_INET6, addr, host, sizeof(host));
		if (port)
			snprintf(out, ADDR_TEXT_MAX, "[%s]:%u", host, port);
		else
			snprintf(out, ADDR_TEXT_MAX, "%s", host);
	}
}

static bool in_v4_net(uint32_t a, uint32_t net, int bits)
{
	uint32_t mask = bits ? 0xffffffffu << (32 - bits) : 0;

	return (a & mask) == net;
}

static enum addr_class classify_v4(uint32_t a)
{
	if (in_v4_net(a, 0x00000000u, 8))
		return ADDR_UNSPECIFIED;
	if (in_v4_net(a, 0x7f000000u, 8))
		return ADDR_LOOPBACK;
	/* The metadata addresses sit inside link-local and shared space: test them first. */
	if (a == 0xa9fea9feu /* 169.254.169.254 */ || a == 0x646464c8u /* 100.100.100.200 */)
		return ADDR_METADATA;
	if (in_v4_net(a, 0xa9fe0000u, 16))
		return ADDR_LINK_LOCAL;
	if (in_v4_net(a, 0x0a000000u, 8) || in_v4_net(a, 0xac100000u, 12) ||
	    in_v4_net(a, 0xc0a80000u, 16) || in_v4_net(a, 0x64400000u, 10))
		return ADDR_PRIVATE;
	if (in_v4_net(a, 0xe0000000u, 4))
		return ADDR_MULTICAST;
	if (a == 0xffffffffu)
		return ADDR_BROADCAST;
	if (in_v4_net(a, 0xf0000000u, 4))
		return ADDR_RESERVED;
	return ADDR_PUBLIC;
}

static bool bytes_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * An IPv6 address that carries an IPv4 one: the IPv4 address's class when it
 * is anything but public, else if_public (what the carrying form itself is).
 */
static enum addr_class classify_carried_v4(uint32_t v4, enum addr_class if_public)
{
	enum addr_class c = classify_v4(v4);

	return c == ADDR_PUBLIC ? if_public : c;
}

enum addr_class addr_classify(const struct in6_addr *a)
{
	const uint8_t *b = a->s6_addr;

	if (addr_is_v4(a))
		return classify_v4(last_32_bits(a));
	if (IN6_IS_ADDR_UNSPECIFIED(a))
		return ADDR_UNSPECIFIED;
	if (IN6_IS_ADDR_LOOPBACK(a))
		return ADDR_LOOPBACK;
	/* ::a.b.c.d (IPv4-compatible, deprecated): never routed as such. */
	if (bytes_zero(b, 12))
		return classify_carried_v4(last_32_bits(a), ADDR_RESERVED);
	/* ::ffff:0:a.b.c.d (SIIT, RFC 6052's neighbour): a translator's local form. */
	if (bytes_zero(b, 8) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0)
		return classify_carried_v4(last_32_bits(a), ADDR_RESERVED);
	/* 64:ff9b::/96, NAT64's well-known prefix: reaches the IPv4 address through a translator. */
	if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && bytes_zero(b + 4, 8))
		return classify_carried_v4(last_32_bits(a), ADDR_PUBLIC);
	/* 64:ff9b:1::/48, local-use NAT64 (RFC 8215): a private translator. */
	if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0x00 && b[5] == 0x01)
		return classify_carried_v4(last_32_bits(a), ADDR_PRIVATE);
	/* 2002::/16, 6to4: the IPv4 address follows the prefix. */
	if (b[0] == 0x20 && b[1] == 0x02) {
		uint32_t v4 = (uint32_t)b[2] << 24 | (uint32_t)b[3] << 16 | (uint32_t)b[4] << 8 | b[5];

		return classify_carried_v4(v4, ADDR_PUBLIC);
	}
	/* 2001::/32, Teredo: the client's IPv4 address is obfuscated; not worth trusting. */
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00)
		return ADDR_RESERVED;
	/* 100::/64, the discard prefix. */
	if (b[0] == 0x01 && b[1] == 0x00 && bytes_zero(b + 2, 6))
		return ADDR_RESERVED;
	if (b[0] == 0xff)
		return ADDR_MULTICAST;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return ADDR_LINK_LOCAL;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) /* fec0::/10, site-local (deprecated) */
		return ADDR_PRIVATE;
	if ((b[0] & 0xfe) == 0xfc) {
		static const uint8_t aws_metadata[16] = { 0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0,
							  0,    0,    0,    0,    0, 0, 0x02, 0x54 };

		if (!memcmp(b, aws_metadata, 16))
			return ADDR_METADATA;
		return ADDR_PRIVATE;
	}
	return ADDR_PUBLIC;
}

const char *addr_class_reason(enum addr_class c)
{
	switch (c) {
	case ADDR_PUBLIC:
		return NULL;
	case ADDR_PRIVATE:
		return "private address";
	case ADDR_LOOPBACK:
		return "loopback address";
	case ADDR_UNSPECIFIED:
		return "unspecified address";
	case ADDR_LINK_LOCAL:
		return "link-local address";
	case ADDR_METADATA:
		return "cloud metadata address";
	case ADDR_MULTICAST:
		return "multicast address";
	case ADDR_BROADCAST:
		return "broadcast address";
	case ADDR_RESERVED:
		return "reserved address";
	}
	return "unknown address class";
}

bool addr_is_fake(const struct in6_addr *a)
{
	return addr_is_v4(a) && (addr_v4(a) & NETPROTO_FAKE_MASK) == NETPROTO_FAKE_NET;
}

void addr_set_add(struct addr_set *set, const struct in6_addr *a)
{
	if (addr_set_contains(set, a))
		return;
	ALLOC_GROW(set->v, set->nr, set->alloc);
	set->v[set->nr++] = *a;
}

bool addr_set_contains(const struct addr_set *set, const struct in6_addr *a)
{
	for (size_t i = 0; i < set->nr; i++)
		if (!memcmp(&set->v[i], a, sizeof(*a)))
			return true;
	return false;
}

void addr_set_release(struct addr_set *set)
{
	free(set->v);
	set->v = NULL;
	set->nr = set->alloc = 0;
}
