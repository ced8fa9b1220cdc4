/* agent.c: users, groups and the entrypoint's verification, shared by commands. */
#include "agent.h"
#include "config.h"
#include "entrypoint.h"
#include "entrypoint-build.h"
#include "hash.h"
#include "paths.h"
#include "au-config.h"
#include "sys.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void human_load(struct human *h)
{
	struct passwd *pw;
	char real[PATH_MAX];

	memset(h, 0, sizeof(*h));
	h->uid = getuid();
	h->gid = getgid();
	pw = getpwuid(h->uid);
	if (!pw)
		die("you (uid %u) have no passwd entry", (unsigned)h->uid);
	h->name = xstrdup(pw->pw_name);
	h->home = xstrdup(pw->pw_dir);
	h->home_real = xstrdup(realpath(h->home, real) ? real : h->home);
}

void human_release(struct human *h)
{
	free(h->name);
	free(h->home);
	free(h->home_real);
	memset(h, 0, sizeof(*h));
}

void agent_user_load(struct agent_user *u, const char *name, const char *group)
{
	struct passwd *pw = getpwnam(name);
	struct group *gr = getgrnam(group);

	memset(u, 0, sizeof(*u));
	u->user_exists = pw != NULL;
	if (pw) {
		u->uid = pw->pw_uid;
		u->home = xstrdup(pw->pw_dir);
		u->shell = xstrdup(pw->pw_shell);
	} else {
		u->home = xasprintf("/home/%s", name);
		u->shell = xstrdup("/bin/bash");
	}
	u->group_exists = gr != NULL;
	if (gr)
		u->gid = gr->gr_gid;
}

void agent_user_release(struct agent_user *u)
{
	free(u->home);
	free(u->shell);
	memset(u, 0, sizeof(*u));
}

static bool agent_group_exists_for(const char *name)
{
	autofree char *group = xasprintf(AGENT_GROUP_PREFIX "%s", name);

	return getgrnam(group) != NULL;
}

struct agent *agent_select(struct config *cfg, const char *name)
{
	struct agent *a;

	if (!name)
		name = DEFAULT_AGENT;
	a = config_find_agent(cfg, name);
	if (!a) {
		autofree char *shown = escape_display(name);
		if (cfg->nr_agents)
			error("no agent named '%s' in '%s'", shown, cfg->path);
		else
			error("no agents configured in '%s'", cfg->path);
		if (valid_agent_name(name) && getpwnam(name) && agent_group_exists_for(name))
			hint("user '%s' and group '" AGENT_GROUP_PREFIX "%s' exist on this system: if it is an agent "
			     "whose config entry was lost, 'au repair -a %s' adopts it (then 'au delete -a %s' "
			     "can remove it)", shown, shown, shown, shown);
		else
			hint("'au list' shows the agents; 'au new -a %s' creates one", shown);
		exit(EXIT_FAIL);
	}
	return a;
}

