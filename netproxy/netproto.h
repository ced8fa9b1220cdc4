/*
 * netproto.h: what au-netproxy and the programs that start it must agree on.
 *
 * The setuid entrypoint creates the listeners inside the agent's network
 * namespace and starts au-netproxy with them; unprivileged au writes the
 * policy and reads the log. What the entrypoint decides (fds, ports, the
 * fake range) is written in its protocol section and named here; what only
 * au and the proxy share (the policy and the records) is written here. So a
 * port or a limit is written once (STYLE.md: a privileged protocol is
 * written once): the entrypoint decides which ports it listens on, and the
 * proxy decides each listener's role from its port alone.
 */
#pragma once

/*
 * The fds, ports and fake range that the entrypoint must agree on live in the
 * first section of entrypoint/su_as_agent.c, the only place they are written;
 * the names below are theirs.
 */
#define SU_AS_AGENT_PROTOCOL_ONLY
#include "../entrypoint/su_as_agent.c"
#undef SU_AS_AGENT_PROTOCOL_ONLY

/* The file descriptors au-netproxy starts with (argv: "au-netproxy NLISTEN"). */
enum {
	NETPROTO_FD_CHANNEL = SU_NETPROXY_FD_CHANNEL,   /* unix SOCK_SEQPACKET to au: policy in, log records out */
	NETPROTO_FD_LIFETIME = SU_NETPROXY_FD_LIFETIME, /* read end of a pipe: EOF means the agent is gone */
	NETPROTO_FD_FIRST_LISTENER = SU_NETPROXY_FD_FIRST_LISTENER,
};

/* At most this many listeners (NLISTEN). */
#define NETPROTO_MAX_LISTENERS SU_NET_MAX_LISTENERS

/* Listener roles, by port. Any other TCP port is a capture listener. */
#define NETPROTO_PORT_DNS SU_NET_PORT_DNS     /* UDP and TCP: the DNS stub */
#define NETPROTO_PORT_HTTP SU_NET_PORT_HTTP   /* TCP: HTTP proxy, CONNECT and absolute URIs */
#define NETPROTO_PORT_SOCKS SU_NET_PORT_SOCKS /* TCP: SOCKS5, CONNECT only, no authentication */

/*
 * The capture ports the entrypoint always listens on, besides each listed
 * ":PORT": ssh, http and https, for tools that ignore proxy variables.
 */
#define NETPROTO_CAPTURE_PORTS SU_NET_CAPTURE_PORTS

/*
 * The fake addresses the DNS stub hands out, 127.1.0.0/16 in host byte order:
 * 127.1.0.1 upward, one per name for the run. They are loopback addresses of
 * the agent's own namespace, so a client that ignores proxy variables
 * connects to them, and a capture listener bound to [::] accepts the
 * connection and learns the name from the local address.
 */
#define NETPROTO_FAKE_NET SU_NET_FAKE_NET
#define NETPROTO_FAKE_MASK SU_NET_FAKE_MASK
#define NETPROTO_FAKE_FIRST SU_NET_FAKE_FIRST
#define NETPROTO_FAKE_LAST SU_NET_FAKE_LAST

/* The policy message, au to proxy: its first line, and its size limit. */
#define NETPROTO_POLICY_MAGIC "au-netproxy 1"
#define NETPROTO_POLICY_MAX 65536

/* One log record, proxy to au: one JSON object per message, at most this long. */
#define NETPROTO_RECORD_MAX 4096

/* The longest agent name and run id the policy may carry. */
#define NETPROTO_AGENT_MAX 64
#define NETPROTO_RUN_MAX 64
