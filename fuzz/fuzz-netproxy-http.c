/*
 * fuzz-netproxy-http.c: libFuzzer harness for the HTTP proxy request parser
 * (netproxy/http.c), the first thing an agent's HTTP client reaches.
 *
 * When a head parses, what the proxy does with it must hold: the head ends
 * inside the input with an empty line, the destination is a host the
 * policy can judge, and the request sent upstream is clean HTTP/1.1 (CRLF
 * lines, valid header names, no Proxy-* header, "Connection: close" once).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "fuzz-netproxy.h"

/* Included, not linked, so that they carry the fuzzer's instrumentation. */
#include "../netproxy/http.c"
#include "../netproxy/pattern.c"
#include "../netproxy/addr.c"

static void check_forward_head(const struct http_request *req)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;
	const char *line, *end;
	int connection_close = 0, lines = 0;

	http_format_forward(req, &sb);
	FUZZ_CHECK(sb.len >= 4 && !memcmp(sb.buf + sb.len - 4, "\r\n\r\n", 4), "forwarded head does not end the head");
	FUZZ_CHECK(!memchr(sb.buf, '\0', sb.len), "NUL in the forwarded head");
	end = sb.buf + sb.len - 2;
	for (line = sb.buf; line < end; lines++) {
		const char *eol = strstr(line, "\r\n");

		FUZZ_CHECK(eol && eol <= end, "forwarded line without CRLF");
		FUZZ_CHECK(!memchr(line, '\n', (size_t)(eol - line)), "bare LF in the forwarded head");
		if (lines == 0) {
			FUZZ_CHECK(!memcmp(line, req->method, req->method_len) && line[req->method_len] == ' ' &&
					   line[req->method_len + 1] == '/',
				   "forwarded request line is not in origin form");
		} else {
			const char *colon = memchr(line, ':', (size_t)(eol - line));

			FUZZ_CHECK(colon && colon > line, "forwarded header without a name");
			for (const char *p = line; p < colon; p++)
				FUZZ_CHECK(is_tchar((unsigned char)*p), "forwarded header name with a bad byte");
			FUZZ_CHECK(strncasecmp(line, "Proxy-", 6), "a Proxy-* header was forwarded");
			if ((size_t)(eol - line) == 17 && !memcmp(line, "Connection: close", 17))
				connection_close++;
			else
				FUZZ_CHECK(strncasecmp(line, "Connection:", 11), "another Connection header forwarded");
		}
		line = eol + 2;
	}
	FUZZ_CHECK(connection_close == 1, "not exactly one 'Connection: close'");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request req;
	const char *why;
	enum http_status status = http_parse_request((const char *)data, size, &req, &why);

	if (status == HTTP_BAD || status == HTTP_TOO_BIG) {
		FUZZ_CHECK(why && *why, "a refusal without a reason");
		return 0;
	}
	if (status == HTTP_NEED_MORE) {
		FUZZ_CHECK(size < HTTP_HEAD_MAX, "more wanted past the head limit");
		return 0;
	}
	FUZZ_CHECK(req.head_len >= 4 && req.head_len <= size && req.head_len <= HTTP_HEAD_MAX, "head length %zu of %zu",
		   req.head_len, size);
	FUZZ_CHECK(!memcmp(data + req.head_len - 4, "\r\n\r\n", 4), "the head does not end with an empty line");
	FUZZ_CHECK(req.host[0] && strlen(req.host) <= HTTP_HOST_MAX && req.port, "no destination");
	FUZZ_CHECK(req.target == HTTP_TARGET_AUTHORITY || req.target == HTTP_TARGET_ABSOLUTE, "no target form");
	for (const char *p = req.host; *p; p++)
		FUZZ_CHECK(*p > 0x20 && *p < 0x7f && *p != '@' && *p != '/' && *p != '%', "odd byte in the host");
	if (req.target == HTTP_TARGET_ABSOLUTE)
		check_forward_head(&req);
	return 0;
}
