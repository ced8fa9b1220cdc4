/*
 * gitconfig.h: reading git's config files for the few variables au needs
 * (core.hooksPath, include.path, includeIf.*.path, safe.directory,
 * safe.bareRepository), without ever running git: inside a read-write share
 * the config may be the agent's, and git would run what it says.
 */
#pragma once

#include <stddef.h>

struct strbuf;

/*
 * Called for each variable: section and key lowercased, subsection as
 * written (NULL when there is none), value with git's quoting undone (NULL
 * for a key without "=", which git reads as true).
 */
typedef void gitconfig_fn(const char *section, const char *subsection, const char *key, const char *value,
			  void *data);

/* Parses text in git's config syntax. Returns 0, or -1 at the first syntax error (fn saw what came before). */
int gitconfig_parse(const char *text, size_t len, gitconfig_fn *fn, void *data);

/* The most of a config file au reads (git's own limit on included files is larger, but a config is small). */
#define GITCONFIG_MAX_SIZE (1u << 20)

/*
 * Reads name (relative to dirfd; absolute works too) as a file the agent may
 * have made: never following a symlink in its last component, never
 * blocking (a FIFO is refused), a regular file of at most
 * GITCONFIG_MAX_SIZE bytes. Returns 0, or -1 with errno.
 */
int read_untrusted_file(int dirfd, const char *name, size_t max, struct strbuf *out);
