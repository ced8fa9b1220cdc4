/*
 * test-util.c: strbuf, strvec, escape_display and xasprintf, the string
 * helpers every command builds its messages and argv vectors with.
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

/*
 * Leaves freed heap chunks of the sizes strbuf allocates first full of 'Z',
 * so that a buffer handed out without its terminating NUL shows as garbage
 * instead of passing by luck on a zeroed fresh heap.
 */
static void dirty_the_heap(void)
{
	for (size_t size = 16; size <= 256; size *= 2) {
		char *p = malloc(size);

		assert_non_null(p);
		memset(p, 'Z', size);
		free(p);
	}
}

/* --- strbuf -------------------------------------------------------------- */

/*
 * Fixed, kept as a regression test: strbuf_grow(sb, 0) on a buffer with nothing allocated allocates 64
 * bytes but never writes buf[0] = '\0', so strbuf_str() and strbuf_detach()
 * of a never-written strbuf return uninitialized memory instead of "" (and
 * with them escape_display(""), shell_quote_argv() of an empty argv, and
 * every other helper that detaches a strbuf it may not have written to).
 */
static void test_strbuf_empty_is_a_string(void **state)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;

	/* A fresh buffer has no allocation, yet reads as "". */
	assert_null(sb.buf);
	dirty_the_heap();
	/* The first byte only: reading on could run off the allocation. */
	assert_int_equal(strbuf_str(&sb)[0], '\0');
	assert_int_equal(sb.len, 0);
}

/* Fixed, kept as a regression test: the same missing NUL, through strbuf_detach() (see above). */
static void test_strbuf_detach_of_nothing_is_empty_string(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	autofree char *empty = NULL;

	dirty_the_heap();
	empty = strbuf_detach(&sb);
	assert_non_null(empty);
	assert_int_equal(empty[0], '\0');
}

static void test_strbuf_grows_and_keeps_content(void **state)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;
	autofree char *want = xmalloc(100001);

	/* Past several doublings, one byte at a time and in chunks. */
	for (size_t i = 0; i < 100000; i++) {
		want[i] = (char)('a' + i % 26);
		if (i % 3)
			strbuf_addch(&sb, want[i]);
		else
			strbuf_add(&sb, &want[i], 1);
	}
	want[100000] = '\0';
	assert_int_equal(sb.len, 100000);
	assert_true(sb.alloc > sb.len);
	assert_int_equal(sb.buf[sb.len], '\0');
	assert_string_equal(sb.buf, want);
}

static void test_strbuf_add_keeps_nul_bytes(void **state)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;

	strbuf_add(&sb, "a\0b", 3);
	assert_int_equal(sb.len, 3);
	assert_memory_equal(sb.buf, "a\0b", 4);
}

static void test_strbuf_grow_reserves_room(void **state)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, "abc");
	strbuf_grow(&sb, 1000);
	assert_true(sb.alloc >= 3 + 1000 + 1);
	assert_string_equal(sb.buf, "abc");
}

static void test_strbuf_addf_long_strings(void **state)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;
	autofree char *big = xmalloc(70001);
	autofree char *want = NULL;

	/* Longer than any first guess at the size, and appended twice. */
	memset(big, 'x', 70000);
	big[70000] = '\0';
	strbuf_addstr(&sb, "start:");
	strbuf_addf(&sb, "[%s]", big);
	strbuf_addf(&sb, "%d-%s-%c", 42, big, '!');
	want = xasprintf("start:[%s]42-%s-!", big, big);
	assert_int_equal(sb.len, strlen(want));
	assert_string_equal(sb.buf, want);
}

static void test_strbuf_addf_empty_result(void **state)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "%s", "");
	assert_int_equal(sb.len, 0);
	assert_string_equal(strbuf_str(&sb), "");
}

