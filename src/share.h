/*
 * share.h: what a share's source must be. The human names a folder; au
 * makes sure it is the one they meant (no symlink or folder of anyone
 * else's on the way, nor one the agent could have moved there), that it is
 * no secret of theirs nor au's own state, records which inode it is, and
 * later opens that very inode again or says that it is gone.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

struct human;
struct mount_spec;
struct strbuf;

struct share_source {
	char *path;     /* canonical, as resolved */
	int fd;         /* O_PATH, of what was checked: everything after uses it */
	struct stat st; /* its fstat: device and inode are recorded */
};

/* Who must not have shaped the path: an agent (its uid, and its group as its only one). */
struct share_agent {
	uid_t uid;
	gid_t gid;
};

/*
 * Resolves arg (relative to the current folder) one component at a time,
 * and dies with a one-line reason unless every symlink met is the human's
 * (or root's) and sits in a folder none of the nr agents can write, every
 * folder passed through is the human's (or root's), and what it names is a
 * folder or file of the human's inside their home, not the home itself.
 */
void share_source_resolve(const char *arg, const struct human *h, const struct share_agent *agents,
			  size_t nr, struct share_source *out);
void share_source_release(struct share_source *s);

/*
 * Dies with a one-line reason when source (canonical) is, is inside, or
 * holds one of the human's secrets (~/.ssh, ~/.gnupg, credentials of
 * cloud and git tools...) or au's own config (config_path) and state.
 */
void share_refuse_secrets(const char *source, const struct human *h, const char *config_path);

/*
 * Opens m's source again for a walk (O_RDONLY|O_DIRECTORY), by the recorded
 * path without following any symlink, and only while it is the inode that
 * was shared. -1 with why otherwise, and *gone set when nothing is there.
 */
int share_open_recorded(const struct mount_spec *m, struct strbuf *why, bool *gone);

/* au's own state: ~/.local/state/au, made 0700 when asked to. */
char *share_state_dir(const struct human *h);
