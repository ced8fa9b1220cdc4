/*
 * main.c: au-netproxy, the network proxy of an agent in its own network
 * namespace.
 *
 * The agent's namespace has only loopback. Its only ways out are listening
 * sockets that the setuid entrypoint (root) creates inside that namespace
 * and hands to this program, which it starts outside the namespace (the
 * host's network and mount namespaces, outside the agent's PID namespace)
 * as the agent's uid, with no_new_privs and an empty environment. A socket
 * keeps the namespace it was made in: the proxy accepts inside and dials
 * outside. It parses hostile input, so it is neither root nor the human.
 *
 * THE INTERFACE (the entrypoint and au rely on it exactly; constants in netproto.h)
 *
 * Installed as $libexecdir/agent-as-unix-user/au-netproxy, mode 0755, not setuid.
 *
 * argv:	au-netproxy NLISTEN      (1 <= NLISTEN <= NETPROTO_MAX_LISTENERS)
 * environ:	empty (nothing is read from it)
 * fds:	0, 1, 2  /dev/null; never written (diagnostics are "proxy" log records)
 *	3        unix SOCK_SEQPACKET to unprivileged au. au -> proxy: ONE policy
 *	         message (text, <= 64 KiB), then nothing. proxy -> au: one log
 *	         record per message (a JSON object, <= 4096 bytes; see log.h).
 *	4        read end of the lifetime pipe: EOF means the agent is gone; the
 *	         proxy then exits 0 at once, closing everything.
 *	5 .. 5+NLISTEN-1
 *	         listening TCP sockets (bound and listening) and bound UDP
 *	         sockets, created inside the agent's network namespace. Roles by
 *	         type and local port: UDP or TCP 53 -> DNS stub; TCP 3128 -> HTTP
 *	         proxy; TCP 1080 -> SOCKS5; any other TCP port -> capture
 *	         listener. TCP listeners are [::]:PORT with IPV6_V6ONLY=0; DNS,
 *	         HTTP and SOCKS may be bound to 127.0.0.1 instead.
 *	Any other inherited fd is closed.
 *
 * Policy message (policy.h): "au-netproxy 1", "mode allow|all", "agent NAME",
 * "run RUNID", zero or more "allow PATTERN", "end", each line ending in "\n".
 * Any error rejects the whole message: a "proxy" record, exit 1.
 *
 * Exit: 0 when fd 4 reaches EOF (after a "proxy" record, reason "stopped:
 * ..."); 1 when the start-up checks or the policy
 * fail (with a "proxy" record when fd 3 is usable). It refuses to start as
 * uid or gid 0, with capabilities, without no_new_privs, with a missing or
 * wrong fd layout, or with a listener in its own network namespace (that
 * would be a listener on the host).
 *
 * Fail closed: once fd 3 is closed by au or a record cannot be sent, every
 * new connection and DNS query is refused (there would be no log).
 *
 * The proxy cannot reach its own listeners or the agent's namespace: it
 * dials from its own namespace, and refuses to start with a listener there.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"
#include "dns.h"
#include "hostaddr.h"
#include "log.h"
#include "netproto.h"
#include "sandbox.h"

/* Each connection holds two sockets, and the resolver may open one more while it dials. */
#define FDS_PER_CONNECTION 3
#define MAX_CONNECTIONS 512
#define NOFILE_LIMIT 4096
/* au sends the policy as it starts us; a minute means it is not coming. */
#define POLICY_TIMEOUT_MS 60000
/* Work done per listener per wake-up, so that one busy listener does not starve the others. */
#define BATCH 64

struct listener {
	int fd;
	enum listener_role role;
	uint16_t port;
};

static void AU_NORETURN refuse_to_start(const char *fmt, ...) AU_PRINTF(1, 2);

static void refuse_to_start(const char *fmt, ...)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	log_proxy(false, "au-netproxy: %s", sb.buf);
	_exit(EXIT_FAIL);
}

static bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static int sock_option(int fd, int option, int *value)
{
	socklen_t len = sizeof(*value);

	return getsockopt(fd, SOL_SOCKET, option, value, &len);
}

