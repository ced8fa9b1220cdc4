/* protect.c: the protected paths inside read-write mounts, and the audit after a run. */
#include "protect.h"
#include "config.h"
#include "entrypoint.h"
#include "paths.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <string.h>
#include <stdio.h>
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
	struct ep_request *req;
	struct protect_scan *scan;
};

static void push_path(struct collector *c, enum ep_protect_kind kind, const char *rel)
{
	autofree char *target = path_join(c->m->target, rel);

	ep_request_add_protected(c->req, target, kind);
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
		push_path(c, EP_READ_ONLY, rel_path);
	}
}

/*
 * Linked worktrees (git worktree add) keep their own small git directories in
 * .git/worktrees/NAME; commondir, gitdir and config.worktree there tell git
 * where to read config and hooks for a worktree that may lie outside the
 * share. Those of existing worktrees are made read-only; new ones are the
 * agent's own, and git refuses them to the human (their folder is the agent's).
 */
static void protect_worktree_admin(struct collector *c, const char *gitdir_rel)
{
	static const char *const files[] = { "commondir", "gitdir", "config.worktree" };
	autofree char *dir = xasprintf("%s/%s/worktrees", c->m->source, gitdir_rel);
	autoclose int fd = open_nofollow(dir, O_RDONLY | O_DIRECTORY);
	struct dirent *e;
	DIR *d;

	if (fd < 0 || !(d = fdopendir(fd)))
		return;
	fd = -1; /* now d's */
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
			autofree char *rel = xasprintf("%s/worktrees/%s/%s", gitdir_rel, e->d_name, files[i]);
			autofree char *name = xasprintf("%s/%s", e->d_name, files[i]);
			struct stat st;

			if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
				push_path(c, EP_READ_ONLY, rel);
		}
	}
	closedir(d);
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
	push_path(c, EP_PIN, rel);
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
		push_path(c, EP_READ_ONLY, rel_path);
	}
	protect_worktree_admin(c, rel);
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

