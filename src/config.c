/*
 * config.c: the config file (~/.config/agent-as-unix-user.toml), read with
 * the strict TOML reader of toml.c and written the way the reference tool
 * writes it, so that either tool can read what the other wrote.
 */
#include "config.h"
#include "au-config.h"
#include "limit.h"
#include "net.h"
#include "toml.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

/* A config file is a few kilobytes; this only guards against reading a disk image. */
#define CONFIG_MAX_SIZE (4u << 20)

const char *const default_protected_paths[] = {
	".git/hooks", ".git/config", ".envrc", ".vscode", ".idea", NULL,
};

/* strbuf_detach() of an empty strbuf does not write the NUL: make sure it is there. */
static char *config_detach(struct strbuf *sb)
{
	strbuf_add(sb, "", 0);
	return strbuf_detach(sb);
}

char *config_default_path(void)
{
	const struct passwd *pw = getpwuid(getuid());
	const char *home = pw ? pw->pw_dir : getenv("HOME");

	if (!home || !*home)
		die("cannot find the home directory of uid %u", (unsigned)getuid());
	return xasprintf("%s/.config/agent-as-unix-user.toml", home);
}

static char *folder_of(const char *path);

/*
 * What tells one [[agents]] (or [[agents.mounts]]) from another, so that
 * their comments follow them when another one is added or removed.
 */
static const char *const comment_identity_keys[] = { "user_name", "source", NULL };

/* ---- reading ---- */

struct schema {
	const char *path; /* escaped for display */
	char *err;
};

static int schema_fail(struct schema *s, struct toml_pos pos, const char *fmt, ...) AU_PRINTF(3, 4);
static int schema_fail(struct schema *s, struct toml_pos pos, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	strbuf_addf(&sb, "%s:%zu:%zu: ", s->path, pos.line, pos.col);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	s->err = config_detach(&sb);
	return -1;
}

static int get_string(struct schema *s, const struct toml_value *v, const char *key, char **out)
{
	if (v->type != TOML_STRING)
		return schema_fail(s, v->pos, "'%s' must be a string, not %s", key,
				   toml_type_name(v->type));
	/* Everything we keep is used as a C string: a NUL would cut it short. */
	if (strlen(v->u.str.ptr) != v->u.str.len)
		return schema_fail(s, v->pos, "'%s' must not contain a NUL character", key);
	*out = xstrdup(v->u.str.ptr);
	return 0;
}

static int get_bool(struct schema *s, const struct toml_value *v, const char *key, bool *out)
{
	if (v->type != TOML_BOOLEAN)
		return schema_fail(s, v->pos, "'%s' must be a boolean (true or false), not %s",
				   key, toml_type_name(v->type));
	*out = v->u.boolean;
	return 0;
}

static int get_absolute_path(struct schema *s, const struct toml_value *v, const char *key,
			     char **out)
{
	if (get_string(s, v, key, out) < 0)
		return -1;
	if ((*out)[0] != '/')
		return schema_fail(s, v->pos, "'%s' must be an absolute path", key);
	return 0;
}

/* An array of strings, returned NULL-terminated. */
static int get_string_array(struct schema *s, const struct toml_value *v, const char *key,
			    char ***out, size_t *nr)
{
	size_t count;

	if (v->type != TOML_ARRAY)
		return schema_fail(s, v->pos, "'%s' must be an array of strings, not %s", key,
				   toml_type_name(v->type));
	count = v->u.array->nr;
	*out = xcalloc(count + 1, sizeof(**out));
	for (*nr = 0; *nr < count; (*nr)++)
		if (get_string(s, &v->u.array->items[*nr], key, &(*out)[*nr]) < 0)
			return -1;
	return 0;
}

