/*
 * test-entrypoint-args.c: su_parse_args(), the argument parser of the setuid
 * entrypoint, compiled from entrypoint/su_as_agent.c itself (without its
 * main) with the ids and homes au new would bake in. Its caller is au run,
 * but anyone in the agent's group who gets past the uid check could choose
 * these words, so every refusal matters.
 *
 * The source comes in through the fuzz harness, which this test also drives
 * with tens of thousands of seeded argv vectors (the same invariants as
 * under libFuzzer, checked as cmocka failures).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

#define SU_AS_AGENT_NO_MAIN
#define TARGET_UID 64000
#define TARGET_GID 64000
#define CALLER_UID 64001
#define AGENT_NAME "agent"
#define AGENT_HOME "/home/agent"
#define AGENT_SHELL "/bin/bash"
#define CALLER_HOME "/home/alice"

#define FUZZ_CHECK(cond, ...)                                                  \
	do {                                                                   \
		if (!(cond))                                                   \
			fail_msg("invariant broken: " __VA_ARGS__);            \
	} while (0)

#include "../../fuzz/fuzz-entrypoint-args.c"

#define MAX_WORDS 4200

/* An argv under construction: "su_as_agent SU_PROTOCOL" then what a test adds. */
struct words {
	char *v[MAX_WORDS + 1];
	int n;
};

static void words_init(struct words *w)
{
	w->n = 0;
	w->v[w->n++] = (char *)"su_as_agent";
	w->v[w->n++] = (char *)SU_PROTOCOL;
	w->v[w->n] = NULL;
}

static void words_add(struct words *w, const char *s)
{
	assert_true(w->n < MAX_WORDS);
	w->v[w->n++] = (char *)s;
	w->v[w->n] = NULL;
}

static void words_addv(struct words *w, const char *const *s)
{
	for (; *s; s++)
		words_add(w, *s);
}

static struct su_request req;

/* The n-th -p or -g path of the parsed request, as the entrypoint walks them. */
static const char *nth_protected(int n, bool *pin)
{
	const char *path = NULL;
	bool is_pin;

	for (int i = 0; su_next_protected(&req, &i, &path, &is_pin); n--) {
		if (n == 0) {
			if (pin)
				*pin = is_pin;
			return path;
		}
	}
	return NULL;
}

/* Parses "su_as_agent SU_PROTOCOL WORDS... (NULL)". */
static int parse(const char *const *words, const char **why)
{
	struct words w;

	words_init(&w);
	words_addv(&w, words);
	return su_parse_args(w.n, w.v, &req, why);
}

#define W(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void assert_accepted(const char *const *words)
{
	const char *why = NULL;

	if (parse(words, &why) != 0)
		fail_msg("refused (%s): %s ...", why, words[0]);
	assert_null(why);
}

static void assert_refused(const char *const *words, const char *why_part)
{
	const char *why = NULL;
	autostrbuf struct strbuf shown = STRBUF_INIT;

	for (size_t i = 0; words[i]; i++) {
		/* escape_display("") is wrong (test-util.c): leave "" alone. */
		autofree char *e = words[i][0] ? escape_display(words[i]) : xstrdup("");

		strbuf_addf(&shown, " [%s]", e);
	}
	if (parse(words, &why) == 0)
		fail_msg("accepted: " SU_PROTOCOL "%s", strbuf_str(&shown));
	if (!why || !strstr(why, why_part))
		fail_msg("refused '" SU_PROTOCOL "%s' with '%s', expected a reason with '%s'",
			 strbuf_str(&shown), why ? why : "(null)", why_part);
}

/* --- the whole request --------------------------------------------------- */

static void test_minimal_request(void **state)
{
	assert_accepted(W("--", "bash"));
	assert_int_equal(req.nr_env, 0);
	assert_int_equal(req.nr_mounts, 0);
	assert_int_equal(req.nr_protected, 0);
	assert_null(req.directory);
	assert_false(req.keep_running);
	assert_string_equal(req.command[0], "bash");
	assert_null(req.command[1]);
}

static void test_full_request(void **state)
{
	assert_accepted(W("-e", "TERM", "-e", "PATH",
			  "-r", "/home/alice/docs", "2049:12", "/home/agent/docs",
			  "-w", "/home/alice/src/au", "18446744073709551615:18446744073709551615", "/home/agent/au",
			  "-p", "/home/agent/au/.git/hooks",
			  "-d", "/home/agent/au", "-k",
			  "--", "make", "-j4", "check"));
	assert_int_equal(req.nr_env, 2);
	assert_string_equal(req.env_names[0], "TERM");
	assert_string_equal(req.env_names[1], "PATH");
	assert_int_equal(req.nr_mounts, 2);
	assert_string_equal(req.mounts[0].source, "/home/alice/docs");
	assert_string_equal(req.mounts[0].target, "/home/agent/docs");
	assert_true(req.mounts[0].dev == 2049 && req.mounts[0].ino == 12);
	assert_true(req.mounts[0].read_only);
	assert_string_equal(req.mounts[1].source, "/home/alice/src/au");
	assert_string_equal(req.mounts[1].target, "/home/agent/au");
	assert_true(req.mounts[1].dev == ~0ULL && req.mounts[1].ino == ~0ULL);
	assert_false(req.mounts[1].read_only);
	assert_int_equal(req.nr_protected, 1);
	assert_string_equal(nth_protected(0, NULL), "/home/agent/au/.git/hooks");
	assert_string_equal(req.directory, "/home/agent/au");
	assert_true(req.keep_running);
	assert_string_equal(req.command[0], "make");
	assert_string_equal(req.command[1], "-j4");
	assert_string_equal(req.command[2], "check");
	assert_null(req.command[3]);
}

