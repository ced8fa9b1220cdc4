/*
 * relay.c: the byte relay (see relay.h).
 *
 * Each direction reads into a buffer and writes it out, with non-blocking
 * sockets and one poll for both directions. The buffer starts small (most
 * connections are small) and doubles, up to RELAY_BUFFER_MAX, each time a
 * read fills it, so that a bulk transfer moves a megabyte per system call.
 * All connections' growth together stays within RELAY_GROWTH_BUDGET: an
 * agent opening hundreds of bulk transfers gets slower ones, not a proxy
 * that eats the host's memory.
 *
 * Why not splice(2) through a pipe: measured on loopback (bench/net-proxy,
 * Linux 6.18), it was about 25% slower than copying with 1 MiB buffers. The
 * pages it hands on come from the incoming segments, so the outgoing ones
 * are made of many small fragments, and the receiving end pays for them.
 */
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

#define RELAY_BUFFER_MIN (64 << 10)
#define RELAY_BUFFER_MAX (1 << 20)
#define RELAY_GROWTH_BUDGET ((size_t)64 << 20)

/* Bytes of buffer beyond RELAY_BUFFER_MIN that all relays hold together. */
static atomic_size_t relay_growth;

struct direction {
	int from, to;
	char *buffer;
	size_t size;
	size_t held, offset; /* bytes in the buffer not yet written, and where they start */
	bool filled;         /* the last read filled the whole buffer: a bulk transfer */
	bool eof, done;
	uint64_t *count;
};

static int direction_init(struct direction *d, int from, int to, uint64_t *count)
{
	*d = (struct direction){ .from = from, .to = to, .count = count, .size = RELAY_BUFFER_MIN };
	d->buffer = malloc(d->size);
	return d->buffer ? 0 : -1;
}

static void direction_release(struct direction *d)
{
	free(d->buffer);
	atomic_fetch_sub(&relay_growth, d->size - RELAY_BUFFER_MIN);
}

/* Doubles an empty buffer whose last read filled it, if the shared budget allows. */
static void maybe_grow(struct direction *d)
{
	size_t more = d->size, before;
	char *bigger;

	if (!d->filled || d->size >= RELAY_BUFFER_MAX)
		return;
	d->filled = false;
	before = atomic_fetch_add(&relay_growth, more);
	if (before + more > RELAY_GROWTH_BUDGET) {
		atomic_fetch_sub(&relay_growth, more);
		return;
	}
	bigger = realloc(d->buffer, d->size + more);
	if (!bigger) {
		atomic_fetch_sub(&relay_growth, more);
		return;
	}
	d->buffer = bigger;
	d->size += more;
}

static bool would_block(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

/* Moves what can be moved now. -1 when a side failed. */
static int pump(struct direction *d)
{
	bool moved = true;

	while (moved && !d->done) {
		moved = false;
		/* Refill only once everything read was written: bytes keep their order. */
		if (!d->eof && d->held == 0) {
			ssize_t n;

			maybe_grow(d);
			n = recv(d->from, d->buffer, d->size, MSG_DONTWAIT);
			if (n > 0) {
				d->held = (size_t)n;
				d->offset = 0;
				d->filled = (size_t)n == d->size;
				moved = true;
			} else if (n == 0) {
				d->eof = true;
			} else if (!would_block()) {
				return -1;
			}
		}
		if (d->held) {
			ssize_t n = send(d->to, d->buffer + d->offset, d->held, MSG_DONTWAIT | MSG_NOSIGNAL);

			if (n > 0) {
				d->held -= (size_t)n;
				d->offset += (size_t)n;
				*d->count += (uint64_t)n;
				moved = true;
			} else if (n < 0 && !would_block()) {
				return -1;
			}
		}
		if (d->eof && d->held == 0) {
			shutdown(d->to, SHUT_WR);
			d->done = true;
		}
	}
	return 0;
}

/* What d waits for on its own two sockets: to write what it holds, or else to read. */
static void add_wants(const struct direction *d, struct pollfd *from, struct pollfd *to)
{
	if (d->done)
		return;
	if (d->held)
		to->events |= POLLOUT;
	else
		from->events |= POLLIN;
}

int relay_run(int agent_fd, int upstream_fd, struct relay_counts *counts)
{
	struct direction up, down;
	bool hung_up[2] = { false, false };
	int ret = 0;

	fcntl(agent_fd, F_SETFL, fcntl(agent_fd, F_GETFL) | O_NONBLOCK);
	fcntl(upstream_fd, F_SETFL, fcntl(upstream_fd, F_GETFL) | O_NONBLOCK);
	if (direction_init(&up, agent_fd, upstream_fd, &counts->up) < 0)
		return -1;
	if (direction_init(&down, upstream_fd, agent_fd, &counts->down) < 0) {
		direction_release(&up);
		return -1;
	}
	for (;;) {
		struct pollfd pfd[2] = { { .fd = agent_fd }, { .fd = upstream_fd } };

		if (pump(&up) < 0 || pump(&down) < 0) {
			ret = -1;
			break;
		}
		if (up.done && down.done)
			break;
		add_wants(&up, &pfd[0], &pfd[1]);
		add_wants(&down, &pfd[1], &pfd[0]);
		/*
		 * poll reports errors and hang-ups even on a socket nobody waits
		 * on. A hang-up there is a normal end (the peer closed, our side
		 * is shut, data may still wait in a buffer): leave that socket out
		 * until someone waits on it again, or poll would spin.
		 */
		for (int i = 0; i < 2; i++)
			if (!pfd[i].events && hung_up[i])
				pfd[i].fd = -1;
		if (poll(pfd, 2, -1) < 0 && errno != EINTR) {
			ret = -1;
			break;
		}
		/* An error on a socket we wait on shows in the next pump; on one we do not, it is a reset. */
		if (((pfd[0].revents & (POLLERR | POLLNVAL)) && !pfd[0].events) ||
		    ((pfd[1].revents & (POLLERR | POLLNVAL)) && !pfd[1].events)) {
			ret = -1;
			break;
		}
		for (int i = 0; i < 2; i++)
			if ((pfd[i].revents & POLLHUP) && !pfd[i].events)
				hung_up[i] = true;
	}
	direction_release(&up);
	direction_release(&down);
	return ret;
}
