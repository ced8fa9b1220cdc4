/*
 * conn.h: one accepted connection, from accept to its log record.
 *
 * Each TCP connection runs in a thread of its own (small stack, detached):
 * read the request under a deadline, decide, resolve, dial, answer, relay,
 * log. Blocking code in that order reads like the protocol it serves, and
 * the resolver's blocking calls stay off the main loop for free.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "fakeip.h"
#include "policy.h"
#include "relay.h"

enum listener_role {
	ROLE_DNS_UDP,
	ROLE_DNS_TCP,
	ROLE_HTTP,
	ROLE_SOCKS,
	ROLE_CAPTURE,
};

/* What every connection shares: read-only after start, but for the locked tables. */
struct proxy {
	struct policy policy;
	struct fakeip *fake;
	atomic_int active;
	int max_connections;
	/* The connections being served, so that the last ones can be cut and logged. */
	pthread_mutex_t lock;
	struct conn *conns;
	atomic_bool stopping;
};

/* Deadlines, in ms. */
#define CONN_HEAD_TIMEOUT_MS 30000    /* an HTTP request head, a SOCKS handshake */
#define CONN_SNI_TIMEOUT_MS 10000     /* a ClientHello, once its first byte came */
#define CONN_CONNECT_TIMEOUT_MS 10000 /* one upstream connect */
#define CONN_DNS_TIMEOUT_MS 10000     /* one query on a DNS-over-TCP connection */
/* Addresses of one name tried before giving up. */
#define CONN_MAX_ATTEMPTS 8

struct conn {
	struct proxy *proxy;
	int fd;          /* the agent's side */
	int upstream_fd; /* -1 until dialed */
	enum listener_role role;
	uint16_t listen_port;
	int64_t start_ms;
	/* For the log record. */
	const char *kind;
	char dest[NET_PATTERN_TEXT_MAX];
	char addr[ADDR_TEXT_MAX];
	struct relay_counts counts;
	/* The request as read so far (HTTP head, SOCKS handshake). */
	uint8_t *in;
	size_t in_len, in_size;
	struct conn *prev, *next; /* in proxy->conns, under proxy->lock */
};

/* Starts a thread for an accepted connection; on failure logs and closes it. */
void conn_start(struct proxy *proxy, enum listener_role role, uint16_t listen_port, int fd);
/*
 * The agent is gone, or au stopped reading: cuts every connection still
 * served (both sides shut down) and relays nothing from then on, so that
 * each ends and sends its record, "the agent is gone", while that can be
 * sent; waits up to timeout_ms for the last one.
 */
void conn_stop_all(struct proxy *proxy, int timeout_ms);

/* Reads more into c->in until deadline_ms. >0 bytes read, 0 at EOF, -1 on timeout or error. */
ssize_t conn_read_more(struct conn *c, int64_t deadline_ms);
/* Sends all of buf to fd (a small answer or a request head). */
int conn_send_all(int fd, const void *buf, size_t len);

enum dial_result {
	DIAL_OK,
	DIAL_DENIED, /* by the policy: *reason says why */
	DIAL_FAILED, /* allowed, but resolving or connecting failed: *reason, *err */
};
/*
 * Checks d, resolves it (a name), checks every address and connects to the
 * first allowed one that answers: that very address, never a second lookup.
 * Sets c->dest, c->addr and c->upstream_fd.
 */
enum dial_result conn_dial(struct conn *c, const struct dest *d, const char **reason, int *err);

/*
 * Sends leftover (bytes the agent sent after its request) upstream, then
 * relays until both sides are done. Returns the reason for the log.
 */
const char *conn_relay(struct conn *c, const uint8_t *leftover, size_t leftover_len);

/* The entry paths, each run in the connection's thread; each returns the record's decision. */
struct conn_outcome {
	bool allowed;
	const char *reason;
	char reason_buf[NET_NAME_MAX + 128];
};
void serve_http(struct conn *c, struct conn_outcome *out);
void serve_socks(struct conn *c, struct conn_outcome *out);
void serve_capture(struct conn *c, struct conn_outcome *out);
void serve_dns_tcp(struct conn *c, struct conn_outcome *out);
/*
 * A connection to a name carries TLS for that name only, on every path: when
 * the agent's first bytes (sent_before, already read, then the socket's) are
 * a ClientHello, its SNI must be d's name, or absent. True to relay; false
 * with *out set to the refusal. Addresses and localhost have no name to check.
 */
bool conn_tls_name_ok(struct conn *c, const struct dest *d, const uint8_t *sent_before, size_t sent_before_len,
		      struct conn_outcome *out);

/* One DNS query (UDP or TCP): writes the answer, returns its length, 0 to drop. Logs as dns.c says. */
size_t dns_stub_answer(struct proxy *proxy, const uint8_t *query, size_t len, uint8_t *answer);
