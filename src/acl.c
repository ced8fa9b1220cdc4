/*
 * acl.c: the read-write sharing walk. Gives (or takes back) group:GID:rwx on a
 * tree of the human's files, as the human, while the agent may be rearranging
 * that very tree to make us write an ACL somewhere else.
 *
 * The defence is that no path string is ever resolved: every entry is opened
 * with openat(parent_fd, name, O_NOFOLLOW) from the fd of a directory we opened
 * ourselves the same way, never through "..", and everything after that acts
 * on the fd (what fstat says it is, not what getdents said). A symlink swapped
 * in at any moment makes the open fail (ELOOP/ENOTDIR) or, with O_PATH, hands
 * us the link itself, which we skip. Where an fd cannot carry an xattr call
 * (O_PATH), "/proc/self/fd/N" names exactly the inode we opened.
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

/* getxattrat(2) came in Linux 6.13; glibc 2.36 knows neither it nor its struct. */
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

struct frame {
	int fd;          /* the directory, opened by us, readable */
	size_t path_len; /* length of its display path in walk.path */
	char *buf;       /* getdents64 records */
	size_t pos, len;
};

struct walk {
	gid_t gid;
	uid_t owner_uid;
	enum acl_walk_mode mode;
	struct acl_walk_stats *stats;
	struct strbuf path; /* display path of the directory being read */

	bool prefilter;   /* try the one-syscall check on regular files */
	bool no_getxattrat; /* the kernel has no getxattrat(2) */

	bool progress;
	bool progress_shown;
	size_t seen;
	struct timespec progress_last;

	/* Scratch, too large for the stack. */
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

static void progress_clear(struct walk *w)
{
	static const char clear[] = "\r\033[K";

	if (w->progress_shown) {
		write_all(STDERR_FILENO, clear, sizeof(clear) - 1);
		w->progress_shown = false;
	}
}

static void progress_tick(struct walk *w)
{
	struct timespec now;
	char line[64];
	int len;

	w->seen++;
	if (!w->progress || w->seen < PROGRESS_AFTER || w->seen % 64)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (w->progress_shown &&
	    (now.tv_sec - w->progress_last.tv_sec) * 1000000000L +
			    (now.tv_nsec - w->progress_last.tv_nsec) < PROGRESS_INTERVAL_NS)
		return;
	w->progress_last = now;
	len = snprintf(line, sizeof(line), "\r  %zu entries...", w->seen);
	write_all(STDERR_FILENO, line, (size_t)len);
	w->progress_shown = true;
}

/*
 * Reports "cannot WHAT 'dir/name': error" (no ": error" when errnum is 0) and
 * counts it. name may be NULL: the directory itself.
 */
static void report(struct walk *w, const char *name, const char *what, int errnum)
{
	size_t len = w->path.len;
	autofree char *shown = NULL;

	if (name) {
		if (!len || w->path.buf[len - 1] != '/')
			strbuf_addch(&w->path, '/');
		strbuf_addstr(&w->path, name);
	}
	shown = escape_display(strbuf_str(&w->path));
	w->path.len = len;
	w->path.buf[len] = '\0';

	progress_clear(w);
	if (errnum) {
		errno = errnum;
		error_errno("cannot %s '%s'", what, shown);
	} else {
		error("cannot %s '%s'", what, shown);
	}
	w->stats->errors++;
}

/*
 * Reads one ACL of n into acl. A missing access ACL is the mode's; a missing
 * default ACL is empty. Returns 0, or an errno.
 */
static int read_acl(struct walk *w, const struct node *n, const char *xname, mode_t mode,
		    struct xacl *acl)
{
	/*
	 * The kernel zeroes a buffer of the size we offer (do_getxattr()):
	 * offering 64 KiB every time cost more than the rest of the walk. Most
	 * ACLs fit in a few entries; ERANGE means offer it all.
	 */
	ssize_t size = node_getxattr(n, xname, w->xbuf, XACL_SMALL_SIZE);

