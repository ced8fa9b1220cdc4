/*
 * netlog.h: the agent's connection log, on au's side.
 *
 * au-netproxy sends one record per message over its channel (netproxy/log.h):
 * a JSON object with exactly the fields below. It runs as the agent's uid and
 * parses what the agent sends, so au takes nothing on trust: each record is
 * parsed strictly, checked field by field (the agent and run are this run's),
 * and written again by au, in ASCII with every other character escaped, as
 * one line appended to ~/.local/state/au/net/AGENT.log. What is written is
 * then safe on a terminal as it is ("au net log --json"), and "au net log"
 * prints it readably with every string escaped. A record that does not pass
 * is dropped and counted, never written.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct strbuf;

struct net_record {
	char *time;     /* "2026-12-01T20:26:36.123Z" */
	char *agent;    /* the agent's name ("" in the proxy's start-up refusals) */
	char *run;      /* the run's id (likewise) */
	char *kind;     /* connect, http, socks, capture, dns, proxy */
	char *dest;     /* "name:port" as the agent asked, or "" */
	char *addr;     /* "ip:port" dialed, or "" */
	char *decision; /* allow, deny */
	char *reason;
	uint64_t up, down; /* bytes agent -> upstream, upstream -> agent */
	int64_t ms;        /* duration */
};

void net_record_release(struct net_record *r);

/*
 * Parses one record. agent and run, when not NULL, are what the record must
 * carry (a "proxy" denial may carry none: the proxy refuses before it knows
 * them). Returns 0, or -1 with *why (static) and *r released.
 */
int net_record_parse(const char *text, size_t len, const char *agent, const char *run, struct net_record *r,
		     const char **why);

/* The record as au stores it: one JSON object, ASCII only, fields in a fixed order, no newline. */
void net_record_to_json(const struct net_record *r, struct strbuf *out);
/* The record for a person: one line (no newline), every string escaped. */
void net_record_to_text(const struct net_record *r, struct strbuf *out);

/* The proxy's "started" record: it serves from now on. */
bool net_record_is_start(const struct net_record *r);
/* The proxy's "stopped" record: it leaves because the agent's namespace is gone. */
bool net_record_is_stop(const struct net_record *r);

/* ~/.local/state/au/net, and the log file in it (caller frees). */
char *netlog_dir(void);
char *netlog_path(const char *agent);

/*
 * Opens the agent's log for appending, making ~/.local/state/au/net (0700)
 * when missing, never following a symlink, and only if every folder from the
 * home down and the file are the human's, private, and the file has one
 * link. A log larger than NETLOG_ROTATE_SIZE becomes AGENT.log.1 first.
 * Returns the fd, or -1 with why.
 */
int netlog_open_append(const char *agent, struct strbuf *why);
#define NETLOG_ROTATE_SIZE (16u << 20)

/*
 * Opens a log for reading the same careful way (path: netlog_path(), or its
 * ".1"): -1 with errno ENOENT when there is none, -1 with why otherwise.
 */
int netlog_open_read(const char *path, struct strbuf *why);

/*
 * Reads the proxy's channel in a thread of its own while the agent runs,
 * and appends each record that passes to the log.
 */
struct netlog_reader {
	int fd;       /* au's end of the channel */
	int log_fd;   /* the log, for appending */
	const char *agent, *run;
	int stop[2];  /* a pipe: closing [1] asks the thread to finish */
	pthread_t thread;
	bool running;
	/* What the thread saw, to look at after netlog_reader_finish(). */
	bool started;      /* the proxy said it serves */
	bool stopped;      /* the proxy said it left with the agent */
	bool eof;          /* the proxy closed the channel */
	char *failure;     /* the proxy's refusal, when it did not start (raw: escape it) */
	size_t records;    /* written to the log */
	size_t malformed;  /* dropped */
	int write_error;   /* errno of a failed append: the channel was then shut, the proxy refuses */
};

#define NETLOG_READER_INIT { .fd = -1, .log_fd = -1, .stop = { -1, -1 } }

/* Takes both fds; starts the thread. Dies on failure. */
void netlog_reader_start(struct netlog_reader *r, int channel_fd, int log_fd, const char *agent,
			 const char *run);
/*
 * Once the agent's run is over: takes what the proxy sent, and if it had
 * started serving, waits up to timeout_ms for it to close the channel (it
 * does once the agent's namespace is gone, after its last records). Then
 * closes the channel: from then on the proxy refuses every new connection.
 * Bounded whatever the proxy does: timeout_ms, then a full channel at most.
 */
void netlog_reader_finish(struct netlog_reader *r, int timeout_ms);
void netlog_reader_release(struct netlog_reader *r);