static void test_strbuf_detach_hands_over_and_resets(void **state)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;
	autofree char *s = NULL;
	autofree char *empty = NULL;

	strbuf_addstr(&sb, "hello");
	s = strbuf_detach(&sb);
	assert_string_equal(s, "hello");
	assert_null(sb.buf);
	assert_int_equal(sb.len, 0);
	assert_int_equal(sb.alloc, 0);

	/* Emptied by a reset (so allocated), detaching still gives "". */
	strbuf_addstr(&sb, "gone");
	strbuf_reset(&sb);
	empty = strbuf_detach(&sb);
	assert_non_null(empty);
	assert_string_equal(empty, "");

	/* The buffer is usable again after a detach. */
	strbuf_addstr(&sb, "again");
	assert_string_equal(sb.buf, "again");
}

static void test_strbuf_reset_keeps_allocation(void **state)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;
	size_t alloc;

	strbuf_reset(&sb); /* on a never-used buffer: no crash */
	strbuf_addstr(&sb, "some text that is here");
	alloc = sb.alloc;
	strbuf_reset(&sb);
	assert_int_equal(sb.len, 0);
	assert_string_equal(sb.buf, "");
	assert_int_equal(sb.alloc, alloc);
	strbuf_addstr(&sb, "new");
	assert_string_equal(sb.buf, "new");
}

static void test_strbuf_release_twice(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, "x");
	strbuf_release(&sb);
	strbuf_release(&sb);
	assert_null(sb.buf);
	assert_int_equal(sb.len, 0);
}

/* --- strvec -------------------------------------------------------------- */

static void test_strvec_empty_argv(void **state)
{
	autostrvec struct strvec sv = STRVEC_INIT;
	const char *const *argv = strvec_argv(&sv);

	assert_non_null(argv);
	assert_null(argv[0]);
}

static void test_strvec_push_copies_and_terminates(void **state)
{
	autostrvec struct strvec sv = STRVEC_INIT;
	char word[] = "changeme";
	const char *const *argv;

	strvec_push(&sv, "sudo");
	strvec_push(&sv, word);
	strvec_pushf(&sv, "--uid=%d", 64000);
	/* The vector holds copies, not the caller's buffer. */
	word[0] = 'X';
	argv = strvec_argv(&sv);
	assert_int_equal(sv.nr, 3);
	assert_string_equal(argv[0], "sudo");
	assert_string_equal(argv[1], "changeme");
	assert_string_equal(argv[2], "--uid=64000");
	assert_null(argv[3]);
}

static void test_strvec_many_stays_terminated(void **state)
{
	autostrvec struct strvec sv = STRVEC_INIT;

	/* After every push, across reallocations, argv ends with NULL. */
	for (int i = 0; i < 1000; i++) {
		strvec_pushf(&sv, "%d", i);
		assert_int_equal(sv.nr, (size_t)i + 1);
		assert_null(strvec_argv(&sv)[i + 1]);
	}
	for (int i = 0; i < 1000; i++) {
		char buf[16];

		snprintf(buf, sizeof(buf), "%d", i);
		assert_string_equal(sv.v[i], buf);
	}
}

static void test_strvec_pushv(void **state)
{
	autostrvec struct strvec sv = STRVEC_INIT;
	static const char *const words[] = { "a", "b c", "", NULL };

	strvec_push(&sv, "first");
	strvec_pushv(&sv, words);
	assert_int_equal(sv.nr, 4);
	assert_string_equal(sv.v[1], "a");
	assert_string_equal(sv.v[2], "b c");
	assert_string_equal(sv.v[3], "");
	assert_null(sv.v[4]);
}

static void test_strvec_clear_and_reuse(void **state)
{
	autostrvec struct strvec sv = STRVEC_INIT;

	strvec_push(&sv, "a");
	strvec_push(&sv, "b");
	strvec_clear(&sv);
	assert_int_equal(sv.nr, 0);
	assert_null(strvec_argv(&sv)[0]);
	strvec_clear(&sv); /* twice is harmless */
	strvec_push(&sv, "c");
	assert_int_equal(sv.nr, 1);
	assert_string_equal(strvec_argv(&sv)[0], "c");
	assert_null(strvec_argv(&sv)[1]);
}

/* --- escape_display ------------------------------------------------------ */

static void assert_escaped(const char *in, const char *want)
{
	autofree char *got = escape_display(in);

	assert_string_equal(got, want);
}

