/*
 * test-netproxy-http.c: the HTTP proxy request parser and the request it
 * sends upstream (netproxy/http.c). CONNECT and absolute URIs are proxy
 * requests; everything a second HTTP reader could take for another
 * destination is a bad request. Ends with a seeded mutation run of the fuzz
 * harness.
 */
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "netproxy-mutate.h"

#include "../../fuzz/fuzz-netproxy-http.c"

static enum http_status parse(const char *text, struct http_request *req, const char **why)
{
	return http_parse_request(text, strlen(text), req, why);
}

static void assert_ok(const char *text, struct http_request *req)
{
	const char *why = NULL;

	if (parse(text, req, &why) != HTTP_OK)
		fail_msg("refused (%s):\n%s", why ? why : "incomplete", text);
}

static void assert_bad(const char *text, const char *why_part)
{
	struct http_request req;
	const char *why = NULL;
	enum http_status status = parse(text, &req, &why);

	if (status != HTTP_BAD)
		fail_msg("status %d, not HTTP_BAD:\n%s", status, text);
	if (!strstr(why, why_part))
		fail_msg("refused with '%s', not '%s':\n%s", why, why_part, text);
}

static void test_connect(void **state)
{
	struct http_request req;
	const char *text = "CONNECT Example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01";

	assert_ok(text, &req);
	assert_int_equal(req.target, HTTP_TARGET_AUTHORITY);
	assert_string_equal(req.host, "Example.com");
	assert_int_equal(req.port, 443);
	/* The head ends at the empty line: the TLS bytes after it are the tunnel's. */
	assert_int_equal(req.head_len, strlen(text) - 3);

	assert_ok("CONNECT [2001:db8::1]:22 HTTP/1.0\r\n\r\n", &req);
	assert_string_equal(req.host, "2001:db8::1");
	assert_int_equal(req.port, 22);
	/* CONNECT ignores Host: the target is the destination. */
	assert_ok("CONNECT a.example:443 HTTP/1.1\r\nHost: b.example\r\n\r\n", &req);
	assert_string_equal(req.host, "a.example");

	assert_bad("CONNECT example.com HTTP/1.1\r\n\r\n", "needs a port");
	assert_bad("CONNECT example.com:0 HTTP/1.1\r\n\r\n", "invalid port");
	assert_bad("CONNECT example.com:99999 HTTP/1.1\r\n\r\n", "invalid port");
	assert_bad("CONNECT :443 HTTP/1.1\r\n\r\n", "empty host");
	assert_bad("CONNECT user@example.com:443 HTTP/1.1\r\n\r\n", "invalid character");
	assert_bad("CONNECT [::1:443 HTTP/1.1\r\n\r\n", "without ']'");
	assert_bad("CONNECT [::1]x:443 HTTP/1.1\r\n\r\n", "only ':PORT'");
	assert_bad("CONNECT http://example.com:443 HTTP/1.1\r\n\r\n", "invalid");
	/* Methods are case-sensitive: "connect" is not CONNECT, and not a proxy request either. */
	assert_bad("connect example.com:443 HTTP/1.1\r\n\r\n", "unsupported request target");
}

static void test_absolute_uri(void **state)
{
	struct http_request req;

	assert_ok("GET http://Example.COM/a/b?c=d HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n", &req);
	assert_int_equal(req.target, HTTP_TARGET_ABSOLUTE);
	assert_string_equal(req.host, "Example.COM");
	assert_int_equal(req.port, 80);
	assert_int_equal(req.path_len, 8);
	assert_memory_equal(req.path, "/a/b?c=d", 8);
	assert_int_equal(req.nr_headers, 2);

	assert_ok("POST HTTP://example.com:8080 HTTP/1.1\r\nHost: EXAMPLE.com.:8080\r\n\r\n", &req);
	assert_int_equal(req.port, 8080);
	assert_int_equal(req.path_len, 0);
	assert_ok("GET http://example.com?x HTTP/1.1\r\nHost: example.com:80\r\n\r\n", &req);
	assert_int_equal(req.path_len, 2);
	/* HTTP/1.0 clients may leave Host out: the forwarded request gets one. */
	assert_ok("GET http://[2001:db8::1]:8080/ HTTP/1.0\r\n\r\n", &req);
	assert_string_equal(req.host, "2001:db8::1");
	assert_null(req.host_header);
}

