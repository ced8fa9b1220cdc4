/* path-check.c: warn about folders of the human's PATH that the agent can write. */
#include "path-check.h"
#include "acl.h"
#include "paths.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct writable_check {
	uid_t uid;
	gid_t gid;
	char *found; /* the first folder on the way that the agent can write */
};

/*
 * path_resolve()'s visitor: stops at the first folder passed through (or the
 * entry itself) that the agent could write. A folder it can write is one
 * where it can replace what follows, so a symlink met is covered by the
 * check of the folder that holds it.
 */
static int visit_writable(const struct path_step *step, void *data)
{
	struct writable_check *c = data;

	if (step->kind == PATH_STEP_SYMLINK)
		return 0;
	if (acl_may_write(step->fd, step->st, c->uid, c->gid)) {
		c->found = xstrdup(step->path);
		errno = EPERM;
		return -1;
	}
	return 0;
}

static int check_entry(const char *entry, const char *agent_name, uid_t uid, gid_t gid)
{
	struct writable_check c = { uid, gid, NULL };
	int fd;

	if (entry[0] != '/') {
		warn("your PATH holds '%s', which is relative: in a shared folder, a program of the agent's "
		     "found there runs as you", *entry ? entry : "");
		hint("take relative entries out of PATH");
		return 1;
	}
	fd = path_resolve(entry, visit_writable, &c, NULL, NULL);
	if (fd >= 0)
		close(fd);
	if (!c.found)
		return 0; /* what is missing could only be made in a folder already checked */
	if (!strcmp(c.found, entry))
		warn("your PATH holds '%s', which agent '%s' can write: a program it puts there runs as you",
		     entry, agent_name);
	else
		warn("your PATH holds '%s', and agent '%s' can write '%s' on the way to it: a program it puts "
		     "there runs as you", entry, agent_name, c.found);
	hint("take it out of PATH (deactivate the virtual environment) before you run anything, "
	     "or share that folder read-only");
	free(c.found);
	return 1;
}

int warn_agent_writable_path(const char *agent_name, uid_t uid, gid_t gid)
{
	const char *path = getenv("PATH");
	autofree char *copy = NULL;
	int warnings = 0;
	char *p, *colon;

	if (!path)
		return 0;
	copy = xstrdup(path);
	/* Not strtok: an empty entry is the current folder, and must be seen. */
	for (p = copy;; p = colon + 1) {
		colon = strchr(p, ':');
		if (colon)
			*colon = '\0';
		warnings += check_entry(p, agent_name, uid, gid);
		if (!colon)
			break;
	}
	return warnings;
}

struct owner_check {
	uid_t owner;
	struct strbuf *why;
};

static int visit_owner_alone(const struct path_step *step, void *data)
{
	struct owner_check *c = data;
	const struct stat *st = step->st;

	if (st->st_uid != 0 && st->st_uid != c->owner) {
		strbuf_addf(c->why, "'%s' is owned by uid %u", step->path, (unsigned)st->st_uid);
		errno = EPERM;
		return -1;
	}
	if (step->kind == PATH_STEP_SYMLINK || (st->st_mode & S_ISVTX))
		return 0;
	if (!acl_only_owner_writes(step->fd, st)) {
		strbuf_addf(c->why, "'%s' is writable by others than its owner", step->path);
		errno = EPERM;
		return -1;
	}
	return 0;
}

bool path_owner_alone_writes(const char *path, uid_t owner, struct strbuf *why)
{
	struct owner_check c = { owner, why };
	size_t len = why->len;
	int fd = path_resolve(path, visit_owner_alone, &c, NULL, NULL);

	if (fd >= 0) {
		close(fd);
		return true;
	}
	if (why->len == len)
		strbuf_addf(why, "cannot use '%s': %s", path, strerror(errno));
	return false;
}