static void test_a_second_parse_starts_clean(void **state)
{
	assert_accepted(W("-k", "-d", "/tmp", "-e", "A", "--", "x"));
	assert_accepted(W("--", "y"));
	assert_false(req.keep_running);
	assert_accepted(W("-n", "proxy", "-l", "8080", "--", "x"));
	assert_accepted(W("--", "y"));
	assert_int_equal(req.net, SU_NET_MODE_NONE);
	assert_int_equal(req.nr_capture, 0);
	assert_null(req.directory);
	assert_int_equal(req.nr_env, 0);
}

/* --- protocol word, argc ------------------------------------------------- */

static void test_protocol_word_required(void **state)
{
	/* The one before, and near misses of this one. */
	static const char *const wrong[] = { "au1", "au", "AU2", SU_PROTOCOL " ", " " SU_PROTOCOL,
					     SU_PROTOCOL "0", "", "--", "-k" };
	const char *why = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(wrong); i++) {
		char *argv[] = { (char *)"su_as_agent", (char *)wrong[i], (char *)"--", (char *)"bash", NULL };

		assert_int_equal(su_parse_args(4, argv, &req, &why), -1);
		assert_non_null(strstr(why, "protocol"));
	}
	{
		/* No protocol word at all: an older au calling a newer entrypoint. */
		char *argv[] = { (char *)"su_as_agent", (char *)"--", (char *)"bash", NULL };

		assert_int_equal(su_parse_args(3, argv, &req, &why), -1);
		assert_non_null(strstr(why, "protocol"));
	}
}

static void test_argc_zero_and_one(void **state)
{
	/* pkexec CVE-2021-4034: argv can be empty. */
	char *none[] = { NULL };
	char *only[] = { (char *)"su_as_agent", NULL };
	char *just_protocol[] = { (char *)"su_as_agent", (char *)SU_PROTOCOL, NULL };
	const char *why = NULL;

	assert_int_equal(su_parse_args(0, none, &req, &why), -1);
	assert_non_null(why);
	why = NULL;
	assert_int_equal(su_parse_args(1, only, &req, &why), -1);
	assert_non_null(why);
	why = NULL;
	assert_int_equal(su_parse_args(-1, none, &req, &why), -1);
	assert_non_null(why);
	why = NULL;
	assert_int_equal(su_parse_args(2, just_protocol, &req, &why), -1);
	assert_non_null(strstr(why, "missing command"));
}

/* --- the command --------------------------------------------------------- */

static void test_command_needs_double_dash(void **state)
{
	assert_refused(W("bash"), "unknown option");
	assert_refused(W("-k", "bash"), "unknown option");
	assert_refused(W("-k"), "missing command");
	assert_refused(W("--"), "missing command");
	assert_refused(W("--", ""), "missing command");
	assert_refused(W("-d", "/tmp", "--"), "missing command");
}

static void test_words_after_double_dash_are_the_command(void **state)
{
	/* Options after "--" belong to the command, unchecked. */
	assert_accepted(W("--", "ls", "-r", "/etc", "/", "-e", "BAD NAME", "--", "-k"));
	assert_int_equal(req.nr_mounts, 0);
	assert_int_equal(req.nr_env, 0);
	assert_false(req.keep_running);
	assert_string_equal(req.command[0], "ls");
	assert_string_equal(req.command[7], "-k");
	assert_null(req.command[8]);
	/* A command may itself be named like an option, and args may be empty. */
	assert_accepted(W("--", "--", ""));
	assert_string_equal(req.command[0], "--");
	assert_string_equal(req.command[1], "");
}

static void test_unknown_options(void **state)
{
	static const char *const opts[] = {
		"-x", "-E", "-R", "-K", "--keep", "-", "---", "-rw", "-kk", "-e=PATH", "-eTERM",
		"-r/home/alice/a", "-dd", SU_PROTOCOL, "/home/agent", "-\x01", "-e ", "-jj", "-J", "-mm", "-Q",
		"-nn", "-L",
	};

	for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
		const char *words[] = { opts[i], "--", "bash", NULL };

		assert_refused(words, "unknown option");
	}
}

/* --- -e ------------------------------------------------------------------ */