bool valid_agent_name(const char *name)
{
	size_t len = strlen(name);

	if (len < 1 || len > 31)
		return false;
	if (!((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

bool valid_env_key(const char *s, size_t len)
{
	if (!len || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

bool env_key_is_agents(const char *key)
{
	static const char *const agent_vars[] = SU_AGENT_VARS;

	for (size_t i = 0; i < ARRAY_SIZE(agent_vars); i++) {
		if (!strcmp(key, agent_vars[i]))
			return true;
	}
	return false;
}

bool human_in_group_db(const struct human *h, const char *group)
{
	struct group *gr = getgrnam(group);

	if (!gr)
		return false;
	if (gr->gr_gid == h->gid)
		return true;
	for (char **m = gr->gr_mem; *m; m++) {
		if (!strcmp(*m, h->name))
			return true;
	}
	return false;
}

bool process_has_gid(gid_t gid)
{
	gid_t groups[NGROUPS_MAX];
	int n;

	if (getegid() == gid)
		return true;
	n = getgroups(NGROUPS_MAX, groups);
	for (int i = 0; i < n; i++) {
		if (groups[i] == gid)
			return true;
	}
	return false;
}

int for_each_process_of(uid_t uid, int (*fn)(int proc_fd, const char *pid, void *data), void *data)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int ret = 0;

	if (!d)
		return 0;
	while (!ret && (e = readdir(d))) {
		struct stat st;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, 0) == 0 && st.st_uid == uid)
			ret = fn(dirfd(d), e->d_name, data);
	}
	closedir(d);
	return ret;
}

static int found_one(int proc_fd, const char *pid, void *data)
{
	return 1;
}

bool agent_has_processes(uid_t uid)
{
	return for_each_process_of(uid, found_one, NULL) != 0;
}

int agent_stop_processes(uid_t uid)
{
	autofree char *arg = xasprintf("%u", (unsigned)uid);

	for (int pass = 0; pass < 10 && agent_has_processes(uid); pass++) {
		if (pass)
			usleep(20 * 1000);
		if (run_command((const char *const[]){ "pkill", "--signal", "KILL", "--uid", arg, NULL }, RUN_SUDO) > 1)
			return -1;
	}
	if (!agent_has_processes(uid))
		return 0;
	error("processes of uid %u are still running after ten rounds of 'pkill --signal KILL'", (unsigned)uid);
	return -1;
}

char *entrypoint_install_path(const char *name)
{
	return xasprintf("%s/%s/su_as_agent", AU_LIBEXECDIR, name);
}

/* path_walk()'s check for open_safe_dir(): each folder on the way is root's alone. */
static int visit_root_owned(int fd, const struct stat *st, const char *sofar, void *data)
{
	struct strbuf *why = data;

	if (S_ISLNK(st->st_mode) || !S_ISDIR(st->st_mode)) {
		strbuf_addf(why, "'%s' is %s", sofar, S_ISLNK(st->st_mode) ? "a symlink" : "not a directory");
		return -1;
	}
	if (st->st_uid != 0 || (st->st_mode & (S_IWGRP | S_IWOTH))) {
		strbuf_addf(why, "'%s' is %s (owner uid %u, mode %04o): it must be owned by root "
			    "and not writable by group or others", sofar,
			    st->st_uid != 0 ? "not owned by root" : "writable by others",
			    (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777));
		return -1;
	}
	return 0;
}

/* Opens dir (O_PATH) if it and every folder above it are root's alone; else says why. */
static int open_safe_dir(const char *dir, struct strbuf *why)
{
	autostrbuf struct strbuf failed_at = STRBUF_INIT;
	size_t why_len = why->len;
	int fd;

	if (dir[0] != '/') {
		strbuf_addf(why, "'%s' is not an absolute path", dir);
		return -1;
	}
	fd = path_walk(dir, O_PATH | O_DIRECTORY, visit_root_owned, why, &failed_at);
	if (fd >= 0 || why->len != why_len)
		return fd; /* the visit said why */
	if (errno == EINVAL)
		strbuf_addf(why, "'%s' is not a normal path", dir);
	else if (errno == ELOOP)
		strbuf_addf(why, "'%s' is a symlink", failed_at.buf);
	else if (errno == ENOTDIR)
		strbuf_addf(why, "'%s' is not a directory", failed_at.buf);
	else
		strbuf_addf(why, "cannot open '%s': %s", failed_at.buf, strerror(errno));
	return -1;
}

bool safe_dir_chain(const char *dir, struct strbuf *why)
{
	int fd = open_safe_dir(dir, why);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int entrypoint_open_verified(const struct agent *a, gid_t gid, struct strbuf *why, bool *unreadable)
{
	autofree char *dir = xstrdup(a->entrypoint);
	char *slash = strrchr(dir, '/');
	autoclose int dir_fd = -1;
	autoclose int fd = -1;
	char actual[SHA256_HEX_LEN + 1];
	struct stat st;

	*unreadable = false;
	if (!slash || slash == dir || !slash[1]) {
		strbuf_addf(why, "entrypoint path '%s' is not an absolute file path", a->entrypoint);
		return -1;
	}
	*slash = '\0';
	dir_fd = open_safe_dir(dir, why);
	if (dir_fd < 0)
		return -1;
	fd = openat(dir_fd, slash + 1, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EACCES && !process_has_gid(gid)) {
			*unreadable = true;
			strbuf_addf(why, "cannot read '%s': this session is not in group '%s' yet",
				    a->entrypoint, a->group);
		} else {
			strbuf_addf(why, "cannot open '%s': %s", a->entrypoint, strerror(errno));
		}
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		strbuf_addf(why, "cannot stat '%s': %s", a->entrypoint, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		strbuf_addf(why, "'%s' is not a regular file", a->entrypoint);
		return -1;
	}
	if (st.st_uid != 0) {
		strbuf_addf(why, "'%s' is owned by uid %u, expected root (uid 0)", a->entrypoint,
			    (unsigned)st.st_uid);
		return -1;
	}
	if (st.st_gid != gid) {
		strbuf_addf(why, "'%s' has group gid %u, expected '%s' (gid %u)", a->entrypoint,
			    (unsigned)st.st_gid, a->group, (unsigned)gid);
		return -1;
	}
	if ((st.st_mode & 07777) != 04750) {
		strbuf_addf(why, "'%s' has mode %04o, expected 4750", a->entrypoint,
			    (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if (sha256_fd(fd, actual) < 0) {
		strbuf_addf(why, "cannot read '%s': %s", a->entrypoint, strerror(errno));
		return -1;
	}
	if (strcmp(actual, a->entrypoint_sha256) != 0) {
		strbuf_addf(why, "'%s' has SHA-256 %s, expected %s", a->entrypoint, actual,
			    a->entrypoint_sha256);
		return -1;
	}
	return steal_fd(&fd);
}

bool agent_record_ids(struct agent *a)
{
	struct passwd *pw = a->has_uid ? NULL : getpwnam(a->user_name);
	struct group *gr = a->has_gid ? NULL : getgrnam(a->group);
	bool changed = false;

	if (pw && pw->pw_uid != 0) {
		a->uid = pw->pw_uid;
		a->has_uid = changed = true;
	}
	if (gr && gr->gr_gid != 0) {
		a->gid = gr->gr_gid;
		a->has_gid = changed = true;
	}
	return changed;
}

bool agent_user_is_the_agents(const struct agent *a, const struct agent_user *u, struct strbuf *why)
{
	if (!u->user_exists || !a->has_uid || u->uid == a->uid)
		return true;
	strbuf_addf(why, "user '%s' now has uid %u, but the agent was made with uid %u: it is another user",
		    a->user_name, (unsigned)u->uid, (unsigned)a->uid);
	return false;
}

bool agent_group_is_the_agents(const struct agent *a, const struct agent_user *u, struct strbuf *why)
{
	if (!u->group_exists || !a->has_gid || u->gid == a->gid)
		return true;
	strbuf_addf(why, "group '%s' now has gid %u, but the agent was made with gid %u: it is another group",
		    a->group, (unsigned)u->gid, (unsigned)a->gid);
	return false;
}

bool entrypoint_is_in_home(const char *path, const char *home)
{
	autofree char *normal = path_normalize(path);

	return normal && !strcmp(normal, path) && path_below(path, home);
}

int entrypoint_remove_from_home(const char *path, struct strbuf *why)
{
	autofree char *dir = xstrdup(path);
	char *name = strrchr(dir, '/');
	autoclose int dir_fd = -1;
	struct stat st;

	*name++ = '\0';
	dir_fd = open_nofollow(dir, O_PATH | O_DIRECTORY);
	if (dir_fd < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP))
		return 0; /* its folder is gone (or is not one any more): so is the entrypoint there */
	if (dir_fd < 0 || fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (dir_fd >= 0 && errno == ENOENT)
			return 0;
		strbuf_addf(why, "cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return 0; /* a folder of the agent's, not an entrypoint */
	if (unlinkat(dir_fd, name, 0) < 0) {
		if (errno == ENOENT)
			return 0;
		strbuf_addf(why, "cannot remove '%s': %s", path, strerror(errno));
		return -1;
	}
	return 1;
}

bool entrypoint_up_to_date(const struct agent *a, struct strbuf *why)
{
	autofree char *expected = entrypoint_install_path(a->user_name);

	if (strcmp(a->entrypoint, expected)) {
		strbuf_addf(why, "the entrypoint '%s' is not where au installs entrypoints ('%s')%s",
			    a->entrypoint, expected, entrypoint_is_in_home(a->entrypoint, "/home") ?
			    ": it is in a home, where its owner can replace it (agent-as-unix-user put it there)" : "");
		return false;
	}
	if (!a->entrypoint_source_sha256) {
		strbuf_addstr(why, "the entrypoint was built by an older au, or by agent-as-unix-user: it is out of date");
		return false;
	}
	if (strcmp(a->entrypoint_source_sha256, entrypoint_source_sha256())) {
		strbuf_addstr(why, "the entrypoint was built from another version of au's entrypoint source "
			      "(au was upgraded): it is out of date");
		return false;
	}
	return true;
}

void startup_warnings(const struct config *cfg)
{
	struct human h;
	struct stat st;

	/*
	 * A session that lacks an agent's group is not warned about here, on
	 * every command: au run goes through sg and says so, au info reports
	 * it, and au new says how to get the group once.
	 */
	human_load(&h);
	if (!cfg->disable_home_access_check && stat(h.home, &st) == 0 &&
	    (st.st_mode & (S_IRWXO))) {
		warn("your home '%s' is open to others (mode %04o): agents can read it",
		     h.home, (unsigned)(st.st_mode & 07777));
		hint("chmod 750 ~  (or set disable_home_access_check = true in '%s')", cfg->path);
	}
	human_release(&h);
}
