/*
 * net.h: an agent's network, as au sees it: the four modes, the allow list
 * (patterns checked by au-netproxy's own parser, netproxy/pattern.c), the
 * policy message au sends to the proxy, the ports its listeners need, and
 * the proxy variables the agent gets.
 *
 *	none   a network namespace with loopback only
 *	allow  only the listed destinations, through au-netproxy
 *	all    any public destination, through au-netproxy (the default)
 *	host   the host's network, as the agent's uid: no namespace, no proxy
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "pattern.h"

struct agent;
struct strbuf;
struct strvec;

enum au_net_mode {
	AU_NET_ALL = 0, /* an agent without "net_mode" */
	AU_NET_ALLOW,
	AU_NET_NONE,
	AU_NET_HOST,
};

#define AU_NET_MODE_NAMES "none, allow, all or host"

/* The mode's name, as in the config and on the command line. */
const char *au_net_mode_name(enum au_net_mode mode);
/* Returns 0, or -1 for a name that is not a mode. */
int au_net_mode_parse(const char *name, enum au_net_mode *mode);
/* The agent's mode: its "net_mode", or all. */
enum au_net_mode agent_net_mode(const struct agent *a);
/* Modes in which au-netproxy serves the agent. */
bool au_net_mode_has_proxy(enum au_net_mode mode);

/*
 * Checks a pattern with the proxy's parser and writes its canonical text.
 * Returns 0, or -1 with *why set to a static reason.
 */
int au_net_pattern_canonical(const char *text, char out[NET_PATTERN_TEXT_MAX], const char **why);

/*
 * The port a pattern needs a capture listener for (its ":PORT"), or 0: none
 * asked, or one the agent's namespace cannot capture because the DNS stub
 * or a proxy listens there (53, 1080, 3128).
 */
unsigned short au_net_capture_port(const char *pattern);
/* 53, 1080 and 3128: reachable through the proxies, never by capture. */
bool au_net_port_is_proxys(unsigned short port);

/*
 * The policy message for au-netproxy (netproxy/policy.h): mode allow or
 * all, the agent, the run id and each pattern. Returns 0, or -1 with why
 * when the proxy would refuse it (a name it cannot carry, too long).
 */
int au_net_policy(enum au_net_mode mode, const char *agent, const char *run, char *const *patterns,
		  size_t nr_patterns, struct strbuf *out, struct strbuf *why);

/*
 * The checks "au net allow" makes before it stores anything: every capture
 * port fits among the entrypoint's listeners and the policy fits in one
 * message. Returns 0, or -1 with why.
 */
int au_net_check_list(const char *agent, char *const *patterns, size_t nr_patterns, struct strbuf *why);

/*
 * The variables that point the agent's tools at the proxy, "KEY=VALUE":
 * HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY, and their lowercase forms.
 * NO_PROXY keeps the agent's own loopback (its test servers) direct.
 */
extern const char *const au_net_proxy_env[];
/* Is KEY one of those (which au sets in modes allow and all)? */
bool au_net_is_proxy_var(const char *key);
