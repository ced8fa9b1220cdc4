/*
 * test-netlog.c: the connection log's records on au's side (src/netlog.c).
 * They come from a process of the agent's uid: whatever bytes it sends, au
 * keeps only well-formed records of this agent and run, and what it writes
 * and prints is safe on a terminal. Records written by au-netproxy's own
 * writer (netproxy/log.c, compiled in) must pass.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "netlog.h"
#include "netproto.h"
#include "util.h"

#define GOOD "{\"time\":\"2026-12-01T20:26:36.123Z\",\"agent\":\"agent\",\"run\":\"r1\",\"kind\":\"connect\"," \
	     "\"dest\":\"example.com:443\",\"addr\":\"192.0.2.7:443\",\"decision\":\"allow\",\"reason\":\"closed\"," \
	     "\"up\":12,\"down\":3456789,\"ms\":120}"

static void assert_parses(const char *text, struct net_record *r)
{
	const char *why = NULL;

	if (net_record_parse(text, strlen(text), "agent", "r1", r, &why) < 0)
		fail_msg("refused (%s): %s", why, text);
}

static void assert_refused(const char *text, const char *why_part)
{
	struct net_record r;
	const char *why = NULL;

	if (net_record_parse(text, strlen(text), "agent", "r1", &r, &why) == 0)
		fail_msg("accepted: %s", text);
	if (!strstr(why, why_part))
		fail_msg("refused '%s' with '%s', expected '%s'", text, why, why_part);
}

/* GOOD with one piece replaced. */
static char *good_with(const char *from, const char *to)
{
	const char *at = strstr(GOOD, from);

	assert_non_null(at);
	return xasprintf("%.*s%s%s", (int)(at - GOOD), GOOD, to, at + strlen(from));
}

static void test_a_good_record(void **state)
{
	struct net_record r;
	autostrbuf struct strbuf json = STRBUF_INIT;

	assert_parses(GOOD, &r);
	assert_string_equal(r.kind, "connect");
	assert_string_equal(r.dest, "example.com:443");
	assert_int_equal(r.up, 12);
	assert_int_equal(r.down, 3456789);
	assert_int_equal(r.ms, 120);
	/* Written back, it is what the proxy wrote. */
	net_record_to_json(&r, &json);
	assert_string_equal(json.buf, GOOD);
	net_record_release(&r);
}

static void test_the_proxys_own_records_pass(void **state)
{
	static const struct log_record records[] = {
		{ "connect", "registry.npmjs.org:443", "203.0.113.80:443", true, "closed", 778, 2400, 248 },
		{ "dns", "deb.debian.org", "", false, "not in allow list (A)", 0, 0, 0 },
		{ "capture", "a.test:443", "", false, "SNI mismatch: \x1b[31mevil\x07", 0, 0, 3 },
		{ "http", "x:80", "", false, "bad request: \xff\xfe not UTF-8 \xe2\x80\xae", 0, 0, 1 },
		{ "proxy", "", "", true, "started: mode all", 0, 0, 0 },
	};
	struct timespec now = { 1796156796, 123000000 };

	for (size_t i = 0; i < ARRAY_SIZE(records); i++) {
		autostrbuf struct strbuf text = STRBUF_INIT;
		autostrbuf struct strbuf json = STRBUF_INIT;
		struct net_record r, again;

		log_format(&records[i], "agent", "r1", &now, &text);
		assert_parses(text.buf, &r);
		assert_string_equal(r.kind, records[i].kind);
		net_record_to_json(&r, &json);
		/* ASCII, no control byte: safe on a terminal as it is. */
		for (size_t k = 0; k < json.len; k++)
			assert_true(json.buf[k] >= 0x20 && json.buf[k] < 0x7f);
		/* And it reads back as the same record. */
		assert_parses(json.buf, &again);
		assert_string_equal(again.reason, r.reason);
		assert_string_equal(again.dest, r.dest);
		net_record_release(&again);
		net_record_release(&r);
	}
}