static bool is_seqpacket_unix_socket(int fd)
{
	int domain, type;

	return sock_option(fd, SO_DOMAIN, &domain) == 0 && domain == AF_UNIX &&
	       sock_option(fd, SO_TYPE, &type) == 0 && type == SOCK_SEQPACKET;
}

static void check_standard_fds(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (!fd_is_open(fd))
			refuse_to_start("fd %d is not open (0, 1 and 2 must be /dev/null)", fd);
}

static void check_lifetime_pipe(void)
{
	struct stat st;
	int flags = fcntl(NETPROTO_FD_LIFETIME, F_GETFL);

	if (flags < 0 || fstat(NETPROTO_FD_LIFETIME, &st) < 0 || !S_ISFIFO(st.st_mode) ||
	    (flags & O_ACCMODE) != O_RDONLY)
		refuse_to_start("fd %d is not the read end of a pipe", NETPROTO_FD_LIFETIME);
}

/* The netns cookie of a socket (SO_NETNS_COOKIE, Linux 5.14): 0 when unknown. */
static uint64_t netns_cookie(int fd)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);

	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) < 0)
		return 0;
	return cookie;
}

static uint64_t own_netns_cookie(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint64_t cookie;

	if (fd < 0)
		return 0;
	cookie = netns_cookie(fd);
	close(fd);
	return cookie;
}

static enum listener_role role_for(int type, uint16_t port)
{
	if (port == NETPROTO_PORT_DNS)
		return type == SOCK_DGRAM ? ROLE_DNS_UDP : ROLE_DNS_TCP;
	if (port == NETPROTO_PORT_HTTP)
		return ROLE_HTTP;
	if (port == NETPROTO_PORT_SOCKS)
		return ROLE_SOCKS;
	return ROLE_CAPTURE;
}

static void check_listener(int fd, uint64_t own_cookie, struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct in6_addr addr;
	int domain, type, listening = 0;
	uint64_t cookie;

	if (!fd_is_open(fd))
		refuse_to_start("listener fd %d is not open", fd);
	if (sock_option(fd, SO_DOMAIN, &domain) < 0 || (domain != AF_INET && domain != AF_INET6) ||
	    sock_option(fd, SO_TYPE, &type) < 0 || (type != SOCK_STREAM && type != SOCK_DGRAM))
		refuse_to_start("listener fd %d is not a TCP or UDP socket", fd);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    addr_from_sockaddr((struct sockaddr *)&ss, len, &addr, &l->port) < 0 || l->port == 0)
		refuse_to_start("listener fd %d is not bound", fd);
	if (type == SOCK_STREAM && (sock_option(fd, SO_ACCEPTCONN, &listening) < 0 || !listening))
		refuse_to_start("TCP listener fd %d is not listening", fd);
	if (type == SOCK_DGRAM && l->port != NETPROTO_PORT_DNS)
		refuse_to_start("UDP listener fd %d is on port %u, not %d", fd, l->port, NETPROTO_PORT_DNS);
	cookie = netns_cookie(fd);
	if (own_cookie && cookie == own_cookie)
		refuse_to_start("listener fd %d is in the proxy's own network namespace, not the agent's", fd);
	l->fd = fd;
	l->role = role_for(type, l->port);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		refuse_to_start("cannot set up listener fd %d", fd);
}

static int parse_listener_count(int argc, char **argv)
{
	char *end;
	long n;

	if (argc != 2)
		refuse_to_start("usage: au-netproxy NLISTEN");
	errno = 0;
	n = strtol(argv[1], &end, 10);
	if (errno || end == argv[1] || *end || n < 1 || n > NETPROTO_MAX_LISTENERS)
		refuse_to_start("NLISTEN must be a number from 1 to %d", NETPROTO_MAX_LISTENERS);
	return (int)n;
}

