/*
 * fuzz-entrypoint-args.c: libFuzzer harness for su_parse_args(), the only
 * part of the setuid entrypoint that reads what its caller chose.
 *
 * The input is split on NUL bytes into argv[1..] (argv[0] is fixed; a final
 * NUL ends the last argument rather than starting an empty one). When the
 * parser accepts, what it hands to the privileged code must hold: every
 * mount source below the caller's home, every target and protected path
 * below the agent's home, all in normal form, a command to run, and every
 * pointer one of the argv strings.
 *
 * tests/unit/test-entrypoint-args.c includes this file and drives the same
 * harness with seeded inputs; it defines FUZZ_CHECK to fail a cmocka test.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SU_AS_AGENT_NO_MAIN
#ifndef TARGET_UID
#define TARGET_UID 64000
#define TARGET_GID 64000
#define CALLER_UID 64001
#define AGENT_NAME "agent"
#define AGENT_HOME "/home/agent"
#define AGENT_SHELL "/bin/bash"
#define CALLER_HOME "/home/alice"
#endif
#include "../entrypoint/su_as_agent.c"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Enough to go past every limit: 1025 -p take 2050 words. */
#define FUZZ_MAX_ARGS 4096

#ifndef FUZZ_CHECK
#define FUZZ_CHECK(cond, ...)                                                  \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "invariant broken: " __VA_ARGS__);     \
			fprintf(stderr, "\n");                                 \
			abort();                                               \
		}                                                              \
	} while (0)
#endif

/* p is one of argv[1..argc-1] itself, not a copy or a pointer inside one. */
static bool fuzz_is_arg(int argc, char *const argv[], const char *p)
{
	for (int i = 1; i < argc; i++) {
		if (argv[i] == p)
			return true;
	}
	return false;
}

/* No empty, "." or ".." component, no trailing slash, absolute. */
static bool fuzz_normal(const char *p)
{
	const char *c = p;

	if (p[0] != '/' || strlen(p) >= PATH_MAX)
		return false;
	while (*c == '/') {
		const char *end = strchr(c + 1, '/');
		size_t n = end ? (size_t)(end - c - 1) : strlen(c + 1);

		if (n == 0 || (n == 1 && c[1] == '.') || (n == 2 && c[1] == '.' && c[2] == '.'))
			return false;
		if (!end)
			break;
		c = end;
	}
	return true;
}

static bool fuzz_strictly_below(const char *p, const char *home)
{
	size_t n = strlen(home);

	return !strncmp(p, home, n) && p[n] == '/' && p[n + 1] != '\0' && fuzz_normal(p);
}

static bool fuzz_env_name(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++) {
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	}
	return true;
}

/* An independent reading of "DEV:INO": digits, a colon, digits, each fitting 64 bits. */
static bool fuzz_parse_id(const char *s, unsigned long long *dev, unsigned long long *ino)
{
	unsigned long long *out[2] = { dev, ino };

	for (int k = 0; k < 2; k++) {
		char *end;

		if (*s < '0' || *s > '9')
			return false;
		errno = 0;
		*out[k] = strtoull(s, &end, 10);
		if (errno || *end != (k ? '\0' : ':'))
			return false;
		s = end + 1;
	}
	return true;
}

/* The word between m's source and target is an id that reads as m's device and inode. */
static bool fuzz_id_before(int argc, char *const argv[], const struct su_mount *m)
{
	for (int i = 2; i + 1 < argc; i++) {
		unsigned long long dev, ino;

		if (argv[i + 1] == m->target && argv[i - 1] == m->source)
			return fuzz_parse_id(argv[i], &dev, &ino) && dev == m->dev && ino == m->ino;
	}
	return false;
}

