/* protect.c: read-write shares as a boundary: protections before a run, git's rules after it (see protect.h). */
#include "protect.h"
#include "config.h"
#include "entrypoint.h"
#include "gitconfig.h"
#include "hash.h"
#include "paths.h"
#include "report.h"
#include "share-record.h"
#include "sys.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

/*
 * What git looks for to take a folder for a git directory (setup.c,
 * is_git_directory()): a valid HEAD, and objects/ and refs/ in the folder or
 * in the one its commondir file names. au asks less, so that it never has to
 * follow a symlink or read what the agent wrote: HEAD of any kind but a
 * folder, objects and refs of any kind (git's access(X_OK) follows
 * symlinks, and passes an executable file), commondir of any kind but a
 * folder. Two of the four make a folder "gitdir-like": one more step (by
 * the agent, or by git itself) and git takes it.
 */
enum maker {
	MAKER_HEAD = 1 << 0,
	MAKER_OBJECTS = 1 << 1,
	MAKER_REFS = 1 << 2,
	MAKER_COMMONDIR = 1 << 3,
};
static const char *const maker_names[] = { "HEAD", "objects", "refs", "commondir" };

/*
 * Inside a git directory, what git reads to run something: config and hooks, and where
 * else to read them; and the state of a stopped rebase, cherry-pick or revert, whose
 * todo list runs its "exec" lines (and picks with its saved options) at the human's
 * next "--continue".
 */
static const char *const sensitive_names[] = { "config", "config.worktree", "commondir", "hooks",
					       "rebase-merge", "rebase-apply", "sequencer" };

/* A change seen under a share, below its top: from the entrypoint's report, or from ctimes. */
#define CHANGE_NEW_TREE (1u << 8) /* inside a folder that is new where it is: everything in it is */

struct change {
	char *rel;
	unsigned changes; /* enum su_change, CHANGE_NEW_TREE */
};

/* What au knows of one folder of a share while it checks it. */
struct folder {
	char *rel;
	bool exists;
	struct stat st;
	unsigned makers;         /* enum maker, present */
	unsigned changed_makers; /* enum maker, changed during the run */
	bool new_tree;           /* created or moved in during the run (or inside such a folder) */
	bool has_dotgit;         /* a ".git" entry of any kind */
	bool targets_done;
};

struct action {
	char *rel;
	const char *what; /* "a git directory appeared at" ... */
	int hint;         /* enum hint */
};

enum hint {
	HINT_GIT,
	HINT_HOOKS,
	HINT_EDITOR,
	NR_HINTS,
};

/* What the human's global git config says that matters here. */
struct git_env {
	bool safe_all;          /* safe.directory = *: git trusts any owner */
	struct strvec safe_dirs;
	struct strvec hooks_paths; /* core.hooksPath, as written */
	struct strvec includes;    /* absolute paths of included files */
	char *bare_repository;     /* safe.bareRepository */
};

struct share {
	const struct mount_spec *m;
	int top_fd; /* O_PATH, walked without symlinks */
	struct stat top_st;
	struct share_record rec;
	bool pre_scanned; /* no watch expected: scanned just before the run */
	bool safe_dir;    /* safe.directory covers it: git trusts any owner here */
	struct strvec targets; /* hooksPath folders and included files inside, relative */
	struct change *changes;
	size_t nr_changes, alloc_changes;
	bool lost; /* the changes of this share are not all known */
	/* the check */
	struct folder **folders; /* open hash table, by rel */
	size_t nr_folders, alloc_folders;
	struct action *actions;
	size_t nr_actions, alloc_actions;
	struct strvec reported; /* protected entries already warned about */
	int quarantine_fd;
	char *quarantine_name;
	unsigned quarantined;
};

/* --- small helpers ------------------------------------------------------- */

static const char *base_name(const char *rel)
{
	const char *slash = strrchr(rel, '/');

	return slash ? slash + 1 : rel;
}

/* The parent of rel ("" for a name at the top). */
static char *parent_rel(const char *rel)
{
	const char *slash = strrchr(rel, '/');

	return slash ? xstrndup(rel, (size_t)(slash - rel)) : xstrdup("");
}

static char *join_rel(const char *rel, const char *name)
{
	return *rel ? xasprintf("%s/%s", rel, name) : xstrdup(name);
}

/* rel is path or below it ("" is the top, above everything). */
static bool rel_at_or_below(const char *rel, const char *path)
{
	size_t n = strlen(path);

	return !n || (!strncmp(rel, path, n) && (rel[n] == '\0' || rel[n] == '/'));
}

/* The human-side path of rel in share s, for messages. */
static char *share_path(const struct share *s, const char *rel)
{
	return path_join(s->m->source, rel);
}

/*
 * Opens rel below the share's top one component at a time, never following
 * a symlink (the agent may plant one anywhere in the share).
 */
