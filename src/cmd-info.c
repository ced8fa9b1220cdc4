/* cmd-info.c: au info: what an agent is made of, and a health check of each piece. */
#include "acl.h"
#include "agent.h"
#include "au-json.h"
#include "au.h"
#include "config.h"
#include "entrypoint.h"
#include "json.h"
#include "path-check.h"
#include "paths.h"
#include "sys.h"
#include "util.h"

#include <acl/libacl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/acl.h>
#include <sys/stat.h>

static const char info_usage[] =
	"Usage: au info [-a NAME] [--json]\n"
	"\n"
	"Show an agent's user, group, home, entrypoint and mounts, the ACL entries that\n"
	"give it access to your files, what still runs as it (--keep-running), and check\n"
	"that each piece is healthy.\n"
	"The exit status is 0 when everything is ok, 1 when something is broken.\n"
	"\n"
	"  -a, --agent NAME  the agent (default: agent)\n"
	"      --json        one JSON object, each health item with its verdict (see 'man au')\n"
	"  -h, --help        show this help\n";

struct health {
	int broken;
	/* With --json, each item goes into the open "health" array; else it is printed. */
	struct json_writer *json;
};

/*
 * One health item: id names it for --json (stable, documented in the man
 * page), ok is its verdict, and the message says what was checked.
 */
static void check(struct health *h, const char *id, bool ok, const char *fmt, ...) AU_PRINTF(4, 5);
static void check(struct health *h, const char *id, bool ok, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	autofree char *shown = NULL;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	/* The text may name paths: terminal-safe, apart from our own colors around it. */
	shown = escape_terminal(sb.buf);
	if (h->json) {
		json_begin_object(h->json);
		json_key(h->json, "check");
		json_string(h->json, id);
		json_key(h->json, "verdict");
		json_string(h->json, ok ? "ok" : "broken");
		json_key(h->json, "message");
		json_string(h->json, strbuf_str(&sb));
		json_end_object(h->json);
	} else if (ok)
		printf("  %sok%s      %s\n", color(STDOUT_FILENO, COLOR_GREEN),
		       color(STDOUT_FILENO, COLOR_RESET), shown);
	else
		printf("  %sbroken%s  %s\n", color(STDOUT_FILENO, COLOR_RED),
		       color(STDOUT_FILENO, COLOR_RESET), shown);
	if (!ok)
		h->broken++;
	strbuf_release(&sb);
}

/* A named user or group entry of an ACL: what gives others access to the human's files. */
struct named_acl_entry {
	const char *path;
	bool is_default;  /* of the default ACL */
	bool is_user;     /* user:, else group: */
	unsigned id;
	const char *name; /* NULL when the id has no name */
	char perms[4];    /* "rwx", "r-x"... */
};

/* Calls fn for each named user and group entry of path's ACL of type. */
static void for_each_named_acl_entry(const char *path, acl_type_t type,
				     void (*fn)(const struct named_acl_entry *e, void *data), void *data)
{
	acl_t acl = acl_get_file(path, type);
	acl_entry_t entry;
	int id = ACL_FIRST_ENTRY;

	if (!acl)
		return;
	while (acl_get_entry(acl, id, &entry) == 1) {
		struct named_acl_entry e = { .path = path, .is_default = type == ACL_TYPE_DEFAULT };
		acl_tag_t tag;
		acl_permset_t perms;
		void *qual;

		id = ACL_NEXT_ENTRY;
		if (acl_get_tag_type(entry, &tag) < 0 || (tag != ACL_USER && tag != ACL_GROUP))
			continue;
		if (acl_get_permset(entry, &perms) < 0)
			continue;
		qual = acl_get_qualifier(entry);
		if (!qual)
			continue;
		e.is_user = tag == ACL_USER;
		if (e.is_user) {
			struct passwd *pw = getpwuid(*(uid_t *)qual);
			e.id = *(uid_t *)qual;
			e.name = pw ? pw->pw_name : NULL;
		} else {
			struct group *gr = getgrgid(*(gid_t *)qual);
			e.id = *(gid_t *)qual;
			e.name = gr ? gr->gr_name : NULL;
		}
		e.perms[0] = acl_get_perm(perms, ACL_READ) == 1 ? 'r' : '-';
		e.perms[1] = acl_get_perm(perms, ACL_WRITE) == 1 ? 'w' : '-';
		e.perms[2] = acl_get_perm(perms, ACL_EXECUTE) == 1 ? 'x' : '-';
		fn(&e, data);
		acl_free(qual);
	}
	acl_free(acl);
}

