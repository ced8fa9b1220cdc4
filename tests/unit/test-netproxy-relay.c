/*
 * test-netproxy-relay.c: the byte relay (netproxy/relay.c) on real TCP
 * connections over loopback: every byte both ways, in order, counted;
 * half-closes passed on; a reset ends it instead of hanging; and a slow
 * reader gets everything a fast server sent before it closed.
 */
#include "relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util.h"

/* A connected TCP pair over loopback: *a connects, *b is accepted. */
static void tcp_pair(int *a, int *b)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
	*a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(*a, (struct sockaddr *)&sin, sizeof(sin)), 0);
	*b = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	assert_true(*b >= 0);
	close(l);
}

/*
 * The four sockets: the agent writes on agent, the relay holds
 * relay_agent and relay_upstream, the server answers on server.
 */
struct setup {
	int agent, relay_agent, relay_upstream, server;
	struct relay_counts counts;
	int result;
	pthread_t thread;
};

static void *relay_thread(void *arg)
{
	struct setup *s = arg;

	s->result = relay_run(s->relay_agent, s->relay_upstream, &s->counts);
	return NULL;
}

static void setup_start(struct setup *s)
{
	/* A relay that stops short makes a reader fail after this long, rather than hang. */
	struct timeval timeout = { .tv_sec = 10 };

	memset(s, 0, sizeof(*s));
	tcp_pair(&s->agent, &s->relay_agent);
	tcp_pair(&s->relay_upstream, &s->server);
	setsockopt(s->agent, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	setsockopt(s->server, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	assert_int_equal(pthread_create(&s->thread, NULL, relay_thread, s), 0);
}

static void setup_finish(struct setup *s)
{
	pthread_join(s->thread, NULL);
	close(s->agent);
	close(s->relay_agent);
	close(s->relay_upstream);
	close(s->server);
}

static uint8_t pattern_byte(size_t i, unsigned seed)
{
	return (uint8_t)((i * 2654435761u) >> 13 ^ seed);
}

/* Writes n pattern bytes on fd and shuts its write side. */
struct writer {
	int fd;
	size_t n;
	unsigned seed;
	pthread_t thread;
};

static void *writer_thread(void *arg)
{
	struct writer *w = arg;
	uint8_t buf[65536];
	size_t sent = 0;

	while (sent < w->n) {
		size_t chunk = w->n - sent < sizeof(buf) ? w->n - sent : sizeof(buf);
		ssize_t k;

		for (size_t i = 0; i < chunk; i++)
			buf[i] = pattern_byte(sent + i, w->seed);
		k = send(w->fd, buf, chunk, MSG_NOSIGNAL);
		if (k <= 0)
			break;
		sent += (size_t)k;
	}
	shutdown(w->fd, SHUT_WR);
	return NULL;
}

/* Reads to EOF on fd, checking the pattern; returns how many bytes came. */
static size_t read_and_check(int fd, unsigned seed)
{
	uint8_t buf[65536];
	size_t got = 0;
	ssize_t k;

	while ((k = recv(fd, buf, sizeof(buf), 0)) > 0) {
		for (ssize_t i = 0; i < k; i++)
			if (buf[i] != pattern_byte(got + (size_t)i, seed))
				fail_msg("byte %zu differs", got + (size_t)i);
		got += (size_t)k;
	}
	return got;
}

static void run_both_ways(size_t up, size_t down)
{
	struct setup s;
	struct writer to_server, to_agent;

	setup_start(&s);
	to_server = (struct writer){ .fd = s.agent, .n = up, .seed = 1 };
	to_agent = (struct writer){ .fd = s.server, .n = down, .seed = 2 };
	pthread_create(&to_server.thread, NULL, writer_thread, &to_server);
	pthread_create(&to_agent.thread, NULL, writer_thread, &to_agent);
	assert_int_equal(read_and_check(s.server, 1), up);
	assert_int_equal(read_and_check(s.agent, 2), down);
	pthread_join(to_server.thread, NULL);
	pthread_join(to_agent.thread, NULL);
	setup_finish(&s);
	assert_int_equal(s.result, 0);
	assert_int_equal(s.counts.up, up);
	assert_int_equal(s.counts.down, down);
}

static void test_bytes_both_ways(void **state)
{
	run_both_ways(32 << 20, 8 << 20);
	run_both_ways(1, 0);
	run_both_ways(0, 0);
}

static void test_half_close_is_passed_on(void **state)
{
	struct setup s;
	char buf[64];
	ssize_t n;

	setup_start(&s);
	/* A request, then the agent's end of sending (as "curl -T" or an ssh EOF would). */
	assert_int_equal(send(s.agent, "question", 8, 0), 8);
	shutdown(s.agent, SHUT_WR);
	n = recv(s.server, buf, sizeof(buf), MSG_WAITALL);
	assert_int_equal(n, 8);
	/* The server saw the end, and can still answer. */
	assert_int_equal(recv(s.server, buf, sizeof(buf), 0), 0);
	assert_int_equal(send(s.server, "answer", 6, 0), 6);
	shutdown(s.server, SHUT_WR);
	n = recv(s.agent, buf, sizeof(buf), MSG_WAITALL);
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "answer", 6);
	setup_finish(&s);
	assert_int_equal(s.result, 0);
	assert_int_equal(s.counts.up, 8);
	assert_int_equal(s.counts.down, 6);
}

/*
 * Fixed, kept as a regression test: the agent has finished sending, the
 * server sends a large answer and closes; the agent reads it slowly. The
 * upstream socket then reports a hang-up while nobody waits on it (the
 * data sits in the relay, waiting for the agent), and the relay took that for
 * a reset: it ended with megabytes undelivered and the agent's side never
 * shut, so the download hung.
 */
static void test_slow_reader_after_the_server_closed(void **state)
{
	int small = 4096;
	struct setup s;
	struct writer to_agent;

	setup_start(&s);
	/* Small buffers on the agent's side, so that the answer waits in the relay. */
	setsockopt(s.agent, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	setsockopt(s.relay_agent, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	shutdown(s.agent, SHUT_WR);
	to_agent = (struct writer){ .fd = s.server, .n = 512 << 10, .seed = 5 };
	pthread_create(&to_agent.thread, NULL, writer_thread, &to_agent);
	pthread_join(to_agent.thread, NULL);
	close(s.server);
	s.server = open("/dev/null", O_RDONLY);
	/* The agent has not read a byte yet: the answer is in the relay, the server long gone. */
	usleep(300 * 1000);
	assert_int_equal(read_and_check(s.agent, 5), 512 << 10);
	setup_finish(&s);
	assert_int_equal(s.result, 0);
	assert_int_equal(s.counts.down, 512 << 10);
}

static void test_a_reset_ends_the_relay(void **state)
{
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	struct setup s;
	char buf[16];

	setup_start(&s);
	assert_int_equal(send(s.agent, "x", 1, 0), 1);
	assert_int_equal(recv(s.server, buf, 1, 0), 1);
	/* The server resets: the relay must end, and the agent must see its side go. */
	setsockopt(s.server, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	close(s.server);
	s.server = -1;
	alarm(10);
	pthread_join(s.thread, NULL);
	alarm(0);
	assert_int_equal(s.result, -1);
	close(s.relay_agent);
	s.relay_agent = -1;
	assert_true(recv(s.agent, buf, sizeof(buf), 0) <= 0);
	close(s.agent);
	close(s.relay_upstream);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes_both_ways),
		cmocka_unit_test(test_half_close_is_passed_on),
		cmocka_unit_test(test_slow_reader_after_the_server_closed),
		cmocka_unit_test(test_a_reset_ends_the_relay),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
