/*
 * toml.c: a strict TOML 1.0 reader and a small writer (see toml.h).
 *
 * The reader is a single pass over the text with no backtracking, so its cost
 * is linear in the input. Recursion (arrays and inline tables inside each
 * other) is bounded by TOML_MAX_DEPTH, and so is the depth of every table, so
 * that freeing, copying and writing the tree cannot exhaust the stack either.
 * Table definition order follows TOML 1.0 as Python's tomllib reads it, which
 * is what the reference tool uses.
 */
#include "toml.h"
#include "util.h"

#include <inttypes.h>
#include <string.h>

struct key_part {
	struct toml_string s;
	size_t off;
	struct toml_pos pos; /* computed while reading: pos_at() is cheap only forwards */
};

struct key_path {
	struct key_part *parts;
	size_t nr, alloc;
};

/*
 * What toml_comments_collect() and toml_comments_apply() learn from a parse:
 * the items (a key/value line or a table header, in file order) and the
 * comments, by byte offset. Only the top level of lines counts: keys inside
 * inline tables are part of their item.
 */
struct item_rec {
	struct toml_table *table; /* the item's table: the one a header defines */
	char *key;                /* the key (first part of a dotted one); NULL for a header */
	size_t start, end;        /* byte offsets of the item's text */
};

enum comment_kind {
	COMMENT_OWN_LINE, /* alone on its line, at the top level */
	COMMENT_TRAILING, /* after an item, on its last line */
	COMMENT_INNER,    /* inside an item's value (a multi-line array) */
};

struct comment_rec {
	enum comment_kind kind;
	size_t start, end; /* of the text to keep: the line's indentation, or the spaces before '#' */
	size_t item;       /* TRAILING: the item it follows */
};

struct comment_log {
	struct item_rec *items;
	size_t nr_items, alloc_items;
	struct comment_rec *comments;
	size_t nr_comments, alloc_comments;
	char *pending_key; /* parse_keyval()'s first key, for parse_document() */
};

struct parser {
	char *path; /* escaped for display */
	const unsigned char *s;
	size_t len;
	size_t i;
	/* Position cache: offsets are asked for in increasing order. */
	size_t pc_off, pc_line, pc_col;
	char *err;
	unsigned long sections;   /* sections and inline tables so far */
	unsigned long cur_section;
	struct toml_table *root;
	struct toml_table *cur; /* the table of the current [section] */
	struct comment_log *log; /* where comments and items go, when they are collected */
	int inline_depth;        /* inside an inline table: keys there are not items */
};

/* strbuf_detach() of an empty strbuf does not write the NUL: make sure it is there. */
static char *detach(struct strbuf *sb)
{
	strbuf_add(sb, "", 0);
	return strbuf_detach(sb);
}

/* ---- positions and errors ---- */

static struct toml_pos pos_at(struct parser *p, size_t off)
{
	struct toml_pos pos;

	if (off > p->len)
		off = p->len;
	if (off < p->pc_off) {
		p->pc_off = 0;
		p->pc_line = 1;
		p->pc_col = 1;
	}
	while (p->pc_off < off) {
		unsigned char c = p->s[p->pc_off++];

		if (c == '\n') {
			p->pc_line++;
			p->pc_col = 1;
		} else if ((c & 0xc0) != 0x80) {
			p->pc_col++;
		}
	}
	pos.line = p->pc_line;
	pos.col = p->pc_col;
	return pos;
}

static int fail(struct parser *p, size_t off, const char *fmt, ...) AU_PRINTF(3, 4);
static int fail(struct parser *p, size_t off, const char *fmt, ...)
{
	struct toml_pos pos;
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	if (p->err)
		return -1;
	pos = pos_at(p, off);
	strbuf_addf(&sb, "%s:%zu:%zu: ", p->path, pos.line, pos.col);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	p->err = detach(&sb);
	return -1;
}

/* A macro so that the compiler still checks fmt: it names the key, escaped, with '%s'. */
#define fail_key(p, k, fmt)                                                    \
	({                                                                     \
		autofree char *shown_ = escape_display((k)->s.ptr);            \
		fail((p), (k)->off, fmt, shown_);                              \
	})

/* ---- small helpers ---- */

static int peek(const struct parser *p, size_t ahead)
{
	return p->i + ahead < p->len ? p->s[p->i + ahead] : -1;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_bare_key_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' ||
	       c == '-';
}

/* Control characters that TOML never allows raw (tab is fine). */
static bool is_control(int c)
{
	return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

static const char *describe(int c, char buf[8])
{
	if (c < 0)
		return "end of file";
	if (c == '\n' || c == '\r')
		return "end of line";
	if (c > 0x20 && c < 0x7f) {
		snprintf(buf, 8, "'%c'", c);
		return buf;
	}
	if (c < 0x80) {
		snprintf(buf, 8, "U+%04X", (unsigned)c);
		return buf;
	}
	return "non-ASCII character";
}

static void skip_ws(struct parser *p)
{
	while (p->i < p->len && (p->s[p->i] == ' ' || p->s[p->i] == '\t'))
		p->i++;
}

/* Consumes a LF or CRLF: 1 when there was one, 0 when not, -1 for a bare CR. */
static int eat_newline(struct parser *p)
{
	int c = peek(p, 0);

	if (c == '\n') {
		p->i++;
		return 1;
	}
	if (c == '\r') {
		if (peek(p, 1) == '\n') {
			p->i += 2;
			return 1;
		}
		return fail(p, p->i, "carriage return not followed by a newline");
	}
	return 0;
}

/* At '#': checks and skips the comment, not the newline after it. */
static int skip_comment(struct parser *p)
{
	p->i++;
	while (p->i < p->len) {
		int c = p->s[p->i];

		if (c == '\n' || (c == '\r' && peek(p, 1) == '\n'))
			return 0;
		if (is_control(c))
			return fail(p, p->i, "control character U+%04X in a comment", (unsigned)c);
		p->i++;
	}
	return 0;
}

static void log_comment(struct parser *p, enum comment_kind kind, size_t start, size_t end)
{
	struct comment_log *log = p->log;
	struct comment_rec *c;

	if (!log)
		return;
	ALLOC_GROW(log->comments, log->nr_comments, log->alloc_comments);
	c = &log->comments[log->nr_comments++];
	c->kind = kind;
	c->start = start;
	c->end = end;
	c->item = log->nr_items ? log->nr_items - 1 : 0;
}

static void log_item(struct parser *p, struct toml_table *table, char *key, size_t start, size_t end)
{
	struct comment_log *log = p->log;
	struct item_rec *it;

	ALLOC_GROW(log->items, log->nr_items, log->alloc_items);
	it = &log->items[log->nr_items++];
	it->table = table;
	it->key = key;
	it->start = start;
	it->end = end;
}

/* Whitespace, comments and newlines, as allowed inside arrays. */
static int skip_ws_comments_newlines(struct parser *p)
{
	for (;;) {
		int r;

		skip_ws(p);
		if (peek(p, 0) == '#') {
			size_t start = p->i;

			if (skip_comment(p) < 0)
				return -1;
			log_comment(p, COMMENT_INNER, start, p->i);
		}
		r = eat_newline(p);
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
	}
}

/* ---- UTF-8 ---- */

/* Offset of the first byte that is not part of valid UTF-8, or len. */
static size_t utf8_check(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t need;
		unsigned char lo = 0x80, hi = 0xbf;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f; /* no surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f; /* nothing above U+10FFFF */
		} else {
			return i;
		}
		if (len - i <= need)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k <= need; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
		i += need + 1;
	}
	return len;
}

