/* share-record.c: the per-share record of the human's repositories and protected entries (see share-record.h). */
#include "share-record.h"
#include "config.h"
#include "hash.h"
#include "paths.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define RECORD_MAGIC "au-share-record 1"
#define RECORD_MAX_SIZE (64u << 20)

void record_add(struct record_item **items, size_t *nr, size_t *alloc, const char *rel, dev_t dev, ino_t ino)
{
	ALLOC_GROW(*items, *nr, *alloc);
	(*items)[*nr].rel = xstrdup(rel);
	(*items)[*nr].dev = dev;
	(*items)[*nr].ino = ino;
	(*nr)++;
}

static void release_items(struct record_item *items, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		free(items[i].rel);
	free(items);
}

void share_record_release(struct share_record *rec)
{
	release_items(rec->gitdirs, rec->nr_gitdirs);
	release_items(rec->gitfiles, rec->nr_gitfiles);
	release_items(rec->entries, rec->nr_entries);
	memset(rec, 0, sizeof(*rec));
}

/* One folder below dir_fd, made (0700) if missing, and checked. */
static int open_state_dir(int dir_fd, const char *name, uid_t uid, gid_t agent_gid, struct strbuf *why)
{
	struct stat st;
	int fd;

	if (mkdirat(dir_fd, name, 0700) < 0 && errno != EEXIST) {
		strbuf_addf(why, "cannot create '%s': %s", name, strerror(errno));
		return -1;
	}
	fd = openat(dir_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		strbuf_addf(why, "cannot open '%s': %s", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (st.st_uid != uid || (st.st_mode & S_IWOTH) || ((st.st_mode & S_IWGRP) && st.st_gid == agent_gid)) {
		strbuf_addf(why, "'%s' is not yours alone (owner uid %u, mode %04o)", name, (unsigned)st.st_uid,
			    (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	return fd;
}

/* Whether the folder open at fd is, or is below, the source of any share of any agent. */
static bool inside_a_share(int fd, const struct config *cfg)
{
	autoclose int cur = dup(fd);

	for (int depth = 0; cur >= 0 && depth < 4096; depth++) {
		struct stat st, up_st;
		int up;

		if (fstat(cur, &st) < 0)
			return true; /* cannot tell: as if it were */
		for (size_t a = 0; a < cfg->nr_agents; a++) {
			for (size_t i = 0; i < cfg->agents[a].nr_mounts; i++) {
				struct stat src;

				if (stat(cfg->agents[a].mounts[i].source, &src) == 0 && src.st_dev == st.st_dev &&
				    src.st_ino == st.st_ino)
					return true;
			}
		}
		up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (up < 0 || fstat(up, &up_st) < 0 || (up_st.st_dev == st.st_dev && up_st.st_ino == st.st_ino)) {
			if (up >= 0)
				close(up);
			return false;
		}
		close(cur);
		cur = up;
	}
	return true;
}

int record_dir_open(const char *home, const char *agent, gid_t agent_gid, const struct config *cfg,
		    struct strbuf *why)
{
	static const char *const below_home[] = { ".local", "state", "au", "shares" };
	int fd = open_nofollow(home, O_PATH | O_DIRECTORY);
	uid_t uid = getuid();

	if (fd < 0) {
		strbuf_addf(why, "cannot open your home '%s': %s", home, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i <= ARRAY_SIZE(below_home); i++) {
		int next = open_state_dir(fd, i < ARRAY_SIZE(below_home) ? below_home[i] : agent, uid, agent_gid, why);

		close(fd);
		if (next < 0)
			return -1;
		fd = next;
	}
	if (inside_a_share(fd, cfg)) {
		strbuf_addstr(why, "it is inside a folder you share with an agent");
		close(fd);
		return -1;
	}
	return fd;
}

/* %XX for every byte that is not printable ASCII, for space, and for '%': one word per path. */
static void add_escaped(struct strbuf *sb, const char *s)
{
	if (!*s) {
		strbuf_addch(sb, '.'); /* the top itself; a real "." is never a component */
		return;
	}
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c >= 0x7f || c == '%')
			strbuf_addf(sb, "%%%02X", c);
		else
			strbuf_addch(sb, (char)c);
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char *unescape(const char *s)
{
	struct strbuf sb = STRBUF_INIT;

	if (!strcmp(s, "."))
		return xstrdup("");
	for (; *s; s++) {
		if (*s == '%') {
			int hi = hexval(s[1]), lo = hi < 0 ? -1 : hexval(s[2]);

			if (lo < 0 || (hi == 0 && lo == 0)) {
				strbuf_release(&sb);
				return NULL;
			}
			strbuf_addch(&sb, (char)(hi * 16 + lo));
			s += 2;
		} else {
			strbuf_addch(&sb, *s);
		}
	}
	return strbuf_detach(&sb);
}

static char *record_name(const char *source)
{
	char hex[SHA256_HEX_LEN + 1];

	sha256_buf(source, strlen(source), hex);
	hex[32] = '\0';
	return xasprintf("%s.record", hex);
}

static void add_items(struct strbuf *sb, char kind, const struct record_item *items, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		strbuf_addf(sb, "%c %" PRIu64 " %" PRIu64 " ", kind, (uint64_t)items[i].dev, (uint64_t)items[i].ino);
		add_escaped(sb, items[i].rel);
		strbuf_addch(sb, '\n');
	}
}

int record_save(int dir_fd, const char *source, dev_t dev, ino_t ino, const char *paths_hash,
		const struct share_record *rec)
{
	autofree char *name = record_name(source);
	autofree char *tmp = xasprintf("%s.tmp%ld", name, (long)getpid());
	autostrbuf struct strbuf sb = STRBUF_INIT;
	autofree char *shown = escape_display(source);
	int fd;

	strbuf_addf(&sb, RECORD_MAGIC "\nsource ");
	add_escaped(&sb, source);
	strbuf_addf(&sb, "\ntop %" PRIu64 " %" PRIu64 "\npaths %s\n", (uint64_t)dev, (uint64_t)ino, paths_hash);
	add_items(&sb, 'g', rec->gitdirs, rec->nr_gitdirs);
	add_items(&sb, 'f', rec->gitfiles, rec->nr_gitfiles);
	add_items(&sb, 'e', rec->entries, rec->nr_entries);
	strbuf_addstr(&sb, "end\n");
	fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, sb.buf, sb.len) < 0 || close(fd) < 0 ||
	    renameat(dir_fd, tmp, dir_fd, name) < 0) {
		warn_errno("cannot keep the record of the share '%s'", shown);
		unlinkat(dir_fd, tmp, 0);
		return -1;
	}
	return 0;
}

int record_load(int dir_fd, const char *source, dev_t dev, ino_t ino, const char *paths_hash,
		struct share_record *rec)
{
	autofree char *name = record_name(source);
	autostrbuf struct strbuf text = STRBUF_INIT;
	autostrbuf struct strbuf want = STRBUF_INIT;
	autoclose int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	char *line, *save = NULL;
	bool ended = false;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != getuid() ||
	    read_fd_all(fd, RECORD_MAX_SIZE, &text) < 0)
		return -1;
	strbuf_addf(&want, RECORD_MAGIC "\nsource ");
	add_escaped(&want, source);
	strbuf_addf(&want, "\ntop %" PRIu64 " %" PRIu64 "\npaths %s\n", (uint64_t)dev, (uint64_t)ino, paths_hash);
	if (text.len < want.len || memcmp(text.buf, want.buf, want.len))
		return -1;
	for (line = strtok_r(text.buf + want.len, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char kind, path[3 * 4096 + 1];
		uint64_t d, i;
		autofree char *rel = NULL;

		if (!strcmp(line, "end")) {
			ended = true;
			break;
		}
		if (sscanf(line, "%c %" SCNu64 " %" SCNu64 " %12288s", &kind, &d, &i, path) != 4 ||
		    !(rel = unescape(path)))
			goto bad;
		if (kind == 'g')
			record_add(&rec->gitdirs, &rec->nr_gitdirs, &rec->alloc_gitdirs, rel, (dev_t)d, (ino_t)i);
		else if (kind == 'f')
			record_add(&rec->gitfiles, &rec->nr_gitfiles, &rec->alloc_gitfiles, rel, (dev_t)d, (ino_t)i);
		else if (kind == 'e')
			record_add(&rec->entries, &rec->nr_entries, &rec->alloc_entries, rel, (dev_t)d, (ino_t)i);
		else
			goto bad;
	}
	if (ended)
		return 0;
bad:
	share_record_release(rec);
	return -1;
}