static void test_env_names(void **state)
{
	static const char *const good[] = { "PATH", "TERM", "_", "_x", "a", "LC_ALL", "A1", "http_proxy" };
	static const char *const bad[] = {
		"", "1A", "A-B", "A=B", "A=", "=A", "A B", " A", "A\n", "A.B", "\xc3\xa9", "A\xc3\xa9", "$A", "-k",
	};

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		assert_accepted(W("-e", good[i], "--", "bash"));
		assert_int_equal(req.nr_env, 1);
		assert_string_equal(req.env_names[0], good[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_refused(W("-e", bad[i], "--", "bash"), "-e needs a variable name");
	assert_refused(W("-e"), "-e needs a variable name");
}

/* --- -r and -w ----------------------------------------------------------- */

static const char *const bad_sources[] = {
	"/home/alice",                  /* the home itself */
	"/home/alice/",
	"/home/alice//",
	"/home/alice/.",
	"/home/alice/..",
	"/home/alice/../bob",
	"/home/alice/../alice/x",       /* lands below, but not normal */
	"/home/alice/x/",
	"/home/alice//x",
	"/home/alice/./x",
	"/home/alice/x/.",
	"/home/alice/x/..",
	"/home/alice/x/../../../etc",
	"/home/alicex/a",               /* a longer name, not a folder below */
	"/home/alice-x/a",
	"/home/al/ice",
	"/home/alic",
	"/home/agent/x",                /* the agent's side */
	"/etc/shadow",
	"/",
	"//home/alice/x",
	"home/alice/x",                 /* relative */
	"alice/x",
	"./x",
	"",
	"~/x",
};

static const char *const bad_targets[] = {
	"/home/agent",
	"/home/agent/",
	"/home/agent/.",
	"/home/agent/..",
	"/home/agent/../../etc",
	"/home/agent/../alice/x",
	"/home/agent/x/..",
	"/home/agent/x/../..",
	"/home/agent//x",
	"/home/agent/./x",
	"/home/agent/x/",
	"/home/agentx/a",
	"/home/agent-x/a",
	"/home/agen/t",
	"/home/alice/x",
	"/etc/x",
	"/",
	"//home/agent/x",
	"home/agent/x",
	"x",
	"",
};

static void test_mounts_accepted(void **state)
{
	assert_accepted(W("-r", "/home/alice/a", "1:2", "/home/agent/a", "--", "bash"));
	assert_true(req.mounts[0].read_only);
	assert_accepted(W("-w", "/home/alice/a", "1:2", "/home/agent/a", "--", "bash"));
	assert_false(req.mounts[0].read_only);
	/* Names that only look like dots, spaces and odd bytes are names. */
	assert_accepted(W("-w", "/home/alice/...", "1:2", "/home/agent/..x/.y/z.", "--", "bash"));
	assert_accepted(W("-r", "/home/alice/my project/\xc3\xa9t\xc3\xa9", "1:2", "/home/agent/a b\tc", "--", "bash"));
	assert_accepted(W("-r", "/home/alice/x", "1:2", "/home/agent/y", "-w", "/home/alice/x/deep/er", "3:4", "/home/agent/y/z", "--", "bash"));
	/* In the order given: later mounts go on top of earlier ones. */
	assert_int_equal(req.nr_mounts, 2);
	assert_string_equal(req.mounts[0].target, "/home/agent/y");
	assert_string_equal(req.mounts[1].target, "/home/agent/y/z");
}

static void test_mount_sources_below_callers_home(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_sources); i++) {
		assert_refused(W("-r", bad_sources[i], "1:2", "/home/agent/a", "--", "bash"), "mount source");
		assert_refused(W("-w", bad_sources[i], "1:2", "/home/agent/a", "--", "bash"), "mount source");
	}
}

static void test_mount_targets_below_agents_home(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_targets); i++) {
		assert_refused(W("-r", "/home/alice/a", "1:2", bad_targets[i], "--", "bash"), "mount target");
		assert_refused(W("-w", "/home/alice/a", "1:2", bad_targets[i], "--", "bash"), "mount target");
	}
	/* Source and target the wrong way round. */
	assert_refused(W("-w", "/home/agent/a", "1:2", "/home/alice/a", "--", "bash"), "mount source");
}

static void test_mount_needs_two_paths(void **state)
{
	assert_refused(W("-r"), "a source, its id and a target");
	assert_refused(W("-r", "/home/alice/a"), "a source, its id and a target");
	assert_refused(W("-w", "/home/alice/a", "1:2"), "a source, its id and a target");
	/* Exactly three left: then "--" would be the target, and is refused. */
	assert_refused(W("-w", "/home/alice/a", "1:2", "--", "bash"), "mount target");
	/* The old form, without the id: the target is taken for the id. */
	assert_refused(W("-w", "/home/alice/a", "/home/agent/a", "--", "bash"), "mount target");
}