bool toml_string_valid(const char *s, size_t len)
{
	return utf8_check((const unsigned char *)s, len) == len;
}

static void add_utf8(struct strbuf *sb, uint32_t cp)
{
	char b[4];

	if (cp < 0x80) {
		strbuf_addch(sb, (char)cp);
		return;
	}
	if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		strbuf_add(sb, b, 2);
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		strbuf_add(sb, b, 3);
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		strbuf_add(sb, b, 4);
	}
}

/* ---- tables ---- */

static uint64_t hash_key(const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void index_insert(struct toml_table *t, size_t n)
{
	const struct toml_string *k = &t->entries[n].key;
	size_t mask = t->index_size - 1;
	size_t h = (size_t)hash_key(k->ptr, k->len) & mask;

	while (t->index[h])
		h = (h + 1) & mask;
	t->index[h] = n + 1;
}

static void index_grow(struct toml_table *t)
{
	if ((t->nr + 1) * 2 <= t->index_size)
		return;
	free(t->index);
	t->index_size = t->index_size ? 2 * t->index_size : 16;
	t->index = xcalloc(t->index_size, sizeof(*t->index));
	for (size_t n = 0; n < t->nr; n++)
		index_insert(t, n);
}

struct toml_table *toml_table_new(void)
{
	return xcalloc(1, sizeof(struct toml_table));
}

struct toml_entry *toml_table_find(const struct toml_table *t, const char *key, size_t len)
{
	size_t mask, h;

	if (!t->index_size)
		return NULL;
	mask = t->index_size - 1;
	h = (size_t)hash_key(key, len) & mask;
	while (t->index[h]) {
		struct toml_entry *e = &t->entries[t->index[h] - 1];

		if (e->key.len == len && !memcmp(e->key.ptr, key, len))
			return e;
		h = (h + 1) & mask;
	}
	return NULL;
}

struct toml_value *toml_table_get(const struct toml_table *t, const char *key)
{
	struct toml_entry *e = toml_table_find(t, key, strlen(key));

	return e ? &e->value : NULL;
}

static struct toml_entry *table_add_entry(struct toml_table *t, const char *key, size_t len,
					  struct toml_value value)
{
	struct toml_entry *e;

	index_grow(t);
	ALLOC_GROW(t->entries, t->nr, t->alloc);
	e = &t->entries[t->nr];
	memset(e, 0, sizeof(*e));
	e->key.ptr = xmalloc(len + 1);
	memcpy(e->key.ptr, key, len);
	e->key.ptr[len] = '\0';
	e->key.len = len;
	e->value = value;
	index_insert(t, t->nr);
	t->nr++;
	return e;
}

struct toml_value *toml_table_add(struct toml_table *t, const char *key, size_t len,
				  struct toml_value value)
{
	return &table_add_entry(t, key, len, value)->value;
}

static void array_free(struct toml_array *a)
{
	if (!a)
		return;
	for (size_t n = 0; n < a->nr; n++)
		toml_value_release(&a->items[n]);
	free(a->items);
	free(a);
}

void toml_table_free(struct toml_table *t)
{
	if (!t)
		return;
	for (size_t n = 0; n < t->nr; n++) {
		free(t->entries[n].key.ptr);
		toml_value_release(&t->entries[n].value);
	}
	free(t->entries);
	free(t->index);
	free(t);
}

void toml_value_release(struct toml_value *v)
{
	switch (v->type) {
	case TOML_STRING:
		free(v->u.str.ptr);
		break;
	case TOML_FLOAT:
	case TOML_DATETIME:
		free(v->u.raw);
		break;
	case TOML_ARRAY:
		array_free(v->u.array);
		break;
	case TOML_TABLE:
		toml_table_free(v->u.table);
		break;
	case TOML_INTEGER:
	case TOML_BOOLEAN:
		break;
	}
	memset(v, 0, sizeof(*v));
	v->type = TOML_BOOLEAN;
}

struct toml_value toml_value_dup(const struct toml_value *v)
{
	struct toml_value c = *v;

	switch (v->type) {
	case TOML_STRING:
		c.u.str.ptr = xmalloc(v->u.str.len + 1);
		memcpy(c.u.str.ptr, v->u.str.ptr, v->u.str.len + 1);
		break;
	case TOML_FLOAT:
	case TOML_DATETIME:
		c.u.raw = xstrdup(v->u.raw);
		break;
	case TOML_ARRAY:
		c.u.array = xcalloc(1, sizeof(*c.u.array));
		c.u.array->of_tables = v->u.array->of_tables;
		c.u.array->depth = v->u.array->depth;
		for (size_t n = 0; n < v->u.array->nr; n++) {
			ALLOC_GROW(c.u.array->items, c.u.array->nr, c.u.array->alloc);
			c.u.array->items[c.u.array->nr++] = toml_value_dup(&v->u.array->items[n]);
		}
		break;
	case TOML_TABLE: {
		const struct toml_table *src = v->u.table;
		struct toml_table *t = toml_table_new();

		t->pos = src->pos;
		t->origin = src->origin;
		t->section = src->section;
		t->depth = src->depth;
		for (size_t n = 0; n < src->nr; n++) {
			const struct toml_entry *e = &src->entries[n];

			table_add_entry(t, e->key.ptr, e->key.len, toml_value_dup(&e->value))
				->key_pos = e->key_pos;
		}
		c.u.table = t;
		break;
	}
	case TOML_INTEGER:
	case TOML_BOOLEAN:
		break;
	}
	return c;
}

bool toml_table_equal(const struct toml_table *a, const struct toml_table *b)
{
	if (a->nr != b->nr)
		return false;
	for (size_t n = 0; n < a->nr; n++) {
		const struct toml_entry *x = &a->entries[n], *y = &b->entries[n];

		if (x->key.len != y->key.len || memcmp(x->key.ptr, y->key.ptr, x->key.len))
			return false;
		if (!toml_value_equal(&x->value, &y->value))
			return false;
	}
	return true;
}

bool toml_value_equal(const struct toml_value *a, const struct toml_value *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case TOML_STRING:
		return a->u.str.len == b->u.str.len &&
		       !memcmp(a->u.str.ptr, b->u.str.ptr, a->u.str.len);
	case TOML_INTEGER:
		return a->u.integer == b->u.integer;
	case TOML_BOOLEAN:
		return a->u.boolean == b->u.boolean;
	case TOML_FLOAT:
	case TOML_DATETIME:
		return !strcmp(a->u.raw, b->u.raw);
	case TOML_ARRAY:
		if (a->u.array->nr != b->u.array->nr)
			return false;
		for (size_t n = 0; n < a->u.array->nr; n++)
			if (!toml_value_equal(&a->u.array->items[n], &b->u.array->items[n]))
				return false;
		return true;
	case TOML_TABLE:
		return toml_table_equal(a->u.table, b->u.table);
	}
	return false;
}

const char *toml_type_name(enum toml_type type)
{
	switch (type) {
	case TOML_STRING:
		return "a string";
	case TOML_INTEGER:
		return "an integer";
	case TOML_BOOLEAN:
		return "a boolean";
	case TOML_FLOAT:
		return "a float";
	case TOML_DATETIME:
		return "a date-time";
	case TOML_ARRAY:
		return "an array";
	case TOML_TABLE:
		return "a table";
	}
	return "a value";
}

