/*
 * acl.c: the read-write sharing walk. Gives (or takes back) group:GID:rwx on a
 * tree of the human's files, as the human, while the agent may be rearranging
 * that very tree to make us write an ACL somewhere else.
 *
 * The defence is that no path string is ever resolved: every directory is
 * opened with openat(parent_fd, name, O_NOFOLLOW) from the fd of a directory we
 * opened ourselves the same way, never through "..", and everything after that
 * acts on the fd (what fstat says it is, not what getdents said). A symlink
 * swapped in at any moment makes the open fail (ELOOP/ENOTDIR) or, with O_PATH,
 * hands us the link itself, which we skip. Where an fd cannot carry an xattr
 * call (O_PATH), "/proc/self/fd/N" names exactly the inode we opened.
 *
 * Regular files may instead be handled by name, relative to such a directory
 * fd, with the *xattrat(2) calls and AT_SYMLINK_NOFOLLOW (see file_by_name()
 * for why that is as safe), which saves the open and close of every file.
 *
 * Two threads share the work: the caller's thread walks the directories and
 * hands batches of regular-file names to a worker, and does a batch itself
 * whenever the small queue is full (see "the queue" below).
 *
 * ACLs are read and written in the kernel's xattr format directly
 * (include/uapi/linux/posix_acl_xattr.h): no allocation per entry, one
 * getxattr to decide, and no setxattr at all for entries already as wanted.
 */
#include "acl.h"
#include "util.h"

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define XATTR_ACCESS "system.posix_acl_access"
#define XATTR_DEFAULT "system.posix_acl_default"

/* The xattr format: a le32 version (2), then {le16 tag, le16 perm, le32 id}. */
#define XACL_VERSION 2
#define XACL_HEADER_SIZE 4
#define XACL_ENTRY_SIZE 8
#define XACL_MAX_SIZE 65536 /* XATTR_SIZE_MAX */
#define XACL_MAX_ENTRIES ((XACL_MAX_SIZE - XACL_HEADER_SIZE) / XACL_ENTRY_SIZE)
#define XACL_UNDEFINED_ID 0xffffffffu
#define XACL_SMALL_SIZE (XACL_HEADER_SIZE + 32 * XACL_ENTRY_SIZE)

/* Tags in the order the kernel requires them (then by id within a tag). */
enum {
	TAG_USER_OBJ = 0x01,
	TAG_USER = 0x02,
	TAG_GROUP_OBJ = 0x04,
	TAG_GROUP = 0x08,
	TAG_MASK = 0x10,
	TAG_OTHER = 0x20,
};

#define PERM_RWX 7

/*
 * getxattrat(2) and setxattrat(2) came in Linux 6.13; glibc 2.36 knows neither
 * them nor their struct. The numbers are the same on every architecture
 * (scripts/syscall.tbl, "common").
 */
#ifndef SYS_setxattrat
#define SYS_setxattrat 463
#endif
#ifndef SYS_getxattrat
#define SYS_getxattrat 464
#endif
struct xattr_args_v0 {
	uint64_t value;
	uint32_t size;
	uint32_t flags;
};

/* Deeper than this is reported and skipped: each level holds an open fd. */
#define MAX_DEPTH 4096
#define STR_(x) #x
#define STR(x) STR_(x)

#define DIRENT_BUF_SIZE 16384
#define PROGRESS_AFTER 2000
#define PROGRESS_INTERVAL_NS 100000000L

/* A second thread only pays once the tree is this large. */
#define THREAD_AFTER 1000
#define BATCH_FILES 64
#define BATCH_NAMES_SIZE 4096 /* at least one NAME_MAX name and its NUL */
#define QUEUE_LEN 4

struct xacl_entry {
	uint16_t tag;
	uint16_t perm;
	uint32_t id;
};

struct xacl {
	size_t nr;
	struct xacl_entry e[XACL_MAX_ENTRIES];
};

/* One opened entry: a real fd, or an O_PATH one reached through /proc. */
struct node {
	int fd;
	bool is_path;
};

/*
 * A directory opened by the walk, shared by its frame and the batches of its
 * files: the last one to let go closes it. At most QUEUE_LEN + 2 are held by
 * batches beyond the walk's own stack.
 */
struct dir_ref {
	int fd;
	char *path; /* display path */
	atomic_uint refs;
};

/* Regular-file names of one directory, for either thread. */
struct batch {
	struct dir_ref *dir;
	size_t nr, used;
	char names[BATCH_NAMES_SIZE]; /* nr NUL-terminated names, back to back */
};

struct frame {
	struct dir_ref *dir; /* readable */
	size_t path_len;     /* length of its display path in walk.path */
	struct batch *batch; /* its files not handed out yet */
	char *buf;           /* getdents64 records */
	size_t pos, len;
};

/* What both threads share. */
struct walk {
	gid_t gid;
	uid_t owner_uid;
	enum acl_walk_mode mode;
	bool by_name;          /* the kernel enforces owner_uid for us (see file_by_name()) */
	atomic_bool no_xattrat; /* we may not use getxattrat(2) */

	/* out_lock keeps error lines and the progress line whole. */
	pthread_mutex_t out_lock;
	bool progress;
	bool progress_shown;
	size_t seen; /* the walking thread's only */
	struct timespec progress_last;

	/* the queue */
	pthread_mutex_t lock;
	pthread_cond_t wake; /* a batch was queued, or done was set */
	struct batch *queue[QUEUE_LEN];
	size_t head, queued;
	bool done;
	bool threaded;
	pthread_t worker;
};

