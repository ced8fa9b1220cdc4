/*
 * http.c: the HTTP proxy request parser and the heads it writes (see http.h).
 *
 * RFC 9112's grammar, minus everything it lets a recipient tolerate: the
 * forwarded request is rebuilt from what was parsed, so what the upstream
 * reads is exactly what the proxy checked.
 */
#include "http.h"

#include <string.h>
#include <strings.h>

#include "pattern.h"

/* RFC 9110 tchar: the characters of a method or a header name. */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c);
}

static bool is_field_value_char(unsigned char c)
{
	return c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f);
}

static bool bytes_equal_nocase(const char *a, size_t a_len, const char *b)
{
	return a_len == strlen(b) && !strncasecmp(a, b, a_len);
}

/*
 * "host[:port]" or "[v6][:port]" (URI authority, CONNECT target, Host value).
 * A reg-name is letters, digits, '.', '-' and '_' only: no percent-encoding,
 * no userinfo, nothing a second parser could decode into another name.
 */
static int parse_authority(const char *s, size_t len, bool port_required, uint16_t default_port,
			   char host[HTTP_HOST_MAX + 1], uint16_t *port, const char **why)
{
	const char *host_start = s, *port_start = NULL;
	size_t host_len;

	if (len == 0) {
		*why = "empty host";
		return -1;
	}
	if (s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (!close) {
			*why = "'[' without ']' in the host";
			return -1;
		}
		host_start = s + 1;
		host_len = (size_t)(close - host_start);
		for (size_t i = 0; i < host_len; i++) {
			char c = host_start[i];

			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
			      c == ':' || c == '.')) {
				*why = "invalid IPv6 literal";
				return -1;
			}
		}
		if (close + 1 < s + len) {
			if (close[1] != ':') {
				*why = "only ':PORT' may follow ']'";
				return -1;
			}
			port_start = close + 2;
		}
	} else {
		const char *colon = memchr(s, ':', len);

		host_len = colon ? (size_t)(colon - s) : len;
		if (colon)
			port_start = colon + 1;
		for (size_t i = 0; i < host_len; i++) {
			char c = s[i];

			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      c == '.' || c == '-' || c == '_')) {
				*why = "invalid character in the host";
				return -1;
			}
		}
	}
	if (host_len == 0) {
		*why = "empty host";
		return -1;
	}
	if (host_len > HTTP_HOST_MAX) {
		*why = "host too long";
		return -1;
	}
	if (port_start) {
		if (net_port_parse(port_start, (size_t)(s + len - port_start), port) < 0) {
			*why = "invalid port";
			return -1;
		}
	} else if (port_required) {
		*why = "the target needs a port";
		return -1;
	} else {
		*port = default_port;
	}
	memcpy(host, host_start, host_len);
	host[host_len] = '\0';
	return 0;
}

/* The same host, compared as the policy would see it: case and a trailing dot do not count. */
static bool same_host(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la && a[la - 1] == '.')
		la--;
	if (lb && b[lb - 1] == '.')
		lb--;
	return la == lb && !strncasecmp(a, b, la);
}

static enum http_status parse_target(const char *t, size_t len, struct http_request *req, const char **why)
{
	static const char scheme[] = "http://";
	const size_t scheme_len = sizeof(scheme) - 1;
	const char *authority, *rest;
	size_t authority_len;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c <= 0x20 || c >= 0x7f || c == '#') {
			*why = "invalid character in the request target";
			return HTTP_BAD;
		}
	}
	/* Methods are case-sensitive (RFC 9110 9.1). */
	if (req->method_len == 7 && !memcmp(req->method, "CONNECT", 7)) {
		if (parse_authority(t, len, true, 0, req->host, &req->port, why) < 0)
			return HTTP_BAD;
		req->target = HTTP_TARGET_AUTHORITY;
		return HTTP_OK;
	}
	if (len < scheme_len || strncasecmp(t, scheme, scheme_len)) {
		if (len && t[0] == '/')
			*why = "not a proxy request (origin-form target)";
		else if (len > 8 && !strncasecmp(t, "https://", 8))
			*why = "https:// URIs go through CONNECT";
		else
			*why = "unsupported request target";
		return HTTP_BAD;
	}
	authority = t + scheme_len;
	rest = authority;
	while (rest < t + len && *rest != '/' && *rest != '?')
		rest++;
	authority_len = (size_t)(rest - authority);
	if (memchr(authority, '@', authority_len)) {
		*why = "userinfo in the URI";
		return HTTP_BAD;
	}
	if (parse_authority(authority, authority_len, false, 80, req->host, &req->port, why) < 0)
		return HTTP_BAD;
	req->target = HTTP_TARGET_ABSOLUTE;
	req->path = rest;
	req->path_len = (size_t)(t + len - rest);
	return HTTP_OK;
}