static struct toml_table *new_table(struct parser *p, size_t off, struct toml_pos pos, int depth,
				    enum toml_origin origin)
{
	struct toml_table *t;

	if (depth > TOML_MAX_DEPTH) {
		fail(p, off, "tables nested more than %d deep", TOML_MAX_DEPTH);
		return NULL;
	}
	t = toml_table_new();
	t->pos = pos;
	t->depth = depth;
	t->origin = origin;
	t->section = p->cur_section;
	return t;
}

static struct toml_value table_value(struct toml_table *t)
{
	struct toml_value v = { .type = TOML_TABLE, .pos = t->pos, .u.table = t };

	return v;
}

static struct toml_table *add_table(struct parser *p, struct toml_table *parent,
				    const struct key_part *k, enum toml_origin origin)
{
	struct toml_table *t = new_table(p, k->off, k->pos, parent->depth + 1, origin);

	if (t)
		table_add_entry(parent, k->s.ptr, k->s.len, table_value(t))->key_pos = t->pos;
	return t;
}

/* ---- strings ---- */

static int parse_hex_escape(struct parser *p, size_t start, int digits, struct strbuf *out)
{
	uint32_t cp = 0;

	for (int n = 0; n < digits; n++) {
		int c = peek(p, 0);

		if (!is_hex(c))
			return fail(p, start, "invalid escape sequence: \\%c needs %d hex digits",
				    digits == 4 ? 'u' : 'U', digits);
		cp = cp * 16 + (uint32_t)(is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
		p->i++;
	}
	if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return fail(p, start, "invalid escape sequence: U+%04" PRIX32
			    " is not a Unicode scalar value", cp);
	add_utf8(out, cp);
	return 0;
}

/* At the backslash of a basic string. */
static int parse_escape(struct parser *p, struct strbuf *out)
{
	size_t start = p->i;
	int c = peek(p, 1);
	char buf[8];

	p->i += 2;
	switch (c) {
	case 'b': strbuf_addch(out, '\b'); return 0;
	case 't': strbuf_addch(out, '\t'); return 0;
	case 'n': strbuf_addch(out, '\n'); return 0;
	case 'f': strbuf_addch(out, '\f'); return 0;
	case 'r': strbuf_addch(out, '\r'); return 0;
	case '"': strbuf_addch(out, '"'); return 0;
	case '\\': strbuf_addch(out, '\\'); return 0;
	case 'u': return parse_hex_escape(p, start, 4, out);
	case 'U': return parse_hex_escape(p, start, 8, out);
	}
	if (c > 0x20 && c < 0x7f)
		return fail(p, start, "invalid escape sequence: \\%c", c);
	return fail(p, start, "invalid escape sequence: backslash followed by %s",
		    describe(c, buf));
}

/* Appends a run of quotes q inside a multi-line string; 1 when it closed it. */
static int multi_quotes(struct parser *p, int q, struct strbuf *out)
{
	size_t n = 0;

	while (peek(p, n) == q)
		n++;
	if (n < 3) {
		p->i += n;
		strbuf_add(out, q == '"' ? "\"\"" : "''", n);
		return 0;
	}
	if (n > 5)
		return fail(p, p->i + 5, "too many quotes at the end of a multi-line string");
	strbuf_add(out, q == '"' ? "\"\"" : "''", n - 3);
	p->i += n;
	return 1;
}

/* Line-ending backslash: at '\', followed by whitespace and a newline. */
static int line_ending_backslash(struct parser *p)
{
	size_t start = p->i;
	int r;

	p->i++;
	skip_ws(p);
	r = eat_newline(p);
	if (r < 0)
		return -1;
	if (r == 0)
		return fail(p, start, "invalid escape sequence: '\\' and spaces not at end of line");
	for (;;) {
		skip_ws(p);
		r = eat_newline(p);
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
	}
}

static int parse_string(struct parser *p, struct toml_string *res, bool key)
{
	size_t start = p->i;
	int q = p->s[p->i];
	bool multi = !key && peek(p, 1) == q && peek(p, 2) == q;
	struct strbuf out = STRBUF_INIT;
	int r;

	p->i += multi ? 3 : 1;
	if (multi && eat_newline(p) < 0)
		goto bad;
	for (;;) {
		int c = peek(p, 0);

		if (c < 0 || (!multi && (c == '\n' || c == '\r'))) {
			fail(p, start, "unterminated string");
			goto bad;
		}
		if (c == q) {
			if (!multi) {
				p->i++;
				break;
			}
			r = multi_quotes(p, q, &out);
			if (r < 0)
				goto bad;
			if (r)
				break;
			continue;
		}
		if (q == '"' && c == '\\') {
			int n = peek(p, 1);

			if (multi && (n == ' ' || n == '\t' || n == '\n' || n == '\r'))
				r = line_ending_backslash(p);
			else
				r = parse_escape(p, &out);
			if (r < 0)
				goto bad;
			continue;
		}
		if (c == '\n' || c == '\r') {
			if (eat_newline(p) < 0)
				goto bad;
			strbuf_addch(&out, '\n');
			continue;
		}
		if (is_control(c)) {
			fail(p, p->i, "control character U+%04X in a string%s", (unsigned)c,
			     q == '"' ? " must be escaped" : "");
			goto bad;
		}
		strbuf_addch(&out, (char)c);
		p->i++;
	}
	res->len = out.len;
	res->ptr = detach(&out);
	return 0;
bad:
	strbuf_release(&out);
	return -1;
}

/* ---- keys ---- */

static void key_path_release(struct key_path *kp)
{
	for (size_t n = 0; n < kp->nr; n++)
		free(kp->parts[n].s.ptr);
	free(kp->parts);
	memset(kp, 0, sizeof(*kp));
}

static int parse_key(struct parser *p, struct key_path *kp)
{
	for (;;) {
		struct key_part k = { .off = p->i };
		int c;
		char buf[8];

		skip_ws(p);
		k.off = p->i;
		k.pos = pos_at(p, p->i);
		c = peek(p, 0);
		if (c == '"' || c == '\'') {
			if (parse_string(p, &k.s, true) < 0)
				return -1;
		} else if (is_bare_key_char(c)) {
			size_t s = p->i;

			while (is_bare_key_char(peek(p, 0)))
				p->i++;
			k.s.len = p->i - s;
			k.s.ptr = xstrndup((const char *)p->s + s, k.s.len);
		} else {
			/* Not "return fail()": the analyzers do not follow a variadic call to its -1. */
			fail(p, p->i, "expected a key, found %s", describe(c, buf));
			return -1;
		}
		ALLOC_GROW(kp->parts, kp->nr, kp->alloc);
		kp->parts[kp->nr++] = k;
		skip_ws(p);
		if (peek(p, 0) != '.')
			return 0;
		p->i++;
	}
}

/* ---- values ---- */

static int parse_value(struct parser *p, struct toml_value *v, int depth);

static int digits_with_underscores(struct parser *p, const char *s, size_t len, size_t off,
				   bool (*ok)(int))
{
	if (!len)
		return fail(p, off, "invalid number");
	for (size_t n = 0; n < len; n++) {
		if (s[n] == '_') {
			if (!n || n + 1 == len || !ok((unsigned char)s[n - 1]) ||
			    !ok((unsigned char)s[n + 1]))
				return fail(p, off + n, "'_' must be between digits");
		} else if (!ok((unsigned char)s[n])) {
			return fail(p, off + n, "invalid number");
		}
	}
	return 0;
}

static bool is_dec_digit(int c)
{
	return is_digit(c);
}

static bool is_oct_digit(int c)
{
	return c >= '0' && c <= '7';
}

static bool is_bin_digit(int c)
{
	return c == '0' || c == '1';
}

static bool is_hex_digit(int c)
{
	return is_hex(c);
}

static int parse_integer(struct parser *p, const char *tok, size_t len, size_t off, int64_t *res)
{
	size_t k = 0;
	bool neg = false, sign = false;
	unsigned base = 10;
	bool (*ok)(int) = is_dec_digit;
	uint64_t limit, acc = 0;

	if (tok[0] == '+' || tok[0] == '-') {
		neg = tok[0] == '-';
		sign = true;
		k = 1;
	}
	if (len - k > 2 && tok[k] == '0' && (tok[k + 1] == 'x' || tok[k + 1] == 'o' ||
					      tok[k + 1] == 'b')) {
		if (sign)
			return fail(p, off, "a sign is not allowed on hex, octal or binary integers");
		base = tok[k + 1] == 'x' ? 16 : tok[k + 1] == 'o' ? 8 : 2;
		ok = base == 16 ? is_hex_digit : base == 8 ? is_oct_digit : is_bin_digit;
		k += 2;
	} else if (len - k > 1 && tok[k] == '0') {
		return fail(p, off, "leading zeros are not allowed in integers");
	}
	if (digits_with_underscores(p, tok + k, len - k, off + k, ok) < 0)
		return -1;
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; k < len; k++) {
		int c = tok[k];
		unsigned d;

		if (c == '_')
			continue;
		d = is_digit(c) ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
		if (acc > (limit - d) / base)
			return fail(p, off, "integer out of range (64-bit)");
		acc = acc * base + d;
	}
	*res = neg ? (int64_t)(0 - acc) : (int64_t)acc;
	return 0;
}