/* Enough fds for the connections, and no more; fewer connections if the hard limit is low. */
static int limit_resources(void)
{
	struct rlimit nofile, no_core = { 0, 0 };
	int max;

	setrlimit(RLIMIT_CORE, &no_core);
	if (getrlimit(RLIMIT_NOFILE, &nofile) < 0)
		refuse_to_start("cannot read RLIMIT_NOFILE");
	if (nofile.rlim_max > NOFILE_LIMIT)
		nofile.rlim_max = NOFILE_LIMIT;
	nofile.rlim_cur = nofile.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0)
		refuse_to_start("cannot set RLIMIT_NOFILE");
	max = ((int)nofile.rlim_cur - NETPROTO_FD_FIRST_LISTENER - NETPROTO_MAX_LISTENERS - 32) /
	      FDS_PER_CONNECTION;
	if (max < 1)
		refuse_to_start("RLIMIT_NOFILE %ld is too low", (long)nofile.rlim_cur);
	return max < MAX_CONNECTIONS ? max : MAX_CONNECTIONS;
}

static void read_policy(struct policy *policy)
{
	struct pollfd pfd = { .fd = NETPROTO_FD_CHANNEL, .events = POLLIN };
	char *msg = malloc(NETPROTO_POLICY_MAX + 1);
	autofree char *err = NULL;
	ssize_t n;

	if (!msg)
		refuse_to_start("out of memory");
	if (poll(&pfd, 1, POLICY_TIMEOUT_MS) <= 0)
		refuse_to_start("no policy message within %d s", POLICY_TIMEOUT_MS / 1000);
	/* MSG_TRUNC: the message's real length, so an oversized one is refused, not cut. */
	n = recv(NETPROTO_FD_CHANNEL, msg, NETPROTO_POLICY_MAX + 1, MSG_TRUNC | MSG_DONTWAIT);
	if (n <= 0)
		refuse_to_start("the channel closed before the policy came");
	if (n > NETPROTO_POLICY_MAX)
		refuse_to_start("policy message longer than %d bytes", NETPROTO_POLICY_MAX);
	if (policy_parse(msg, (size_t)n, policy, &err) < 0)
		refuse_to_start("bad policy: %s", err);
	free(msg);
}

static const char *role_name(enum listener_role role)
{
	switch (role) {
	case ROLE_DNS_UDP:
		return "dns/udp";
	case ROLE_DNS_TCP:
		return "dns/tcp";
	case ROLE_HTTP:
		return "http";
	case ROLE_SOCKS:
		return "socks";
	case ROLE_CAPTURE:
		return "capture";
	}
	return "?";
}

static void serve_dns_udp(struct proxy *proxy, int fd)
{
	for (int i = 0; i < BATCH; i++) {
		uint8_t query[DNS_WIRE_NAME_MAX + 512], answer[DNS_RESPONSE_MAX];
		struct sockaddr_storage from;
		socklen_t from_len = sizeof(from);
		ssize_t n = recvfrom(fd, query, sizeof(query), MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&from,
				     &from_len);
		size_t answer_len;

		if (n < 0)
			return;
		/* A truncated datagram is not the query that was sent: drop it. */
		if ((size_t)n > sizeof(query))
			continue;
		answer_len = dns_stub_answer(proxy, query, (size_t)n, answer);
		if (answer_len)
			sendto(fd, answer, answer_len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&from,
			       from_len);
	}
}

static void accept_connections(struct proxy *proxy, const struct listener *l)
{
	for (int i = 0; i < BATCH; i++) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0)
			return;
		if (!log_usable()) {
			/* Fail closed: a connection nobody would see in the log is not carried. */
			close(fd);
			continue;
		}
		conn_start(proxy, l->role, l->port, fd);
	}
}

