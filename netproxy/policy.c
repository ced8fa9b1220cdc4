/*
 * policy.c: the policy message and the two checks (see policy.h).
 *
 * The order of the checks is the design. The name comes first: refusals
 * that hold whatever is listed (an unknown fake address, an unlisted
 * localhost port), then the allow list, exact or "*." suffix, then the port.
 * Then every resolved address on its own, since a name the human allowed
 * may still resolve to the host's loopback, its LAN or a metadata service.
 */
#include "policy.h"

#include <stdio.h>
#include <string.h>

static bool valid_token_char(char c, bool colon_ok)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '-' || c == '.' || (colon_ok && c == ':');
}

/* An agent name or run id: a short printable token, copied into out. */
static int parse_token(const char *s, size_t len, size_t max, bool colon_ok, char *out)
{
	if (len == 0 || len > max || s[0] == '-')
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!valid_token_char(s[i], colon_ok))
			return -1;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/* "WORD VALUE": *value points past the single space. */
static bool line_is(const char *line, size_t len, const char *word, const char **value, size_t *value_len)
{
	size_t n = strlen(word);

	if (len <= n + 1 || memcmp(line, word, n) || line[n] != ' ')
		return false;
	*value = line + n + 1;
	*value_len = len - n - 1;
	return true;
}

enum policy_step { STEP_MAGIC, STEP_MODE, STEP_AGENT, STEP_RUN, STEP_ALLOW, STEP_DONE };

static const char *parse_line(const char *line, size_t len, enum policy_step *step, struct policy *policy)
{
	const char *value;
	size_t value_len;

	if (memchr(line, '\0', len) || memchr(line, '\r', len))
		return "NUL or CR in the line";
	switch (*step) {
	case STEP_MAGIC:
		if (len != strlen(NETPROTO_POLICY_MAGIC) || memcmp(line, NETPROTO_POLICY_MAGIC, len))
			return "expected '" NETPROTO_POLICY_MAGIC "'";
		*step = STEP_MODE;
		return NULL;
	case STEP_MODE:
		if (!line_is(line, len, "mode", &value, &value_len))
			return "expected 'mode allow' or 'mode all'";
		if (value_len == 5 && !memcmp(value, "allow", 5))
			policy->mode = NET_MODE_ALLOW;
		else if (value_len == 3 && !memcmp(value, "all", 3))
			policy->mode = NET_MODE_ALL;
		else
			return "expected 'mode allow' or 'mode all'";
		*step = STEP_AGENT;
		return NULL;
	case STEP_AGENT:
		if (!line_is(line, len, "agent", &value, &value_len) ||
		    parse_token(value, value_len, NETPROTO_AGENT_MAX, false, policy->agent) < 0)
			return "expected 'agent NAME'";
		*step = STEP_RUN;
		return NULL;
	case STEP_RUN:
		if (!line_is(line, len, "run", &value, &value_len) ||
		    parse_token(value, value_len, NETPROTO_RUN_MAX, true, policy->run) < 0)
			return "expected 'run RUNID'";
		*step = STEP_ALLOW;
		return NULL;
	case STEP_ALLOW: {
		char text[NET_PATTERN_TEXT_MAX];
		struct net_pattern p;
		const char *why;

		if (len == 3 && !memcmp(line, "end", 3)) {
			*step = STEP_DONE;
			return NULL;
		}
		if (!line_is(line, len, "allow", &value, &value_len))
			return "expected 'allow PATTERN' or 'end'";
		if (value_len >= sizeof(text))
			return "pattern too long";
		memcpy(text, value, value_len);
		text[value_len] = '\0';
		if (net_pattern_parse(text, &p, &why) < 0)
			return why;
		ALLOC_GROW(policy->patterns, policy->nr_patterns, policy->alloc_patterns);
		policy->patterns[policy->nr_patterns++] = p;
		return NULL;
	}
	case STEP_DONE:
		return "nothing may follow 'end'";
	}
	return "internal error";
}

int policy_parse(const char *msg, size_t len, struct policy *policy, char **err)
{
	enum policy_step step = STEP_MAGIC;
	size_t pos = 0;
	int line_no = 0;

	*policy = (struct policy)POLICY_INIT;
	*err = NULL;
	if (len > NETPROTO_POLICY_MAX) {
		*err = xasprintf("policy message longer than %d bytes", NETPROTO_POLICY_MAX);
		return -1;
	}
	while (pos < len) {
		const char *line = msg + pos;
		const char *eol = memchr(line, '\n', len - pos);
		const char *why;

		line_no++;
		if (!eol) {
			*err = xasprintf("line %d: no newline at the end", line_no);
			goto fail;
		}
		why = parse_line(line, (size_t)(eol - line), &step, policy);
		if (why) {
			*err = xasprintf("line %d: %s", line_no, why);
			goto fail;
		}
		pos = (size_t)(eol - msg) + 1;
	}
	if (step != STEP_DONE) {
		*err = xasprintf("line %d: the message ends before 'end'", line_no + 1);
		goto fail;
	}
	return 0;
fail:
	policy_release(policy);
	return -1;
}

void policy_release(struct policy *policy)
{
	free(policy->patterns);
	*policy = (struct policy)POLICY_INIT;
}

