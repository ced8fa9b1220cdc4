/*
 * entry-capture.c: capture listeners (every TCP port but the DNS, HTTP and
 * SOCKS ones): connections from clients that ignore proxy variables.
 *
 * Such a client resolved a name through the DNS stub and connected to the
 * fake address it got, on the port it wanted. The local address of the
 * accepted socket is therefore the name, and the listener's port the port:
 * a fake address maps back to its name, 127.0.0.1 and ::1 mean localhost,
 * anything else was never handed out and is refused.
 *
 * The upstream is dialed first, so that protocols where the server speaks
 * first (ssh banners, SMTP) work. No byte of the agent's goes upstream before
 * its first bytes were looked at: a TLS ClientHello must carry the captured
 * name as its SNI (or none), or the connection is refused. The HTTP and
 * SOCKS tunnels to a name check their TLS the same way (conn_tls_name_ok).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "conn.h"
#include "log.h"
#include "sni.h"

#define TLS_HANDSHAKE_RECORD 0x16

static void set_outcome(struct conn_outcome *out, bool allowed, const char *prefix, const char *detail)
{
	out->allowed = allowed;
	snprintf(out->reason_buf, sizeof(out->reason_buf), "%s%s", prefix, detail);
	out->reason = out->reason_buf;
}

/*
 * Waits until the agent or the upstream sends something. Returns 1 when the
 * agent's first byte is a TLS handshake record, 0 otherwise (relay), -1 on
 * error. first_sent: the agent's first bytes, already read (or NULL).
 */
static int wait_first_bytes(struct conn *c, const uint8_t *first_sent)
{
	if (first_sent)
		return first_sent[0] == TLS_HANDSHAKE_RECORD;
	for (;;) {
		struct pollfd pfd[2] = { { .fd = c->fd, .events = POLLIN }, { .fd = c->upstream_fd, .events = POLLIN } };
		uint8_t first;
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (pfd[0].revents) {
			n = recv(c->fd, &first, 1, MSG_PEEK | MSG_DONTWAIT);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			return n == 1 && first == TLS_HANDSHAKE_RECORD ? 1 : 0;
		}
		if (pfd[1].revents)
			return 0; /* the server speaks first: not a TLS client's stream */
	}
}

/*
 * Looks at the ClientHello (bounded in size and time: the bytes already read,
 * then a peek at the socket) and compares its SNI with the name.
 */
static const char *check_sni(struct conn *c, const char *name, const uint8_t *sent_before, size_t sent_before_len,
			     char sent[NET_NAME_MAX + 1])
{
	int64_t deadline = log_now_ms() + CONN_SNI_TIMEOUT_MS;
	uint8_t buf[SNI_PEEK_MAX];
	size_t before = sent_before_len < sizeof(buf) ? sent_before_len : sizeof(buf);
	const char *why = NULL;
	int lowat = 1;

	sent[0] = '\0';
	if (before)
		memcpy(buf, sent_before, before);
	for (;;) {
		ssize_t n = before < sizeof(buf) ? recv(c->fd, buf + before, sizeof(buf) - before, MSG_PEEK | MSG_DONTWAIT) : 0;
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		enum sni_status status;
		int64_t left;

		status = sni_extract(buf, before + (n > 0 ? (size_t)n : 0), sent, &why);
		if (status == SNI_FOUND) {
			why = strcasecmp(sent, name) ? "SNI mismatch" : NULL;
			break;
		}
		if (status == SNI_ABSENT) {
			why = NULL;
			break;
		}
		if (status == SNI_BAD)
			break;
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			why = "agent closed during its ClientHello";
			break;
		}
		if (n > 0) {
			/* Wake up only once more than what is here has come. */
			lowat = (int)n + 1;
			setsockopt(c->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat));
		}
		left = deadline - log_now_ms();
		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			why = "no complete ClientHello within 10 s";
			break;
		}
	}
	if (lowat != 1) {
		lowat = 1;
		setsockopt(c->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat));
	}
	return why;
}

bool conn_tls_name_ok(struct conn *c, const struct dest *d, const uint8_t *sent_before, size_t sent_before_len,
		      struct conn_outcome *out)
{
	char sent[NET_NAME_MAX + 1];
	const char *why;
	int tls;

	if (d->kind != DEST_NAME)
		return true;
	tls = wait_first_bytes(c, sent_before_len ? sent_before : NULL);
	if (tls < 0) {
		set_outcome(out, false, "", "poll failed");
		return false;
	}
	if (!tls)
		return true;
	why = check_sni(c, d->name, sent_before, sent_before_len, sent);
	if (!why)
		return true;
	if (sent[0] && !strcmp(why, "SNI mismatch"))
		set_outcome(out, false, "SNI mismatch: ", sent);
	else
		set_outcome(out, false, "", why);
	return false;
}

void serve_capture(struct conn *c, struct conn_outcome *out)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct in6_addr local;
	uint16_t local_port;
	const char *why, *reason;
	enum dial_result dialed;
	struct dest d;
	int err;

	if (getsockname(c->fd, (struct sockaddr *)&ss, &len) < 0 ||
	    addr_from_sockaddr((struct sockaddr *)&ss, len, &local, &local_port) < 0) {
		out->reason = "cannot read the local address";
		return;
	}
	addr_format(&local, c->listen_port, c->dest);
	/* Only addresses the stub hands out, and the agent's loopback (localhost:PORT). */
	if (!addr_is_fake(&local) && !IN6_IS_ADDR_LOOPBACK(&local) &&
	    !(addr_is_v4(&local) && addr_v4(&local) == 0x7f000001u)) {
		out->reason = "not an address the DNS stub gave out";
		return;
	}
	if (dest_from_address(&local, c->listen_port, c->proxy->fake, &d, &why) < 0) {
		out->reason = why;
		return;
	}

	dialed = conn_dial(c, &d, &reason, &err);
	if (dialed == DIAL_DENIED) {
		out->reason = reason;
		return;
	}
	if (dialed == DIAL_FAILED) {
		set_outcome(out, true, "connect failed: ", err ? strerror(err) : reason);
		return;
	}

	if (!conn_tls_name_ok(c, &d, NULL, 0, out))
		return;
	out->allowed = true;
	out->reason = conn_relay(c, NULL, 0);
}