/* Each place whose ACL entries au info shows: the human's home, and each mount source. */
static void for_each_acl_entry_of_interest(const struct agent *a, const struct human *hu,
					   void (*fn)(const struct named_acl_entry *e, void *data), void *data)
{
	for_each_named_acl_entry(hu->home, ACL_TYPE_ACCESS, fn, data);
	for (size_t i = 0; i < a->nr_mounts; i++) {
		for_each_named_acl_entry(a->mounts[i].source, ACL_TYPE_ACCESS, fn, data);
		for_each_named_acl_entry(a->mounts[i].source, ACL_TYPE_DEFAULT, fn, data);
	}
}

static void print_acl_entry(const struct named_acl_entry *e, void *data)
{
	autofree char *shown = escape_display(e->path);
	autofree char *name = escape_display(e->name ? e->name : "?");

	printf("  %s: %s%s:%s:%s\n", shown, e->is_default ? "default:" : "", e->is_user ? "user" : "group",
	       name, e->perms);
}

static void json_acl_entry(const struct named_acl_entry *e, void *data)
{
	struct json_writer *w = data;

	json_begin_object(w);
	json_key(w, "path");
	json_string(w, e->path);
	json_key(w, "default");
	json_bool(w, e->is_default);
	json_key(w, "type");
	json_string(w, e->is_user ? "user" : "group");
	json_key(w, "id");
	json_uint(w, e->id);
	json_key(w, "name");
	if (e->name)
		json_string(w, e->name);
	else
		json_null(w);
	json_key(w, "permissions");
	json_string(w, e->perms);
	json_end_object(w);
}

/* The default ACL of dir has group:gid:rwx. */
static bool has_default_group_entry(const char *dir, gid_t gid)
{
	acl_t acl = acl_get_file(dir, ACL_TYPE_DEFAULT);
	acl_entry_t entry;
	int id = ACL_FIRST_ENTRY;
	bool found = false;

	if (!acl)
		return false;
	while (!found && acl_get_entry(acl, id, &entry) == 1) {
		acl_tag_t tag;
		acl_permset_t perms;
		gid_t *qual;

		id = ACL_NEXT_ENTRY;
		if (acl_get_tag_type(entry, &tag) < 0 || tag != ACL_GROUP)
			continue;
		qual = acl_get_qualifier(entry);
		if (qual && *qual == gid && acl_get_permset(entry, &perms) == 0 &&
		    acl_get_perm(perms, ACL_READ) == 1 && acl_get_perm(perms, ACL_WRITE) == 1 &&
		    acl_get_perm(perms, ACL_EXECUTE) == 1)
			found = true;
		acl_free(qual);
	}
	acl_free(acl);
	return found;
}