/* HEAD, objects/ and refs/: what git looks for to take a folder as a repository. */
static bool looks_like_gitdir(const char *path)
{
	autofree char *head = xasprintf("%s/HEAD", path);
	autoclose int fd = -1;
	struct stat st;

	/* One lstat for the common folder without HEAD: this runs on every folder of a share. */
	if (lstat(head, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd >= 0 && fstatat(fd, "objects", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
	       fstatat(fd, "refs", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* A ".git" file ("gitdir: PATH", in worktrees and submodules): where it is and what it is. */
static void record_gitfile(struct protect_scan *scan, const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return;
	ALLOC_GROW(scan->gitfiles, scan->nr_gitfiles, scan->alloc_gitfiles);
	scan->gitfiles[scan->nr_gitfiles].path = xstrdup(path);
	scan->gitfiles[scan->nr_gitfiles].st = st;
	scan->nr_gitfiles++;
}

void protect_collect(const struct mount_spec *m, const char *const *protected, uid_t owner,
		     struct ep_request *req, struct protect_scan *scan)
{
	struct collector c = { m, protected, owner, req, scan };
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
		if (e->fts_level > 0 && !strcmp(e->fts_name, ".git") && e->fts_info != FTS_D &&
		    e->fts_info != FTS_DP && scan)
			record_gitfile(scan, e->fts_path);
		if (e->fts_info == FTS_D && e->fts_level > 0 && strcmp(e->fts_name, ".git") &&
		    looks_like_gitdir(e->fts_accpath)) {
			/* A folder git itself would take for a (bare) repository. */
			protect_gitdir(&c, e->fts_path + base + 1);
			fts_set(fts, e, FTS_SKIP);
			continue;
		}
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

/*
 * Renames name (inside dir) to name.au-quarantine, or .1, .2... when that is
 * taken: never over something that exists (the agent may have put it there).
 * By the folder's fd, never following a symlink on the way.
 */
static int quarantine(const char *dir, const char *name, char **moved_to)
{
	autoclose int fd = open_nofollow(dir, O_RDONLY | O_DIRECTORY);

	if (fd < 0)
		return -1;
	for (int i = 0; i < 100; i++) {
		autofree char *to = i ? xasprintf("%s.au-quarantine.%d", name, i)
				      : xasprintf("%s.au-quarantine", name);
		if (renameat2(fd, name, fd, to, RENAME_NOREPLACE) == 0) {
			*moved_to = steal_pointer(&to);
			return 0;
		}
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

/* Splits path into its folder and last name, and quarantines that. */
static void quarantine_path(const char *path, const char *what)
{
	autofree char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	autofree char *shown = escape_display(path);
	autofree char *moved_to = NULL;

	if (!slash || slash == dir) {
		warn("%s appeared at '%s' while the agent ran", what, shown);
		return;
	}
	*slash = '\0';
	if (quarantine(dir, slash + 1, &moved_to) < 0) {
		warn_errno("%s appeared at '%s' while the agent ran, and could not be moved aside", what, shown);
		hint("git there would run its config and hooks as you: remove it before using git there");
		return;
	}
	{
		autofree char *shown_to = escape_display(moved_to);
		warn("%s appeared at '%s' while the agent ran: moved it aside to '%s'", what, shown, shown_to);
		hint("git there would have run its config and hooks as you; check it before putting it back");
	}
}

void protect_audit(const struct mount_spec *m, const char *const *protected, uid_t owner,
		   const struct protect_scan *before)
{
	autoeprequest struct ep_request ignored = EP_REQUEST_INIT;
	struct protect_scan after = { 0 };

	protect_collect(m, protected, owner, &ignored, &after);
	for (size_t i = 0; i < after.nr_gitdirs; i++) {
		const char *g = after.gitdirs[i];
		autofree char *commondir = xasprintf("%s/commondir", g);
		struct stat st;
		size_t j;

		for (j = 0; j < before->nr_gitdirs && strcmp(before->gitdirs[j], g); j++)
			;
		if (j == before->nr_gitdirs) {
			/*
			 * Folders of the human's are the agent's to write in a
			 * read-write share, so who owns what inside proves
			 * nothing: any git directory that appeared is moved
			 * aside. A bare one loses its HEAD, a .git folder goes.
			 */
			size_t len = strlen(g);
			if (len > 5 && !strcmp(g + len - 5, "/.git")) {
				quarantine_path(g, "a git directory");
			} else {
				autofree char *head = xasprintf("%s/HEAD", g);
				quarantine_path(head, "a git directory (its HEAD)");
			}
			continue;
		}
		if (lstat(commondir, &st) == 0 && !before->commondirs[j])
			quarantine_path(commondir, "a commondir (it sends git to another config)");
	}
	for (size_t i = 0; i < after.nr_gitfiles; i++) {
		const struct stat *now = &after.gitfiles[i].st;
		bool same = false;

		for (size_t j = 0; j < before->nr_gitfiles && !same; j++) {
			const struct stat *was = &before->gitfiles[j].st;
			same = !strcmp(before->gitfiles[j].path, after.gitfiles[i].path) &&
			       was->st_ino == now->st_ino && was->st_dev == now->st_dev &&
			       was->st_size == now->st_size && was->st_mtim.tv_sec == now->st_mtim.tv_sec &&
			       was->st_mtim.tv_nsec == now->st_mtim.tv_nsec && was->st_mode == now->st_mode;
		}
		/* git refuses a .git file that is not the human's own (safe.directory). */
		if (!same && now->st_uid == owner)
			quarantine_path(after.gitfiles[i].path, "a new or changed .git file");
	}
	for (size_t i = 0; i < after.nr_entries; i++) {
		bool known = false;

		for (size_t j = 0; j < before->nr_entries && !known; j++)
			known = !strcmp(before->entries[j], after.entries[i]);
		if (!known) {
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
	for (size_t i = 0; i < scan->nr_gitfiles; i++)
		free(scan->gitfiles[i].path);
	free(scan->gitdirs);
	free(scan->entries);
	free(scan->gitfiles);
	free(scan->commondirs);
	memset(scan, 0, sizeof(*scan));
}
