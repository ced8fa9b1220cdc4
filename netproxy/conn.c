/*
 * conn.c: a connection's life (see conn.h): its thread, deadlines, the dial
 * that every entry path shares, the relay, and the record at the end.
 *
 * conn_dial is where the policy is enforced for all of them, so it is
 * written to be read slowly: check the destination, resolve once, check
 * each address, connect to exactly the address that was checked.
 */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostaddr.h"
#include "log.h"

/* glibc's resolver and NSS modules are the deepest callers; 256 KiB is plenty and still small. */
#define CONN_STACK_SIZE (256 * 1024)

static const char *role_kind(enum listener_role role)
{
	switch (role) {
	case ROLE_HTTP:
		return "http";
	case ROLE_SOCKS:
		return "socks";
	case ROLE_CAPTURE:
		return "capture";
	case ROLE_DNS_UDP:
	case ROLE_DNS_TCP:
		return "dns";
	}
	return "proxy";
}

static int remaining_ms(int64_t deadline_ms)
{
	int64_t left = deadline_ms - log_now_ms();

	return left < 0 ? 0 : (int)left;
}

ssize_t conn_read_more(struct conn *c, int64_t deadline_ms)
{
	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		ssize_t n;
		int ready;

		if (c->in_len >= c->in_size)
			return -1;
		ready = poll(&pfd, 1, remaining_ms(deadline_ms));
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0)
			return -1;
		n = recv(c->fd, c->in + c->in_len, c->in_size - c->in_len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n > 0)
			c->in_len += (size_t)n;
		return n;
	}
}

int conn_send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			if (poll(&pfd, 1, CONN_CONNECT_TIMEOUT_MS) <= 0)
				return -1;
			continue;
		}
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Connects to addr:port within the timeout. Returns the socket, or -1 with errno. */
static int connect_to(const struct in6_addr *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_to_sockaddr(addr, port, &ss);
	struct pollfd pfd;
	int fd, err = 0, one = 1;
	socklen_t err_len = sizeof(err);

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS)
		goto fail;
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	do
		err = poll(&pfd, 1, CONN_CONNECT_TIMEOUT_MS);
	while (err < 0 && errno == EINTR);
	if (err == 0) {
		errno = ETIMEDOUT;
		goto fail;
	}
	if (err < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) < 0)
		goto fail;
	if (err) {
		errno = err;
		goto fail;
	}
	/* The relay forwards writes as they come; Nagle would only add delay to ssh and the like. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* The addresses to try for d: the literal, the host's loopback, or what the name resolves to. */
static int candidate_addresses(const struct dest *d, struct addr_set *out, const char **reason)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res;
	int rc;

	if (d->kind == DEST_LOCALHOST) {
		/*
		 * Never the resolver: the host's /etc/hosts could map localhost
		 * anywhere. The address the agent used first, then the other
		 * family's, as the human's server may listen on only one.
		 */
		struct in6_addr a;

		if (d->has_addr)
			addr_set_add(out, &d->addr);
		addr_from_v4(0x7f000001u, &a);
		addr_set_add(out, &a);
		addr_set_add(out, &in6addr_loopback);
		return 0;
	}
	if (d->has_addr) {
		addr_set_add(out, &d->addr);
		return 0;
	}
	rc = getaddrinfo(d->name, NULL, &hints, &res);
	if (rc) {
		*reason = rc == EAI_NONAME || rc == EAI_NODATA ? "cannot resolve: no such name"
							       : "cannot resolve: resolver failure";
		return -1;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		struct in6_addr a;
		uint16_t unused_port;

		if (addr_from_sockaddr(ai->ai_addr, ai->ai_addrlen, &a, &unused_port) == 0)
			addr_set_add(out, &a);
	}
	freeaddrinfo(res);
	return 0;
}

enum dial_result conn_dial(struct conn *c, const struct dest *d, const char **reason, int *err)
{
	struct addr_set candidates = ADDR_SET_INIT;
	const char *first_refusal = NULL;
	char refused_addr[ADDR_TEXT_MAX] = "";
	int attempts = 0;
	enum dial_result result;

	*err = 0;
	dest_format(d, c->dest);
	*reason = policy_check_dest(&c->proxy->policy, d);
	if (*reason)
		return DIAL_DENIED;
	if (candidate_addresses(d, &candidates, reason) < 0)
		return DIAL_FAILED;