static void test_host_must_agree_with_the_uri(void **state)
{
	/* The smuggling case: the proxy checks the URI, the server obeys Host. */
	assert_bad("GET http://allowed.example/ HTTP/1.1\r\nHost: denied.example\r\n\r\n",
		   "Host header does not match the URI");
	assert_bad("GET http://allowed.example/ HTTP/1.1\r\nHost: allowed.example:8080\r\n\r\n",
		   "Host header does not match the URI");
	assert_bad("GET http://allowed.example:8080/ HTTP/1.1\r\nHost: allowed.example\r\n\r\n",
		   "Host header does not match the URI");
	assert_bad("GET http://allowed.example/ HTTP/1.1\r\nHost: allowed.example\r\nhost: denied.example\r\n\r\n",
		   "more than one Host header");
	assert_bad("GET http://allowed.example/ HTTP/1.1\r\nHost: allowed.example@denied.example\r\n\r\n",
		   "invalid Host header");
	assert_bad("GET http://allowed.example/ HTTP/1.1\r\nHost:\r\n\r\n", "invalid Host header");
	assert_bad("GET http://allowed.example@denied.example/ HTTP/1.1\r\n\r\n", "userinfo");
	assert_bad("GET http://user:pw@allowed.example/ HTTP/1.1\r\n\r\n", "userinfo");
	assert_bad("GET http://allowed%2eexample/ HTTP/1.1\r\n\r\n", "invalid character in the host");
	assert_bad("GET http:///path HTTP/1.1\r\n\r\n", "empty host");
}

static void test_not_proxy_requests(void **state)
{
	assert_bad("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", "not a proxy request");
	assert_bad("GET https://example.com/ HTTP/1.1\r\n\r\n", "go through CONNECT");
	assert_bad("OPTIONS * HTTP/1.1\r\n\r\n", "unsupported request target");
	assert_bad("GET ftp://example.com/ HTTP/1.1\r\n\r\n", "unsupported request target");
	assert_bad("GET http://example.com/ HTTP/2.0\r\n\r\n", "only HTTP/1.0 and HTTP/1.1");
	assert_bad("GET http://example.com/ http/1.1\r\n\r\n", "only HTTP/1.0 and HTTP/1.1");
	assert_bad("GET http://example.com/\r\n\r\n", "malformed request line");
	assert_bad("GET  http://example.com/ HTTP/1.1\r\n\r\n", "malformed request line");
	assert_bad("GET http://example.com/ HTTP/1.1 \r\n\r\n", "only HTTP/1.0");
	assert_bad(" GET http://example.com/ HTTP/1.1\r\n\r\n", "malformed request line");
	assert_bad("G(T http://example.com/ HTTP/1.1\r\n\r\n", "invalid character in the method");
	assert_bad("GET http://example.com/a#frag HTTP/1.1\r\n\r\n", "invalid character in the request target");
	assert_bad("GET http://example.com/\x7f HTTP/1.1\r\n\r\n", "invalid character in the request target");
	assert_bad("\r\nGET http://example.com/ HTTP/1.1\r\n\r\n", "empty request line");
}

static void test_header_syntax(void **state)
{
	assert_bad("GET http://a.example/ HTTP/1.1\r\nX: 1\r\n folded\r\n\r\n", "folded");
	assert_bad("GET http://a.example/ HTTP/1.1\r\nHost : a.example\r\n\r\n", "invalid character in a header name");
	assert_bad("GET http://a.example/ HTTP/1.1\r\nNoColon\r\n\r\n", "malformed header line");
	assert_bad("GET http://a.example/ HTTP/1.1\r\n: empty\r\n\r\n", "malformed header line");
	assert_bad("GET http://a.example/ HTTP/1.1\r\nX: a\x01b\r\n\r\n", "invalid character in a header value");
	assert_bad("GET http://a.example/ HTTP/1.1\nHost: a.example\n\n", "bare LF");
	assert_bad("GET http://a.example/ HTTP/1.1\r\nX: a\rb\r\n\r\n", "bare CR");
	{
		struct http_request req;
		const char *why;
		const char text[] = "GET http://a.example/ HTTP/1.1\r\nX: a\0b\r\n\r\n";

		assert_int_equal(http_parse_request(text, sizeof(text) - 1, &req, &why), HTTP_BAD);
		assert_non_null(strstr(why, "NUL"));
	}
	{
		autostrbuf struct strbuf sb = STRBUF_INIT;

		strbuf_addstr(&sb, "GET http://a.example/ HTTP/1.1\r\n");
		for (int i = 0; i <= HTTP_MAX_HEADERS; i++)
			strbuf_addf(&sb, "X-%d: %d\r\n", i, i);
		strbuf_addstr(&sb, "\r\n");
		assert_bad(sb.buf, "too many header lines");
	}
}

