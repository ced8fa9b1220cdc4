/*
 * addr.h: IP addresses as the policy sees them: one form for both families,
 * what kind of address each is, and how it is printed.
 *
 * Every address is a struct in6_addr, IPv4 as ::ffff:a.b.c.d, so that a
 * check written once covers both families and the mapped forms an attacker
 * would use to slip an IPv4 address past an IPv4-only test.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "[ffff:...:ffff]:65535" and a NUL. */
#define ADDR_TEXT_MAX (INET6_ADDRSTRLEN + 8)

enum addr_class {
	ADDR_PUBLIC,
	ADDR_PRIVATE,     /* 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7, fec0::/10 */
	ADDR_LOOPBACK,    /* 127/8, ::1 */
	ADDR_UNSPECIFIED, /* 0/8, :: */
	ADDR_LINK_LOCAL,  /* 169.254/16, fe80::/10 */
	ADDR_METADATA,    /* 169.254.169.254, fd00:ec2::254, 100.100.100.200 */
	ADDR_MULTICAST,   /* 224/4, ff00::/8 */
	ADDR_BROADCAST,   /* 255.255.255.255 */
	ADDR_RESERVED,    /* 240/4, and IPv6 forms that hide an IPv4 address we cannot check */
};

/* IPv4 in host byte order as ::ffff:a.b.c.d, and back. */
void addr_from_v4(uint32_t v4, struct in6_addr *out);
bool addr_is_v4(const struct in6_addr *a);
uint32_t addr_v4(const struct in6_addr *a);

/* From a sockaddr_in or sockaddr_in6; -1 for any other family. */
int addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct in6_addr *addr, uint16_t *port);
/* To a sockaddr for connect(): AF_INET for IPv4, else AF_INET6. Returns its length. */
socklen_t addr_to_sockaddr(const struct in6_addr *addr, uint16_t port, struct sockaddr_storage *out);

/* An IPv4 or IPv6 literal, without brackets. */
bool addr_parse(const char *text, size_t len, struct in6_addr *out);

/* "1.2.3.4:80", "[::1]:22"; without ":port" when port is 0. */
void addr_format(const struct in6_addr *addr, uint16_t port, char out[ADDR_TEXT_MAX]);

/*
 * What kind of address this is. IPv6 forms that carry an IPv4 address
 * (IPv4-compatible, SIIT, NAT64 64:ff9b::/96, 6to4) are classified by the
 * IPv4 address inside them.
 */
enum addr_class addr_classify(const struct in6_addr *a);
/* A short reason for the log: "loopback address". NULL for ADDR_PUBLIC. */
const char *addr_class_reason(enum addr_class c);

/* In 127.1.0.0/16, the DNS stub's fake addresses (netproto.h)? */
bool addr_is_fake(const struct in6_addr *a);

/* A growable set of addresses (the host's own interfaces). */
struct addr_set {
	struct in6_addr *v;
	size_t nr, alloc;
};
#define ADDR_SET_INIT { NULL, 0, 0 }
void addr_set_add(struct addr_set *set, const struct in6_addr *a);
bool addr_set_contains(const struct addr_set *set, const struct in6_addr *a);
void addr_set_release(struct addr_set *set);
