/*
 * entry-http.c: the HTTP proxy listener (port 3128): CONNECT tunnels and
 * absolute-URI requests.
 *
 * One request per connection. A CONNECT becomes a tunnel; an absolute-URI
 * request is sent upstream in origin form with "Connection: close", and the
 * rest of the connection is relayed as is (its body, and whatever the
 * client sends next, goes to the same, allowed, upstream). Every answer the
 * proxy writes itself closes the connection.
 */
#include <errno.h>
#include <string.h>

#include "conn.h"
#include "http.h"
#include "log.h"

#define DENIAL_BODY "au: the agent's network policy does not allow this destination"

static void answer(struct conn *c, int status, const char *body_line)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;

	http_format_error(status, body_line, &sb);
	conn_send_all(c->fd, sb.buf, sb.len);
}

/* Answers status with "BODY_LINE: REASON" (the agent may as well know why), and logs the reason. */
static void refuse(struct conn *c, struct conn_outcome *out, int status, const char *body_line,
		   const char *prefix, const char *reason)
{
	char line[sizeof(out->reason_buf) + 128];

	out->allowed = false;
	snprintf(out->reason_buf, sizeof(out->reason_buf), "%s%s", prefix, reason);
	out->reason = out->reason_buf;
	snprintf(line, sizeof(line), "%s: %s", body_line, reason);
	answer(c, status, line);
}

/* Reads until the head is complete. HTTP_OK, or the status to answer with. */
static enum http_status read_head(struct conn *c, struct http_request *req, const char **why)
{
	int64_t deadline = c->start_ms + CONN_HEAD_TIMEOUT_MS;
	size_t scanned = 0;

	memset(req, 0, sizeof(*req));
	for (;;) {
		ssize_t n;

		/*
		 * Parse only once the end of the head is there (or cannot come):
		 * a client sending a byte at a time must not make us parse 64 KiB
		 * 64 Ki times.
		 */
		if (memmem(c->in + scanned, c->in_len - scanned, "\r\n\r\n", 4) || c->in_len >= HTTP_HEAD_MAX)
			return http_parse_request((const char *)c->in, c->in_len, req, why);
		scanned = c->in_len > 3 ? c->in_len - 3 : 0;
		n = conn_read_more(c, deadline);
		if (n <= 0) {
			*why = n == 0 ? "closed before a complete request" : "no complete request within 30 s";
			return HTTP_NEED_MORE;
		}
	}
}

void serve_http(struct conn *c, struct conn_outcome *out)
{
	struct http_request req;
	struct dest d;
	const char *why, *reason;
	enum http_status status;
	enum dial_result dialed;
	int err;

	c->in_size = HTTP_HEAD_MAX;
	c->in = malloc(c->in_size);
	if (!c->in) {
		out->reason = "out of memory";
		return;
	}
	status = read_head(c, &req, &why);
	if (req.target == HTTP_TARGET_AUTHORITY)
		c->kind = "connect";
	if (req.target != HTTP_TARGET_NONE)
		snprintf(c->dest, sizeof(c->dest), strchr(req.host, ':') ? "[%s]:%u" : "%s:%u", req.host,
			 req.port);
	if (status == HTTP_NEED_MORE) {
		out->reason = why;
		return;
	}
	if (status != HTTP_OK) {
		refuse(c, out, 400, "au: bad proxy request", "bad request: ", why);
		return;
	}
	if (dest_from_host(req.host, strlen(req.host), req.port, c->proxy->fake, &d, &why) < 0) {
		refuse(c, out, 403, DENIAL_BODY, "", why);
		return;
	}

	dialed = conn_dial(c, &d, &reason, &err);
	if (dialed == DIAL_DENIED) {
		refuse(c, out, 403, DENIAL_BODY, "", reason);
		return;
	}
	if (dialed == DIAL_FAILED) {
		answer(c, err == ETIMEDOUT ? 504 : 502, "au: cannot reach the destination");
		out->allowed = true;
		snprintf(out->reason_buf, sizeof(out->reason_buf), "%s%s%s", reason, err ? ": " : "",
			 err ? strerror(err) : "");
		out->reason = out->reason_buf;
		return;
	}

	out->allowed = true;
	if (req.target == HTTP_TARGET_AUTHORITY) {
		static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";

		if (conn_send_all(c->fd, established, sizeof(established) - 1) < 0) {
			out->reason = "agent closed";
			return;
		}
		if (!conn_tls_name_ok(c, &d, c->in + req.head_len, c->in_len - req.head_len, out))
			return;
		out->reason = conn_relay(c, c->in + req.head_len, c->in_len - req.head_len);
	} else {
		autostrbuf struct strbuf head = STRBUF_INIT;

		http_format_forward(&req, &head);
		if (conn_send_all(c->upstream_fd, head.buf, head.len) < 0) {
			out->reason = "upstream closed";
			return;
		}
		c->counts.up += head.len;
		out->reason = conn_relay(c, c->in + req.head_len, c->in_len - req.head_len);
	}
}
