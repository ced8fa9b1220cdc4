/* netlog.c: the agent's connection log: records checked, stored and shown (see netlog.h). */
#include "netlog.h"
#include "netproto.h"
#include "util.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void net_record_release(struct net_record *r)
{
	free(r->time);
	free(r->agent);
	free(r->run);
	free(r->kind);
	free(r->dest);
	free(r->addr);
	free(r->decision);
	free(r->reason);
	memset(r, 0, sizeof(*r));
}

/* ---- a strict reader for one flat JSON object ---- */

struct json_in {
	const char *p, *end;
};

static void skip_space(struct json_in *in)
{
	while (in->p < in->end && (*in->p == ' ' || *in->p == '\t' || *in->p == '\n' || *in->p == '\r'))
		in->p++;
}

static bool take(struct json_in *in, char c)
{
	skip_space(in);
	if (in->p < in->end && *in->p == c) {
		in->p++;
		return true;
	}
	return false;
}

static void add_utf8(struct strbuf *out, uint32_t cp)
{
	if (cp < 0x80) {
		strbuf_addch(out, (char)cp);
	} else if (cp < 0x800) {
		strbuf_addch(out, (char)(0xc0 | (cp >> 6)));
		strbuf_addch(out, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		strbuf_addch(out, (char)(0xe0 | (cp >> 12)));
		strbuf_addch(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
		strbuf_addch(out, (char)(0x80 | (cp & 0x3f)));
	} else {
		strbuf_addch(out, (char)(0xf0 | (cp >> 18)));
		strbuf_addch(out, (char)(0x80 | ((cp >> 12) & 0x3f)));
		strbuf_addch(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
		strbuf_addch(out, (char)(0x80 | (cp & 0x3f)));
	}
}

/* One UTF-8 character at s (at most n bytes): its length, or 0 when it is not valid UTF-8. */
static size_t utf8_char(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2, min = 0x80, *cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3, min = 0x800, *cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4, min = 0x10000, *cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and what lies past Unicode are not characters. */
	if (*cp < min || (*cp >= 0xd800 && *cp <= 0xdfff) || *cp > 0x10ffff)
		return 0;
	return len;
}

static int hex4(struct json_in *in, uint32_t *v)
{
	*v = 0;
	if (in->end - in->p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = *in->p++;

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

/* A JSON string, decoded to UTF-8: no NUL, no raw control byte, nothing that is not a character. */
static int read_string(struct json_in *in, struct strbuf *out)
{
	if (!take(in, '"'))
		return -1;
	while (in->p < in->end) {
		unsigned char c = (unsigned char)*in->p;
		uint32_t cp;

		if (c == '"') {
			in->p++;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c != '\\') {
			size_t len = utf8_char((const unsigned char *)in->p, (size_t)(in->end - in->p), &cp);

			if (!len)
				return -1;
			strbuf_add(out, in->p, len);
			in->p += len;
			continue;
		}
		if (++in->p >= in->end)
			return -1;
		switch (*in->p++) {
		case '"': strbuf_addch(out, '"'); break;
		case '\\': strbuf_addch(out, '\\'); break;
		case '/': strbuf_addch(out, '/'); break;
		case 'b': strbuf_addch(out, '\b'); break;
		case 'f': strbuf_addch(out, '\f'); break;
		case 'n': strbuf_addch(out, '\n'); break;
		case 'r': strbuf_addch(out, '\r'); break;
		case 't': strbuf_addch(out, '\t'); break;
		case 'u':
			if (hex4(in, &cp) < 0)
				return -1;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				uint32_t low;

				if (in->end - in->p < 2 || in->p[0] != '\\' || in->p[1] != 'u')
					return -1;
				in->p += 2;
				if (hex4(in, &low) < 0 || low < 0xdc00 || low > 0xdfff)
					return -1;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
			} else if ((cp >= 0xdc00 && cp <= 0xdfff) || cp == 0) {
				return -1;
			}
			add_utf8(out, cp);
			break;
		default:
			return -1;
		}
	}
	return -1;
}

/* A non-negative JSON integer (no fraction, no exponent, no leading zero). */
static int read_count(struct json_in *in, uint64_t max, uint64_t *v)
{
	skip_space(in);
	*v = 0;
	if (in->p >= in->end || *in->p < '0' || *in->p > '9')
		return -1;
	if (*in->p == '0' && in->p + 1 < in->end && in->p[1] >= '0' && in->p[1] <= '9')
		return -1;
	while (in->p < in->end && *in->p >= '0' && *in->p <= '9') {
		unsigned d = (unsigned)(*in->p++ - '0');

		if (*v > (max - d) / 10)
			return -1;
		*v = *v * 10 + d;
	}
	return 0;
}

enum record_field { F_TIME, F_AGENT, F_RUN, F_KIND, F_DEST, F_ADDR, F_DECISION, F_REASON, F_UP, F_DOWN, F_MS, F_NR };

static const char *const field_names[F_NR] = {
	"time", "agent", "run", "kind", "dest", "addr", "decision", "reason", "up", "down", "ms",
};

static char **string_field(struct net_record *r, enum record_field f)
{
	switch (f) {
	case F_TIME: return &r->time;
	case F_AGENT: return &r->agent;
	case F_RUN: return &r->run;
	case F_KIND: return &r->kind;
	case F_DEST: return &r->dest;
	case F_ADDR: return &r->addr;
	case F_DECISION: return &r->decision;
	case F_REASON: return &r->reason;
	default: return NULL;
	}
}

static bool one_of(const char *s, const char *const *list)
{
	for (; *list; list++) {
		if (!strcmp(s, *list))
			return true;
	}
	return false;
}

/* "2026-12-01T20:26:36.123Z", as the proxy writes it. */
static bool valid_time(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";

	if (strlen(s) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i]; i++) {
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return false;
	}
	return true;
}

static int parse_fields(struct json_in *in, struct net_record *r, const char **why)
{
	bool seen[F_NR] = { false };
	autostrbuf struct strbuf key = STRBUF_INIT;

	/*
	 * Always given. Said for scan-build, which otherwise takes the NULL
	 * of string_field() for a number field as r being NULL (&r->time is r).
	 */
	assert(r);
	if (!take(in, '{')) {
		*why = "not a JSON object";
		return -1;
	}
	for (size_t n = 0; n < F_NR; n++) {
		enum record_field f;
		char **s;

		if (n && !take(in, ',')) {
			*why = "a field is missing";
			return -1;
		}
		strbuf_reset(&key);
		if (read_string(in, &key) < 0 || !take(in, ':')) {
			*why = "not a JSON object of strings and numbers";
			return -1;
		}
		for (f = 0; f < F_NR && strcmp(strbuf_str(&key), field_names[f]); f++)
			;
		if (f == F_NR || strlen(strbuf_str(&key)) != key.len) {
			*why = "a field au does not know";
			return -1;
		}
		if (seen[f]) {
			*why = "a field given twice";
			return -1;
		}
		seen[f] = true;
		s = string_field(r, f);
		if (s) {
			struct strbuf value = STRBUF_INIT;

			if (read_string(in, &value) < 0) {
				strbuf_release(&value);
				*why = "a string field that is not a valid string";
				return -1;
			}
			*s = strbuf_detach(&value);
		} else {
			uint64_t v;

			if (read_count(in, f == F_MS ? INT64_MAX : UINT64_MAX, &v) < 0) {
				*why = "a number field that is not a count";
				return -1;
			}
			if (f == F_UP)
				r->up = v;
			else if (f == F_DOWN)
				r->down = v;
			else
				r->ms = (int64_t)v;
		}
	}
	if (!take(in, '}')) {
		*why = "more fields than a record has";
		return -1;
	}
	skip_space(in);
	if (in->p != in->end) {
		*why = "something after the record";
		return -1;
	}
	return 0;
}

int net_record_parse(const char *text, size_t len, const char *agent, const char *run, struct net_record *r,
		     const char **why)
{
	static const char *const kinds[] = { "connect", "http", "socks", "capture", "dns", "proxy", NULL };
	static const char *const decisions[] = { "allow", "deny", NULL };
	struct json_in in = { text, text + len };
	bool anonymous;

	memset(r, 0, sizeof(*r));
	if (len > NETPROTO_RECORD_MAX) {
		*why = "longer than a record may be";
		return -1;
	}
	if (parse_fields(&in, r, why) < 0)
		goto fail;
	if (!valid_time(r->time)) {
		*why = "a time that is not the proxy's";
		goto fail;
	}
	if (!one_of(r->kind, kinds)) {
		*why = "an unknown kind";
		goto fail;
	}
	if (!one_of(r->decision, decisions)) {
		*why = "a decision that is neither allow nor deny";
		goto fail;
	}
	/* The proxy refuses to start before it has read who it serves. */
	anonymous = !strcmp(r->kind, "proxy") && !strcmp(r->decision, "deny") && !r->agent[0] && !r->run[0];
	if (!anonymous && ((agent && strcmp(r->agent, agent)) || (run && strcmp(r->run, run)))) {
		*why = "another agent's or another run's";
		goto fail;
	}
	return 0;
fail:
	net_record_release(r);
	return -1;
}

/* ---- writing ---- */

/* A JSON string in ASCII: quotes, backslash and control bytes escaped, every other character as \uXXXX. */
static void json_ascii(struct strbuf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	strbuf_addch(out, '"');
	while (n) {
		uint32_t cp;
		size_t len = utf8_char(p, n, &cp);

		if (!len) { /* cannot happen for a parsed record; keep the output valid anyway */
			cp = 0xfffd;
			len = 1;
		}
		p += len;
		n -= len;
		if (cp == '"' || cp == '\\') {
			strbuf_addch(out, '\\');
			strbuf_addch(out, (char)cp);
		} else if (cp >= 0x20 && cp < 0x7f) {
			strbuf_addch(out, (char)cp);
		} else if (cp < 0x10000) {
			strbuf_addf(out, "\\u%04x", (unsigned)cp);
		} else {
			cp -= 0x10000;
			strbuf_addf(out, "\\u%04x\\u%04x", (unsigned)(0xd800 + (cp >> 10)), (unsigned)(0xdc00 + (cp & 0x3ff)));
		}
	}
	strbuf_addch(out, '"');
}

void net_record_to_json(const struct net_record *r, struct strbuf *out)
{
	struct net_record *w = (struct net_record *)r;

	strbuf_addch(out, '{');
	for (enum record_field f = 0; f < F_NR; f++) {
		char **s = string_field(w, f);

		if (f)
			strbuf_addch(out, ',');
		strbuf_addf(out, "\"%s\":", field_names[f]);
		if (s)
			json_ascii(out, *s);
		else
			strbuf_addf(out, "%llu", (unsigned long long)(f == F_UP ? r->up : f == F_DOWN ? r->down
											   : (uint64_t)r->ms));
	}
	strbuf_addch(out, '}');
}

static void add_escaped(struct strbuf *out, const char *s)
{
	autofree char *shown = escape_display(s);

	strbuf_addstr(out, shown);
}

static void add_bytes(struct strbuf *out, uint64_t n)
{
	static const char *const units[] = { "kB", "MB", "GB", "TB" };
	double v = (double)n;
	size_t u = 0;

	if (n < 1000) {
		strbuf_addf(out, "%llu B", (unsigned long long)n);
		return;
	}
	for (v /= 1000; v >= 999.95 && u + 1 < ARRAY_SIZE(units); u++)
		v /= 1000;
	strbuf_addf(out, "%.1f %s", v, units[u]);
}

void net_record_to_text(const struct net_record *r, struct strbuf *out)
{
	/* Bytes and time say something for a connection that was carried. */
	bool carried = strcmp(r->kind, "dns") && strcmp(r->kind, "proxy") && !strcmp(r->decision, "allow");
	size_t start = out->len;

	/* "2026-12-01 20:26:36.123" (UTC, as the proxy stamped it). */
	add_escaped(out, r->time);
	if (out->len - start > 10 && out->buf[start + 10] == 'T')
		out->buf[start + 10] = ' ';
	if (out->len > start && out->buf[out->len - 1] == 'Z')
		out->len--;
	strbuf_addstr(out, "  run ");
	add_escaped(out, r->run[0] ? r->run : "-");
	strbuf_addf(out, "  %-5s  %-7s", r->decision, r->kind);
	if (r->dest[0]) {
		strbuf_addstr(out, "  ");
		add_escaped(out, r->dest);
	}
	if (r->addr[0]) {
		strbuf_addstr(out, " -> ");
		add_escaped(out, r->addr);
	}
	if (carried && (r->up || r->down || r->ms)) {
		strbuf_addstr(out, "  up ");
		add_bytes(out, r->up);
		strbuf_addstr(out, ", down ");
		add_bytes(out, r->down);
		strbuf_addf(out, ", %lld ms", (long long)r->ms);
	}
	if (r->reason[0]) {
		strbuf_addstr(out, "  (");
		add_escaped(out, r->reason);
		strbuf_addch(out, ')');
	}
	/* The kinds and decisions were checked, but say it by construction: nothing raw. */
	for (size_t i = start; i < out->len; i++) {
		if ((unsigned char)out->buf[i] < 0x20 || (unsigned char)out->buf[i] >= 0x7f)
			out->buf[i] = '?';
	}
}

bool net_record_is_start(const struct net_record *r)
{
	return !strcmp(r->kind, "proxy") && !strcmp(r->decision, "allow") && !strncmp(r->reason, "started:", 8);
}

bool net_record_is_stop(const struct net_record *r)
{
	return !strcmp(r->kind, "proxy") && !strcmp(r->decision, "allow") && !strncmp(r->reason, "stopped:", 8);
}

/* ---- the log file ---- */

static const char *const state_dirs[] = { ".local", "state", "au", "net" };
#define NETLOG_SUFFIX ".log"

static char *human_home(void)
{
	const struct passwd *pw = getpwuid(getuid());

	if (!pw || pw->pw_dir[0] != '/')
		die("cannot find the home directory of uid %u", (unsigned)getuid());
	return xstrdup(pw->pw_dir);
}

char *netlog_dir(void)
{
	autofree char *home = human_home();

	return xasprintf("%s/.local/state/au/net", home);
}

char *netlog_path(const char *agent)
{
	autofree char *dir = netlog_dir();

	return xasprintf("%s/%s" NETLOG_SUFFIX, dir, agent);
}

/* Only the human (and the human's own group) could change it. */
static bool humans_alone(const struct stat *st)
{
	return st->st_uid == getuid() && !(st->st_mode & S_IWOTH) &&
	       (!(st->st_mode & S_IWGRP) || st->st_gid == getgid());
}

/*
 * ~/.local/state/au/net, one folder at a time from the home, each opened
 * without following a symlink and checked to be the human's; with create,
 * missing ones are made 0700. -1 with errno ENOENT when one is missing.
 */
static int open_state_dir(bool create, struct strbuf *why)
{
	autofree char *home = human_home();
	autostrbuf struct strbuf sofar = STRBUF_INIT;
	int dirfd = open(home, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (dirfd < 0) {
		strbuf_addf(why, "cannot open your home '%s': %s", home, strerror(errno));
		return -1;
	}
	strbuf_addstr(&sofar, "~");
	for (size_t i = 0; i < ARRAY_SIZE(state_dirs); i++) {
		struct stat st;
		int fd;

		strbuf_addf(&sofar, "/%s", state_dirs[i]);
		fd = openat(dirfd, state_dirs[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && create) {
			if (mkdirat(dirfd, state_dirs[i], 0700) < 0 && errno != EEXIST) {
				strbuf_addf(why, "cannot create '%s': %s", sofar.buf, strerror(errno));
				close(dirfd);
				return -1;
			}
			fd = openat(dirfd, state_dirs[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (fd < 0) {
			int err = errno;

			if (err != ENOENT)
				strbuf_addf(why, "cannot open '%s': %s", sofar.buf,
					    err == ELOOP || err == ENOTDIR ? "not a folder (a symlink?)" : strerror(err));
			close(dirfd);
			errno = err;
			return -1;
		}
		close(dirfd);
		dirfd = fd;
		if (fstat(fd, &st) < 0 || !humans_alone(&st)) {
			strbuf_addf(why, "'%s' is not yours alone (owner uid %u, mode %04o)", sofar.buf,
				    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
			close(fd);
			errno = EPERM;
			return -1;
		}
	}
	return dirfd;
}

/* The log file in dir_fd, opened with flags, checked to be a private regular file of the human's with one link. */
static int open_log_file(int dir_fd, const char *name, int flags, struct strbuf *why)
{
	struct stat st;
	int fd = openat(dir_fd, name, flags | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0600);

	if (fd < 0) {
		int err = errno;

		if (err != ENOENT)
			strbuf_addf(why, "cannot open '%s': %s", name,
				    err == ELOOP ? "it is a symlink" : strerror(err));
		errno = err;
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 || !humans_alone(&st)) {
		strbuf_addf(why, "'%s' is not a private file of yours with one link", name);
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

int netlog_open_append(const char *agent, struct strbuf *why)
{
	autofree char *name = xasprintf("%s" NETLOG_SUFFIX, agent);
	autofree char *old = xasprintf("%s" NETLOG_SUFFIX ".1", agent);
	autoclose int dir_fd = open_state_dir(true, why);
	struct stat st;
	int fd;

	if (dir_fd < 0)
		return -1;
	fd = open_log_file(dir_fd, name, O_WRONLY | O_APPEND | O_CREAT, why);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= (off_t)NETLOG_ROTATE_SIZE)
		return fd;
	/* Big enough: it becomes AGENT.log.1 (the one before goes), and a new one starts. */
	close(fd);
	if (renameat(dir_fd, name, dir_fd, old) < 0) {
		strbuf_addf(why, "cannot rename '%s': %s", name, strerror(errno));
		return -1;
	}
	return open_log_file(dir_fd, name, O_WRONLY | O_APPEND | O_CREAT, why);
}

int netlog_open_read(const char *path, struct strbuf *why)
{
	autofree char *dir = netlog_dir();
	size_t n = strlen(dir);
	autoclose int dir_fd = -1;

	if (strncmp(path, dir, n) || path[n] != '/' || strchr(path + n + 1, '/')) {
		strbuf_addf(why, "'%s' is not in '%s'", path, dir);
		errno = EINVAL;
		return -1;
	}
	dir_fd = open_state_dir(false, why);
	if (dir_fd < 0)
		return -1;
	return open_log_file(dir_fd, path + n + 1, O_RDONLY, why);
}

/* ---- the reader ---- */

static void take_record(struct netlog_reader *r, const char *buf, size_t n)
{
	struct net_record rec;
	autostrbuf struct strbuf line = STRBUF_INIT;
	const char *why;

	if (n > NETPROTO_RECORD_MAX || net_record_parse(buf, n, r->agent, r->run, &rec, &why) < 0) {
		r->malformed++;
		return;
	}
	if (net_record_is_start(&rec))
		r->started = true;
	else if (net_record_is_stop(&rec))
		r->stopped = true;
	else if (!r->started && !r->failure && !strcmp(rec.kind, "proxy") && !strcmp(rec.decision, "deny"))
		r->failure = xstrdup(rec.reason);
	net_record_to_json(&rec, &line);
	strbuf_addch(&line, '\n');
	net_record_release(&rec);
	if (r->write_error)
		return;
	if (write_all(r->log_fd, line.buf, line.len) < 0) {
		/* A record nobody keeps: close the channel, and the proxy refuses every new connection. */
		r->write_error = errno ? errno : EIO;
		shutdown(r->fd, SHUT_RDWR);
		return;
	}
	r->records++;
}

/* Takes one record: 1, 0 when none is there yet, -1 at the end of the channel (or when it cannot be read). */
static int read_one(struct netlog_reader *r, char *buf)
{
	ssize_t n;

	do
		n = recv(r->fd, buf, NETPROTO_RECORD_MAX + 1, MSG_TRUNC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		r->eof = true;
		return -1;
	}
	take_record(r, buf, (size_t)n);
	return 1;
}

static void *reader_thread(void *arg)
{
	struct netlog_reader *r = arg;
	autofree char *buf = xmalloc(NETPROTO_RECORD_MAX + 1);

	for (;;) {
		struct pollfd pfd[2] = { { .fd = r->fd, .events = POLLIN }, { .fd = r->stop[0], .events = POLLIN } };

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents && read_one(r, buf) < 0)
			break;
		/* Asked to stop: netlog_reader_finish() takes what is left. */
		if (pfd[1].revents)
			break;
	}
	return NULL;
}

void netlog_reader_start(struct netlog_reader *r, int channel_fd, int log_fd, const char *agent, const char *run)
{
	sigset_t all, old;
	int err;

	memset(r, 0, sizeof(*r));
	r->fd = channel_fd;
	r->log_fd = log_fd;
	r->agent = agent;
	r->run = run;
	if (pipe2(r->stop, O_CLOEXEC) < 0)
		die_errno("cannot create a pipe");
	/* No signal for this thread: they belong to the main thread's relay and handlers (report.c). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&r->thread, NULL, reader_thread, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		errno = err;
		die_errno("cannot start a thread");
	}
	r->running = true;
}

static int64_t now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/*
 * What is in the channel when the run ends goes in the log, however short
 * the wait; past the wait, no more than a full channel holds (a proxy
 * sends at most its socket buffer ahead, some hundreds of records), so that
 * one that keeps sending cannot hold au.
 */
#define NETLOG_DRAIN_MAX 4096

void netlog_reader_finish(struct netlog_reader *r, int timeout_ms)
{
	autofree char *buf = NULL;
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	size_t taken = 0;

	if (!r->running)
		return;
	close(r->stop[1]);
	r->stop[1] = -1;
	pthread_join(r->thread, NULL);
	r->running = false;
	/*
	 * A proxy that has not said "started" has accepted nothing: it says so
	 * before its first accept, and it checks the agent's lifetime pipe
	 * (EOF by now, but with -k) before it accepts, and this channel (closed
	 * a moment from now) before it carries a connection. There is nothing
	 * more to wait for. One that has is waited for, up to timeout_ms, until
	 * it closes the channel after its last records.
	 */
	buf = xmalloc(NETPROTO_RECORD_MAX + 1);
	for (;;) {
		struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		int got = read_one(r, buf);

		if (got < 0)
			break;
		if (got > 0) {
			if (++taken < NETLOG_DRAIN_MAX || left > 0)
				continue;
			break;
		}
		if (!r->started || left <= 0)
			break;
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			break;
	}
	close(r->fd);
	r->fd = -1;
}

void netlog_reader_release(struct netlog_reader *r)
{
	netlog_reader_finish(r, 0);
	for (int i = 0; i < 2; i++) {
		if (r->stop[i] >= 0)
			close(r->stop[i]);
		r->stop[i] = -1;
	}
	if (r->fd >= 0)
		close(r->fd);
	if (r->log_fd >= 0)
		close(r->log_fd);
	r->fd = r->log_fd = -1;
	free(r->failure);
	r->failure = NULL;
}
