/* protect.c: the protected paths inside read-write mounts, and the audit after a run. */
#include "protect.h"
#include "config.h"
#include "paths.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <string.h>
#include <sys/stat.h>

/* A folder of the human's that git would take for a git directory. */
static bool human_gitdir(int dir_fd, uid_t owner)
{
	struct stat st;

	if (fstat(dir_fd, &st) < 0 || st.st_uid != owner)
		return false;
	/* Agent-owned git directories need no care: git refuses them to the human (safe.directory). */
	return faccessat(dir_fd, "HEAD", F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	       faccessat(dir_fd, "config", F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	       faccessat(dir_fd, "objects", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

struct collector {
	const struct mount_spec *m;
	const char *const *protected;
	uid_t owner;
	struct strvec *argv;
	struct protect_scan *scan;
};

static void push_path(struct collector *c, const char *flag, const char *rel)
{
	autofree char *target = path_join(c->m->target, rel);

	strvec_push(c->argv, flag);
	strvec_push(c->argv, target);
}

/* Protected entries not under .git/, at the top of a working tree (rel, "" for the mount's top). */
static void protect_worktree(struct collector *c, const char *rel)
{
	for (const char *const *p = c->protected; *p; p++) {
		autofree char *rel_path = NULL;
		autofree char *src = NULL;
		struct stat st;

		if (!strncmp(*p, ".git/", 5) || !strcmp(*p, ".git"))
			continue;
		rel_path = *rel ? xasprintf("%s/%s", rel, *p) : xstrdup(*p);
		src = path_join(c->m->source, rel_path);
		if (lstat(src, &st) < 0)
			continue;
		if (c->scan) {
			ALLOC_GROW(c->scan->entries, c->scan->nr_entries, c->scan->alloc_entries);
			c->scan->entries[c->scan->nr_entries++] = xstrdup(src);
		}
		if (S_ISLNK(st.st_mode)) {
			autofree char *shown = escape_display(src);
			warn("'%s' is a symlink: it cannot be protected", shown);
			continue;
		}
		push_path(c, "-p", rel_path);
	}
}

/* One git directory of the human's, at rel below the mount's source. */
static void protect_gitdir(struct collector *c, const char *rel)
{
	autofree char *src = path_join(c->m->source, rel);
	autoclose int fd = open_nofollow(src, O_RDONLY | O_DIRECTORY);

	if (fd < 0 || !human_gitdir(fd, c->owner))
		return;
	if (c->scan) {
		size_t alloc = c->scan->alloc_gitdirs;

		ALLOC_GROW(c->scan->gitdirs, c->scan->nr_gitdirs, c->scan->alloc_gitdirs);
		if (alloc != c->scan->alloc_gitdirs)
			c->scan->commondirs = xrealloc(c->scan->commondirs,
						       c->scan->alloc_gitdirs * sizeof(*c->scan->commondirs));
		c->scan->commondirs[c->scan->nr_gitdirs] =
			faccessat(fd, "commondir", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
		c->scan->gitdirs[c->scan->nr_gitdirs++] = xstrdup(src);
	}
	/* git init makes hooks/; recreate it if it is gone, so that it is protected. */
	if (mkdirat(fd, "hooks", 0755) < 0 && errno != EEXIST) {
		autofree char *shown = escape_display(src);
		warn_errno("cannot create '%s/hooks'", shown);
	}
	push_path(c, "-g", rel);
	for (const char *const *p = c->protected; *p; p++) {
		autofree char *rel_path = NULL;
		autofree char *path = NULL;
		struct stat st;

		if (strncmp(*p, ".git/", 5) || !(*p)[5])
			continue;
		rel_path = xasprintf("%s/%s", rel, *p + 5);
		path = path_join(c->m->source, rel_path);
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			autofree char *shown = escape_display(path);
			warn("'%s' is a symlink: it cannot be protected", shown);
			continue;
		}
		push_path(c, "-p", rel_path);
	}
}

/*
 * Submodules keep their git directories below .git/modules, at their path
 * (so a name can span folders), each with its own modules/ for nested ones.
 */
static void protect_modules(struct collector *c, const char *dir_rel, int depth)
{
	autofree char *dir = path_join(c->m->source, dir_rel);
	autoclose int fd = open_nofollow(dir, O_RDONLY | O_DIRECTORY);
	struct dirent *e;
	DIR *d;

	if (fd < 0 || depth > 32)
		return;
	d = fdopendir(fd);
	if (!d)
		return;
	fd = -1; /* now d's */
	while ((e = readdir(d))) {
		autofree char *rel = NULL;
		struct stat st;

		if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		rel = xasprintf("%s/%s", dir_rel, e->d_name);
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
		    faccessat(dirfd(d), e->d_name, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
			autofree char *head = xasprintf("%s/HEAD", e->d_name);
			struct stat hst;

			if (fstatat(dirfd(d), head, &hst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(hst.st_mode)) {
				autofree char *nested = xasprintf("%s/modules", rel);
				protect_gitdir(c, rel);
				protect_modules(c, nested, depth + 1);
			} else {
				protect_modules(c, rel, depth + 1);
			}
		}
	}
	closedir(d);
}

void protect_collect(const struct mount_spec *m, const char *const *protected, uid_t owner,
		     struct strvec *argv, struct protect_scan *scan)
{
	struct collector c = { m, protected, owner, argv, scan };
	char *roots[] = { m->source, NULL };
	size_t base = strlen(m->source);
	struct stat st;
	FTS *fts;
	FTSENT *e;

	if (lstat(m->source, &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	/* The mount's own top is protected even when it is not a repository. */
	protect_worktree(&c, "");
	/* FTS_PHYSICAL: never follow a symlink; FTS_NOSTAT: d_type is enough here. */
	fts = fts_open(roots, FTS_PHYSICAL | FTS_NOSTAT | FTS_NOCHDIR, NULL);
	if (!fts)
		return;
	while ((e = fts_read(fts))) {
		if (e->fts_info != FTS_D || strcmp(e->fts_name, ".git"))
			continue;
		/* A git directory: protect it and its submodules; nothing else inside needs a walk. */
		{
			const char *rel = e->fts_path + base + 1;
			autofree char *worktree = xstrndup(rel, strlen(rel) - strlen(".git"));

			if (*worktree)
				worktree[strlen(worktree) - 1] = '\0'; /* the slash */
			autofree char *modules = xasprintf("%s/modules", rel);

			protect_gitdir(&c, rel);
			protect_modules(&c, modules, 0);
			if (*worktree)
				protect_worktree(&c, worktree);
		}
		fts_set(fts, e, FTS_SKIP);
	}
	fts_close(fts);
}

static bool listed(char *const *list, size_t nr, const char *s)
{
	for (size_t i = 0; i < nr; i++) {
		if (!strcmp(list[i], s))
			return true;
	}
	return false;
}

/* Renames gitdir/commondir aside, by fd: the agent may still be swapping things. */
static void quarantine_commondir(const char *gitdir)
{
	autoclose int fd = open_nofollow(gitdir, O_RDONLY | O_DIRECTORY);
	autofree char *shown = escape_display(gitdir);

	if (fd < 0 || renameat(fd, "commondir", fd, "commondir.au-quarantine") < 0) {
		warn_errno("'%s/commondir' appeared while the agent ran and could not be moved aside", shown);
		hint("it sends git to another config and hooks: remove it before using git there");
		return;
	}
	warn("'%s/commondir' appeared while the agent ran: moved it to 'commondir.au-quarantine'", shown);
	hint("it would have sent your git to another config and hooks");
}

/* A folder of the human's made into a git directory by someone else: its config or HEAD is not the human's. */
static bool made_by_other(const char *gitdir, uid_t owner)
{
	autoclose int fd = open_nofollow(gitdir, O_RDONLY | O_DIRECTORY);
	static const char *const names[] = { "config", "HEAD" };
	struct stat st;

	if (fd < 0)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (fstatat(fd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_uid != owner)
			return true;
	}
	return false;
}

/* Renames DIR/.git to DIR/.git.au-quarantine, by the parent's fd, so that git no longer finds it. */
static void quarantine_gitdir(const char *gitdir)
{
	autofree char *parent = xstrndup(gitdir, strlen(gitdir) - strlen("/.git"));
	autoclose int fd = open_nofollow(parent, O_RDONLY | O_DIRECTORY);
	autofree char *shown = escape_display(gitdir);

	if (strlen(gitdir) < 6 || strcmp(gitdir + strlen(gitdir) - 5, "/.git") || fd < 0 ||
	    renameat(fd, ".git", fd, ".git.au-quarantine") < 0) {
		warn("the agent made a git directory of yours at '%s', with its own config", shown);
		hint("do not use git there: remove it first");
		return;
	}
	warn("the agent made a git directory of yours at '%s', with its own config: moved it to "
	     "'.git.au-quarantine'", shown);
	hint("git there would have run its config and hooks as you");
}

void protect_audit(const struct mount_spec *m, const char *const *protected, uid_t owner,
		   const struct protect_scan *before)
{
	autostrvec struct strvec ignored = STRVEC_INIT;
	struct protect_scan after = { 0 };

	protect_collect(m, protected, owner, &ignored, &after);
	for (size_t i = 0; i < after.nr_gitdirs; i++) {
		const char *g = after.gitdirs[i];
		autofree char *shown = escape_display(g);
		autofree char *commondir = xasprintf("%s/commondir", g);
		struct stat st;

		if (!listed(before->gitdirs, before->nr_gitdirs, g)) {
			if (made_by_other(g, owner)) {
				quarantine_gitdir(g);
				continue;
			}
			warn("a git directory of yours appeared at '%s' while the agent ran", shown);
			hint("git there would use its config and hooks as you: check them before using git there");
		}
		/* Only linked worktrees' own git directories (.git/worktrees/X) have one. */
		if (lstat(commondir, &st) == 0 && !strstr(g, "/worktrees/")) {
			bool was_there = false;
			for (size_t j = 0; j < before->nr_gitdirs && !was_there; j++) {
				autofree char *old = xasprintf("%s/commondir", before->gitdirs[j]);
				was_there = !strcmp(old, commondir) && before->commondirs && before->commondirs[j];
			}
			if (was_there) {
				warn("'%s/commondir' sends git to another config and hooks", shown);
				hint("check it, and remove it unless you made it");
			} else {
				quarantine_commondir(g);
			}
		}
	}
	for (size_t i = 0; i < after.nr_entries; i++) {
		if (!listed(before->entries, before->nr_entries, after.entries[i])) {
			autofree char *shown = escape_display(after.entries[i]);
			warn("'%s' appeared while the agent ran", shown);
			hint("editors and direnv may run what it says: check it before you open that folder");
		}
	}
	protect_scan_release(&after);
}

void protect_scan_release(struct protect_scan *scan)
{
	for (size_t i = 0; i < scan->nr_gitdirs; i++)
		free(scan->gitdirs[i]);
	for (size_t i = 0; i < scan->nr_entries; i++)
		free(scan->entries[i]);
	free(scan->gitdirs);
	free(scan->entries);
	free(scan->commondirs);
	memset(scan, 0, sizeof(*scan));
}
