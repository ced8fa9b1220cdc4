/*
 * log.h: the records au-netproxy sends to au over the channel (fd 3).
 *
 * One JSON object per SEQPACKET message, at most NETPROTO_RECORD_MAX bytes:
 *	{"time":"2026-12-01T20:26:36.123Z","agent":"NAME","run":"RUNID",
 *	 "kind":"connect|http|socks|capture|dns|proxy","dest":"name:port",
 *	 "addr":"ip:port or empty","decision":"allow|deny","reason":"...",
 *	 "up":BYTES,"down":BYTES,"ms":DURATION}
 * The log is the reason the proxy exists: once a record cannot be sent, the
 * proxy refuses every new connection (log_usable() turns false for good).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "util.h"

struct log_record {
	const char *kind;   /* "connect", "http", "socks", "capture", "dns", "proxy" */
	const char *dest;   /* "name:port", or "" when the request never named one */
	const char *addr;   /* "ip:port" dialed, or "" */
	bool allowed;
	const char *reason; /* why, for a denial; what happened, otherwise ("" is fine) */
	uint64_t up, down;  /* bytes agent -> upstream, upstream -> agent */
	int64_t ms;         /* from accept to close */
};

/* The channel, and the identity every record carries (set once the policy is read). */
void log_init(int channel_fd);
void log_set_identity(const char *agent, const char *run);

/* Sends one record. -1 when it could not be sent: from then on the log is unusable. */
int log_send(const struct log_record *r);
/* A "proxy" record: the proxy's own diagnostics (allowed=false for failures). */
void log_proxy(bool allowed, const char *fmt, ...) AU_PRINTF(2, 3);

/*
 * False once a send failed or au closed its end of the channel (au never
 * writes after the policy, so anything readable on fd 3 means it is gone).
 */
bool log_usable(void);
/* Marks the log unusable (the main loop saw the channel hang up). */
void log_mark_broken(void);

/* The record's JSON text (pure; the tests check it). */
void log_format(const struct log_record *r, const char *agent, const char *run, const struct timespec *now,
		struct strbuf *out);

/* Milliseconds on the monotonic clock, for durations. */
int64_t log_now_ms(void);