static int check_float(struct parser *p, const char *tok, size_t len, size_t off)
{
	size_t k = 0, e;

	if (tok[0] == '+' || tok[0] == '-')
		k = 1;
	if ((len - k == 3) && (!memcmp(tok + k, "inf", 3) || !memcmp(tok + k, "nan", 3)))
		return 0;
	/* Integer part: like a decimal integer. */
	for (e = k; e < len && tok[e] != '.' && tok[e] != 'e' && tok[e] != 'E'; e++)
		;
	if (e - k > 1 && tok[k] == '0')
		return fail(p, off, "leading zeros are not allowed in floats");
	if (digits_with_underscores(p, tok + k, e - k, off + k, is_dec_digit) < 0)
		return -1;
	k = e;
	if (k < len && tok[k] == '.') {
		for (e = ++k; e < len && tok[e] != 'e' && tok[e] != 'E'; e++)
			;
		if (digits_with_underscores(p, tok + k, e - k, off + k, is_dec_digit) < 0)
			return -1;
		k = e;
	}
	if (k < len) {
		k++; /* e or E */
		if (k < len && (tok[k] == '+' || tok[k] == '-'))
			k++;
		if (digits_with_underscores(p, tok + k, len - k, off + k, is_dec_digit) < 0)
			return -1;
	}
	return 0;
}

static bool digits_at(const struct parser *p, size_t at, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (at + k >= p->len || !is_digit(p->s[at + k]))
			return false;
	return true;
}

static unsigned num_at(const struct parser *p, size_t at, size_t n)
{
	unsigned v = 0;

	for (size_t k = 0; k < n; k++)
		v = v * 10 + (unsigned)(p->s[at + k] - '0');
	return v;
}

/* HH:MM:SS[.fraction] at p->i. */
static int parse_time(struct parser *p)
{
	size_t at = p->i;

	if (!digits_at(p, at, 2) || peek(p, 2) != ':' || !digits_at(p, at + 3, 2) ||
	    peek(p, 5) != ':' || !digits_at(p, at + 6, 2))
		return fail(p, at, "invalid time (expected HH:MM:SS)");
	if (num_at(p, at, 2) > 23 || num_at(p, at + 3, 2) > 59 || num_at(p, at + 6, 2) > 60)
		return fail(p, at, "invalid time (out of range)");
	p->i += 8;
	if (peek(p, 0) == '.') {
		p->i++;
		if (!is_digit(peek(p, 0)))
			return fail(p, p->i, "invalid time (digits expected after '.')");
		while (is_digit(peek(p, 0)))
			p->i++;
	}
	return 0;
}

static int parse_datetime(struct parser *p, bool has_date)
{
	size_t start = p->i;

	if (has_date) {
		unsigned y, m, d, days;
		static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

		if (!digits_at(p, start, 4) || peek(p, 4) != '-' || !digits_at(p, start + 5, 2) ||
		    peek(p, 7) != '-' || !digits_at(p, start + 8, 2))
			return fail(p, start, "invalid date (expected YYYY-MM-DD)");
		y = num_at(p, start, 4);
		m = num_at(p, start + 5, 2);
		d = num_at(p, start + 8, 2);
		if (m < 1 || m > 12)
			return fail(p, start, "invalid date (month out of range)");
		days = mdays[m - 1];
		if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
			days = 29;
		if (d < 1 || d > days)
			return fail(p, start, "invalid date (day out of range)");
		p->i += 10;
		if (peek(p, 0) == 'T' || peek(p, 0) == 't' ||
		    (peek(p, 0) == ' ' && digits_at(p, p->i + 1, 2) && peek(p, 3) == ':'))
			p->i++;
		else
			return 0;
	}
	if (parse_time(p) < 0)
		return -1;
	if (!has_date)
		return 0;
	if (peek(p, 0) == 'Z' || peek(p, 0) == 'z') {
		p->i++;
	} else if (peek(p, 0) == '+' || peek(p, 0) == '-') {
		size_t at = p->i + 1;

		if (!digits_at(p, at, 2) || peek(p, 3) != ':' || !digits_at(p, at + 3, 2) ||
		    num_at(p, at, 2) > 23 || num_at(p, at + 3, 2) > 59)
			return fail(p, p->i, "invalid time offset (expected +HH:MM)");
		p->i += 6;
	}
	return 0;
}

static bool is_value_end(int c)
{
	return c < 0 || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '#' || c == ',' ||
	       c == ']' || c == '}';
}

static bool is_token_char(int c)
{
	return is_bare_key_char(c) || c == '+' || c == '.';
}

