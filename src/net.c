/* net.c: an agent's network mode, allow list, policy message and proxy variables (see net.h). */
#include "net.h"
#include "config.h"
#include "entrypoint.h"
#include "netproto.h"
#include "util.h"

#include <string.h>

static const char *const mode_names[] = {
	[AU_NET_ALL] = "all",
	[AU_NET_ALLOW] = "allow",
	[AU_NET_NONE] = "none",
	[AU_NET_HOST] = "host",
};

const char *au_net_mode_name(enum au_net_mode mode)
{
	return (size_t)mode < ARRAY_SIZE(mode_names) ? mode_names[mode] : "?";
}

int au_net_mode_parse(const char *name, enum au_net_mode *mode)
{
	for (size_t i = 0; i < ARRAY_SIZE(mode_names); i++) {
		if (!strcmp(name, mode_names[i])) {
			*mode = (enum au_net_mode)i;
			return 0;
		}
	}
	return -1;
}

enum au_net_mode agent_net_mode(const struct agent *a)
{
	enum au_net_mode mode = AU_NET_ALL;

	/* The config's reader refused any other value. */
	if (a->net_mode)
		au_net_mode_parse(a->net_mode, &mode);
	return mode;
}

bool au_net_mode_has_proxy(enum au_net_mode mode)
{
	return mode == AU_NET_ALLOW || mode == AU_NET_ALL;
}

int au_net_pattern_canonical(const char *text, char out[NET_PATTERN_TEXT_MAX], const char **why)
{
	struct net_pattern p;

	if (net_pattern_parse(text, &p, why) < 0)
		return -1;
	net_pattern_format(&p, out);
	return 0;
}

bool au_net_port_is_proxys(unsigned short port)
{
	return port == SU_NET_PORT_DNS || port == SU_NET_PORT_HTTP || port == SU_NET_PORT_SOCKS;
}

unsigned short au_net_capture_port(const char *pattern)
{
	struct net_pattern p;
	const char *why;

	if (net_pattern_parse(pattern, &p, &why) < 0 || au_net_port_is_proxys(p.port))
		return 0;
	return p.port;
}

/* What the proxy's policy reader takes for an agent name or a run id (netproxy/policy.c). */
static bool policy_token(const char *s, size_t max, bool colon_ok)
{
	size_t len = strlen(s);

	if (len == 0 || len > max || s[0] == '-')
		return false;
	for (const char *c = s; *c; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '_' || *c == '-' || *c == '.' || (colon_ok && *c == ':')))
			return false;
	}
	return true;
}

int au_net_policy(enum au_net_mode mode, const char *agent, const char *run, char *const *patterns,
		  size_t nr_patterns, struct strbuf *out, struct strbuf *why)
{
	if (!au_net_mode_has_proxy(mode)) {
		strbuf_addf(why, "mode %s has no proxy", au_net_mode_name(mode));
		return -1;
	}
	if (!policy_token(agent, NETPROTO_AGENT_MAX, false)) {
		autofree char *shown = escape_display(agent);

		strbuf_addf(why, "the agent's name '%s' cannot go in the network log (up to %d of a-z, A-Z, 0-9, "
			    "'_', '-' and '.')", shown, NETPROTO_AGENT_MAX);
		return -1;
	}
	if (!policy_token(run, NETPROTO_RUN_MAX, true)) {
		strbuf_addf(why, "bad run id");
		return -1;
	}
	strbuf_addf(out, "%s\nmode %s\nagent %s\nrun %s\n", NETPROTO_POLICY_MAGIC, au_net_mode_name(mode), agent,
		    run);
	for (size_t i = 0; i < nr_patterns; i++) {
		char canonical[NET_PATTERN_TEXT_MAX];
		const char *reason;

		if (au_net_pattern_canonical(patterns[i], canonical, &reason) < 0) {
			autofree char *shown = escape_display(patterns[i]);

			strbuf_addf(why, "bad pattern '%s': %s", shown, reason);
			return -1;
		}
		strbuf_addf(out, "allow %s\n", canonical);
	}
	strbuf_addstr(out, "end\n");
	if (out->len > NETPROTO_POLICY_MAX) {
		strbuf_addf(why, "the allow list is too long for the proxy (%zu bytes; the limit is %d)", out->len,
			    NETPROTO_POLICY_MAX);
		return -1;
	}
	return 0;
}

int au_net_check_list(const char *agent, char *const *patterns, size_t nr_patterns, struct strbuf *why)
{
	autoeprequest struct ep_request req = EP_REQUEST_INIT;
	autostrbuf struct strbuf policy = STRBUF_INIT;

	for (size_t i = 0; i < nr_patterns; i++)
		ep_request_add_capture_port(&req, au_net_capture_port(patterns[i]));
	if (ep_request_check(&req, why) < 0)
		return -1;
	/* The longest run id the proxy takes: the message must fit whatever run it is for. */
	return au_net_policy(AU_NET_ALLOW, agent, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			     patterns, nr_patterns, &policy, why);
}

#define AU_NET_PROXY_HTTP "http://" SU_NET_LOOPBACK ":3128"
#define AU_NET_PROXY_SOCKS "socks5h://" SU_NET_LOOPBACK ":1080"
/* The agent's own loopback, where its test servers listen: never through the proxy. */
#define AU_NET_NO_PROXY "localhost,127.0.0.1,::1"
_Static_assert(SU_NET_PORT_HTTP == 3128 && SU_NET_PORT_SOCKS == 1080, "the URLs above");

const char *const au_net_proxy_env[] = {
	"HTTP_PROXY=" AU_NET_PROXY_HTTP, "http_proxy=" AU_NET_PROXY_HTTP,
	"HTTPS_PROXY=" AU_NET_PROXY_HTTP, "https_proxy=" AU_NET_PROXY_HTTP,
	"ALL_PROXY=" AU_NET_PROXY_SOCKS, "all_proxy=" AU_NET_PROXY_SOCKS,
	"NO_PROXY=" AU_NET_NO_PROXY, "no_proxy=" AU_NET_NO_PROXY,
	NULL,
};

bool au_net_is_proxy_var(const char *key)
{
	size_t len = strlen(key);

	for (const char *const *e = au_net_proxy_env; *e; e++) {
		if (!strncmp(*e, key, len) && (*e)[len] == '=')
			return true;
	}
	return false;
}
