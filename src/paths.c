/* paths.c: lexical path helpers, and opening paths without following symlinks. */
#include "paths.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

char *path_normalize(const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p = path;

	if (!path || path[0] != '/')
		return NULL;
	while (*p) {
		const char *comp;
		size_t n;

		while (*p == '/')
			p++;
		comp = p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - comp);
		if (n == 0 || (n == 1 && comp[0] == '.'))
			continue;
		if (n == 2 && comp[0] == '.' && comp[1] == '.') {
			char *last = sb.len ? strrchr(sb.buf, '/') : NULL;
			if (last) {
				sb.len = (size_t)(last - sb.buf);
				sb.buf[sb.len] = '\0';
			}
			continue;
		}
		strbuf_addch(&sb, '/');
		strbuf_add(&sb, comp, n);
	}
	if (!sb.len)
		strbuf_addch(&sb, '/');
	return strbuf_detach(&sb);
}

bool path_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return path[0] == '/' && path[1] != '\0';
	return strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1] != '\0';
}

bool path_at_or_below(const char *path, const char *dir)
{
	return !strcmp(path, dir) || path_below(path, dir);
}

char *path_join(const char *dir, const char *rest)
{
	if (!*rest)
		return xstrdup(dir);
	if (!strcmp(dir, "/"))
		return xasprintf("/%s", rest);
	return xasprintf("%s/%s", dir, rest);
}

/* An O_PATH fd for a symlink is no refusal by itself: say ELOOP, whatever flags made of it. */
static bool is_symlink_at(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

/* Opens the last component with the caller's flags, never following it. */
static int open_last(int dirfd, const char *name, int flags)
{
	int fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC);
	int saved = errno;

	if (((fd < 0 && saved == ENOTDIR) || (fd >= 0 && (flags & O_PATH))) && is_symlink_at(dirfd, name)) {
		if (fd >= 0)
			close(fd);
		fd = -1;
		saved = ELOOP;
	}
	errno = saved;
	return fd;
}

static int visit_fd(int fd, const char *sofar, path_visit_fn *visit, void *data)
{
	struct stat st;

	if (!visit)
		return 0;
	if (fstat(fd, &st) < 0)
		return -1;
	return visit(fd, &st, sofar, data);
}

int path_walk(const char *path, int last_flags, path_visit_fn *visit, void *data, struct strbuf *failed_at)
{
	autofree char *copy = NULL;
	autostrbuf struct strbuf sofar = STRBUF_INIT;
	autoclose int dirfd = -1;
	char *p;

	if (path[0] != '/' || (last_flags & O_CREAT) || (path[1] && path[strlen(path) - 1] == '/')) {
		errno = EINVAL;
		return -1;
	}
	copy = xstrdup(path);
	strbuf_addch(&sofar, '/');
	dirfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 || visit_fd(dirfd, sofar.buf, visit, data) < 0)
		goto fail;
	for (p = copy + 1; *p;) {
		char *comp = p;
		bool is_last;
		struct stat st;
		int fd;

		while (*p && *p != '/')
			p++;
		is_last = *p == '\0';
		if (!is_last)
			*p++ = '\0';
		if (!*comp || !strcmp(comp, ".") || !strcmp(comp, "..")) {
			errno = EINVAL;
			goto fail;
		}
		if (sofar.len > 1)
			strbuf_addch(&sofar, '/');
		strbuf_addstr(&sofar, comp);
		if (is_last) {
			fd = open_last(dirfd, comp, last_flags);
			if (fd >= 0 && visit_fd(fd, sofar.buf, visit, data) < 0) {
				int saved = errno;
				close(fd);
				errno = saved;
				fd = -1;
			}
			if (fd < 0)
				goto fail;
			return fd;
		}
		fd = openat(dirfd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			goto fail;
		close(dirfd);
		dirfd = fd;
		st.st_mode = 0;
		if (fstat(dirfd, &st) < 0)
			goto fail;
		if (visit && visit(dirfd, &st, sofar.buf, data) < 0)
			goto fail;
		if (!S_ISDIR(st.st_mode)) {
			errno = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
			goto fail;
		}
	}
	/* The path was "/": open it with the flags asked for. */
	return openat(dirfd, ".", last_flags | O_CLOEXEC);
fail:
	if (failed_at) {
		int saved = errno;
		strbuf_addstr(failed_at, sofar.buf);
		errno = saved;
	}
	return -1;
}

int open_nofollow(const char *path, int flags)
{
	return path_walk(path, flags, NULL, NULL, NULL);
}
