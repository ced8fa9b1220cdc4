/* test-toml.c: the TOML reader and writer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>

#include "toml.h"
#include "util.h"

static struct toml_table *parse(const char *text)
{
	char *err = NULL;
	struct toml_table *t = toml_parse("t.toml", text, strlen(text), &err);

	if (!t)
		fail_msg("unexpected error: %s\ninput:\n%s", err, text);
	return t;
}

/* The error for text, without the "t.toml:" prefix. */
static char *parse_error(const char *text, size_t len)
{
	char *err = NULL;
	struct toml_table *t = toml_parse("t.toml", text, len, &err);

	if (t) {
		toml_table_free(t);
		fail_msg("accepted invalid input:\n%s", text);
	}
	assert_non_null(err);
	assert_true(!strncmp(err, "t.toml:", 7));
	memmove(err, err + 7, strlen(err + 7) + 1);
	return err;
}

static const struct toml_value *get(const struct toml_table *t, const char *dotted)
{
	autofree char *copy = xstrdup(dotted);
	const struct toml_value *v = NULL;

	for (char *save = NULL, *k = strtok_r(copy, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
		if (v) {
			assert_int_equal(v->type, TOML_TABLE);
			t = v->u.table;
		}
		v = toml_table_get(t, k);
		if (!v)
			fail_msg("no key '%s' in '%s'", k, dotted);
	}
	return v;
}

static void assert_str(const struct toml_table *t, const char *key, const char *expected)
{
	const struct toml_value *v = get(t, key);

	assert_int_equal(v->type, TOML_STRING);
	assert_int_equal(v->u.str.len, strlen(expected));
	assert_string_equal(v->u.str.ptr, expected);
}

static void assert_int(const struct toml_table *t, const char *key, int64_t expected)
{
	const struct toml_value *v = get(t, key);

	assert_int_equal(v->type, TOML_INTEGER);
	assert_true(v->u.integer == expected);
}

static void assert_raw(const struct toml_table *t, const char *key, enum toml_type type,
		       const char *expected)
{
	const struct toml_value *v = get(t, key);

	assert_int_equal(v->type, type);
	assert_string_equal(v->u.raw, expected);
}

/* Writes t, parses the result again: same data. */
static void assert_round_trip(const struct toml_table *t)
{
	autofree char *text = toml_format(t);
	char *err = NULL;
	struct toml_table *again = toml_parse("again.toml", text, strlen(text), &err);

	if (!again)
		fail_msg("our output does not parse: %s\n%s", err, text);
	assert_true(toml_table_equal(t, again));
	toml_table_free(again);
}

static void test_strings(void **state)
{
	struct toml_table *t = parse(
		"basic = \"tab\\there \\\"q\\\" \\\\ \\b\\f\\n\\r\"\n"
		"u4 = \"caf\\u00e9 \\u20AC\"\n"
		"u8 = \"\\U0001F600 \\U0010FFFF\"\n"
		"nul = \"a\\u0000b\"\n"
		"literal = 'C:\\Users\\nobody \"x\"'\n"
		"raw_utf8 = \"\xc3\xa9t\xc3\xa9\"\n"
		"ml = \"\"\"\nfirst\n  second\"\"\"\n"
		"ml_bs = \"\"\"The quick \\\n\n    brown \\   \n   fox.\"\"\"\n"
		"ml_quotes = \"\"\"a \"\" b \"\"\"\"\"\n"
		"mll = '''\nC:\\x\n'' quoted '''''\n"
		"empty = \"\"\n"
		"empty_lit = ''\n"
		"tab_in = \"a\tb\"\n");

	assert_str(t, "basic", "tab\there \"q\" \\ \b\f\n\r");
	assert_str(t, "u4", "caf\xc3\xa9 \xe2\x82\xac");
	assert_str(t, "u8", "\xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
	assert_int_equal(get(t, "nul")->u.str.len, 3);
	assert_memory_equal(get(t, "nul")->u.str.ptr, "a\0b", 3);
	assert_str(t, "literal", "C:\\Users\\nobody \"x\"");
	assert_str(t, "raw_utf8", "\xc3\xa9t\xc3\xa9");
	assert_str(t, "ml", "first\n  second");
	assert_str(t, "ml_bs", "The quick brown fox.");
	assert_str(t, "ml_quotes", "a \"\" b \"\"");
	assert_str(t, "mll", "C:\\x\n'' quoted ''");
	assert_str(t, "empty", "");
	assert_str(t, "empty_lit", "");
	assert_str(t, "tab_in", "a\tb");
	assert_round_trip(t);
	toml_table_free(t);
}

static void test_crlf(void **state)
{
	struct toml_table *t = parse("a = 1\r\n# c\r\nb = \"\"\"x\r\ny\"\"\"\r\n[t]\r\nc = [\r\n1,\r\n]\r\n");

	assert_int(t, "a", 1);
	assert_str(t, "b", "x\ny");
	assert_int_equal(get(t, "t.c")->u.array->nr, 1);
	toml_table_free(t);
}

static void test_integers(void **state)
{
	struct toml_table *t = parse(
		"a = 0\nb = +17\nc = -42\nd = 1_000_000\ne = 0xDEAD_beef\nf = 0o755\n"
		"g = 0b1101\nh = 9223372036854775807\ni = -9223372036854775808\nj = -0\n"
		"k = 0x7fffffffffffffff\n");

	assert_int(t, "a", 0);
	assert_int(t, "b", 17);
	assert_int(t, "c", -42);
	assert_int(t, "d", 1000000);
	assert_int(t, "e", 0xdeadbeef);
	assert_int(t, "f", 0755);
	assert_int(t, "g", 13);
	assert_int(t, "h", INT64_MAX);
	assert_int(t, "i", INT64_MIN);
	assert_int(t, "j", 0);
	assert_int(t, "k", INT64_MAX);
	assert_round_trip(t);
	toml_table_free(t);
}

static void test_floats_and_dates_kept_verbatim(void **state)
{
	static const char *const floats[] = {
		"+1.0", "3.1415", "-0.01", "5e+22", "1e06", "-2E-2", "6.626e-34", "224_617.445_991",
		"inf", "+inf", "-inf", "nan", "+nan", "-nan", "0.0", "0e0",
	};
	static const char *const dates[] = {
		"1979-05-27T07:32:00Z", "1979-05-27T00:32:00-07:00", "1979-05-27T00:32:00.999999-07:00",
		"1979-05-27 07:32:00Z", "1979-05-27T07:32:00", "1979-05-27", "07:32:00",
		"00:32:00.999999", "2000-02-29", "1979-05-27t07:32:00z", "1990-12-31T23:59:60Z",
	};

	for (size_t n = 0; n < ARRAY_SIZE(floats); n++) {
		autofree char *text = xasprintf("v = %s # c\n", floats[n]);
		struct toml_table *t = parse(text);

		assert_raw(t, "v", TOML_FLOAT, floats[n]);
		assert_round_trip(t);
		toml_table_free(t);
	}
	for (size_t n = 0; n < ARRAY_SIZE(dates); n++) {
		autofree char *text = xasprintf("v = %s\nw = [%s]\n", dates[n], dates[n]);
		struct toml_table *t = parse(text);

		assert_raw(t, "v", TOML_DATETIME, dates[n]);
		assert_round_trip(t);
		toml_table_free(t);
	}
}

static void test_booleans_arrays_inline_tables(void **state)
{
	struct toml_table *t = parse(
		"yes = true\nno = false\n"
		"empty = []\n"
		"mixed = [1, 'two', 3.0, [4], {five = 5}, ]\n"
		"multi = [ # comment\n  1,\n\n  # another\n  2 # after\n  ,3\n]\n"
		"point = { x = 1, y.z = \"deep\", 'q k' = [1,\n 2] }\n"
		"nothing = {}\n");
	const struct toml_value *v;

	assert_int_equal(get(t, "yes")->type, TOML_BOOLEAN);
	assert_true(get(t, "yes")->u.boolean);
	assert_false(get(t, "no")->u.boolean);
	assert_int_equal(get(t, "empty")->u.array->nr, 0);
	v = get(t, "mixed");
	assert_int_equal(v->u.array->nr, 5);
	assert_int_equal(v->u.array->items[1].type, TOML_STRING);
	assert_int_equal(v->u.array->items[4].type, TOML_TABLE);
	assert_int_equal(get(t, "multi")->u.array->nr, 3);
	assert_int(t, "point.x", 1);
	assert_str(t, "point.y.z", "deep");
	assert_int_equal(get(t, "point.q k")->u.array->nr, 2);
	assert_int_equal(get(t, "nothing")->u.table->nr, 0);
	assert_round_trip(t);
	toml_table_free(t);
}

static void test_tables_keys_and_order(void **state)
{
	struct toml_table *t = parse(
		"# top\n"
		"title = \"x\"\n"
		"site.\"google.com\" = true\n"
		"3.14159 = 'pi'\n"
		"\"\" = 'empty key'\n"
		"a . b . c = 1\n"
		"a.b.d = 2\n"
		"[fruit]\n"
		"apple.color = \"red\"\n"
		"apple.taste.sweet = true\n"
		"[fruit.apple.texture]\n"
		"smooth = true\n"
		"[x.y.z.w]\n"
		"[x]\n"
		"k = 1\n"
		"[ 'quoted key' . bare ]\n"
		"v = 1\n"
		"[[products]]\n"
		"name = \"Hammer\"\n"
		"[[products]]\n"
		"[[products]]\n"
		"name = \"Nail\"\n"
		"[products.detail]\n"
		"size = 3\n"
		"[[products.parts]]\n"
		"id = 1\n"
		"[[products.parts]]\n"
		"id = 2\n");
	const struct toml_value *products = get(t, "products");
	const struct toml_table *last;

	assert_string_equal(t->entries[0].key.ptr, "title");
	assert_string_equal(t->entries[1].key.ptr, "site");
	assert_string_equal(t->entries[2].key.ptr, "3");
	assert_string_equal(t->entries[3].key.ptr, "");
	assert_non_null(toml_table_get(get(t, "site")->u.table, "google.com"));
	assert_str(t, "3.14159", "pi");
	assert_int(t, "a.b.c", 1);
	assert_int(t, "a.b.d", 2);
	assert_str(t, "fruit.apple.color", "red");
	assert_true(get(t, "fruit.apple.texture.smooth")->u.boolean);
	assert_int(t, "x.k", 1);
	assert_int_equal(get(t, "x.y.z.w")->type, TOML_TABLE);
	assert_int(t, "quoted key.bare.v", 1);
	assert_int_equal(products->type, TOML_ARRAY);
	assert_true(products->u.array->of_tables);
	assert_int_equal(products->u.array->nr, 3);
	assert_int_equal(products->u.array->items[1].u.table->nr, 0);
	last = products->u.array->items[2].u.table;
	assert_int(last, "detail.size", 3);
	assert_int_equal(get(last, "parts")->u.array->nr, 2);
	/* Positions: line and column of keys, values and table headers. */
	assert_int_equal(get(t, "title")->pos.line, 2);
	assert_int_equal(get(t, "title")->pos.col, 9);
	assert_int_equal(products->u.array->items[2].u.table->pos.line, 21);
	assert_int_equal(products->u.array->items[2].u.table->pos.col, 1);
	assert_int_equal(t->entries[0].key_pos.line, 2);
	assert_int_equal(t->entries[0].key_pos.col, 1);
	assert_round_trip(t);
	toml_table_free(t);
}

static void test_columns_count_characters(void **state)
{
	struct toml_table *t = parse("\"\xc3\xa9\xc3\xa9\" = \"\xe2\x82\xac\" \t\n\t k = 1\n");
	autofree char *err = parse_error("\"\xc3\xa9\" = \"\xe2\x82\xac\" x\n", 14);

	assert_int_equal(get(t, "k")->pos.line, 2);
	assert_int_equal(get(t, "k")->pos.col, 7);
	assert_int_equal(t->entries[0].value.pos.col, 8);
	assert_string_equal(err, "1:11: expected a newline, found 'x'");
	toml_table_free(t);
}

struct bad {
	const char *text;
	const char *error; /* "LINE:COL: message" */
};

static const struct bad bad_inputs[] = {
	/* keys and structure */
	{ "a = 1\na = 2\n", "2:1: duplicate key 'a'" },
	{ "a = 1 b = 2\n", "1:7: expected a newline, found 'b'" },
	{ "a = \n", "1:5: expected a value, found end of line" },
	{ "a\n", "1:2: expected '=' after a key, found end of line" },
	{ "= 1\n", "1:1: expected a key, found '='" },
	{ "a.b = 1\na = 2\n", "2:1: duplicate key 'a'" },
	{ "a = 1\na.b = 2\n", "2:1: key 'a' is already defined as a value" },
	{ "[a]\nb = 1\n[a]\n", "3:2: table 'a' is already defined" },
	{ "[a]\n[a.b]\n[a.b]\n", "3:4: table 'b' is already defined" },
	{ "[a]\nb = 1\n[a.b]\n", "3:4: key 'b' is already defined as a value" },
	{ "a = {}\n[a]\n", "2:2: table 'a' is already defined" },
	{ "a = {b = 1}\n[a.c]\n", "2:2: cannot add keys to inline table 'a'" },
	{ "a = {b = 1}\na.c = 2\n", "2:1: cannot add keys to inline table 'a'" },
	{ "a = [1]\n[[a]]\n", "2:3: cannot append to static array 'a'" },
	{ "a = [{}]\n[a.b]\n", "2:2: cannot add tables to static array 'a'" },
	{ "[a]\n[[a]]\n", "2:3: key 'a' is already defined as a table" },
	{ "[[a]]\n[a]\n", "2:2: key 'a' is already defined as an array of tables" },
	{ "[fruit]\napple.color = 'red'\n[fruit.apple]\n", "3:8: table 'apple' is already defined" },
	{ "a.b = 1\n[a]\n", "2:2: table 'a' is already defined" },
	{ "[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n",
	  "4:3: cannot add keys to table 'c' with a dotted key: it is defined elsewhere" },
	{ "[a]\nb.c = 1\n[x]\n[a]\n", "4:2: table 'a' is already defined" },
	{ "[a]\nb.c = 1\n[x]\n", NULL },
	{ "x = {a.b = 1, a = 2}\n", "1:15: duplicate key 'a'" },
	{ "x = {a = {b = 1}, a.c = 2}\n", "1:19: cannot add keys to inline table 'a'" },
	{ "[a\n", "1:3: expected ']' to end the table header" },
	{ "[[a]\n", "1:5: expected ']]' to end the array of tables header" },
	{ "[[a] ]\n", "1:5: expected ']]' to end the array of tables header" },
	{ "[]\n", "1:2: expected a key, found ']'" },
	{ "[a] b = 1\n", "1:5: expected a newline, found 'b'" },
	{ "a.\"b\nc\" = 1\n", "1:3: unterminated string" },
	{ "\"\"\"a\"\"\" = 1\n", "1:3: expected '=' after a key, found '\"'" },
	/* strings */
	{ "a = \"abc\n", "1:5: unterminated string" },
	{ "a = 'abc", "1:5: unterminated string" },
	{ "a = \"\"\"abc\n", "1:5: unterminated string" },
	{ "a = '''abc''''''\n", "1:16: too many quotes at the end of a multi-line string" },
	{ "a = \"\\x41\"\n", "1:6: invalid escape sequence: \\x" },
	{ "a = \"\\e\"\n", "1:6: invalid escape sequence: \\e" },
	{ "a = \"\\ \"\n", "1:6: invalid escape sequence: backslash followed by U+0020" },
	{ "a = \"\\u12\"\n", "1:6: invalid escape sequence: \\u needs 4 hex digits" },
	{ "a = \"\\U0000004\"\n", "1:6: invalid escape sequence: \\U needs 8 hex digits" },
	{ "a = \"\\uD800\"\n", "1:6: invalid escape sequence: U+D800 is not a Unicode scalar value" },
	{ "a = \"\\uDFFF\"\n", "1:6: invalid escape sequence: U+DFFF is not a Unicode scalar value" },
	{ "a = \"\\U00110000\"\n",
	  "1:6: invalid escape sequence: U+110000 is not a Unicode scalar value" },
	{ "a = \"\"\"x\\  y\"\"\"\n",
	  "1:9: invalid escape sequence: '\\' and spaces not at end of line" },
	{ "a = \"\x01\"\n", "1:6: control character U+0001 in a string must be escaped" },
	{ "a = \"\x7f\"\n", "1:6: control character U+007F in a string must be escaped" },
	{ "a = 'x\x1b'\n", "1:7: control character U+001B in a string" },
	{ "a = '''x\x08'''\n", "1:9: control character U+0008 in a string" },
	{ "a = \"x\" \"y\"\n", "1:9: expected a newline, found '\"'" },
	{ "a = \"x\"y\n", "1:8: unexpected 'y' after a value" },
	/* comments, newlines and encoding */
	{ "# bell \x07\n", "1:8: control character U+0007 in a comment" },
	{ "a = 1 # \x7f\n", "1:9: control character U+007F in a comment" },
	{ "a = 1\rb = 2\n", "1:6: carriage return not followed by a newline" },
	{ "a = \"\"\"x\ry\"\"\"\n", "1:9: carriage return not followed by a newline" },
	{ "a = [1,\r2]\n", "1:8: carriage return not followed by a newline" },
	{ "a = \"\xc3\x28\"\n", "1:6: invalid UTF-8" },
	{ "a = 1\n# \xed\xa0\x80 surrogate\n", "2:3: invalid UTF-8" },
	{ "a = \"\xc0\xaf\"\n", "1:6: invalid UTF-8" },
	{ "a = \"\xf4\x90\x80\x80\"\n", "1:6: invalid UTF-8" },
	{ "a = \"\xe2\x82\"", "1:6: invalid UTF-8" },
	{ "k = 'x'\n\xff", "2:1: invalid UTF-8" },
	/* integers */
	{ "a = 01\n", "1:5: leading zeros are not allowed in integers" },
	{ "a = +01\n", "1:5: leading zeros are not allowed in integers" },
	{ "a = 1__0\n", "1:6: '_' must be between digits" },
	{ "a = _1\n", "1:5: invalid value (strings must be quoted)" },
	{ "a = 1_\n", "1:6: '_' must be between digits" },
	{ "a = 0x_1\n", "1:7: '_' must be between digits" },
	{ "a = +0x1\n", "1:5: a sign is not allowed on hex, octal or binary integers" },
	{ "a = 0o8\n", "1:7: invalid number" },
	{ "a = 0b102\n", "1:9: invalid number" },
	{ "a = 0xG\n", "1:7: invalid number" },
	{ "a = 9223372036854775808\n", "1:5: integer out of range (64-bit)" },
	{ "a = -9223372036854775809\n", "1:5: integer out of range (64-bit)" },
	{ "a = 0x8000000000000000\n", "1:5: integer out of range (64-bit)" },
	{ "a = 99999999999999999999999\n", "1:5: integer out of range (64-bit)" },
	{ "a = 1abc\n", "1:6: invalid number" },
	{ "a = -\n", "1:6: invalid number" },
	{ "a = ++1\n", "1:6: invalid number" },
	/* floats, dates, other values */
	{ "a = 1.\n", "1:7: invalid number" },
	{ "a = .5\n", "1:5: invalid value (strings must be quoted)" },
	{ "a = 1.e5\n", "1:7: invalid number" },
	{ "a = 1e\n", "1:7: invalid number" },
	{ "a = 03.14\n", "1:5: leading zeros are not allowed in floats" },
	{ "a = 1.5.3\n", "1:8: invalid number" },
	{ "a = infinity\n", "1:5: invalid value (strings must be quoted)" },
	{ "a = Inf\n", "1:5: invalid value (strings must be quoted)" },
	{ "a = 1979-13-01\n", "1:5: invalid date (month out of range)" },
	{ "a = 1979-02-29\n", "1:5: invalid date (day out of range)" },
	{ "a = 1979-5-27\n", "1:5: invalid date (expected YYYY-MM-DD)" },
	{ "a = 1979-05-27T25:00:00\n", "1:16: invalid time (out of range)" },
	{ "a = 1979-05-27T07:32\n", "1:16: invalid time (expected HH:MM:SS)" },
	{ "a = 07:32:00.\n", "1:14: invalid time (digits expected after '.')" },
	{ "a = 1979-05-27T07:32:00+7\n", "1:24: invalid time offset (expected +HH:MM)" },
	{ "a = 1979-05-27T07:32:00Zx\n", "1:25: unexpected 'x' after a value" },
	{ "a = 07:32:00Z\n", "1:13: unexpected 'Z' after a value" },
	{ "a = True\n", "1:5: invalid value (strings must be quoted)" },
	{ "a = truex\n", "1:5: invalid value (strings must be quoted)" },
	{ "a = bare\n", "1:5: invalid value (strings must be quoted)" },
	/* arrays and inline tables */
	{ "a = [1 2]\n", "1:8: expected ',' or ']' in an array, found '2'" },
	{ "a = [1,,2]\n", "1:8: expected a value, found ','" },
	{ "a = [1,\n", "1:5: unterminated array" },
	{ "a = [\n", "1:5: unterminated array" },
	{ "a = {x = 1,}\n", "1:12: trailing comma not allowed in an inline table" },
	{ "a = {x = 1\n}\n", "1:11: unterminated inline table (no newlines allowed)" },
	{ "a = {\nx = 1}\n", "1:6: expected a key, found end of line" },
	{ "a = {x = 1 y = 2}\n", "1:12: expected ',' or '}' in an inline table, found 'y'" },
	{ "a = {x = 1, x = 2}\n", "1:13: duplicate key 'x'" },
	{ "a = {,}\n", "1:6: expected a key, found ','" },
	{ "a = {", "1:6: expected a key, found end of file" },
};

static void test_rejections(void **state)
{
	int failures = 0;

	for (size_t n = 0; n < ARRAY_SIZE(bad_inputs); n++) {
		const struct bad *b = &bad_inputs[n];
		char *err = NULL;
		struct toml_table *t = toml_parse("t.toml", b->text, strlen(b->text), &err);

		if (!b->error) {
			if (!t)
				fail_msg("rejected valid input %zu: %s\n%s", n, err, b->text);
			toml_table_free(t);
			continue;
		}
		if (t) {
			toml_table_free(t);
			fail_msg("accepted invalid input %zu:\n%s", n, b->text);
		}
		if (strncmp(err, "t.toml:", 7) || strcmp(err + 7, b->error)) {
			print_error("input %zu: %s\nexpected: t.toml:%s\n     got: %s\n", n, b->text,
				    b->error, err);
			failures++;
		}
		free(err);
	}
	assert_int_equal(failures, 0);
}

static void test_nul_and_bom(void **state)
{
	autofree char *err = parse_error("a = 1\n\0", 7);
	char *err2 = NULL;
	struct toml_table *t = toml_parse("t.toml", "\xef\xbb\xbf" "a = 1\n", 9, &err2);

	assert_string_equal(err, "2:1: expected a key, found U+0000");
	assert_non_null(t);
	assert_int(t, "a", 1);
	toml_table_free(t);
}

static void test_path_is_escaped_in_errors(void **state)
{
	char *err = NULL;

	assert_null(toml_parse("evil\x1b[31m.toml", "a =", 3, &err));
	assert_string_equal(err, "evil\\x1b[31m.toml:1:4: expected a value, found end of file");
	free(err);
}

static void test_depth_is_bounded(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	autofree char *err = NULL;
	struct toml_table *t;

	/* 64 levels are fine, 65 are not; 100,000 do not overflow the stack. */
	strbuf_addstr(&sb, "a = ");
	for (int n = 0; n < 63; n++)
		strbuf_addch(&sb, '[');
	for (int n = 0; n < 63; n++)
		strbuf_addch(&sb, ']');
	strbuf_addch(&sb, '\n');
	t = parse(sb.buf);
	assert_round_trip(t);
	toml_table_free(t);

	strbuf_reset(&sb);
	strbuf_addstr(&sb, "a = ");
	for (int n = 0; n < 100000; n++)
		strbuf_addstr(&sb, n % 2 ? "[" : "{b=");
	err = parse_error(sb.buf, sb.len);
	assert_string_equal(err, "1:133: tables nested more than 64 deep");

	strbuf_reset(&sb);
	strbuf_addstr(&sb, "[a");
	for (int n = 0; n < 100000; n++)
		strbuf_addstr(&sb, ".a");
	strbuf_addstr(&sb, "]\n");
	free(err);
	err = parse_error(sb.buf, sb.len);
	assert_string_equal(err, "1:130: tables nested more than 64 deep");

	strbuf_reset(&sb);
	strbuf_addstr(&sb, "a");
	for (int n = 0; n < 63; n++)
		strbuf_addstr(&sb, ".a");
	strbuf_addstr(&sb, " = 1\n");
	t = parse(sb.buf);
	assert_round_trip(t);
	toml_table_free(t);
	strbuf_release(&sb);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Large inputs take linear time: each of these would take minutes if quadratic. */
static void test_large_inputs(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct toml_table *t;
	double start = now();
	char *err = NULL;

	for (int n = 0; n < 100000; n++)
		strbuf_addf(&sb, "key%d = %d\n", n, n);
	t = parse(sb.buf);
	assert_int_equal(t->nr, 100000);
	assert_int(t, "key99999", 99999);
	assert_round_trip(t);
	toml_table_free(t);

	strbuf_reset(&sb);
	strbuf_addstr(&sb, "a = { ");
	for (int n = 0; n < 100000; n++)
		strbuf_addf(&sb, "%sk%d = \"v\"", n ? ", " : "", n);
	strbuf_addstr(&sb, " }\n");
	t = parse(sb.buf);
	assert_int_equal(get(t, "a")->u.table->nr, 100000);
	toml_table_free(t);

	strbuf_reset(&sb);
	for (int n = 0; n < 50000; n++)
		strbuf_addstr(&sb, "[[x.y]]\nz = 1\n");
	t = parse(sb.buf);
	assert_int_equal(get(t, "x.y")->u.array->nr, 50000);
	toml_table_free(t);

	strbuf_reset(&sb);
	strbuf_addstr(&sb, "s = \"");
	for (int n = 0; n < 1 << 20; n++)
		strbuf_addch(&sb, 'x');
	strbuf_addstr(&sb, "\n");
	t = toml_parse("t.toml", sb.buf, sb.len, &err);
	assert_null(t);
	assert_string_equal(err, "t.toml:1:5: unterminated string");
	free(err);
	strbuf_release(&sb);
	print_message("# large inputs: %.2f s\n", now() - start);
}

static void test_writer(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct toml_table *t;

	toml_write_string(&sb, "q\" b\\ \x01\x1b\x7f\t\n\r\b\f caf\xc3\xa9", 20);
	assert_string_equal(sb.buf, "\"q\\\" b\\\\ \\u0001\\u001b\\u007f\\t\\n\\r\\b\\f caf\xc3\xa9\"");
	strbuf_reset(&sb);
	toml_write_key(&sb, "bare-key_1", 10);
	strbuf_addch(&sb, ' ');
	toml_write_key(&sb, "a.b", 3);
	strbuf_addch(&sb, ' ');
	toml_write_key(&sb, "", 0);
	assert_string_equal(sb.buf, "bare-key_1 \"a.b\" \"\"");
	strbuf_release(&sb);

	t = parse("[a]\nx = 1\ny = [true, 'x', {z = -5}]\n[[b]]\nc = 1.5\n[[b]]\n");
	{
		autofree char *text = toml_format(t);

		assert_string_equal(text,
				    "a = { x = 1, y = [true, \"x\", { z = -5 }] }\n"
				    "b = [{ c = 1.5 }, {}]\n");
	}
	assert_round_trip(t);
	toml_table_free(t);
}

static char *read_file(const char *path, size_t *len)
{
	autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct strbuf sb = STRBUF_INIT;

	if (fd < 0)
		fail_msg("cannot open %s", path);
	assert_int_equal(read_fd_all(fd, 1 << 20, &sb), 0);
	*len = sb.len;
	return strbuf_detach(&sb);
}

struct sample {
	char *text;
	size_t len;
};

static size_t load_samples(struct sample *out, size_t max)
{
	const char *dir = SRCDIR "/tests/data/config";
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t nr = 0;

	assert_non_null(d);
	while ((de = readdir(d)) && nr < max) {
		autofree char *path = NULL;

		if (!strstr(de->d_name, ".toml"))
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		out[nr].text = read_file(path, &out[nr].len);
		nr++;
	}
	closedir(d);
	assert_true(nr >= 5);
	return nr;
}

static void test_samples_round_trip(void **state)
{
	struct sample samples[32];
	size_t nr = load_samples(samples, ARRAY_SIZE(samples));

	for (size_t n = 0; n < nr; n++) {
		char *err = NULL;
		struct toml_table *t = toml_parse("s.toml", samples[n].text, samples[n].len, &err);

		if (!t)
			fail_msg("sample does not parse: %s", err);
		assert_round_trip(t);
		toml_table_free(t);
		free(samples[n].text);
	}
}

/* Every error names a position: PATH:LINE:COL: message. */
static void assert_error_shape(const char *err)
{
	size_t line, col;
	int used = 0;

	if (sscanf(err, "m.toml:%zu:%zu: %n", &line, &col, &used) != 2 || !used || line < 1 ||
	    col < 1 || !err[used])
		fail_msg("malformed error: %s", err);
}

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64: the same mutations on every run. */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void test_mutation_fuzz(void **state)
{
	static const char interesting[] = "\"'[]{}=.,#\\\n\r\t 0x_+-:eTZ\x7f\xc3\xa9\xff\x00";
	struct sample samples[32];
	size_t nr = load_samples(samples, ARRAY_SIZE(samples));
	size_t accepted = 0, rejected = 0;

	rng_state = 0x9e3779b97f4a7c15ULL;
	for (int round = 0; round < 5000; round++) {
		const struct sample *s = &samples[rng() % nr];
		struct strbuf sb = STRBUF_INIT;
		int edits = 1 + (int)(rng() % 8);
		char *err = NULL;
		struct toml_table *t;

		strbuf_add(&sb, s->text, s->len);
		for (int e = 0; e < edits; e++) {
			size_t at = sb.len ? rng() % sb.len : 0;
			const struct sample *o = &samples[rng() % nr];

			switch (rng() % 6) {
			case 0: /* flip a byte */
				if (sb.len)
					sb.buf[at] = (char)rng();
				break;
			case 1: /* a syntax character */
				if (sb.len)
					sb.buf[at] = interesting[rng() % (sizeof(interesting) - 1)];
				break;
			case 2: /* truncate */
				sb.len = at;
				break;
			case 3: /* delete a run */
				if (sb.len) {
					size_t n = rng() % (sb.len - at < 16 ? sb.len - at : 16);

					memmove(sb.buf + at, sb.buf + at + n, sb.len - at - n);
					sb.len -= n;
				}
				break;
			case 4: { /* splice in a piece of another sample */
				size_t from = o->len ? rng() % o->len : 0;
				size_t n = o->len - from < 40 ? o->len - from : 40;
				struct strbuf nb = STRBUF_INIT;

				strbuf_add(&nb, sb.buf, at);
				strbuf_add(&nb, o->text + from, n);
				strbuf_add(&nb, sb.buf + at, sb.len - at);
				strbuf_release(&sb);
				sb = nb;
				break;
			}
			case 5: /* duplicate a line */
				if (sb.len) {
					const char *eol = memchr(sb.buf + at, '\n', sb.len - at);
					size_t n = eol ? (size_t)(eol - sb.buf - at) + 1 : sb.len - at;
					/* A copy: sb.buf may move as it grows. */
					autofree char *copy = xmalloc(n);

					memcpy(copy, sb.buf + at, n);
					strbuf_add(&sb, copy, n);
				}
				break;
			}
		}
		t = toml_parse("m.toml", sb.buf ? sb.buf : "", sb.len, &err);
		if (t) {
			accepted++;
			assert_round_trip(t);
			toml_table_free(t);
		} else {
			rejected++;
			assert_error_shape(err);
			free(err);
		}
		strbuf_release(&sb);
	}
	for (size_t n = 0; n < nr; n++)
		free(samples[n].text);
	print_message("# mutation fuzz: %zu accepted, %zu rejected\n", accepted, rejected);
	assert_true(accepted > 100 && rejected > 1000);
}

static void test_table_api(void **state)
{
	struct toml_table *t = toml_table_new();
	struct toml_value v = { .type = TOML_INTEGER, .u.integer = 7 };
	struct toml_value copy;

	for (int n = 0; n < 1000; n++) {
		autofree char *k = xasprintf("k%d", n);

		v.u.integer = n;
		toml_table_add(t, k, strlen(k), v);
	}
	assert_int(t, "k0", 0);
	assert_int(t, "k999", 999);
	assert_null(toml_table_get(t, "k1000"));
	copy = toml_value_dup(&(struct toml_value){ .type = TOML_TABLE, .u.table = t });
	assert_true(toml_table_equal(t, copy.u.table));
	toml_value_release(&copy);
	toml_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_floats_and_dates_kept_verbatim),
		cmocka_unit_test(test_booleans_arrays_inline_tables),
		cmocka_unit_test(test_tables_keys_and_order),
		cmocka_unit_test(test_columns_count_characters),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_nul_and_bom),
		cmocka_unit_test(test_path_is_escaped_in_errors),
		cmocka_unit_test(test_depth_is_bounded),
		cmocka_unit_test(test_large_inputs),
		cmocka_unit_test(test_writer),
		cmocka_unit_test(test_table_api),
		cmocka_unit_test(test_samples_round_trip),
		cmocka_unit_test(test_mutation_fuzz),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
