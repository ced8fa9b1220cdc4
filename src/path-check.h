/*
 * path-check.h: the human's PATH against the agent. A folder of PATH that
 * the agent can write (a project's .venv/bin or node_modules/.bin in a
 * read-write share, a folder writable by others) lets it put a program there
 * that the human's shell then runs as the human.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct strbuf;

/*
 * Warns once for each folder of the human's PATH that the agent (uid, with
 * gid as its only group) could write or replace: the folder itself, or any
 * folder or symlink met on the way to it, by mode or ACL; and for each
 * relative entry. Returns how many warnings were given.
 */
int warn_agent_writable_path(const char *agent_name, uid_t uid, gid_t gid);

/*
 * True when every folder on the way to the folder path (symlinks followed,
 * each one checked) is root's or owner's and writable by no one else, or
 * sticky (as /tmp): no one else can then move or replace what is made
 * there. Otherwise false, with why.
 */
bool path_owner_alone_writes(const char *path, uid_t owner, struct strbuf *why);
