/* util.h: errors, allocation, cleanup attributes, small string helpers. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define AU_NORETURN __attribute__((noreturn))
#define AU_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* The allocators die rather than return NULL: said so that the analyzers (make analyze) know. */
#define AU_RETURNS_NONNULL __attribute__((returns_nonnull))

/* Exit codes shared by every command. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

void die(const char *fmt, ...) AU_NORETURN AU_PRINTF(1, 2);
void die_errno(const char *fmt, ...) AU_NORETURN AU_PRINTF(1, 2);
/* A usage error: the message, then "Try 'au [COMMAND] --help'.", exit 2. */
void die_usage(const char *fmt, ...) AU_NORETURN AU_PRINTF(1, 2);
/* The command whose --help die_usage() names from now on (main sets it). */
void set_usage_command(const char *name);
void warn(const char *fmt, ...) AU_PRINTF(1, 2);
void warn_errno(const char *fmt, ...) AU_PRINTF(1, 2);
/* "hint: ..." on stderr, shown under an error or warning. */
void hint(const char *fmt, ...) AU_PRINTF(1, 2);
/*
 * One line on stdout: the formatted text made terminal-safe as a whole (see
 * escape_terminal()), then a newline. Lines that carry a path or a name go
 * out through this, as every die(), warn(), error() and hint() does.
 */
void line_out(const char *fmt, ...) AU_PRINTF(1, 2);
/* Prints the message the way die() does ("au: ...", no tag), but returns -1 instead of exiting. */
int error(const char *fmt, ...) AU_PRINTF(1, 2);
int error_errno(const char *fmt, ...) AU_PRINTF(1, 2);

void *xmalloc(size_t size) AU_RETURNS_NONNULL;
void *xcalloc(size_t nmemb, size_t size) AU_RETURNS_NONNULL;
void *xrealloc(void *ptr, size_t size) AU_RETURNS_NONNULL;
char *xstrdup(const char *s) AU_RETURNS_NONNULL;
char *xstrndup(const char *s, size_t n) AU_RETURNS_NONNULL;
char *xasprintf(const char *fmt, ...) AU_PRINTF(1, 2) AU_RETURNS_NONNULL;

/* Grow *array (of *alloc elements) so that it holds at least nr + 1. */
#define ALLOC_GROW(array, nr, alloc)                                           \
	do {                                                                   \
		if ((nr) >= (alloc)) {                                         \
			(alloc) = (alloc) ? 2 * (alloc) : 8;                   \
			(array) = xrealloc((array), (alloc) * sizeof(*(array))); \
		}                                                              \
	} while (0)

static inline void autofree_cleanup(void *p)
{
	free(*(void **)p);
}
static inline void autoclose_cleanup(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
static inline void autofclose_cleanup(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define autofree __attribute__((cleanup(autofree_cleanup)))
#define autoclose __attribute__((cleanup(autoclose_cleanup)))
#define autofclose __attribute__((cleanup(autofclose_cleanup)))

static inline void *steal_pointer_impl(void *pp)
{
	void **p = pp;
	void *r = *p;
	*p = NULL;
	return r;
}
/* Hands ownership out of a cleanup-managed variable. */
#define steal_pointer(pp) ((__typeof__(*(pp)))steal_pointer_impl(pp))
static inline int steal_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

struct strbuf {
	char *buf;
	size_t len;
	size_t alloc;
};
#define STRBUF_INIT { NULL, 0, 0 }
void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) AU_PRINTF(2, 3);
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap) AU_PRINTF(2, 0);
void strbuf_reset(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);
/* Returns the NUL-terminated buffer (never NULL) and resets sb. */
char *strbuf_detach(struct strbuf *sb);
/* Always NUL-terminated, even when empty. */
const char *strbuf_str(struct strbuf *sb);
#define autostrbuf __attribute__((cleanup(strbuf_release)))

/* A NULL-terminated vector of owned strings, for argv and envp. */
struct strvec {
	char **v;
	size_t nr;
	size_t alloc;
};
#define STRVEC_INIT { NULL, 0, 0 }
void strvec_push(struct strvec *sv, const char *s);
void strvec_pushf(struct strvec *sv, const char *fmt, ...) AU_PRINTF(2, 3);
void strvec_pushv(struct strvec *sv, const char *const *v);
void strvec_clear(struct strvec *sv);
/* Never NULL: an empty vector gives a pointer to a NULL entry. */
const char *const *strvec_argv(struct strvec *sv);
#define autostrvec __attribute__((cleanup(strvec_clear)))

/*
 * Returns a copy of s that is safe to print on a terminal: bytes that are not
 * printable ASCII (and backslash) become \xNN. Anything the agent could have
 * chosen (file names, paths inside shared folders) goes through this.
 */
char *escape_display(const char *s);

/* one or many, by n: printf("%zu %s", n, plural(n, "entry", "entries")). */
const char *plural(size_t n, const char *one, const char *many);
/*
 * Returns a copy of s that cannot act on a terminal: control bytes (newline
 * and tab included), DEL, C1 controls, bidirectional overrides and bytes that
 * are not valid UTF-8 become \xNN; printable ASCII, backslash and other
 * UTF-8 characters stay as they are (so it never escapes what
 * escape_display() made). die(), warn(), error(), hint() and line_out() apply
 * it to their whole message.
 */
char *escape_terminal(const char *s);
void strbuf_add_terminal_safe(struct strbuf *sb, const char *s, size_t len);

/* Colors only go to a terminal, and never when NO_COLOR is set. */
bool color_enabled(int fd);
const char *color(int fd, const char *sgr); /* "" when colors are off */
#define COLOR_RESET "0"
#define COLOR_RED "31"
#define COLOR_GREEN "32"
#define COLOR_YELLOW "33"
#define COLOR_BOLD "1"

/* Reads a whole small file (up to max bytes) from an open fd. */
int read_fd_all(int fd, size_t max, struct strbuf *out);
/* write() that retries on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);

/* Asks "question [y/N] " on the terminal; false without a terminal. */
bool ask_yes_no(const char *question);
/* True when stdin is a terminal that a question can be asked on. */
bool can_ask(void);

/*
 * For a getopt_long loop whose optstring starts with ':': turns its '?' or
 * ':' into a one-line usage error ("au list: unknown option '--bogus'").
 */
void die_bad_option(int c, char **argv, const char *cmd) AU_NORETURN;