/* Fixed, kept as a regression test: escape_display("") detaches a never-written strbuf (see above). */
static void test_escape_display_empty(void **state)
{
	autofree char *got = NULL;

	dirty_the_heap();
	got = escape_display("");
	assert_int_equal(got[0], '\0');
}

static void test_escape_display_keeps_printable(void **state)
{
	assert_escaped("/home/alice/my project (v2)/a'b\"c~$!", "/home/alice/my project (v2)/a'b\"c~$!");
	assert_escaped(" !#%&*+,-./09:;<=>?@AZ[]^_`az{|}~", " !#%&*+,-./09:;<=>?@AZ[]^_`az{|}~");
}

static void test_escape_display_escapes_controls(void **state)
{
	/* A file name that would clear the screen or fake a line of output. */
	assert_escaped("\x1b[2Jgotcha", "\\x1b[2Jgotcha");
	assert_escaped("a\nau: all good", "a\\x0aau: all good");
	assert_escaped("\r\t\x01\x1f", "\\x0d\\x09\\x01\\x1f");
	assert_escaped("del\x7f", "del\\x7f");
}

static void test_escape_display_escapes_backslash(void **state)
{
	/* Otherwise "\x1b" typed literally would look like an escaped ESC. */
	assert_escaped("a\\x1b", "a\\x5cx1b");
	assert_escaped("\\", "\\x5c");
}

static void test_escape_display_escapes_high_bytes(void **state)
{
	/* UTF-8 and lone bytes alike; 0x9b is a C1 CSI on some terminals. */
	assert_escaped("caf\xc3\xa9", "caf\\xc3\\xa9");
	assert_escaped("\x80\x9b\xff", "\\x80\\x9b\\xff");
}

static void test_escape_display_every_byte(void **state)
{
	char in[2] = { 0, 0 };

	for (int c = 1; c < 256; c++) {
		autofree char *got = NULL;

		in[0] = (char)c;
		got = escape_display(in);
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			assert_int_equal(strlen(got), 1);
			assert_int_equal((unsigned char)got[0], c);
		} else {
			char want[8];

			snprintf(want, sizeof(want), "\\x%02x", c);
			assert_string_equal(got, want);
		}
	}
}

/* --- escape_terminal, and the messages that use it ------------------------ */

static void assert_terminal_safe(const char *in, const char *want)
{
	autofree char *got = escape_terminal(in);

	assert_string_equal(got, want);
}

static void test_escape_terminal_keeps_text(void **state)
{
	/* Backslash stays: what escape_display() made is not escaped twice. */
	assert_terminal_safe("a\\x1b b'\"~", "a\\x1b b'\"~");
	assert_terminal_safe("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80");
	assert_terminal_safe("\xc2\xa0nbsp", "\xc2\xa0nbsp");
}

static void test_escape_terminal_escapes_controls(void **state)
{
	assert_terminal_safe("\x1b]0;title\x07", "\\x1b]0;title\\x07");
	assert_terminal_safe("a\nau: all good\r\t", "a\\x0aau: all good\\x0d\\x09");
	assert_terminal_safe("del\x7f", "del\\x7f");
	/* C1 CSI, raw and as UTF-8; invalid, overlong and surrogate sequences; bidi overrides. */
	assert_terminal_safe("\x9b" "31m", "\\x9b31m");
	assert_terminal_safe("\xc2\x9b" "31m", "\\xc2\\x9b31m");
	assert_terminal_safe("\xc0\xaf\xe0\x80\xaf", "\\xc0\\xaf\\xe0\\x80\\xaf");
	assert_terminal_safe("\xed\xa0\x80", "\\xed\\xa0\\x80");
	assert_terminal_safe("\xe2\x80\xaegnp.exe", "\\xe2\\x80\\xaegnp.exe");
	assert_terminal_safe("\xe2\x81\xa6x", "\\xe2\\x81\\xa6x");
	assert_terminal_safe("cut\xc3", "cut\\xc3");
	assert_terminal_safe("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");
}