static bool is_sha256_hex(const char *s)
{
	size_t n;

	for (n = 0; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == 64;
}

/* Relative, and staying inside the folder it is applied to. */
static bool is_inner_relative_path(const char *s)
{
	const char *c = s;

	if (!*s || *s == '/')
		return false;
	while (*c) {
		size_t len = strcspn(c, "/");

		if (len == 2 && !strncmp(c, "..", 2))
			return false;
		c += len;
		c += *c == '/';
	}
	return true;
}

static struct toml_value *required(struct schema *s, const struct toml_table *t, const char *what,
				   const char *key)
{
	struct toml_value *v = toml_table_get(t, key);

	if (!v)
		schema_fail(s, t->pos, "%s is missing the required key '%s'", what, key);
	return v;
}

static const struct toml_table *get_table(struct schema *s, const struct toml_value *v,
					  const char *what)
{
	if (v->type != TOML_TABLE) {
		schema_fail(s, v->pos, "each element of '%s' must be a table, not %s", what,
			    toml_type_name(v->type));
		return NULL;
	}
	return v->u.table;
}

static bool is_known(const char *key, size_t len, const char *const *known)
{
	if (strlen(key) != len)
		return false;
	for (; *known; known++)
		if (!strcmp(key, *known))
			return true;
	return false;
}

/* Keeps the keys we do not know, for the rewrite. */
static struct toml_table *collect_unknown(const struct toml_table *t, const char *const *known)
{
	struct toml_table *unknown = NULL;

	for (size_t n = 0; n < t->nr; n++) {
		const struct toml_entry *e = &t->entries[n];

		if (is_known(e->key.ptr, e->key.len, known))
			continue;
		if (!unknown)
			unknown = toml_table_new();
		toml_table_add(unknown, e->key.ptr, e->key.len, toml_value_dup(&e->value));
	}
	return unknown;
}

/*
 * The source's device and inode, both or neither. TOML integers are signed
 * 64 bits: a number above INT64_MAX is written as its two's complement
 * (negative), and read back the same way.
 */
static int load_mount_identity(struct schema *s, const struct toml_table *t, struct mount_spec *m)
{
	const struct toml_value *dev = toml_table_get(t, "source_device");
	const struct toml_value *ino = toml_table_get(t, "source_inode");

	if (!dev && !ino)
		return 0;
	if (!dev || !ino)
		return schema_fail(s, (dev ? dev : ino)->pos,
				   "a mount has both 'source_device' and 'source_inode', or neither");
	if (dev->type != TOML_INTEGER || ino->type != TOML_INTEGER)
		return schema_fail(s, (dev->type != TOML_INTEGER ? dev : ino)->pos,
				   "'source_device' and 'source_inode' must be integers");
	m->has_identity = true;
	m->source_device = (unsigned long long)dev->u.integer;
	m->source_inode = (unsigned long long)ino->u.integer;
	return 0;
}

static void write_mount_identity(struct strbuf *sb, const struct mount_spec *m)
{
	if (!m->has_identity)
		return;
	strbuf_addf(sb, "source_device = %lld\nsource_inode = %lld\n", (long long)m->source_device,
		    (long long)m->source_inode);
}

static int load_mount(struct schema *s, const struct toml_table *t, struct mount_spec *m)
{
	static const char *const known[] = {
		"source", "target", "read_only", "source_device", "source_inode", NULL,
	};
	const struct toml_value *v;

	m->read_only = true;
	if (!(v = required(s, t, "a mount", "source")) ||
	    get_absolute_path(s, v, "source", &m->source) < 0)
		return -1;
	if (!(v = required(s, t, "a mount", "target")) ||
	    get_absolute_path(s, v, "target", &m->target) < 0)
		return -1;
	v = toml_table_get(t, "read_only");
	if (v && get_bool(s, v, "read_only", &m->read_only) < 0)
		return -1;
	if (load_mount_identity(s, t, m) < 0)
		return -1;
	m->unknown = collect_unknown(t, known);
	return 0;
}

static int load_env(struct schema *s, const struct toml_value *v, struct agent *a)
{
	if (get_string_array(s, v, "env", &a->env, &a->nr_env) < 0)
		return -1;
	for (size_t n = 0; n < a->nr_env; n++)
		if (a->env[n][0] == '=' || !a->env[n][0])
			return schema_fail(s, v->u.array->items[n].pos,
					   "'env' entries must be KEY or KEY=VALUE");
	return 0;
}

/* A uid or gid: what setresuid would take for a real user, never 0 or -1. */
static int get_id(struct schema *s, const struct toml_value *v, const char *key, unsigned *out)
{
	if (v->type != TOML_INTEGER)
		return schema_fail(s, v->pos, "'%s' must be an integer, not %s", key, toml_type_name(v->type));
	if (v->u.integer < 1 || v->u.integer >= 4294967295LL)
		return schema_fail(s, v->pos, "'%s' must be between 1 and 4294967294", key);
	*out = (unsigned)v->u.integer;
	return 0;
}

/*
 * Our extensions that say what au new made: the agent's uid and gid (so that
 * au delete can take ACL entries back by number, and check owners, once the
 * names are gone), and the SHA-256 of the entrypoint source its entrypoint
 * was compiled from (so that an upgrade of au shows as an entrypoint to
 * rebuild). All optional: the reference tool writes none of them.
 */
static int load_agent_made_with(struct schema *s, const struct toml_table *t, struct agent *a)
{
	const struct toml_value *v;
	unsigned id = 0;

	if ((v = toml_table_get(t, "uid"))) {
		if (get_id(s, v, "uid", &id) < 0)
			return -1;
		a->uid = id;
		a->has_uid = true;
	}
	if ((v = toml_table_get(t, "gid"))) {
		if (get_id(s, v, "gid", &id) < 0)
			return -1;
		a->gid = id;
		a->has_gid = true;
	}
	if ((v = toml_table_get(t, "entrypoint_source_sha256"))) {
		if (get_string(s, v, "entrypoint_source_sha256", &a->entrypoint_source_sha256) < 0)
			return -1;
		if (!is_sha256_hex(a->entrypoint_source_sha256))
			return schema_fail(s, v->pos, "'entrypoint_source_sha256' must be 64 lowercase hex digits");
	}
	return 0;
}

/* Each entry a valid limit (limit.h), each key once. */
static int load_limits(struct schema *s, const struct toml_value *v, struct agent *a)
{
	bool seen[LIMIT_KEYS] = { false };

	if (get_string_array(s, v, "limits", &a->limits, &a->nr_limits) < 0)
		return -1;
	for (size_t n = 0; n < a->nr_limits; n++) {
		autostrbuf struct strbuf why = STRBUF_INIT;
		unsigned long long value;
		enum limit_key key;

		if (limit_parse(a->limits[n], &key, &value, &why) < 0)
			return schema_fail(s, v->u.array->items[n].pos, "'limits': %s", why.buf);
		if (seen[key])
			return schema_fail(s, v->u.array->items[n].pos, "'limits': %s is given twice",
					   limit_name(key));
		seen[key] = true;
	}
	return 0;
}

/* A mode au knows; the reference tool ignores the key. */
static int load_net_mode(struct schema *s, const struct toml_value *v, struct agent *a)
{
	enum au_net_mode mode;

	if (get_string(s, v, "net_mode", &a->net_mode) < 0)
		return -1;
	if (au_net_mode_parse(a->net_mode, &mode) < 0)
		return schema_fail(s, v->pos, "'net_mode' must be one of " AU_NET_MODE_NAMES);
	return 0;
}

/* Patterns the proxy's own parser takes. */
static int load_net_allow(struct schema *s, const struct toml_value *v, struct agent *a)
{
	if (get_string_array(s, v, "net_allow", &a->net_allow, &a->nr_net_allow) < 0)
		return -1;
	for (size_t n = 0; n < a->nr_net_allow; n++) {
		char canonical[NET_PATTERN_TEXT_MAX];
		const char *why;

		if (au_net_pattern_canonical(a->net_allow[n], canonical, &why) < 0) {
			autofree char *shown = escape_display(a->net_allow[n]);

			return schema_fail(s, v->u.array->items[n].pos, "bad pattern '%s' in 'net_allow': %s",
					   shown, why);
		}
	}
	return 0;
}

static int load_agent(struct schema *s, const struct toml_table *t, struct agent *a)
{
	static const char *const known[] = {
		"user_name", "su_as_agent_group", "entrypoint", "entrypoint_sha256",
		"bootstrapped", "env", "limits", "net_mode", "net_allow", "mounts", "uid", "gid",
		"entrypoint_source_sha256", NULL,
	};
	const struct toml_value *v;

	if (!(v = required(s, t, "an agent", "user_name")) ||
	    get_string(s, v, "user_name", &a->user_name) < 0)
		return -1;
	if (!a->user_name[0])
		return schema_fail(s, v->pos, "'user_name' must not be empty");
	if (!(v = required(s, t, "an agent", "su_as_agent_group")) ||
	    get_string(s, v, "su_as_agent_group", &a->group) < 0)
		return -1;
	if (!a->group[0])
		return schema_fail(s, v->pos, "'su_as_agent_group' must not be empty");
	if (!(v = required(s, t, "an agent", "entrypoint")) ||
	    get_absolute_path(s, v, "entrypoint", &a->entrypoint) < 0)
		return -1;
	if (!(v = required(s, t, "an agent", "entrypoint_sha256")) ||
	    get_string(s, v, "entrypoint_sha256", &a->entrypoint_sha256) < 0)
		return -1;
	if (strcmp(a->entrypoint_sha256, ENTRYPOINT_SHA256_UNKNOWN) &&
	    !is_sha256_hex(a->entrypoint_sha256))
		return schema_fail(s, v->pos, "'entrypoint_sha256' must be 64 lowercase hex digits "
				   "or \"" ENTRYPOINT_SHA256_UNKNOWN "\"");
	if (!(v = required(s, t, "an agent", "bootstrapped")) ||
	    get_bool(s, v, "bootstrapped", &a->bootstrapped) < 0)
		return -1;
	if (load_agent_made_with(s, t, a) < 0)
		return -1;
	v = toml_table_get(t, "env");
	if (v && load_env(s, v, a) < 0)
		return -1;
	v = toml_table_get(t, "limits");
	if (v && load_limits(s, v, a) < 0)
		return -1;
	v = toml_table_get(t, "net_mode");
	if (v && load_net_mode(s, v, a) < 0)
		return -1;
	v = toml_table_get(t, "net_allow");
	if (v && load_net_allow(s, v, a) < 0)
		return -1;
	v = toml_table_get(t, "mounts");
	if (v) {
		if (v->type != TOML_ARRAY)
			return schema_fail(s, v->pos, "'mounts' must be an array of tables, not %s",
					   toml_type_name(v->type));
		a->mounts = xcalloc(v->u.array->nr, sizeof(*a->mounts));
		for (size_t n = 0; n < v->u.array->nr; n++) {
			const struct toml_table *mt = get_table(s, &v->u.array->items[n], "mounts");

			/* Counted first, so that a failure releases what was filled. */
			a->nr_mounts++;
			if (!mt || load_mount(s, mt, &a->mounts[n]) < 0)
				return -1;
		}
	}
	a->unknown = collect_unknown(t, known);
	return 0;
}

static int load_root(struct schema *s, const struct toml_table *root, struct config *cfg)
{
	static const char *const known[] = {
		"disable_home_access_check", "protected_paths", "agents", NULL,
	};
	const struct toml_value *v;

	v = toml_table_get(root, "disable_home_access_check");
	if (v) {
		if (get_bool(s, v, "disable_home_access_check", &cfg->disable_home_access_check) < 0)
			return -1;
		cfg->has_disable_home_access_check = true;
	}
	v = toml_table_get(root, "protected_paths");
	if (v) {
		if (get_string_array(s, v, "protected_paths", &cfg->protected_paths,
				     &cfg->nr_protected_paths) < 0)
			return -1;
		cfg->has_protected_paths = true;
		for (size_t n = 0; n < cfg->nr_protected_paths; n++)
			if (!is_inner_relative_path(cfg->protected_paths[n]))
				return schema_fail(s, v->u.array->items[n].pos,
						   "'protected_paths' entries must be relative paths "
						   "without '..'");
	}
	v = toml_table_get(root, "agents");
	if (v) {
		if (v->type != TOML_ARRAY)
			return schema_fail(s, v->pos, "'agents' must be an array of tables, not %s",
					   toml_type_name(v->type));
		cfg->agents = xcalloc(v->u.array->nr, sizeof(*cfg->agents));
		for (size_t n = 0; n < v->u.array->nr; n++) {
			const struct toml_table *at = get_table(s, &v->u.array->items[n], "agents");
			struct agent *a = &cfg->agents[n];

			cfg->nr_agents++;
			if (!at || load_agent(s, at, a) < 0)
				return -1;
			for (size_t k = 0; k < n; k++) {
				if (strcmp(cfg->agents[k].user_name, a->user_name))
					continue;
				autofree char *name = escape_display(a->user_name);

				return schema_fail(s, at->pos, "agent '%s' is defined twice", name);
			}
		}
	}
	cfg->unknown = collect_unknown(root, known);
	return 0;
}

int config_parse(struct config *cfg, const char *path, const char *text, size_t len, char **err)
{
	autofree char *shown = escape_display(path);
	struct schema s = { .path = shown };
	struct toml_table *root;

	memset(cfg, 0, sizeof(*cfg));
	cfg->path = xstrdup(path);
	*err = NULL;
	root = toml_parse(path, text, len, err);
	if (!root)
		return -1;
	if (load_root(&s, root, cfg) < 0) {
		toml_table_free(root);
		config_release(cfg);
		cfg->path = xstrdup(path);
		*err = s.err;
		return -1;
	}
	toml_table_free(root);
	cfg->comments = toml_comments_collect(text, len, comment_identity_keys);
	return 0;
}

/*
 * The config says which folders of the human's an agent may write, and which
 * entrypoint runs: whoever else can write it (or replace it in its folder)
 * could give an agent the human's files. As ssh does with its files, refuse
 * rather than warn. The human's own group is theirs alone on Debian (one
 * group per user), so it may write; a sticky folder keeps others from
 * replacing a file they do not own.
 */
static void refuse_writable_by_others(const char *path, const struct stat *st)
{
	autofree char *shown = escape_display(path);
	autofree char *dir = folder_of(path);
	autofree char *shown_dir = escape_display(dir);
	/* From the passwd entry: under sg (au run, just after au new) getgid() is the agent's group. */
	const struct passwd *pw = getpwuid(getuid());
	gid_t own_group = pw ? pw->pw_gid : getgid();
	struct stat dst;

	if (st->st_uid != getuid() && st->st_uid != 0) {
		error("'%s' is owned by uid %u, not by you: refusing to use it", shown, (unsigned)st->st_uid);
		hint("sudo chown %u '%s'", (unsigned)getuid(), shown);
		exit(EXIT_FAIL);
	}
	if ((st->st_mode & S_IWOTH) || ((st->st_mode & S_IWGRP) && st->st_gid != own_group)) {
		error("'%s' is writable by others (mode %04o): refusing to use it, as anyone who can write "
		      "it can give an agent your files", shown, (unsigned)(st->st_mode & 07777));
		hint("chmod 600 '%s'", shown);
		exit(EXIT_FAIL);
	}
	if (stat(dir, &dst) == 0 && !(dst.st_mode & S_ISVTX) &&
	    ((dst.st_mode & S_IWOTH) || ((dst.st_mode & S_IWGRP) && dst.st_gid != own_group))) {
		error("the folder '%s' of '%s' is writable by others (mode %04o): refusing to use it, as "
		      "anyone who can write there can replace it", shown_dir, shown, (unsigned)(dst.st_mode & 07777));
		hint("chmod go-w '%s'", shown_dir);
		exit(EXIT_FAIL);
	}
}

void config_load(struct config *cfg, const char *path)
{
	autoclose int fd = -1;
	autostrbuf struct strbuf text = STRBUF_INIT;
	autofree char *shown = escape_display(path);
	autofree char *err = NULL;
	struct stat st;

	memset(cfg, 0, sizeof(*cfg));
	/* O_NONBLOCK: a FIFO planted as the config must not hang us (it is refused below). */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		/* No file yet (or not even its folder): no agents, and nothing is created. */
		if (errno == ENOENT || errno == ENOTDIR) {
			cfg->path = xstrdup(path);
			return;
		}
		die_errno("cannot read '%s'", shown);
	}
	if (fstat(fd, &st) < 0)
		die_errno("cannot read '%s'", shown);
	if (!S_ISREG(st.st_mode))
		die("cannot read '%s': not a regular file", shown);
	refuse_writable_by_others(path, &st);
	if (read_fd_all(fd, CONFIG_MAX_SIZE, &text) < 0) {
		if (errno == EFBIG)
			die("cannot read '%s': larger than %u MiB", shown, CONFIG_MAX_SIZE >> 20);
		die_errno("cannot read '%s'", shown);
	}
	if (config_parse(cfg, path, text.buf, text.len, &err) < 0)
		die("%s", err);
}