/* One thread's own: its counts and scratch, too large for the stack. */
struct walker {
	struct walk *w;
	struct acl_walk_stats stats;
	bool prefilter; /* try the one-syscall check on regular files */
	struct xacl cur, want, dcur, dwant;
	unsigned char xbuf[XACL_MAX_SIZE];
};

/* ---- the xattr format ---- */

static bool tag_is_named(uint16_t tag)
{
	return tag == TAG_USER || tag == TAG_GROUP;
}

static int xacl_decode(struct xacl *acl, const unsigned char *buf, size_t size)
{
	uint32_t version;

	if (size < XACL_HEADER_SIZE || (size - XACL_HEADER_SIZE) % XACL_ENTRY_SIZE)
		return -1;
	memcpy(&version, buf, sizeof(version));
	if (le32toh(version) != XACL_VERSION)
		return -1;
	acl->nr = (size - XACL_HEADER_SIZE) / XACL_ENTRY_SIZE;
	for (size_t i = 0; i < acl->nr; i++) {
		const unsigned char *p = buf + XACL_HEADER_SIZE + i * XACL_ENTRY_SIZE;
		uint16_t tag, perm;
		uint32_t id;

		memcpy(&tag, p, 2);
		memcpy(&perm, p + 2, 2);
		memcpy(&id, p + 4, 4);
		acl->e[i].tag = le16toh(tag);
		acl->e[i].perm = le16toh(perm);
		acl->e[i].id = tag_is_named(acl->e[i].tag) ? le32toh(id) : XACL_UNDEFINED_ID;
	}
	return 0;
}

static size_t xacl_encode(const struct xacl *acl, unsigned char *buf)
{
	uint32_t version = htole32(XACL_VERSION);

	memcpy(buf, &version, sizeof(version));
	for (size_t i = 0; i < acl->nr; i++) {
		unsigned char *p = buf + XACL_HEADER_SIZE + i * XACL_ENTRY_SIZE;
		uint16_t tag = htole16(acl->e[i].tag), perm = htole16(acl->e[i].perm);
		uint32_t id = htole32(acl->e[i].id);

		memcpy(p, &tag, 2);
		memcpy(p + 2, &perm, 2);
		memcpy(p + 4, &id, 4);
	}
	return XACL_HEADER_SIZE + acl->nr * XACL_ENTRY_SIZE;
}

/* The access ACL a file without the xattr has: its mode bits. */
static void xacl_from_mode(struct xacl *acl, mode_t mode)
{
	acl->nr = 3;
	acl->e[0] = (struct xacl_entry){ TAG_USER_OBJ, (mode >> 6) & 7, XACL_UNDEFINED_ID };
	acl->e[1] = (struct xacl_entry){ TAG_GROUP_OBJ, (mode >> 3) & 7, XACL_UNDEFINED_ID };
	acl->e[2] = (struct xacl_entry){ TAG_OTHER, mode & 7, XACL_UNDEFINED_ID };
}

/* setfacl's start for a new default ACL: the access ACL's user::, group::, other::. */
static void xacl_base_of(struct xacl *out, const struct xacl *access)
{
	out->nr = 0;
	for (size_t i = 0; i < access->nr; i++) {
		uint16_t tag = access->e[i].tag;

		if (tag == TAG_USER_OBJ || tag == TAG_GROUP_OBJ || tag == TAG_OTHER)
			out->e[out->nr++] = access->e[i];
	}
}

/* Copies only the used entries: a struct copy would move 64 KiB per file. */
static void xacl_copy(struct xacl *dst, const struct xacl *src)
{
	dst->nr = src->nr;
	memcpy(dst->e, src->e, src->nr * sizeof(src->e[0]));
}

static bool xacl_equal(const struct xacl *a, const struct xacl *b)
{
	return a->nr == b->nr && !memcmp(a->e, b->e, a->nr * sizeof(a->e[0]));
}

static void xacl_insert(struct xacl *acl, size_t at, struct xacl_entry e)
{
	memmove(&acl->e[at + 1], &acl->e[at], (acl->nr - at) * sizeof(acl->e[0]));
	acl->e[at] = e;
	acl->nr++;
}

static void xacl_remove(struct xacl *acl, size_t at)
{
	memmove(&acl->e[at], &acl->e[at + 1], (acl->nr - at - 1) * sizeof(acl->e[0]));
	acl->nr--;
}

/* Index of the first entry that sorts at or after (tag, id). */
static size_t xacl_find(const struct xacl *acl, uint16_t tag, uint32_t id)
{
	size_t i = 0;

	while (i < acl->nr && (acl->e[i].tag < tag || (acl->e[i].tag == tag && acl->e[i].id < id)))
		i++;
	return i;
}

/* Adds group:gid:perm or sets its permissions. False when there is no room. */
static bool xacl_set_group(struct xacl *acl, uint32_t gid, uint16_t perm)
{
	size_t i = xacl_find(acl, TAG_GROUP, gid);

	if (i < acl->nr && acl->e[i].tag == TAG_GROUP && acl->e[i].id == gid) {
		acl->e[i].perm = perm;
		return true;
	}
	if (acl->nr >= XACL_MAX_ENTRIES - 1) /* keep room for a mask */
		return false;
	xacl_insert(acl, i, (struct xacl_entry){ TAG_GROUP, perm, gid });
	return true;
}

/* Removes group:gid; false when it was not there. */
static bool xacl_remove_group(struct xacl *acl, uint32_t gid)
{
	size_t i = xacl_find(acl, TAG_GROUP, gid);

	if (i < acl->nr && acl->e[i].tag == TAG_GROUP && acl->e[i].id == gid) {
		xacl_remove(acl, i);
		return true;
	}
	return false;
}