static int parse_scalar(struct parser *p, struct toml_value *v)
{
	size_t start = p->i, end;
	const char *tok = (const char *)p->s + start;
	size_t len;
	char buf[8];

	if (digits_at(p, start, 4) && peek(p, 4) == '-') {
		v->type = TOML_DATETIME;
		if (parse_datetime(p, true) < 0)
			return -1;
	} else if (digits_at(p, start, 2) && peek(p, 2) == ':') {
		v->type = TOML_DATETIME;
		if (parse_datetime(p, false) < 0)
			return -1;
	} else {
		for (end = start; end < p->len && is_token_char(p->s[end]); end++)
			;
		len = end - start;
		if (!len)
			return fail(p, start, "expected a value, found %s",
				    describe(peek(p, 0), buf));
		if ((len == 4 && !memcmp(tok, "true", 4)) || (len == 5 && !memcmp(tok, "false", 5))) {
			v->type = TOML_BOOLEAN;
			v->u.boolean = len == 4;
		} else if (!is_digit(tok[0]) && tok[0] != '+' && tok[0] != '-' &&
			   !(len == 3 && (!memcmp(tok, "inf", 3) || !memcmp(tok, "nan", 3)))) {
			return fail(p, start, "invalid value (strings must be quoted)");
		} else if (len > 2 && tok[tok[0] == '+' || tok[0] == '-'] == '0' &&
			   strchr("xob", tok[(tok[0] == '+' || tok[0] == '-') + 1])) {
			v->type = TOML_INTEGER;
		} else if (memchr(tok, '.', len) || memchr(tok, 'e', len) ||
			   memchr(tok, 'E', len) || memchr(tok, 'n', len) || memchr(tok, 'i', len)) {
			v->type = TOML_FLOAT;
		} else {
			v->type = TOML_INTEGER;
		}
		if (v->type == TOML_INTEGER && parse_integer(p, tok, len, start, &v->u.integer) < 0)
			return -1;
		if (v->type == TOML_FLOAT && check_float(p, tok, len, start) < 0)
			return -1;
		p->i = end;
	}
	if (!is_value_end(peek(p, 0)))
		return fail(p, p->i, "unexpected %s after a value", describe(peek(p, 0), buf));
	if (v->type == TOML_FLOAT || v->type == TOML_DATETIME)
		v->u.raw = xstrndup(tok, p->i - start);
	return 0;
}

static int parse_array(struct parser *p, struct toml_value *v, int depth)
{
	size_t start = p->i;
	struct toml_array *a;
	char buf[8];

	if (depth > TOML_MAX_DEPTH)
		return fail(p, start, "arrays and tables nested more than %d deep",
			    TOML_MAX_DEPTH);
	a = xcalloc(1, sizeof(*a));
	a->depth = depth;
	v->type = TOML_ARRAY;
	v->u.array = a;
	p->i++;
	for (;;) {
		if (skip_ws_comments_newlines(p) < 0)
			return -1;
		if (peek(p, 0) == ']')
			break;
		if (peek(p, 0) < 0)
			return fail(p, start, "unterminated array");
		ALLOC_GROW(a->items, a->nr, a->alloc);
		memset(&a->items[a->nr], 0, sizeof(a->items[a->nr]));
		a->items[a->nr].type = TOML_BOOLEAN;
		if (parse_value(p, &a->items[a->nr++], depth + 1) < 0)
			return -1;
		if (skip_ws_comments_newlines(p) < 0)
			return -1;
		if (peek(p, 0) == ',') {
			p->i++;
			continue;
		}
		if (peek(p, 0) == ']')
			break;
		if (peek(p, 0) < 0)
			return fail(p, start, "unterminated array");
		return fail(p, p->i, "expected ',' or ']' in an array, found %s",
			    describe(peek(p, 0), buf));
	}
	p->i++;
	return 0;
}

static int parse_keyval(struct parser *p, struct toml_table *t);

static int parse_inline_table(struct parser *p, struct toml_value *v, int depth)
{
	size_t start = p->i;
	unsigned long saved_section = p->cur_section;
	struct toml_table *t;
	char buf[8];
	int r = -1;

	/* Dotted keys inside belong to this table alone. */
	p->cur_section = ++p->sections;
	p->inline_depth++;
	t = new_table(p, start, v->pos, depth, TOML_ORIGIN_INLINE);
	if (!t)
		goto out;
	*v = table_value(t);
	p->i++;
	skip_ws(p);
	if (peek(p, 0) == '}') {
		p->i++;
		r = 0;
		goto out;
	}
	for (;;) {
		int c;

		if (parse_keyval(p, t) < 0)
			goto out;
		skip_ws(p);
		c = peek(p, 0);
		if (c == '}') {
			p->i++;
			break;
		}
		if (c != ',') {
			if (c < 0 || c == '\n' || c == '\r')
				fail(p, p->i, "unterminated inline table (no newlines allowed)");
			else
				fail(p, p->i, "expected ',' or '}' in an inline table, found %s",
				     describe(c, buf));
			goto out;
		}
		p->i++;
		skip_ws(p);
		if (peek(p, 0) == '}') {
			fail(p, p->i, "trailing comma not allowed in an inline table");
			goto out;
		}
	}
	r = 0;
out:
	p->cur_section = saved_section;
	p->inline_depth--;
	return r;
}

/* v is zeroed by the caller; on error it holds whatever was built, to be released. */
static int parse_value(struct parser *p, struct toml_value *v, int depth)
{
	int c = peek(p, 0);

	v->pos = pos_at(p, p->i);
	if (c == '"' || c == '\'') {
		v->type = TOML_STRING;
		if (parse_string(p, &v->u.str, false) < 0)
			return -1;
		if (!is_value_end(peek(p, 0))) {
			char buf[8];

			return fail(p, p->i, "unexpected %s after a value",
				    describe(peek(p, 0), buf));
		}
		return 0;
	}
	if (c == '[')
		return parse_array(p, v, depth);
	if (c == '{')
		return parse_inline_table(p, v, depth);
	return parse_scalar(p, v);
}

/* ---- key/value pairs and headers ---- */

static int parse_keyval(struct parser *p, struct toml_table *t)
{
	struct key_path kp = { 0 };
	struct toml_value v = { .type = TOML_BOOLEAN };
	const struct key_part *last;
	struct toml_entry *e;
	char buf[8];
	int r = -1;

	if (parse_key(p, &kp) < 0)
		goto out;
	if (p->log && !p->inline_depth) {
		free(p->log->pending_key);
		p->log->pending_key = xstrndup(kp.parts[0].s.ptr, kp.parts[0].s.len);
	}
	/* Walk (or make) the tables of a dotted key. */
	for (size_t n = 0; n + 1 < kp.nr; n++) {
		const struct key_part *k = &kp.parts[n];
		struct toml_table *child;

		e = toml_table_find(t, k->s.ptr, k->s.len);
		if (!e) {
			t = add_table(p, t, k, TOML_ORIGIN_DOTTED);
			if (!t)
				goto out;
			continue;
		}
		if (e->value.type != TOML_TABLE) {
			fail_key(p, k, "key '%s' is already defined as a value");
			goto out;
		}
		child = e->value.u.table;
		if (child->origin == TOML_ORIGIN_IMPLICIT) {
			child->origin = TOML_ORIGIN_DOTTED;
			child->section = p->cur_section;
		}
		if (child->origin != TOML_ORIGIN_DOTTED || child->section != p->cur_section) {
			fail_key(p, k, child->origin == TOML_ORIGIN_INLINE ?
				 "cannot add keys to inline table '%s'" :
				 "cannot add keys to table '%s' with a dotted key: it is defined elsewhere");
			goto out;
		}
		t = child;
	}
	last = &kp.parts[kp.nr - 1];
	if (toml_table_find(t, last->s.ptr, last->s.len)) {
		fail_key(p, last, "duplicate key '%s'");
		goto out;
	}
	if (peek(p, 0) != '=') {
		fail(p, p->i, "expected '=' after a key, found %s", describe(peek(p, 0), buf));
		goto out;
	}
	p->i++;
	skip_ws(p);
	if (parse_value(p, &v, t->depth + 1) < 0)
		goto out;
	table_add_entry(t, last->s.ptr, last->s.len, v)->key_pos = last->pos;
	memset(&v, 0, sizeof(v));
	v.type = TOML_BOOLEAN;
	r = 0;
out:
	toml_value_release(&v);
	key_path_release(&kp);
	return r;
}

