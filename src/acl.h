/*
 * acl.h: the read-write sharing walk. Gives (or takes back) a group rwx on a
 * tree of the human's files with POSIX ACLs, in-process, never following a
 * symlink: directories by fd, each entry relative to its directory's fd
 * (files by name with getxattrat/setxattrat where the kernel has them and
 * enforces ownership), on two threads for large trees.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "util.h"

struct acl_walk_stats {
	size_t changed;     /* entries whose ACL (or setgid bit) we changed */
	size_t unchanged;   /* entries that already were as wanted */
	size_t not_owned;   /* entries owned by someone else: left as they are */
	size_t skipped;     /* symlinks, and entries that vanished or were swapped mid-walk */
	size_t errors;      /* entries we could not change (reported one by one) */
	size_t linked;      /* a grant's files with more than one link: left without the group's entry */
	size_t unreadable;  /* folders of someone else's the walk could not read into */
	size_t lost;        /* folders it lost its way back to (moved during the walk) */
};

/* The first paths (display paths, as given) of what the human should hear about. */
struct acl_walk_notes {
	struct strvec linked;     /* files not shared for writing: more than one link */
	struct strvec unreadable; /* others' folders not read into: what they hold was not seen */
	struct strvec lost;       /* folders whose rest was not seen */
};
#define ACL_WALK_NOTES_INIT { STRVEC_INIT, STRVEC_INIT, STRVEC_INIT }
void acl_walk_notes_release(struct acl_walk_notes *notes);

enum acl_walk_mode {
	ACL_WALK_GRANT,  /* add group:GID:rwx (+ default entry and setgid on directories) */
	ACL_WALK_REVOKE, /* remove exactly those entries again */
};

/*
 * Walks dir_fd (an open directory, O_RDONLY) and everything below it, however
 * deep. Only entries owned by owner_uid are changed. A grant gives no entry
 * to a file with more than one link (it may be a file outside the share
 * too), and takes back one such a file has. progress: show a progress
 * line on stderr when it is a terminal and the tree is large. Returns 0, or
 * -1 when some entries failed (each reported on stderr) or a part of the
 * tree could not be reached (stats->lost).
 */
int acl_walk(int dir_fd, const char *display_path, gid_t gid, uid_t owner_uid,
	     enum acl_walk_mode mode, bool progress, struct acl_walk_stats *stats);
/* acl_walk() that also notes the first paths of each kind in notes (released by the caller). */
int acl_walk_noting(int dir_fd, const char *display_path, gid_t gid, uid_t owner_uid,
		    enum acl_walk_mode mode, bool progress, struct acl_walk_stats *stats,
		    struct acl_walk_notes *notes);

/* True when the file system of fd supports POSIX ACLs. */
bool acl_supported(int fd);

/*
 * True when a process of uid, with gid as its only group (what the
 * entrypoint leaves the agent), may write the object open at fd (any kind
 * of fd, O_PATH included), whose fstat is st: its mode and access ACL
 * checked as the kernel does (posix_acl_permission()). An ACL that cannot be
 * read counts as writable: the answer must never be a false "no".
 */
bool acl_may_write(int fd, const struct stat *st, uid_t uid, gid_t gid);

/*
 * True when no one but its owner may write the object open at fd (of st):
 * no write for its group, others, or any named entry of its access ACL. An
 * ACL that cannot be read counts as writable by others.
 */
bool acl_only_owner_writes(int fd, const struct stat *st);