/*
 * Recomputes the mask as setfacl does (the union of the group class: named
 * users, group::, named groups). An ACL without named entries gets no mask at
 * all: a leftover mask would keep the mode's group bits away from group::,
 * which is what the reference tool left behind on revoke.
 */
static void xacl_fix_mask(struct xacl *acl)
{
	uint16_t mask = 0;
	bool named = false;
	size_t i;

	for (i = 0; i < acl->nr; i++) {
		uint16_t tag = acl->e[i].tag;

		if (tag_is_named(tag))
			named = true;
		if (tag == TAG_USER || tag == TAG_GROUP_OBJ || tag == TAG_GROUP)
			mask |= acl->e[i].perm;
	}
	i = xacl_find(acl, TAG_MASK, XACL_UNDEFINED_ID);
	if (i < acl->nr && acl->e[i].tag == TAG_MASK) {
		if (named)
			acl->e[i].perm = mask;
		else
			xacl_remove(acl, i);
	} else if (named) {
		xacl_insert(acl, i, (struct xacl_entry){ TAG_MASK, mask, XACL_UNDEFINED_ID });
	}
}

static bool xacl_has_named(const struct xacl *acl)
{
	for (size_t i = 0; i < acl->nr; i++)
		if (tag_is_named(acl->e[i].tag))
			return true;
	return false;
}

/* ---- acting on an opened entry ---- */

/* "/proc/self/fd/N": the magic link resolves to exactly the opened inode. */
struct proc_name {
	char s[32];
};

static const char *proc_fd_name(struct proc_name *p, int fd)
{
	snprintf(p->s, sizeof(p->s), "/proc/self/fd/%d", fd);
	return p->s;
}

static ssize_t node_getxattr(const struct node *n, const char *name, void *buf, size_t size)
{
	struct proc_name p;

	if (!n->is_path)
		return fgetxattr(n->fd, name, buf, size);
	return getxattr(proc_fd_name(&p, n->fd), name, buf, size);
}

static int node_setxattr(const struct node *n, const char *name, const void *buf, size_t size)
{
	struct proc_name p;

	if (!n->is_path)
		return fsetxattr(n->fd, name, buf, size, 0);
	return setxattr(proc_fd_name(&p, n->fd), name, buf, size, 0);
}

static int node_removexattr(const struct node *n, const char *name)
{
	struct proc_name p;

	if (!n->is_path)
		return fremovexattr(n->fd, name);
	return removexattr(proc_fd_name(&p, n->fd), name);
}

static int node_chmod(const struct node *n, mode_t mode)
{
	struct proc_name p;

	if (!n->is_path)
		return fchmod(n->fd, mode);
	return chmod(proc_fd_name(&p, n->fd), mode);
}

/* Called with out_lock held. */
static void progress_clear(struct walk *w)
{
	static const char clear[] = "\r\033[K";

	if (w->progress_shown) {
		write_all(STDERR_FILENO, clear, sizeof(clear) - 1);
		w->progress_shown = false;
	}
}

/* Counts an entry found; only the walking thread calls it. */
static void progress_tick(struct walk *w)
{
	struct timespec now;
	char line[64];
	int len;

	w->seen++;
	if (!w->progress || w->seen < PROGRESS_AFTER || w->seen % 64)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&w->out_lock);
	if (!w->progress_shown ||
	    (now.tv_sec - w->progress_last.tv_sec) * 1000000000L +
			    (now.tv_nsec - w->progress_last.tv_nsec) >= PROGRESS_INTERVAL_NS) {
		w->progress_last = now;
		len = snprintf(line, sizeof(line), "\r  %zu entries...", w->seen);
		write_all(STDERR_FILENO, line, (size_t)len);
		w->progress_shown = true;
	}
	pthread_mutex_unlock(&w->out_lock);
}

/*
 * Reports "cannot WHAT 'dir/name': error" (no ": error" when errnum is 0) and
 * counts it. name may be NULL: the directory itself.
 */
static void report(struct walker *t, const char *dir_path, const char *name, const char *what,
		   int errnum)
{
	struct walk *w = t->w;
	size_t len = strlen(dir_path);
	autofree char *full = NULL, *shown = NULL;

	if (!name)
		full = xstrdup(dir_path);
	else
		full = xasprintf("%s%s%s", dir_path, len && dir_path[len - 1] == '/' ? "" : "/", name);
	shown = escape_display(full);

	pthread_mutex_lock(&w->out_lock);
	progress_clear(w);
	if (errnum) {
		errno = errnum;
		error_errno("cannot %s '%s'", what, shown);
	} else {
		error("cannot %s '%s'", what, shown);
	}
	pthread_mutex_unlock(&w->out_lock);
	t->stats.errors++;
}

/*
 * Reads one ACL of n into acl. A missing access ACL is the mode's; a missing
 * default ACL is empty. Returns 0, or an errno.
 */
static int read_acl(struct walker *t, const struct node *n, const char *xname, mode_t mode,
		    struct xacl *acl)
{
	/*
	 * The kernel zeroes a buffer of the size we offer (do_getxattr()):
	 * offering 64 KiB every time cost more than the rest of the walk. Most
	 * ACLs fit in a few entries; ERANGE means offer it all.
	 */
	ssize_t size = node_getxattr(n, xname, t->xbuf, XACL_SMALL_SIZE);

	if (size < 0 && errno == ERANGE)
		size = node_getxattr(n, xname, t->xbuf, sizeof(t->xbuf));
	if (size < 0) {
		if (errno != ENODATA)
			return errno;
		if (!strcmp(xname, XATTR_ACCESS))
			xacl_from_mode(acl, mode);
		else
			acl->nr = 0;
		return 0;
	}
	if (xacl_decode(acl, t->xbuf, (size_t)size) < 0)
		return EINVAL;
	return 0;
}