static void AU_NORETURN serve(struct proxy *proxy, struct listener *listeners, int nr)
{
	struct pollfd pfd[2 + NETPROTO_MAX_LISTENERS];
	int64_t next_refresh = log_now_ms() + HOSTADDR_REFRESH_MS;

	pfd[0] = (struct pollfd){ .fd = NETPROTO_FD_LIFETIME, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = NETPROTO_FD_CHANNEL, .events = POLLIN };
	for (int i = 0; i < nr; i++)
		pfd[2 + i] = (struct pollfd){ .fd = listeners[i].fd, .events = POLLIN };

	for (;;) {
		int64_t now = log_now_ms();
		int timeout = next_refresh > now ? (int)(next_refresh - now) : 0;

		if (poll(pfd, (nfds_t)(2 + nr), timeout) < 0 && errno != EINTR)
			_exit(EXIT_FAIL);
		if (pfd[0].revents) {
			char byte;
			ssize_t n = read(NETPROTO_FD_LIFETIME, &byte, 1);

			/*
			 * EOF: the agent is gone. Say so last, so that au knows the log
			 * is whole and the proxy did not die; _exit closes every socket,
			 * relays included.
			 */
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				/* Every connection still open ends now, each with its record. */
				conn_stop_all(proxy, 1000);
				log_proxy(true, "stopped: the agent is gone");
				_exit(EXIT_OK);
			}
		}
		if (pfd[1].revents) {
			/*
			 * au never writes after the policy: this is EOF or an error.
			 * Nothing can be recorded from now on, so nothing is carried:
			 * not new connections, and not the open ones either (a
			 * process kept with --keep-running may hold a tunnel).
			 */
			log_mark_broken();
			conn_stop_all(proxy, 0);
			pfd[1].fd = -1;
		}
		for (int i = 0; i < nr; i++) {
			if (!pfd[2 + i].revents)
				continue;
			if (listeners[i].role == ROLE_DNS_UDP)
				serve_dns_udp(proxy, listeners[i].fd);
			else
				accept_connections(proxy, &listeners[i]);
		}
		if (log_now_ms() >= next_refresh) {
			hostaddr_refresh();
			next_refresh = log_now_ms() + HOSTADDR_REFRESH_MS;
		}
	}
}

int main(int argc, char **argv)
{
	static struct proxy proxy = { .policy = POLICY_INIT };
	struct listener listeners[NETPROTO_MAX_LISTENERS];
	autostrbuf struct strbuf roles = STRBUF_INIT;
	const char *refusal;
	uint64_t own_cookie;
	int nr;

	/* First: no core dumps, no ptrace by the agent's uid, /proc/PID files owned by root. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	signal(SIGPIPE, SIG_IGN);
	/* Without the channel there is nowhere to say what is wrong: exit quietly. */
	if (!is_seqpacket_unix_socket(NETPROTO_FD_CHANNEL))
		_exit(EXIT_FAIL);
	log_init(NETPROTO_FD_CHANNEL);

	refusal = sandbox_check_identity();
	if (refusal)
		refuse_to_start("%s", refusal);
	nr = parse_listener_count(argc, argv);
	check_standard_fds();
	check_lifetime_pipe();
	own_cookie = own_netns_cookie();
	for (int i = 0; i < nr; i++)
		check_listener(NETPROTO_FD_FIRST_LISTENER + i, own_cookie, &listeners[i]);
	/* Whatever else was inherited: not ours to hold. */
	if (close_range((unsigned)(NETPROTO_FD_FIRST_LISTENER + nr), ~0U, 0) < 0)
		for (int fd = NETPROTO_FD_FIRST_LISTENER + nr; fd < NOFILE_LIMIT; fd++)
			close(fd);
	proxy.max_connections = limit_resources();
	pthread_mutex_init(&proxy.lock, NULL);
	if (sandbox_install_seccomp() < 0)
		refuse_to_start("cannot install the seccomp filter: %s", strerror(errno));

	read_policy(&proxy.policy);
	log_set_identity(proxy.policy.agent, proxy.policy.run);
	if (hostaddr_refresh() < 0)
		refuse_to_start("cannot read the host's interface addresses: %s", strerror(errno));
	proxy.fake = fakeip_new();

	for (int i = 0; i < nr; i++)
		strbuf_addf(&roles, "%s%s %u", i ? ", " : "", role_name(listeners[i].role), listeners[i].port);
	log_proxy(true, "started: mode %s, %zu patterns, listeners: %s",
		  proxy.policy.mode == NET_MODE_ALL ? "all" : "allow", proxy.policy.nr_patterns, roles.buf);
	serve(&proxy, listeners, nr);
}
