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

/*
 * Opens an absolute normal path one component at a time from "/", each with
 * O_NOFOLLOW from its parent's fd, so that no symlink anywhere on the way is
 * followed (the agent can plant or swap them inside shared folders). The
 * last component is opened with flags (plus O_NOFOLLOW|O_CLOEXEC). Returns
 * -1 with errno ELOOP when a component is a symlink.
 */
int open_nofollow(const char *path, int flags);