/* The source's device and inode: two decimal numbers that fit 64 bits each. */
static void test_mount_ids(void **state)
{
	static const char *const bad[] = {
		"", ":", "1:", ":1", "1", "a:1", "1:a", "1:2:3", "-1:2", "1:-2", "+1:2", " 1:2", "1:2 ",
		"0x1:2", "18446744073709551616:1", "1:18446744073709551616", "99999999999999999999:1",
	};

	assert_accepted(W("-r", "/home/alice/a", "0:0", "/home/agent/a", "--", "bash"));
	assert_true(req.mounts[0].dev == 0 && req.mounts[0].ino == 0);
	assert_accepted(W("-r", "/home/alice/a", "00042:7", "/home/agent/a", "--", "bash"));
	assert_true(req.mounts[0].dev == 42 && req.mounts[0].ino == 7);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_refused(W("-r", "/home/alice/a", bad[i], "/home/agent/a", "--", "bash"), "id");
}

static void test_path_length_limit(void **state)
{
	static char at_limit[PATH_MAX + 16], too_long[PATH_MAX + 16];
	size_t home = strlen("/home/alice/");

	/* PATH_MAX - 1 bytes fit a kernel path; PATH_MAX bytes do not. */
	memcpy(at_limit, "/home/alice/", home);
	memset(at_limit + home, 'a', PATH_MAX - 1 - home);
	at_limit[PATH_MAX - 1] = '\0';
	for (size_t i = home + 200; i < PATH_MAX - 1; i += 200)
		at_limit[i] = '/';
	memcpy(too_long, at_limit, PATH_MAX - 1);
	too_long[PATH_MAX - 1] = 'b';
	too_long[PATH_MAX] = '\0';
	assert_accepted(W("-r", at_limit, "1:2", "/home/agent/a", "--", "bash"));
	assert_refused(W("-r", too_long, "1:2", "/home/agent/a", "--", "bash"), "mount source");
	assert_refused(W("-d", "/", "-d", too_long, "--", "bash"), "-d needs");
}

/* --- -p ------------------------------------------------------------------ */

static void test_protected_paths(void **state)
{
	assert_accepted(W("-p", "/home/agent/src/.git/hooks", "-p", "/home/agent/.bashrc", "--", "bash"));
	assert_int_equal(req.nr_protected, 2);
	assert_string_equal(nth_protected(1, NULL), "/home/agent/.bashrc");
	for (size_t i = 0; i < ARRAY_SIZE(bad_targets); i++)
		assert_refused(W("-p", bad_targets[i], "--", "bash"), "protected path");
	assert_refused(W("-p"), "protected path");
}

/* --- -d, -k -------------------------------------------------------------- */

static void test_directory(void **state)
{
	assert_accepted(W("-d", "/home/agent/src", "--", "bash"));
	assert_string_equal(req.directory, "/home/agent/src");
	/* Any absolute path: chdir happens as the agent, after the switch. */
	assert_accepted(W("-d", "/", "--", "bash"));
	assert_accepted(W("-d", "/home/alice/../x/./", "--", "bash"));
	/* The last one counts. */
	assert_accepted(W("-d", "/a", "-d", "/b", "--", "bash"));
	assert_string_equal(req.directory, "/b");
	assert_refused(W("-d", "relative", "--", "bash"), "-d needs an absolute directory");
	assert_refused(W("-d", "", "--", "bash"), "-d needs an absolute directory");
	assert_refused(W("-d", "./x", "--", "bash"), "-d needs an absolute directory");
	assert_refused(W("-d"), "-d needs an absolute directory");
}

static void test_keep_running(void **state)
{
	assert_accepted(W("--", "bash"));
	assert_false(req.keep_running);
	assert_accepted(W("-k", "--", "bash"));
	assert_true(req.keep_running);
	assert_accepted(W("-k", "-k", "--", "bash"));
	assert_true(req.keep_running);
}

/* --- -m, -q, -t: resource limits of the run ------------------------------ */

static void test_resource_limits(void **state)
{
	assert_accepted(W("--", "bash"));
	assert_true(req.memory_max == 0 && req.cpu_percent == 0 && req.tasks_max == 0);
	assert_accepted(W("-m", "17179869184", "-q", "150", "-t", "512", "--", "bash"));
	assert_true(req.memory_max == 17179869184ULL);
	assert_true(req.cpu_percent == 150);
	assert_true(req.tasks_max == 512);
	/* The bounds themselves pass; the last one given counts. */
	assert_accepted(W("-m", "1048576", "-q", "1", "-t", "2", "-t", "4194304", "--", "bash"));
	assert_true(req.memory_max == SU_MEMORY_MIN && req.cpu_percent == 1 && req.tasks_max == SU_TASKS_MAX);
	assert_accepted(W("-m", "1125899906842624", "-q", "100000", "--", "bash"));
	assert_true(req.memory_max == SU_MEMORY_MAX && req.cpu_percent == SU_CPU_PERCENT_MAX);
	/* A second parse starts without them. */
	assert_accepted(W("--", "bash"));
	assert_true(req.memory_max == 0 && req.cpu_percent == 0 && req.tasks_max == 0);
}