static enum http_status parse_request_line(const char *line, size_t len, struct http_request *req,
					   const char **why)
{
	const char *sp1 = memchr(line, ' ', len), *sp2, *version;
	size_t version_len;

	if (!sp1 || sp1 == line) {
		*why = "malformed request line";
		return HTTP_BAD;
	}
	req->method = line;
	req->method_len = (size_t)(sp1 - line);
	if (req->method_len > 32) {
		*why = "method too long";
		return HTTP_BAD;
	}
	for (size_t i = 0; i < req->method_len; i++) {
		if (!is_tchar((unsigned char)line[i])) {
			*why = "invalid character in the method";
			return HTTP_BAD;
		}
	}
	sp2 = memchr(sp1 + 1, ' ', (size_t)(line + len - sp1 - 1));
	if (!sp2 || sp2 == sp1 + 1) {
		*why = "malformed request line";
		return HTTP_BAD;
	}
	version = sp2 + 1;
	version_len = (size_t)(line + len - version);
	if (version_len == 8 && !memcmp(version, "HTTP/1.1", 8)) {
		req->minor_version = 1;
	} else if (version_len == 8 && !memcmp(version, "HTTP/1.0", 8)) {
		req->minor_version = 0;
	} else {
		*why = "only HTTP/1.0 and HTTP/1.1";
		return HTTP_BAD;
	}
	return parse_target(sp1 + 1, (size_t)(sp2 - sp1 - 1), req, why);
}

static enum http_status parse_header(const char *line, size_t len, struct http_request *req, const char **why)
{
	const char *colon = memchr(line, ':', len);
	struct http_header *h;
	const char *v, *end = line + len;

	if (len && (line[0] == ' ' || line[0] == '\t')) {
		*why = "folded header line";
		return HTTP_BAD;
	}
	if (!colon || colon == line) {
		*why = "malformed header line";
		return HTTP_BAD;
	}
	for (const char *p = line; p < colon; p++) {
		if (!is_tchar((unsigned char)*p)) {
			*why = "invalid character in a header name";
			return HTTP_BAD;
		}
	}
	for (const char *p = colon + 1; p < end; p++) {
		if (!is_field_value_char((unsigned char)*p)) {
			*why = "invalid character in a header value";
			return HTTP_BAD;
		}
	}
	if (req->nr_headers >= HTTP_MAX_HEADERS) {
		*why = "too many header lines";
		return HTTP_BAD;
	}
	v = colon + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	h = &req->headers[req->nr_headers++];
	h->name = line;
	h->name_len = (size_t)(colon - line);
	h->value = v;
	h->value_len = (size_t)(end - v);
	if (bytes_equal_nocase(h->name, h->name_len, "Host")) {
		if (req->host_header) {
			*why = "more than one Host header";
			return HTTP_BAD;
		}
		req->host_header = h;
	}
	return HTTP_OK;
}

/* An absolute URI's Host header, if any, must name the same host and port. */
static enum http_status check_host_header(struct http_request *req, const char **why)
{
	char host[HTTP_HOST_MAX + 1];
	uint16_t port;

	if (req->target != HTTP_TARGET_ABSOLUTE || !req->host_header)
		return HTTP_OK;
	if (parse_authority(req->host_header->value, req->host_header->value_len, false, 80, host, &port,
			    why) < 0) {
		*why = "invalid Host header";
		return HTTP_BAD;
	}
	if (!same_host(host, req->host) || port != req->port) {
		*why = "Host header does not match the URI";
		return HTTP_BAD;
	}
	return HTTP_OK;
}

enum http_status http_parse_request(const char *buf, size_t len, struct http_request *req, const char **why)
{
	size_t scan = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
	const char *end = NULL, *line, *eol;
	enum http_status status;

