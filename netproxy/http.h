/*
 * http.h: the request head an HTTP proxy client sends, parsed strictly.
 *
 * Two forms are proxy requests: "CONNECT host:port HTTP/1.1" (a tunnel) and
 * "METHOD http://host[:port]/path HTTP/1.1" (absolute URI, forwarded in
 * origin form). Anything else, and anything two HTTP readers could read
 * differently (obs-fold, a space before a colon, bare LF, control bytes,
 * userinfo in the URI, two Host headers, a Host that names another
 * destination than the URI) is a bad request: the upstream server must never
 * see a request whose destination the proxy did not check.
 *
 * Pure: no I/O. The parsed request points into the caller's buffer.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define HTTP_HEAD_MAX 65536
#define HTTP_MAX_HEADERS 100
/* A host as written in a request, without brackets: a name or an IP literal. */
#define HTTP_HOST_MAX 253

enum http_status {
	HTTP_NEED_MORE, /* no end of head yet: read more */
	HTTP_OK,
	HTTP_BAD,       /* answer 400 */
	HTTP_TOO_BIG,   /* no end of head within HTTP_HEAD_MAX bytes: answer 400 */
};

enum http_target {
	HTTP_TARGET_NONE,
	HTTP_TARGET_AUTHORITY, /* CONNECT host:port */
	HTTP_TARGET_ABSOLUTE,  /* http://host[:port]/path */
};

struct http_header {
	const char *name, *value;
	size_t name_len, value_len;
};

struct http_request {
	size_t head_len; /* bytes up to and including the empty line */
	const char *method;
	size_t method_len;
	enum http_target target;
	/* Set as soon as the target parsed, even when a later check fails (for the log). */
	char host[HTTP_HOST_MAX + 1];
	uint16_t port;
	/* ABSOLUTE: the origin form ("/" when the URI has no path). */
	const char *path;
	size_t path_len;
	int minor_version; /* HTTP/1.0 or HTTP/1.1 */
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t nr_headers;
	/* The one Host header, if any. */
	const struct http_header *host_header;
};

/* Parses buf[0..len). *why is a static reason for HTTP_BAD and HTTP_TOO_BIG. */
enum http_status http_parse_request(const char *buf, size_t len, struct http_request *req, const char **why);

/*
 * The head to send upstream for an ABSOLUTE request: origin form, its Host
 * first, hop-by-hop and Proxy-* headers dropped, "Connection: close".
 */
void http_format_forward(const struct http_request *req, struct strbuf *out);

/* A complete response with a one-line text body, for errors and denials. */
void http_format_error(int status, const char *body_line, struct strbuf *out);