static void test_resource_limits_refused(void **state)
{
	static const char *const bad[] = {
		"", "0", "-1", "+5", " 5", "5 ", "5%", "16G", "0x10", "1e3", "١",
		"18446744073709551616", "99999999999999999999999999",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_refused(W("-m", bad[i], "--", "bash"), "-m needs a number of bytes");
		assert_refused(W("-q", bad[i], "--", "bash"), "-q needs a percentage");
		assert_refused(W("-t", bad[i], "--", "bash"), "-t needs a number of tasks");
	}
	/* Out of bounds by one. */
	assert_refused(W("-m", "1048575", "--", "bash"), "-m needs");
	assert_refused(W("-m", "1125899906842625", "--", "bash"), "-m needs");
	assert_refused(W("-q", "100001", "--", "bash"), "-q needs");
	assert_refused(W("-t", "1", "--", "bash"), "-t needs");
	assert_refused(W("-t", "4194305", "--", "bash"), "-t needs");
	/* A missing value; the next option is no value. */
	assert_refused(W("-m"), "-m needs");
	assert_refused(W("-q", "--", "bash"), "-q needs");
	assert_refused(W("-t", "-k", "--", "bash"), "-t needs");
}

/* --- the network -------------------------------------------------------- */

static void test_network_modes(void **state)
{
	/* Without -n: a namespace of its own, the closed choice. */
	assert_accepted(W("--", "bash"));
	assert_int_equal(req.net, SU_NET_MODE_NONE);
	assert_accepted(W("-n", "host", "--", "bash"));
	assert_int_equal(req.net, SU_NET_MODE_HOST);
	assert_accepted(W("-n", "none", "--", "bash"));
	assert_int_equal(req.net, SU_NET_MODE_NONE);
	assert_accepted(W("-n", "proxy", "--", "bash"));
	assert_int_equal(req.net, SU_NET_MODE_PROXY);
	assert_int_equal(req.nr_capture, 0);
	/* au's modes are not the entrypoint's: allow and all are both "proxy" here. */
	assert_refused(W("-n", "all", "--", "bash"), "-n needs host, none or proxy");
	assert_refused(W("-n", "allow", "--", "bash"), "-n needs host, none or proxy");
	assert_refused(W("-n", "PROXY", "--", "bash"), "-n needs host, none or proxy");
	assert_refused(W("-n", "", "--", "bash"), "-n needs host, none or proxy");
	assert_refused(W("-n", "--", "bash"), "-n needs host, none or proxy");
	assert_refused(W("-n"), "-n needs host, none or proxy");
}

