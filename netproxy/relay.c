/*
 * relay.c: the byte relay (see relay.h).
 *
 * splice(2) through a pipe per direction moves the data from one socket to
 * the other inside the kernel, without copying it to user space and back;
 * that is what keeps a bulk transfer through the proxy close to a direct
 * one. Should a pipe be refused (the agent's uid shares the per-user pipe
 * budget with the agent, which can exhaust it), a 64 KiB buffer does the job.
 *
 * One subtlety: when a pipe holds data, a socket-to-pipe splice can fail
 * with EAGAIN because the pipe is full, not because the socket is empty. So
 * a direction waits to read only when its pipe is empty, and to write only
 * when its pipe holds data; otherwise poll would return at once forever.
 */
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

/* 1 MiB pipes where the per-user budget allows; the kernel's default (64 KiB) otherwise. */
#define RELAY_PIPE_SIZE (1 << 20)
#define RELAY_SPLICE_MAX (1 << 20)
#define RELAY_BUFFER_SIZE 65536

struct direction {
	int from, to;
	int pipe[2]; /* -1 when the buffer is used instead */
	char *buffer;
	size_t held, offset; /* bytes in the pipe or buffer; buffer's send offset */
	bool eof, done;
	uint64_t *count;
};

static int direction_init(struct direction *d, int from, int to, uint64_t *count)
{
	d->from = from;
	d->to = to;
	d->held = d->offset = 0;
	d->eof = d->done = false;
	d->count = count;
	d->buffer = NULL;
	if (pipe2(d->pipe, O_CLOEXEC | O_NONBLOCK) == 0) {
		/* Best effort: a smaller pipe only costs speed. */
		fcntl(d->pipe[1], F_SETPIPE_SZ, RELAY_PIPE_SIZE);
		return 0;
	}
	d->pipe[0] = d->pipe[1] = -1;
	d->buffer = malloc(RELAY_BUFFER_SIZE);
	return d->buffer ? 0 : -1;
}

static void direction_release(struct direction *d)
{
	if (d->pipe[0] >= 0) {
		close(d->pipe[0]);
		close(d->pipe[1]);
	}
	free(d->buffer);
}

static ssize_t fill(struct direction *d)
{
	if (d->pipe[0] >= 0)
		return splice(d->from, NULL, d->pipe[1], NULL, RELAY_SPLICE_MAX,
			      SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	d->offset = 0;
	return recv(d->from, d->buffer, RELAY_BUFFER_SIZE, MSG_DONTWAIT);
}

static ssize_t drain(struct direction *d)
{
	ssize_t n;

	if (d->pipe[0] >= 0)
		return splice(d->pipe[0], NULL, d->to, NULL, d->held, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	n = send(d->to, d->buffer + d->offset, d->held, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n > 0)
		d->offset += (size_t)n;
	return n;
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
		/* The buffer is refilled only once empty; a pipe takes more whenever it has room. */
		if (!d->eof && (d->pipe[0] >= 0 || d->held == 0)) {
			ssize_t n = fill(d);

			if (n > 0) {
				d->held += (size_t)n;
				moved = true;
			} else if (n == 0) {
				d->eof = true;
			} else if (!would_block()) {
				return -1;
			}
		}
		if (d->held) {
			ssize_t n = drain(d);

			if (n > 0) {
				d->held -= (size_t)n;
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

/* What d waits for on its own two sockets. */
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
		 * is shut, data may still wait in a pipe): leave that socket out
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