/* Runs fn with stderr (or stdout) going to a file, and returns what it wrote. */
static char *captured(int fd, void (*fn)(void))
{
	char path[] = "/tmp/au-test-util.XXXXXX";
	int tmp = mkstemp(path);
	int saved = dup(fd);
	struct strbuf sb = STRBUF_INIT;

	assert_true(tmp >= 0 && saved >= 0);
	unlink(path);
	fflush(NULL);
	dup2(tmp, fd);
	fn();
	fflush(NULL);
	dup2(saved, fd);
	close(saved);
	lseek(tmp, 0, SEEK_SET);
	assert_int_equal(read_fd_all(tmp, 1 << 16, &sb), 0);
	close(tmp);
	return strbuf_detach(&sb);
}

static void say_nasty_things(void)
{
	const char *name = "x\x1b[2J\ny";

	error("cannot open '%s'", name);
	warn("'%s' is odd", name);
	hint("run 'ls %s'", name);
	errno = ENOENT;
	error_errno("no '%s'", name);
}

static void print_nasty_line(void)
{
	line_out("Added %s (%s)", "p\x1b[31m\rq", "\xc2\x9b");
}

/* Every message is made safe as a whole, whatever its caller passed. */
static void test_messages_are_terminal_safe(void **state)
{
	autofree char *err = captured(STDERR_FILENO, say_nasty_things);
	autofree char *out = captured(STDOUT_FILENO, print_nasty_line);

	assert_string_equal(err, "au: cannot open 'x\\x1b[2J\\x0ay'\n"
				 "au: warning: 'x\\x1b[2J\\x0ay' is odd\n"
				 "hint: run 'ls x\\x1b[2J\\x0ay'\n"
				 "au: no 'x\\x1b[2J\\x0ay': No such file or directory\n");
	assert_string_equal(out, "Added p\\x1b[31m\\x0dq (\\xc2\\x9b)\n");
}

/* --- xasprintf ----------------------------------------------------------- */

static void test_xasprintf(void **state)
{
	autofree char *a = xasprintf("%s/%s", "/home/alice", "src");
	autofree char *b = xasprintf("%s", "");
	autofree char *c = xasprintf("%d %u %x %c %%", -5, 7u, 255u, 'z');
	autofree char *big = xmalloc(20001);
	autofree char *d = NULL;

	assert_string_equal(a, "/home/alice/src");
	assert_non_null(b);
	assert_string_equal(b, "");
	assert_string_equal(c, "-5 7 ff z %");
	memset(big, 'q', 20000);
	big[20000] = '\0';
	d = xasprintf("<%s>", big);
	assert_int_equal(strlen(d), 20002);
	assert_int_equal(d[0], '<');
	assert_int_equal(d[20001], '>');
	assert_memory_equal(d + 1, big, 20000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strbuf_empty_is_a_string),
		cmocka_unit_test(test_strbuf_detach_of_nothing_is_empty_string),
		cmocka_unit_test(test_strbuf_grows_and_keeps_content),
		cmocka_unit_test(test_strbuf_add_keeps_nul_bytes),
		cmocka_unit_test(test_strbuf_grow_reserves_room),
		cmocka_unit_test(test_strbuf_addf_long_strings),
		cmocka_unit_test(test_strbuf_addf_empty_result),
		cmocka_unit_test(test_strbuf_detach_hands_over_and_resets),
		cmocka_unit_test(test_strbuf_reset_keeps_allocation),
		cmocka_unit_test(test_strbuf_release_twice),
		cmocka_unit_test(test_strvec_empty_argv),
		cmocka_unit_test(test_strvec_push_copies_and_terminates),
		cmocka_unit_test(test_strvec_many_stays_terminated),
		cmocka_unit_test(test_strvec_pushv),
		cmocka_unit_test(test_strvec_clear_and_reuse),
		cmocka_unit_test(test_escape_terminal_keeps_text),
		cmocka_unit_test(test_escape_terminal_escapes_controls),
		cmocka_unit_test(test_messages_are_terminal_safe),
		cmocka_unit_test(test_escape_display_empty),
		cmocka_unit_test(test_escape_display_keeps_printable),
		cmocka_unit_test(test_escape_display_escapes_controls),
		cmocka_unit_test(test_escape_display_escapes_backslash),
		cmocka_unit_test(test_escape_display_escapes_high_bytes),
		cmocka_unit_test(test_escape_display_every_byte),
		cmocka_unit_test(test_xasprintf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
