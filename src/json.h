/*
 * json.h: a small JSON writer into a strbuf, for log records and --json output.
 *
 * The writer places the commas and colons, so a caller only says what comes
 * next. Every string, whatever bytes it holds, comes out as valid JSON: quotes,
 * backslashes and control bytes are escaped, and bytes that are not valid UTF-8
 * become U+FFFD. Nesting mistakes (a value in an object without a key, an end
 * that matches nothing) are programming errors and die.
 *
 *	struct json_writer w;
 *
 *	json_init(&w, &sb);
 *	json_begin_object(&w);
 *	json_key(&w, "name");
 *	json_string(&w, name);
 *	json_key(&w, "ports");
 *	json_begin_array(&w);
 *	json_int(&w, 22);
 *	json_end_array(&w);
 *	json_end_object(&w);
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Deep enough for any record au writes; deeper is a bug in the caller. */
#define JSON_MAX_DEPTH 16

struct json_writer {
	struct strbuf *out;
	int depth;
	/* Per level: the container is an object (else an array), and it has an element already. */
	bool in_object[JSON_MAX_DEPTH];
	bool has_element[JSON_MAX_DEPTH];
	/* A key was written and its value has not come yet. */
	bool after_key;
};

void json_init(struct json_writer *w, struct strbuf *out);

void json_begin_object(struct json_writer *w);
void json_end_object(struct json_writer *w);
void json_begin_array(struct json_writer *w);
void json_end_array(struct json_writer *w);

/* The key of the next member of the current object. */
void json_key(struct json_writer *w, const char *key);

void json_string(struct json_writer *w, const char *s);
/* The same, for bytes that need not be NUL-terminated (NUL comes out as \u0000). */
void json_string_len(struct json_writer *w, const char *s, size_t len);
void json_int(struct json_writer *w, int64_t value);
void json_uint(struct json_writer *w, uint64_t value);
void json_bool(struct json_writer *w, bool value);
void json_null(struct json_writer *w);

/* True once every container that was begun has ended. */
bool json_complete(const struct json_writer *w);

/* Writes the finished document and a newline to out (au's --json); dies when it cannot. */
void json_print(const struct json_writer *w, FILE *out);

/* Appends s to out as a quoted JSON string (the escaping json_string uses). */
void json_quote(struct strbuf *out, const char *s, size_t len);