void policy_format(const struct policy *policy, struct strbuf *out)
{
	strbuf_addf(out, "%s\nmode %s\nagent %s\nrun %s\n", NETPROTO_POLICY_MAGIC,
		    policy->mode == NET_MODE_ALL ? "all" : "allow", policy->agent, policy->run);
	for (size_t i = 0; i < policy->nr_patterns; i++) {
		char text[NET_PATTERN_TEXT_MAX];

		net_pattern_format(&policy->patterns[i], text);
		strbuf_addf(out, "allow %s\n", text);
	}
	strbuf_addstr(out, "end\n");
}

static bool is_localhost_address(const struct in6_addr *a)
{
	return IN6_IS_ADDR_LOOPBACK(a) || (addr_is_v4(a) && addr_v4(a) == 0x7f000001u);
}

int dest_from_address(const struct in6_addr *addr, uint16_t port, struct fakeip *fake, struct dest *out,
		      const char **why)
{
	memset(out, 0, sizeof(*out));
	out->port = port;
	if (port == 0) {
		*why = "port 0";
		return -1;
	}
	if (addr_is_fake(addr)) {
		if (!fake || !fakeip_lookup(fake, addr_v4(addr), out->name)) {
			*why = "fake address given to no name";
			return -1;
		}
		out->kind = strcmp(out->name, "localhost") ? DEST_NAME : DEST_LOCALHOST;
		return 0;
	}
	out->addr = *addr;
	out->has_addr = true;
	if (is_localhost_address(addr)) {
		out->kind = DEST_LOCALHOST;
		strcpy(out->name, "localhost");
		return 0;
	}
	out->kind = DEST_ADDRESS;
	return 0;
}

int dest_from_host(const char *host, size_t len, uint16_t port, struct fakeip *fake, struct dest *out,
		   const char **why)
{
	struct in6_addr addr;

	if (addr_parse(host, len, &addr))
		return dest_from_address(&addr, port, fake, out, why);
	memset(out, 0, sizeof(*out));
	out->port = port;
	if (port == 0) {
		*why = "port 0";
		return -1;
	}
	if (net_name_normalize(host, len, out->name, why) < 0)
		return -1;
	out->kind = strcmp(out->name, "localhost") ? DEST_NAME : DEST_LOCALHOST;
	return 0;
}

void dest_format(const struct dest *d, char out[NET_PATTERN_TEXT_MAX])
{
	char addr[ADDR_TEXT_MAX];

	if (d->kind == DEST_ADDRESS) {
		addr_format(&d->addr, d->port, addr);
		snprintf(out, NET_PATTERN_TEXT_MAX, "%s", addr);
	} else {
		snprintf(out, NET_PATTERN_TEXT_MAX, "%s:%u", d->name, d->port);
	}
}

const char *policy_check_dest(const struct policy *policy, const struct dest *d)
{
	const struct net_pattern *p = policy->patterns;
	size_t n = policy->nr_patterns;

	switch (d->kind) {
	case DEST_LOCALHOST:
		/* In every mode: the human's local ports are reached only on purpose. */
		for (size_t i = 0; i < n; i++)
			if (p[i].kind == NET_PATTERN_LOCALHOST && p[i].port == d->port)
				return NULL;
		return "localhost port not listed";
	case DEST_NAME:
		if (policy->mode == NET_MODE_ALL)
			return NULL;
		for (size_t i = 0; i < n; i++)
			if (net_pattern_matches_name(&p[i], d->name, d->port))
				return NULL;
		return "not in allow list";
	case DEST_ADDRESS:
		if (policy->mode == NET_MODE_ALL)
			return NULL;
		for (size_t i = 0; i < n; i++)
			if (net_pattern_matches_address(&p[i], &d->addr, d->port))
				return NULL;
		return "not in allow list";
	}
	return "unknown destination";
}

const char *policy_check_address(const struct policy *policy, const struct dest *d,
				 const struct in6_addr *addr, bool is_host_address)
{
	enum addr_class c = addr_classify(addr);

	/* An address the human listed, with its port, is reached whatever it is. */
	for (size_t i = 0; i < policy->nr_patterns; i++)
		if (net_pattern_matches_address(&policy->patterns[i], addr, d->port))
			return NULL;
	/* localhost:PORT, once allowed, dials the host's own loopback and nothing else. */
	if (d->kind == DEST_LOCALHOST)
		return is_localhost_address(addr) ? NULL : "localhost resolved to another address";
	if (c != ADDR_PUBLIC && c != ADDR_PRIVATE)
		return addr_class_reason(c);
	if (is_host_address)
		return "address of this host";
	/* The LAN only for a name the human listed (allow mode lists every name it reaches). */
	if (c == ADDR_PRIVATE && !(policy->mode == NET_MODE_ALLOW && d->kind == DEST_NAME))
		return addr_class_reason(c);
	return NULL;
}

bool policy_name_allowed(const struct policy *policy, const char *name)
{
	if (policy->mode == NET_MODE_ALL)
		return true;
	for (size_t i = 0; i < policy->nr_patterns; i++)
		if (net_pattern_matches_name_any_port(&policy->patterns[i], name))
			return true;
	return false;
}
