/*
 * relay.h: carrying a connection's bytes both ways once it is allowed.
 *
 * The relay never looks at the bytes (a CONNECT inside a tunnel is just
 * bytes to the upstream that was allowed), has no idle timeout (ssh and
 * websockets live long), and passes half-closes on: when one side is done
 * sending, the other side's write end is shut down, and the relay ends when
 * both directions have ended or either side fails.
 */
#pragma once

#include <stdint.h>

struct relay_counts {
	uint64_t up;   /* agent -> upstream */
	uint64_t down; /* upstream -> agent */
};

/*
 * Relays until both directions end. Adds to *counts as bytes are delivered.
 * Returns 0 when both ended cleanly, -1 when a side failed (reset).
 * Needs SIGPIPE ignored. Leaves both sockets non-blocking, and open.
 */
int relay_run(int agent_fd, int upstream_fd, struct relay_counts *counts);
