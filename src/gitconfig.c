/* gitconfig.c: git's config syntax, for the few variables au reads (see gitconfig.h). */
#include "gitconfig.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

struct parser {
	const char *p, *end;
	struct strbuf section, subsection, key, value;
	int has_subsection;
};

static int peek(const struct parser *ps)
{
	return ps->p < ps->end ? (unsigned char)*ps->p : EOF;
}

static void skip_to_eol(struct parser *ps)
{
	while (ps->p < ps->end && *ps->p != '\n')
		ps->p++;
}

static void skip_blanks(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r'))
		ps->p++;
}

/* [section], [section "subsection"], or the old [section.subsection]. */
static int parse_section(struct parser *ps)
{
	strbuf_reset(&ps->section);
	strbuf_reset(&ps->subsection);
	ps->has_subsection = 0;
	ps->p++; /* '[' */
	while (ps->p < ps->end && (isalnum((unsigned char)*ps->p) || *ps->p == '-' || *ps->p == '.')) {
		if (*ps->p == '.' && !ps->has_subsection) {
			ps->has_subsection = 1; /* the old form: lowercased, like the section */
		} else {
			struct strbuf *sb = ps->has_subsection ? &ps->subsection : &ps->section;
			strbuf_addch(sb, (char)tolower((unsigned char)*ps->p));
		}
		ps->p++;
	}
	if (peek(ps) == ' ' || peek(ps) == '\t') {
		if (ps->has_subsection)
			return -1;
		skip_blanks(ps);
		if (peek(ps) != '"')
			return -1;
		ps->p++;
		ps->has_subsection = 1;
		for (;;) {
			int c = peek(ps);

			if (c == EOF || c == '\n')
				return -1;
			ps->p++;
			if (c == '"')
				break;
			if (c == '\\') {
				c = peek(ps);
				if (c == EOF || c == '\n')
					return -1;
				ps->p++;
			}
			strbuf_addch(&ps->subsection, (char)c);
		}
	}
	if (peek(ps) != ']' || !ps->section.len)
		return -1;
	ps->p++;
	return 0;
}

/* A value: quotes group, backslash escapes, a comment or the end of line ends it. */
static int parse_value(struct parser *ps)
{
	int quoted = 0;
	size_t keep = 0; /* length up to the last character that trailing-space trimming must keep */

	strbuf_reset(&ps->value);
	skip_blanks(ps);
	for (;;) {
		int c = peek(ps);

		if (c == EOF || (c == '\n' && !quoted)) {
			break;
		}
		ps->p++;
		if (c == '\n')
			return -1; /* a newline inside quotes */
		if (!quoted && (c == ';' || c == '#')) {
			skip_to_eol(ps);
			break;
		}
		if (c == '\\') {
			c = peek(ps);
			if (c == EOF)
				return -1;
			ps->p++;
			switch (c) {
			case '\n':
				continue; /* a continued line */
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'b':
				if (ps->value.len)
					ps->value.len--;
				keep = ps->value.len < keep ? ps->value.len : keep;
				continue;
			case '"':
			case '\\':
				break;
			default:
				return -1;
			}
			strbuf_addch(&ps->value, (char)c);
			keep = ps->value.len;
			continue;
		}
		if (c == '"') {
			quoted = !quoted;
			keep = ps->value.len;
			continue;
		}
		strbuf_addch(&ps->value, (char)c);
		if (quoted || !(c == ' ' || c == '\t' || c == '\r'))
			keep = ps->value.len;
	}
	if (quoted)
		return -1;
	ps->value.len = keep;
	strbuf_add(&ps->value, "", 0);
	ps->value.buf[keep] = '\0';
	return 0;
}

int gitconfig_parse(const char *text, size_t len, gitconfig_fn *fn, void *data)
{
	struct parser ps = { .p = text, .end = text + len };
	int rc = 0;

	while (ps.p < ps.end) {
		int c;

		skip_blanks(&ps);
		c = peek(&ps);
		if (c == EOF)
			break;
		if (c == '\n') {
			ps.p++;
			continue;
		}
		if (c == '#' || c == ';') {
			skip_to_eol(&ps);
			continue;
		}
		if (c == '[') {
			if (parse_section(&ps) < 0) {
				rc = -1;
				break;
			}
			continue;
		}
		if (!isalpha(c) || !ps.section.len) {
			rc = -1;
			break;
		}
		strbuf_reset(&ps.key);
		while (ps.p < ps.end && (isalnum((unsigned char)*ps.p) || *ps.p == '-'))
			strbuf_addch(&ps.key, (char)tolower((unsigned char)*ps.p++));
		skip_blanks(&ps);
		c = peek(&ps);
		if (c == '=') {
			ps.p++;
			if (parse_value(&ps) < 0) {
				rc = -1;
				break;
			}
			fn(strbuf_str(&ps.section), ps.has_subsection ? strbuf_str(&ps.subsection) : NULL,
			   strbuf_str(&ps.key), ps.value.buf, data);
		} else if (c == EOF || c == '\n' || c == '#' || c == ';') {
			skip_to_eol(&ps);
			fn(strbuf_str(&ps.section), ps.has_subsection ? strbuf_str(&ps.subsection) : NULL,
			   strbuf_str(&ps.key), NULL, data);
		} else {
			rc = -1;
			break;
		}
	}
	strbuf_release(&ps.section);
	strbuf_release(&ps.subsection);
	strbuf_release(&ps.key);
	strbuf_release(&ps.value);
	return rc;
}

int read_untrusted_file(int dirfd, const char *name, size_t max, struct strbuf *out)
{
	autoclose int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		return -1;
	}
	if ((size_t)st.st_size > max) {
		errno = EFBIG;
		return -1;
	}
	return read_fd_all(fd, max, out);
}