static int parse_header(struct parser *p)
{
	size_t start = p->i;
	struct toml_pos start_pos = pos_at(p, start);
	bool aot = peek(p, 1) == '[';
	struct key_path kp = { 0 };
	struct toml_table *t = p->root;
	const struct key_part *last;
	struct toml_entry *e;
	int r = -1;

	p->i += aot ? 2 : 1;
	if (parse_key(p, &kp) < 0)
		goto out;
	if (peek(p, 0) != ']' || (aot && peek(p, 1) != ']')) {
		fail(p, p->i + (peek(p, 0) == ']'), aot ? "expected ']]' to end the array of tables header" :
				    "expected ']' to end the table header");
		goto out;
	}
	p->i += aot ? 2 : 1;
	p->cur_section = ++p->sections;

	for (size_t n = 0; n + 1 < kp.nr; n++) {
		const struct key_part *k = &kp.parts[n];
		struct toml_value *v;

		e = toml_table_find(t, k->s.ptr, k->s.len);
		if (!e) {
			t = add_table(p, t, k, TOML_ORIGIN_IMPLICIT);
			if (!t)
				goto out;
			continue;
		}
		v = &e->value;
		if (v->type == TOML_TABLE && v->u.table->origin != TOML_ORIGIN_INLINE) {
			t = v->u.table;
		} else if (v->type == TOML_ARRAY && v->u.array->of_tables) {
			t = v->u.array->items[v->u.array->nr - 1].u.table;
		} else {
			fail_key(p, k, v->type == TOML_TABLE ? "cannot add keys to inline table '%s'" :
				 v->type == TOML_ARRAY ? "cannot add tables to static array '%s'" :
				 "key '%s' is already defined as a value");
			goto out;
		}
	}
	last = &kp.parts[kp.nr - 1];
	e = toml_table_find(t, last->s.ptr, last->s.len);
	if (aot) {
		struct toml_array *a;
		struct toml_table *elem;

		if (!e) {
			struct toml_value v = { .type = TOML_ARRAY, .pos = start_pos };

			if (t->depth + 1 > TOML_MAX_DEPTH) {
				fail(p, last->off, "tables nested more than %d deep", TOML_MAX_DEPTH);
				goto out;
			}
			a = xcalloc(1, sizeof(*a));
			a->of_tables = true;
			a->depth = t->depth + 1;
			v.u.array = a;
			table_add_entry(t, last->s.ptr, last->s.len, v)->key_pos = last->pos;
		} else if (e->value.type == TOML_ARRAY && e->value.u.array->of_tables) {
			a = e->value.u.array;
		} else {
			fail_key(p, last, e->value.type == TOML_ARRAY ?
				 "cannot append to static array '%s'" :
				 e->value.type == TOML_TABLE ? "key '%s' is already defined as a table" :
				 "key '%s' is already defined as a value");
			goto out;
		}
		elem = new_table(p, start, start_pos, a->depth + 1, TOML_ORIGIN_HEADER);
		if (!elem)
			goto out;
		ALLOC_GROW(a->items, a->nr, a->alloc);
		a->items[a->nr++] = table_value(elem);
		p->cur = elem;
	} else if (!e) {
		p->cur = add_table(p, t, last, TOML_ORIGIN_HEADER);
		if (!p->cur)
			goto out;
		/* A table defined by a header is where its header is. */
		p->cur->pos = start_pos;
		t->entries[t->nr - 1].value.pos = start_pos;
	} else if (e->value.type == TOML_TABLE && e->value.u.table->origin == TOML_ORIGIN_IMPLICIT) {
		p->cur = e->value.u.table;
		p->cur->origin = TOML_ORIGIN_HEADER;
		p->cur->pos = start_pos;
		e->value.pos = start_pos;
	} else {
		fail_key(p, last, e->value.type == TOML_TABLE ? "table '%s' is already defined" :
			 e->value.type == TOML_ARRAY && e->value.u.array->of_tables ?
			 "key '%s' is already defined as an array of tables" :
			 "key '%s' is already defined as a value");
		goto out;
	}
	r = 0;
out:
	key_path_release(&kp);
	return r;
}

static int parse_document(struct parser *p)
{
	char buf[8];

	/* A UTF-8 byte order mark is harmless: some editors write one. */
	if (p->len >= 3 && !memcmp(p->s, "\xef\xbb\xbf", 3))
		p->i = 3;
	while (p->i < p->len) {
		size_t line_start = p->i, item_start, after_item;
		bool item = false;
		int c, r;

		skip_ws(p);
		item_start = p->i;
		c = peek(p, 0);
		if (c == '[') {
			if (parse_header(p) < 0)
				return -1;
			item = true;
		} else if (c >= 0 && c != '#' && c != '\n' && c != '\r') {
			if (parse_keyval(p, p->cur) < 0)
				return -1;
			item = true;
		}
		if (item && p->log) {
			log_item(p, p->cur, c == '[' ? NULL : p->log->pending_key, item_start, p->i);
			p->log->pending_key = NULL;
		}
		after_item = p->i;
		skip_ws(p);
		c = peek(p, 0);
		if (c == '#') {
			if (skip_comment(p) < 0)
				return -1;
			log_comment(p, item ? COMMENT_TRAILING : COMMENT_OWN_LINE, item ? after_item : line_start,
				    p->i);
		}
		r = eat_newline(p);
		if (r < 0)
			return -1;
		if (r == 0 && p->i < p->len)
			return fail(p, p->i, "expected a newline, found %s",
				    describe(peek(p, 0), buf));
	}
	return 0;
}

static struct toml_table *parse_logged(const char *path, const char *text, size_t len, char **err,
				       struct comment_log *log)
{
	struct parser p = { .log = log };
	size_t bad;

	p.path = escape_display(path);
	p.s = (const unsigned char *)text;
	p.len = len;
	p.pc_line = 1;
	p.pc_col = 1;
	p.root = toml_table_new();
	p.root->origin = TOML_ORIGIN_HEADER;
	p.root->pos = pos_at(&p, 0);
	p.cur = p.root;

	bad = utf8_check(p.s, len);
	if (bad < len)
		fail(&p, bad, "invalid UTF-8");
	else
		parse_document(&p);
	free(p.path);
	if (p.err) {
		toml_table_free(p.root);
		*err = p.err;
		return NULL;
	}
	*err = NULL;
	return p.root;
}

struct toml_table *toml_parse(const char *path, const char *text, size_t len, char **err)
{
	return parse_logged(path, text, len, err, NULL);
}

/* ---- writer ---- */

