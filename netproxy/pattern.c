/*
 * pattern.c: host names and allow-list patterns (see pattern.h).
 *
 * Why so strict: a pattern is the human's whole statement of where the agent
 * may go, and the name it is matched against comes from the agent. Anything
 * two readers could understand differently (a wildcard in the middle, an
 * unbracketed IPv6 literal, "127.1" as a name, an empty label) is refused
 * here, so that the matcher only ever compares canonical forms.
 */
#include "pattern.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex_digit(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

/* A label that getaddrinfo's inet_aton would read as a number: 127, 0x7f, 0177. */
static bool label_is_numeric(const char *label, size_t len)
{
	size_t i = 0;

	if (len > 2 && label[0] == '0' && label[1] == 'x') {
		for (i = 2; i < len && is_hex_digit(label[i]); i++)
			;
		return i == len;
	}
	for (i = 0; i < len && is_digit(label[i]); i++)
		;
	return i == len;
}

int net_name_normalize(const char *in, size_t len, char out[NET_NAME_MAX + 1], const char **why)
{
	size_t label_start = 0;

	if (len && in[len - 1] == '.')
		len--;
	if (len == 0) {
		*why = "empty host name";
		return -1;
	}
	if (len > NET_NAME_MAX) {
		*why = "host name longer than 253 bytes";
		return -1;
	}
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? in[i] : '.';

		if (c == '.') {
			if (i == label_start) {
				*why = "empty label in host name";
				return -1;
			}
			if (i - label_start > 63) {
				*why = "label longer than 63 bytes in host name";
				return -1;
			}
			label_start = i + 1;
			if (i < len)
				out[i] = '.';
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '-' || c == '_')) {
			*why = "invalid character in host name";
			return -1;
		}
		out[i] = c;
	}
	out[len] = '\0';
	{
		const char *last = strrchr(out, '.');
		const char *label = last ? last + 1 : out;

		if (label_is_numeric(label, strlen(label))) {
			*why = "a numeric address is not a host name";
			return -1;
		}
	}
	return 0;
}

int net_port_parse(const char *s, size_t len, uint16_t *port)
{
	unsigned long v = 0;

	if (len == 0 || len > 5 || s[0] == '0')
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/*
 * Literals that name no single reachable host, or name the proxy's own fake
 * range, judged by the same classes the proxy applies (so [::f00], an
 * IPv4-compatible 0.0.15.0, is as unspecified as 0.0.15.0).
 */
static const char *literal_refusal(const struct in6_addr *a)
{
	switch (addr_classify(a)) {
	case ADDR_UNSPECIFIED:
		return "an unspecified address names no host";
	case ADDR_MULTICAST:
		return "a multicast address names no single host";
	case ADDR_BROADCAST:
		return "the broadcast address names no single host";
	default:
		break;
	}
	if (addr_is_fake(a))
		return "127.1.0.0/16 holds au's fake addresses; list the name instead";
	return NULL;
}

static int parse_address(const char *host, size_t len, bool bracketed, struct net_pattern *out,
			 const char **why)
{
	char text[INET6_ADDRSTRLEN];
	struct in_addr v4;

	if (len >= sizeof(text)) {
		*why = "address too long";
		return -1;
	}
	memcpy(text, host, len);
	text[len] = '\0';
	memset(&out->addr, 0, sizeof(out->addr));
	if (bracketed) {
		if (strchr(text, '%')) {
			*why = "IPv6 zone ids are not supported";
			return -1;
		}
		if (inet_pton(AF_INET6, text, &out->addr) != 1) {
			*why = "invalid IPv6 address";
			return -1;
		}
	} else {
		if (inet_pton(AF_INET, text, &v4) != 1) {
			*why = "invalid IPv4 address";
			return -1;
		}
		out->addr.s6_addr[10] = 0xff;
		out->addr.s6_addr[11] = 0xff;
		memcpy(&out->addr.s6_addr[12], &v4, 4);
	}
	*why = literal_refusal(&out->addr);
	if (*why)
		return -1;
	out->kind = NET_PATTERN_ADDRESS;
	return 0;
}

/* Dotted digits only: meant as an IPv4 literal, even when it is not a valid one. */
static bool looks_like_ipv4(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_digit(s[i]) && s[i] != '.')
			return false;
	return len > 0;
}