static int write_acl(struct walker *t, const struct node *n, const char *xname,
		     const struct xacl *acl)
{
	size_t size = xacl_encode(acl, t->xbuf);

	return node_setxattr(n, xname, t->xbuf, size) < 0 ? errno : 0;
}

/* want = cur with group:GID:rwx and the mask recomputed; false when full. */
static bool grant_access(struct walker *t, const struct xacl *cur, struct xacl *want)
{
	xacl_copy(want, cur);
	if (!xacl_set_group(want, t->w->gid, PERM_RWX))
		return false;
	xacl_fix_mask(want);
	return true;
}

/*
 * Grants group:GID:rwx on n (and the default entry and setgid on a
 * directory). Sets *changed when anything had to be written. Returns 0 or an
 * errno, with *what saying which step failed.
 */
static int grant_node(struct walker *t, const struct node *n, const struct stat *st,
		      bool *changed, const char **what)
{
	bool dir = S_ISDIR(st->st_mode);
	int err;

	/*
	 * The setgid bit first: chmod rewrites the ACL mask from the mode's
	 * group bits, which are the current mask, so it changes no ACL. Done
	 * after the ACL, it would need a fresh fstat.
	 */
	if (dir && !(st->st_mode & S_ISGID)) {
		*what = "set the setgid bit on";
		if (node_chmod(n, (st->st_mode & 07777) | S_ISGID) < 0)
			return errno;
		*changed = true;
	}

	*what = "read the ACL of";
	err = read_acl(t, n, XATTR_ACCESS, st->st_mode, &t->cur);
	if (err)
		return err;
	*what = "set the ACL of";
	if (!grant_access(t, &t->cur, &t->want))
		return ENOSPC;
	if (!xacl_equal(&t->cur, &t->want)) {
		err = write_acl(t, n, XATTR_ACCESS, &t->want);
		if (err)
			return err;
		*changed = true;
	}
	if (!dir)
		return 0;

	*what = "read the default ACL of";
	err = read_acl(t, n, XATTR_DEFAULT, st->st_mode, &t->dcur);
	if (err)
		return err;
	if (t->dcur.nr)
		xacl_copy(&t->dwant, &t->dcur);
	else
		xacl_base_of(&t->dwant, &t->cur);
	*what = "set the default ACL of";
	if (!xacl_set_group(&t->dwant, t->w->gid, PERM_RWX))
		return ENOSPC;
	xacl_fix_mask(&t->dwant);
	if (!xacl_equal(&t->dcur, &t->dwant)) {
		err = write_acl(t, n, XATTR_DEFAULT, &t->dwant);
		if (err)
			return err;
		*changed = true;
	}
	return 0;
}

/*
 * Takes back exactly what grant_node() gave. An ACL left without named
 * entries loses its mask too: written as a minimal ACL, the kernel removes
 * the access xattr and puts group::'s permissions back into the mode's group
 * bits (posix_acl_update_mode()); a default ACL left without named entries is
 * removed. The setgid bit stays: we cannot know which directories had it
 * before the grant, and removing it from one that had it would silently change
 * the group of the human's new files.
 */
static int revoke_node(struct walker *t, const struct node *n, const struct stat *st,
		       bool *changed, const char **what)
{
	int err;

	*what = "read the ACL of";
	err = read_acl(t, n, XATTR_ACCESS, st->st_mode, &t->cur);
	if (err)
		return err;
	*what = "set the ACL of";
	if (xacl_remove_group(&t->cur, t->w->gid)) {
		xacl_fix_mask(&t->cur);
		err = write_acl(t, n, XATTR_ACCESS, &t->cur);
		if (err)
			return err;
		*changed = true;
	}
	if (!S_ISDIR(st->st_mode))
		return 0;

	*what = "read the default ACL of";
	err = read_acl(t, n, XATTR_DEFAULT, st->st_mode, &t->dcur);
	if (err)
		return err;
	*what = "set the default ACL of";
	if (xacl_remove_group(&t->dcur, t->w->gid)) {
		if (xacl_has_named(&t->dcur)) {
			xacl_fix_mask(&t->dcur);
			err = write_acl(t, n, XATTR_DEFAULT, &t->dcur);
		} else if (node_removexattr(n, XATTR_DEFAULT) < 0) {
			err = errno;
		}
		if (err)
			return err;
		*changed = true;
	}
	return 0;
}

/* Changes one opened entry if it is the owner's, and counts it. */
static void apply(struct walker *t, const char *dir_path, const struct node *n,
		  const struct stat *st, const char *name)
{
	bool changed = false;
	const char *what = "change";
	int err;

	if (st->st_uid != t->w->owner_uid) {
		t->stats.not_owned++;
		return;
	}
	if (t->w->mode == ACL_WALK_GRANT)
		err = grant_node(t, n, st, &changed, &what);
	else
		err = revoke_node(t, n, st, &changed, &what);
	if (err == ENOENT) /* an O_PATH entry unlinked under us */
		t->stats.skipped++;
	else if (err)
		report(t, dir_path, name, what, err);
	else if (changed)
		t->stats.changed++;
	else
		t->stats.unchanged++;
}

/* ---- regular files by name ---- */

static long getxattr_at(int dir_fd, const char *name, const char *xname, void *buf, size_t size)
{
	struct xattr_args_v0 args = { .value = (uintptr_t)buf, .size = (uint32_t)size };

	return syscall(SYS_getxattrat, dir_fd, name, AT_SYMLINK_NOFOLLOW, xname, &args,
		       sizeof(args));
}

