/*
 * entry-socks.c: the SOCKS5 listener (port 1080): no authentication,
 * CONNECT only, the same policy as every other path.
 *
 * The reply codes tell the client what happened in SOCKS's own terms
 * (RFC 1928 section 6): 02 for a policy denial, 03/04/05 for a destination
 * that was allowed but could not be reached.
 */
#include <errno.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "socks.h"

/* Greeting, request and a little more: the largest request is 4 + 1 + 255 + 2 bytes. */
#define SOCKS_BUFFER 1024

static void reply(struct conn *c, enum socks_reply rep)
{
	uint8_t buf[10];

	conn_send_all(c->fd, buf, socks_format_reply(buf, rep));
}

static enum socks_reply reply_for_errno(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return SOCKS_REP_CONNECTION_REFUSED;
	case ENETUNREACH:
		return SOCKS_REP_NETWORK_UNREACHABLE;
	case ETIMEDOUT:
	case EHOSTUNREACH:
		return SOCKS_REP_HOST_UNREACHABLE;
	}
	return SOCKS_REP_GENERAL_FAILURE;
}

/* Reads until the greeting is whole (or the deadline passes: SOCKS_NEED_MORE). */
static enum socks_status read_greeting(struct conn *c, int64_t deadline, size_t *consumed)
{
	for (;;) {
		enum socks_status status = socks_parse_greeting(c->in, c->in_len, consumed);

		if (status != SOCKS_NEED_MORE || conn_read_more(c, deadline) <= 0)
			return status;
	}
}

/* The same for the request, which follows the greeting's `from` bytes. */
static enum socks_status read_request(struct conn *c, size_t from, int64_t deadline, struct socks_request *req,
				      size_t *consumed)
{
	for (;;) {
		enum socks_status status = socks_parse_request(c->in + from, c->in_len - from, req, consumed);

		if (status != SOCKS_NEED_MORE || conn_read_more(c, deadline) <= 0)
			return status;
	}
}

void serve_socks(struct conn *c, struct conn_outcome *out)
{
	static const uint8_t no_auth[2] = { 5, 0x00 }, no_method[2] = { 5, 0xff };
	int64_t deadline = c->start_ms + CONN_HEAD_TIMEOUT_MS;
	struct socks_request req;
	size_t greeting_len = 0, request_len = 0;
	enum socks_status status;
	enum dial_result dialed;
	const char *why, *reason;
	struct dest d;
	int err, rc;

	c->in_size = SOCKS_BUFFER;
	c->in = malloc(c->in_size);
	if (!c->in) {
		out->reason = "out of memory";
		return;
	}

	status = read_greeting(c, deadline, &greeting_len);
	if (status == SOCKS_NO_ACCEPTABLE_AUTH) {
		conn_send_all(c->fd, no_method, sizeof(no_method));
		out->reason = "SOCKS client offers no method without authentication";
		return;
	}
	if (status != SOCKS_OK) {
		out->reason = status == SOCKS_NEED_MORE ? "no SOCKS greeting" : "bad SOCKS greeting";
		return;
	}
	if (conn_send_all(c->fd, no_auth, sizeof(no_auth)) < 0) {
		out->reason = "agent closed";
		return;
	}

	status = read_request(c, greeting_len, deadline, &req, &request_len);
	if (status == SOCKS_UNSUPPORTED_CMD || status == SOCKS_UNSUPPORTED_ATYP) {
		reply(c, status == SOCKS_UNSUPPORTED_CMD ? SOCKS_REP_COMMAND_NOT_SUPPORTED
							 : SOCKS_REP_ADDRESS_NOT_SUPPORTED);
		out->reason = status == SOCKS_UNSUPPORTED_CMD ? "SOCKS command other than CONNECT"
							      : "unsupported SOCKS address type";
		return;
	}
	if (status != SOCKS_OK) {
		out->reason = status == SOCKS_NEED_MORE ? "no SOCKS request" : "bad SOCKS request";
		return;
	}

	/* What the agent asked for, for the log; conn_dial writes the canonical form. */
	if (req.atyp == SOCKS_ATYP_DOMAIN) {
		snprintf(c->dest, sizeof(c->dest), "%s:%u", req.domain, req.port);
	} else {
		char text[ADDR_TEXT_MAX];

		addr_format(&req.addr, req.port, text);
		snprintf(c->dest, sizeof(c->dest), "%s", text);
	}
	if (req.atyp == SOCKS_ATYP_DOMAIN)
		rc = dest_from_host(req.domain, strlen(req.domain), req.port, c->proxy->fake, &d, &why);
	else
		rc = dest_from_address(&req.addr, req.port, c->proxy->fake, &d, &why);
	if (rc < 0) {
		reply(c, SOCKS_REP_NOT_ALLOWED);
		out->reason = why;
		return;
	}
	dialed = conn_dial(c, &d, &reason, &err);
	if (dialed == DIAL_DENIED) {
		reply(c, SOCKS_REP_NOT_ALLOWED);
		out->reason = reason;
		return;
	}
	out->allowed = true;
	if (dialed == DIAL_FAILED) {
		reply(c, err ? reply_for_errno(err) : SOCKS_REP_HOST_UNREACHABLE);
		snprintf(out->reason_buf, sizeof(out->reason_buf), "%s%s%s", reason, err ? ": " : "",
			 err ? strerror(err) : "");
		out->reason = out->reason_buf;
		return;
	}
	reply(c, SOCKS_REP_SUCCEEDED);
	if (!conn_tls_name_ok(c, &d, c->in + greeting_len + request_len, c->in_len - greeting_len - request_len, out))
		return;
	out->reason = conn_relay(c, c->in + greeting_len + request_len, c->in_len - greeting_len - request_len);
}