/* ---- writing ---- */

static void write_kv_string(struct strbuf *sb, const char *key, const char *value)
{
	strbuf_addf(sb, "%s = ", key);
	toml_write_string(sb, value, strlen(value));
	strbuf_addch(sb, '\n');
}

static void write_kv_bool(struct strbuf *sb, const char *key, bool value)
{
	strbuf_addf(sb, "%s = %s\n", key, value ? "true" : "false");
}

static void write_kv_strings(struct strbuf *sb, const char *key, char *const *v, size_t nr)
{
	strbuf_addf(sb, "%s = [", key);
	for (size_t n = 0; n < nr; n++) {
		if (n)
			strbuf_addstr(sb, ", ");
		toml_write_string(sb, v[n], strlen(v[n]));
	}
	strbuf_addstr(sb, "]\n");
}

static void write_agent_made_with(struct strbuf *sb, const struct agent *a)
{
	if (a->has_uid)
		strbuf_addf(sb, "uid = %u\n", (unsigned)a->uid);
	if (a->has_gid)
		strbuf_addf(sb, "gid = %u\n", (unsigned)a->gid);
	if (a->entrypoint_source_sha256)
		write_kv_string(sb, "entrypoint_source_sha256", a->entrypoint_source_sha256);
}

/* The reference tool drops comments at its first write; we put them back where they were. */
static char *with_comments(const struct config *cfg, char *text)
{
	char *commented;

	if (!cfg->comments)
		return text;
	commented = toml_comments_apply(cfg->comments, text, comment_identity_keys);
	free(text);
	return commented;
}