void toml_write_string(struct strbuf *sb, const char *s, size_t len)
{
	strbuf_addch(sb, '"');
	for (size_t n = 0; n < len; n++) {
		unsigned char c = (unsigned char)s[n];

		switch (c) {
		case '"': strbuf_addstr(sb, "\\\""); break;
		case '\\': strbuf_addstr(sb, "\\\\"); break;
		case '\b': strbuf_addstr(sb, "\\b"); break;
		case '\f': strbuf_addstr(sb, "\\f"); break;
		case '\n': strbuf_addstr(sb, "\\n"); break;
		case '\r': strbuf_addstr(sb, "\\r"); break;
		case '\t': strbuf_addstr(sb, "\\t"); break;
		default:
			/* DEL too: TOML does not allow it raw, unlike JSON. */
			if (c < 0x20 || c == 0x7f)
				strbuf_addf(sb, "\\u%04x", c);
			else
				strbuf_addch(sb, (char)c);
		}
	}
	strbuf_addch(sb, '"');
}

void toml_write_key(struct strbuf *sb, const char *key, size_t len)
{
	bool bare = len > 0;

	for (size_t n = 0; n < len && bare; n++)
		bare = is_bare_key_char((unsigned char)key[n]);
	if (bare)
		strbuf_add(sb, key, len);
	else
		toml_write_string(sb, key, len);
}

void toml_write_value(struct strbuf *sb, const struct toml_value *v)
{
	switch (v->type) {
	case TOML_STRING:
		toml_write_string(sb, v->u.str.ptr, v->u.str.len);
		break;
	case TOML_INTEGER:
		strbuf_addf(sb, "%" PRId64, v->u.integer);
		break;
	case TOML_BOOLEAN:
		strbuf_addstr(sb, v->u.boolean ? "true" : "false");
		break;
	case TOML_FLOAT:
	case TOML_DATETIME:
		strbuf_addstr(sb, v->u.raw);
		break;
	case TOML_ARRAY:
		strbuf_addch(sb, '[');
		for (size_t n = 0; n < v->u.array->nr; n++) {
			if (n)
				strbuf_addstr(sb, ", ");
			toml_write_value(sb, &v->u.array->items[n]);
		}
		strbuf_addch(sb, ']');
		break;
	case TOML_TABLE:
		if (!v->u.table->nr) {
			strbuf_addstr(sb, "{}");
			break;
		}
		strbuf_addstr(sb, "{ ");
		for (size_t n = 0; n < v->u.table->nr; n++) {
			const struct toml_entry *e = &v->u.table->entries[n];

			if (n)
				strbuf_addstr(sb, ", ");
			toml_write_key(sb, e->key.ptr, e->key.len);
			strbuf_addstr(sb, " = ");
			toml_write_value(sb, &e->value);
		}
		strbuf_addstr(sb, " }");
		break;
	}
}

void toml_write_entries(struct strbuf *sb, const struct toml_table *t)
{
	for (size_t n = 0; n < t->nr; n++) {
		toml_write_key(sb, t->entries[n].key.ptr, t->entries[n].key.len);
		strbuf_addstr(sb, " = ");
		toml_write_value(sb, &t->entries[n].value);
		strbuf_addch(sb, '\n');
	}
}

char *toml_format(const struct toml_table *root)
{
	struct strbuf sb = STRBUF_INIT;

	toml_write_entries(&sb, root);
	return detach(&sb);
}

/* ---- comments ---- */

/*
 * A comment stays with what it is about: the key or table header on its line
 * (trailing), or the one it stands above (leading). Both are named by an
 * anchor that a rewrite of the same data gives the same item: the path of
 * tables down to the item, each element of an array of tables named by its
 * identity key (user_name = "agent", not its index, which changes when an
 * element goes), then the key. A comment block at the top of the file, set
 * apart by a blank line, and comments after the last item stay where they
 * are whatever changes.
 */
enum comment_place { PLACE_HEAD, PLACE_LEADING, PLACE_TRAILING, PLACE_TAIL };

struct toml_comment {
	enum comment_place place;
	char *anchor; /* NULL for the head and the tail */
	char *text;   /* as written: the line, or the spaces and '#' after an item */
	size_t order;
};

struct toml_comments {
	struct toml_comment *v;
	size_t nr, alloc;
};

/* A table and the anchor of its header. */
struct table_path {
	const struct toml_table *table;
	char *path;
};

struct path_map {
	struct table_path *v;
	size_t nr, alloc;
};

static void comment_log_release(struct comment_log *log)
{
	for (size_t i = 0; i < log->nr_items; i++)
		free(log->items[i].key);
	free(log->items);
	free(log->comments);
	free(log->pending_key);
	memset(log, 0, sizeof(*log));
}

static void add_path(struct path_map *m, const struct toml_table *t, struct strbuf *path)
{
	ALLOC_GROW(m->v, m->nr, m->alloc);
	m->v[m->nr].table = t;
	m->v[m->nr].path = xstrdup(strbuf_str(path));
	m->nr++;
}

/* The identity of an element of an array of tables: "key=value", or its index. */
static void add_identity(struct strbuf *path, const struct toml_table *t, size_t index,
			 const char *const *identity_keys)
{
	for (const char *const *k = identity_keys; k && *k; k++) {
		const struct toml_value *v = toml_table_get(t, *k);

		if (v && v->type == TOML_STRING) {
			strbuf_addf(path, "[%s=", *k);
			strbuf_add(path, v->u.str.ptr, v->u.str.len);
			strbuf_addch(path, ']');
			return;
		}
	}
	strbuf_addf(path, "[#%zu]", index);
}

/* Every table of the tree under t (not inline ones: their keys are not items), by path. */
static void map_tables(struct path_map *m, const struct toml_table *t, struct strbuf *path,
		       const char *const *identity_keys)
{
	add_path(m, t, path);
	for (size_t n = 0; n < t->nr; n++) {
		const struct toml_entry *e = &t->entries[n];
		size_t len = path->len;

		strbuf_addch(path, '.');
		strbuf_add(path, e->key.ptr, e->key.len);
		if (e->value.type == TOML_TABLE && e->value.u.table->origin != TOML_ORIGIN_INLINE) {
			map_tables(m, e->value.u.table, path, identity_keys);
		} else if (e->value.type == TOML_ARRAY && e->value.u.array->of_tables) {
			size_t alen = path->len;

			for (size_t k = 0; k < e->value.u.array->nr; k++) {
				add_identity(path, e->value.u.array->items[k].u.table, k, identity_keys);
				map_tables(m, e->value.u.array->items[k].u.table, path, identity_keys);
				path->len = alen;
				path->buf[alen] = '\0';
			}
		}
		path->len = len;
		path->buf[len] = '\0';
	}
}

static int compare_table_paths(const void *a, const void *b)
{
	const struct toml_table *x = ((const struct table_path *)a)->table;
	const struct toml_table *y = ((const struct table_path *)b)->table;

	return x < y ? -1 : x > y;
}

static const char *path_of_table(const struct path_map *m, const struct toml_table *t)
{
	struct table_path key = { .table = t };
	const struct table_path *found = bsearch(&key, m->v, m->nr, sizeof(*m->v), compare_table_paths);

	return found ? found->path : "?";
}

static void path_map_release(struct path_map *m)
{
	for (size_t i = 0; i < m->nr; i++)
		free(m->v[i].path);
	free(m->v);
}

/* "PATH\nKEY", or "PATH\n" for a header. */
static char *item_anchor(const struct path_map *m, const struct item_rec *it)
{
	return xasprintf("%s\n%s", path_of_table(m, it->table), it->key ? it->key : "");
}

