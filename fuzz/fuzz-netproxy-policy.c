/*
 * fuzz-netproxy-policy.c: libFuzzer harness for the policy message and the
 * allow-list pattern parser (netproxy/policy.c, netproxy/pattern.c).
 *
 * A policy that parses is written back in canonical form, which parses to
 * the same policy; and each of its patterns, formatted, parses back to
 * itself and matches what it should (a name pattern its own name, a
 * "*." pattern a subdomain but never its apex). The first line of the input
 * is also tried as a pattern on its own, the way "au net allow" will.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz-netproxy.h"

#include "../netproxy/policy.c"
#include "../netproxy/pattern.c"
#include "../netproxy/addr.c"
#include "../netproxy/fakeip.c"

static void check_pattern(const struct net_pattern *p)
{
	char text[NET_PATTERN_TEXT_MAX], sub[NET_NAME_MAX + 8];
	struct net_pattern again;
	const char *why;
	uint16_t port = p->port ? p->port : 443;

	net_pattern_format(p, text);
	FUZZ_CHECK(net_pattern_parse(text, &again, &why) == 0, "'%s' does not parse back: %s", text, why);
	FUZZ_CHECK(again.kind == p->kind && again.port == p->port && !strcmp(again.name, p->name) &&
			   !memcmp(&again.addr, &p->addr, sizeof(p->addr)),
		   "'%s' parses back to another pattern", text);
	switch (p->kind) {
	case NET_PATTERN_NAME:
		FUZZ_CHECK(net_pattern_matches_name(p, p->name, port), "'%s' does not match its name", text);
		break;
	case NET_PATTERN_SUBDOMAINS:
		FUZZ_CHECK(!net_pattern_matches_name(p, p->name, port), "'%s' matches its apex", text);
		if (strlen(p->name) + 2 <= NET_NAME_MAX) {
			snprintf(sub, sizeof(sub), "a.%s", p->name);
			FUZZ_CHECK(net_pattern_matches_name(p, sub, port), "'%s' does not match a subdomain", text);
		}
		FUZZ_CHECK(strchr(p->name, '.'), "'%s' is a single-label wildcard", text);
		break;
	case NET_PATTERN_LOCALHOST:
		FUZZ_CHECK(p->port != 0, "localhost without a port");
		break;
	case NET_PATTERN_ADDRESS:
		FUZZ_CHECK(net_pattern_matches_address(p, &p->addr, port), "'%s' does not match its address", text);
		FUZZ_CHECK(!addr_is_fake(&p->addr) && addr_classify(&p->addr) != ADDR_UNSPECIFIED &&
				   addr_classify(&p->addr) != ADDR_MULTICAST,
			   "'%s' names no single host", text);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy policy, again;
	autostrbuf struct strbuf out = STRBUF_INIT, out2 = STRBUF_INIT;
	struct net_pattern p;
	char line[NET_PATTERN_TEXT_MAX + 8];
	const char *eol = memchr(data, '\n', size), *why;
	size_t line_len = eol ? (size_t)(eol - (const char *)data) : size;
	char *err = NULL;

	if (line_len < sizeof(line) && !memchr(data, '\0', line_len)) {
		memcpy(line, data, line_len);
		line[line_len] = '\0';
		if (net_pattern_parse(line, &p, &why) == 0)
			check_pattern(&p);
		else
			FUZZ_CHECK(why && *why, "a refused pattern without a reason");
	}

	if (policy_parse((const char *)data, size, &policy, &err) < 0) {
		FUZZ_CHECK(err && !strncmp(err, "line ", 5), "a refused policy without a line number");
		free(err);
		return 0;
	}
	policy_format(&policy, &out);
	FUZZ_CHECK(policy_parse(out.buf, out.len, &again, &err) == 0, "canonical policy does not parse: %s", err);
	policy_format(&again, &out2);
	FUZZ_CHECK(out.len == out2.len && !memcmp(out.buf, out2.buf, out.len), "canonical policy changes");
	FUZZ_CHECK(again.nr_patterns == policy.nr_patterns && again.mode == policy.mode, "policy changes");
	for (size_t i = 0; i < policy.nr_patterns; i++)
		check_pattern(&policy.patterns[i]);
	policy_release(&again);
	policy_release(&policy);
	return 0;
}
