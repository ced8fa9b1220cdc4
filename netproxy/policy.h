/*
 * policy.h: the policy message au sends, and the decisions made from it.
 *
 * One policy for every entry path (HTTP CONNECT, absolute URIs, SOCKS5,
 * captured connections, DNS): each path only turns what the agent sent into
 * a struct dest, and the same two checks decide. First the destination as
 * named (policy_check_dest), then each address it resolved to, just before
 * that very address is dialed (policy_check_address).
 *
 * The message (lines ending in "\n", in this order, nothing else):
 *	au-netproxy 1
 *	mode allow|all
 *	agent NAME
 *	run RUNID
 *	allow PATTERN        zero or more (pattern.h)
 *	end
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "fakeip.h"
#include "netproto.h"
#include "pattern.h"
#include "util.h"

enum net_mode {
	NET_MODE_ALLOW, /* only listed destinations */
	NET_MODE_ALL,   /* any name; the address rules still apply */
};

struct policy {
	enum net_mode mode;
	char agent[NETPROTO_AGENT_MAX + 1];
	char run[NETPROTO_RUN_MAX + 1];
	struct net_pattern *patterns;
	size_t nr_patterns, alloc_patterns;
};
#define POLICY_INIT { NET_MODE_ALLOW, "", "", NULL, 0, 0 }

/*
 * Parses the whole message; any error rejects all of it. Returns 0, or -1
 * with *err set to an allocated "line N: why" message. On error *policy is
 * left released.
 */
int policy_parse(const char *msg, size_t len, struct policy *policy, char **err);
void policy_release(struct policy *policy);

enum dest_kind {
	DEST_NAME,      /* a host name, resolved by the proxy */
	DEST_LOCALHOST, /* the human's own loopback, allowed port by port */
	DEST_ADDRESS,   /* an IP literal the agent gave */
};

struct dest {
	enum dest_kind kind;
	char name[NET_NAME_MAX + 1]; /* NAME and LOCALHOST */
	struct in6_addr addr;        /* ADDRESS; LOCALHOST when given as 127.0.0.1 or ::1 */
	bool has_addr;
	uint16_t port;
};

/*
 * A destination from text the agent sent (CONNECT authority, URI host, SOCKS
 * domain; IPv6 without brackets). Literals in the fake range become the name
 * they were given for; 127.0.0.1, ::1 and "localhost" become DEST_LOCALHOST.
 * Returns 0, or -1 with *why.
 */
int dest_from_host(const char *host, size_t len, uint16_t port, struct fakeip *fake, struct dest *out,
		   const char **why);
/* The same, from an address (SOCKS IPv4/IPv6, a capture listener's local address). */
int dest_from_address(const struct in6_addr *addr, uint16_t port, struct fakeip *fake, struct dest *out,
		      const char **why);
/* "name:port", "[v6]:port" for the log. */
void dest_format(const struct dest *d, char out[NET_PATTERN_TEXT_MAX]);

/* May this destination be reached at all? NULL if so, else the reason. */
const char *policy_check_dest(const struct policy *policy, const struct dest *d);

/*
 * May this address, which d resolved to (or is), be dialed? is_host_address
 * says it belongs to one of the host's own interfaces. NULL if so, else the
 * reason.
 */
const char *policy_check_address(const struct policy *policy, const struct dest *d,
				 const struct in6_addr *addr, bool is_host_address);

/* Does the DNS stub answer for this canonical name (on any port)? */
bool policy_name_allowed(const struct policy *policy, const char *name);

/* The canonical text of a policy, which policy_parse reads back the same. */
void policy_format(const struct policy *policy, struct strbuf *out);