static int open_rel(const struct share *s, const char *rel, int last_flags)
{
	autofree char *copy = xstrdup(rel);
	int fd = openat(s->top_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	char *p = copy;

	if (!*rel) {
		int r = fd < 0 ? -1 : openat(fd, ".", (last_flags & ~O_NOFOLLOW) | O_CLOEXEC);
		if (fd >= 0)
			close(fd);
		return r;
	}
	while (fd >= 0) {
		char *slash = strchr(p, '/');
		int next;

		if (slash)
			*slash = '\0';
		next = openat(fd, p, (slash ? O_PATH | O_DIRECTORY : last_flags) | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = next;
		if (!slash)
			break;
		p = slash + 1;
	}
	return fd;
}

static int lstat_rel(const struct share *s, const char *rel, struct stat *st)
{
	autofree char *parent = parent_rel(rel);
	autoclose int fd = open_rel(s, parent, O_PATH | O_DIRECTORY);

	if (!*rel)
		return fstat(s->top_fd, st);
	return fd < 0 ? -1 : fstatat(fd, base_name(rel), st, AT_SYMLINK_NOFOLLOW);
}

/* The entries of git's rules present in a folder, by fstatat without following anything. */
static unsigned makers_at(int dir_fd, bool *has_dotgit)
{
	unsigned makers = 0;
	struct stat st;

	for (size_t i = 0; i < ARRAY_SIZE(maker_names); i++) {
		if (fstatat(dir_fd, maker_names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if ((i == 0 || i == 3) && S_ISDIR(st.st_mode))
			continue; /* HEAD and commondir are read as files */
		makers |= 1u << i;
	}
	if (has_dotgit)
		*has_dotgit = fstatat(dir_fd, ".git", &st, AT_SYMLINK_NOFOLLOW) == 0;
	return makers;
}

static int popcount(unsigned v)
{
	return __builtin_popcount(v);
}

/* git's is_git_directory(), as au reads it (see enum maker). */
static bool complete_gitdir(unsigned makers)
{
	return (makers & MAKER_HEAD) && ((makers & MAKER_COMMONDIR) || ((makers & MAKER_OBJECTS) && (makers & MAKER_REFS)));
}

/* --- the human's git config ---------------------------------------------- */

struct config_read {
	const char *home;
	const char *base_dir; /* of the file being read, for relative include paths */
	struct strvec *hooks_paths;
	struct strvec *includes;
	struct git_env *env; /* global only: safe.* */
};

/* ~/x, an absolute path, or a path relative to base: absolute and lexically normal. */
static char *config_path_value(const char *value, const char *base, const char *home)
{
	autofree char *joined = NULL;

	if (!value || !*value)
		return NULL;
	if (value[0] == '~' && (value[1] == '/' || !value[1]))
		joined = xasprintf("%s%s", home, value + 1);
	else if (value[0] == '/')
		joined = xstrdup(value);
	else if (base)
		joined = xasprintf("%s/%s", base, value);
	else
		return NULL;
	return path_normalize(joined);
}

static void on_config_variable(const char *section, const char *subsection, const char *key, const char *value,
			       void *data)
{
	struct config_read *cr = data;

	if (!strcmp(section, "core") && !subsection && !strcmp(key, "hookspath") && value) {
		strvec_push(cr->hooks_paths, value);
	} else if (((!strcmp(section, "include") && !subsection) || (!strcmp(section, "includeif") && subsection)) &&
		   !strcmp(key, "path")) {
		/* includeIf conditions are not weighed: any of them may hold. */
		char *path = config_path_value(value, cr->base_dir, cr->home);

		if (path) {
			strvec_push(cr->includes, path);
			free(path);
		}
	} else if (cr->env && !strcmp(section, "safe") && !subsection && value) {
		if (!strcmp(key, "directory")) {
			if (!strcmp(value, "*"))
				cr->env->safe_all = true;
			else if (!*value)
				strvec_clear(&cr->env->safe_dirs); /* an empty value resets the list */
			else
				strvec_push(&cr->env->safe_dirs, value);
		} else if (!strcmp(key, "barerepository")) {
			free(cr->env->bare_repository);
			cr->env->bare_repository = xstrdup(value);
		}
	}
}

/*
 * Reads a config file and, up to git's depth of 10, the files it includes:
 * their hooksPath values and the paths they include (all of them, whether
 * they exist or not). path is the file's absolute path, always given: the
 * base of its relative includes. dirfd, when >= 0, is the folder that holds
 * it as name (inside a share, opened by fd); else path is opened without
 * following symlinks.
 */
static void read_config_file(struct config_read *cr, int dirfd, const char *name, const char *path, int depth)
{
	autostrbuf struct strbuf text = STRBUF_INIT;
	autofree char *dir = xstrdup(path);
	const char *saved = cr->base_dir;
	size_t first = cr->includes->nr;
	int rc;

	if (depth > 10)
		return;
	if (dirfd >= 0) {
		rc = read_untrusted_file(dirfd, name, GITCONFIG_MAX_SIZE, &text);
	} else {
		autofree char *parent = xstrdup(path);
		autoclose int fd = -1;

		*strrchr(parent, '/') = '\0';
		fd = open_nofollow(*parent ? parent : "/", O_PATH | O_DIRECTORY);
		rc = fd < 0 ? -1 : read_untrusted_file(fd, base_name(path), GITCONFIG_MAX_SIZE, &text);
	}
	if (rc < 0)
		return;
	if (strrchr(dir, '/'))
		*strrchr(dir, '/') = '\0';
	cr->base_dir = dir;
	gitconfig_parse(text.buf, text.len, on_config_variable, cr);
	cr->base_dir = saved;
	for (size_t i = first, n = cr->includes->nr; i < n; i++) {
		autofree char *inc = xstrdup(cr->includes->v[i]);
		read_config_file(cr, -1, NULL, inc, depth + 1);
	}
}

/* The human's global and system config: ~/.gitconfig, $XDG_CONFIG_HOME/git/config, /etc/gitconfig. */
static void git_env_load(struct git_env *env, const char *home)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	autofree char *user = path_join(home, ".gitconfig");
	autofree char *xdg_file = xdg && xdg[0] == '/' ? xasprintf("%s/git/config", xdg)
						      : xasprintf("%s/.config/git/config", home);
	const char *files[] = { "/etc/gitconfig", xdg_file, user };
	struct config_read cr = { .home = home, .hooks_paths = &env->hooks_paths, .includes = &env->includes,
				  .env = env };

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		/* The human's own files, which dotfile managers often make symlinks: followed, never waited on. */
		autostrbuf struct strbuf text = STRBUF_INIT;
		autofree char *dir = xstrdup(files[i]);
		autoclose int fd = open(files[i], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		struct stat st;
		size_t first = env->includes.nr;

		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
		    read_fd_all(fd, GITCONFIG_MAX_SIZE, &text) < 0)
			continue;
		*strrchr(dir, '/') = '\0';
		cr.base_dir = dir;
		gitconfig_parse(text.buf, text.len, on_config_variable, &cr);
		for (size_t j = first, n = env->includes.nr; j < n; j++) {
			autofree char *inc = xstrdup(env->includes.v[j]);
			read_config_file(&cr, -1, NULL, inc, 1);
		}
	}
}

static void git_env_release(struct git_env *env)
{
	strvec_clear(&env->safe_dirs);
	strvec_clear(&env->hooks_paths);
	strvec_clear(&env->includes);
	free(env->bare_repository);
}

/* safe.directory names the share, or a folder above it (with a final "/ *", no space), so git trusts any owner there. */
static bool safe_directory_covers(const struct git_env *env, const char *source)
{
	if (env->safe_all)
		return true;
	for (size_t i = 0; i < env->safe_dirs.nr; i++) {
		autofree char *dir = xstrdup(env->safe_dirs.v[i]);
		size_t n = strlen(dir);

		if (n >= 2 && !strcmp(dir + n - 2, "/*")) {
			dir[n - 2] = '\0';
			if (path_at_or_below(source, dir) || !*dir)
				return true;
		}
		if (path_below(dir, source) || !strcmp(dir, source))
			return true;
	}
	return false;
}

/* Adds path (absolute) to the share's targets when it is inside it; returns whether it was. */
static bool add_target(struct share *s, const char *path)
{
	const char *src = s->m->source;
	const char *rel;

	if (!path || !path_at_or_below(path, src))
		return false;
	rel = path[strlen(src)] ? path + strlen(src) + 1 : "";
	for (size_t i = 0; i < s->targets.nr; i++) {
		if (!strcmp(s->targets.v[i], rel))
			return true;
	}
	strvec_push(&s->targets, rel);
	return true;
}

/*
 * The hooksPath folders and included files of one repository, inside the
 * share: gitdir (absolute, human side) and its commondir's config, with
 * hooksPath relative to worktree (or to the git directory when bare).
 * Husky 9 points core.hooksPath at .husky/_, whose hooks run .husky/HOOK:
 * the parent of a hooksPath folder named "_" is a target too.
 */
static void repo_targets(struct share *s, const struct git_env *env, const char *home, int gitdir_fd,
			 const char *gitdir, const char *worktree)
{
	autostrvec struct strvec hooks_paths = STRVEC_INIT;
	autostrvec struct strvec includes = STRVEC_INIT;
	autofree char *config = path_join(gitdir, "config");
	struct config_read cr = { .home = home, .hooks_paths = &hooks_paths, .includes = &includes };

	if (gitdir_fd >= 0)
		read_config_file(&cr, gitdir_fd, "config", config, 0);
	else
		read_config_file(&cr, -1, NULL, config, 0);
	strvec_pushv(&hooks_paths, strvec_argv((struct strvec *)&env->hooks_paths));
	for (size_t i = 0; i < hooks_paths.nr; i++) {
		autofree char *path = config_path_value(hooks_paths.v[i], worktree ? worktree : gitdir, home);

		if (add_target(s, path) && !strcmp(base_name(path), "_")) {
			autofree char *parent = xstrdup(path);
			*strrchr(parent, '/') = '\0';
			add_target(s, parent);
		}
	}
	for (size_t i = 0; i < includes.nr; i++)
		add_target(s, includes.v[i]);
	for (size_t i = 0; i < env->includes.nr; i++)
		add_target(s, env->includes.v[i]);
}

/* --- the walk ------------------------------------------------------------ */

struct walk_entry {
	char *name;
	unsigned char type; /* DT_* */
	bool new_tree;      /* set by the visitor: descend with everything counted as new */
};

struct walk {
	const struct share *s;
	/* Called for each folder with its entries; may set entries' new_tree. */
	void (*visit)(struct walk *w, int fd, const char *rel, const struct stat *st, const struct stat *parent_st,
		      struct walk_entry *e, size_t n, bool new_tree);
	void *data;
	bool incomplete; /* some folder could not be read, or lay deeper than WALK_MAX_DEPTH */
	unsigned depth;
};

/*
 * How deep the walk goes below where it starts. No project nests folders
 * this deep, but the agent can make a chain of any depth, and each level
 * holds an fd and a longer path here: beyond it the walk is incomplete
 * (and said so), rather than au running out of fds, memory or stack.
 */
#define WALK_MAX_DEPTH 512

static int compare_entries(const void *a, const void *b)
{
	return strcmp(((const struct walk_entry *)a)->name, ((const struct walk_entry *)b)->name);
}

/*
 * Every folder below fd, depth first, each opened from its parent's fd
 * without following a symlink and without blocking; folders of another
 * file system (mounted inside the share) are not the agent's to write, and
 * are left out, as the entrypoint's bind leaves them out.
 */
static void walk_dir(struct walk *w, int fd, const char *rel, const struct stat *st, const struct stat *parent_st,
		     bool new_tree)
{
	struct walk_entry *entries = NULL;
	size_t nr = 0, alloc = 0;
	struct dirent *de;
	DIR *d;
	int dup_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dup_fd < 0 || !(d = fdopendir(dup_fd))) {
		if (dup_fd >= 0)
			close(dup_fd);
		w->incomplete = true;
		return;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		ALLOC_GROW(entries, nr, alloc);
		entries[nr].name = xstrdup(de->d_name);
		entries[nr].type = de->d_type;
		entries[nr].new_tree = new_tree;
		nr++;
	}
	closedir(d);
	if (nr)
		qsort(entries, nr, sizeof(*entries), compare_entries);
	w->visit(w, fd, rel, st, parent_st, entries, nr, new_tree);
	for (size_t i = 0; i < nr; i++) {
		struct stat child_st;
		int child;

		if (entries[i].type != DT_DIR && entries[i].type != DT_UNKNOWN)
			continue;
		child = openat(fd, entries[i].name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (child < 0) {
			if (errno != ENOTDIR && errno != ELOOP && errno != ENOENT)
				w->incomplete = true;
			continue;
		}
		if (fstat(child, &child_st) == 0 && child_st.st_dev == w->s->top_st.st_dev) {
			autofree char *child_rel = join_rel(rel, entries[i].name);

			if (w->depth >= WALK_MAX_DEPTH) {
				w->incomplete = true;
			} else {
				w->depth++;
				walk_dir(w, child, child_rel, &child_st, st, entries[i].new_tree);
				w->depth--;
			}
		}
		close(child);
	}
	for (size_t i = 0; i < nr; i++)
		free(entries[i].name);
	free(entries);
}

static void walk_from(struct walk *w, const char *rel, bool new_tree)
{
	autofree char *parent = parent_rel(rel);
	autoclose int parent_fd = *rel ? open_rel(w->s, parent, O_PATH | O_DIRECTORY) : -1;
	autoclose int fd = open_rel(w->s, rel, O_RDONLY | O_DIRECTORY | O_NONBLOCK);
	struct stat st, parent_st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
			w->incomplete = true;
		return;
	}
	if (parent_fd < 0 || fstat(parent_fd, &parent_st) < 0)
		parent_st = w->s->top_st; /* the top's parent is the human's: as trusted as the top */
	walk_dir(w, fd, rel, &st, &parent_st, new_tree);
}

/* --- the scan: what the record holds ------------------------------------- */

struct scan {
	struct share_record *rec;
	const char *const *protected;
	uid_t uid;
	bool any_owner; /* safe.directory covers the share */
};

static bool is_protected_name(const char *const *protected, const char *name, const char **rest)
{
	for (const char *const *p = protected; *p; p++) {
		size_t n;

		if (!strncmp(*p, ".git/", 5) || !strcmp(*p, ".git"))
			continue;
		n = strcspn(*p, "/");
		if (strlen(name) == n && !strncmp(*p, name, n)) {
			*rest = *p + n;
			return true;
		}
	}
	return false;
}

static void scan_visit(struct walk *w, int fd, const char *rel, const struct stat *st, const struct stat *parent_st,
		       struct walk_entry *e, size_t n, bool new_tree)
{
	struct scan *sc = w->data;
	unsigned makers = 0;
	bool dotgit_dir = !strcmp(base_name(rel), ".git");
	bool owned = sc->any_owner || (st->st_uid == sc->uid && (!dotgit_dir || parent_st->st_uid == sc->uid));

	for (size_t i = 0; i < n; i++) {
		const char *rest;
		struct stat est;

		for (size_t m = 0; m < ARRAY_SIZE(maker_names); m++) {
			if (!strcmp(e[i].name, maker_names[m]) && !((m == 0 || m == 3) && e[i].type == DT_DIR))
				makers |= 1u << m;
		}
		if (!strcmp(e[i].name, ".git") && e[i].type != DT_DIR &&
		    fstatat(fd, ".git", &est, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(est.st_mode) &&
		    (sc->any_owner || (est.st_uid == sc->uid && st->st_uid == sc->uid))) {
			autofree char *r = join_rel(rel, ".git");
			record_add(&sc->rec->gitfiles, &sc->rec->nr_gitfiles, &sc->rec->alloc_gitfiles, r, est.st_dev,
				   est.st_ino);
		}
		if (is_protected_name(sc->protected, e[i].name, &rest)) {
			autofree char *sub = xasprintf("%s%s", e[i].name, rest);
			autofree char *r = join_rel(rel, sub);

			if (fstatat(fd, sub, &est, AT_SYMLINK_NOFOLLOW) == 0)
				record_add(&sc->rec->entries, &sc->rec->nr_entries, &sc->rec->alloc_entries, r,
					   est.st_dev, est.st_ino);
		}
	}
	if (complete_gitdir(makers) && owned)
		record_add(&sc->rec->gitdirs, &sc->rec->nr_gitdirs, &sc->rec->alloc_gitdirs, rel, st->st_dev,
			   st->st_ino);
}

/* A full scan of the share into s->rec. Returns -1 when some folder could not be read. */
static int share_scan(struct share *s, const char *const *protected, uid_t uid)
{
	struct scan sc = { &s->rec, protected, uid, s->safe_dir };
	struct walk w = { .s = s, .visit = scan_visit, .data = &sc };

	share_record_release(&s->rec);
	walk_from(&w, "", false);
	return w.incomplete ? -1 : 0;
}

/* --- before the run ------------------------------------------------------ */

static void paths_hash(const char *const *protected, char hex[SHA256_HEX_LEN + 1])
{
	autostrbuf struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, "au-record-rules 1\n"); /* the scan's own rules: a change here rescans */
	for (const char *const *p = protected; *p; p++)
		strbuf_addf(&sb, "%s\n", *p);
	sha256_buf(sb.buf, sb.len, hex);
}

/* Whether every recorded git directory is still there, as the same folder. */
static bool record_still_true(const struct share *s)
{
	for (size_t i = 0; i < s->rec.nr_gitdirs; i++) {
		struct stat st;

		if (lstat_rel(s, s->rec.gitdirs[i].rel, &st) < 0 || st.st_dev != s->rec.gitdirs[i].dev ||
		    st.st_ino != s->rec.gitdirs[i].ino)
			return false;
	}
	return true;
}

static void scan_and_keep(struct protect_run *pr, struct share *s, const char *hash)
{
	autofree char *shown = escape_display(s->m->source);

	if (share_scan(s, pr->protected, pr->uid) < 0)
		warn("some folders of '%s' could not be read: what is in them is not protected", shown);
	if (pr->record_dir >= 0)
		record_save(pr->record_dir, s->m->source, s->top_st.st_dev, s->top_st.st_ino, hash, &s->rec);
}

static bool statx_works(int fd)
{
	struct statx stx;

	return syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_BTIME, &stx) == 0 || (errno != ENOSYS && errno != EPERM);
}