/*
 * The reference writer's layout: top-level keys and a blank line, then each
 * agent followed by a blank line, with the trailing blank line dropped. Its
 * mounts always carry read_only. Our extensions and unknown keys go after the
 * known keys of the same table, where the reference tool ignores them.
 */
char *config_format(const struct config *cfg)
{
	struct strbuf sb = STRBUF_INIT;

	if (cfg->disable_home_access_check || cfg->has_disable_home_access_check)
		write_kv_bool(&sb, "disable_home_access_check", cfg->disable_home_access_check);
	if (cfg->has_protected_paths)
		write_kv_strings(&sb, "protected_paths", cfg->protected_paths,
				 cfg->nr_protected_paths);
	if (cfg->unknown)
		toml_write_entries(&sb, cfg->unknown);
	if (sb.len)
		strbuf_addch(&sb, '\n');
	for (size_t n = 0; n < cfg->nr_agents; n++) {
		const struct agent *a = &cfg->agents[n];

		strbuf_addstr(&sb, "[[agents]]\n");
		write_kv_string(&sb, "user_name", a->user_name);
		write_kv_string(&sb, "su_as_agent_group", a->group);
		write_kv_string(&sb, "entrypoint", a->entrypoint);
		write_kv_string(&sb, "entrypoint_sha256", a->entrypoint_sha256);
		write_kv_bool(&sb, "bootstrapped", a->bootstrapped);
		write_agent_made_with(&sb, a);
		if (a->nr_env)
			write_kv_strings(&sb, "env", a->env, a->nr_env);
		if (a->nr_limits)
			write_kv_strings(&sb, "limits", a->limits, a->nr_limits);
		if (a->net_mode)
			write_kv_string(&sb, "net_mode", a->net_mode);
		if (a->nr_net_allow)
			write_kv_strings(&sb, "net_allow", a->net_allow, a->nr_net_allow);
		if (a->unknown)
			toml_write_entries(&sb, a->unknown);
		for (size_t k = 0; k < a->nr_mounts; k++) {
			const struct mount_spec *m = &a->mounts[k];

			strbuf_addstr(&sb, "[[agents.mounts]]\n");
			write_kv_string(&sb, "source", m->source);
			write_kv_string(&sb, "target", m->target);
			write_kv_bool(&sb, "read_only", m->read_only);
			write_mount_identity(&sb, m);
			if (m->unknown)
				toml_write_entries(&sb, m->unknown);
		}
		strbuf_addch(&sb, '\n');
	}
	/* Drop the last blank line. */
	if (sb.len >= 2 && sb.buf[sb.len - 1] == '\n' && sb.buf[sb.len - 2] == '\n')
		sb.len--;
	strbuf_grow(&sb, 0);
	sb.buf[sb.len] = '\0';
	return with_comments(cfg, config_detach(&sb));
}