static long setxattr_at(int dir_fd, const char *name, const char *xname, const void *buf,
			size_t size)
{
	struct xattr_args_v0 args = { .value = (uintptr_t)buf, .size = (uint32_t)size };

	return syscall(SYS_setxattrat, dir_fd, name, AT_SYMLINK_NOFOLLOW, xname, &args,
		       sizeof(args));
}

enum by_name_result { DONE, BY_FD, MINE };

/*
 * Stats name for file_by_name(): MINE for a regular file of owner_uid's;
 * DONE, counted, for one that vanished or is someone else's; BY_FD for
 * anything else (a symlink, a directory swapped in...).
 */
static enum by_name_result stat_own_file(struct walker *t, const struct dir_ref *dir,
					 const char *name, struct stat *st)
{
	if (fstatat(dir->fd, name, st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT) {
			t->stats.skipped++;
			return DONE;
		}
		return BY_FD;
	}
	if (!S_ISREG(st->st_mode))
		return BY_FD;
	if (st->st_uid != t->w->owner_uid) {
		t->stats.not_owned++;
		return DONE;
	}
	return MINE;
}

/*
 * Handles a regular file in 1 to 3 syscalls, without opening it: getxattrat,
 * and only when a change is needed, setxattrat, with fstatat before it when
 * the file has no ACL yet (for the mode), all with (dir->fd, name,
 * AT_SYMLINK_NOFOLLOW). Returns BY_FD when the fd route has to decide (the
 * entry is not a regular file, the kernel has no *xattrat, or something
 * failed that the fd route reports properly).
 *
 * Why this is as safe as the fd route: name is a single component (getdents
 * gives no '/'), looked up in a directory we hold open by fd and reached
 * without following any symlink, and AT_SYMLINK_NOFOLLOW acts on a symlink
 * itself (where an ACL xattr fails with EOPNOTSUPP), so only an entry of that
 * very directory can be touched, never anything outside the tree. Whose entry
 * it is: the kernel lets only the owner set an ACL, and w->by_name is only set
 * when we are owner_uid without CAP_FOWNER, so an entry the human does not own
 * cannot change, whenever it is swapped in (setxattrat fails with EPERM; a
 * stat then counts it as not owned, or the fd route looks again).
 *
 * What the name route gives up: the read, the stat and the write may hit
 * different entries if the agent swaps names in between, and the second then
 * gets base entries computed from the first's mode or ACL (and may be, say, a
 * directory that gets only the access entry). That gives the agent nothing it
 * does not have: both are the human's entries of the shared tree, which the
 * agent can already read and write, and which the walk shares anyway.
 *
 * When w->by_name is not set (we run as root, say), only the read is done:
 * a file whose ACL already is what we would write needs nothing; anything
 * else goes the fd route, where the decision is made again on the opened fd.
 * (A file that is already as wanted is counted as unchanged even when it is
 * not the owner's: nothing would have been written either way.)
 */
static enum by_name_result file_by_name(struct walker *t, struct dir_ref *dir, const char *name)
{
	struct walk *w = t->w;
	bool no_acl = false;
	struct stat st;
	long size;

	size = getxattr_at(dir->fd, name, XATTR_ACCESS, t->xbuf, XACL_SMALL_SIZE);
	if (size < 0 && errno == ERANGE)
		size = getxattr_at(dir->fd, name, XATTR_ACCESS, t->xbuf, sizeof(t->xbuf));
	if (size < 0) {
		switch (errno) {
		case ENODATA:
			no_acl = true;
			break;
		case ENOENT: /* vanished */
			t->stats.skipped++;
			return DONE;
		case ENOSYS: /* before Linux 6.13 */
		case EPERM:  /* a seccomp filter that does not know the call */
			atomic_store(&w->no_xattrat, true);
			return BY_FD;
		default: /* EOPNOTSUPP (a symlink now), EACCES...: the fd route tells */
			return BY_FD;
		}
	} else if (xacl_decode(&t->cur, t->xbuf, (size_t)size) < 0) {
		return BY_FD;
	}

	/* No ACL at all: nothing to take back. */
	if (no_acl && w->mode == ACL_WALK_REVOKE) {
		t->stats.unchanged++;
		return DONE;
	}
	if (!no_acl) {
		if (w->mode == ACL_WALK_REVOKE ? !xacl_remove_group(&t->cur, w->gid)
					       : grant_access(t, &t->cur, &t->want) &&
							 xacl_equal(&t->cur, &t->want)) {
			t->stats.unchanged++;
			return DONE;
		}
	}
	if (!w->by_name)
		return BY_FD;

	/*
	 * A file without an ACL needs the stat for its mode, which its base
	 * entries come from. A file with one has them in it, and the kernel
	 * checks the owner for us (w->by_name), so it is only stat'ed when the
	 * write is refused: 2 syscalls instead of 3 for a re-grant or a revoke.
	 */
	if (no_acl) {
		enum by_name_result r = stat_own_file(t, dir, name, &st);

		if (r != MINE)
			return r;
		xacl_from_mode(&t->cur, st.st_mode);
	}
	if (w->mode == ACL_WALK_GRANT) {
		if (!grant_access(t, &t->cur, &t->want))
			return BY_FD; /* full: the fd route reports it */
		xacl_copy(&t->cur, &t->want);
	} else {
		xacl_fix_mask(&t->cur); /* the group was removed above */
	}
	size = (long)xacl_encode(&t->cur, t->xbuf);
	if (setxattr_at(dir->fd, name, XATTR_ACCESS, t->xbuf, (size_t)size) < 0) {
		if (errno == ENOENT) {
			t->stats.skipped++;
			return DONE;
		}
		/* Someone else's file (maybe swapped in after the stat). */
		if (errno == EPERM && stat_own_file(t, dir, name, &st) == DONE)
			return DONE;
		/*
		 * EPERM on a file of ours: an immutable one, or a swap back
		 * and forth; EOPNOTSUPP: a symlink swapped in. The fd route
		 * tells them apart and reports what is real.
		 */
		return BY_FD;
	}
	t->stats.changed++;
	return DONE;
}