static void check_entrypoint(struct health *h, const struct agent *a, const struct agent_user *u)
{
	autostrbuf struct strbuf why = STRBUF_INIT;
	bool unreadable = false;
	int fd;

	if (entrypoint_up_to_date(a, &why))
		check(h, "entrypoint_source", true, "entrypoint is built from this au's entrypoint source");
	else
		check(h, "entrypoint_source", false, "%s: run 'au repair -a %s'", why.buf, a->user_name);
	strbuf_reset(&why);

	if (!u->group_exists) {
		check(h, "entrypoint", false, "entrypoint: cannot be checked without its group");
		return;
	}
	fd = entrypoint_open_verified(a, u->gid, &why, &unreadable);
	if (fd >= 0) {
		close(fd);
		check(h, "entrypoint", true, "entrypoint is root-owned, setuid, mode 4750, in a safe folder");
		check(h, "entrypoint_sha256", true, "entrypoint SHA-256 matches the config");
		return;
	}
	if (unreadable) {
		/* Its owner and mode can still be read without the group. */
		struct stat st;
		bool shape = stat(a->entrypoint, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
			     st.st_gid == u->gid && (st.st_mode & 07777) == 04750;
		check(h, "entrypoint", shape, "entrypoint is root-owned, setuid, mode 4750");
		check(h, "entrypoint_sha256", false, "entrypoint SHA-256 cannot be checked: this session is not in group '%s' yet "
				"(log in again)", a->group);
		return;
	}
	if (strstr(why.buf, "SHA-256")) {
		check(h, "entrypoint", true, "entrypoint is root-owned, setuid, mode 4750, in a safe folder");
		check(h, "entrypoint_sha256", false, "entrypoint: %s: 'au repair -a %s' builds it again", why.buf,
		      a->user_name);
		return;
	}
	check(h, "entrypoint", false, "entrypoint: %s: 'au repair -a %s' builds it again", why.buf, a->user_name);
	check(h, "entrypoint_sha256", false, "entrypoint SHA-256 not checked");
}

static void print_identity(const struct agent *a, const struct agent_user *u)
{
	printf("Agent:       %s%s\n", a->user_name, strcmp(a->user_name, DEFAULT_AGENT) ? "" : " (default)");
	if (u->user_exists)
		printf("User:        %s (uid %u)\n", a->user_name, (unsigned)u->uid);
	else if (a->has_uid)
		printf("User:        %s (missing; it had uid %u)\n", a->user_name, (unsigned)a->uid);
	else
		printf("User:        %s (missing)\n", a->user_name);
	if (u->group_exists)
		printf("Group:       %s (gid %u)\n", a->group, (unsigned)u->gid);
	else if (a->has_gid)
		printf("Group:       %s (missing; it had gid %u)\n", a->group, (unsigned)a->gid);
	else
		printf("Group:       %s (missing)\n", a->group);
	printf("Home:        %s\n", u->home);
	printf("Entrypoint:  %s\n", a->entrypoint);
	printf("SHA-256:     %s\n", a->entrypoint_sha256);
}

static void print_mounts(const struct agent *a, const struct human *hu)
{
	printf("Mounts:%s\n", a->nr_mounts ? "" : "      none");
	for (size_t i = 0; i < a->nr_mounts; i++) {
		autofree char *src = escape_display(a->mounts[i].source);
		autofree char *dst = escape_display(a->mounts[i].target);
		printf("  %s -> %s [%s]\n", src, dst, a->mounts[i].read_only ? "ro" : "rw");
	}
	printf("Access to your files (ACL entries):\n");
	for_each_acl_entry_of_interest(a, hu, print_acl_entry, NULL);
}

/* "KEY": {"name": …, "exists": …, "ID_KEY": number or null}: the agent's user or group. */
static void json_account(struct json_writer *w, const char *key, const char *name, bool exists,
			 const char *id_key, unsigned id)
{
	json_key(w, key);
	json_begin_object(w);
	json_key(w, "name");
	json_string(w, name);
	json_key(w, "exists");
	json_bool(w, exists);
	json_key(w, id_key);
	if (exists)
		json_uint(w, id);
	else
		json_null(w);
	json_end_object(w);
}

/* What print_identity() and print_mounts() show, as members of the open object. */
static void json_identity_and_mounts(struct json_writer *w, const struct agent *a, const struct agent_user *u,
				     const struct human *hu)
{
	json_key(w, "agent");
	json_string(w, a->user_name);
	json_key(w, "default");
	json_bool(w, !strcmp(a->user_name, DEFAULT_AGENT));
	json_account(w, "user", a->user_name, u->user_exists, "uid", (unsigned)u->uid);
	json_account(w, "group", a->group, u->group_exists, "gid", (unsigned)u->gid);
	json_key(w, "home");
	json_string(w, u->home);
	json_key(w, "entrypoint");
	json_begin_object(w);
	json_key(w, "path");
	json_string(w, a->entrypoint);
	json_key(w, "sha256");
	json_string(w, a->entrypoint_sha256);
	json_key(w, "source_sha256");
	if (a->entrypoint_source_sha256)
		json_string(w, a->entrypoint_source_sha256);
	else
		json_null(w);
	json_end_object(w);
	json_key(w, "mounts");
	json_mounts(w, a);
	json_key(w, "acl_entries");
	json_begin_array(w);
	for_each_acl_entry_of_interest(a, hu, json_acl_entry, w);
	json_end_array(w);
}

/* One process of the agent's: its pid and command line, escaped (the agent chose it). */
static int print_process(int proc_fd, const char *pid, void *data)
{
	char path[64], buf[256];
	autoclose int fd = -1;
	autofree char *shown = NULL;
	ssize_t n = -1;
	int *count = data;

	snprintf(path, sizeof(path), "%s/cmdline", pid);
	fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0; /* gone, or a zombie */
	buf[n] = '\0';
	for (ssize_t i = 0; i < n; i++) {
		if (!buf[i])
			buf[i] = ' ';
	}
	if (n > 0 && buf[n - 1] == ' ')
		buf[n - 1] = '\0';
	shown = escape_display(buf);
	if (!(*count)++)
		printf("Running:\n");
	printf("  %-7s %s%s\n", pid, shown, n == (ssize_t)sizeof(buf) - 1 ? " ..." : "");
	return 0;
}

/* What still runs as the agent: kept with --keep-running, or started outside au. */
static void print_running(const struct agent_user *u)
{
	int count = 0;

	if (u->user_exists)
		for_each_process_of(u->uid, print_process, &count);
	if (!count)
		printf("Running:     nothing\n");
}

static void check_home(struct health *h, const struct agent_user *u)
{
	struct stat st;

	if (stat(u->home, &st) < 0) {
		check(h, "home", false, "home '%s': %s", u->home, strerror(errno));
	} else {
		bool owned = u->user_exists && st.st_uid == u->uid && S_ISDIR(st.st_mode);
		bool setgid = st.st_mode & S_ISGID;
		bool dacl = u->group_exists && has_default_group_entry(u->home, u->gid);

		check(h, "home", owned && setgid && dacl, "home '%s' is the agent's, with setgid and the default ACL%s%s%s",
		      u->home, owned ? "" : " (not owned by the agent)", setgid ? "" : " (no setgid bit)",
		      dacl ? "" : " (no default:group ACL entry)");
	}
}

/* What au run's entrypoint does with a path: opened from "/" one component at a time, no symlink. */
static int open_like_the_entrypoint(const char *path, struct strbuf *why)
{
	autostrbuf struct strbuf failed_at = STRBUF_INIT;
	int fd = path_walk(path, O_PATH, NULL, NULL, &failed_at);

	if (fd >= 0)
		return fd;
	if (errno == ELOOP)
		strbuf_addf(why, "'%s' is a symlink, which au run refuses to follow", failed_at.buf);
	else if (errno == ENOTDIR)
		strbuf_addf(why, "'%s' is not a folder", failed_at.buf);
	else
		strbuf_addf(why, "'%s': %s", failed_at.len ? failed_at.buf : path, strerror(errno));
	return -1;
}

/*
 * The source of a share, as the entrypoint will check it at the next au run:
 * a normal path below the human's home, reached without a symlink, the
 * human's own, a folder or a file. Returns its fd (O_PATH) or -1 with why.
 */
static int check_source(const struct mount_spec *m, const struct human *hu, struct stat *st, struct strbuf *why)
{
	autofree char *normal = path_normalize(m->source);
	int fd;

	if (!normal || strcmp(normal, m->source) || !path_below(m->source, hu->home_real)) {
		strbuf_addf(why, "it is not a normal path inside your home '%s'", hu->home_real);
		return -1;
	}
	fd = open_like_the_entrypoint(m->source, why);
	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0 || st->st_uid != hu->uid || (!S_ISDIR(st->st_mode) && !S_ISREG(st->st_mode))) {
		strbuf_addstr(why, "it is not a folder or a file of yours");
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Its target, as far as this session can see into the agent's home: below
 * it, without a symlink on the way, and of the source's type where it
 * exists already (the entrypoint creates what is missing).
 */
static bool check_target(const struct mount_spec *m, const struct agent_user *u, const struct stat *src,
			 struct strbuf *why)
{
	autofree char *normal = path_normalize(m->target);
	autofree char *sofar = NULL;
	struct stat st;
	int fd = -1;

	if (!normal || strcmp(normal, m->target) || !path_below(m->target, u->home)) {
		strbuf_addf(why, "the target is not a normal path inside the agent's home '%s'", u->home);
		return false;
	}
	/* The deepest part of the target that exists: the rest is made at the next au run. */
	sofar = xstrdup(m->target);
	for (;;) {
		autostrbuf struct strbuf unused = STRBUF_INIT;
		char *slash;

		fd = path_walk(sofar, O_PATH, NULL, NULL, &unused);
		if (fd >= 0 || errno != ENOENT || !(slash = strrchr(sofar, '/')) || slash == sofar)
			break;
		*slash = '\0';
	}
	if (fd < 0 && errno == EACCES)
		return true; /* this session cannot look into the agent's home: au run will */
	if (fd < 0) {
		fd = open_like_the_entrypoint(sofar, why); /* says why */
		if (fd < 0)
			return false;
	}
	if (fstat(fd, &st) == 0 && !strcmp(sofar, m->target) && S_ISDIR(st.st_mode) != S_ISDIR(src->st_mode)) {
		strbuf_addf(why, "the target is a %s, the source a %s: one cannot be mounted on the other",
			    S_ISDIR(st.st_mode) ? "folder" : "file", S_ISDIR(src->st_mode) ? "folder" : "file");
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

/* Each share, checked for whatever would make au run refuse to start. */
static void check_shares(struct health *h, const struct agent *a, const struct agent_user *u,
			 const struct human *hu)
{
	for (size_t i = 0; i < a->nr_mounts; i++) {
		const struct mount_spec *m = &a->mounts[i];
		autofree char *shown = escape_display(m->source);
		autostrbuf struct strbuf why = STRBUF_INIT;
		struct stat st;
		int fd = check_source(m, hu, &st, &why);
		bool ok = fd >= 0 && check_target(m, u, &st, &why);

		if (fd >= 0)
			close(fd);
		if (ok) {
			check(h, "share", true, "share %s", shown);
		} else {
			autofree char *shown_why = escape_display(why.buf);

			check(h, "share", false, "share %s: %s: au run refuses to start; 'au mount remove -a %s %s' removes it",
			      shown, shown_why, a->user_name, shown);
		}
	}
	if (a->nr_mounts > SU_MAX_MOUNTS)
		check(h, "shares", false, "%zu shares: au run takes at most %d", a->nr_mounts, SU_MAX_MOUNTS);
	for (size_t i = 0; i < a->nr_env; i++) {
		size_t klen = strcspn(a->env[i], "=");

		if (!valid_env_key(a->env[i], klen)) {
			autofree char *shown = escape_display(a->env[i]);

			check(h, "env", false, "stored variable '%s' is not a valid name: au run refuses to start; "
			      "'au env unset -a %s' removes it", shown, a->user_name);
		}
	}
}

/* A user or group of the agent's name made again by someone else is not the agent's. */
static void check_same_ids(struct health *h, const struct agent *a, const struct agent_user *u)
{
	autostrbuf struct strbuf why = STRBUF_INIT;

	if (!agent_user_is_the_agents(a, u, &why) || !agent_group_is_the_agents(a, u, &why))
		check(h, "same_ids", false, "%s", why.buf);
}

/* Each piece that au run and the shares need, into h. */
static void check_health(struct health *h, const struct agent *a, const struct agent_user *u,
			 const struct human *hu)
{
	autofree char *setfacl = find_in_path("setfacl");
	autoclose int home_fd = open("/home", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	check(h, "bootstrapped", a->bootstrapped, "set up completely (bootstrapped)");
	check(h, "user", u->user_exists, "user '%s' exists", a->user_name);
	check(h, "group", u->group_exists, "group '%s' exists", a->group);
	check_same_ids(h, a, u);
	check(h, "human_in_group", human_in_group_db(hu, a->group), "you (%s) are in group '%s'", hu->name,
	      a->group);
	if (u->group_exists && process_has_gid(u->gid))
		check(h, "session_group", true, "this session has group '%s'", a->group);
	else if (u->group_exists)
		check(h, "session_group", false, "this session has group '%s': log in again, or run 'newgrp %s'",
		      a->group, a->group);
	check_home(h, u);
	check_entrypoint(h, a, u);
	check_shares(h, a, u, hu);
	check(h, "acl_support", home_fd >= 0 && acl_supported(home_fd), "ACL support on /home");
	check(h, "acl_tools", setfacl != NULL, "ACL tools installed (setfacl)%s",
	      setfacl ? "" : ": sudo apt-get install acl");
	if (u->user_exists && u->group_exists)
		check(h, "path", !warn_agent_writable_path(a->user_name, u->uid, u->gid),
		      "your PATH holds no folder the agent can write");
}

/* Returns how many health items are broken. */
static int info_text(const struct agent *a, const struct agent_user *u, const struct human *hu)
{
	struct health h = { 0 };

	print_identity(a, u);
	print_mounts(a, hu);
	print_running(u);
	printf("Health:\n");
	check_health(&h, a, u, hu);
	if (h.broken)
		printf("%d broken: see above\n", h.broken);
	else
		printf("Healthy.\n");
	return h.broken;
}

static int info_json(const struct agent *a, const struct agent_user *u, const struct human *hu)
{
	autostrbuf struct strbuf out = STRBUF_INIT;
	struct json_writer w;
	struct health h = { .json = &w };

	json_init(&w, &out);
	json_begin_object(&w);
	json_identity_and_mounts(&w, a, u, hu);
	json_key(&w, "health");
	json_begin_array(&w);
	check_health(&h, a, u, hu);
	json_end_array(&w);
	json_key(&w, "broken");
	json_int(&w, h.broken);
	json_key(&w, "healthy");
	json_bool(&w, h.broken == 0);
	json_end_object(&w);
	json_print(&w, stdout);
	return h.broken;
}

int cmd_info(int argc, char **argv, struct au_ctx *ctx)
{
	static const struct option options[] = {
		{ "agent", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL;
	struct agent *a;
	autoagentuser struct agent_user u = { 0 };
	autohuman struct human hu = { 0 };
	bool json = false;
	int broken, c;

	while ((c = getopt_long(argc, argv, ":a:h", options, NULL)) != -1) {
		switch (c) {
		case 'a':
			name = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(info_usage, stdout);
			return EXIT_OK;
		default:
			die_bad_option(c, argv, "info");
		}
	}
	if (optind < argc)
		die_usage("info: unexpected argument '%s'", argv[optind]);

	a = au_setup(ctx, name);
	agent_user_load(&u, a->user_name, a->group);
	human_load(&hu);

	broken = json ? info_json(a, &u, &hu) : info_text(a, &u, &hu);
	return broken ? EXIT_FAIL : EXIT_OK;
}