/* mkdir -p, new folders private: ~/.config holds more than our file. */
static int make_folder(const char *dir)
{
	autofree char *parent = NULL;
	char *slash;

	if (!mkdir(dir, 0700) || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -1;
	parent = xstrdup(dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return -1;
	*slash = '\0';
	if (make_folder(parent) < 0)
		return -1;
	if (!mkdir(dir, 0700) || errno == EEXIST)
		return 0;
	return -1;
}

static char *folder_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

AU_NORETURN static void save_fail(const char *tmp, const char *what, const char *shown)
{
	int errnum = errno;

	unlink(tmp);
	errno = errnum;
	die_errno("cannot %s '%s'", what, shown);
}

void config_save(struct config *cfg)
{
	autofree char *real = NULL;
	autofree char *shown = NULL;
	autofree char *dir = NULL;
	autofree char *tmp = NULL;
	autofree char *text = config_format(cfg);
	autoclose int dirfd = -1;
	autoclose int fd = -1;
	const char *path = cfg->path;
	struct stat st;

	/* A symlinked config (dotfile managers) is updated where it points. */
	if (!lstat(path, &st) && S_ISLNK(st.st_mode)) {
		real = realpath(path, NULL);
		if (real)
			path = real;
	}
	shown = escape_display(path);
	dir = folder_of(path);
	if (make_folder(dir) < 0) {
		autofree char *shown_dir = escape_display(dir);

		die_errno("cannot create folder '%s'", shown_dir);
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		autofree char *shown_dir = escape_display(dir);

		die_errno("cannot open folder '%s'", shown_dir);
	}
	tmp = xasprintf("%s.tmp.XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		die_errno("cannot write '%s'", shown);
	if (fchmod(fd, 0600) < 0 || write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0)
		save_fail(tmp, "write", shown);
	if (close(steal_fd(&fd)) < 0)
		save_fail(tmp, "write", shown);
	if (rename(tmp, path) < 0)
		save_fail(tmp, "replace", shown);
	/* The rename is only durable once the folder is on disk too. */
	if (fsync(dirfd) < 0)
		die_errno("cannot write '%s'", shown);
}

/* ---- lock ---- */

static bool is_regular_fd(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

int config_lock(const char *path, enum config_lock_mode mode)
{
	bool exclusive = mode == CONFIG_LOCK_EXCLUSIVE;
	autofree char *lock_path = xasprintf("%s.lock", path);
	autofree char *shown = escape_display(lock_path);
	autoclose int fd = -1;
	int op = exclusive ? LOCK_EX : LOCK_SH;

	if (exclusive) {
		autofree char *dir = folder_of(lock_path);

		if (make_folder(dir) < 0) {
			autofree char *shown_dir = escape_display(dir);

			die_errno("cannot create folder '%s'", shown_dir);
		}
		fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
	} else {
		fd = open(lock_path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		/* No lock file: no au ever wrote here, so nothing can be writing now. */
		if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
			return -1;
	}
	if (fd < 0)
		die_errno("cannot open lock '%s'", shown);
	if (!is_regular_fd(fd))
		die("cannot use lock '%s': not a regular file", shown);
	if (flock(fd, op | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			die_errno("cannot lock '%s'", shown);
		fprintf(stderr, "au: waiting for another au to finish (lock '%s')\n", shown);
		while (flock(fd, op) < 0)
			if (errno != EINTR)
				die_errno("cannot lock '%s'", shown);
	}
	return steal_fd(&fd);
}

/* ---- agents, mounts, env ---- */

struct agent *config_find_agent(struct config *cfg, const char *name)
{
	for (size_t n = 0; n < cfg->nr_agents; n++)
		if (!strcmp(cfg->agents[n].user_name, name))
			return &cfg->agents[n];
	return NULL;
}

struct agent *config_add_agent(struct config *cfg, const char *name)
{
	struct agent *a;

	cfg->agents = xrealloc(cfg->agents, (cfg->nr_agents + 1) * sizeof(*cfg->agents));
	a = &cfg->agents[cfg->nr_agents++];
	memset(a, 0, sizeof(*a));
	a->user_name = xstrdup(name);
	a->group = xasprintf("su-as-%s", name);
	a->entrypoint = xasprintf("%s/%s/su_as_agent", AU_LIBEXECDIR, name);
	a->entrypoint_sha256 = xstrdup(ENTRYPOINT_SHA256_UNKNOWN);
	a->bootstrapped = false;
	return a;
}

static void free_strings(char **v, size_t nr)
{
	for (size_t n = 0; n < nr; n++)
		free(v[n]);
	free(v);
}

static void mount_release(struct mount_spec *m)
{
	free(m->source);
	free(m->target);
	toml_table_free(m->unknown);
	memset(m, 0, sizeof(*m));
}

static void agent_release(struct agent *a)
{
	free(a->user_name);
	free(a->group);
	free(a->entrypoint);
	free(a->entrypoint_sha256);
	free(a->entrypoint_source_sha256);
	for (size_t n = 0; n < a->nr_mounts; n++)
		mount_release(&a->mounts[n]);
	free(a->mounts);
	free_strings(a->env, a->nr_env);
	free_strings(a->limits, a->nr_limits);
	free(a->net_mode);
	free_strings(a->net_allow, a->nr_net_allow);
	toml_table_free(a->unknown);
	memset(a, 0, sizeof(*a));
}

void config_remove_agent(struct config *cfg, const char *name)
{
	struct agent *a = config_find_agent(cfg, name);
	size_t n;

	if (!a)
		return;
	n = (size_t)(a - cfg->agents);
	agent_release(a);
	memmove(a, a + 1, (cfg->nr_agents - n - 1) * sizeof(*a));
	cfg->nr_agents--;
}

struct mount_spec *agent_add_mount(struct agent *a, const char *source, const char *target,
				   bool read_only)
{
	struct mount_spec *m;

	a->mounts = xrealloc(a->mounts, (a->nr_mounts + 1) * sizeof(*a->mounts));
	m = &a->mounts[a->nr_mounts++];
	memset(m, 0, sizeof(*m));
	m->source = xstrdup(source);
	m->target = xstrdup(target);
	m->read_only = read_only;
	return m;
}

void agent_remove_mount(struct agent *a, size_t index)
{
	if (index >= a->nr_mounts)
		return;
	mount_release(&a->mounts[index]);
	memmove(&a->mounts[index], &a->mounts[index + 1],
		(a->nr_mounts - index - 1) * sizeof(*a->mounts));
	a->nr_mounts--;
}

static size_t entry_key_len(const char *entry)
{
	return strcspn(entry, "=");
}

/* "KEY" and "KEY=VALUE" lists ("env", "limits"): the entry whose key is key[0..len). */
static char **entry_find(char **v, size_t nr, const char *key, size_t len)
{
	for (size_t n = 0; n < nr; n++)
		if (entry_key_len(v[n]) == len && !strncmp(v[n], key, len))
			return &v[n];
	return NULL;
}

static void entry_set(char ***v, size_t *nr, const char *entry)
{
	char **slot = entry_find(*v, *nr, entry, entry_key_len(entry));

	if (slot) {
		free(*slot);
		*slot = xstrdup(entry);
		return;
	}
	/* Kept NULL-terminated, like the array config_parse builds. */
	*v = xrealloc(*v, (*nr + 2) * sizeof(**v));
	(*v)[(*nr)++] = xstrdup(entry);
	(*v)[*nr] = NULL;
}

static bool entry_unset(char **v, size_t *nr, const char *key)
{
	char **slot = entry_find(v, *nr, key, strlen(key));

	if (!slot)
		return false;
	free(*slot);
	memmove(slot, slot + 1, (size_t)(&v[*nr] - slot) * sizeof(*slot));
	(*nr)--;
	return true;
}

void agent_env_set(struct agent *a, const char *entry)
{
	entry_set(&a->env, &a->nr_env, entry);
}

bool agent_env_unset(struct agent *a, const char *key)
{
	return entry_unset(a->env, &a->nr_env, key);
}

void agent_limit_set(struct agent *a, const char *entry)
{
	entry_set(&a->limits, &a->nr_limits, entry);
}

bool agent_limit_unset(struct agent *a, const char *key)
{
	return entry_unset(a->limits, &a->nr_limits, key);
}

void agent_net_set_mode(struct agent *a, const char *mode)
{
	free(a->net_mode);
	a->net_mode = xstrdup(mode);
}

bool agent_net_allow(struct agent *a, const char *pattern)
{
	for (size_t n = 0; n < a->nr_net_allow; n++)
		if (!strcmp(a->net_allow[n], pattern))
			return false;
	/* Kept NULL-terminated, like the array config_parse builds. */
	a->net_allow = xrealloc(a->net_allow, (a->nr_net_allow + 2) * sizeof(*a->net_allow));
	a->net_allow[a->nr_net_allow++] = xstrdup(pattern);
	a->net_allow[a->nr_net_allow] = NULL;
	return true;
}

bool agent_net_disallow(struct agent *a, const char *pattern)
{
	for (size_t n = 0; n < a->nr_net_allow; n++) {
		if (strcmp(a->net_allow[n], pattern))
			continue;
		free(a->net_allow[n]);
		memmove(&a->net_allow[n], &a->net_allow[n + 1], (a->nr_net_allow - n) * sizeof(*a->net_allow));
		a->nr_net_allow--;
		return true;
	}
	return false;
}

const char *const *config_protected_paths(const struct config *cfg)
{
	if (cfg->has_protected_paths && cfg->protected_paths)
		return (const char *const *)cfg->protected_paths;
	if (cfg->has_protected_paths) {
		static const char *const none[] = { NULL };

		return none;
	}
	return default_protected_paths;
}

void config_release(struct config *cfg)
{
	free(cfg->path);
	free_strings(cfg->protected_paths, cfg->nr_protected_paths);
	for (size_t n = 0; n < cfg->nr_agents; n++)
		agent_release(&cfg->agents[n]);
	free(cfg->agents);
	toml_table_free(cfg->unknown);
	toml_comments_free(cfg->comments);
	memset(cfg, 0, sizeof(*cfg));
}
