/*
 * hostaddr.h: the addresses of the host's own interfaces.
 *
 * A name may resolve to the host's LAN or public address, where services
 * listening on 0.0.0.0 answer as if asked on loopback; the policy refuses
 * those addresses in every mode. Interfaces come and go (VPNs, DHCP), so the
 * main loop refreshes the set every HOSTADDR_REFRESH_MS.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#define HOSTADDR_REFRESH_MS 10000

/* Reads the interfaces (getifaddrs). -1 when that failed; the previous set stays. */
int hostaddr_refresh(void);
bool hostaddr_contains(const struct in6_addr *addr);
/* The monotonic time of the last successful refresh, in ms (log_now_ms()). */
int64_t hostaddr_refreshed_at(void);