/* ---- the walk ---- */

enum open_result { OPENED, GONE, FAILED };

/*
 * Opens name in dir_fd without following a symlink. Regular files and
 * directories (and entries of unknown type) get a real read-only fd; the
 * O_NONBLOCK keeps a fifo swapped in for a file from blocking us. Everything
 * else, and whatever we may not read, is opened O_PATH, which never opens a
 * device or fifo for real.
 */
static enum open_result open_entry(struct walker *t, const struct dir_ref *dir, const char *name,
				   unsigned char hint, struct node *n)
{
	if (hint == DT_REG || hint == DT_DIR || hint == DT_UNKNOWN) {
		int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;

		if (hint == DT_DIR)
			flags |= O_DIRECTORY;
		/* O_NOATIME: the walk should not look like the human read everything. */
		n->fd = openat(dir->fd, name, flags | O_NOATIME);
		if (n->fd < 0 && errno == EPERM)
			n->fd = openat(dir->fd, name, flags);
		if (n->fd >= 0) {
			n->is_path = false;
			return OPENED;
		}
		switch (errno) {
		case ENOENT:  /* vanished */
		case ELOOP:   /* a symlink now */
		case ENOTDIR: /* no longer a directory (or a symlink, with O_DIRECTORY) */
			return GONE;
		case EMFILE:
		case ENFILE:
		case ENOMEM:
			report(t, dir->path, name, "open", errno);
			return FAILED;
		default: /* EACCES, ENXIO, a lease...: the inode is still reachable */
			break;
		}
	}
	n->fd = openat(dir->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (n->fd >= 0) {
		n->is_path = true;
		return OPENED;
	}
	if (errno == ENOENT)
		return GONE;
	report(t, dir->path, name, "open", errno);
	return FAILED;
}

/*
 * Visits one directory entry by fd. Returns a readable fd of it when it is a
 * directory to descend into, else -1.
 */
static int visit(struct walker *t, const struct dir_ref *dir, const char *name, unsigned char hint)
{
	autoclose int fd = -1;
	struct node n;
	struct stat st;
	size_t unchanged;
	int sub_fd;

	if (hint == DT_LNK) { /* never followed; no need to open it to know */
		t->stats.skipped++;
		return -1;
	}
	switch (open_entry(t, dir, name, hint, &n)) {
	case GONE:
		t->stats.skipped++;
		return -1;
	case FAILED:
		return -1;
	case OPENED:
		break;
	}
	fd = n.fd;
	if (fstat(fd, &st) < 0) {
		report(t, dir->path, name, "stat", errno);
		return -1;
	}
	if (S_ISLNK(st.st_mode)) { /* only with O_PATH: the link itself */
		t->stats.skipped++;
		return -1;
	}
	unchanged = t->stats.unchanged;
	apply(t, dir->path, &n, &st, name);
	/* The read-only check pays while the files before were already as wanted. */
	if (hint == DT_REG)
		t->prefilter = t->stats.unchanged != unchanged;
	if (!S_ISDIR(st.st_mode))
		return -1;
	if (!n.is_path)
		return steal_fd(&fd);

	/* "." of the O_PATH fd is the same directory, now opened for reading. */
	sub_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub_fd < 0 && (st.st_uid == t->w->owner_uid || errno != EACCES))
		report(t, dir->path, name, "read directory", errno);
	/* The agent's unreadable directories hold nothing we could reach. */
	return sub_fd;
}

/*
 * A regular file (going by d_type), in either thread. One that turned into a
 * directory since getdents has its own ACL set but is not descended into:
 * only the walking thread descends, and only the agent swaps entries mid-walk.
 */
static void visit_file(struct walker *t, struct dir_ref *dir, const char *name)
{
	int sub_fd;

	if ((t->w->by_name || t->prefilter) && !atomic_load(&t->w->no_xattrat) &&
	    file_by_name(t, dir, name) == DONE)
		return;
	sub_fd = visit(t, dir, name, DT_REG);
	if (sub_fd >= 0)
		close(sub_fd);
}

static struct dir_ref *dir_ref_new(int fd, const char *path)
{
	struct dir_ref *d = xmalloc(sizeof(*d));

	d->fd = fd;
	d->path = xstrdup(path);
	atomic_init(&d->refs, 1);
	return d;
}

static struct dir_ref *dir_ref_get(struct dir_ref *d)
{
	atomic_fetch_add(&d->refs, 1);
	return d;
}

static void dir_ref_put(struct dir_ref *d)
{
	if (atomic_fetch_sub(&d->refs, 1) != 1)
		return;
	close(d->fd);
	free(d->path);
	free(d);
}

/* ---- the queue ---- */

/*
 * The walking thread reads directories and fills batches of regular-file
 * names; a full batch goes into a queue of QUEUE_LEN that the worker empties.
 * When the queue is full the walking thread does the batch itself, so both
 * threads stay busy and neither ever waits for the other, except the worker
 * for work and the walking thread for the worker's last batch at the end.
 */
