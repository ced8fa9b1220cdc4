/*
 * pattern.h: host names and allow-list patterns, parsed and matched.
 *
 * Pure functions (no I/O, no allocation), so that au can link pattern.c
 * and addr.c to check "au net allow" input with the very parser the proxy
 * uses, and a fuzzer can drive it.
 *
 * A pattern is one of:
 *	example.com[:PORT]        that name only
 *	*.example.com[:PORT]      strict subdomains (a.example.com, a.b.example.com), never the apex
 *	localhost:PORT            the human's own local port, on purpose (a port is required)
 *	192.0.2.7[:PORT]          an IPv4 literal
 *	[2001:db8::7][:PORT]      an IPv6 literal, always bracketed
 * No port means any port. Upper case is folded and a trailing dot is dropped.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest host name, without its trailing dot (RFC 1035). */
#define NET_NAME_MAX 253
/* Room for any pattern's canonical text: "*.", a name, ":65535", NUL. */
#define NET_PATTERN_TEXT_MAX (NET_NAME_MAX + 16)

enum net_pattern_kind {
	NET_PATTERN_NAME,
	NET_PATTERN_SUBDOMAINS,
	NET_PATTERN_LOCALHOST,
	NET_PATTERN_ADDRESS,
};

struct net_pattern {
	enum net_pattern_kind kind;
	/* NAME: the name; SUBDOMAINS: the parent ("example.com"); LOCALHOST: "localhost". */
	char name[NET_NAME_MAX + 1];
	/* ADDRESS: the literal, IPv4 as ::ffff:a.b.c.d. */
	struct in6_addr addr;
	/* 0: any port. */
	uint16_t port;
};

/*
 * Checks a host name and writes its canonical form to out: lower case, no
 * trailing dot. Labels are 1 to 63 bytes of [a-z0-9_-]; a name whose last
 * label is numeric is refused (a numeric address is not a name, and
 * getaddrinfo would read "127.1" or "0x7f000001" as one). Returns 0, or -1
 * with *why set to a static reason.
 */
int net_name_normalize(const char *in, size_t len, char out[NET_NAME_MAX + 1], const char **why);

/*
 * Parses a pattern (NUL-terminated, no surrounding space). Returns 0, or -1
 * with *why set to a static reason fit for "au: bad pattern 'x': WHY".
 */
int net_pattern_parse(const char *text, struct net_pattern *out, const char **why);

/* The canonical text of a pattern, which net_pattern_parse reads back the same. */
void net_pattern_format(const struct net_pattern *p, char out[NET_PATTERN_TEXT_MAX]);

/* Does a NAME, SUBDOMAINS or LOCALHOST pattern cover this canonical name and port? */
bool net_pattern_matches_name(const struct net_pattern *p, const char *name, uint16_t port);
/* Does a NAME or SUBDOMAINS pattern cover this name on some port? (The DNS stub's question.) */
bool net_pattern_matches_name_any_port(const struct net_pattern *p, const char *name);
/* Does an ADDRESS pattern cover this address (IPv4 as ::ffff:a.b.c.d) and port? */
bool net_pattern_matches_address(const struct net_pattern *p, const struct in6_addr *addr, uint16_t port);

/* Parses a decimal port, 1 to 65535, without sign or leading zeros. */
int net_port_parse(const char *s, size_t len, uint16_t *port);