/* Whether the kernel can tell the entrypoint what changed in this share (fanotify with names, file handles). */
static bool watch_expected(const struct share *s)
{
	struct {
		struct file_handle h;
		unsigned char bytes[MAX_HANDLE_SZ];
	} fh;
	int mount_id, fd;

	/*
	 * Unprivileged fanotify (Linux 5.13) takes these flags where the
	 * entrypoint's will work; EPERM is an older kernel, which may still
	 * give root what it asks; anything else (EINVAL before 5.9, no more
	 * groups) means no watch.
	 */
	fd = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_REPORT_FID | FAN_CLOEXEC, O_RDONLY);
	if (fd < 0 && errno != EPERM)
		return false;
	if (fd >= 0)
		close(fd);
	/*
	 * The watch tells a hard link made to an older file from git's own
	 * links of new ones by birth time, which only statx gives: where it is
	 * refused (before Linux 4.11, or a seccomp policy that does not know
	 * it), the scan before the run is what knows what was there.
	 */
	if (!statx_works(s->top_fd))
		return false;
	fh.h.handle_bytes = MAX_HANDLE_SZ;
	return name_to_handle_at(s->top_fd, "", &fh.h, &mount_id, AT_EMPTY_PATH) == 0;
}

/* The protection of one path (relative to the share), for the entrypoint; symlinks cannot be. */
static void protect_rel(const struct share *s, struct ep_request *req, const char *rel, enum ep_protect_kind kind)
{
	autofree char *target = path_join(s->m->target, rel);
	struct stat st;

	if (lstat_rel(s, rel, &st) < 0)
		return;
	if (S_ISLNK(st.st_mode)) {
		autofree char *shown = share_path(s, rel);
		autofree char *esc = escape_display(shown);
		warn("'%s' is a symlink: it cannot be protected", esc);
		return;
	}
	ep_request_add_protected(req, target, kind);
}

