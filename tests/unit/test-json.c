/*
 * test-json.c: the JSON writer (src/json.c): structure, commas, numbers, and
 * strings that stay valid JSON whatever bytes they hold: the log carries
 * names an agent chose.
 */
#include "json.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

/* The quoted form of len bytes of s. */
static char *quoted(const char *s, size_t len)
{
	struct strbuf sb = STRBUF_INIT;

	json_quote(&sb, s, len);
	return strbuf_detach(&sb);
}

#define assert_quotes_as(in, want)                                             \
	do {                                                                   \
		autofree char *got_ = quoted((in), sizeof(in) - 1);            \
		assert_string_equal(got_, (want));                            \
	} while (0)

static void test_object_with_every_kind_of_value(void **state)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;
	struct json_writer w;

	json_init(&w, &sb);
	json_begin_object(&w);
	json_key(&w, "name");
	json_string(&w, "agent");
	json_key(&w, "ports");
	json_begin_array(&w);
	json_int(&w, 22);
	json_int(&w, -1);
	json_uint(&w, UINT64_MAX);
	json_begin_object(&w);
	json_end_object(&w);
	json_begin_array(&w);
	json_end_array(&w);
	json_end_array(&w);
	json_key(&w, "ok");
	json_bool(&w, true);
	json_key(&w, "no");
	json_bool(&w, false);
	json_key(&w, "none");
	json_null(&w);
	json_key(&w, "min");
	json_int(&w, INT64_MIN);
	json_end_object(&w);
	assert_true(json_complete(&w));
	assert_string_equal(sb.buf, "{\"name\":\"agent\",\"ports\":[22,-1,18446744073709551615,{},[]],"
				    "\"ok\":true,\"no\":false,\"none\":null,\"min\":-9223372036854775808}");
}

static void test_incomplete_documents_are_not_complete(void **state)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;
	struct json_writer w;

	json_init(&w, &sb);
	assert_false(json_complete(&w));
	json_begin_array(&w);
	assert_false(json_complete(&w));
	json_end_array(&w);
	assert_true(json_complete(&w));
	assert_string_equal(sb.buf, "[]");
}

