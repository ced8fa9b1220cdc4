/*
 * stub-dns.c: the DNS stub (port 53, UDP in the main loop, TCP in a
 * connection thread).
 *
 * The answers come from the policy alone: an allowed name's A query gets its
 * fake address with a TTL of 1 s (so a client asks again rather than cache a
 * run's address), any other type for it an empty NOERROR (so clients fall
 * back to IPv4), "localhost" 127.0.0.1, and every other name REFUSED. In
 * mode all every host name is allowed here: the address is checked when the
 * client connects.
 *
 * Logging: the first query for each name and type, and every refusal. The
 * set of logged queries is bounded; past the bound, every query is logged.
 */
#include <pthread.h>
#include <string.h>

#include "conn.h"
#include "dns.h"
#include "log.h"
#include "netproto.h"

#define SEEN_BUCKETS 4096
#define SEEN_MAX 65536

struct seen_query {
	struct seen_query *next;
	uint16_t qtype;
	char name[];
};

static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct seen_query *seen_buckets[SEEN_BUCKETS];
static size_t seen_count;

/* True the first time a name and type are seen (and always once the set is full). */
static bool first_time(const char *name, uint16_t qtype)
{
	uint32_t h = 2166136261u ^ qtype;
	struct seen_query *s;
	bool first = true;

	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	pthread_mutex_lock(&seen_lock);
	for (s = seen_buckets[h % SEEN_BUCKETS]; s; s = s->next) {
		if (s->qtype == qtype && !strcmp(s->name, name)) {
			first = false;
			break;
		}
	}
	if (first && seen_count < SEEN_MAX) {
		size_t len = strlen(name) + 1;

		s = malloc(sizeof(*s) + len);
		if (s) {
			s->qtype = qtype;
			memcpy(s->name, name, len);
			s->next = seen_buckets[h % SEEN_BUCKETS];
			seen_buckets[h % SEEN_BUCKETS] = s;
			seen_count++;
		}
	}
	pthread_mutex_unlock(&seen_lock);
	return first;
}

size_t dns_stub_answer(struct proxy *proxy, const uint8_t *query, size_t len, uint8_t *answer)
{
	struct dns_query q;
	const char *refusal = NULL;
	char type[16], reason[128], fake_text[ADDR_TEXT_MAX] = "";
	uint32_t a = 0;
	bool have_a = false;
	size_t answer_len;

	/* Without a log, no answers either: the agent's lookups would go unrecorded. */
	if (!log_usable() || dns_parse_query(query, len, &q) < 0)
		return 0;
	dns_type_name(q.qtype, type);

	if (!q.name_ok) {
		refusal = q.name_why;
	} else if (q.qclass != DNS_CLASS_IN) {
		refusal = "not class IN";
	} else if (!strcmp(q.name, "localhost")) {
		/* The agent's own loopback, inside its namespace. */
		a = 0x7f000001u;
		have_a = q.qtype == DNS_TYPE_A;
	} else if (!policy_name_allowed(&proxy->policy, q.name)) {
		refusal = "not in allow list";
	} else if (q.qtype == DNS_TYPE_A) {
		if (fakeip_assign(proxy->fake, q.name, &a) == 0)
			have_a = true;
		else
			refusal = "fake addresses used up";
	}

	answer_len = dns_format_response(&q, refusal ? DNS_RCODE_REFUSED : DNS_RCODE_NOERROR, have_a ? &a : NULL,
					 answer);
	if (have_a) {
		struct in6_addr mapped;

		addr_from_v4(a, &mapped);
		addr_format(&mapped, 0, fake_text);
	}
	if (refusal || first_time(q.name_ok ? q.name : "", q.qtype)) {
		if (refusal)
			snprintf(reason, sizeof(reason), "%s (%s)", refusal, type);
		else
			snprintf(reason, sizeof(reason), "%s%s", type, have_a ? "" : ": no address given");
		log_send(&(struct log_record){
			.kind = "dns",
			.dest = q.name_ok ? q.name : "",
			.addr = fake_text,
			.allowed = refusal == NULL,
			.reason = reason,
			.up = len,
			.down = answer_len,
		});
	}
	return answer_len;
}

/* Reads exactly n more bytes into c->in before the deadline. */
static int read_exactly(struct conn *c, size_t n, int64_t deadline)
{
	while (c->in_len < n)
		if (conn_read_more(c, deadline) <= 0)
			return -1;
	return 0;
}

void serve_dns_tcp(struct conn *c, struct conn_outcome *out)
{
	uint8_t answer[2 + DNS_RESPONSE_MAX];

	/* A 2-byte length, then up to 65535 bytes: read exactly one message at a time. */
	c->in_size = 2 + 65535;
	c->in = malloc(c->in_size);
	if (!c->in)
		return;
	for (;;) {
		int64_t deadline = log_now_ms() + CONN_DNS_TIMEOUT_MS;
		size_t msg_len, answer_len;

		c->in_len = 0;
		/* conn_read_more may read past one message: keep it from doing so. */
		c->in_size = 2;
		if (read_exactly(c, 2, deadline) < 0)
			break;
		msg_len = (size_t)c->in[0] << 8 | c->in[1];
		c->in_size = 2 + msg_len;
		if (msg_len == 0 || read_exactly(c, 2 + msg_len, deadline) < 0)
			break;
		answer_len = dns_stub_answer(c->proxy, c->in + 2, msg_len, answer + 2);
		if (!answer_len)
			break; /* malformed: drop the connection, as a UDP packet would be dropped */
		answer[0] = (uint8_t)(answer_len >> 8);
		answer[1] = (uint8_t)answer_len;
		if (conn_send_all(c->fd, answer, 2 + answer_len) < 0)
			break;
	}
	out->allowed = true;
	out->reason = "closed";
}