/* The proxy refuses to start before it knows who it serves: its refusal carries no agent or run. */
static void test_anonymous_refusal(void **state)
{
	struct net_record r;
	autofree char *refusal = good_with("\"agent\":\"agent\",\"run\":\"r1\",\"kind\":\"connect\"",
					   "\"agent\":\"\",\"run\":\"\",\"kind\":\"proxy\"");
	autofree char *refusal_denied = NULL;

	/* As an allow it is no refusal: refused. */
	assert_refused(refusal, "another agent's or another run's");
	free(refusal);
	refusal = good_with("\"agent\":\"agent\",\"run\":\"r1\",\"kind\":\"connect\"",
			    "\"agent\":\"\",\"run\":\"\",\"kind\":\"proxy\"");
	refusal_denied = xasprintf("%.*s\"deny\"%s", (int)(strstr(refusal, "\"allow\"") - refusal), refusal,
				   strstr(refusal, "\"allow\"") + 7);
	assert_parses(refusal_denied, &r);
	net_record_release(&r);
	/* Any other kind must name this agent and run. */
	free(refusal);
	refusal = good_with("\"agent\":\"agent\",\"run\":\"r1\"", "\"agent\":\"\",\"run\":\"\"");
	assert_refused(refusal, "another agent's or another run's");
}

