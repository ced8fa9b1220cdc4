/*
 * net-proxy-driver.c: the client and server that bench/net-proxy times, the
 * same program on both sides of the proxy and of the direct path.
 *
 *	net-proxy-driver serve PORT                 on 127.0.0.1: each connection sends
 *	                                            8 bytes N, gets N bytes back, then EOF
 *	net-proxy-driver get HOST PORT BYTES        one transfer; prints seconds
 *	net-proxy-driver latency HOST PORT COUNT [PROXYPORT]
 *	                                            COUNT connections one after another,
 *	                                            each a 1-byte transfer; prints the mean
 *	                                            in microseconds. With PROXYPORT, each
 *	                                            goes through "CONNECT localhost:PORT"
 *	                                            on HOST:PROXYPORT first.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUFFER (1 << 20)

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *serve_one(void *arg)
{
	static char zeros[BUFFER];
	int fd = (int)(intptr_t)arg;
	uint64_t n;
	size_t got = 0;

	while (got < sizeof(n)) {
		ssize_t k = recv(fd, (char *)&n + got, sizeof(n) - got, 0);

		if (k <= 0)
			goto out;
		got += (size_t)k;
	}
	n = be64toh(n);
	while (n) {
		ssize_t k = send(fd, zeros, n < sizeof(zeros) ? n : sizeof(zeros), MSG_NOSIGNAL);

		if (k <= 0)
			break;
		n -= (uint64_t)k;
	}
out:
	close(fd);
	return NULL;
}

static int serve(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(l, 512) < 0)
		die("bind");
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int fd = accept(l, NULL, NULL);
		pthread_t t;

		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (pthread_create(&t, NULL, serve_one, (void *)(intptr_t)fd) == 0)
			pthread_detach(t);
		else
			close(fd);
	}
}

static int connect_to(const char *host, int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		die("address");
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Through the HTTP proxy: CONNECT, then the 200 and its empty line. */
static int connect_via(const char *host, int proxy_port, int port)
{
	int fd = connect_to(host, proxy_port);
	char req[128], head[512];
	size_t got = 0;

	snprintf(req, sizeof(req), "CONNECT localhost:%d HTTP/1.1\r\n\r\n", port);
	if (send(fd, req, strlen(req), 0) < 0)
		die("send");
	while (got < sizeof(head) - 1) {
		ssize_t k = recv(fd, head + got, 1, 0);

		if (k <= 0)
			die("CONNECT");
		got++;
		head[got] = '\0';
		if (got >= 4 && !memcmp(head + got - 4, "\r\n\r\n", 4))
			break;
	}
	if (strncmp(head, "HTTP/1.1 200", 12)) {
		fprintf(stderr, "CONNECT refused: %s\n", head);
		exit(1);
	}
	return fd;
}

static uint64_t transfer(int fd, uint64_t n)
{
	static char buf[BUFFER];
	uint64_t want = htobe64(n), got = 0;
	ssize_t k;

	if (send(fd, &want, sizeof(want), 0) != sizeof(want))
		die("send");
	while ((k = recv(fd, buf, sizeof(buf), 0)) > 0)
		got += (uint64_t)k;
	close(fd);
	return got;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]));
	if (argc == 5 && !strcmp(argv[1], "get")) {
		uint64_t n = strtoull(argv[4], NULL, 10), got;
		double start = now();

		got = transfer(connect_to(argv[2], atoi(argv[3])), n);
		if (got != n) {
			fprintf(stderr, "got %llu of %llu bytes\n", (unsigned long long)got, (unsigned long long)n);
			return 1;
		}
		printf("%.6f\n", now() - start);
		return 0;
	}
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "latency")) {
		int count = atoi(argv[4]), port = atoi(argv[3]);
		double start = now();

		for (int i = 0; i < count; i++) {
			int fd = argc == 6 ? connect_via(argv[2], atoi(argv[5]), port) : connect_to(argv[2], port);

			if (transfer(fd, 1) != 1) {
				fprintf(stderr, "connection %d: short transfer\n", i);
				return 1;
			}
		}
		printf("%.1f\n", (now() - start) / count * 1e6);
		return 0;
	}
	fprintf(stderr, "usage: see the comment at the top of bench/net-proxy-driver.c\n");
	return 2;
}