/*
 * Linked worktrees keep small git directories in GITDIR/worktrees/NAME;
 * commondir, gitdir and config.worktree there tell git where to read config
 * and hooks for a worktree that may lie outside the share.
 */
static void protect_worktree_admin(const struct share *s, struct ep_request *req, int gitdir_fd, const char *rel)
{
	static const char *const files[] = { "commondir", "gitdir", "config.worktree" };
	int fd = openat(gitdir_fd, "worktrees", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct dirent *e;
	DIR *d;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
			autofree char *name = xasprintf("worktrees/%s/%s", e->d_name, files[i]);
			autofree char *r = join_rel(rel, name);
			struct stat st;

			if (fstatat(gitdir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
				protect_rel(s, req, r, EP_READ_ONLY);
		}
	}
	closedir(d);
}

/* One recorded git directory: pinned, its hooks and config read-only, its hooksPath and includes found. */
static void protect_gitdir(struct protect_run *pr, struct share *s, struct ep_request *req, const char *rel)
{
	autoclose int fd = open_rel(s, rel, O_PATH | O_DIRECTORY);
	autofree char *gitdir = share_path(s, rel);
	autofree char *worktree = NULL;

	if (fd < 0)
		return;
	if (!strcmp(base_name(rel), ".git")) {
		worktree = xstrdup(gitdir);
		*strrchr(worktree, '/') = '\0';
	}
	/* git init makes hooks/; made again if it is gone, so that it is protected (as the human, by fd). */
	if (mkdirat(fd, "hooks", 0755) < 0 && errno != EEXIST) {
		autofree char *shown = escape_display(gitdir);
		warn_errno("cannot create '%s/hooks'", shown);
	}
	{
		autofree char *target = path_join(s->m->target, rel);
		ep_request_add_protected(req, target, EP_PIN);
	}
	for (const char *const *p = pr->protected; *p; p++) {
		autofree char *r = NULL;

		if (strncmp(*p, ".git/", 5) || !(*p)[5])
			continue;
		r = join_rel(rel, *p + 5);
		protect_rel(s, req, r, EP_READ_ONLY);
	}
	protect_worktree_admin(s, req, fd, rel);
	repo_targets(s, pr->git, pr->home, fd, gitdir, worktree);
}

/*
 * Repositories whose worktree holds the whole share (the human shares a
 * folder of a bigger repository): the agent cannot touch their git
 * directories, but their hooksPath or includes may point into the share.
 */
static void enclosing_repo_targets(struct protect_run *pr, struct share *s)
{
	autofree char *dir = xstrdup(s->m->source);
	char *slash;

	while ((slash = strrchr(dir, '/')) && slash != dir && path_at_or_below(dir, pr->home)) {
		autofree char *gitdir = NULL;
		struct stat st;

		*slash = '\0';
		gitdir = path_join(dir, ".git");
		if (lstat(gitdir, &st) == 0 && S_ISDIR(st.st_mode))
			repo_targets(s, pr->git, pr->home, -1, gitdir, dir);
	}
}

/* The read-write share's record, checked or made again, and its protections. */
static void prepare_share(struct protect_run *pr, struct share *s, struct ep_request *req)
{
	char hash[SHA256_HEX_LEN + 1];
	autofree char *shown = escape_display(s->m->source);
	bool scanned = false;

	s->safe_dir = safe_directory_covers(pr->git, s->m->source);
	paths_hash(pr->protected, hash);
	if (pr->record_dir < 0 ||
	    record_load(pr->record_dir, s->m->source, s->top_st.st_dev, s->top_st.st_ino, hash, &s->rec) < 0 ||
	    !record_still_true(s)) {
		scan_and_keep(pr, s, hash);
		scanned = true;
	}
	if (!watch_expected(s)) {
		/* No watch: as before the record existed, a scan now and a full check afterwards. */
		if (!scanned)
			scan_and_keep(pr, s, hash);
		s->pre_scanned = true;
	}
	for (size_t i = 0; i < s->rec.nr_gitdirs; i++)
		protect_gitdir(pr, s, req, s->rec.gitdirs[i].rel);
	for (size_t i = 0; i < s->rec.nr_gitfiles; i++)
		protect_rel(s, req, s->rec.gitfiles[i].rel, EP_READ_ONLY);
	for (size_t i = 0; i < s->rec.nr_entries; i++)
		protect_rel(s, req, s->rec.entries[i].rel, EP_READ_ONLY);
	enclosing_repo_targets(pr, s);
	for (size_t i = 0; i < s->targets.nr; i++)
		protect_rel(s, req, s->targets.v[i], EP_READ_ONLY);
	(void)shown;
}

static void open_record_dir(struct protect_run *pr, const struct agent *a, gid_t agent_gid)
{
	autostrbuf struct strbuf why = STRBUF_INIT;

	pr->record_dir = record_dir_open(pr->home, a->user_name, agent_gid, pr->cfg, &why);
	if (pr->record_dir < 0) {
		autofree char *shown = escape_display(why.buf);
		warn("cannot keep the records of the read-write shares in ~/.local/state/au: %s", shown);
		hint("each run scans every read-write share, before and after; make that folder yours alone");
	}
}

static void protect_run_init(struct protect_run *pr, const struct config *cfg)
{
	const struct passwd *pw = getpwuid(getuid());

	memset(pr, 0, sizeof(*pr));
	pr->cfg = cfg;
	pr->uid = getuid();
	pr->home = xstrdup(pw && pw->pw_dir ? pw->pw_dir : "/");
	pr->protected = config_protected_paths(cfg);
	pr->record_dir = -1;
	pr->git = xcalloc(1, sizeof(*pr->git));
	git_env_load(pr->git, pr->home);
	/*
	 * The coarse clock is the one file systems stamp ctimes with: every
	 * change from now on is at or after it. Less 10 ms, for a clock that
	 * steps back a little meanwhile.
	 */
	clock_gettime(CLOCK_REALTIME_COARSE, &pr->started);
	pr->started.tv_nsec -= 10000000;
	if (pr->started.tv_nsec < 0) {
		pr->started.tv_nsec += 1000000000;
		pr->started.tv_sec--;
	}
}

static bool open_share(struct share *s, const struct mount_spec *m)
{
	memset(s, 0, sizeof(*s));
	s->m = m;
	s->quarantine_fd = -1;
	s->top_fd = open_nofollow(m->source, O_PATH | O_DIRECTORY);
	if (s->top_fd < 0 || fstat(s->top_fd, &s->top_st) < 0) {
		if (s->top_fd >= 0)
			close(s->top_fd);
		s->top_fd = -1;
		return false; /* the entrypoint says why, when it tries to mount it */
	}
	return true;
}

void protect_prepare(struct protect_run *pr, const struct agent *a, gid_t agent_gid, const struct config *cfg,
		     struct ep_request *req)
{
	bool watch = true;

	protect_run_init(pr, cfg);
	pr->shares = xcalloc(a->nr_mounts + 1, sizeof(*pr->shares));
	for (size_t i = 0; i < a->nr_mounts; i++) {
		if (a->mounts[i].read_only)
			continue;
		if (pr->record_dir < 0 && !pr->nr_shares)
			open_record_dir(pr, a, agent_gid);
		if (!open_share(&pr->shares[pr->nr_shares], &a->mounts[i]))
			continue;
		prepare_share(pr, &pr->shares[pr->nr_shares], req);
		watch &= !pr->shares[pr->nr_shares].pre_scanned;
		pr->nr_shares++;
	}
	req->watch = pr->nr_shares && watch;
}

/* --- after the run: what changed ----------------------------------------- */

static void add_change(struct share *s, const char *rel, unsigned changes)
{
	ALLOC_GROW(s->changes, s->nr_changes, s->alloc_changes);
	s->changes[s->nr_changes].rel = xstrdup(rel);
	s->changes[s->nr_changes].changes = changes;
	s->nr_changes++;
}

/* A folder that is new where it is: everything below it is new there too. */
static void new_tree_visit(struct walk *w, int fd, const char *rel, const struct stat *st,
			   const struct stat *parent_st, struct walk_entry *e, size_t n, bool new_tree)
{
	struct share *s = w->data;

	for (size_t i = 0; i < n; i++) {
		autofree char *r = join_rel(rel, e[i].name);
		add_change(s, r, SU_CHANGE_ADDED | CHANGE_NEW_TREE);
	}
}

/*
 * When the changes were lost: everything whose ctime is at or after the
 * start of the run changed (the kernel sets it on every write, rename, link
 * and attribute change, and nobody but root can set it back), and an entry
 * that changed inside a folder whose own entries changed may have been
 * created or moved in there: a folder that may be new counts as new with
 * everything in it. More than what really changed, never less.
 */
struct fallback {
	struct share *s;
	struct timespec started;
};

static bool changed_since(const struct stat *st, const struct timespec *t)
{
	return st->st_ctim.tv_sec > t->tv_sec || (st->st_ctim.tv_sec == t->tv_sec && st->st_ctim.tv_nsec >= t->tv_nsec);
}

static void fallback_visit(struct walk *w, int fd, const char *rel, const struct stat *st,
			   const struct stat *parent_st, struct walk_entry *e, size_t n, bool new_tree)
{
	struct fallback *fb = w->data;
	bool dir_changed = changed_since(st, &fb->started);

	for (size_t i = 0; i < n; i++) {
		autofree char *r = join_rel(rel, e[i].name);
		struct stat est;
		unsigned changes = 0;

		if (new_tree) {
			add_change(fb->s, r, SU_CHANGE_ADDED | CHANGE_NEW_TREE);
			continue;
		}
		if (fstatat(fd, e[i].name, &est, AT_SYMLINK_NOFOLLOW) < 0 || !changed_since(&est, &fb->started))
			continue;
		changes = SU_CHANGE_WRITTEN | SU_CHANGE_ATTRIB;
		if (dir_changed) {
			changes |= SU_CHANGE_ADDED;
			if (S_ISDIR(est.st_mode)) {
				changes |= CHANGE_NEW_TREE;
				e[i].new_tree = true;
			}
		}
		add_change(fb->s, r, changes);
	}
}

static void collect_fallback(struct protect_run *pr, struct share *s)
{
	struct fallback fb = { s, pr->started };
	struct walk w = { .s = s, .visit = fallback_visit, .data = &fb };
	autofree char *shown = escape_display(s->m->source);

	walk_from(&w, "", false);
	if (w.incomplete)
		warn("some folders of '%s' could not be read: what the agent left in them is not checked", shown);
}

/* The share a folder reported by the entrypoint is in, and its path there; checked by walking to it. */
static struct share *share_of(struct protect_run *pr, const char *path, const struct stat *st, char **rel)
{
	for (size_t i = 0; i < pr->nr_shares; i++) {
		struct share *s = &pr->shares[i];
		const char *src = s->m->source;
		struct stat now;

		if (!path_at_or_below(path, src))
			continue;
		*rel = xstrdup(path[strlen(src)] ? path + strlen(src) + 1 : "");
		if (lstat_rel(s, *rel, &now) == 0 && now.st_dev == st->st_dev && now.st_ino == st->st_ino)
			return s;
		/* Moved since (a process kept running): what changed there cannot be placed. */
		s->lost = true;
		free(*rel);
		*rel = NULL;
		return NULL;
	}
	return NULL;
}

/* The entrypoint's report: per folder, the names that changed. Returns false when the watch lost some. */
static bool collect_reported(struct protect_run *pr, const struct report_reader *rd)
{
	bool ended = false;

	for (size_t i = 0; i < rd->nr; i++) {
		const struct report_msg *m = &rd->msgs[i];

		if (m->type == SU_REPORT_WATCH_END)
			ended = true;
		if (m->type == SU_REPORT_WATCH_LOST) {
			static const char *const reasons[] = {
				[SU_LOST_UNAVAILABLE] = "no watch", [SU_LOST_OVERFLOW] = "too many changes",
				[SU_LOST_LINK] = "a hard link", [SU_LOST_UNRESOLVED] = "a folder it could not place",
			};
			struct su_watch_lost lost = { 0 };

			if (m->size == sizeof(lost))
				memcpy(&lost, m->data, sizeof(lost));
			pr->lost_reason = lost.reason < ARRAY_SIZE(reasons) && reasons[lost.reason]
						  ? reasons[lost.reason] : "lost";
			return false;
		}
	}
	if (!ended) {
		pr->lost_reason = "no end of the report";
		return false; /* it stopped before saying all: as if lost */
	}
	for (size_t i = 0; i < rd->nr; i++) {
		const struct report_msg *m = &rd->msgs[i];
		autofree char *dir_rel = NULL;
		struct share *s;
		size_t off = 0;

		if (m->type != SU_REPORT_CHANGED)
			continue;
		if (m->nr_fds != 1 || !m->fd_paths || !m->fd_paths[0])
			return false;
		s = share_of(pr, m->fd_paths[0], &m->fd_stats[0], &dir_rel);
		if (!s)
			continue;
		while (off + sizeof(struct su_report_name) <= m->size) {
			struct su_report_name rn;
			autofree char *name = NULL;
			autofree char *rel = NULL;

			memcpy(&rn, m->data + off, sizeof(rn));
			off += sizeof(rn);
			if (rn.len == 0 || rn.len > 255 || rn.len > m->size - off)
				return false;
			name = xstrndup((const char *)m->data + off, rn.len);
			off += rn.len;
			if (strlen(name) != rn.len || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
				return false;
			rel = join_rel(dir_rel, name);
			add_change(s, rel, rn.changes);
		}
	}
	return true;
}

/* Created or moved-in folders are new with all they hold. */
static void expand_new_trees(struct share *s)
{
	size_t n = s->nr_changes;

	for (size_t i = 0; i < n; i++) {
		struct stat st;
		struct walk w = { .s = s, .visit = new_tree_visit, .data = s };

		if (!(s->changes[i].changes & SU_CHANGE_ADDED) || (s->changes[i].changes & CHANGE_NEW_TREE))
			continue;
		if (lstat_rel(s, s->changes[i].rel, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		s->changes[i].changes |= CHANGE_NEW_TREE;
		walk_from(&w, s->changes[i].rel, true);
		if (w.incomplete)
			s->lost = true;
	}
}

static int compare_changes(const void *a, const void *b)
{
	return strcmp(((const struct change *)a)->rel, ((const struct change *)b)->rel);
}

/* --- after the run: git's rules where something changed ------------------ */

static size_t hash_rel(const char *rel)
{
	size_t h = 14695981039346656037ull;

	for (; *rel; rel++)
		h = (h ^ (unsigned char)*rel) * 1099511628211ull;
	return h;
}

static struct folder **folder_slot(struct share *s, const char *rel)
{
	size_t i = hash_rel(rel) & (s->alloc_folders - 1);

	while (s->folders[i] && strcmp(s->folders[i]->rel, rel))
		i = (i + 1) & (s->alloc_folders - 1);
	return &s->folders[i];
}

/* What au knows of the folder at rel (whether it exists, its owner, git's entries in it), looked up once. */
static struct folder *folder_get(struct share *s, const char *rel)
{
	struct folder **slot, *f;
	autoclose int fd = -1;

	if (2 * (s->nr_folders + 1) > s->alloc_folders) {
		struct folder **old = s->folders;
		size_t old_alloc = s->alloc_folders;

		s->alloc_folders = old_alloc ? 2 * old_alloc : 256;
		s->folders = xcalloc(s->alloc_folders, sizeof(*s->folders));
		for (size_t i = 0; i < old_alloc; i++) {
			if (old[i])
				*folder_slot(s, old[i]->rel) = old[i];
		}
		free(old);
	}
	slot = folder_slot(s, rel);
	/* cppcheck 2.10 takes this returned pointer for a truth value ("always true"); it is the folder found. */
	if (*slot)
		return *slot; /* cppcheck-suppress identicalInnerCondition */
	f = xcalloc(1, sizeof(*f));
	f->rel = xstrdup(rel);
	fd = open_rel(s, rel, O_PATH | O_DIRECTORY);
	if (fd >= 0 && fstat(fd, &f->st) == 0) {
		f->exists = true;
		f->makers = makers_at(fd, &f->has_dotgit);
	}
	*slot = f;
	s->nr_folders++;
	return f;
}

/* git would take the folder as the human's (ensure_valid_ownership(): the git directory and the worktree). */
static bool git_trusts(struct share *s, const struct folder *f, uid_t uid)
{
	if (s->safe_dir)
		return true;
	if (f->st.st_uid != uid)
		return false;
	if (!strcmp(base_name(f->rel), ".git")) {
		autofree char *parent = parent_rel(f->rel);
		const struct folder *w = *f->rel && strcmp(f->rel, ".git") ? folder_get(s, parent) : NULL;

		return w ? w->exists && w->st.st_uid == uid : s->top_st.st_uid == uid;
	}
	return true;
}

static bool recorded(const struct record_item *items, size_t nr, const char *rel, const struct stat *st)
{
	for (size_t i = 0; i < nr; i++) {
		if (!strcmp(items[i].rel, rel) && items[i].dev == st->st_dev && items[i].ino == st->st_ino)
			return true;
	}
	return false;
}

static void add_action(struct share *s, const char *rel, const char *what, int hint_kind)
{
	ALLOC_GROW(s->actions, s->nr_actions, s->alloc_actions);
	s->actions[s->nr_actions].rel = xstrdup(rel);
	s->actions[s->nr_actions].what = what;
	s->actions[s->nr_actions].hint = hint_kind;
	s->nr_actions++;
}

static bool is_sensitive(const char *const *protected, const char *first)
{
	for (size_t i = 0; i < ARRAY_SIZE(sensitive_names); i++) {
		if (!strcmp(first, sensitive_names[i]))
			return true;
	}
	for (const char *const *p = protected; *p; p++) {
		size_t n;

		if (strncmp(*p, ".git/", 5))
			continue;
		n = strcspn(*p + 5, "/");
		if (n && strlen(first) == n && !strncmp(first, *p + 5, n))
			return true;
	}
	return false;
}

/* Protected entries (.envrc, .vscode, .idea) at any depth: rel, or a folder above it, is one. */
static void check_protected_entry(struct share *s, const char *const *protected, const char *rel)
{
	autofree char *copy = xstrdup(rel);
	size_t len = strlen(rel);

	for (size_t i = 0; i <= len; i++) {
		const char *component = copy + i;

		if (i && copy[i - 1] != '/')
			continue;
		for (const char *const *p = protected; *p; p++) {
			size_t n = strlen(*p);
			autofree char *entry = NULL;
			bool seen = false;

			if (!strncmp(*p, ".git/", 5) || !strcmp(*p, ".git"))
				continue;
			if (strncmp(component, *p, n) || (component[n] && component[n] != '/'))
				continue;
			entry = xstrndup(copy, i + n);
			for (size_t j = 0; j < s->reported.nr && !seen; j++)
				seen = !strcmp(s->reported.v[j], entry);
			if (!seen) {
				strvec_push(&s->reported, entry);
				add_action(s, entry, NULL, HINT_EDITOR);
			}
		}
	}
}

/* The repositories whose worktree holds rel's folder: their hooksPath and includes are targets too. */
static void enclosing_targets(struct protect_run *pr, struct share *s, const char *dir_rel)
{
	autofree char *rel = xstrdup(dir_rel);

	for (;;) {
		struct folder *f = folder_get(s, rel);

		if (f->targets_done)
			break;
		f->targets_done = true;
		if (f->exists && f->has_dotgit) {
			autofree char *gitdir_rel = join_rel(rel, ".git");
			autoclose int fd = open_rel(s, gitdir_rel, O_PATH | O_DIRECTORY);
			autofree char *gitdir = share_path(s, gitdir_rel);
			autofree char *worktree = share_path(s, rel);

			if (fd >= 0)
				repo_targets(s, pr->git, pr->home, fd, gitdir, worktree);
		}
		if (!*rel)
			break;
		{
			char *p = parent_rel(rel);
			free(rel);
			rel = p;
		}
	}
}

/* Every rule, for one changed path. */
static void check_change(struct protect_run *pr, struct share *s, const struct change *c)
{
	autofree char *dir = parent_rel(c->rel);
	const char *name = base_name(c->rel);
	struct stat st;
	bool exists = lstat_rel(s, c->rel, &st) == 0;
	struct folder *parent = folder_get(s, dir);

	/* Git's own entries changed in a folder: it may have become a repository. */
	for (size_t m = 0; m < ARRAY_SIZE(maker_names); m++) {
		if (!strcmp(name, maker_names[m]))
			parent->changed_makers |= 1u << m;
	}
	if (exists && S_ISDIR(st.st_mode) && (c->changes & CHANGE_NEW_TREE))
		folder_get(s, c->rel)->new_tree = true;
	/* A .git that is not a folder: git follows it (a gitdir: file, or a symlink). */
	if (exists && !strcmp(name, ".git") && !S_ISDIR(st.st_mode) &&
	    (s->safe_dir || (st.st_uid == pr->uid && parent->st.st_uid == pr->uid)) &&
	    !(recorded(s->rec.gitfiles, s->rec.nr_gitfiles, c->rel, &st) && !(c->changes & ~SU_CHANGE_ATTRIB)))
		add_action(s, c->rel, "a .git file appeared or changed at", HINT_GIT);
	/* A commondir sends git to another folder's config and hooks, wherever it is made. */
	if (exists && !strcmp(name, "commondir") && !S_ISDIR(st.st_mode) && parent->exists &&
	    git_trusts(s, parent, pr->uid))
		add_action(s, c->rel, "what a git directory runs changed at", HINT_GIT);
	/* In a git directory (or what is one step from it), what git reads to run something. */
	if (exists) {
		autofree char *anc = xstrdup(dir);

		for (;;) {
			struct folder *a = folder_get(s, anc);
			const char *below = c->rel + strlen(anc) + (*anc ? 1 : 0);
			size_t first_len = strcspn(below, "/");
			autofree char *first = xstrndup(below, first_len);

			if (a->exists && popcount(a->makers) >= 2 && git_trusts(s, a, pr->uid) &&
			    is_sensitive(pr->protected, first))
				add_action(s, c->rel, "what a git directory runs changed at", HINT_GIT);
			if (!*anc)
				break;
			{
				char *p = parent_rel(anc);
				free(anc);
				anc = p;
			}
		}
	}
	if (exists)
		check_protected_entry(s, pr->protected, c->rel);
	enclosing_targets(pr, s, dir);
}

/*
 * Inside a git directory git makes folders of its own (logs/ holds HEAD and
 * refs/), and nobody runs git from there. Only modules/ and worktrees/ hold
 * git directories that git itself uses.
 */
static bool inside_gitdir(struct protect_run *pr, struct share *s, const char *rel)
{
	autofree char *anc = parent_rel(rel);

	while (*rel) {
		struct folder *a = folder_get(s, anc);

		if (a->exists && complete_gitdir(a->makers) && git_trusts(s, a, pr->uid)) {
			const char *below = rel + strlen(anc) + (*anc ? 1 : 0);
			size_t n = strcspn(below, "/");

			return !((n == 7 && !strncmp(below, "modules", 7)) || (n == 9 && !strncmp(below, "worktrees", 9)));
		}
		if (!*anc)
			break;
		{
			char *p = parent_rel(anc);
			free(anc);
			anc = p;
		}
	}
	return false;
}

/*
 * A folder where git's entries appeared, or that is new where it is: a
 * repository of the human's that was not there before? objects/, refs/ or
 * commondir appearing in a folder that then has two of git's four entries
 * is a repository being made, in this run or over several (each step is
 * caught as it is made). A new HEAD alone is git's own work in a
 * repository the human made since the record (a branch switch): it can
 * only complete a folder whose other entries were there before the run,
 * and whose config and hooks were then checked with every change.
 */
static void check_folder(struct protect_run *pr, struct share *s, struct folder *f)
{
	unsigned made = MAKER_OBJECTS | MAKER_REFS | MAKER_COMMONDIR;

	if (!f->exists || popcount(f->makers) < 2 || !(f->new_tree || (f->changed_makers & made)) ||
	    !git_trusts(s, f, pr->uid))
		return;
	if (recorded(s->rec.gitdirs, s->rec.nr_gitdirs, f->rel, &f->st))
		return; /* the human's own, same folder, same place: pinned, its config and hooks read-only */
	if (inside_gitdir(pr, s, f->rel))
		return;
	if (!strcmp(base_name(f->rel), ".git")) {
		add_action(s, f->rel, "a git directory appeared at", HINT_GIT);
		return;
	}
	for (size_t m = 0; m < ARRAY_SIZE(maker_names); m++) {
		autofree char *r = NULL;

		if (!(f->makers & (1u << m)))
			continue;
		r = join_rel(f->rel, maker_names[m]);
		add_action(s, r, "part of a git directory that appeared at", HINT_GIT);
	}
}

/* A hooksPath folder or included file (or a folder above one) changed. */
static void check_targets(struct share *s)
{
	for (size_t t = 0; t < s->targets.nr; t++) {
		const char *target = s->targets.v[t];

		for (size_t i = 0; i < s->nr_changes; i++) {
			const char *rel = s->changes[i].rel;
			struct stat st;

			if (!(s->changes[i].changes & ~SU_CHANGE_REMOVED) && lstat_rel(s, rel, &st) < 0)
				continue;
			if (rel_at_or_below(rel, target) ||
			    (rel_at_or_below(target, rel) && (s->changes[i].changes & SU_CHANGE_ADDED))) {
				if (lstat_rel(s, target, &st) == 0)
					add_action(s, target, "a hooks folder or an included git config changed at",
						   HINT_HOOKS);
				break;
			}
		}
	}
}

/* --- quarantine ---------------------------------------------------------- */

/*
 * Moves rel into a folder at the share's top that only the human can enter:
 * made fresh for this run, with a name the agent cannot guess before it
 * exists, mode 0700 and no ACL entry for the agent's group (the folders of
 * a read-write share hand theirs down). What is in it is out of the agent's
 * reach, and nothing the agent made beforehand can stand in its way. A
 * MANIFEST there says where each entry came from.
 */
static int quarantine_open(struct share *s)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	if (s->quarantine_fd >= 0)
		return 0;
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", localtime_r(&now, &tm));
	for (int tries = 0; tries < 16; tries++) {
		unsigned char rnd[6];
		char hex[13];
		autofree char *name = NULL;
		struct stat st;
		int fd;

		if (getentropy(rnd, sizeof(rnd)) < 0)
			return -1;
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
		name = xasprintf(".au-quarantine-%s-%s", stamp, hex);
		if (mkdirat(s->top_fd, name, 0700) < 0) {
			if (errno == EEXIST)
				continue;
			return -1;
		}
		fd = openat(s->top_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0 || st.st_uid != getuid() || fchmod(fd, 0700) < 0) {
			if (fd >= 0)
				close(fd);
			return -1;
		}
		/* chmod 0700 masks the group entries of the access ACL; the default ACL goes. */
		if (fremovexattr(fd, "system.posix_acl_default") < 0 && errno != ENODATA && errno != ENOTSUP &&
		    errno != EOPNOTSUPP) {
			close(fd);
			return -1;
		}
		s->quarantine_fd = fd;
		s->quarantine_name = steal_pointer(&name);
		return 0;
	}
	errno = EEXIST;
	return -1;
}

static int quarantine(struct share *s, const char *rel, char **moved_to)
{
	autofree char *dir = parent_rel(rel);
	autoclose int dir_fd = open_rel(s, dir, O_PATH | O_DIRECTORY);
	autofree char *name = NULL;
	autofree char *line = NULL;
	autofree char *from = share_path(s, rel);
	autofree char *from_shown = escape_display(from);
	int mfd;

	if (dir_fd < 0 || quarantine_open(s) < 0)
		return -1;
	name = xasprintf("%u-%s", ++s->quarantined, base_name(rel));
	if (renameat2(dir_fd, base_name(rel), s->quarantine_fd, name, RENAME_NOREPLACE) < 0) {
		/* Another file system mounted inside the share: aside in its own folder, unguessably. */
		unsigned char rnd[8];
		autofree char *local = NULL;

		if (errno != EXDEV || getentropy(rnd, sizeof(rnd)) < 0)
			return -1;
		local = xasprintf("%s.au-quarantine-%02x%02x%02x%02x%02x%02x%02x%02x", base_name(rel), rnd[0], rnd[1],
				  rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
		if (renameat2(dir_fd, base_name(rel), dir_fd, local, RENAME_NOREPLACE) < 0)
			return -1;
		*moved_to = share_path(s, dir);
		free(*moved_to);
		{
			autofree char *d = share_path(s, dir);
			*moved_to = path_join(d, local);
		}
		return 0;
	}
	*moved_to = xasprintf("%s/%s/%s", s->m->source, s->quarantine_name, name);
	line = xasprintf("%s\t%s\n", name, from_shown);
	mfd = openat(s->quarantine_fd, "MANIFEST", O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (mfd >= 0) {
		(void)!write_all(mfd, line, strlen(line));
		close(mfd);
	}
	return 0;
}

static const char *const hints[NR_HINTS] = {
	[HINT_GIT] = "git there would run its config and hooks as you: check what was moved aside before putting it back",
	[HINT_HOOKS] = "git runs the hooks and reads the configs there as you: check them before putting them back",
	[HINT_EDITOR] = "editors and direnv may run what it says: check it before you open that folder",
};

static int compare_actions(const void *a, const void *b)
{
	return strcmp(((const struct action *)a)->rel, ((const struct action *)b)->rel);
}

/* Moves aside (or reports) each finding once, parents before what is inside them. */
static void act(struct share *s, bool *hinted)
{
	const char *done = NULL;

	if (s->nr_actions)
		qsort(s->actions, s->nr_actions, sizeof(*s->actions), compare_actions);
	for (size_t i = 0; i < s->nr_actions; i++) {
		const struct action *a = &s->actions[i];
		autofree char *path = share_path(s, a->rel);
		autofree char *shown = escape_display(path);
		autofree char *moved_to = NULL;

		if (done && rel_at_or_below(a->rel, done) && a->what)
			continue;
		if (!a->what) {
			warn("'%s' appeared or changed while the agent ran", shown);
		} else if (quarantine(s, a->rel, &moved_to) == 0) {
			autofree char *shown_to = escape_display(moved_to);
			warn("%s '%s' while the agent ran: moved it aside to '%s'", a->what, shown, shown_to);
			done = a->rel;
		} else {
			warn_errno("%s '%s' while the agent ran, and could not be moved aside", a->what, shown);
		}
		if (!hinted[a->hint]) {
			hint("%s", hints[a->hint]);
			hinted[a->hint] = true;
		}
	}
}

/* What the record learns from a run: git directories and .git files of the human's that it met. */
static void learn(struct protect_run *pr, struct share *s, const char *hash)
{
	struct share_record next = { 0 };

	if (pr->record_dir < 0)
		return;
	for (size_t i = 0; i < s->rec.nr_gitdirs; i++) {
		const struct record_item *g = &s->rec.gitdirs[i];
		struct stat st;

		if (lstat_rel(s, g->rel, &st) == 0 && st.st_dev == g->dev && st.st_ino == g->ino)
			record_add(&next.gitdirs, &next.nr_gitdirs, &next.alloc_gitdirs, g->rel, g->dev, g->ino);
	}
	for (size_t i = 0; i < s->alloc_folders; i++) {
		const struct folder *f = s->folders[i];
		struct stat st;

		if (!f || !f->exists || !complete_gitdir(f->makers) || !git_trusts(s, f, pr->uid) ||
		    recorded(next.gitdirs, next.nr_gitdirs, f->rel, &f->st))
			continue;
		/* Still there as it was checked (nothing of it moved aside). */
		if (lstat_rel(s, f->rel, &st) == 0 && st.st_ino == f->st.st_ino &&
		    complete_gitdir(folder_get(s, f->rel)->makers)) {
			autoclose int fd = open_rel(s, f->rel, O_PATH | O_DIRECTORY);
			if (fd >= 0 && complete_gitdir(makers_at(fd, NULL)))
				record_add(&next.gitdirs, &next.nr_gitdirs, &next.alloc_gitdirs, f->rel, st.st_dev,
					   st.st_ino);
		}
	}
	for (size_t i = 0; i < s->rec.nr_gitfiles; i++)
		record_add(&next.gitfiles, &next.nr_gitfiles, &next.alloc_gitfiles, s->rec.gitfiles[i].rel,
			   s->rec.gitfiles[i].dev, s->rec.gitfiles[i].ino);
	for (size_t i = 0; i < s->rec.nr_entries; i++)
		record_add(&next.entries, &next.nr_entries, &next.alloc_entries, s->rec.entries[i].rel,
			   s->rec.entries[i].dev, s->rec.entries[i].ino);
	for (size_t i = 0; i < s->reported.nr; i++) {
		struct stat st;

		if (lstat_rel(s, s->reported.v[i], &st) == 0)
			record_add(&next.entries, &next.nr_entries, &next.alloc_entries, s->reported.v[i], st.st_dev,
				   st.st_ino);
	}
	share_record_release(&s->rec);
	s->rec = next;
	record_save(pr->record_dir, s->m->source, s->top_st.st_dev, s->top_st.st_ino, hash, &s->rec);
}

/* AU_DEBUG names what to trace on stderr: "protect" (each share checked), "changes" (what changed in it). */
static bool debug_wants(const char *what)
{
	const char *debug = getenv("AU_DEBUG");

	return debug && strstr(debug, what);
}

static void audit_share(struct protect_run *pr, struct share *s, bool reported, bool *hinted)
{
	char hash[SHA256_HEX_LEN + 1];
	bool full = !reported || s->lost || s->pre_scanned;

	paths_hash(pr->protected, hash);
	if (debug_wants("protect")) {
		autofree char *shown = escape_display(s->m->source);
		fprintf(stderr, "au: debug: checking '%s' %s (%s)\n", shown, full ? "everywhere" : "where it changed",
			s->pre_scanned ? "scanned before the run" : s->lost ? "changes lost" :
			!reported ? pr->lost_reason : "watched");
	}
	if (full) {
		for (size_t i = 0; i < s->nr_changes; i++)
			free(s->changes[i].rel);
		s->nr_changes = 0;
		collect_fallback(pr, s);
	} else {
		expand_new_trees(s);
		if (s->lost) {
			audit_share(pr, s, false, hinted);
			return;
		}
	}
	if (s->nr_changes)
		qsort(s->changes, s->nr_changes, sizeof(*s->changes), compare_changes);
	if (debug_wants("changes")) {
		for (size_t i = 0; i < s->nr_changes; i++) {
			autofree char *shown = escape_display(s->changes[i].rel);
			fprintf(stderr, "au: debug: changed %#x '%s'\n", s->changes[i].changes, shown);
		}
	}
	for (size_t i = 0; i < s->nr_changes; i++)
		check_change(pr, s, &s->changes[i]);
	for (size_t i = 0; i < s->alloc_folders; i++) {
		if (s->folders[i])
			check_folder(pr, s, s->folders[i]);
	}
	check_targets(s);
	act(s, hinted);
	if (full)
		scan_and_keep(pr, s, hash);
	else
		learn(pr, s, hash);
}

void protect_audit(struct protect_run *pr, const struct report_reader *reader)
{
	bool hinted[NR_HINTS] = { false };
	bool reported = collect_reported(pr, reader);

	for (size_t i = 0; i < pr->nr_shares; i++)
		audit_share(pr, &pr->shares[i], reported, hinted);
}

static void share_release(struct share *s)
{
	if (s->top_fd >= 0)
		close(s->top_fd);
	if (s->quarantine_fd >= 0)
		close(s->quarantine_fd);
	free(s->quarantine_name);
	share_record_release(&s->rec);
	strvec_clear(&s->targets);
	strvec_clear(&s->reported);
	for (size_t i = 0; i < s->nr_changes; i++)
		free(s->changes[i].rel);
	free(s->changes);
	for (size_t i = 0; i < s->alloc_folders; i++) {
		if (s->folders[i]) {
			free(s->folders[i]->rel);
			free(s->folders[i]);
		}
	}
	free(s->folders);
	for (size_t i = 0; i < s->nr_actions; i++)
		free(s->actions[i].rel);
	free(s->actions);
}

void protect_run_release(struct protect_run *pr)
{
	for (size_t i = 0; i < pr->nr_shares; i++)
		share_release(&pr->shares[i]);
	free(pr->shares);
	if (pr->git) {
		git_env_release(pr->git);
		free(pr->git);
	}
	free(pr->home);
	if (pr->record_dir >= 0)
		close(pr->record_dir);
	memset(pr, 0, sizeof(*pr));
	pr->record_dir = -1;
}

/* --- au mount add --rw --------------------------------------------------- */

void protect_share_added(const struct agent *a, gid_t agent_gid, const struct config *cfg,
			 const struct mount_spec *m)
{
	struct protect_run pr __attribute__((cleanup(protect_run_release)));
	struct share s;
	char hash[SHA256_HEX_LEN + 1];

	protect_run_init(&pr, cfg);
	open_record_dir(&pr, a, agent_gid);
	if (!open_share(&s, m))
		return;
	s.safe_dir = safe_directory_covers(pr.git, m->source);
	paths_hash(pr.protected, hash);
	scan_and_keep(&pr, &s, hash);
	printf("  %zu git repositories of yours found in it, to protect at each run\n", s.rec.nr_gitdirs);
	if (!pr.git->bare_repository || strcmp(pr.git->bare_repository, "explicit")) {
		static const char *const cmd[] = { "git", "config", "--global", "safe.bareRepository", "explicit",
						   NULL };

		hint("git takes any folder that looks like a bare repository for one, wherever you run it; "
		     "au moves aside what the agent makes, and git can refuse them itself:");
		print_command(cmd, 0);
	}
	share_release(&s);
}
