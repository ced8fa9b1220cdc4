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
 * A grant gives a directory its entries only once everything below it is
 * done (post-order), so that a directory nobody but the human could write
 * stays so while its files are handled by name (see grant_by_name()). A file
 * with more than one link may be the same inode as a file outside the share
 * (uv's and pnpm's caches hard-link into projects): it gets no entry at all,
 * decided on the very inode that is changed. A revoke takes a directory's
 * entries back first (pre-order): from then on the agent can no longer move
 * anything into or out of it, so what it holds is what the walk lists.
 *
 * No depth stops the walk: past MAX_OPEN_DIRS levels, the directories
 * nearest the top are closed, and found again on the way back up by ".."
 * from their child, checked by device and inode (see "deep trees").
 *
 * ACLs are read and written in the kernel's xattr format directly
 * (include/uapi/linux/posix_acl_xattr.h): no allocation per entry, one
 * getxattr to decide, and no setxattr at all for entries already as wanted.
 */
#include "acl.h"
#include "util.h"

#include <assert.h>
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
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

/* Open directories the walk keeps at most; deeper ones are closed and found again. */
#define MAX_OPEN_DIRS 128
/* Display paths stop growing here ("/..." stands for the rest): a deep tree costs no more. */
#define DISPLAY_MAX 1024
/* Paths noted for the human, of each kind (struct acl_walk_notes). */
#define NOTED_MAX 10

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
 * files: the last one to let go closes it (and, in a grant, gives it its
 * entries first). At most QUEUE_LEN + 2 are held by batches beyond the
 * walk's own stack.
 */
struct dir_ref {
	int fd;       /* -1 while a deep frame is closed */
	char *path;   /* display path: set once a batch needs it, else the walk's own */
	bool closed;  /* no one but its owner could write it when the walk opened it */
	bool deferred; /* a grant: its own entries come when the last reference goes */
	dev_t dev;    /* to know it again after a close (deep trees) */
	ino_t ino;
	atomic_uint refs;
};

/* Regular-file names of one directory, for either thread. */
struct batch {
	struct dir_ref *dir;
	size_t nr, used;
	char names[BATCH_NAMES_SIZE]; /* nr NUL-terminated names, back to back */
};

struct frame {
	struct dir_ref *dir; /* readable, unless closed for depth (dir->fd < 0) */
	size_t path_len;     /* length of its display path in walk.path */
	struct batch *batch; /* its files not handed out yet */
	char *buf;           /* getdents64 records; NULL while closed */
	size_t pos, len;
	off_t next_off;      /* where the next entry is: what a reopen seeks to */
	bool lost;           /* could not be found again: what was left of it is not done */
	bool path_cut;       /* its display path ends in "/..." */
};

/* What both threads share. */
struct walk {
	gid_t gid;
	uid_t owner_uid;
	enum acl_walk_mode mode;
	bool by_name;          /* the kernel enforces owner_uid for us (see file_by_name()) */
	atomic_bool no_xattrat; /* we may not use getxattrat(2) */
	size_t max_open_dirs;  /* MAX_OPEN_DIRS, or fewer under a low RLIMIT_NOFILE */

