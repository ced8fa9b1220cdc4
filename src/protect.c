/* protect.c: finding the protected paths inside a read-write mount. */
#include "protect.h"
#include "config.h"
#include "paths.h"
#include "util.h"

#include <errno.h>
#include <fts.h>
#include <string.h>
#include <sys/stat.h>

/*
 * Calls fn for each protected path that exists below repo (a folder of the
 * human's, relative path rel below the mount's source). Symlinks are not
 * protected (a mount cannot sit on one) and are reported.
 */
static void protect_repo(const struct mount_spec *m, const char *rel, const char *const *protected,
			 void (*fn)(const char *, const char *, void *), void *data)
{
	for (const char *const *p = protected; *p; p++) {
		autofree char *rel_path = *rel ? xasprintf("%s/%s", rel, *p) : xstrdup(*p);
		autofree char *src = path_join(m->source, rel_path);
		autofree char *dst = path_join(m->target, rel_path);
		struct stat st;

		if (lstat(src, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			autofree char *shown = escape_display(src);
			warn("'%s' is a symlink: it cannot be protected", shown);
			continue;
		}
		fn(dst, src, data);
	}
}

void protect_each(const struct mount_spec *m, const char *const *protected,
		  void (*fn)(const char *, const char *, void *), void *data)
{
	char *roots[] = { m->source, NULL };
	size_t base = strlen(m->source);
	struct stat st;
	FTS *fts;
	FTSENT *e;

	if (!*protected || lstat(m->source, &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	/* The mount's own top is protected even when it is not a repository. */
	protect_repo(m, "", protected, fn, data);
	/* FTS_PHYSICAL: never follow a symlink; FTS_NOSTAT: d_type is enough here. */
	fts = fts_open(roots, FTS_PHYSICAL | FTS_NOSTAT | FTS_NOCHDIR, NULL);
	if (!fts)
		return;
	while ((e = fts_read(fts))) {
		if (e->fts_info != FTS_D)
			continue;
		if (!strcmp(e->fts_name, ".git")) {
			/* Its parent is a repository; nothing inside .git needs a walk. */
			if (e->fts_level > 1) {
				size_t parent_len = e->fts_pathlen - strlen("/.git");
				autofree char *rel = xstrndup(e->fts_path + base + 1, parent_len - base - 1);
				protect_repo(m, rel, protected, fn, data);
			}
			fts_set(fts, e, FTS_SKIP);
		}
	}
	fts_close(fts);
}

static void push_protected(const char *target_path, const char *source_path, void *data)
{
	struct strvec *argv = data;

	strvec_push(argv, "-p");
	strvec_push(argv, target_path);
}

void protect_collect(const struct mount_spec *m, const char *const *protected, struct strvec *argv)
{
	protect_each(m, protected, push_protected, argv);
}