static void test_malformed_records(void **state)
{
	static const struct {
		const char *from, *to, *why;
	} bad[] = {
		{ "\"agent\":\"agent\"", "\"agent\":\"other\"", "another agent's" },
		{ "\"run\":\"r1\"", "\"run\":\"r2\"", "another run's" },
		{ "\"kind\":\"connect\"", "\"kind\":\"tunnel\"", "unknown kind" },
		{ "\"decision\":\"allow\"", "\"decision\":\"maybe\"", "neither allow nor deny" },
		{ "\"time\":\"2026-12-01T20:26:36.123Z\"", "\"time\":\"yesterday\"", "time" },
		{ "\"time\":\"2026-12-01T20:26:36.123Z\"", "\"time\":\"2026-12-01T20:26:36.123Z\\n\"", "time" },
		{ "\"up\":12", "\"up\":-12", "not a count" },
		{ "\"up\":12", "\"up\":1.5", "a field is missing" },
		{ "\"up\":12", "\"up\":012", "not a count" },
		{ "\"up\":12", "\"up\":\"12\"", "not a count" },
		{ "\"down\":3456789", "\"down\":18446744073709551616", "not a count" },
		{ "\"ms\":120", "\"ms\":9223372036854775808", "not a count" },
		{ "\"reason\":\"closed\"", "\"reason\":\"a\\u0000b\"", "not a valid string" },
		{ "\"reason\":\"closed\"", "\"reason\":\"\\ud800\"", "not a valid string" },
		{ "\"reason\":\"closed\"", "\"reason\":\"\\udc00\\ud800\"", "not a valid string" },
		{ "\"reason\":\"closed\"", "\"reason\":\"\x1b[2J\"", "not a valid string" },
		{ "\"reason\":\"closed\"", "\"reason\":\"\xc0\xaf\"", "not a valid string" },
		{ "\"reason\":\"closed\"", "\"reason\":\"\xed\xa0\x80\"", "not a valid string" },
		{ "\"reason\":\"closed\"", "\"reason\":\"\\x41\"", "not a valid string" },
		{ "\"reason\":\"closed\"", "\"reason\":\"closed", "" },
		{ "\"reason\":\"closed\"", "\"reason\":\"closed\",\"reason\":\"x\"", "" },
		{ "\"reason\":\"closed\"", "\"extra\":\"closed\"", "does not know" },
		{ "\"ms\":120}", "\"ms\":120,\"more\":1}", "more fields" },
		{ "\"ms\":120}", "\"ms\":120}}", "after the record" },
		{ "\"ms\":120}", "\"ms\":120}\n{}", "after the record" },
		{ ",\"ms\":120", "", "missing" },
		{ "{\"time\"", "[\"time\"", "not a JSON object" },
		{ "\"dest\":\"example.com:443\"", "\"dest\":null", "not a valid string" },
		{ "\"dest\":\"example.com:443\"", "\"dest\":[]", "not a valid string" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		autofree char *text = good_with(bad[i].from, bad[i].to);

		assert_refused(text, bad[i].why);
	}
	assert_refused("", "not a JSON object");
	assert_refused("{}", "");
	/* Twice a field, once missing another. */
	{
		autofree char *text = good_with("\"kind\":\"connect\"", "\"run\":\"r1\"");

		assert_refused(text, "twice");
	}
	/* Longer than a record may be. */
	{
		autostrbuf struct strbuf big = STRBUF_INIT;
		autofree char *text = NULL;

		for (int i = 0; i < NETPROTO_RECORD_MAX; i++)
			strbuf_addch(&big, 'a');
		text = good_with("closed", big.buf);
		assert_refused(text, "longer than a record");
	}
}

/* Whitespace between the parts is JSON too; au writes none. */
static void test_whitespace(void **state)
{
	struct net_record r;
	autostrbuf struct strbuf json = STRBUF_INIT;
	autofree char *spaced = xstrdup(" { \"time\" : \"2026-12-01T20:26:36.123Z\" ,\n\"agent\":\"agent\",\t\"run\":\"r1\","
					"\"kind\":\"dns\",\"dest\":\"x\",\"addr\":\"\",\"decision\":\"deny\","
					"\"reason\":\"\",\"up\":0,\"down\":0,\"ms\":0 }\r\n");

	assert_parses(spaced, &r);
	net_record_to_json(&r, &json);
	assert_null(strchr(json.buf, ' '));
	net_record_release(&r);
}

static void test_json_is_ascii_and_round_trips(void **state)
{
	/* é, U+202E (a bidi override), U+1F600, and the escapes JSON has. */
	autofree char *text = good_with("\"reason\":\"closed\"",
					"\"reason\":\"\xc3\xa9 \xe2\x80\xae \xf0\x9f\x98\x80 \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9\"");
	autostrbuf struct strbuf json = STRBUF_INIT;
	struct net_record r, again;

	assert_parses(text, &r);
	assert_string_equal(r.reason, "\xc3\xa9 \xe2\x80\xae \xf0\x9f\x98\x80 \"q\" \\ / \b\f\n\r\t \xc3\xa9");
	net_record_to_json(&r, &json);
	assert_non_null(strstr(json.buf,
			       "\"reason\":\"\\u00e9 \\u202e \\ud83d\\ude00 \\\"q\\\" \\\\ / \\u0008\\u000c\\u000a\\u000d\\u0009 \\u00e9\""));
	assert_parses(json.buf, &again);
	assert_string_equal(again.reason, r.reason);
	net_record_release(&again);
	net_record_release(&r);
}

static void test_text_is_escaped(void **state)
{
	autofree char *text = good_with("\"reason\":\"closed\"", "\"reason\":\"\\u001b]0;pwned\\u0007 \\u009b31m \xe2\x80\xae\"");
	autofree char *dest = NULL;
	autostrbuf struct strbuf out = STRBUF_INIT;
	struct net_record r;

	assert_parses(text, &r);
	net_record_to_text(&r, &out);
	assert_string_equal(out.buf, "2026-12-01 20:26:36.123  run r1  allow  connect  example.com:443 -> 192.0.2.7:443"
				     "  up 12 B, down 3.5 MB, 120 ms  (\\x1b]0;pwned\\x07 \\xc2\\x9b31m \\xe2\\x80\\xae)");
	for (size_t i = 0; i < out.len; i++)
		assert_true(out.buf[i] >= 0x20 && out.buf[i] < 0x7f);
	net_record_release(&r);

	/* A refusal: its reason, no bytes. */
	dest = good_with("\"decision\":\"allow\",\"reason\":\"closed\"", "\"decision\":\"deny\",\"reason\":\"not in allow list\"");
	assert_parses(dest, &r);
	strbuf_reset(&out);
	net_record_to_text(&r, &out);
	assert_string_equal(out.buf, "2026-12-01 20:26:36.123  run r1  deny   connect  example.com:443 -> 192.0.2.7:443"
				     "  (not in allow list)");
	net_record_release(&r);
}

static void test_start_and_stop(void **state)
{
	autofree char *start = good_with("\"kind\":\"connect\"", "\"kind\":\"proxy\"");
	autofree char *started = NULL;
	struct net_record r;

	assert_parses(start, &r);
	assert_false(net_record_is_start(&r));
	net_record_release(&r);
	started = xasprintf("%.*sstarted: mode all%s", (int)(strstr(start, "closed") - start), start,
			    strstr(start, "closed") + 6);
	assert_parses(started, &r);
	assert_true(net_record_is_start(&r));
	assert_false(net_record_is_stop(&r));
	net_record_release(&r);
}

/* The reader: good records go in the log as au writes them, the rest is counted and dropped. */
static void test_reader(void **state)
{
	int chan[2], log[2];
	struct netlog_reader r = NETLOG_READER_INIT;
	autofree char *started = good_with("\"kind\":\"connect\",\"dest\":\"example.com:443\",\"addr\":\"192.0.2.7:443\","
					   "\"decision\":\"allow\",\"reason\":\"closed\"",
					   "\"kind\":\"proxy\",\"dest\":\"\",\"addr\":\"\",\"decision\":\"allow\","
					   "\"reason\":\"started: x\"");
	autofree char *other = good_with("\"run\":\"r1\"", "\"run\":\"r0\"");
	autostrbuf struct strbuf written = STRBUF_INIT;
	char big[NETPROTO_RECORD_MAX + 10];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan), 0);
	assert_int_equal(pipe(log), 0);
	memset(big, '{', sizeof(big));
	assert_true(send(chan[1], started, strlen(started), 0) > 0);
	assert_true(send(chan[1], GOOD, strlen(GOOD), 0) > 0);
	assert_true(send(chan[1], other, strlen(other), 0) > 0);
	assert_true(send(chan[1], big, sizeof(big), 0) > 0);
	assert_true(send(chan[1], "\x1b[2J", 4, 0) > 0);
	close(chan[1]);
	netlog_reader_start(&r, chan[0], log[1], "agent", "r1");
	netlog_reader_finish(&r, 5000);
	assert_true(r.eof);
	assert_true(r.started);
	assert_false(r.stopped);
	assert_int_equal(r.records, 2);
	assert_int_equal(r.malformed, 3);
	close(log[1]);
	r.log_fd = -1;
	assert_int_equal(read_fd_all(log[0], 1 << 20, &written), 0);
	close(log[0]);
	assert_non_null(strstr(written.buf, "\"reason\":\"started: x\""));
	assert_non_null(strstr(written.buf, GOOD "\n"));
	assert_null(strstr(written.buf, "r0"));
	netlog_reader_release(&r);
}

