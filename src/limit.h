/*
 * limit.h: the resource limits of an agent's runs ("au limit", "au run
 * --limit"), written KEY=VALUE as the human types them and stored so in the
 * agent's "limits" config key; and the usage line that "au run --stats"
 * prints from the entrypoint's report.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct strbuf;
struct su_usage;

enum limit_key {
	LIMIT_MEMORY, /* bytes, swap included */
	LIMIT_CPU,    /* percent of one CPU */
	LIMIT_TASKS,  /* processes and threads at once */
	LIMIT_KEYS
};

/* The limits of one run; 0 is no limit. */
struct limits {
	unsigned long long value[LIMIT_KEYS];
};

/* "memory", "cpu", "tasks". */
const char *limit_name(enum limit_key key);

/* The key named by the first len bytes of name; false when there is none. */
bool limit_key_from_name(const char *name, size_t len, enum limit_key *key);

/*
 * Parses "KEY=VALUE": memory=SIZE (bytes, or K, M, G, T: powers of 1024),
 * cpu=PERCENT% (of one CPU), tasks=N, or KEY=max for no limit (*value 0).
 * The bounds are the entrypoint's. Returns 0, or -1 with a one-line reason.
 */
int limit_parse(const char *entry, enum limit_key *key, unsigned long long *value, struct strbuf *why);

/* limit_parse(), then the value goes into l (replacing the key's). */
int limits_set(struct limits *l, const char *entry, struct strbuf *why);

/*
 * The usage line, without "au: ": "usage: wall 2.01 s, CPU 0.40 s (user
 * 0.35 s, system 0.05 s), peak memory 104.2 MiB, peak tasks 3", then ", 1
 * OOM kill" when there was one. What was not measured is left out.
 */
void usage_line(struct strbuf *sb, const struct su_usage *u);

/* "memory 16.0 GiB, cpu 150%, tasks 512", or "none". */
void limits_describe(struct strbuf *sb, const struct limits *l);

/* Where the run lived, for au run -v: "a cgroup of its own (cgroup v1 and v2)". */
void usage_placement(struct strbuf *sb, const struct su_usage *u);
