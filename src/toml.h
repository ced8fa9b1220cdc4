/*
 * toml.h: a strict TOML 1.0 reader and a small writer.
 *
 * The reader builds a tree that keeps key order and the position of every key
 * and value, so that the config layer can point at the offending line. Floats
 * and date-times are validated and kept as their original text, which the
 * writer copies back unchanged.
 *
 * Errors read "PATH:LINE:COL: message". LINE and COL are 1-based; COL counts
 * characters (UTF-8 code points, a tab is one), not bytes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strbuf;

/* Nested arrays and tables deeper than this are rejected. */
#define TOML_MAX_DEPTH 64

enum toml_type {
	TOML_STRING,
	TOML_INTEGER,
	TOML_BOOLEAN,
	TOML_FLOAT,    /* raw text */
	TOML_DATETIME, /* raw text: offset/local date-time, local date or time */
	TOML_ARRAY,
	TOML_TABLE,
};

struct toml_pos {
	size_t line;
	size_t col;
};

/* May contain NUL bytes (from "\u0000"); always NUL-terminated as well. */
struct toml_string {
	char *ptr;
	size_t len;
};

struct toml_array;
struct toml_table;

struct toml_value {
	enum toml_type type;
	struct toml_pos pos;
	union {
		struct toml_string str;
		int64_t integer;
		bool boolean;
		char *raw;
		struct toml_array *array;
		struct toml_table *table;
	} u;
};

struct toml_array {
	struct toml_value *items;
	size_t nr, alloc;
	bool of_tables; /* made by [[header]]: more [[header]] may append */
	int depth;
};

struct toml_entry {
	struct toml_string key;
	struct toml_pos key_pos;
	struct toml_value value;
};

/* How a table came to be; decides what TOML 1.0 still allows on it. */
enum toml_origin {
	TOML_ORIGIN_IMPLICIT, /* the "a" of [a.b]: [a] may still define it */
	TOML_ORIGIN_HEADER,   /* [a] or an element of [[a]] */
	TOML_ORIGIN_DOTTED,   /* a.b = 1 made "a": closed at the next header */
	TOML_ORIGIN_INLINE,   /* { ... }: closed for good */
};

struct toml_table {
	struct toml_entry *entries; /* in file order */
	size_t nr, alloc;
	size_t *index; /* open addressing hash: entry number + 1, 0 is empty */
	size_t index_size;
	struct toml_pos pos; /* header, first key or opening brace */
	enum toml_origin origin;
	unsigned long section; /* for DOTTED: the section that made it */
	int depth;
};

/*
 * Parses text (len bytes, NUL bytes are an error like any control
 * character). Returns the root table, or NULL with *err set to
 * "PATH:LINE:COL: message" (path shown through escape_display).
 */
struct toml_table *toml_parse(const char *path, const char *text, size_t len, char **err);

struct toml_table *toml_table_new(void);
void toml_table_free(struct toml_table *t);
void toml_value_release(struct toml_value *v);
/* A deep copy. */
struct toml_value toml_value_dup(const struct toml_value *v);
/* Lookup by NUL-terminated key; NULL when absent. */
struct toml_value *toml_table_get(const struct toml_table *t, const char *key);
struct toml_entry *toml_table_find(const struct toml_table *t, const char *key, size_t len);
/* Adds key (copied) with value (owned by the table from now on). The key must be new. */
struct toml_value *toml_table_add(struct toml_table *t, const char *key, size_t len,
				  struct toml_value value);
/* Same data: types, values, raw text, key order. Positions and origins are ignored. */
bool toml_value_equal(const struct toml_value *a, const struct toml_value *b);
bool toml_table_equal(const struct toml_table *a, const struct toml_table *b);

const char *toml_type_name(enum toml_type type);

/*
 * Writer. Strings come out as JSON-style basic strings ('"', '\\' and control
 * characters escaped, other bytes as they are), keys bare when they can be.
 */
void toml_write_string(struct strbuf *sb, const char *s, size_t len);
/* True when s can be written as a TOML string: valid UTF-8 (TOML has no escape for other bytes). */
bool toml_string_valid(const char *s, size_t len);
void toml_write_key(struct strbuf *sb, const char *key, size_t len);
/* Inline form: tables as { k = v, ... }, arrays as [ ... ]. */
void toml_write_value(struct strbuf *sb, const struct toml_value *v);
/* One "key = value" line per entry. */
void toml_write_entries(struct strbuf *sb, const struct toml_table *t);
/* A whole document for any tree (every table written inline). Caller frees. */
char *toml_format(const struct toml_table *root);

/*
 * Comments, kept across a rewrite of a document that is written from its
 * data (which has no room for them). toml_comments_collect() ties each
 * comment of text to the key or table header it stands above, or follows on
 * the same line; toml_comments_apply() puts them back at the same keys of a
 * new text. An element of an array of tables is known by the first of
 * identity_keys it has with a string value ("user_name", "source"), so that
 * its comments follow it when another element goes. Comments of keys that
 * are gone are dropped; a block at the top (set apart by a blank line) and
 * comments after the last item stay. collect returns NULL when text has no
 * comment; apply returns a copy of new_text when there is nothing to add.
 */
struct toml_comments;
struct toml_comments *toml_comments_collect(const char *text, size_t len, const char *const *identity_keys);
char *toml_comments_apply(const struct toml_comments *c, const char *new_text, const char *const *identity_keys);
void toml_comments_free(struct toml_comments *c);