	if (size < 0 && errno == ERANGE)
		size = node_getxattr(n, xname, w->xbuf, sizeof(w->xbuf));
	if (size < 0) {
		if (errno != ENODATA)
			return errno;
		if (!strcmp(xname, XATTR_ACCESS))
			xacl_from_mode(acl, mode);
		else
			acl->nr = 0;
		return 0;
	}
	if (xacl_decode(acl, w->xbuf, (size_t)size) < 0)
		return EINVAL;
	return 0;
}

static int write_acl(struct walk *w, const struct node *n, const char *xname,
		     const struct xacl *acl)
{
	size_t size = xacl_encode(acl, w->xbuf);

	return node_setxattr(n, xname, w->xbuf, size) < 0 ? errno : 0;
}

/* want = cur with group:GID:rwx and the mask recomputed; false when full. */
static bool grant_access(struct walk *w, const struct xacl *cur, struct xacl *want)
{
	xacl_copy(want, cur);
	if (!xacl_set_group(want, w->gid, PERM_RWX))
		return false;
	xacl_fix_mask(want);
	return true;
}

/*
 * Grants group:GID:rwx on n (and the default entry and setgid on a
 * directory). Sets *changed when anything had to be written. Returns 0 or an
 * errno, with *what saying which step failed.
 */
static int grant_node(struct walk *w, const struct node *n, const struct stat *st, bool *changed,
		      const char **what)
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
	err = read_acl(w, n, XATTR_ACCESS, st->st_mode, &w->cur);
	if (err)
		return err;
	*what = "set the ACL of";
	if (!grant_access(w, &w->cur, &w->want))
		return ENOSPC;
	if (!xacl_equal(&w->cur, &w->want)) {
		err = write_acl(w, n, XATTR_ACCESS, &w->want);
		if (err)
			return err;
		*changed = true;
	}
	if (!dir)
		return 0;

