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

int open_nofollow(const char *path, int flags)
{
	autofree char *copy = NULL;
	char *p, *comp;
	int dirfd;

	/* No O_CREAT (it would need a mode), and only normal absolute paths. */
	if (path[0] != '/' || (flags & O_CREAT) || (path[1] && path[strlen(path) - 1] == '/')) {
		errno = EINVAL;
		return -1;
	}
	copy = xstrdup(path);
	dirfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -1;
	p = copy + 1;
	while (*p) {
		struct stat st;
		bool is_last;
		int fd, saved;

		comp = p;
		while (*p && *p != '/')
			p++;
		is_last = *p == '\0';
		if (!is_last)
			*p++ = '\0';
		if (!*comp || !strcmp(comp, ".") || !strcmp(comp, "..")) {
			close(dirfd);
			errno = EINVAL;
			return -1;
		}
		if (is_last) {
			fd = openat(dirfd, comp, flags | O_NOFOLLOW | O_CLOEXEC);
			saved = errno;
			/* Say ELOOP for a symlink whatever the flags made of it (ENOTDIR, an O_PATH fd). */
			if ((fd < 0 && saved == ENOTDIR) || (fd >= 0 && (flags & O_PATH))) {
				struct stat lst;
				if (fstatat(dirfd, comp, &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lst.st_mode)) {
					if (fd >= 0)
						close(fd);
					fd = -1;
					saved = ELOOP;
				}
			}
			close(dirfd);
			errno = saved;
			return fd;
		}
		fd = openat(dirfd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		saved = errno;
		close(dirfd);
		if (fd < 0) {
			errno = saved;
			return -1;
		}
		st.st_mode = 0;
		if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
			errno = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
			close(fd);
			return -1;
		}
		dirfd = fd;
	}
	/* The path was "/": open it with the flags asked for. */
	{
		int fd = openat(dirfd, ".", flags | O_CLOEXEC);
		int saved = errno;

		close(dirfd);
		errno = saved;
		return fd;
	}
}