/* What the privileged code relies on, for an accepted argv. */
static void fuzz_check_request(int argc, char *const argv[], const struct su_request *req)
{
	FUZZ_CHECK(req->nr_mounts <= SU_MAX_MOUNTS, "%zu mounts", req->nr_mounts);
	FUZZ_CHECK(req->nr_env <= SU_MAX_ENV, "%zu variables", req->nr_env);
	for (size_t i = 0; i < req->nr_mounts; i++) {
		const struct su_mount *m = &req->mounts[i];

		FUZZ_CHECK(fuzz_is_arg(argc, argv, m->source), "mount %zu source is not an argument", i);
		FUZZ_CHECK(fuzz_is_arg(argc, argv, m->target), "mount %zu target is not an argument", i);
		FUZZ_CHECK(!strncmp(m->source, CALLER_HOME "/", strlen(CALLER_HOME "/")),
			   "mount source '%s' is not below " CALLER_HOME, m->source);
		FUZZ_CHECK(!strncmp(m->target, AGENT_HOME "/", strlen(AGENT_HOME "/")),
			   "mount target '%s' is not below " AGENT_HOME, m->target);
		FUZZ_CHECK(fuzz_strictly_below(m->source, CALLER_HOME),
			   "mount source '%s' is not a normal path strictly below " CALLER_HOME, m->source);
		FUZZ_CHECK(fuzz_strictly_below(m->target, AGENT_HOME),
			   "mount target '%s' is not a normal path strictly below " AGENT_HOME, m->target);
		FUZZ_CHECK(fuzz_id_before(argc, argv, m), "mount %zu id is not the word before its target", i);
	}
	{
		const char *p;
		size_t n = 0;
		bool pin;

		for (int i = 0; su_next_protected(req, &i, &p, &pin); n++) {
			FUZZ_CHECK(fuzz_is_arg(argc, argv, p), "protected path %zu is not an argument", n);
			FUZZ_CHECK(fuzz_strictly_below(p, AGENT_HOME),
				   "protected path '%s' is not a normal path strictly below " AGENT_HOME, p);
		}
		FUZZ_CHECK(n == req->nr_protected, "%zu protected paths walked, %zu parsed", n, req->nr_protected);
	}
	for (size_t i = 0; i < req->nr_env; i++) {
		FUZZ_CHECK(fuzz_is_arg(argc, argv, req->env_names[i]), "variable %zu is not an argument", i);
		FUZZ_CHECK(fuzz_env_name(req->env_names[i]), "bad variable name '%s'", req->env_names[i]);
	}
	if (req->directory) {
		FUZZ_CHECK(fuzz_is_arg(argc, argv, req->directory), "directory is not an argument");
		FUZZ_CHECK(req->directory[0] == '/', "relative directory '%s'", req->directory);
	}
	FUZZ_CHECK(req->memory_max == 0 || (req->memory_max >= SU_MEMORY_MIN && req->memory_max <= SU_MEMORY_MAX),
		   "memory limit %llu out of bounds", req->memory_max);
	FUZZ_CHECK(req->cpu_percent <= SU_CPU_PERCENT_MAX, "CPU limit %llu out of bounds", req->cpu_percent);
	FUZZ_CHECK(req->tasks_max == 0 || (req->tasks_max >= SU_TASKS_MIN && req->tasks_max <= SU_TASKS_MAX),
		   "tasks limit %llu out of bounds", req->tasks_max);
	FUZZ_CHECK(req->net == SU_NET_MODE_NONE || req->net == SU_NET_MODE_HOST || req->net == SU_NET_MODE_PROXY,
		   "network mode %d", (int)req->net);
	FUZZ_CHECK(req->nr_capture <= SU_NET_MAX_CAPTURE, "%zu capture ports", req->nr_capture);
	FUZZ_CHECK(!req->nr_capture || req->net == SU_NET_MODE_PROXY, "capture ports without -n proxy");
	for (size_t i = 0; i < req->nr_capture; i++) {
		unsigned short port = req->capture_ports[i];

		FUZZ_CHECK(port != 0 && port != SU_NET_PORT_DNS && port != SU_NET_PORT_HTTP && port != SU_NET_PORT_SOCKS,
			   "capture port %u has a role already", port);
		for (size_t k = 0; k < ARRAY_LEN(fixed_capture_ports); k++)
			FUZZ_CHECK(port != fixed_capture_ports[k], "capture port %u is a fixed one", port);
		for (size_t k = 0; k < i; k++)
			FUZZ_CHECK(port != req->capture_ports[k], "capture port %u twice", port);
	}
	FUZZ_CHECK(req->command != NULL, "no command");
	FUZZ_CHECK(req->command > argv && req->command < argv + argc, "command outside argv");
	FUZZ_CHECK(req->command[0] && req->command[0][0], "empty command");
	FUZZ_CHECK(!strcmp(req->command[-1], "--"), "command not after '--'");
	FUZZ_CHECK(!strcmp(argv[1], SU_PROTOCOL), "accepted without the protocol word");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *argv[FUZZ_MAX_ARGS + 2];
	static struct su_request req;
	const char *why = NULL;
	char *buf;
	int argc = 0, rc;

	/* One NUL-terminated copy: the last argument needs its terminator. */
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';

	argv[argc++] = (char *)"su_as_agent";
	for (size_t off = 0; off < size && argc < FUZZ_MAX_ARGS + 1; ) {
		size_t len = strlen(buf + off);

		argv[argc++] = buf + off;
		off += len + 1;
	}
	argv[argc] = NULL;

	rc = su_parse_args(argc, argv, &req, &why);
	FUZZ_CHECK(rc == 0 || rc == -1, "returned %d", rc);
	if (rc == 0) {
		FUZZ_CHECK(why == NULL, "success with a reason '%s'", why);
		fuzz_check_request(argc, argv, &req);
	} else {
		FUZZ_CHECK(why != NULL && why[0], "refused without a reason");
	}
	free(buf);
	return 0;
}
