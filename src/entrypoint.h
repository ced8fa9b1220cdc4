/*
 * entrypoint.h: au's side of the protocol with the setuid entrypoint.
 *
 * The entrypoint is one self-contained file, compiled at "au new" and hashed
 * at every "au run", so the protocol's words, limits and exit codes live in
 * its first section, which this header includes (SU_AS_AGENT_PROTOCOL_ONLY
 * keeps the rest out). au fills a struct ep_request; ep_request_to_argv() is
 * the only code that writes the entrypoint's argv. A unit test sends every
 * kind of request through it and back through the entrypoint's own parser
 * (tests/unit/test-entrypoint-protocol.c), as bubblewrap's PrivSepOp is one
 * definition for both sides of its privileged operations.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define SU_AS_AGENT_PROTOCOL_ONLY
#include "../entrypoint/su_as_agent.c"
#undef SU_AS_AGENT_PROTOCOL_ONLY

#include "util.h"

struct strbuf;

struct ep_mount {
	char *source; /* normal path below the human's home */
	unsigned long long dev, ino; /* what source must be: recorded at "au mount add" */
	char *target; /* normal path below the agent's home */
	bool read_only;
};

enum ep_protect_kind {
	EP_PIN,       /* bound over itself read-write: it cannot be renamed away */
	EP_READ_ONLY, /* bound over itself read-only */
};

struct ep_protect {
	char *path; /* below the agent's home */
	enum ep_protect_kind kind;
};

struct ep_request {
	struct strvec env_names; /* passed from the entrypoint's environment */
	struct ep_mount *mounts;
	size_t nr_mounts, alloc_mounts;
	struct ep_protect *protected;
	size_t nr_protected, alloc_protected;
	char *directory; /* NULL: the agent's home */
	bool keep_running;
	bool report; /* the caller passes the report channel as SU_REPORT_FD */
	bool watch;  /* report changes in the read-write mounts (needs report) */
	bool job_control; /* the command's stops stop the entrypoint: au relays a terminal */
	unsigned long long memory_max;  /* bytes, SU_MEMORY_MIN..SU_MEMORY_MAX; 0: no limit */
	unsigned long long cpu_percent; /* of one CPU, 1..SU_CPU_PERCENT_MAX; 0: no limit */
	unsigned long long tasks_max;   /* SU_TASKS_MIN..SU_TASKS_MAX; 0: no limit */
	/*
	 * SU_NET_MODE_PROXY: the caller passes the proxy's channel as
	 * SU_NET_FD, and capture_ports are listened on besides the fixed ones.
	 */
	enum su_net_mode net;
	unsigned short *capture_ports;
	size_t nr_capture, alloc_capture;
	struct strvec command; /* at least one word */
};

#define EP_REQUEST_INIT { .env_names = STRVEC_INIT, .command = STRVEC_INIT }

void ep_request_release(struct ep_request *req);
#define autoeprequest __attribute__((cleanup(ep_request_release)))

void ep_request_add_env(struct ep_request *req, const char *name);
/* source must still be the inode (dev, ino) it was when it was shared, or the entrypoint refuses it. */
void ep_request_add_mount(struct ep_request *req, const char *source, unsigned long long dev,
			  unsigned long long ino, const char *target, bool read_only);
void ep_request_add_protected(struct ep_request *req, const char *path, enum ep_protect_kind kind);
/*
 * A capture listener on port, once. A port given again, a fixed capture port
 * and a port whose role is taken (DNS, HTTP, SOCKS) are left out.
 */
void ep_request_add_capture_port(struct ep_request *req, unsigned short port);

/*
 * What the entrypoint would refuse for its size (too many mounts,
 * variables or capture ports), said in the human's words. Returns 0, or -1
 * with why.
 */
int ep_request_check(const struct ep_request *req, struct strbuf *why);

/*
 * Appends the entrypoint's argv (argv[0] "su_as_agent" included) for req.
 * Mounts go parents first (sorted by target); pins go before read-only
 * protections, since a pin is a fresh bind of its folder without the mounts
 * inside it and would hide a protection made before it.
 */
void ep_request_to_argv(const struct ep_request *req, struct strvec *argv);