static void test_capture_ports(void **state)
{
	assert_accepted(W("-n", "proxy", "-l", "8080", "-l", "5432", "-l", "65535", "-l", "1", "--", "bash"));
	assert_int_equal(req.nr_capture, 4);
	assert_int_equal(req.capture_ports[0], 8080);
	assert_int_equal(req.capture_ports[1], 5432);
	assert_int_equal(req.capture_ports[2], 65535);
	assert_int_equal(req.capture_ports[3], 1);
	/* Order does not matter, the mode does. */
	assert_accepted(W("-l", "8080", "-n", "proxy", "--", "bash"));
	assert_refused(W("-l", "8080", "--", "bash"), "-l needs -n proxy");
	assert_refused(W("-n", "none", "-l", "8080", "--", "bash"), "-l needs -n proxy");
	assert_refused(W("-n", "proxy", "-l", "8080", "-n", "host", "--", "bash"), "-l needs -n proxy");
	/* Ports whose role is taken, fixed ones, repeats, and what is not a port. */
	static const char *const bad[] = { "53", "3128", "1080", "22", "80", "443", "0", "65536", "08080",
					   "+80", "-1", "8080 ", " 8080", "0x50", "", "999999", "80a" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_refused(W("-n", "proxy", "-l", bad[i], "--", "bash"), "-l needs a port that is not taken");
	assert_refused(W("-n", "proxy", "-l", "8080", "-l", "8080", "--", "bash"), "-l needs a port that is not taken");
	assert_refused(W("-n", "proxy", "-l"), "-l needs a port that is not taken");
}

static void test_capture_limit(void **state)
{
	static struct words w;
	static char ports[SU_NET_MAX_CAPTURE + 1][8];
	const char *why = NULL;

	words_init(&w);
	words_addv(&w, W("-n", "proxy"));
	for (int i = 0; i <= SU_NET_MAX_CAPTURE; i++) {
		snprintf(ports[i], sizeof(ports[i]), "%d", 10000 + i);
		if (i < SU_NET_MAX_CAPTURE)
			words_addv(&w, W("-l", ports[i]));
	}
	words_addv(&w, W("--", "bash"));
	assert_int_equal(su_parse_args(w.n, w.v, &req, &why), 0);
	assert_int_equal(req.nr_capture, SU_NET_MAX_CAPTURE);
	/* Every listener the entrypoint makes fits in the proxy's NLISTEN. */
	assert_int_equal(SU_NET_FIXED_LISTENERS + req.nr_capture, SU_NET_MAX_LISTENERS);

	words_init(&w);
	words_addv(&w, W("-n", "proxy"));
	for (int i = 0; i <= SU_NET_MAX_CAPTURE; i++)
		words_addv(&w, W("-l", ports[i]));
	words_addv(&w, W("--", "bash"));
	assert_int_equal(su_parse_args(w.n, w.v, &req, &why), -1);
	assert_string_equal(why, "too many capture ports");
}

/* --- limits -------------------------------------------------------------- */

static void test_mount_limit(void **state)
{
	static struct words w;
	const char *why = NULL;

	words_init(&w);
	for (int i = 0; i < SU_MAX_MOUNTS; i++) {
		words_add(&w, "-r");
		words_add(&w, "/home/alice/a");
		words_add(&w, "1:2");
		words_add(&w, "/home/agent/a");
	}
	words_addv(&w, W("--", "bash"));
	assert_int_equal(su_parse_args(w.n, w.v, &req, &why), 0);
	assert_int_equal(req.nr_mounts, 64);

	words_init(&w);
	for (int i = 0; i < SU_MAX_MOUNTS + 1; i++) {
		words_add(&w, "-w");
		words_add(&w, "/home/alice/a");
		words_add(&w, "1:2");
		words_add(&w, "/home/agent/a");
	}
	words_addv(&w, W("--", "bash"));
	assert_int_equal(su_parse_args(w.n, w.v, &req, &why), -1);
	assert_string_equal(why, "too many mounts");
}

static void test_env_limit(void **state)
{
	static struct words w;
	const char *why = NULL;

	words_init(&w);
	for (int i = 0; i < 128; i++)
		words_addv(&w, W("-e", "A"));
	words_addv(&w, W("--", "bash"));
	assert_int_equal(su_parse_args(w.n, w.v, &req, &why), 0);
	assert_int_equal(req.nr_env, 128);

	words_init(&w);
	for (int i = 0; i < 129; i++)
		words_addv(&w, W("-e", "A"));
	words_addv(&w, W("--", "bash"));
	assert_int_equal(su_parse_args(w.n, w.v, &req, &why), -1);
	assert_string_equal(why, "too many variables");
}

/* No table to fill: the entrypoint walks its argv for -p and -g, however many there are. */
static void test_protected_paths_have_no_limit(void **state)
{
	static struct words w;
	const char *why = NULL;
	const char *path;
	bool pin;
	int n = 0;

	words_init(&w);
	for (int i = 0; i < 1040; i++)
		words_addv(&w, W(i % 2 ? "-g" : "-p", "/home/agent/p", "-d", "/x"));
	words_addv(&w, W("--", "bash"));
	assert_int_equal(su_parse_args(w.n, w.v, &req, &why), 0);
	assert_int_equal(req.nr_protected, 1040);
	for (int i = 0; su_next_protected(&req, &i, &path, &pin); n++) {
		assert_string_equal(path, "/home/agent/p");
		assert_int_equal(pin, n % 2);
	}
	assert_int_equal(n, 1040);
}

static void test_watch_needs_the_report_channel(void **state)
{
	assert_accepted(W("-c", "-W", "--", "bash"));
	assert_true(req.watch);
	assert_refused(W("-W", "--", "bash"), "-W needs -c");
}

/* --- a NULL inside argv, before argc ------------------------------------- */

/*
 * The kernel never builds such an argv, but the parser must not trust argc
 * alone. Parsed in a child, so that a crash fails this test only.
 */
static int parse_in_child(int argc, char *argv[])
{
	const char *why;
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		/* cmocka catches these to go on with the next test: not here. */
		static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS };

		for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
			signal(sigs[i], SIG_DFL);
		_exit(su_parse_args(argc, argv, &req, &why) == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static void test_null_where_checked(void **state)
{
	char *as_option[] = { (char *)"su", (char *)SU_PROTOCOL, NULL, (char *)"--", (char *)"bash", NULL };
	char *as_protocol[] = { (char *)"su", NULL, (char *)"--", (char *)"bash", NULL };
	char *as_dir[] = { (char *)"su", (char *)SU_PROTOCOL, (char *)"-d", NULL, (char *)"--", (char *)"bash", NULL };
	char *as_command[] = { (char *)"su", (char *)SU_PROTOCOL, (char *)"--", NULL, (char *)"x", NULL };

	assert_int_equal(parse_in_child(5, as_option), 1);
	assert_int_equal(parse_in_child(4, as_protocol), 1);
	assert_int_equal(parse_in_child(6, as_dir), 1);
	assert_int_equal(parse_in_child(5, as_command), 1);
}

/*
 * Fixed, kept as a regression test: su_parse_args() checks argv[i] for NULL where it reads an option and
 * after -d, but not the arguments of -e, -r, -w and -p: valid_env_name() and
 * below() (strnlen, strncmp) dereference argv[i + 1] or argv[i + 2] when it
 * is NULL before argc, and the process dies with SIGSEGV. Not reachable
 * through execve (the kernel's argv has no NULL before argc); testing
 * "!argv[i + 1]" (and "!argv[i + 2]") as for -d would make it return -1.
 */
static void test_null_after_an_option(void **state)
{
	char *e[] = { (char *)"su", (char *)SU_PROTOCOL, (char *)"-e", NULL, (char *)"--", (char *)"bash", NULL };
	char *r_src[] = { (char *)"su", (char *)SU_PROTOCOL, (char *)"-r", NULL, (char *)"1:2",
			  (char *)"/home/agent/a", (char *)"--", (char *)"bash", NULL };
	char *r_id[] = { (char *)"su", (char *)SU_PROTOCOL, (char *)"-r", (char *)"/home/alice/a", NULL,
			 (char *)"/home/agent/a", (char *)"--", (char *)"bash", NULL };
	char *w_dst[] = { (char *)"su", (char *)SU_PROTOCOL, (char *)"-w", (char *)"/home/alice/a",
			  (char *)"1:2", NULL, (char *)"--", (char *)"bash", NULL };
	char *p[] = { (char *)"su", (char *)SU_PROTOCOL, (char *)"-p", NULL, (char *)"--", (char *)"bash", NULL };
	char *n[] = { (char *)"su", (char *)SU_PROTOCOL, (char *)"-n", NULL, (char *)"--", (char *)"bash", NULL };
	char *l[] = { (char *)"su", (char *)SU_PROTOCOL, (char *)"-n", (char *)"proxy", (char *)"-l", NULL,
		      (char *)"--", (char *)"bash", NULL };
	struct {
		const char *what;
		int argc;
		char **argv;
	} cases[] = {
		{ "-e NULL", 6, e },
		{ "-r NULL ID TARGET", 8, r_src },
		{ "-r SOURCE NULL TARGET", 8, r_id },
		{ "-w SOURCE ID NULL", 8, w_dst },
		{ "-p NULL", 6, p },
		{ "-n NULL", 6, n },
		{ "-l NULL", 8, l },
	};
	char wrong[512] = "";

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int code = parse_in_child(cases[i].argc, cases[i].argv);

		if (code != 1)
			snprintf(wrong + strlen(wrong), sizeof(wrong) - strlen(wrong),
				 "\n  '%s': %s %d", cases[i].what,
				 code > 128 ? "killed by signal" : "exit", code > 128 ? code - 128 : code);
	}
	if (wrong[0])
		fail_msg("a NULL argument was not refused:%s", wrong);
}

/* --- seeded mutation run of the fuzz harness ----------------------------- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic, so a failure can be replayed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static const char *const tokens[] = {
	SU_PROTOCOL, "--", "-e", "-j", "-W", "-m", "-q", "-t", "-n", "-l", "proxy", "none", "host", "22", "3128",
	"8080", "-r", "-w", "-p", "-g", "-d", "-k", "-", "-x", "", "bash", "/bin/sh", "1048576", "150",
	"1:2", "0:0", "1:", "x:1",
	"PATH", "TERM", "A=B", "1A", "_", "/", ".", "..", "/home/alice", "/home/agent",
	"/home/alice/src", "/home/agent/src", "/home/alice/", "/home/agent/", "/home/alicex/a",
	"/home/agentx/a", "/home/alice/../x", "/home/agent/../../etc", "/home/agent/.",
	"/home/alice//x", "/home/agent/a/..", "/home/alice/a/./b", "/tmp", "/etc/shadow",
};

static const char *const numbers[] = {
	"0", "1", "2", "100", "150", "512", "1048576", "17179869184", "100001", "4194305", "", "-1", "1G",
	"18446744073709551615", "18446744073709551616",
};

static const char *const path_starts[] = {
	"/home/alice", "/home/agent", "/home/alicex", "/home/al", "/home/agen", "", "/", "home/alice",
};

static const char *const components[] = { "", ".", "..", "...", "x", "src", ".git", "a b", "-k", "--" };

/*
 * A path-like word: often a good path below home, otherwise any prefix and
 * components that may be ".", ".." or "" and a trailing slash.
 */
static void random_path(struct strbuf *sb, const char *home)
{
	size_t n = rng() % 5;
	bool good = home && rng() % 2;

	if (good) {
		strbuf_addstr(sb, home);
		n++;
	} else {
		strbuf_addstr(sb, path_starts[rng() % ARRAY_SIZE(path_starts)]);
	}
	for (size_t i = 0; i < n; i++) {
		strbuf_addch(sb, '/');
		strbuf_addstr(sb, good ? components[3 + rng() % (ARRAY_SIZE(components) - 3)]
				       : components[rng() % ARRAY_SIZE(components)]);
	}
	if (!good && rng() % 8 == 0)
		strbuf_addch(sb, '/');
}

static void random_word(struct strbuf *sb)
{
	uint64_t kind = rng() % 10;

	if (kind < 5) {
		strbuf_addstr(sb, tokens[rng() % ARRAY_SIZE(tokens)]);
	} else if (kind < 8) {
		random_path(sb, NULL);
	} else {
		size_t len = rng() % 12;

		for (size_t i = 0; i < len; i++)
			strbuf_addch(sb, (char)(1 + rng() % 255));
	}
}

/*
 * Builds inputs for the harness (words separated by NUL, split the same way
 * there) and runs it; the harness checks the invariants on each success.
 */
static void test_mutation_run(void **state)
{
	autostrbuf struct strbuf in = STRBUF_INIT;
	size_t accepted = 0, with_mounts = 0, runs = 100000;

	rng_state = 0xa0e1f2a3b4c5d6e7ULL;
	for (size_t run = 0; run < runs; run++) {
		size_t nr = rng() % 16;
		const char *why;
		struct words w;
		char *p;

		strbuf_reset(&in);
		/* Mostly the right protocol word: the parser's body is the target. */
		if (rng() % 16)
			strbuf_add(&in, SU_PROTOCOL, sizeof(SU_PROTOCOL));
		for (size_t i = 0; i < nr; i++) {
			/* Mostly an option with arguments of the right shape. */
			if (rng() % 8) {
				static const char *const opts[] = { "-r", "-w", "-p", "-g", "-e", "-d", "-k",
								    "-m", "-q", "-t", "-n", "-l" };
				static const char *const modes[] = { "proxy", "none", "host", "all", "" };
				static const char *const ports[] = { "8080", "22", "53", "3128", "0", "65536", "05432", "x" };
				const char *opt = opts[rng() % ARRAY_SIZE(opts)];

				strbuf_add(&in, opt, 3);
				if (opt[1] == 'n' || opt[1] == 'l') {
					strbuf_addstr(&in, opt[1] == 'n' ? modes[rng() % ARRAY_SIZE(modes)]
									 : ports[rng() % ARRAY_SIZE(ports)]);
					strbuf_addch(&in, '\0');
					continue;
				}
				if (opt[1] == 'r' || opt[1] == 'w') {
					random_path(&in, CALLER_HOME);
					strbuf_addch(&in, '\0');
					strbuf_addf(&in, rng() % 8 ? "%llu:%llu" : "%llu",
						    (unsigned long long)rng() % 100000,
						    (unsigned long long)rng());
					strbuf_addch(&in, '\0');
				}
				if (opt[1] == 'e') {
					strbuf_addstr(&in, tokens[rng() % ARRAY_SIZE(tokens)]);
					strbuf_addch(&in, '\0');
				} else if (opt[1] == 'm' || opt[1] == 'q' || opt[1] == 't') {
					strbuf_addstr(&in, numbers[rng() % ARRAY_SIZE(numbers)]);
					strbuf_addch(&in, '\0');
				} else if (opt[1] != 'k') {
					random_path(&in, AGENT_HOME);
					strbuf_addch(&in, '\0');
				}
				continue;
			}
			random_word(&in);
			strbuf_addch(&in, '\0');
		}
		if (rng() % 4) {
			strbuf_add(&in, "--", 3);
			random_word(&in);
		}
		LLVMFuzzerTestOneInput((const uint8_t *)strbuf_str(&in), in.len);

		/* Count what was reached, so that this test cannot pass empty. */
		words_init(&w);
		w.n = 1;
		for (p = in.buf; p < in.buf + in.len; p += strlen(p) + 1)
			words_add(&w, p);
		if (su_parse_args(w.n, w.v, &req, &why) == 0) {
			accepted++;
			if (req.nr_mounts)
				with_mounts++;
		}
	}
	print_message("# %zu runs, %zu accepted, %zu with mounts\n", runs, accepted, with_mounts);
	assert_true(accepted > runs / 50);
	assert_true(with_mounts > runs / 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_request),
		cmocka_unit_test(test_full_request),
		cmocka_unit_test(test_a_second_parse_starts_clean),
		cmocka_unit_test(test_protocol_word_required),
		cmocka_unit_test(test_argc_zero_and_one),
		cmocka_unit_test(test_command_needs_double_dash),
		cmocka_unit_test(test_words_after_double_dash_are_the_command),
		cmocka_unit_test(test_unknown_options),
		cmocka_unit_test(test_env_names),
		cmocka_unit_test(test_mounts_accepted),
		cmocka_unit_test(test_mount_sources_below_callers_home),
		cmocka_unit_test(test_mount_targets_below_agents_home),
		cmocka_unit_test(test_mount_needs_two_paths),
		cmocka_unit_test(test_mount_ids),
		cmocka_unit_test(test_path_length_limit),
		cmocka_unit_test(test_protected_paths),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_keep_running),
		cmocka_unit_test(test_resource_limits),
		cmocka_unit_test(test_resource_limits_refused),
		cmocka_unit_test(test_network_modes),
		cmocka_unit_test(test_capture_ports),
		cmocka_unit_test(test_capture_limit),
		cmocka_unit_test(test_mount_limit),
		cmocka_unit_test(test_env_limit),
		cmocka_unit_test(test_protected_paths_have_no_limit),
		cmocka_unit_test(test_watch_needs_the_report_channel),
		cmocka_unit_test(test_null_where_checked),
		cmocka_unit_test(test_null_after_an_option),
		cmocka_unit_test(test_mutation_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
