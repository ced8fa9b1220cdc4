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
