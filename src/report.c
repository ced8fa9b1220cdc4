/* report.c: reading the entrypoint's report channel in a thread of its own. */
#include "report.h"
#include "entrypoint.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The most fds one message can carry (the kernel's SCM_MAX_FD). */
#define REPORT_MAX_FDS 253

void report_channel(int fds[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
		die_errno("cannot create the report channel");
}

/* Takes one message; returns 1, 0 at the end of the channel, -1 with r->error set. */
static int read_one(struct report_reader *r, unsigned char *buf)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(REPORT_MAX_FDS * sizeof(int))];
	} control;
	struct iovec iov = { buf, SU_REPORT_MAX };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			      .msg_controllen = sizeof(control.buf) };
	struct su_report_header h;
	struct report_msg *m;
	ssize_t n;

	do
		n = recvmsg(r->fd, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		r->error = n < 0 ? errno : 0;
		return n < 0 ? -1 : 0;
	}
	ALLOC_GROW(r->msgs, r->nr, r->alloc);
	m = &r->msgs[r->nr++];
	memset(m, 0, sizeof(*m));
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		size_t nr;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nr = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		m->fds = xrealloc(m->fds, (m->nr_fds + nr) * sizeof(int));
		memcpy(m->fds + m->nr_fds, CMSG_DATA(c), nr * sizeof(int));
		m->nr_fds += nr;
	}
	if (r->fds_as_paths && m->nr_fds) {
		m->fd_paths = xcalloc(m->nr_fds, sizeof(*m->fd_paths));
		m->fd_stats = xcalloc(m->nr_fds, sizeof(*m->fd_stats));
		for (size_t i = 0; i < m->nr_fds; i++) {
			char link[64], path[PATH_MAX];
			ssize_t len;

			snprintf(link, sizeof(link), "/proc/self/fd/%d", m->fds[i]);
			len = readlink(link, path, sizeof(path) - 1);
			if (len > 0 && fstat(m->fds[i], &m->fd_stats[i]) == 0) {
				path[len] = '\0';
				m->fd_paths[i] = xstrdup(path);
			}
			close(m->fds[i]);
			m->fds[i] = -1;
		}
	}
	if ((size_t)n < sizeof(h) || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		r->error = EPROTO;
		return -1;
	}
	memcpy(&h, buf, sizeof(h));
	if (h.size != (size_t)n - sizeof(h)) {
		r->error = EPROTO;
		return -1;
	}
	m->type = h.type;
	m->size = h.size;
	m->data = xmalloc(h.size + 1);
	memcpy(m->data, buf + sizeof(h), h.size);
	m->data[h.size] = '\0';
	if (h.type == SU_REPORT_DONE)
		r->done = true;
	return 1;
}

static void *reader_thread(void *arg)
{
	struct report_reader *r = arg;
	autofree unsigned char *buf = xmalloc(SU_REPORT_MAX);

	while (read_one(r, buf) > 0)
		;
	return NULL;
}

void report_reader_start(struct report_reader *r, int fd)
{
	sigset_t all, old;
	int err;

	r->fd = fd;
	/*
	 * The thread takes no signal: SIGCHLD must reach the pty relay's
	 * signalfd, and the forwarded signals au run's handlers, in the main
	 * thread. A thread inherits the mask it was created with.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&r->thread, NULL, reader_thread, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		errno = err;
		die_errno("cannot start a thread");
	}
	r->started = true;
}

void report_reader_finish(struct report_reader *r)
{
	if (!r->started)
		return;
	pthread_join(r->thread, NULL);
	r->started = false;
}

void report_reader_release(struct report_reader *r)
{
	report_reader_finish(r);
	for (size_t i = 0; i < r->nr; i++) {
		for (size_t j = 0; j < r->msgs[i].nr_fds; j++) {
			if (r->msgs[i].fds[j] >= 0)
				close(r->msgs[i].fds[j]);
			if (r->msgs[i].fd_paths)
				free(r->msgs[i].fd_paths[j]);
		}
		free(r->msgs[i].fds);
		free(r->msgs[i].fd_paths);
		free(r->msgs[i].fd_stats);
		free(r->msgs[i].data);
	}
	free(r->msgs);
	if (r->fd >= 0)
		close(r->fd);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}
