/* paths.h: lexical path helpers, and opening paths without following symlinks. */
#pragma once

#include <stdbool.h>

/*
 * Lexical normal form of an absolute path: no "//", ".", or trailing "/";
 * ".." removes the previous component. NULL for a relative path.
 */
char *path_normalize(const char *path);

/* path is strictly below dir (both normal). */
bool path_below(const char *path, const char *dir);
/* path equals dir or is below it. */
bool path_at_or_below(const char *path, const char *dir);

/* Joins dir and a relative rest ("" gives dir). Caller frees. */
char *path_join(const char *dir, const char *rest);

struct stat;
struct strbuf;

/*
 * Called by path_walk() for "/" and each component it opened, with the
 * component's O_PATH fd (or, for the last one, the fd opened with the caller's
 * flags), its fstat and the path so far. Return 0 to go on, -1 to stop the
 * walk (path_walk() then returns -1 with errno as the callback left it).
 */
typedef int path_visit_fn(int fd, const struct stat *st, const char *sofar, void *data);

/*
 * The one careful walk. Opens an absolute normal path one component at a
 * time from "/", each with O_NOFOLLOW from its parent's fd, so that no
 * symlink anywhere on the way is followed (the agent can plant or swap them
 * inside shared folders), and no string is ever resolved by the kernel as a
 * whole. Directories on the way are opened O_PATH; the last component with
 * last_flags (plus O_NOFOLLOW|O_CLOEXEC; O_CREAT is refused, it has no mode).
 * visit, when not NULL, sees every component before the walk's own checks
 * (so that it can word its own refusal of a symlink). Returns the last
 * component's fd, or -1 with errno: ELOOP for a symlink on the way (or as
 * the last component), ENOTDIR for a file on the way, EINVAL for a path that
 * is not absolute and normal. *failed_at, when not NULL, gets the path up to
 * the component that failed.
 */
int path_walk(const char *path, int last_flags, path_visit_fn *visit, void *data, struct strbuf *failed_at);

/* path_walk() with nothing to visit: the usual way to open what the agent could have touched. */
int open_nofollow(const char *path, int flags);

/*
 * open_nofollow() for a file au reads or writes where the agent may have
 * planted something: non-blocking (a FIFO there cannot hang au), and only a
 * regular file is accepted (a FIFO, socket or device fails with EINVAL).
 */
int open_regular_nofollow(const char *path, int flags);

/* What path_resolve() shows its visitor: one step of the resolution. */
enum path_step_kind {
	PATH_STEP_DIR,     /* a directory passed through ("/" first) */
	PATH_STEP_SYMLINK, /* a symlink met, about to be followed */
	PATH_STEP_LAST,    /* what the whole path names */
};

struct path_step {
	enum path_step_kind kind;
	int fd;                   /* O_PATH, of this very object */
	int dir_fd;               /* O_PATH, of the directory that holds it (-1 for "/") */
	const struct stat *st;
	const char *path;         /* where it is: the directories passed through, and its name */
	const char *link_target;  /* PATH_STEP_SYMLINK: what it says */
};

/* Return 0 to go on; -1 (with errno, or why filled in) to stop the resolution. */
typedef int path_step_fn(const struct path_step *step, void *data);

/*
 * Resolves the absolute path as the kernel would, symlinks and ".." included,
 * but one component at a time from "/", each opened O_PATH|O_NOFOLLOW from
 * its directory's fd, so that visit sees every directory passed through and
 * every symlink met, including those reached through other symlinks, and can
 * refuse any of them. ".." goes back to the directory the resolution came
 * from (never a parent that a rename put above it). Returns an O_PATH fd of
 * what the path names, with *resolved (when not NULL) set to its canonical
 * path; -1 with errno otherwise (ELOOP after 40 symlinks, ENOTDIR, ENOENT...).
 * *failed_at, when not NULL, gets the path up to the step that failed.
 */
int path_resolve(const char *path, path_step_fn *visit, void *data, char **resolved,
		 struct strbuf *failed_at);
