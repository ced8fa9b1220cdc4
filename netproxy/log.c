/*
 * log.c: log records to au (see log.h).
 *
 * Every thread sends its own records; a SEQPACKET message is atomic, so they
 * never interleave. A send that fails, or waits longer than
 * LOG_SEND_TIMEOUT_S for a stuck au, breaks the log for good: the proxy then
 * fails closed rather than carry connections nobody will see.
 */
#include "log.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>

#include "json.h"
#include "netproto.h"

#define LOG_SEND_TIMEOUT_S 10

static int log_fd = -1;
static atomic_bool log_broken;
/* Written once, before any thread starts. */
static char log_agent[NETPROTO_AGENT_MAX + 1];
static char log_run[NETPROTO_RUN_MAX + 1];

void log_init(int channel_fd)
{
	struct timeval timeout = { .tv_sec = LOG_SEND_TIMEOUT_S };

	log_fd = channel_fd;
	atomic_store(&log_broken, false);
	setsockopt(log_fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
}

void log_set_identity(const char *agent, const char *run)
{
	snprintf(log_agent, sizeof(log_agent), "%s", agent);
	snprintf(log_run, sizeof(log_run), "%s", run);
}

int64_t log_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void format_time(const struct timespec *now, char out[64])
{
	struct tm tm;

	gmtime_r(&now->tv_sec, &tm);
	snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now->tv_nsec / 1000000);
}

/* Strings in a record are cut to this, so that a record always fits in NETPROTO_RECORD_MAX. */
#define LOG_FIELD_MAX 600

static void add_field(struct json_writer *w, const char *key, const char *value)
{
	size_t len = strlen(value ? value : "");

	json_key(w, key);
	json_string_len(w, value ? value : "", len > LOG_FIELD_MAX ? LOG_FIELD_MAX : len);
}

void log_format(const struct log_record *r, const char *agent, const char *run, const struct timespec *now,
		struct strbuf *out)
{
	struct json_writer w;
	char time_text[64];

	format_time(now, time_text);
	json_init(&w, out);
	json_begin_object(&w);
	add_field(&w, "time", time_text);
	add_field(&w, "agent", agent);
	add_field(&w, "run", run);
	add_field(&w, "kind", r->kind);
	add_field(&w, "dest", r->dest);
	add_field(&w, "addr", r->addr);
	add_field(&w, "decision", r->allowed ? "allow" : "deny");
	add_field(&w, "reason", r->reason);
	json_key(&w, "up");
	json_uint(&w, r->up);
	json_key(&w, "down");
	json_uint(&w, r->down);
	json_key(&w, "ms");
	json_int(&w, r->ms);
	json_end_object(&w);
}

int log_send(const struct log_record *r)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;
	struct timespec now;
	ssize_t n;

	if (atomic_load(&log_broken) || log_fd < 0)
		return -1;
	clock_gettime(CLOCK_REALTIME, &now);
	log_format(r, log_agent, log_run, &now, &sb);
	/* Six fields of at most LOG_FIELD_MAX bytes, each escaped to at most 6 bytes a byte... */
	if (sb.len > NETPROTO_RECORD_MAX) {
		struct log_record cut = *r;

		/* ...could pass the limit in theory: send a shorter record rather than none. */
		cut.dest = "";
		cut.reason = "record too long";
		strbuf_reset(&sb);
		log_format(&cut, log_agent, log_run, &now, &sb);
	}
	do
		n = send(log_fd, sb.buf, sb.len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sb.len) {
		atomic_store(&log_broken, true);
		return -1;
	}
	return 0;
}

void log_proxy(bool allowed, const char *fmt, ...)
{
	autostrbuf struct strbuf reason = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&reason, fmt, ap);
	va_end(ap);
	log_send(&(struct log_record){
		.kind = "proxy",
		.dest = "",
		.addr = "",
		.allowed = allowed,
		.reason = reason.buf,
	});
}

bool log_usable(void)
{
	struct pollfd pfd = { .fd = log_fd, .events = POLLIN };

	if (atomic_load(&log_broken) || log_fd < 0)
		return false;
	/* au never writes after the policy: readable (EOF) or hung up means it is gone. */
	if (poll(&pfd, 1, 0) > 0) {
		atomic_store(&log_broken, true);
		return false;
	}
	return true;
}

void log_mark_broken(void)
{
	atomic_store(&log_broken, true);
}
