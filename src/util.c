/* util.c: errors, allocation and small string helpers used everywhere. */
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

/*
 * Every message goes out through here or line_out(): the formatted text as a
 * whole is made terminal-safe, so that a path or name the agent chose cannot
 * act on the human's terminal, whichever argument carried it and whether or
 * not its caller remembered escape_display().
 */
static void write_line(int fd, const char *prefix, const struct strbuf *text)
{
	/* One write per line, so that concurrent writers do not interleave. */
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, prefix);
	strbuf_add_terminal_safe(&sb, text->buf ? text->buf : "", text->len);
	strbuf_addch(&sb, '\n');
	if (fd == STDOUT_FILENO) {
		fputs(sb.buf, stdout);
	} else {
		fflush(stdout);
		write_all(fd, sb.buf, sb.len);
	}
	strbuf_release(&sb);
}

static void vreport(const char *tag, const char *fmt, va_list ap, int errnum)
{
	struct strbuf text = STRBUF_INIT;

	if (tag)
		strbuf_addstr(&text, tag);
	strbuf_vaddf(&text, fmt, ap);
	if (errnum)
		strbuf_addf(&text, ": %s", strerror(errnum));
	write_line(STDERR_FILENO, "au: ", &text);
	strbuf_release(&text);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(NULL, fmt, ap, 0);
	va_end(ap);
	exit(EXIT_FAIL);
}

void die_errno(const char *fmt, ...)
{
	int errnum = errno;
	va_list ap;

	va_start(ap, fmt);
	vreport(NULL, fmt, ap, errnum);
	va_end(ap);
	exit(EXIT_FAIL);
}

static const char *usage_command;

void set_usage_command(const char *name)
{
	usage_command = name;
}

void die_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(NULL, fmt, ap, 0);
	va_end(ap);
	if (usage_command)
		fprintf(stderr, "Try 'au %s --help'.\n", usage_command);
	else
		fputs("Try 'au --help'.\n", stderr);
	exit(EXIT_USAGE);
}

void warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("warning: ", fmt, ap, 0);
	va_end(ap);
}

void warn_errno(const char *fmt, ...)
{
	int errnum = errno;
	va_list ap;

	va_start(ap, fmt);
	vreport("warning: ", fmt, ap, errnum);
	va_end(ap);
}

int error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(NULL, fmt, ap, 0);
	va_end(ap);
	return -1;
}

int error_errno(const char *fmt, ...)
{
	int errnum = errno;
	va_list ap;

	va_start(ap, fmt);
	vreport(NULL, fmt, ap, errnum);
	va_end(ap);
	return -1;
}

void hint(const char *fmt, ...)
{
	struct strbuf text = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&text, fmt, ap);
	va_end(ap);
	write_line(STDERR_FILENO, "hint: ", &text);
	strbuf_release(&text);
}

void line_out(const char *fmt, ...)
{
	struct strbuf text = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&text, fmt, ap);
	va_end(ap);
	write_line(STDOUT_FILENO, "", &text);
	strbuf_release(&text);
}

static void *check_alloc(void *p)
{
	if (!p) {
		fputs("au: out of memory\n", stderr);
		exit(EXIT_FAIL);
	}
	return p;
}

void *xmalloc(size_t size)
{
	return check_alloc(malloc(size ? size : 1));
}

void *xcalloc(size_t nmemb, size_t size)
{
	return check_alloc(calloc(nmemb ? nmemb : 1, size ? size : 1));
}

void *xrealloc(void *ptr, size_t size)
{
	return check_alloc(realloc(ptr, size ? size : 1));
}

char *xstrdup(const char *s)
{
	return check_alloc(strdup(s));
}

char *xstrndup(const char *s, size_t n)
{
	return check_alloc(strndup(s, n));
}

char *xasprintf(const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	return strbuf_detach(&sb);
}

void strbuf_grow(struct strbuf *sb, size_t extra)
{
	if (sb->len + extra + 1 < sb->len)
		die("string too long");
	if (sb->len + extra + 1 > sb->alloc) {
		size_t want = sb->alloc ? sb->alloc : 64;
		while (want < sb->len + extra + 1)
			want *= 2;
		sb->buf = xrealloc(sb->buf, want);
		sb->alloc = want;
		if (!sb->len)
			sb->buf[0] = '\0'; /* a fresh buffer is a valid empty string */
	}
}

void strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
	strbuf_grow(sb, len);
	if (len)
		memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

