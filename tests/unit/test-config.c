/* test-config.c: the config file: schema, reference compatibility, saving, locking. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "config.h"
#include "toml.h"
#include "util.h"

#define DATA SRCDIR "/tests/data/config/"

static char *read_file(const char *path, size_t *len)
{
	autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct strbuf sb = STRBUF_INIT;

	if (fd < 0)
		fail_msg("cannot open %s", path);
	assert_int_equal(read_fd_all(fd, 1 << 20, &sb), 0);
	strbuf_add(&sb, "", 0);
	if (len)
		*len = sb.len;
	return strbuf_detach(&sb);
}

static void write_file(const char *path, const char *text)
{
	autoclose int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, text, strlen(text)), 0);
}

static void parse_ok(struct config *cfg, const char *text)
{
	autofree char *err = NULL;

	if (config_parse(cfg, "c.toml", text, strlen(text), &err) < 0)
		fail_msg("unexpected error: %s", err);
}

/* A fresh scratch folder per test. */
static char *scratch(void)
{
	char tmpl[] = "/tmp/au-test-config.XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	return xstrdup(tmpl);
}

static void remove_tree(const char *path)
{
	char *argv[] = { (char *)"rm", (char *)"-rf", (char *)path, NULL };
	pid_t pid = fork();
	int status;

	if (!pid) {
		execvp("rm", argv);
		_exit(127);
	}
	waitpid(pid, &status, 0);
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* Runs fn in a child; returns its exit status, with what it wrote on stderr. */
static int run_child(void (*fn)(void *), void *arg, char **errout)
{
	int pipefd[2];
	struct strbuf sb = STRBUF_INIT;
	pid_t pid;
	int status;

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		dup2(pipefd[1], STDERR_FILENO);
		fn(arg);
		_exit(0);
	}
	close(pipefd[1]);
	read_fd_all(pipefd[0], 1 << 20, &sb);
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	strbuf_add(&sb, "", 0);
	*errout = strbuf_detach(&sb);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- the reference tool's files ---- */

static void test_reference_file_loads_and_is_written_identically(void **state)
{
	struct config cfg;
	size_t len;
	autofree char *text = read_file(DATA "reference-typical.toml", &len);
	autofree char *out = NULL;
	const struct agent *a;

	config_load(&cfg, DATA "reference-typical.toml");
	assert_true(cfg.disable_home_access_check);
	assert_int_equal(cfg.nr_agents, 2);
	a = &cfg.agents[0];
	assert_string_equal(a->user_name, "agent");
	assert_string_equal(a->group, "su-as-agent");
	assert_string_equal(a->entrypoint, "/usr/local/libexec/agent-as-unix-user/agent/su_as_agent");
	assert_int_equal(strlen(a->entrypoint_sha256), 64);
	assert_true(a->bootstrapped);
	assert_int_equal(a->nr_mounts, 2);
	assert_string_equal(a->mounts[0].source, "/home/alice/example");
	assert_string_equal(a->mounts[0].target, "/home/agent/example");
	assert_false(a->mounts[0].read_only);
	assert_true(a->mounts[1].read_only);
	assert_int_equal(a->nr_env, 0);
	assert_null(a->unknown);
	assert_string_equal(cfg.agents[1].entrypoint_sha256, ENTRYPOINT_SHA256_UNKNOWN);
	assert_false(cfg.agents[1].bootstrapped);
	assert_false(cfg.has_protected_paths);
	assert_null(cfg.unknown);

	/* What the reference writer (json.dumps per value) produces, byte for byte. */
	out = config_format(&cfg);
	assert_string_equal(out, text);
	config_release(&cfg);
}

static void test_reference_typical_format_literal(void **state)
{
	struct config cfg = { 0 };
	struct agent *a;
	autofree char *out = NULL;

	cfg.path = xstrdup("x.toml");
	a = config_add_agent(&cfg, "agent");
	free(a->entrypoint);
	a->entrypoint = xstrdup("/home/agent/.config/agent-as-unix-user/su_as_agent");
	agent_add_mount(a, "/home/alice/example", "/home/agent/example", false);
	out = config_format(&cfg);
	assert_string_equal(out,
			    "[[agents]]\n"
			    "user_name = \"agent\"\n"
			    "su_as_agent_group = \"su-as-agent\"\n"
			    "entrypoint = \"/home/agent/.config/agent-as-unix-user/su_as_agent\"\n"
			    "entrypoint_sha256 = \"<unknown>\"\n"
			    "bootstrapped = false\n"
			    "[[agents.mounts]]\n"
			    "source = \"/home/alice/example\"\n"
			    "target = \"/home/agent/example\"\n"
			    "read_only = false\n");
	config_release(&cfg);
}

static void test_reference_escapes(void **state)
{
	struct config cfg;
	autofree char *out = NULL;
	struct config again;

	config_load(&cfg, DATA "reference-escapes.toml");
	assert_string_equal(cfg.agents[0].mounts[0].source,
			    "/home/alice/caf\xc3\xa9 \"quoted\" back\\slash");
	assert_string_equal(cfg.agents[0].mounts[0].target, "/home/agent/caf\xc3\xa9\ttab");
	/* We write UTF-8 as is where the reference writes \u00e9: same data. */
	out = config_format(&cfg);
	assert_non_null(strstr(out, "source = \"/home/alice/caf\xc3\xa9 \\\"quoted\\\" back\\\\slash\"\n"));
	assert_non_null(strstr(out, "target = \"/home/agent/caf\xc3\xa9\\ttab\"\n"));
	parse_ok(&again, out);
	assert_string_equal(again.agents[0].mounts[0].source, cfg.agents[0].mounts[0].source);
	assert_string_equal(again.agents[0].mounts[0].target, cfg.agents[0].mounts[0].target);
	config_release(&again);
	config_release(&cfg);
}

static void test_our_extensions_round_trip_byte_for_byte(void **state)
{
	struct config cfg;
	autofree char *text = read_file(DATA "ours.toml", NULL);
	autofree char *out = NULL;
	const char *const *pp;

	config_load(&cfg, DATA "ours.toml");
	assert_int_equal(cfg.agents[0].nr_env, 2);
	assert_string_equal(cfg.agents[0].env[0], "HTTPS_PROXY");
	assert_string_equal(cfg.agents[0].env[1], "FOO=bar=baz");
	assert_null(cfg.agents[0].env[2]);
	assert_int_equal(cfg.agents[0].nr_limits, 3);
	assert_string_equal(cfg.agents[0].limits[0], "memory=16G");
	assert_string_equal(cfg.agents[0].limits[2], "tasks=512");
	assert_null(cfg.agents[0].limits[3]);
	assert_true(cfg.has_protected_paths);
	pp = config_protected_paths(&cfg);
	assert_string_equal(pp[5], "Makefile");
	assert_null(pp[6]);
	/* A mount's source as it was shared; an inode above INT64_MAX goes through a negative number. */
	assert_true(cfg.agents[0].mounts[0].has_identity);
	assert_true(cfg.agents[0].mounts[0].source_device == 2049 && cfg.agents[0].mounts[0].source_inode == 1312);
	assert_true(cfg.agents[0].mounts[1].source_device == 64 &&
		    cfg.agents[0].mounts[1].source_inode == 18446744073709551614ULL);
	out = config_format(&cfg);
	assert_string_equal(out, text);
	config_release(&cfg);
}

/*
 * Every key of orig is in written with the same value; written may have more
 * (read_only is always written). Arrays of tables are compared element-wise.
 */
static void assert_subset(const struct toml_table *orig, const struct toml_table *written)
{
	for (size_t n = 0; n < orig->nr; n++) {
		const struct toml_entry *e = &orig->entries[n];
		const struct toml_value *w = toml_table_get(written, e->key.ptr);
		const struct toml_array *a = e->value.u.array;

		if (!w)
			fail_msg("key '%s' was lost", e->key.ptr);
		if (e->value.type == TOML_ARRAY && a->of_tables) {
			assert_int_equal(w->type, TOML_ARRAY);
			assert_int_equal(w->u.array->nr, a->nr);
			for (size_t k = 0; k < a->nr; k++)
				assert_subset(a->items[k].u.table, w->u.array->items[k].u.table);
		} else if (!toml_value_equal(&e->value, w)) {
			fail_msg("key '%s' changed", e->key.ptr);
		}
	}
}

static void test_unknown_keys_are_kept(void **state)
{
	struct config cfg, again;
	autofree char *out = NULL;
	autofree char *out2 = NULL;
	char *err = NULL;
	struct toml_table *orig, *written;
	size_t len;
	autofree char *text = read_file(DATA "unknown-keys.toml", &len);

	config_load(&cfg, DATA "unknown-keys.toml");
	assert_true(cfg.has_disable_home_access_check);
	assert_false(cfg.disable_home_access_check);
	assert_non_null(cfg.unknown);
	assert_non_null(toml_table_get(cfg.unknown, "future_flag"));
	assert_non_null(toml_table_get(cfg.unknown, "extra"));
	assert_non_null(toml_table_get(cfg.agents[0].unknown, "shell"));
	assert_non_null(toml_table_get(cfg.agents[0].unknown, "quota"));
	assert_non_null(toml_table_get(cfg.agents[0].mounts[0].unknown, "since"));
	assert_true(cfg.agents[0].mounts[0].read_only);

	out = config_format(&cfg);
	/* Kept as written: disable_home_access_check = false, the raw float and date. */
	assert_non_null(strstr(out, "disable_home_access_check = false\n"));
	assert_non_null(strstr(out, "future_flag = 1.5e3\n"));
	assert_non_null(strstr(out, "last_update = 2024-05-27T07:32:00Z\n"));
	assert_non_null(strstr(out, "since = 07:32:00.5\n"));

	/* The whole document, read as plain TOML, is the same data after our rewrite. */
	orig = toml_parse("orig", text, len, &err);
	assert_non_null(orig);
	written = toml_parse("written", out, strlen(out), &err);
	if (!written)
		fail_msg("%s\n%s", err, out);
	/* Same data; only the order of root keys differs ([extra] moves above the agents). */
	assert_int_equal(orig->nr, written->nr);
	assert_subset(orig, written);
	toml_table_free(orig);
	toml_table_free(written);

	/* And our output is stable. */
	parse_ok(&again, out);
	out2 = config_format(&again);
	assert_string_equal(out, out2);
	config_release(&again);
	config_release(&cfg);
}

static void test_empty_and_hand_written(void **state)
{
	struct config cfg;
	autofree char *out = NULL;

	config_load(&cfg, DATA "empty.toml");
	assert_int_equal(cfg.nr_agents, 0);
	assert_false(cfg.disable_home_access_check);
	out = config_format(&cfg);
	assert_string_equal(out, "");
	config_release(&cfg);

	config_load(&cfg, DATA "hand-written-crlf.toml");
	assert_true(cfg.disable_home_access_check);
	assert_string_equal(cfg.agents[0].user_name, "crlf");
	assert_int_equal(cfg.agents[0].nr_mounts, 2);
	assert_true(cfg.agents[0].mounts[0].read_only);
	assert_false(cfg.agents[0].mounts[1].read_only);
	config_release(&cfg);

	parse_ok(&cfg, "# only a comment\n\n");
	assert_int_equal(cfg.nr_agents, 0);
	config_release(&cfg);
}

static const char agent_head[] =
	"[[agents]]\n"
	"user_name = \"agent\"\n"
	"su_as_agent_group = \"su-as-agent\"\n"
	"entrypoint = \"/e/su_as_agent\"\n"
	"entrypoint_sha256 = \"<unknown>\"\n";

static const char agent_head_bootstrapped[] =
	"[[agents]]\n"
	"user_name = \"agent\"\n"
	"su_as_agent_group = \"su-as-agent\"\n"
	"entrypoint = \"/e/su_as_agent\"\n"
	"entrypoint_sha256 = \"<unknown>\"\n"
	"bootstrapped = true\n";

struct bad {
	const char *text;
	const char *error;
};

static void test_schema_errors(void **state)
{
	static const struct bad bad[] = {
		{ "disable_home_access_check = \"yes\"\n",
		  "1:29: 'disable_home_access_check' must be a boolean (true or false), not a string" },
		{ "agents = 1\n", "1:10: 'agents' must be an array of tables, not an integer" },
		{ "[agents]\n", "1:1: 'agents' must be an array of tables, not a table" },
		{ "agents = [1]\n", "1:11: each element of 'agents' must be a table, not an integer" },
		{ "\n[[agents]]\nuser_name = \"a\"\n",
		  "2:1: an agent is missing the required key 'su_as_agent_group'" },
		{ "[[agents]]\nuser_name = 5\n", "2:13: 'user_name' must be a string, not an integer" },
		{ "[[agents]]\nuser_name = \"\"\n", "2:13: 'user_name' must not be empty" },
		{ "[[agents]]\nuser_name = \"a\\u0000b\"\n",
		  "2:13: 'user_name' must not contain a NUL character" },
		{ "agents = [{ user_name = \"a\" }]\n",
		  "1:11: an agent is missing the required key 'su_as_agent_group'" },
		{ "[[agents]]\nuser_name = \"agent\"\nsu_as_agent_group = \"g\"\n"
		  "entrypoint = \"relative\"\n",
		  "4:14: 'entrypoint' must be an absolute path" },
		{ "[[agents]]\nuser_name = \"agent\"\nsu_as_agent_group = \"g\"\n"
		  "entrypoint = \"/e\"\nentrypoint_sha256 = \"ABC\"\n",
		  "5:21: 'entrypoint_sha256' must be 64 lowercase hex digits or \"<unknown>\"" },
		{ "BOOT\nbootstrapped = \"yes\"\n",
		  "6:16: 'bootstrapped' must be a boolean (true or false), not a string" },
		{ "BOOT\n", "1:1: an agent is missing the required key 'bootstrapped'" },
		{ "BOOT\nbootstrapped = true\nenv = \"X\"\n",
		  "7:7: 'env' must be an array of strings, not a string" },
		{ "BOOT\nbootstrapped = true\nenv = [\"X\", \"=v\"]\n",
		  "7:13: 'env' entries must be KEY or KEY=VALUE" },
		{ "BOOT\nbootstrapped = true\nenv = [1]\n",
		  "7:8: 'env' must be a string, not an integer" },
		{ "BOOT\nbootstrapped = true\nlimits = \"memory=1G\"\n",
		  "7:10: 'limits' must be an array of strings, not a string" },
		{ "BOOT\nbootstrapped = true\nlimits = [\"memory=1G\", \"cpu=150\"]\n",
		  "7:24: 'limits': cpu '150' is not a percentage of one CPU from 1% to 100000%, such as 50% or "
		  "150%, or max" },
		{ "BOOT\nbootstrapped = true\nlimits = [\"disk=1G\"]\n",
		  "7:11: 'limits': 'disk=1G' is not KEY=VALUE with KEY memory, cpu or tasks" },
		{ "BOOT\nbootstrapped = true\nlimits = [\"tasks=8\", \"tasks=max\"]\n",
		  "7:22: 'limits': tasks is given twice" },
		{ "BOOT\nbootstrapped = true\nentrypoint_source_sha256 = \"<unknown>\"\n",
		  "7:28: 'entrypoint_source_sha256' must be 64 lowercase hex digits" },
		{ "BOOT\nbootstrapped = true\nmounts = 3\n",
		  "7:10: 'mounts' must be an array of tables, not an integer" },
		{ "BOOT\nbootstrapped = true\n[[agents.mounts]]\nsource = \"/a\"\n",
		  "7:1: a mount is missing the required key 'target'" },
		{ "BOOT\nbootstrapped = true\n[[agents.mounts]]\nsource = \"/a\"\ntarget = \"b\"\n",
		  "9:10: 'target' must be an absolute path" },
		{ "BOOT\nbootstrapped = true\n[[agents.mounts]]\nsource = \"/a\"\ntarget = \"/b\"\n"
		  "read_only = 0\n",
		  "10:13: 'read_only' must be a boolean (true or false), not an integer" },
		{ "BOOT\nbootstrapped = true\n[[agents.mounts]]\nsource = \"/a\"\ntarget = \"/b\"\n"
		  "source_device = 1\n",
		  "10:17: a mount has both 'source_device' and 'source_inode', or neither" },
		{ "BOOT\nbootstrapped = true\n[[agents.mounts]]\nsource = \"/a\"\ntarget = \"/b\"\n"
		  "source_device = 1\nsource_inode = \"2\"\n",
		  "11:16: 'source_device' and 'source_inode' must be integers" },
		{ "BOOT\nbootstrapped = true\nBOOT\nbootstrapped = false\n",
		  "7:1: agent 'agent' is defined twice" },
		{ "protected_paths = \".git\"\n",
		  "1:19: 'protected_paths' must be an array of strings, not a string" },
		{ "protected_paths = [\".git\", \"/etc\"]\n",
		  "1:28: 'protected_paths' entries must be relative paths without '..'" },
		{ "protected_paths = [\"a/../../b\"]\n",
		  "1:20: 'protected_paths' entries must be relative paths without '..'" },
		/* TOML errors come through with the same shape. */
		{ "[[agents]]\nuser_name = \"a\"\nuser_name = \"b\"\n", "3:1: duplicate key 'user_name'" },
	};

	for (size_t n = 0; n < ARRAY_SIZE(bad); n++) {
		struct strbuf text = STRBUF_INIT;
		struct config cfg;
		char *err = NULL;
		const char *t = bad[n].text;

		/* BOOT: an agent with every key but "bootstrapped", at line 1. */
		for (const char *b; (b = strstr(t, "BOOT")); t = b + 4) {
			strbuf_add(&text, t, (size_t)(b - t));
			strbuf_add(&text, agent_head, sizeof(agent_head) - 2);
		}
		strbuf_addstr(&text, t);
		if (config_parse(&cfg, "c.toml", text.buf, text.len, &err) == 0)
			fail_msg("accepted %zu:\n%s", n, text.buf);
		if (strncmp(err, "c.toml:", 7) || strcmp(err + 7, bad[n].error))
			fail_msg("input %zu:\n%s\nexpected: c.toml:%s\n     got: %s", n, text.buf,
				 bad[n].error, err);
		/* A failed parse leaves an empty config that can be released. */
		assert_int_equal(cfg.nr_agents, 0);
		config_release(&cfg);
		free(err);
		strbuf_release(&text);
	}
}

/* The source's fingerprint is ours: optional, kept, and written after the reference's keys. */
static void test_entrypoint_source_sha256_round_trip(void **state)
{
	static const char hex[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	autofree char *text = xasprintf("%sbootstrapped = true\nentrypoint_source_sha256 = \"%s\"\n",
					agent_head, hex);
	autofree char *out = NULL;
	struct config cfg;

	parse_ok(&cfg, agent_head_bootstrapped);
	assert_null(cfg.agents[0].entrypoint_source_sha256);
	config_release(&cfg);

	parse_ok(&cfg, text);
	assert_string_equal(cfg.agents[0].entrypoint_source_sha256, hex);
	out = config_format(&cfg);
	assert_string_equal(out, text);
	config_release(&cfg);
}

/* ---- helpers on the config ---- */

static void test_agents_mounts_env(void **state)
{
	struct config cfg;
	struct agent *a;
	autofree char *out = NULL;
	struct config again;

	parse_ok(&cfg, "");
	a = config_add_agent(&cfg, "agent");
	assert_string_equal(a->group, "su-as-agent");
	assert_string_equal(a->entrypoint_sha256, ENTRYPOINT_SHA256_UNKNOWN);
	assert_false(a->bootstrapped);
	config_add_agent(&cfg, "second");
	config_add_agent(&cfg, "third");
	assert_ptr_equal(config_find_agent(&cfg, "second"), &cfg.agents[1]);
	config_remove_agent(&cfg, "second");
	assert_null(config_find_agent(&cfg, "second"));
	assert_string_equal(cfg.agents[1].user_name, "third");
	config_remove_agent(&cfg, "nobody");
	assert_int_equal(cfg.nr_agents, 2);

	a = config_find_agent(&cfg, "agent");
	agent_add_mount(a, "/h/a", "/g/a", true);
	agent_add_mount(a, "/h/b", "/g/b", false);
	agent_add_mount(a, "/h/c", "/g/c", true);
	agent_remove_mount(a, 1);
	assert_int_equal(a->nr_mounts, 2);
	assert_string_equal(a->mounts[1].source, "/h/c");
	agent_remove_mount(a, 7);
	assert_int_equal(a->nr_mounts, 2);

	agent_env_set(a, "A=1");
	agent_env_set(a, "B");
	agent_env_set(a, "URL=http://x/?a=b");
	agent_env_set(a, "A=2=3");
	assert_int_equal(a->nr_env, 3);
	assert_string_equal(a->env[0], "A=2=3");
	assert_true(agent_env_unset(a, "B"));
	assert_false(agent_env_unset(a, "B"));
	assert_false(agent_env_unset(a, "UR"));
	assert_int_equal(a->nr_env, 2);
	assert_string_equal(a->env[1], "URL=http://x/?a=b");
	assert_null(a->env[2]);
	agent_env_set(a, "B");
	assert_string_equal(a->env[2], "B");

	agent_limit_set(a, "memory=16G");
	agent_limit_set(a, "tasks=512");
	agent_limit_set(a, "memory=8G");
	assert_int_equal(a->nr_limits, 2);
	assert_string_equal(a->limits[0], "memory=8G");
	assert_false(agent_limit_unset(a, "cpu"));
	assert_false(agent_limit_unset(a, "mem"));
	assert_true(agent_limit_unset(a, "memory"));
	assert_int_equal(a->nr_limits, 1);
	assert_string_equal(a->limits[0], "tasks=512");
	assert_null(a->limits[1]);

	/* Whatever the helpers built loads back the same. */
	out = config_format(&cfg);
	parse_ok(&again, out);
	assert_int_equal(again.nr_agents, 2);
	assert_int_equal(again.agents[0].nr_mounts, 2);
	assert_int_equal(again.agents[0].nr_env, 3);
	assert_string_equal(again.agents[0].env[0], "A=2=3");
	assert_int_equal(again.agents[0].nr_limits, 1);
	assert_string_equal(again.agents[0].limits[0], "tasks=512");
	assert_false(again.agents[1].mounts != NULL);
	config_release(&again);
	config_release(&cfg);
}

static void test_protected_paths(void **state)
{
	struct config cfg;
	const char *const *pp;

	parse_ok(&cfg, "");
	pp = config_protected_paths(&cfg);
	assert_ptr_equal(pp, default_protected_paths);
	assert_string_equal(pp[0], ".git/hooks");
	assert_string_equal(pp[1], ".git/config");
	assert_string_equal(pp[2], ".envrc");
	assert_string_equal(pp[3], ".vscode");
	assert_string_equal(pp[4], ".idea");
	assert_null(pp[5]);
	config_release(&cfg);

	/* An explicit empty list turns protection off, and is written back. */
	parse_ok(&cfg, "protected_paths = []\n");
	pp = config_protected_paths(&cfg);
	assert_null(pp[0]);
	{
		autofree char *out = config_format(&cfg);

		assert_string_equal(out, "protected_paths = []\n");
	}
	config_release(&cfg);
}

/* The network keys: ours, kept where the reference tool ignores them, and checked on load. */
static void test_net_keys(void **state)
{
	static const char text[] =
		"[[agents]]\n"
		"user_name = \"agent\"\n"
		"su_as_agent_group = \"su-as-agent\"\n"
		"entrypoint = \"/e/su_as_agent\"\n"
		"entrypoint_sha256 = \"<unknown>\"\n"
		"bootstrapped = true\n"
		"net_mode = \"allow\"\n"
		"net_allow = [\"registry.npmjs.org\", \"*.example.com:443\", \"localhost:5432\", \"[2001:db8::7]:22\"]\n";
	static const struct bad bad[] = {
		{ "BOOT\nbootstrapped = true\nnet_mode = \"full\"\n",
		  "7:12: 'net_mode' must be one of none, allow, all or host" },
		{ "BOOT\nbootstrapped = true\nnet_mode = \"\"\n",
		  "7:12: 'net_mode' must be one of none, allow, all or host" },
		{ "BOOT\nbootstrapped = true\nnet_mode = true\n", "7:12: 'net_mode' must be a string, not a boolean" },
		{ "BOOT\nbootstrapped = true\nnet_allow = \"example.com\"\n",
		  "7:13: 'net_allow' must be an array of strings, not a string" },
		{ "BOOT\nbootstrapped = true\nnet_allow = [\"example.com\", \"*\"]\n",
		  "7:29: bad pattern '*' in 'net_allow': '*' alone would allow everything; use 'au net mode all' for that" },
		{ "BOOT\nbootstrapped = true\nnet_allow = [\"example.com:0\"]\n",
		  "7:14: bad pattern 'example.com:0' in 'net_allow': the port must be a number from 1 to 65535" },
		{ "BOOT\nbootstrapped = true\nnet_allow = [\"localhost\"]\n",
		  "7:14: bad pattern 'localhost' in 'net_allow': localhost needs a port: localhost:PORT" },
		{ "BOOT\nbootstrapped = true\nnet_allow = [\"a\\u001b[31m.com\"]\n",
		  "7:14: bad pattern 'a\\x1b[31m.com' in 'net_allow': invalid character in host name" },
	};
	struct config cfg;
	struct agent *a;
	autofree char *out = NULL;

	/* Without the keys: mode all, nothing listed, and nothing written. */
	parse_ok(&cfg, "[[agents]]\nuser_name = \"agent\"\nsu_as_agent_group = \"su-as-agent\"\n"
		       "entrypoint = \"/e/su_as_agent\"\nentrypoint_sha256 = \"<unknown>\"\nbootstrapped = true\n");
	a = &cfg.agents[0];
	assert_null(a->net_mode);
	assert_int_equal(a->nr_net_allow, 0);
	out = config_format(&cfg);
	assert_null(strstr(out, "net_"));
	free(out);
	config_release(&cfg);

	parse_ok(&cfg, text);
	a = &cfg.agents[0];
	assert_string_equal(a->net_mode, "allow");
	assert_int_equal(a->nr_net_allow, 4);
	assert_string_equal(a->net_allow[3], "[2001:db8::7]:22");
	assert_null(a->net_allow[4]);
	out = config_format(&cfg);
	assert_string_equal(out, text);
	free(out);

	/* Allow adds once; disallow takes out, and the array stays NULL-terminated. */
	assert_false(agent_net_allow(a, "registry.npmjs.org"));
	assert_true(agent_net_allow(a, "deb.debian.org"));
	assert_int_equal(a->nr_net_allow, 5);
	assert_true(agent_net_disallow(a, "registry.npmjs.org"));
	assert_false(agent_net_disallow(a, "registry.npmjs.org"));
	assert_int_equal(a->nr_net_allow, 4);
	assert_string_equal(a->net_allow[0], "*.example.com:443");
	assert_string_equal(a->net_allow[3], "deb.debian.org");
	assert_null(a->net_allow[4]);
	for (size_t i = 0; i < 4; i++)
		assert_true(agent_net_disallow(a, a->net_allow[0]));
	agent_net_set_mode(a, "none");
	out = config_format(&cfg);
	assert_non_null(strstr(out, "net_mode = \"none\"\n"));
	assert_null(strstr(out, "net_allow"));
	free(out);
	out = NULL;
	config_release(&cfg);

	for (size_t n = 0; n < ARRAY_SIZE(bad); n++) {
		autostrbuf struct strbuf t = STRBUF_INIT;
		autofree char *err = NULL;

		strbuf_add(&t, agent_head, sizeof(agent_head) - 2);
		strbuf_addstr(&t, bad[n].text + 4);
		if (config_parse(&cfg, "c.toml", t.buf, t.len, &err) == 0)
			fail_msg("accepted %zu:\n%s", n, t.buf);
		if (strncmp(err, "c.toml:", 7) || strcmp(err + 7, bad[n].error))
			fail_msg("input %zu:\n%s\nexpected: c.toml:%s\n     got: %s", n, t.buf, bad[n].error, err);
		config_release(&cfg);
	}
}

static void test_default_path(void **state)
{
	autofree char *path = config_default_path();

	assert_non_null(strstr(path, "/.config/agent-as-unix-user.toml"));
	assert_true(path[0] == '/');
}

/* ---- comments ---- */

static const char commented[] =
	"# My agents. Ask Bob before you change this.\n"
	"\n"
	"disable_home_access_check = true  # my home is 0755 on purpose\n"
	"\n"
	"# The one for Claude Code.\n"
	"[[agents]]\n"
	"user_name = \"agent\"\n"
	"su_as_agent_group = \"su-as-agent\"\n"
	"entrypoint = \"/e/su_as_agent\"\n"
	"entrypoint_sha256 = \"<unknown>\"\n"
	"bootstrapped = true\n"
	"env = [\n"
	"  \"HTTPS_PROXY\",  # the office proxy\n"
	"]\n"
	"# The project, read-write.\n"
	"[[agents.mounts]]\n"
	"source = \"/home/alice/project\"\n"
	"target = \"/home/agent/project\"\n"
	"read_only = false\n"
	"\n"
	"# Codex, for reviews only.\n"
	"[[agents]]\n"
	"user_name = \"reviewer\"  # named by Bob\n"
	"su_as_agent_group = \"su-as-reviewer\"\n"
	"entrypoint = \"/e/su_as_agent\"\n"
	"entrypoint_sha256 = \"<unknown>\"\n"
	"bootstrapped = true\n"
	"\n"
	"# end of file\n";

/* The reference tool loses every comment at its first write; we keep each at its key. */
static void test_comments_stay_at_their_keys(void **state)
{
	struct config cfg, again;
	autofree char *out = NULL;
	autofree char *out2 = NULL;
	struct agent *a;

	parse_ok(&cfg, commented);
	out = config_format(&cfg);
	assert_string_equal(out,
		"# My agents. Ask Bob before you change this.\n"
		"\n"
		"disable_home_access_check = true  # my home is 0755 on purpose\n"
		"\n"
		"# The one for Claude Code.\n"
		"[[agents]]\n"
		"user_name = \"agent\"\n"
		"su_as_agent_group = \"su-as-agent\"\n"
		"entrypoint = \"/e/su_as_agent\"\n"
		"entrypoint_sha256 = \"<unknown>\"\n"
		"bootstrapped = true\n"
		"# the office proxy\n"
		"env = [\"HTTPS_PROXY\"]\n"
		"# The project, read-write.\n"
		"[[agents.mounts]]\n"
		"source = \"/home/alice/project\"\n"
		"target = \"/home/agent/project\"\n"
		"read_only = false\n"
		"\n"
		"# Codex, for reviews only.\n"
		"[[agents]]\n"
		"user_name = \"reviewer\"  # named by Bob\n"
		"su_as_agent_group = \"su-as-reviewer\"\n"
		"entrypoint = \"/e/su_as_agent\"\n"
		"entrypoint_sha256 = \"<unknown>\"\n"
		"bootstrapped = true\n"
		"# end of file\n");
	/* Written again, nothing moves. */
	parse_ok(&again, out);
	out2 = config_format(&again);
	assert_string_equal(out, out2);
	config_release(&again);

	/*
	 * The first agent goes, a mount is added to the other: the reviewer's
	 * comments follow it, the first agent's go with it, the top and the
	 * end of the file stay.
	 */
	config_remove_agent(&cfg, "agent");
	a = config_find_agent(&cfg, "reviewer");
	agent_add_mount(a, "/home/alice/docs", "/home/reviewer/docs", true);
	free(out);
	out = config_format(&cfg);
	assert_string_equal(out,
		"# My agents. Ask Bob before you change this.\n"
		"\n"
		"disable_home_access_check = true  # my home is 0755 on purpose\n"
		"\n"
		"# Codex, for reviews only.\n"
		"[[agents]]\n"
		"user_name = \"reviewer\"  # named by Bob\n"
		"su_as_agent_group = \"su-as-reviewer\"\n"
		"entrypoint = \"/e/su_as_agent\"\n"
		"entrypoint_sha256 = \"<unknown>\"\n"
		"bootstrapped = true\n"
		"[[agents.mounts]]\n"
		"source = \"/home/alice/docs\"\n"
		"target = \"/home/reviewer/docs\"\n"
		"read_only = true\n"
		"# end of file\n");
	config_release(&cfg);
}

/* Files we already had: a CRLF one and one with keys we do not know keep their comments. */
static void test_comments_of_hand_written_files(void **state)
{
	struct config cfg;
	autofree char *out = NULL;
	autofree char *out2 = NULL;

	config_load(&cfg, DATA "hand-written-crlf.toml");
	out = config_format(&cfg);
	assert_non_null(strstr(out, "user_name = \"crlf\"  # comment\n"));
	config_release(&cfg);

	config_load(&cfg, DATA "unknown-keys.toml");
	out2 = config_format(&cfg);
	assert_non_null(strstr(out2, "# Written by a newer tool, edited by hand.\n"));
	assert_non_null(strstr(out2, "shell = \"/bin/zsh\"   # not known to us\n"));
	config_release(&cfg);
}

/* ---- loading and saving files ---- */

static void test_missing_file_creates_nothing(void **state)
{
	autofree char *dir = scratch();
	autofree char *path = xasprintf("%s/no/such/folder/c.toml", dir);
	autofree char *path2 = xasprintf("%s/c.toml", dir);
	struct config cfg;

	config_load(&cfg, path);
	assert_int_equal(cfg.nr_agents, 0);
	assert_string_equal(cfg.path, path);
	config_release(&cfg);
	config_load(&cfg, path2);
	config_release(&cfg);
	assert_int_equal(count_entries(dir), 0);
	remove_tree(dir);
}

static void load_child(void *arg)
{
	struct config cfg;

	config_load(&cfg, arg);
	config_release(&cfg);
}

static void test_load_errors_die(void **state)
{
	autofree char *dir = scratch();
	autofree char *path = xasprintf("%s/c.toml", dir);
	autofree char *err = NULL;
	autofree char *expected = NULL;
	autofree char *big = NULL;

	write_file(path, "[[agents]]\nbootstrapped = \"yes\"\n");
	assert_int_equal(run_child(load_child, path, &err), 1);
	expected = xasprintf("au: %s:1:1: an agent is missing the required key 'user_name'\n", path);
	assert_string_equal(err, expected);

	free(err);
	free(expected);
	write_file(path, "a = \"\x01\"\n");
	assert_int_equal(run_child(load_child, path, &err), 1);
	expected = xasprintf("au: %s:1:6: control character U+0001 in a string must be escaped\n",
			     path);
	assert_string_equal(err, expected);

	free(err);
	free(expected);
	assert_int_equal(run_child(load_child, dir, &err), 1);
	expected = xasprintf("au: cannot read '%s': not a regular file\n", dir);
	assert_string_equal(err, expected);

	/* Over the size cap. */
	free(err);
	big = xmalloc(5 << 20);
	memset(big, '#', 5 << 20);
	big[(5 << 20) - 1] = '\0';
	write_file(path, big);
	assert_int_equal(run_child(load_child, path, &err), 1);
	assert_non_null(strstr(err, "larger than 4 MiB"));

	if (geteuid() != 0) {
		free(err);
		free(expected);
		write_file(path, "");
		chmod(path, 0);
		assert_int_equal(run_child(load_child, path, &err), 1);
		expected = xasprintf("au: cannot read '%s': Permission denied\n", path);
		assert_string_equal(err, expected);
	}
	remove_tree(dir);
}

/* A child that would hang on a FIFO ends with SIGALRM instead (status 128 + 14). */
static void load_child_alarm(void *arg)
{
	alarm(10);
	load_child(arg);
}

static void lock_child_alarm(void *arg)
{
	alarm(10);
	close(config_lock(arg, CONFIG_LOCK_SHARED));
}

/* A FIFO in the config's place is refused at once, not waited on. */
static void test_load_refuses_a_fifo_without_waiting(void **state)
{
	autofree char *dir = scratch();
	autofree char *path = xasprintf("%s/c.toml", dir);
	autofree char *lock = xasprintf("%s/d.toml.lock", dir);
	autofree char *lock_config = xasprintf("%s/d.toml", dir);
	autofree char *err = NULL;
	autofree char *expected = NULL;

	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(run_child(load_child_alarm, path, &err), 1);
	expected = xasprintf("au: cannot read '%s': not a regular file\n", path);
	assert_string_equal(err, expected);

	free(err);
	free(expected);
	assert_int_equal(mkfifo(lock, 0600), 0);
	assert_int_equal(run_child(lock_child_alarm, lock_config, &err), 1);
	expected = xasprintf("au: cannot use lock '%s': not a regular file\n", lock);
	assert_string_equal(err, expected);
	remove_tree(dir);
}

/* Whoever can write the config can give an agent the human's files: refused, with the fix. */
static void test_load_refuses_a_config_others_can_write(void **state)
{
	autofree char *dir = scratch();
	autofree char *path = xasprintf("%s/c.toml", dir);
	autofree char *err = NULL;

	write_file(path, "");
	assert_int_equal(chmod(path, 0666), 0);
	assert_int_equal(run_child(load_child, path, &err), 1);
	assert_non_null(strstr(err, "is writable by others (mode 0666): refusing to use it"));
	assert_non_null(strstr(err, "hint: chmod 600"));

	free(err);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(run_child(load_child, path, &err), 0);
	assert_string_equal(err, "");

	/* A folder others can write: they could replace the file. Sticky (/tmp), they cannot. */
	free(err);
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(run_child(load_child, path, &err), 1);
	assert_non_null(strstr(err, "is writable by others (mode 0777): refusing to use it"));
	free(err);
	assert_int_equal(chmod(dir, 01777), 0);
	assert_int_equal(run_child(load_child, path, &err), 0);
	remove_tree(dir);
}

static void test_save_creates_folder_mode_0600_atomically(void **state)
{
	autofree char *dir = scratch();
	autofree char *sub = xasprintf("%s/home/.config", dir);
	autofree char *path = xasprintf("%s/agent-as-unix-user.toml", sub);
	autofree char *text = NULL;
	struct config cfg;
	struct stat st, st2;

	config_load(&cfg, path);
	config_add_agent(&cfg, "agent");
	config_save(&cfg);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	text = read_file(path, NULL);
	{
		autofree char *expected = config_format(&cfg);

		assert_string_equal(text, expected);
	}

	/* A save replaces the file (new inode): a reader never sees half a file. */
	chmod(path, 0644);
	cfg.disable_home_access_check = true;
	config_save(&cfg);
	assert_int_equal(stat(path, &st2), 0);
	assert_true(st.st_ino != st2.st_ino);
	assert_int_equal(st2.st_mode & 07777, 0600);
	assert_int_equal(count_entries(sub), 1);
	config_release(&cfg);
	config_load(&cfg, path);
	assert_true(cfg.disable_home_access_check);
	config_release(&cfg);
	remove_tree(dir);
}

static void save_child(void *arg)
{
	struct config cfg;
	char *err = NULL;

	config_parse(&cfg, arg, "", 0, &err);
	config_add_agent(&cfg, "agent");
	config_save(&cfg);
}

static void test_failed_save_leaves_no_temp_file(void **state)
{
	autofree char *dir = scratch();
	autofree char *path = xasprintf("%s/c.toml", dir);
	autofree char *err = NULL;

	/* A folder where the file should be: the rename fails. */
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(run_child(save_child, path, &err), 1);
	if (!strstr(err, "au: cannot replace '"))
		fail_msg("%s", err);
	assert_int_equal(count_entries(dir), 1);
	remove_tree(dir);
}

static void test_save_through_symlink(void **state)
{
	autofree char *dir = scratch();
	autofree char *real = xasprintf("%s/real.toml", dir);
	autofree char *link = xasprintf("%s/link.toml", dir);
	struct config cfg;
	struct stat st;

	write_file(real, "");
	assert_int_equal(symlink("real.toml", link), 0);
	config_load(&cfg, link);
	config_add_agent(&cfg, "agent");
	config_save(&cfg);
	config_release(&cfg);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	config_load(&cfg, real);
	assert_int_equal(cfg.nr_agents, 1);
	config_release(&cfg);
	remove_tree(dir);
}

/* ---- locking ---- */

static void test_lock_shared_without_file(void **state)
{
	autofree char *dir = scratch();
	autofree char *path = xasprintf("%s/sub/c.toml", dir);
	autofree char *lock = xasprintf("%s.lock", path);
	struct stat st;
	int fd;

	assert_int_equal(config_lock(path, CONFIG_LOCK_SHARED), -1);
	assert_int_equal(count_entries(dir), 0);
	fd = config_lock(path, CONFIG_LOCK_EXCLUSIVE);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(stat(lock, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	close(fd);
	fd = config_lock(path, CONFIG_LOCK_SHARED);
	assert_true(fd >= 0);
	close(fd);
	remove_tree(dir);
}

static void lock_child(void *arg)
{
	int fd = config_lock(arg, CONFIG_LOCK_EXCLUSIVE);

	_exit(fd >= 0 ? 0 : 3);
}

static void test_lock_waits_and_says_so(void **state)
{
	autofree char *dir = scratch();
	autofree char *path = xasprintf("%s/c.toml", dir);
	autofree char *err = NULL;
	autofree char *expected = NULL;
	int fd = config_lock(path, CONFIG_LOCK_EXCLUSIVE);
	pid_t pid;
	int pipefd[2], status;
	struct strbuf sb = STRBUF_INIT;
	char c;

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	if (!pid) {
		/* flock belongs to the open file: our copy would hold the lock too. */
		close(fd);
		dup2(pipefd[1], STDERR_FILENO);
		lock_child(path);
	}
	close(pipefd[1]);
	/* The child says it waits, and only gets the lock once we let go. */
	while (read(pipefd[0], &c, 1) == 1 && c != '\n')
		strbuf_addch(&sb, c);
	expected = xasprintf("au: waiting for another au to finish (lock '%s.lock')", path);
	assert_string_equal(strbuf_str(&sb), expected);
	assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
	close(fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(pipefd[0]);
	strbuf_release(&sb);
	remove_tree(dir);
}

static void test_concurrent_writers_lose_nothing(void **state)
{
	autofree char *dir = scratch();
	autofree char *path = xasprintf("%s/.config/c.toml", dir);
	struct config cfg;
	enum { WRITERS = 20 };
	pid_t pids[WRITERS];

	for (int n = 0; n < WRITERS; n++) {
		pids[n] = fork();
		assert_true(pids[n] >= 0);
		if (!pids[n]) {
			int fd = config_lock(path, CONFIG_LOCK_EXCLUSIVE);
			char name[16];

			/* The waiting message is expected here; keep the test output quiet. */
			config_load(&cfg, path);
			snprintf(name, sizeof(name), "agent%d", n);
			config_add_agent(&cfg, name);
			config_save(&cfg);
			close(fd);
			_exit(0);
		}
	}
	for (int n = 0; n < WRITERS; n++) {
		int status;

		assert_int_equal(waitpid(pids[n], &status, 0), pids[n]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	config_load(&cfg, path);
	assert_int_equal(cfg.nr_agents, WRITERS);
	for (int n = 0; n < WRITERS; n++) {
		char name[16];

		snprintf(name, sizeof(name), "agent%d", n);
		assert_non_null(config_find_agent(&cfg, name));
	}
	config_release(&cfg);
	remove_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reference_file_loads_and_is_written_identically),
		cmocka_unit_test(test_reference_typical_format_literal),
		cmocka_unit_test(test_reference_escapes),
		cmocka_unit_test(test_our_extensions_round_trip_byte_for_byte),
		cmocka_unit_test(test_unknown_keys_are_kept),
		cmocka_unit_test(test_empty_and_hand_written),
		cmocka_unit_test(test_schema_errors),
		cmocka_unit_test(test_entrypoint_source_sha256_round_trip),
		cmocka_unit_test(test_agents_mounts_env),
		cmocka_unit_test(test_protected_paths),
		cmocka_unit_test(test_net_keys),
		cmocka_unit_test(test_default_path),
		cmocka_unit_test(test_missing_file_creates_nothing),
		cmocka_unit_test(test_comments_stay_at_their_keys),
		cmocka_unit_test(test_comments_of_hand_written_files),
		cmocka_unit_test(test_load_errors_die),
		cmocka_unit_test(test_load_refuses_a_fifo_without_waiting),
		cmocka_unit_test(test_load_refuses_a_config_others_can_write),
		cmocka_unit_test(test_save_creates_folder_mode_0600_atomically),
		cmocka_unit_test(test_failed_save_leaves_no_temp_file),
		cmocka_unit_test(test_save_through_symlink),
		cmocka_unit_test(test_lock_shared_without_file),
		cmocka_unit_test(test_lock_waits_and_says_so),
		cmocka_unit_test(test_concurrent_writers_lose_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
