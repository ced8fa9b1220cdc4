/*
 * netproto.h: what au-netproxy and the programs that start it must agree on.
 *
 * The setuid entrypoint creates the listeners inside the agent's network
 * namespace and starts au-netproxy with them; unprivileged au writes the
 * policy and reads the log. All three take these numbers from here, so that
 * a port or a limit is written once (STYLE.md: a privileged protocol is
 * written once). The entrypoint must agree with every value below: it decides
 * which ports it listens on, and the proxy decides each listener's role from
 * its port alone.
 */
#pragma once

/* The file descriptors au-netproxy starts with (argv: "au-netproxy NLISTEN"). */
enum {
	NETPROTO_FD_CHANNEL = 3,   /* unix SOCK_SEQPACKET to au: policy in, log records out */
	NETPROTO_FD_LIFETIME = 4,  /* read end of a pipe: EOF means the agent is gone */
	NETPROTO_FD_FIRST_LISTENER = 5,
};

/* At most this many listeners (NLISTEN). */
#define NETPROTO_MAX_LISTENERS 64

/* Listener roles, by port. Any other TCP port is a capture listener. */
#define NETPROTO_PORT_DNS 53     /* UDP and TCP: the DNS stub */
#define NETPROTO_PORT_HTTP 3128  /* TCP: HTTP proxy, CONNECT and absolute URIs */
#define NETPROTO_PORT_SOCKS 1080 /* TCP: SOCKS5, CONNECT only, no authentication */

/*
 * The capture ports the entrypoint always listens on, besides each listed
 * ":PORT": ssh, http and https, for tools that ignore proxy variables.
 */
#define NETPROTO_CAPTURE_PORTS { 22, 80, 443 }

/*
 * The fake addresses the DNS stub hands out, 127.1.0.0/16 in host byte order:
 * 127.1.0.1 upward, one per name for the run. They are loopback addresses of
 * the agent's own namespace, so a client that ignores proxy variables
 * connects to them, and a capture listener bound to [::] accepts the
 * connection and learns the name from the local address.
 */
#define NETPROTO_FAKE_NET 0x7f010000u   /* 127.1.0.0 */
#define NETPROTO_FAKE_MASK 0xffff0000u  /* /16 */
#define NETPROTO_FAKE_FIRST 0x7f010001u /* 127.1.0.1 */
#define NETPROTO_FAKE_LAST 0x7f01fffeu  /* 127.1.255.254 */

/* The policy message, au to proxy: its first line, and its size limit. */
#define NETPROTO_POLICY_MAGIC "au-netproxy 1"
#define NETPROTO_POLICY_MAX 65536

/* One log record, proxy to au: one JSON object per message, at most this long. */
#define NETPROTO_RECORD_MAX 4096

/* The longest agent name and run id the policy may carry. */
#define NETPROTO_AGENT_MAX 64
#define NETPROTO_RUN_MAX 64