static void run_batch(struct walker *t, struct batch *b)
{
	const char *name = b->names;

	for (size_t i = 0; i < b->nr; i++) {
		visit_file(t, b->dir, name);
		name += strlen(name) + 1;
	}
	dir_ref_put(b->dir);
	free(b);
}

static void submit(struct walker *t, struct batch *b)
{
	struct walk *w = t->w;

	if (w->threaded) {
		pthread_mutex_lock(&w->lock);
		if (w->queued < QUEUE_LEN) {
			w->queue[(w->head + w->queued++) % QUEUE_LEN] = b;
			pthread_cond_signal(&w->wake);
			b = NULL;
		}
		pthread_mutex_unlock(&w->lock);
	}
	if (b)
		run_batch(t, b);
}

/* The next queued batch; NULL once done is set and nothing is left. */
static struct batch *take(struct walk *w, bool wait)
{
	struct batch *b = NULL;

	pthread_mutex_lock(&w->lock);
	while (wait && !w->queued && !w->done)
		pthread_cond_wait(&w->wake, &w->lock);
	if (w->queued) {
		b = w->queue[w->head];
		w->head = (w->head + 1) % QUEUE_LEN;
		w->queued--;
	}
	pthread_mutex_unlock(&w->lock);
	return b;
}

static void *worker_main(void *arg)
{
	struct walker *t = arg;
	struct batch *b;

	while ((b = take(t->w, true)))
		run_batch(t, b);
	return NULL;
}

/* Starts the worker; on failure the walking thread simply does it all. */
static void start_worker(struct walk *w, struct walker *t)
{
	sigset_t all, old;

	/* Signals stay with the caller's thread, as without the worker. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	w->threaded = !pthread_create(&w->worker, NULL, worker_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void stop_worker(struct walk *w, struct walker *self)
{
	struct batch *b;

	if (!w->threaded)
		return;
	while ((b = take(w, false))) /* help with what is left */
		run_batch(self, b);
	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->worker, NULL);
	w->threaded = false;
}

/* Adds a regular file's name to f's batch, handing the batch out when full. */
static void add_file(struct walker *t, struct frame *f, const char *name)
{
	size_t len = strlen(name) + 1;
	struct batch *b = f->batch;

	if (b && (b->nr == BATCH_FILES || b->used + len > sizeof(b->names))) {
		submit(t, b);
		b = f->batch = NULL;
	}
	if (!b) {
		b = f->batch = xmalloc(sizeof(*b));
		b->dir = dir_ref_get(f->dir);
		b->nr = b->used = 0;
	}
	memcpy(b->names + b->used, name, len);
	b->used += len;
	b->nr++;
}

static void flush_files(struct walker *t, struct frame *f)
{
	if (f->batch)
		submit(t, steal_pointer(&f->batch));
}

/* The next record of f, reading more when needed; NULL at the end. */
static struct dirent64 *next_dirent(struct walker *t, struct frame *f)
{
	struct dirent64 *d;

	if (f->pos >= f->len) {
		ssize_t len = getdents64(f->dir->fd, f->buf, DIRENT_BUF_SIZE);

		if (len < 0)
			report(t, f->dir->path, NULL, "read directory", errno);
		if (len <= 0)
			return NULL;
		f->len = (size_t)len;
		f->pos = 0;
	}
	d = (struct dirent64 *)(f->buf + f->pos);
	f->pos += d->d_reclen;
	return d;
}

static void push(struct strbuf *path, struct frame **stack, size_t *nr,
		 size_t *alloc, int fd, const char *name)
{
	struct frame *f;

	if (name) {
		if (!path->len || path->buf[path->len - 1] != '/')
			strbuf_addch(path, '/');
		strbuf_addstr(path, name);
	}
	ALLOC_GROW(*stack, *nr, *alloc);
	f = &(*stack)[(*nr)++];
	f->dir = dir_ref_new(fd, strbuf_str(path));
	f->path_len = path->len;
	f->batch = NULL;
	f->buf = xmalloc(DIRENT_BUF_SIZE);
	f->pos = f->len = 0;
}

static void pop(struct walker *t, struct strbuf *path, struct frame *stack, size_t *nr)
{
	struct frame *f = &stack[--(*nr)];

	flush_files(t, f);
	dir_ref_put(f->dir);
	free(f->buf);
	if (*nr) {
		path->len = stack[*nr - 1].path_len;
		path->buf[path->len] = '\0';
	}
}

static void walk_tree(struct walker *t, struct walker *other, int root_fd, const char *root_path)
{
	struct walk *w = t->w;
	struct strbuf path = STRBUF_INIT;
	autofree struct frame *stack = NULL;
	size_t nr = 0, alloc = 0;

	strbuf_addstr(&path, root_path);
	push(&path, &stack, &nr, &alloc, root_fd, NULL);
	while (nr) {
		struct frame *f = &stack[nr - 1];
		struct dirent64 *d = next_dirent(t, f);
		int sub_fd;

		if (!d) {
			pop(t, &path, stack, &nr);
			continue;
		}
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		progress_tick(w);
		if (other && !w->threaded && w->seen == THREAD_AFTER)
			start_worker(w, other);
		if (d->d_type == DT_REG) {
			add_file(t, f, d->d_name);
			continue;
		}
		sub_fd = visit(t, f->dir, d->d_name, d->d_type);
		if (sub_fd < 0)
			continue;
		if (nr >= MAX_DEPTH) {
			report(t, f->dir->path, d->d_name,
			       "descend more than " STR(MAX_DEPTH) " levels, into", 0);
			close(sub_fd);
			continue;
		}
		/* Its files go out now, not after the whole subtree. */
		flush_files(t, f);
		push(&path, &stack, &nr, &alloc, sub_fd, d->d_name);
	}
	strbuf_release(&path);
}