	memset(req, 0, sizeof(*req));
	*why = NULL;
	/* Bare LF and NUL are refused wherever they are, even before the head is complete. */
	for (size_t i = 0; i < scan; i++) {
		if (buf[i] == '\0' || (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))) {
			*why = "NUL or bare LF in the request head";
			return HTTP_BAD;
		}
		if (buf[i] == '\r' && i + 1 < scan && buf[i + 1] != '\n') {
			*why = "bare CR in the request head";
			return HTTP_BAD;
		}
		if (i >= 3 && !memcmp(buf + i - 3, "\r\n\r\n", 4)) {
			end = buf + i + 1;
			break;
		}
	}
	if (!end) {
		if (len >= HTTP_HEAD_MAX) {
			*why = "request head larger than 64 KiB";
			return HTTP_TOO_BIG;
		}
		return HTTP_NEED_MORE;
	}
	req->head_len = (size_t)(end - buf);

	line = buf;
	eol = memchr(line, '\r', (size_t)(end - line));
	if (eol == line) {
		*why = "empty request line";
		return HTTP_BAD;
	}
	status = parse_request_line(line, (size_t)(eol - line), req, why);
	if (status != HTTP_OK)
		return status;
	for (line = eol + 2; line < end - 2; line = eol + 2) {
		eol = memchr(line, '\r', (size_t)(end - line));
		status = parse_header(line, (size_t)(eol - line), req, why);
		if (status != HTTP_OK)
			return status;
	}
	return check_host_header(req, why);
}

/* Is this header a token of some Connection header's list (so hop-by-hop)? */
static bool named_by_connection(const struct http_request *req, const struct http_header *h)
{
	for (size_t i = 0; i < req->nr_headers; i++) {
		const struct http_header *c = &req->headers[i];
		const char *p = c->value, *end = c->value + c->value_len;

		if (!bytes_equal_nocase(c->name, c->name_len, "Connection"))
			continue;
		while (p < end) {
			const char *tok = p;
			size_t tok_len;

			while (p < end && *p != ',')
				p++;
			tok_len = (size_t)(p - tok);
			while (tok_len && (*tok == ' ' || *tok == '\t'))
				tok++, tok_len--;
			while (tok_len && (tok[tok_len - 1] == ' ' || tok[tok_len - 1] == '\t'))
				tok_len--;
			if (tok_len == h->name_len && !strncasecmp(tok, h->name, tok_len))
				return true;
			if (p < end)
				p++;
		}
	}
	return false;
}

static bool is_dropped_header(const struct http_request *req, const struct http_header *h)
{
	/*
	 * Transfer-Encoding stays: the body is relayed as the client framed it.
	 * Host comes first, from the checked request.
	 */
	static const char *const hop_by_hop[] = { "Host", "Connection", "Keep-Alive", "TE", "Upgrade" };

	if (h->name_len >= 6 && !strncasecmp(h->name, "Proxy-", 6))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(hop_by_hop); i++)
		if (bytes_equal_nocase(h->name, h->name_len, hop_by_hop[i]))
			return true;
	return named_by_connection(req, h);
}

void http_format_forward(const struct http_request *req, struct strbuf *out)
{
	strbuf_add(out, req->method, req->method_len);
	strbuf_addch(out, ' ');
	if (!req->path_len || req->path[0] != '/')
		strbuf_addch(out, '/');
	strbuf_add(out, req->path, req->path_len);
	strbuf_addf(out, " HTTP/1.%d\r\nHost: ", req->minor_version);
	if (req->host_header) {
		strbuf_add(out, req->host_header->value, req->host_header->value_len);
	} else {
		bool v6 = strchr(req->host, ':') != NULL;

		strbuf_addf(out, v6 ? "[%s]" : "%s", req->host);
		if (req->port != 80)
			strbuf_addf(out, ":%u", req->port);
	}
	strbuf_addstr(out, "\r\n");
	for (size_t i = 0; i < req->nr_headers; i++) {
		const struct http_header *h = &req->headers[i];

		if (is_dropped_header(req, h))
			continue;
		strbuf_add(out, h->name, h->name_len);
		strbuf_addstr(out, ": ");
		strbuf_add(out, h->value, h->value_len);
		strbuf_addstr(out, "\r\n");
	}
	strbuf_addstr(out, "Connection: close\r\n\r\n");
}

static const char *status_text(int status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 405:
		return "Method Not Allowed";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	}
	return "Error";
}

void http_format_error(int status, const char *body_line, struct strbuf *out)
{
	strbuf_addf(out,
		    "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
		    "Connection: close\r\n\r\n%s\n",
		    status, status_text(status), strlen(body_line) + 1, body_line);
}