int net_pattern_parse(const char *text, struct net_pattern *out, const char **why)
{
	size_t len = strlen(text);
	const char *host = text, *port_text = NULL;
	size_t host_len, port_len = 0;
	bool bracketed = false;

	memset(out, 0, sizeof(*out));
	if (len == 0) {
		*why = "empty pattern";
		return -1;
	}
	if (len >= NET_PATTERN_TEXT_MAX) {
		*why = "pattern too long";
		return -1;
	}

	/* Split host and port: "[v6]:port", or "host:port" with a single colon. */
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close) {
			*why = "'[' without ']'";
			return -1;
		}
		bracketed = true;
		host = text + 1;
		host_len = (size_t)(close - host);
		if (close[1] == ':') {
			port_text = close + 2;
		} else if (close[1] != '\0') {
			*why = "only ':PORT' may follow ']'";
			return -1;
		}
	} else {
		const char *colon = strchr(text, ':');

		if (colon && strchr(colon + 1, ':')) {
			*why = "an IPv6 address must be in brackets: [ADDRESS] or [ADDRESS]:PORT";
			return -1;
		}
		host_len = colon ? (size_t)(colon - text) : len;
		if (colon)
			port_text = colon + 1;
	}
	if (port_text) {
		port_len = strlen(port_text);
		if (net_port_parse(port_text, port_len, &out->port) < 0) {
			*why = "the port must be a number from 1 to 65535";
			return -1;
		}
	}

	if (bracketed)
		return parse_address(host, host_len, true, out, why);
	if (looks_like_ipv4(host, host_len))
		return parse_address(host, host_len, false, out, why);

	if (host_len == 1 && host[0] == '*') {
		*why = "'*' alone would allow everything; use 'au net mode all' for that";
		return -1;
	}
	if (host_len >= 2 && host[0] == '*' && host[1] == '.') {
		if (memchr(host + 2, '*', host_len - 2)) {
			*why = "'*' may only start a pattern, as in '*.example.com'";
			return -1;
		}
		if (net_name_normalize(host + 2, host_len - 2, out->name, why) < 0)
			return -1;
		if (!strchr(out->name, '.')) {
			*why = "'*.' needs a domain of two labels or more, as in '*.example.com'";
			return -1;
		}
		out->kind = NET_PATTERN_SUBDOMAINS;
		return 0;
	}
	if (memchr(host, '*', host_len)) {
		*why = "'*' may only start a pattern, as in '*.example.com'";
		return -1;
	}
	if (net_name_normalize(host, host_len, out->name, why) < 0)
		return -1;
	if (!strcmp(out->name, "localhost")) {
		if (!out->port) {
			*why = "localhost needs a port: localhost:PORT";
			return -1;
		}
		out->kind = NET_PATTERN_LOCALHOST;
		return 0;
	}
	out->kind = NET_PATTERN_NAME;
	return 0;
}

void net_pattern_format(const struct net_pattern *p, char out[NET_PATTERN_TEXT_MAX])
{
	char host[INET6_ADDRSTRLEN + 2] = "";
	char port[8] = "";

	if (p->port)
		snprintf(port, sizeof(port), ":%u", p->port);
	switch (p->kind) {
	case NET_PATTERN_NAME:
	case NET_PATTERN_LOCALHOST:
		snprintf(out, NET_PATTERN_TEXT_MAX, "%s%s", p->name, port);
		return;
	case NET_PATTERN_SUBDOMAINS:
		snprintf(out, NET_PATTERN_TEXT_MAX, "*.%s%s", p->name, port);
		return;
	case NET_PATTERN_ADDRESS:
		if (addr_is_v4(&p->addr)) {
			inet_ntop(AF_INET, &p->addr.s6_addr[12], host, sizeof(host));
			snprintf(out, NET_PATTERN_TEXT_MAX, "%s%s", host, port);
		} else {
			inet_ntop(AF_INET6, &p->addr, host, sizeof(host));
			snprintf(out, NET_PATTERN_TEXT_MAX, "[%s]%s", host, port);
		}
		return;
	}
	out[0] = '\0';
}

static bool name_is_strict_subdomain(const char *name, const char *parent)
{
	size_t n = strlen(name), p = strlen(parent);

	return n > p + 1 && name[n - p - 1] == '.' && !strcmp(name + n - p, parent);
}

bool net_pattern_matches_name_any_port(const struct net_pattern *p, const char *name)
{
	switch (p->kind) {
	case NET_PATTERN_NAME:
		return !strcmp(p->name, name);
	case NET_PATTERN_SUBDOMAINS:
		return name_is_strict_subdomain(name, p->name);
	case NET_PATTERN_LOCALHOST:
	case NET_PATTERN_ADDRESS:
		return false;
	}
	return false;
}

bool net_pattern_matches_name(const struct net_pattern *p, const char *name, uint16_t port)
{
	if (p->port && p->port != port)
		return false;
	if (p->kind == NET_PATTERN_LOCALHOST)
		return !strcmp(name, "localhost");
	return net_pattern_matches_name_any_port(p, name);
}

bool net_pattern_matches_address(const struct net_pattern *p, const struct in6_addr *addr, uint16_t port)
{
	if (p->kind != NET_PATTERN_ADDRESS)
		return false;
	if (p->port && p->port != port)
		return false;
	return !memcmp(&p->addr, addr, sizeof(*addr));
}
