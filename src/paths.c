/* paths.c: lexical path helpers, and opening paths without following symlinks. */
#include "paths.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

int open_regular_nofollow(const char *path, int flags)
{
	int fd = open_nofollow(path, flags | O_NONBLOCK | O_NOCTTY);
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

/* The directories passed through, each held by an O_PATH fd, with its canonical path. */
struct resolve_stack {
	int *fds;
	size_t nr, alloc;
	struct strbuf path; /* "/a/b": the canonical path of the top */
	size_t *path_lens;  /* path.len for each level */
};

static void stack_push(struct resolve_stack *s, int fd, const char *name)
{
	size_t alloc = s->alloc;

	ALLOC_GROW(s->fds, s->nr, s->alloc);
	if (alloc != s->alloc)
		s->path_lens = xrealloc(s->path_lens, s->alloc * sizeof(*s->path_lens));
	if (name) {
		if (s->path.len > 1)
			strbuf_addch(&s->path, '/');
		strbuf_addstr(&s->path, name);
	}
	s->fds[s->nr] = fd;
	s->path_lens[s->nr++] = s->path.len;
}

static void stack_pop(struct resolve_stack *s)
{
	close(s->fds[--s->nr]);
	s->path.len = s->nr ? s->path_lens[s->nr - 1] : 0;
	s->path.buf[s->path.len] = '\0';
}

static void stack_release(struct resolve_stack *s)
{
	while (s->nr)
		stack_pop(s);
	free(s->fds);
	free(s->path_lens);
	strbuf_release(&s->path);
}

/* The path of name inside the top of the stack, for the visitor and for errors. */
static const char *step_path(struct resolve_stack *s, struct strbuf *sb, const char *name)
{
	strbuf_reset(sb);
	strbuf_addstr(sb, s->path.buf);
	if (name) {
		if (sb->len > 1)
			strbuf_addch(sb, '/');
		strbuf_addstr(sb, name);
	}
	return sb->buf;
}

static int read_link(int fd, struct strbuf *target)
{
	char buf[PATH_MAX];
	ssize_t n = readlinkat(fd, "", buf, sizeof(buf));

	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strbuf_reset(target);
	strbuf_add(target, buf, (size_t)n);
	return 0;
}

/* The next component of *rest, NUL-terminated in place; *rest moves past it. */
static char *next_component(char **rest)
{
	char *p = *rest, *comp;

	while (*p == '/')
		p++;
	comp = p;
	while (*p && *p != '/')
		p++;
	if (*p)
		*p++ = '\0';
	*rest = p;
	return comp;
}

static bool only_slashes(const char *s)
{
	while (*s == '/')
		s++;
	return !*s;
}

int path_resolve(const char *path, path_step_fn *visit, void *data, char **resolved,
		 struct strbuf *failed_at)
{
	struct resolve_stack s = { .path = STRBUF_INIT };
	autostrbuf struct strbuf todo = STRBUF_INIT;
	autostrbuf struct strbuf target = STRBUF_INIT;
	autostrbuf struct strbuf where = STRBUF_INIT;
	struct stat st;
	int links = 0, fd, saved;
	bool last_visited = false;
	char *rest;

	if (path[0] != '/') {
		errno = EINVAL;
		return -1;
	}
	strbuf_addstr(&todo, path);
	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		goto fail_fd;
	strbuf_addch(&s.path, '/');
	stack_push(&s, fd, NULL);
	fd = -1;
	if (visit && visit(&(struct path_step){ only_slashes(path) ? PATH_STEP_LAST : PATH_STEP_DIR,
						s.fds[0], -1, &st, "/", NULL }, data) < 0)
		goto fail;

	rest = todo.buf;
	while (*rest) {
		char *comp = next_component(&rest);
		int dir_fd = s.fds[s.nr - 1];
		bool last;
		struct path_step step;

		if (!*comp || !strcmp(comp, "."))
			continue;
		if (!strcmp(comp, "..")) {
			if (s.nr > 1)
				stack_pop(&s);
			continue;
		}
		last = only_slashes(rest);
		fd = openat(dir_fd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0) {
			step_path(&s, &where, comp);
			goto fail_fd;
		}
		step = (struct path_step){ PATH_STEP_DIR, fd, dir_fd, &st, step_path(&s, &where, comp), NULL };
		if (S_ISLNK(st.st_mode)) {
			autostrbuf struct strbuf next = STRBUF_INIT;

			if (++links > 40) {
				errno = ELOOP;
				goto fail_fd;
			}
			if (read_link(fd, &target) < 0)
				goto fail_fd;
			step.kind = PATH_STEP_SYMLINK;
			step.link_target = target.buf;
			if (visit && visit(&step, data) < 0)
				goto fail_fd;
			close(fd);
			fd = -1;
			/* What the link says takes its place: the rest follows it. */
			strbuf_addf(&next, "%s/%s", target.buf, rest);
			strbuf_reset(&todo);
			strbuf_addstr(&todo, next.buf);
			rest = todo.buf;
			if (target.buf[0] == '/') {
				while (s.nr > 1)
					stack_pop(&s);
			}
			continue;
		}
		if (!last && !S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			goto fail_fd;
		}
		step.kind = last ? PATH_STEP_LAST : PATH_STEP_DIR;
		if (visit && visit(&step, data) < 0)
			goto fail_fd;
		last_visited = last;
		stack_push(&s, fd, comp);
		fd = -1;
	}
	/* A path that ends in ".." or "." names a directory passed through: show it again, as the last. */
	if (!last_visited && s.nr > 1 && visit) {
		if (fstat(s.fds[s.nr - 1], &st) < 0 ||
		    visit(&(struct path_step){ PATH_STEP_LAST, s.fds[s.nr - 1], s.fds[s.nr - 2], &st,
					       s.path.buf, NULL }, data) < 0)
			goto fail;
	}
	fd = fcntl(s.fds[s.nr - 1], F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (resolved)
		*resolved = xstrdup(s.path.buf);
	stack_release(&s);
	return fd;

fail_fd:
	saved = errno;
	if (fd >= 0)
		close(fd);
	errno = saved;
fail:
	saved = errno;
	if (failed_at)
		strbuf_addstr(failed_at, where.len ? where.buf : s.path.buf);
	stack_release(&s);
	errno = saved;
	return -1;
}
