/*
 * json.c: the JSON writer (see json.h).
 *
 * Strings are the part that matters: they carry names an agent chose, so they
 * are checked as UTF-8 byte by byte and what is not valid is replaced, the way
 * Unicode recommends (one U+FFFD per maximal ill-formed subpart), instead of
 * being passed on for a reader to choke on or to misread.
 */
#include "json.h"

#include <inttypes.h>
#include <string.h>

void json_init(struct json_writer *w, struct strbuf *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
}

/* The comma before an element, and the check that a value may come here. */
static void before_value(struct json_writer *w)
{
	if (w->depth == 0) {
		if (w->has_element[0])
			die("json: a second top-level value");
		w->has_element[0] = true;
		return;
	}
	if (w->in_object[w->depth]) {
		if (!w->after_key)
			die("json: a value in an object without a key");
		w->after_key = false;
		return;
	}
	if (w->has_element[w->depth])
		strbuf_addch(w->out, ',');
	w->has_element[w->depth] = true;
}

static void begin(struct json_writer *w, bool object)
{
	before_value(w);
	if (w->depth + 1 >= JSON_MAX_DEPTH)
		die("json: nesting deeper than %d", JSON_MAX_DEPTH - 1);
	w->depth++;
	w->in_object[w->depth] = object;
	w->has_element[w->depth] = false;
	strbuf_addch(w->out, object ? '{' : '[');
}

static void end(struct json_writer *w, bool object)
{
	if (w->depth == 0 || w->in_object[w->depth] != object || w->after_key)
		die("json: an end that matches no begin");
	w->depth--;
	strbuf_addch(w->out, object ? '}' : ']');
}

void json_begin_object(struct json_writer *w)
{
	begin(w, true);
}

void json_end_object(struct json_writer *w)
{
	end(w, true);
}

void json_begin_array(struct json_writer *w)
{
	begin(w, false);
}

void json_end_array(struct json_writer *w)
{
	end(w, false);
}

void json_key(struct json_writer *w, const char *key)
{
	if (w->depth == 0 || !w->in_object[w->depth] || w->after_key)
		die("json: a key outside an object");
	if (w->has_element[w->depth])
		strbuf_addch(w->out, ',');
	w->has_element[w->depth] = true;
	json_quote(w->out, key, strlen(key));
	strbuf_addch(w->out, ':');
	w->after_key = true;
}

/*
 * The length of the well-formed UTF-8 sequence at s (Unicode table 3-7), or,
 * when it is ill-formed, 0 with *bad set to the length of its maximal
 * ill-formed subpart (at least 1), which becomes one U+FFFD.
 */
static size_t utf8_sequence(const unsigned char *s, size_t len, size_t *bad)
{
	unsigned char lead = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (lead < 0x80)
		return 1;
	if (lead >= 0xc2 && lead <= 0xdf) {
		need = 2;
	} else if (lead >= 0xe0 && lead <= 0xef) {
		need = 3;
		if (lead == 0xe0)
			lo = 0xa0; /* no overlong forms */
		if (lead == 0xed)
			hi = 0x9f; /* no UTF-16 surrogates */
	} else if (lead >= 0xf0 && lead <= 0xf4) {
		need = 4;
		if (lead == 0xf0)
			lo = 0x90;
		if (lead == 0xf4)
			hi = 0x8f; /* nothing above U+10FFFF */
	} else {
		*bad = 1;
		return 0;
	}
	for (i = 1; i < need; i++) {
		unsigned char c;

		if (i >= len)
			break;
		c = s[i];
		if (i == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xbf))
			break;
	}
	if (i == need)
		return need;
	*bad = i;
	return 0;
}

void json_quote(struct strbuf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	strbuf_addch(out, '"');
	while (i < len) {
		unsigned char c = p[i];
		size_t n, bad = 0;

		if (c == '"' || c == '\\') {
			strbuf_addch(out, '\\');
			strbuf_addch(out, (char)c);
			i++;
			continue;
		}
		/* DEL too: harmless in JSON, but not on the terminal that shows the log. */
		if (c < 0x20 || c == 0x7f) {
			strbuf_addf(out, "\\u%04x", c);
			i++;
			continue;
		}
		n = utf8_sequence(p + i, len - i, &bad);
		if (n) {
			strbuf_add(out, p + i, n);
			i += n;
		} else {
			strbuf_addstr(out, "\xef\xbf\xbd"); /* U+FFFD */
			i += bad;
		}
	}
	strbuf_addch(out, '"');
}

void json_string_len(struct json_writer *w, const char *s, size_t len)
{
	before_value(w);
	json_quote(w->out, s, len);
}

void json_string(struct json_writer *w, const char *s)
{
	json_string_len(w, s, strlen(s));
}

void json_int(struct json_writer *w, int64_t value)
{
	before_value(w);
	strbuf_addf(w->out, "%" PRId64, value);
}

void json_uint(struct json_writer *w, uint64_t value)
{
	before_value(w);
	strbuf_addf(w->out, "%" PRIu64, value);
}

void json_bool(struct json_writer *w, bool value)
{
	before_value(w);
	strbuf_addstr(w->out, value ? "true" : "false");
}

void json_null(struct json_writer *w)
{
	before_value(w);
	strbuf_addstr(w->out, "null");
}

bool json_complete(const struct json_writer *w)
{
	return w->depth == 0 && w->has_element[0] && !w->after_key;
}

void json_print(const struct json_writer *w, FILE *out)
{
	if (!json_complete(w))
		die("json: an unfinished document");
	fwrite(w->out->buf, 1, w->out->len, out);
	fputc('\n', out);
	if (fflush(out) == EOF || ferror(out))
		die_errno("cannot write the JSON output");
}