static void test_escapes(void **state)
{
	assert_quotes_as("plain", "\"plain\"");
	assert_quotes_as("a\"b\\c", "\"a\\\"b\\\\c\"");
	assert_quotes_as("tab\there\nnl\r", "\"tab\\u0009here\\u000anl\\u000d\"");
	assert_quotes_as("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
	assert_quotes_as("nul\0in", "\"nul\\u0000in\"");
	assert_quotes_as("/ slash stays", "\"/ slash stays\"");
	assert_quotes_as("", "\"\"");
}

static void test_valid_utf8_is_kept(void **state)
{
	/* 2, 3 and 4 byte forms, and the edges of each range. */
	assert_quotes_as("caf\xc3\xa9", "\"caf\xc3\xa9\"");
	assert_quotes_as("\xc2\x80\xdf\xbf", "\"\xc2\x80\xdf\xbf\"");
	assert_quotes_as("\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf", "\"\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\"");
	assert_quotes_as("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", "\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"");
}

#define FFFD "\xef\xbf\xbd"

static void test_invalid_utf8_becomes_replacement_characters(void **state)
{
	/* A lone continuation byte, lead bytes that can never start a character. */
	assert_quotes_as("a\x80z", "\"a" FFFD "z\"");
	assert_quotes_as("\xc0\xaf", "\"" FFFD FFFD "\"");
	assert_quotes_as("\xf5\xff", "\"" FFFD FFFD "\"");
	/* Overlong forms and surrogates: the lead byte's range check fails at byte 2. */
	assert_quotes_as("\xe0\x80\xaf", "\"" FFFD FFFD FFFD "\"");
	assert_quotes_as("\xed\xa0\x80", "\"" FFFD FFFD FFFD "\"");
	assert_quotes_as("\xf0\x80\x80\xaf", "\"" FFFD FFFD FFFD FFFD "\"");
	/* Beyond U+10FFFF. */
	assert_quotes_as("\xf4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"");
	/* Truncated sequences: one U+FFFD per maximal subpart, then what follows. */
	assert_quotes_as("\xe2\x82", "\"" FFFD "\"");
	assert_quotes_as("\xe2\x82z", "\"" FFFD "z\"");
	assert_quotes_as("\xf0\x9f\x98", "\"" FFFD "\"");
	assert_quotes_as("\xf0\x9f\x98\"", "\"" FFFD "\\\"\"");
}

/*
 * The length of a valid UTF-8 character at s, 0 if there is none: decoded to
 * a code point and judged by its value, independently of the writer's table.
 */
static size_t utf8_char_len(const unsigned char *s, size_t len)
{
	size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
	uint32_t cp;

	if (n == 0 || n > len || s[0] > 0xf7)
		return 0;
	cp = s[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Every output of json_quote is a valid JSON string: checked with a small validator. */
static bool valid_json_string(const char *s)
{
	size_t i = 1, len = strlen(s);

	if (len < 2 || s[0] != '"' || s[len - 1] != '"')
		return false;
	while (i < len - 1) {
		unsigned char c = (unsigned char)s[i];
		size_t n;

		if (c < 0x20 || c == '"')
			return false;
		if (c == '\\') {
			if (s[i + 1] == 'u') {
				for (int k = 2; k < 6; k++)
					if (!s[i + k] || !strchr("0123456789abcdef", s[i + k]))
						return false;
				i += 6;
			} else if (s[i + 1] && strchr("\"\\/bfnrt", s[i + 1])) {
				i += 2;
			} else {
				return false;
			}
			continue;
		}
		if (c < 0x80) {
			i++;
			continue;
		}
		n = utf8_char_len((const unsigned char *)s + i, len - 1 - i);
		if (!n)
			return false;
		i += n;
	}
	return true;
}

static void test_random_bytes_always_give_valid_json(void **state)
{
	uint64_t x = 0x1234567887654321ULL;

	for (int run = 0; run < 20000; run++) {
		char in[24];
		size_t len = (size_t)(run % 24);
		autofree char *out = NULL;

		for (size_t i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* Mostly high bytes, where UTF-8 goes wrong. */
			in[i] = (char)(x % 3 ? 0x80 | (x >> 8) : x >> 16);
		}
		out = quoted(in, len);
		if (!valid_json_string(out))
			fail_msg("run %d: invalid JSON string %s", run, out);
	}
}

/* Misuse is a bug in the caller: it dies rather than write broken JSON. */
static int status_of(void (*fn)(void))
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 2);
		fn();
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void value_without_key(void)
{
	struct strbuf sb = STRBUF_INIT;
	struct json_writer w;

	json_init(&w, &sb);
	json_begin_object(&w);
	json_int(&w, 1);
}

static void end_without_begin(void)
{
	struct strbuf sb = STRBUF_INIT;
	struct json_writer w;

	json_init(&w, &sb);
	json_end_array(&w);
}

static void wrong_end(void)
{
	struct strbuf sb = STRBUF_INIT;
	struct json_writer w;

	json_init(&w, &sb);
	json_begin_array(&w);
	json_end_object(&w);
}

static void too_deep(void)
{
	struct strbuf sb = STRBUF_INIT;
	struct json_writer w;

	json_init(&w, &sb);
	for (int i = 0; i < JSON_MAX_DEPTH + 1; i++)
		json_begin_array(&w);
}

static void key_in_array(void)
{
	struct strbuf sb = STRBUF_INIT;
	struct json_writer w;

	json_init(&w, &sb);
	json_begin_array(&w);
	json_key(&w, "k");
}

static void test_misuse_dies(void **state)
{
	assert_int_equal(status_of(value_without_key), 1);
	assert_int_equal(status_of(end_without_begin), 1);
	assert_int_equal(status_of(wrong_end), 1);
	assert_int_equal(status_of(too_deep), 1);
	assert_int_equal(status_of(key_in_array), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_object_with_every_kind_of_value),
		cmocka_unit_test(test_incomplete_documents_are_not_complete),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_valid_utf8_is_kept),
		cmocka_unit_test(test_invalid_utf8_becomes_replacement_characters),
		cmocka_unit_test(test_random_bytes_always_give_valid_json),
		cmocka_unit_test(test_misuse_dies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