static void test_incomplete_and_oversize(void **state)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;
	struct http_request req;
	const char *why;

	assert_int_equal(parse("", &req, &why), HTTP_NEED_MORE);
	assert_int_equal(parse("CONNECT a.example:443 HTTP/1.1\r\n", &req, &why), HTTP_NEED_MORE);
	assert_int_equal(parse("CONNECT a.example:443 HTTP/1.1\r\nHost: a\r\n\r", &req, &why), HTTP_NEED_MORE);

	strbuf_addstr(&sb, "GET http://a.example/ HTTP/1.1\r\n");
	while (sb.len < HTTP_HEAD_MAX - 100)
		strbuf_addstr(&sb, "X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
	/* Just under the limit: still waiting for the end. */
	assert_int_equal(http_parse_request(sb.buf, sb.len, &req, &why), HTTP_NEED_MORE);
	while (sb.len < HTTP_HEAD_MAX)
		strbuf_addstr(&sb, "X: y\r\n");
	assert_int_equal(http_parse_request(sb.buf, sb.len, &req, &why), HTTP_TOO_BIG);
	assert_non_null(strstr(why, "64 KiB"));
	/* An end beyond the limit does not count. */
	strbuf_addstr(&sb, "\r\n");
	assert_int_equal(http_parse_request(sb.buf, sb.len, &req, &why), HTTP_TOO_BIG);
}

static void test_forwarded_request(void **state)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;
	struct http_request req;

	assert_ok("POST http://api.example:8080/v1?x=1 HTTP/1.1\r\n"
		  "User-Agent: curl/8\r\n"
		  "Proxy-Authorization: Basic c2VjcmV0\r\n"
		  "Proxy-Connection: Keep-Alive\r\n"
		  "Host: api.example:8080\r\n"
		  "Connection: keep-alive, X-Hop\r\n"
		  "Keep-Alive: timeout=5\r\n"
		  "X-Hop: secret\r\n"
		  "Transfer-Encoding: chunked\r\n"
		  "Upgrade: websocket\r\n"
		  "Content-Type: text/plain\r\n\r\n",
		  &req);
	http_format_forward(&req, &sb);
	assert_string_equal(sb.buf, "POST /v1?x=1 HTTP/1.1\r\n"
				    "Host: api.example:8080\r\n"
				    "User-Agent: curl/8\r\n"
				    "Transfer-Encoding: chunked\r\n"
				    "Content-Type: text/plain\r\n"
				    "Connection: close\r\n\r\n");

	strbuf_reset(&sb);
	assert_ok("GET http://[2001:db8::1]:8080?q HTTP/1.0\r\n\r\n", &req);
	http_format_forward(&req, &sb);
	assert_string_equal(sb.buf, "GET /?q HTTP/1.0\r\nHost: [2001:db8::1]:8080\r\nConnection: close\r\n\r\n");

	strbuf_reset(&sb);
	assert_ok("GET http://a.example HTTP/1.0\r\n\r\n", &req);
	http_format_forward(&req, &sb);
	assert_string_equal(sb.buf, "GET / HTTP/1.0\r\nHost: a.example\r\nConnection: close\r\n\r\n");
}

static void test_error_responses(void **state)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;

	http_format_error(403, "au: no", &sb);
	assert_string_equal(sb.buf, "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\n"
				    "Content-Length: 7\r\nConnection: close\r\n\r\nau: no\n");
}

static void test_mutation_run(void **state)
{
	static const char *const texts[] = {
		"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nUser-Agent: curl/8\r\n\r\n",
		"GET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive, X-A\r\n"
		"X-A: 1\r\nProxy-Authorization: x\r\n\r\nbody",
		"POST http://[2001:db8::1]:8080/ HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
		"CONNECT [::1]:22 HTTP/1.0\r\n\r\n",
	};
	static const char interesting[] = "\r\n :/[]@%?#\t\x7f\x80\0HTTP/1.1CONNECThttp://";
	struct sample samples[ARRAY_SIZE(texts)];
	autostrbuf struct strbuf sb = STRBUF_INIT;
	size_t accepted = 0, absolute = 0, runs = 60000;

	for (size_t i = 0; i < ARRAY_SIZE(texts); i++)
		samples[i] = (struct sample){ (const uint8_t *)texts[i], strlen(texts[i]) };
	mutate_rng_state = 0x48545450ULL;
	for (size_t run = 0; run < runs; run++) {
		struct http_request req;
		const char *why;

		mutate_one(&sb, samples, ARRAY_SIZE(samples), interesting, sizeof(interesting) - 1);
		LLVMFuzzerTestOneInput((const uint8_t *)sb.buf, sb.len);
		if (http_parse_request(sb.buf, sb.len, &req, &why) == HTTP_OK) {
			accepted++;
			absolute += req.target == HTTP_TARGET_ABSOLUTE;
		}
	}
	print_message("# http mutation run: %zu runs, %zu accepted, %zu absolute URIs\n", runs, accepted, absolute);
	assert_true(accepted > runs / 50);
	assert_true(absolute > runs / 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect),
		cmocka_unit_test(test_absolute_uri),
		cmocka_unit_test(test_host_must_agree_with_the_uri),
		cmocka_unit_test(test_not_proxy_requests),
		cmocka_unit_test(test_header_syntax),
		cmocka_unit_test(test_incomplete_and_oversize),
		cmocka_unit_test(test_forwarded_request),
		cmocka_unit_test(test_error_responses),
		cmocka_unit_test(test_mutation_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