	for (size_t i = 0; i < candidates.nr && attempts < CONN_MAX_ATTEMPTS; i++) {
		const struct in6_addr *a = &candidates.v[i];
		const char *refusal = policy_check_address(&c->proxy->policy, d, a, hostaddr_contains(a));
		int fd;

		if (refusal) {
			if (!first_refusal) {
				first_refusal = refusal;
				addr_format(a, d->port, refused_addr);
			}
			continue;
		}
		attempts++;
		addr_format(a, d->port, c->addr);
		fd = connect_to(a, d->port);
		if (fd >= 0) {
			c->upstream_fd = fd;
			addr_set_release(&candidates);
			*reason = NULL;
			return DIAL_OK;
		}
		*err = errno;
	}
	addr_set_release(&candidates);
	if (attempts) {
		*reason = "connect failed";
		result = DIAL_FAILED;
	} else {
		*reason = first_refusal ? first_refusal : "name has no address";
		memcpy(c->addr, refused_addr, sizeof(c->addr));
		result = DIAL_DENIED;
	}
	return result;
}

const char *conn_relay(struct conn *c, const uint8_t *leftover, size_t leftover_len)
{
	/* Stopping (conn_stop_all()): nothing more is carried, nothing could be recorded. */
	if (atomic_load(&c->proxy->stopping))
		return "the agent is gone";
	if (leftover_len) {
		if (conn_send_all(c->upstream_fd, leftover, leftover_len) < 0)
			return "upstream closed";
		c->counts.up += leftover_len;
	}
	if (relay_run(c->fd, c->upstream_fd, &c->counts) < 0)
		return "reset";
	return "closed";
}

static void link_conn(struct conn *c)
{
	struct proxy *proxy = c->proxy;

	pthread_mutex_lock(&proxy->lock);
	c->prev = NULL;
	c->next = proxy->conns;
	if (c->next)
		c->next->prev = c;
	proxy->conns = c;
	pthread_mutex_unlock(&proxy->lock);
}

/* Before its fds close: conn_stop_all() never shuts down an fd number reused since. */
static void unlink_conn(struct conn *c)
{
	struct proxy *proxy = c->proxy;

	pthread_mutex_lock(&proxy->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		proxy->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&proxy->lock);
}

void conn_stop_all(struct proxy *proxy, int timeout_ms)
{
	atomic_store(&proxy->stopping, true);
	pthread_mutex_lock(&proxy->lock);
	for (struct conn *c = proxy->conns; c; c = c->next) {
		int upstream = __atomic_load_n(&c->upstream_fd, __ATOMIC_RELAXED);

		shutdown(c->fd, SHUT_RDWR);
		if (upstream >= 0)
			shutdown(upstream, SHUT_RDWR);
	}
	pthread_mutex_unlock(&proxy->lock);
	for (int waited = 0; atomic_load(&proxy->active) > 0 && waited < timeout_ms; waited += 10)
		poll(NULL, 0, 10);
}

static void *conn_thread(void *arg)
{
	struct conn *c = arg;
	struct conn_outcome out = { .allowed = false, .reason = "" };

	switch (c->role) {
	case ROLE_HTTP:
		serve_http(c, &out);
		break;
	case ROLE_SOCKS:
		serve_socks(c, &out);
		break;
	case ROLE_CAPTURE:
		serve_capture(c, &out);
		break;
	case ROLE_DNS_TCP:
		serve_dns_tcp(c, &out);
		break;
	case ROLE_DNS_UDP:
		break;
	}
	if (atomic_load(&c->proxy->stopping))
		out.reason = "the agent is gone";
	/* DNS over TCP logs its queries, not its connection. */
	if (c->role != ROLE_DNS_TCP) {
		log_send(&(struct log_record){
			.kind = c->kind,
			.dest = c->dest,
			.addr = c->addr,
			.allowed = out.allowed,
			.reason = out.reason,
			.up = c->counts.up,
			.down = c->counts.down,
			.ms = log_now_ms() - c->start_ms,
		});
	}
	unlink_conn(c);
	close(c->fd);
	if (c->upstream_fd >= 0)
		close(c->upstream_fd);
	atomic_fetch_sub(&c->proxy->active, 1);
	free(c->in);
	free(c);
	return NULL;
}

void conn_start(struct proxy *proxy, enum listener_role role, uint16_t listen_port, int fd)
{
	struct conn *c;
	pthread_attr_t attr;
	pthread_t thread;
	int rc, one = 1;

	if (atomic_fetch_add(&proxy->active, 1) >= proxy->max_connections) {
		atomic_fetch_sub(&proxy->active, 1);
		log_send(&(struct log_record){ .kind = role_kind(role), .dest = "", .addr = "",
					       .reason = "too many connections" });
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	c->proxy = proxy;
	c->fd = fd;
	c->upstream_fd = -1;
	c->role = role;
	c->listen_port = listen_port;
	c->start_ms = log_now_ms();
	c->kind = role_kind(role);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	link_conn(c);

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, CONN_STACK_SIZE);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&thread, &attr, conn_thread, c);
	pthread_attr_destroy(&attr);
	if (rc == 0)
		return;
	unlink_conn(c);
	free(c);
fail:
	atomic_fetch_sub(&proxy->active, 1);
	log_send(&(struct log_record){ .kind = role_kind(role), .dest = "", .addr = "",
				       .reason = "cannot start a thread for the connection" });
	close(fd);
}