	/* out_lock keeps error lines and the progress line whole, and guards notes. */
	pthread_mutex_t out_lock;
	struct acl_walk_notes *notes; /* NULL: nobody asked */
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
	struct stat st; /* the name route's */
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

/* Notes dir_path/name (or dir_path) in list, when the caller asked for notes and there is room. */
static void note(struct walker *t, struct strvec *(*which)(struct acl_walk_notes *), const char *dir_path,
		 const char *name)
{
	struct walk *w = t->w;
	struct strvec *list;

	pthread_mutex_lock(&w->out_lock);
	if (w->notes && (list = which(w->notes))->nr < NOTED_MAX) {
		size_t len = strlen(dir_path);

		if (name)
			strvec_pushf(list, "%s%s%s", dir_path, len && dir_path[len - 1] == '/' ? "" : "/", name);
		else
			strvec_push(list, dir_path);
	}
	pthread_mutex_unlock(&w->out_lock);
}

static struct strvec *linked_list(struct acl_walk_notes *n)
{
	return &n->linked;
}

static struct strvec *unreadable_list(struct acl_walk_notes *n)
{
	return &n->unreadable;
}

static struct strvec *lost_list(struct acl_walk_notes *n)
{
	return &n->lost;
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

/*
 * A file with more than one link may also be a file outside the share (uv's
 * cache, pnpm's store, a backup made with cp -al): write on it would be
 * write there, and any entry on it would change a file outside the share. A
 * grant leaves such a file without the group's entry (taking back one it
 * got while it had one link): the agent reads it only if its mode lets
 * everyone. Decided on the very inode whose ACL is then written, never on a
 * name that may have changed since.
 */
static bool is_linked(const struct stat *st)
{
	return !S_ISDIR(st->st_mode) && st->st_nlink > 1;
}

/*
 * want = cur with group:GID:rwx (none on a linked file, see is_linked()) and
 * the mask recomputed; false when full.
 */
static bool grant_access(struct walker *t, const struct xacl *cur, struct xacl *want, const struct stat *st)
{
	xacl_copy(want, cur);
	if (is_linked(st))
		xacl_remove_group(want, t->w->gid);
	else if (!xacl_set_group(want, t->w->gid, PERM_RWX))
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
	if (!grant_access(t, &t->cur, &t->want, st))
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

/* A grant's file left without the group's entry (more than one link): counted, and noted. */
static void count_linked(struct walker *t, const char *dir_path, const char *name)
{
	t->stats.linked++;
	note(t, linked_list, dir_path, name);
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
	if (!err && t->w->mode == ACL_WALK_GRANT && is_linked(st))
		count_linked(t, dir_path, name);
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
 * Stats name for the name route: MINE for a regular file of owner_uid's;
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
 * Reads name's access ACL into t->cur. 1: read; 0: it has none; -1: the name
 * route cannot tell (*result says what to do: DONE, counted, or BY_FD).
 */
static int read_acl_by_name(struct walker *t, const struct dir_ref *dir, const char *name,
			    enum by_name_result *result)
{
	long size = getxattr_at(dir->fd, name, XATTR_ACCESS, t->xbuf, XACL_SMALL_SIZE);

	if (size < 0 && errno == ERANGE)
		size = getxattr_at(dir->fd, name, XATTR_ACCESS, t->xbuf, sizeof(t->xbuf));
	if (size >= 0) {
		if (xacl_decode(&t->cur, t->xbuf, (size_t)size) < 0) {
			*result = BY_FD;
			return -1;
		}
		return 1;
	}
	switch (errno) {
	case ENODATA:
		return 0;
	case ENOENT: /* vanished */
		t->stats.skipped++;
		*result = DONE;
		return -1;
	case ENOSYS: /* before Linux 6.13 */
	case EPERM:  /* a seccomp filter that does not know the call */
		atomic_store(&t->w->no_xattrat, true);
		*result = BY_FD;
		return -1;
	default: /* EOPNOTSUPP (a symlink now), EACCES...: the fd route tells */
		*result = BY_FD;
		return -1;
	}
}

/* Writes t->cur as name's access ACL. DONE (counted as changed or skipped), or BY_FD. */
static enum by_name_result write_acl_by_name(struct walker *t, const struct dir_ref *dir, const char *name)
{
	long size = (long)xacl_encode(&t->cur, t->xbuf);
	struct stat st;

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

/*
 * A revoke of a regular file in 1 or 2 syscalls, without opening it:
 * getxattrat, and only when the group's entry is there, setxattrat, both
 * with (dir->fd, name, AT_SYMLINK_NOFOLLOW).
 *
 * Why this is as safe as the fd route: name is a single component (getdents
 * gives no '/'), looked up in a directory we hold open by fd and reached
 * without following any symlink, and AT_SYMLINK_NOFOLLOW acts on a symlink
 * itself (where an ACL xattr fails with EOPNOTSUPP), so only an entry of that
 * very directory can be touched, never anything outside the tree. Whose entry
 * it is: the kernel lets only the owner set an ACL, and w->by_name is only set
 * when we are owner_uid without CAP_FOWNER, so an entry the human does not own
 * cannot change, whenever it is swapped in (setxattrat fails with EPERM; a
 * stat then counts it as not owned, or the fd route looks again). If the
 * agent swaps names between the read and the write, the second entry loses
 * the group's entry, computed from the first's ACL: taking access away
 * gives it nothing.
 *
 * When w->by_name is not set (we run as root, say), only the read is done:
 * a file without the group's entry needs nothing; anything else goes the fd
 * route, where the decision is made again on the opened fd.
 */
static enum by_name_result revoke_by_name(struct walker *t, struct dir_ref *dir, const char *name)
{
	enum by_name_result result;
	int has_acl = read_acl_by_name(t, dir, name, &result);

	if (has_acl < 0)
		return result;
	/* No ACL, or none for the group: nothing to take back. */
	if (!has_acl || !xacl_remove_group(&t->cur, t->w->gid)) {
		t->stats.unchanged++;
		return DONE;
	}
	if (!t->w->by_name)
		return BY_FD;
	xacl_fix_mask(&t->cur);
	return write_acl_by_name(t, dir, name);
}

/*
 * A grant of a regular file by name: fstatat (owner, mode, links), getxattrat,
 * and only when a change is needed, setxattrat.
 *
 * The write goes by name only in a directory that no one but the human could
 * write when the walk opened it (dir->closed), and that the walk does not
 * open to the group before its files are done (directories are granted
 * last): there no one else can swap the name between the fstatat, which
 * decides how many links the file has, and the write. Anywhere else a name
 * may be swapped for a hard link of a file outside the share in between, so
 * the file goes the fd route, which decides and writes on one opened inode.
 * The read-only check (the ACL is already as wanted) stays by name
 * everywhere: writing nothing gives nothing (at worst, a swap between the
 * fstatat and the read keeps an entry that a linked file had already).
 *
 * When w->by_name is not set (we run as root, say), only that check is done,
 * as in revoke_by_name().
 */
static enum by_name_result grant_by_name(struct walker *t, struct dir_ref *dir, const char *name)
{
	enum by_name_result result = stat_own_file(t, dir, name, &t->st);
	int has_acl;

	if (result != MINE)
		return result;
	has_acl = read_acl_by_name(t, dir, name, &result);
	if (has_acl < 0)
		return result;
	if (!has_acl)
		xacl_from_mode(&t->cur, t->st.st_mode);
	if (!grant_access(t, &t->cur, &t->want, &t->st))
		return BY_FD; /* full: the fd route reports it */
	if (xacl_equal(&t->cur, &t->want)) {
		t->stats.unchanged++;
		result = DONE;
	} else if (!t->w->by_name || !dir->closed) {
		return BY_FD;
	} else {
		size_t changed = t->stats.changed;

		xacl_copy(&t->cur, &t->want);
		result = write_acl_by_name(t, dir, name);
		if (result != DONE || t->stats.changed == changed)
			return result; /* the fd route, or vanished, or not the human's */
	}
	if (is_linked(&t->st))
		count_linked(t, dir->path, name);
	return result;
}

static enum by_name_result file_by_name(struct walker *t, struct dir_ref *dir, const char *name)
{
	if (t->w->mode == ACL_WALK_REVOKE)
		return revoke_by_name(t, dir, name);
	return grant_by_name(t, dir, name);
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
static enum open_result open_entry(struct walker *t, const struct dir_ref *dir, const char *dir_path,
				   const char *name, unsigned char hint, struct node *n)
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
			report(t, dir_path, name, "open", errno);
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
	report(t, dir_path, name, "open", errno);
	return FAILED;
}

/* A folder of someone else's that the walk could not read into. */
static void count_unreadable(struct walker *t, const char *dir_path, const char *name)
{
	t->stats.unreadable++;
	note(t, unreadable_list, dir_path, name);
}

/*
 * Visits one directory entry by fd. Returns a readable fd of it when it is a
 * directory to descend into (*st its fstat), else -1. A grant leaves such a
 * directory's own entries for later (dir_ref_put()); a revoke takes them
 * back now, before anything inside is listed.
 */
static int visit(struct walker *t, const struct dir_ref *dir, const char *dir_path, const char *name,
		 unsigned char hint, struct stat *st)
{
	autoclose int fd = -1;
	struct node n;
	size_t unchanged;
	int sub_fd;

	if (hint == DT_LNK) { /* never followed; no need to open it to know */
		t->stats.skipped++;
		return -1;
	}
	switch (open_entry(t, dir, dir_path, name, hint, &n)) {
	case GONE:
		t->stats.skipped++;
		return -1;
	case FAILED:
		return -1;
	case OPENED:
		break;
	}
	fd = n.fd;
	if (fstat(fd, st) < 0) {
		report(t, dir_path, name, "stat", errno);
		return -1;
	}
	if (S_ISLNK(st->st_mode)) { /* only with O_PATH: the link itself */
		t->stats.skipped++;
		return -1;
	}
	if (!S_ISDIR(st->st_mode) || t->w->mode == ACL_WALK_REVOKE) {
		unchanged = t->stats.unchanged;
		apply(t, dir_path, &n, st, name);
		/* The read-only check pays while the files before were already as wanted. */
		if (hint == DT_REG)
			t->prefilter = t->stats.unchanged != unchanged;
	}
	if (!S_ISDIR(st->st_mode))
		return -1;
	if (n.is_path) {
		/* "." of the O_PATH fd is the same directory, now opened for reading. */
		sub_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub_fd < 0 && st->st_uid == t->w->owner_uid)
			report(t, dir_path, name, "read directory", errno);
		else if (sub_fd < 0 && errno == EACCES)
			count_unreadable(t, dir_path, name);
		else if (sub_fd < 0)
			report(t, dir_path, name, "read directory", errno);
	} else {
		sub_fd = steal_fd(&fd);
	}
	/* A grant of a directory the walk will not descend into is not left for later. */
	if (sub_fd < 0 && t->w->mode == ACL_WALK_GRANT)
		apply(t, dir_path, &n, st, name);
	return sub_fd;
}

/*
 * A regular file (going by d_type), in either thread. One that turned into a
 * directory since getdents has its own ACL set but is not descended into:
 * only the walking thread descends, and only the agent swaps entries mid-walk.
 */
static void visit_file(struct walker *t, struct dir_ref *dir, const char *name)
{
	struct stat st;
	int sub_fd;

	if ((t->w->by_name || t->prefilter) && !atomic_load(&t->w->no_xattrat) &&
	    file_by_name(t, dir, name) == DONE)
		return;
	sub_fd = visit(t, dir, dir->path, name, DT_REG, &st);
	if (sub_fd >= 0) {
		struct node n = { sub_fd, false };

		if (t->w->mode == ACL_WALK_GRANT)
			apply(t, dir->path, &n, &st, name);
		close(sub_fd);
	}
}

/*
 * True when no one but its owner may write the directory open at n (of
 * st), going by its mode and access ACL: then no one but the human and root
 * can rename what it holds. Anything unclear counts as open.
 */
static bool only_owner_writes(struct walker *t, const struct node *n, const struct stat *st)
{
	uint16_t mask = PERM_RWX;

	if (st->st_uid != t->w->owner_uid || read_acl(t, n, XATTR_ACCESS, st->st_mode, &t->dcur))
		return false;
	for (size_t i = 0; i < t->dcur.nr; i++) {
		if (t->dcur.e[i].tag == TAG_MASK)
			mask = t->dcur.e[i].perm;
	}
	for (size_t i = 0; i < t->dcur.nr; i++) {
		const struct xacl_entry *e = &t->dcur.e[i];

		if (e->tag == TAG_OTHER ? e->perm & 2 : e->tag != TAG_USER_OBJ && e->tag != TAG_MASK &&
							(e->perm & mask & 2))
			return false;
	}
	return true;
}

static struct dir_ref *dir_ref_new(struct walker *t, int fd, const struct stat *st)
{
	struct dir_ref *d = xcalloc(1, sizeof(*d));
	struct node n = { fd, false };

	d->fd = fd;
	d->dev = st->st_dev;
	d->ino = st->st_ino;
	if (t->w->mode == ACL_WALK_GRANT) {
		d->deferred = true;
		d->closed = only_owner_writes(t, &n, st);
	}
	atomic_init(&d->refs, 1);
	return d;
}

static struct dir_ref *dir_ref_get(struct dir_ref *d)
{
	atomic_fetch_add(&d->refs, 1);
	return d;
}

/*
 * Lets a directory go; the last one to do so grants it its own entries (now
 * that its files are done) and closes it. walking_path is its display path
 * when the walking thread lets it go from its frame (d->path is set whenever
 * a batch, which either thread may finish, held it).
 */
static void dir_ref_put(struct walker *t, struct dir_ref *d, const char *walking_path)
{
	struct stat st;

	if (atomic_fetch_sub(&d->refs, 1) != 1)
		return;
	if (d->deferred && d->fd >= 0) {
		const char *path = d->path ? d->path : walking_path;
		struct node n = { d->fd, false };

		/* No walking_path only from run_batch(): a batch's directory kept its path (add_file()). */
		assert(path);
		if (fstat(d->fd, &st) < 0)
			report(t, path, NULL, "stat", errno);
		else
			apply(t, path, &n, &st, NULL);
	}
	if (d->fd >= 0)
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
	dir_ref_put(t, b->dir, NULL);
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

/*
 * Adds a regular file's name to f's batch, handing the batch out when full.
 * path is f's display path: a batch may outlive the frame, so its directory
 * keeps a copy from now on.
 */
static void add_file(struct walker *t, struct frame *f, const char *path, const char *name)
{
	size_t len = strlen(name) + 1;
	struct batch *b = f->batch;

	if (b && (b->nr == BATCH_FILES || b->used + len > sizeof(b->names))) {
		submit(t, b);
		b = f->batch = NULL;
	}
	if (!b) {
		if (!f->dir->path)
			f->dir->path = xstrdup(path);
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
static struct dirent64 *next_dirent(struct walker *t, struct frame *f, const char *path)
{
	struct dirent64 *d;

	if (f->pos >= f->len) {
		ssize_t len = getdents64(f->dir->fd, f->buf, DIRENT_BUF_SIZE);

		if (len < 0)
			report(t, path, NULL, "read directory", errno);
		if (len <= 0)
			return NULL;
		f->len = (size_t)len;
		f->pos = 0;
	}
	d = (struct dirent64 *)(f->buf + f->pos);
	f->pos += d->d_reclen;
	f->next_off = d->d_off;
	return d;
}

/* ---- deep trees ---- */

/*
 * The stack of directories being listed, with its display path. Frames
 * 1 to evicted - 1 are closed (fd, buffer): only the MAX_OPEN_DIRS deepest
 * and the top (frame 0, the caller's) hold an fd, so that no depth exhausts
 * fds or memory for buffers. A closed frame is opened again when the walk
 * comes back to it: by ".." from the child just done, which is the folder
 * that holds the child now, and it must be the same directory (device and
 * inode) that was closed, or the walk has lost its way (the agent moved its
 * folders meanwhile) and says so.
 */
struct stack {
	struct frame *frames;
	size_t nr, alloc;
	size_t evicted; /* frames 1 .. evicted - 1 are closed */
	struct strbuf path;
	bool path_cut;  /* the display path stopped growing ("/...") */
};

/* The display path of a new frame: name appended, unless that would make it too long. */
static void path_push(struct stack *s, const char *name)
{
	size_t len = strlen(name);

	if (!s->path.len || s->path.buf[s->path.len - 1] != '/') {
		if (s->path.len + 1 + len > DISPLAY_MAX) {
			if (!s->path_cut)
				strbuf_addstr(&s->path, "/...");
			s->path_cut = true;
			return;
		}
		strbuf_addch(&s->path, '/');
	}
	strbuf_addstr(&s->path, name);
}

static void push(struct walker *t, struct stack *s, int fd, const struct stat *st, const char *name)
{
	struct frame *f;

	if (name)
		path_push(s, name);
	ALLOC_GROW(s->frames, s->nr, s->alloc);
	f = &s->frames[s->nr++];
	memset(f, 0, sizeof(*f));
	f->dir = dir_ref_new(t, fd, st);
	f->path_len = s->path.len;
	f->path_cut = s->path_cut;
	f->buf = xmalloc(DIRENT_BUF_SIZE);
}

/* Closes the frame nearest the top that is still open, when too many are. */
static void evict(struct walker *t, struct stack *s)
{
	struct frame *f;
	struct batch *b;

	if (s->evicted < 1)
		s->evicted = 1;
	if (s->nr - s->evicted + 1 <= t->w->max_open_dirs || s->evicted >= s->nr - 1)
		return;
	f = &s->frames[s->evicted];
	/* A batch of its files may still hold the fd: finish them first (the worker's own soon ends). */
	while (atomic_load(&f->dir->refs) > 1) {
		if ((b = take(t->w, false)))
			run_batch(t, b);
		else
			sched_yield();
	}
	close(f->dir->fd);
	f->dir->fd = -1;
	free(f->buf);
	f->buf = NULL;
	s->evicted++;
}

/*
 * Opens the closed frame p again by ".." of its child c (still open), and
 * seeks to where its listing stopped. False when ".." is no longer p.
 */
static bool reopen(struct frame *p, const struct frame *c)
{
	int fd = c->dir->fd < 0 ? -1 : openat(c->dir->fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0 || st.st_dev != p->dir->dev || st.st_ino != p->dir->ino ||
	    lseek(fd, p->next_off, SEEK_SET) == (off_t)-1) {
		close(fd);
		return false;
	}
	p->dir->fd = fd;
	p->buf = xmalloc(DIRENT_BUF_SIZE);
	p->pos = p->len = 0;
	return true;
}

static void pop(struct walker *t, struct stack *s)
{
	struct frame *f = &s->frames[--s->nr];

	flush_files(t, f);
	if (s->nr > 1 && s->nr - 1 < s->evicted) {
		struct frame *p = &s->frames[s->nr - 1];

		s->evicted = s->nr - 1;
		if (!reopen(p, f)) {
			/* Its parent, and theirs up to an open one, can only be lost with it. */
			p->lost = true;
			if (!f->lost) {
				autofree char *shown = NULL;

				s->path.len = p->path_len;
				s->path.buf[s->path.len] = '\0';
				shown = escape_display(s->path.buf);
				pthread_mutex_lock(&t->w->out_lock);
				progress_clear(t->w);
				error("lost the way back to '%s' (folders were moved during the walk): what was "
				      "left of it was not done", shown);
				pthread_mutex_unlock(&t->w->out_lock);
				s->path.len = f->path_len;
				s->path.buf[s->path.len] = '\0';
			}
		}
	}
	if (f->lost) {
		t->stats.lost++;
		note(t, lost_list, s->path.buf, NULL);
	}
	dir_ref_put(t, f->dir, s->path.buf);
	free(f->buf);
	if (s->nr) {
		s->path.len = s->frames[s->nr - 1].path_len;
		s->path.buf[s->path.len] = '\0';
		s->path_cut = s->frames[s->nr - 1].path_cut;
	}
}

static void walk_tree(struct walker *t, struct walker *other, int root_fd, const struct stat *root_st,
		      const char *root_path)
{
	struct walk *w = t->w;
	struct stack s = { .path = STRBUF_INIT, .evicted = 1 };

	strbuf_addstr(&s.path, root_path);
	push(t, &s, root_fd, root_st, NULL);
	while (s.nr) {
		struct frame *f = &s.frames[s.nr - 1];
		struct dirent64 *d = f->lost ? NULL : next_dirent(t, f, s.path.buf);
		struct stat st;
		int sub_fd;

		if (!d) {
			pop(t, &s);
			continue;
		}
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		progress_tick(w);
		if (other && !w->threaded && w->seen == THREAD_AFTER)
			start_worker(w, other);
		if (d->d_type == DT_REG) {
			add_file(t, f, s.path.buf, d->d_name);
			continue;
		}
		sub_fd = visit(t, f->dir, s.path.buf, d->d_name, d->d_type, &st);
		if (sub_fd < 0)
			continue;
		/* Its files go out now, not after the whole subtree. */
		flush_files(t, f);
		push(t, &s, sub_fd, &st, d->d_name);
		evict(t, &s);
	}
	free(s.frames);
	strbuf_release(&s.path);
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
	sum->linked += s->linked;
	sum->unreadable += s->unreadable;
	sum->lost += s->lost;
}

void acl_walk_notes_release(struct acl_walk_notes *notes)
{
	strvec_clear(&notes->linked);
	strvec_clear(&notes->unreadable);
	strvec_clear(&notes->lost);
}

int acl_walk(int dir_fd, const char *display_path, gid_t gid, uid_t owner_uid,
	     enum acl_walk_mode mode, bool progress, struct acl_walk_stats *stats)
{
	return acl_walk_noting(dir_fd, display_path, gid, owner_uid, mode, progress, stats, NULL);
}

int acl_walk_noting(int dir_fd, const char *display_path, gid_t gid, uid_t owner_uid,
		    enum acl_walk_mode mode, bool progress, struct acl_walk_stats *stats,
		    struct acl_walk_notes *notes)
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
		.notes = notes,
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

	/* Up to MAX_OPEN_DIRS levels of the tree hold an fd open, and batches a few more. */
	if (!getrlimit(RLIMIT_NOFILE, &old_nofile) && old_nofile.rlim_cur < old_nofile.rlim_max) {
		nofile = old_nofile;
		nofile.rlim_cur = nofile.rlim_max;
		raised = !setrlimit(RLIMIT_NOFILE, &nofile);
	}
	/* A quarter of what we may open, for the stack; the rest for batches, the worker, the caller. */
	w.max_open_dirs = MAX_OPEN_DIRS;
	if (!getrlimit(RLIMIT_NOFILE, &nofile) && nofile.rlim_cur / 4 < MAX_OPEN_DIRS)
		w.max_open_dirs = nofile.rlim_cur / 4 < 4 ? 4 : nofile.rlim_cur / 4;

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
		/* A grant gives the top its entries last, as every directory (dir_ref_put()). */
		if (mode == ACL_WALK_REVOKE)
			apply(&t[0], display_path, &root, &st, NULL);
		walk_tree(&t[0], &t[1], root_fd, &st, display_path);
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
	return stats->errors || stats->lost ? -1 : 0;
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

bool acl_only_owner_writes(int fd, const struct stat *st)
{
	unsigned char buf[XACL_MAX_SIZE];
	struct node n = { fd, false };
	autofree struct xacl *acl = NULL;
	uint16_t mask = PERM_RWX;
	ssize_t size;

	size = node_getxattr(&n, XATTR_ACCESS, buf, sizeof(buf));
	if (size < 0 && errno == EBADF) { /* an O_PATH fd */
		n.is_path = true;
		size = node_getxattr(&n, XATTR_ACCESS, buf, sizeof(buf));
	}
	if (size < 0)
		return (errno == ENODATA || errno == EOPNOTSUPP) && !(st->st_mode & (S_IWGRP | S_IWOTH));
	acl = xmalloc(sizeof(*acl));
	if (xacl_decode(acl, buf, (size_t)size) < 0)
		return false;
	for (size_t i = 0; i < acl->nr; i++) {
		if (acl->e[i].tag == TAG_MASK)
			mask = acl->e[i].perm;
	}
	for (size_t i = 0; i < acl->nr; i++) {
		const struct xacl_entry *e = &acl->e[i];

		if (e->tag == TAG_OTHER ? e->perm & 2 : e->tag != TAG_USER_OBJ && e->tag != TAG_MASK &&
							(e->perm & mask & 2))
			return false;
	}
	return true;
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