/* Parses text, logging its items and comments, and names each item. NULL when it does not parse. */
static char **anchored_parse(const char *text, size_t len, const char *const *identity_keys,
			     struct comment_log *log)
{
	struct strbuf path = STRBUF_INIT;
	struct path_map map = { 0 };
	struct toml_table *root;
	char *err = NULL;
	char **anchors;

	root = parse_logged("comments", text, len, &err, log);
	free(err);
	if (!root)
		return NULL;
	map_tables(&map, root, &path, identity_keys);
	qsort(map.v, map.nr, sizeof(*map.v), compare_table_paths);
	anchors = xcalloc(log->nr_items + 1, sizeof(*anchors));
	for (size_t i = 0; i < log->nr_items; i++)
		anchors[i] = item_anchor(&map, &log->items[i]);
	path_map_release(&map);
	strbuf_release(&path);
	toml_table_free(root);
	return anchors;
}

static void free_anchors(char **anchors, size_t nr)
{
	for (size_t i = 0; anchors && i < nr; i++)
		free(anchors[i]);
	free(anchors);
}

/* A blank line between from and to: a comment block set apart from what follows. */
static bool blank_line_between(const char *text, size_t from, size_t to)
{
	bool line_empty = false;

	for (size_t i = from; i < to; i++) {
		if (text[i] == '\n') {
			if (line_empty)
				return true;
			line_empty = true;
		} else if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r') {
			line_empty = false;
		}
	}
	return false;
}

static void add_comment(struct toml_comments *c, enum comment_place place, const char *anchor,
			const char *text, size_t start, size_t end)
{
	struct toml_comment *cm;

	ALLOC_GROW(c->v, c->nr, c->alloc);
	cm = &c->v[c->nr];
	cm->place = place;
	cm->anchor = anchor ? xstrdup(anchor) : NULL;
	cm->text = xstrndup(text + start, end - start);
	cm->order = c->nr++;
}

struct toml_comments *toml_comments_collect(const char *text, size_t len, const char *const *identity_keys)
{
	struct comment_log log = { 0 };
	struct toml_comments *c;
	char **anchors;
	size_t next_item = 0;

	if (!memchr(text, '#', len))
		return NULL;
	anchors = anchored_parse(text, len, identity_keys, &log);
	if (!anchors || !log.nr_comments) {
		free_anchors(anchors, log.nr_items);
		comment_log_release(&log);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	for (size_t i = 0; i < log.nr_comments; i++) {
		const struct comment_rec *r = &log.comments[i];

		if (r->kind == COMMENT_TRAILING) {
			add_comment(c, PLACE_TRAILING, anchors[r->item], text, r->start, r->end);
			continue;
		}
		/* The first item that ends after the comment: the one it is in, or above. */
		while (next_item < log.nr_items && log.items[next_item].end < r->start)
			next_item++;
		if (next_item == log.nr_items)
			add_comment(c, PLACE_TAIL, NULL, text, r->start, r->end);
		else if (next_item == 0 && r->kind == COMMENT_OWN_LINE &&
			 blank_line_between(text, r->end, log.items[0].start))
			add_comment(c, PLACE_HEAD, NULL, text, r->start, r->end);
		else
			add_comment(c, PLACE_LEADING, anchors[next_item], text, r->start, r->end);
	}
	free_anchors(anchors, log.nr_items);
	comment_log_release(&log);
	return c;
}

void toml_comments_free(struct toml_comments *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nr; i++) {
		free(c->v[i].anchor);
		free(c->v[i].text);
	}
	free(c->v);
	free(c);
}

/* Anchored comments sorted by (anchor, order), for a binary search per item. */
static int compare_comments(const void *a, const void *b)
{
	const struct toml_comment *x = *(const struct toml_comment *const *)a;
	const struct toml_comment *y = *(const struct toml_comment *const *)b;
	int r = strcmp(x->anchor, y->anchor);

	if (r)
		return r;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* The first of the sorted comments with this anchor, or nr. */
static size_t first_with_anchor(struct toml_comment **sorted, size_t nr, const char *anchor)
{
	size_t lo = 0, hi = nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(sorted[mid]->anchor, anchor) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nr && !strcmp(sorted[lo]->anchor, anchor) ? lo : nr;
}

static void emit_place(struct strbuf *out, const struct toml_comments *c, enum comment_place place)
{
	for (size_t i = 0; i < c->nr; i++) {
		if (c->v[i].place == place) {
			strbuf_addstr(out, c->v[i].text);
			strbuf_addch(out, '\n');
		}
	}
}

/* The leading comments of one item, and its trailing one(s) into trailing. */
static void emit_item_comments(struct strbuf *out, struct strbuf *trailing, struct toml_comment **sorted,
			       size_t nr, bool *used, const char *anchor)
{
	for (size_t i = first_with_anchor(sorted, nr, anchor); i < nr && !strcmp(sorted[i]->anchor, anchor); i++) {
		const struct toml_comment *cm = sorted[i];

		if (used[cm->order])
			continue;
		used[cm->order] = true;
		if (cm->place == PLACE_LEADING || trailing->len) {
			/* A second trailing comment (two lines of a dotted key) goes above. */
			const char *t = cm->text;

			if (cm->place == PLACE_TRAILING)
				while (*t == ' ' || *t == '\t')
					t++;
			strbuf_addstr(out, t);
			strbuf_addch(out, '\n');
		} else {
			strbuf_addstr(trailing, cm->text);
		}
	}
}

char *toml_comments_apply(const struct toml_comments *c, const char *new_text, const char *const *identity_keys)
{
	struct strbuf out = STRBUF_INIT, trailing = STRBUF_INIT;
	struct comment_log log = { 0 };
	size_t len = strlen(new_text), item = 0, nr_sorted = 0;
	struct toml_comment **sorted;
	bool *used;
	char **anchors;

	if (!c || !c->nr)
		return xstrdup(new_text);
	anchors = anchored_parse(new_text, len, identity_keys, &log);
	if (!anchors) {
		comment_log_release(&log);
		return xstrdup(new_text);
	}
	sorted = xcalloc(c->nr + 1, sizeof(*sorted));
	used = xcalloc(c->nr + 1, sizeof(*used));
	for (size_t i = 0; i < c->nr; i++) {
		if (c->v[i].anchor)
			sorted[nr_sorted++] = &c->v[i];
	}
	qsort(sorted, nr_sorted, sizeof(*sorted), compare_comments);

	emit_place(&out, c, PLACE_HEAD);
	if (out.len && len)
		strbuf_addch(&out, '\n');
	for (size_t off = 0; off < len;) {
		const char *nl = memchr(new_text + off, '\n', len - off);
		size_t end = nl ? (size_t)(nl - new_text) : len;

		strbuf_reset(&trailing);
		for (; item < log.nr_items && log.items[item].start <= end; item++)
			emit_item_comments(&out, &trailing, sorted, nr_sorted, used, anchors[item]);
		strbuf_add(&out, new_text + off, end - off);
		strbuf_addstr(&out, strbuf_str(&trailing));
		if (nl)
			strbuf_addch(&out, '\n');
		off = nl ? end + 1 : len;
	}
	if (len && new_text[len - 1] != '\n')
		strbuf_addch(&out, '\n');
	emit_place(&out, c, PLACE_TAIL);

	free(sorted);
	free(used);
	free_anchors(anchors, log.nr_items);
	comment_log_release(&log);
	strbuf_release(&trailing);
	return detach(&out);
}