void strbuf_addstr(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

void strbuf_addch(struct strbuf *sb, char c)
{
	strbuf_add(sb, &c, 1);
}

void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		die("cannot format a message");
	strbuf_grow(sb, (size_t)n);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

void strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

void strbuf_release(struct strbuf *sb)
{
	free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->alloc = 0;
}

char *strbuf_detach(struct strbuf *sb)
{
	char *r;

	strbuf_grow(sb, 0);
	r = sb->buf;
	sb->buf = NULL;
	sb->len = sb->alloc = 0;
	return r;
}

const char *strbuf_str(struct strbuf *sb)
{
	strbuf_grow(sb, 0);
	return sb->buf;
}

void strvec_push(struct strvec *sv, const char *s)
{
	if (sv->nr + 2 > sv->alloc) {
		sv->alloc = sv->alloc ? 2 * sv->alloc : 16;
		sv->v = xrealloc(sv->v, sv->alloc * sizeof(*sv->v));
	}
	sv->v[sv->nr++] = xstrdup(s);
	sv->v[sv->nr] = NULL;
}

void strvec_pushf(struct strvec *sv, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	strvec_push(sv, sb.buf);
	strbuf_release(&sb);
}

void strvec_pushv(struct strvec *sv, const char *const *v)
{
	for (; *v; v++)
		strvec_push(sv, *v);
}

void strvec_clear(struct strvec *sv)
{
	for (size_t i = 0; i < sv->nr; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->nr = sv->alloc = 0;
}

const char *const *strvec_argv(struct strvec *sv)
{
	static const char *const empty[] = { NULL };

	return sv->v ? (const char *const *)sv->v : empty;
}

char *escape_display(const char *s)
{
	struct strbuf sb = STRBUF_INIT;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '\\')
			strbuf_addch(&sb, (char)*p);
		else
			strbuf_addf(&sb, "\\x%02x", *p);
	}
	return strbuf_detach(&sb);
}

/*
 * The length of the UTF-8 sequence at p (len bytes left) when it encodes a
 * character a terminal shows as text, else 0: invalid and overlong sequences,
 * surrogates, C1 controls (U+0080 to U+009F: U+009B is CSI to some
 * terminals) and the bidirectional overrides and isolates, which reorder what
 * the human reads (U+202A to U+202E, U+2066 to U+2069).
 */
static size_t printable_utf8(const unsigned char *p, size_t len)
{
	uint32_t cp;
	size_t n;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	if (cp < 0xa0 || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069))
		return 0;
	return n;
}

void strbuf_add_terminal_safe(struct strbuf *sb, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	strbuf_grow(sb, len);
	for (size_t i = 0; i < len;) {
		size_t n;

		if (p[i] >= 0x20 && p[i] < 0x7f) {
			strbuf_addch(sb, (char)p[i++]);
		} else if (p[i] >= 0x80 && (n = printable_utf8(p + i, len - i))) {
			strbuf_add(sb, p + i, n);
			i += n;
		} else {
			strbuf_addf(sb, "\\x%02x", p[i++]);
		}
	}
}

char *escape_terminal(const char *s)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_add_terminal_safe(&sb, s, strlen(s));
	return strbuf_detach(&sb);
}

bool color_enabled(int fd)
{
	const char *no_color = getenv("NO_COLOR");
	const char *term = getenv("TERM");

	if (no_color && *no_color)
		return false;
	if (term && !strcmp(term, "dumb"))
		return false;
	return isatty(fd);
}

const char *color(int fd, const char *sgr)
{
	static char buf[4][16];
	static int slot;

	if (!color_enabled(fd))
		return "";
	slot = (slot + 1) % 4;
	snprintf(buf[slot], sizeof(buf[slot]), "\033[%sm", sgr);
	return buf[slot];
}

int read_fd_all(int fd, size_t max, struct strbuf *out)
{
	for (;;) {
		ssize_t n;

		strbuf_grow(out, 8192);
		n = read(fd, out->buf + out->len, out->alloc - out->len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		out->buf[out->len] = '\0';
		if (out->len > max) {
			errno = EFBIG;
			return -1;
		}
	}
	strbuf_grow(out, 0);
	return 0;
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

bool can_ask(void)
{
	return isatty(STDIN_FILENO);
}

const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

bool ask_yes_no(const char *question)
{
	char line[64];

	if (!can_ask())
		return false;
	fprintf(stderr, "%s [y/N] ", question);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

void die_bad_option(int c, char **argv, const char *cmd)
{
	extern int optind, optopt;
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	const char *sep = cmd ? ": " : "";

	if (!cmd)
		cmd = "";
	if (c == ':')
		die_usage("%s%soption '%s' needs an argument", cmd, sep, arg);
	if (optopt)
		die_usage("%s%sunknown option '-%c'", cmd, sep, optopt);
	die_usage("%s%sunknown option '%s'", cmd, sep, arg);
}