/*
 * True when the kernel itself refuses an ACL on anything owner_uid does not
 * own: we are owner_uid, and hold no CAP_FOWNER (which would override it).
 */
static bool kernel_checks_owner(uid_t owner_uid)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (geteuid() != owner_uid || syscall(SYS_capget, &hdr, data) < 0)
		return false;
	return !(data[CAP_TO_INDEX(CAP_FOWNER)].effective & CAP_TO_MASK(CAP_FOWNER));
}

static void stats_add(struct acl_walk_stats *sum, const struct acl_walk_stats *s)
{
	sum->changed += s->changed;
	sum->unchanged += s->unchanged;
	sum->not_owned += s->not_owned;
	sum->skipped += s->skipped;
	sum->errors += s->errors;
}

int acl_walk(int dir_fd, const char *display_path, gid_t gid, uid_t owner_uid,
	     enum acl_walk_mode mode, bool progress, struct acl_walk_stats *stats)
{
	struct walk w = {
		.gid = gid,
		.owner_uid = owner_uid,
		.mode = mode,
		.by_name = kernel_checks_owner(owner_uid),
		.out_lock = PTHREAD_MUTEX_INITIALIZER,
		.progress = progress && isatty(STDERR_FILENO),
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.wake = PTHREAD_COND_INITIALIZER,
	};
	autofree struct walker *t = xcalloc(2, sizeof(*t));
	struct rlimit old_nofile, nofile;
	bool raised = false;
	struct node root;
	struct stat st;
	int root_fd;

	atomic_init(&w.no_xattrat, false);
	for (int i = 0; i < 2; i++) {
		t[i].w = &w;
		t[i].prefilter = true;
	}

	/* Every level of the tree holds an fd open. */
	if (!getrlimit(RLIMIT_NOFILE, &old_nofile) && old_nofile.rlim_cur < old_nofile.rlim_max) {
		nofile = old_nofile;
		nofile.rlim_cur = nofile.rlim_max;
		raised = !setrlimit(RLIMIT_NOFILE, &nofile);
	}

	/* Our own open file description, so that reading it moves no offset of the caller's. */
	root_fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (root_fd < 0) {
		report(&t[0], display_path, NULL, "read directory", errno);
	} else if (fstat(root_fd, &st) < 0) {
		report(&t[0], display_path, NULL, "stat", errno);
		close(root_fd);
	} else {
		root.fd = root_fd;
		root.is_path = false;
		progress_tick(&w);
		apply(&t[0], display_path, &root, &st, NULL);
		walk_tree(&t[0], &t[1], root_fd, display_path);
		stop_worker(&w, &t[0]);
	}

	pthread_mutex_lock(&w.out_lock);
	progress_clear(&w);
	pthread_mutex_unlock(&w.out_lock);
	if (raised)
		setrlimit(RLIMIT_NOFILE, &old_nofile);
	memset(stats, 0, sizeof(*stats));
	stats_add(stats, &t[0].stats);
	stats_add(stats, &t[1].stats);
	return stats->errors ? -1 : 0;
}

bool acl_may_write(int fd, const struct stat *st, uid_t uid, gid_t gid)
{
	unsigned char buf[XACL_MAX_SIZE];
	struct node n = { fd, false };
	autofree struct xacl *acl = NULL;
	uint16_t mask = PERM_RWX;
	bool group_matched = false;
	ssize_t size;

	if (uid == 0)
		return true;
	size = node_getxattr(&n, XATTR_ACCESS, buf, sizeof(buf));
	if (size < 0 && errno == EBADF) { /* an O_PATH fd */
		n.is_path = true;
		size = node_getxattr(&n, XATTR_ACCESS, buf, sizeof(buf));
	}
	if (size < 0) {
		if (errno != ENODATA && errno != EOPNOTSUPP)
			return true;
		/* No ACL: the mode bits. */
		if (st->st_uid == uid)
			return st->st_mode & S_IWUSR;
		if (st->st_gid == gid)
			return st->st_mode & S_IWGRP;
		return st->st_mode & S_IWOTH;
	}
	acl = xmalloc(sizeof(*acl));
	if (xacl_decode(acl, buf, (size_t)size) < 0)
		return true;
	for (size_t i = 0; i < acl->nr; i++) {
		if (acl->e[i].tag == TAG_MASK)
			mask = acl->e[i].perm;
	}
	/* The first class that matches decides, in the kernel's order. */
	for (size_t i = 0; i < acl->nr; i++) {
		const struct xacl_entry *e = &acl->e[i];

		switch (e->tag) {
		case TAG_USER_OBJ:
			if (st->st_uid == uid)
				return e->perm & 2;
			break;
		case TAG_USER:
			if (e->id == uid)
				return e->perm & mask & 2;
			break;
		case TAG_GROUP_OBJ:
		case TAG_GROUP:
			if ((e->tag == TAG_GROUP_OBJ ? st->st_gid : e->id) == gid) {
				if (e->perm & mask & 2)
					return true;
				group_matched = true;
			}
			break;
		case TAG_OTHER:
			return !group_matched && (e->perm & 2);
		}
	}
	return false;
}

bool acl_supported(int fd)
{
	struct node n = { fd, false };
	ssize_t r = node_getxattr(&n, XATTR_ACCESS, NULL, 0);

	if (r < 0 && errno == EBADF) { /* an O_PATH fd */
		n.is_path = true;
		r = node_getxattr(&n, XATTR_ACCESS, NULL, 0);
	}
	return r >= 0 || errno != EOPNOTSUPP;
}