/* A log that cannot be written: the channel is shut, so that the proxy refuses from then on. */
static void test_reader_fails_closed(void **state)
{
	int chan[2], log[2];
	struct netlog_reader r = NETLOG_READER_INIT;
	char byte;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan), 0);
	assert_int_equal(pipe(log), 0);
	close(log[0]);
	signal(SIGPIPE, SIG_IGN);
	assert_true(send(chan[1], GOOD, strlen(GOOD), 0) > 0);
	netlog_reader_start(&r, chan[0], log[1], "agent", "r1");
	/* The proxy's end sees the channel close (log.c: log_usable() turns false). */
	assert_int_equal(recv(chan[1], &byte, 1, 0), 0);
	netlog_reader_finish(&r, 5000);
	assert_int_equal(r.write_error, EPIPE);
	assert_int_equal(r.records, 0);
	close(chan[1]);
	netlog_reader_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_good_record),
		cmocka_unit_test(test_the_proxys_own_records_pass),
		cmocka_unit_test(test_anonymous_refusal),
		cmocka_unit_test(test_malformed_records),
		cmocka_unit_test(test_whitespace),
		cmocka_unit_test(test_json_is_ascii_and_round_trips),
		cmocka_unit_test(test_text_is_escaped),
		cmocka_unit_test(test_start_and_stop),
		cmocka_unit_test(test_reader),
		cmocka_unit_test(test_reader_fails_closed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