	*what = "read the default ACL of";
	err = read_acl(w, n, XATTR_DEFAULT, st->st_mode, &w->dcur);
	if (err)
		return err;
	if (w->dcur.nr)
		xacl_copy(&w->dwant, &w->dcur);
	else
		xacl_base_of(&w->dwant, &w->cur);
	*what = "set the default ACL of";
	if (!xacl_set_group(&w->dwant, w->gid, PERM_RWX))
		return ENOSPC;
	xacl_fix_mask(&w->dwant);
	if (!xacl_equal(&w->dcur, &w->dwant)) {
		err = write_acl(w, n, XATTR_DEFAULT, &w->dwant);
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
static int revoke_node(struct walk *w, const struct node *n, const struct stat *st, bool *changed,
		       const char **what)
{
	int err;

	*what = "read the ACL of";
	err = read_acl(w, n, XATTR_ACCESS, st->st_mode, &w->cur);
	if (err)
		return err;
	*what = "set the ACL of";
	if (xacl_remove_group(&w->cur, w->gid)) {
		xacl_fix_mask(&w->cur);
		err = write_acl(w, n, XATTR_ACCESS, &w->cur);
		if (err)
			return err;
		*changed = true;
	}
	if (!S_ISDIR(st->st_mode))
		return 0;

	*what = "read the default ACL of";
	err = read_acl(w, n, XATTR_DEFAULT, st->st_mode, &w->dcur);
	if (err)
		return err;
	*what = "set the default ACL of";
	if (xacl_remove_group(&w->dcur, w->gid)) {
		if (xacl_has_named(&w->dcur)) {
			xacl_fix_mask(&w->dcur);
			err = write_acl(w, n, XATTR_DEFAULT, &w->dcur);
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
static void apply(struct walk *w, const struct node *n, const struct stat *st, const char *name)
{
	bool changed = false;
	const char *what = "change";
	int err;

	if (st->st_uid != w->owner_uid) {
		w->stats->not_owned++;
		return;
	}
	if (w->mode == ACL_WALK_GRANT)
		err = grant_node(w, n, st, &changed, &what);
	else
		err = revoke_node(w, n, st, &changed, &what);
	if (err == ENOENT) /* an O_PATH entry unlinked under us */
		w->stats->skipped++;
	else if (err)
		report(w, name, what, err);
	else if (changed)
		w->stats->changed++;
	else
		w->stats->unchanged++;
}

/* ---- the walk ---- */

/*
 * A re-run over a tree that is already as wanted should cost next to nothing,
 * and opening every file is most of the cost. So for a regular file (going by
 * d_type) we first read its access ACL by name, with getxattrat(dir_fd, name,
 * AT_SYMLINK_NOFOLLOW): one syscall, relative to our own directory fd, never
 * following a symlink, and read-only. When that ACL already is what we would
 * write, there is nothing to do. Anything else goes the fd way, where the
 * decision is made again on what the opened fd is: this read only ever saves
 * work, it never decides a write. (A file that is already as wanted is
 * counted as unchanged even when it is not the owner's.)
 *
 * On a tree that needs changes the check would be wasted, so it is only tried
 * while the files before were already as wanted.
 */
static bool already_as_wanted(struct walk *w, int dir_fd, const char *name)
{
	struct xattr_args_v0 args = { .value = (uintptr_t)w->xbuf, .size = XACL_SMALL_SIZE };
	long size = syscall(SYS_getxattrat, dir_fd, name, AT_SYMLINK_NOFOLLOW, XATTR_ACCESS,
			    &args, sizeof(args));

	if (size < 0) {
		if (errno == ENOSYS)
			w->no_getxattrat = true;
		/* No ACL at all: nothing to take back, everything to grant. */
		return errno == ENODATA && w->mode == ACL_WALK_REVOKE;
	}
	if (xacl_decode(&w->cur, w->xbuf, (size_t)size) < 0)
		return false;
	if (w->mode == ACL_WALK_REVOKE)
		return !xacl_remove_group(&w->cur, w->gid);
	return grant_access(w, &w->cur, &w->want) && xacl_equal(&w->cur, &w->want);
}

enum open_result { OPENED, GONE, FAILED };

/*
 * Opens name in dir_fd without following a symlink. Regular files and
 * directories (and entries of unknown type) get a real read-only fd; the
 * O_NONBLOCK keeps a fifo swapped in for a file from blocking us. Everything
 * else, and whatever we may not read, is opened O_PATH, which never opens a
 * device or fifo for real.
 */
static enum open_result open_entry(struct walk *w, int dir_fd, const char *name,
				   unsigned char hint, struct node *n)
{
	if (hint == DT_REG || hint == DT_DIR || hint == DT_UNKNOWN) {
		int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;

		if (hint == DT_DIR)
			flags |= O_DIRECTORY;
		/* O_NOATIME: the walk should not look like the human read everything. */
		n->fd = openat(dir_fd, name, flags | O_NOATIME);
		if (n->fd < 0 && errno == EPERM)
			n->fd = openat(dir_fd, name, flags);
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
			report(w, name, "open", errno);
			return FAILED;
		default: /* EACCES, ENXIO, a lease...: the inode is still reachable */
			break;
		}
	}
	n->fd = openat(dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (n->fd >= 0) {
		n->is_path = true;
		return OPENED;
	}
	if (errno == ENOENT)
		return GONE;
	report(w, name, "open", errno);
	return FAILED;
}

/*
 * Visits one directory entry. Returns a readable fd of it when it is a
 * directory to descend into, else -1.
 */
static int visit(struct walk *w, int dir_fd, const char *name, unsigned char hint)
{
	autoclose int fd = -1;
	struct node n;
	struct stat st;
	size_t unchanged;
	int sub_fd;

	progress_tick(w);
	if (hint == DT_LNK) { /* never followed; no need to open it to know */
		w->stats->skipped++;
		return -1;
	}
	if (hint == DT_REG && w->prefilter && !w->no_getxattrat) {
		if (already_as_wanted(w, dir_fd, name)) {
			w->stats->unchanged++;
			return -1;
		}
		w->prefilter = false;
	}
	switch (open_entry(w, dir_fd, name, hint, &n)) {
	case GONE:
		w->stats->skipped++;
		return -1;
	case FAILED:
		return -1;
	case OPENED:
		break;
	}
	fd = n.fd;
	if (fstat(fd, &st) < 0) {
		report(w, name, "stat", errno);
		return -1;
	}
	if (S_ISLNK(st.st_mode)) { /* only with O_PATH: the link itself */
		w->stats->skipped++;
		return -1;
	}
	unchanged = w->stats->unchanged;
	apply(w, &n, &st, name);
	if (hint == DT_REG)
		w->prefilter = w->stats->unchanged != unchanged;
	if (!S_ISDIR(st.st_mode))
		return -1;
	if (!n.is_path)
		return steal_fd(&fd);

	/* "." of the O_PATH fd is the same directory, now opened for reading. */
	sub_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub_fd < 0 && (st.st_uid == w->owner_uid || errno != EACCES))
		report(w, name, "read directory", errno);
	/* The agent's unreadable directories hold nothing we could reach. */
	return sub_fd;
}

/* The next record of f, reading more when needed; NULL at the end. */
static struct dirent64 *next_dirent(struct walk *w, struct frame *f)
{
	struct dirent64 *d;

	if (f->pos >= f->len) {
		ssize_t len = getdents64(f->fd, f->buf, DIRENT_BUF_SIZE);

		if (len < 0)
			report(w, NULL, "read directory", errno);
		if (len <= 0)
			return NULL;
		f->len = (size_t)len;
		f->pos = 0;
	}
	d = (struct dirent64 *)(f->buf + f->pos);
	f->pos += d->d_reclen;
	return d;
}

static void push(struct walk *w, struct frame **stack, size_t *nr, size_t *alloc, int fd,
		 const char *name)
{
	struct frame *f;

	if (name) {
		if (!w->path.len || w->path.buf[w->path.len - 1] != '/')
			strbuf_addch(&w->path, '/');
		strbuf_addstr(&w->path, name);
	}
	ALLOC_GROW(*stack, *nr, *alloc);
	f = &(*stack)[(*nr)++];
	f->fd = fd;
	f->path_len = w->path.len;
	f->buf = xmalloc(DIRENT_BUF_SIZE);
	f->pos = f->len = 0;
}

static void pop(struct walk *w, struct frame *stack, size_t *nr)
{
	struct frame *f = &stack[--(*nr)];

	close(f->fd);
	free(f->buf);
	if (*nr) {
		w->path.len = stack[*nr - 1].path_len;
		w->path.buf[w->path.len] = '\0';
	}
}

static void walk_tree(struct walk *w, int root_fd)
{
	autofree struct frame *stack = NULL;
	size_t nr = 0, alloc = 0;

	push(w, &stack, &nr, &alloc, root_fd, NULL);
	while (nr) {
		struct frame *f = &stack[nr - 1];
		struct dirent64 *d = next_dirent(w, f);
		int sub_fd;

		if (!d) {
			pop(w, stack, &nr);
			continue;
		}
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		sub_fd = visit(w, f->fd, d->d_name, d->d_type);
		if (sub_fd < 0)
			continue;
		if (nr >= MAX_DEPTH) {
			report(w, d->d_name, "descend more than " STR(MAX_DEPTH) " levels, into", 0);
			close(sub_fd);
			continue;
		}
		push(w, &stack, &nr, &alloc, sub_fd, d->d_name);
	}
}

int acl_walk(int dir_fd, const char *display_path, gid_t gid, uid_t owner_uid,
	     enum acl_walk_mode mode, bool progress, struct acl_walk_stats *stats)
{
	autofree struct walk *w = xcalloc(1, sizeof(*w));
	struct rlimit old_nofile, nofile;
	bool raised = false;
	struct node root;
	struct stat st;
	int root_fd;

	memset(stats, 0, sizeof(*stats));
	w->gid = gid;
	w->owner_uid = owner_uid;
	w->mode = mode;
	w->stats = stats;
	w->progress = progress && isatty(STDERR_FILENO);
	w->prefilter = true;
	strbuf_addstr(&w->path, display_path);

	/* Every level of the tree holds an fd open. */
	if (!getrlimit(RLIMIT_NOFILE, &old_nofile) && old_nofile.rlim_cur < old_nofile.rlim_max) {
		nofile = old_nofile;
		nofile.rlim_cur = nofile.rlim_max;
		raised = !setrlimit(RLIMIT_NOFILE, &nofile);
	}

	/* Our own open file description, so that reading it moves no offset of the caller's. */
	root_fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (root_fd < 0) {
		report(w, NULL, "read directory", errno);
	} else if (fstat(root_fd, &st) < 0) {
		report(w, NULL, "stat", errno);
		close(root_fd);
	} else {
		root.fd = root_fd;
		root.is_path = false;
		progress_tick(w);
		apply(w, &root, &st, NULL);
		walk_tree(w, root_fd);
	}

	progress_clear(w);
	strbuf_release(&w->path);
	if (raised)
		setrlimit(RLIMIT_NOFILE, &old_nofile);
	return stats->errors ? -1 : 0;
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
