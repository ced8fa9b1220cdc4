/* cmd-net.c: au net mode|allow|disallow|list|log: the agent's network and its connection log. */
#include "agent.h"
#include "au.h"
#include "config.h"
#include "json.h"
#include "net.h"
#include "netlog.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char net_usage[] =
	"Usage: au net mode [-a NAME] none|allow|all|host\n"
	"       au net allow [-a NAME] PATTERN...\n"
	"       au net disallow [-a NAME] PATTERN...\n"
	"       au net list [-a NAME] [--json]\n"
	"       au net log [-a NAME] [-f] [--json]\n"
	"\n"
	"The agent's network. In modes none, allow and all it runs in a network\n"
	"namespace of its own with only loopback up; in allow and all, au's proxy\n"
	"carries its connections (HTTP and SOCKS5 proxies, DNS, and capture of ports\n"
	"22, 80, 443 and each listed port for tools that ignore proxy variables), and\n"
	"logs each one.\n"
	"\n"
	"  none   no network at all\n"
	"  allow  only the destinations listed with 'au net allow'\n"
	"  all    any public destination (the default); never this machine's own\n"
	"         addresses, loopback, private ranges or cloud metadata, unless listed\n"
	"  host   the host's network, as the agent's user: no namespace, no proxy,\n"
	"         no log (for what the proxy cannot carry)\n"
	"\n"
	"Patterns: example.com, *.example.com (its subdomains, not itself), either\n"
	"with :PORT; localhost:PORT (a port of your own machine, on purpose);\n"
	"192.0.2.7[:PORT] and [2001:db8::7][:PORT].\n"
	"\n"
	"  -a, --agent NAME  the agent (default: agent)\n"
	"  -f, --follow      with log: keep printing records as they come\n"
	"      --json        with list and log: JSON (log: the records as stored)\n"
	"  -h, --help        show this help\n";

struct net_opts {
	const char *agent;
	bool follow;
	bool json;
};

/* Options of every subcommand; -f for log, --json for list and log. */
static void parse_net_options(int argc, char **argv, const char *verb, struct net_opts *o)
{
	static const struct option options[] = {
		{ "agent", required_argument, NULL, 'a' },
		{ "follow", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, ":a:fh", options, NULL)) != -1) {
		switch (c) {
		case 'a':
			o->agent = optarg;
			break;
		case 'f':
			if (strcmp(verb, "log"))
				die_usage("net %s: unknown option '-f'", verb);
			o->follow = true;
			break;
		case 'j':
			if (strcmp(verb, "log") && strcmp(verb, "list"))
				die_usage("net %s: unknown option '--json'", verb);
			o->json = true;
			break;
		case 'h':
			fputs(net_usage, stdout);
			exit(EXIT_OK);
		default:
			die_bad_option(c, argv, "net");
		}
	}
}

static const char *mode_meaning(enum au_net_mode mode)
{
	switch (mode) {
	case AU_NET_NONE:
		return "no network";
	case AU_NET_ALLOW:
		return "only what is listed";
	case AU_NET_ALL:
		return "any public destination";
	case AU_NET_HOST:
		return "the host's network, no proxy, no log";
	}
	return "";
}

static int net_mode(int argc, char **argv, struct au_ctx *ctx)
{
	struct net_opts o = { 0 };
	enum au_net_mode mode;
	autofree char *shown = NULL;
	struct agent *a;

	parse_net_options(argc, argv, "mode", &o);
	if (optind >= argc)
		die_usage("net mode: missing MODE (" AU_NET_MODE_NAMES ")");
	if (argc - optind > 1)
		die_usage("net mode: unexpected argument '%s'", argv[optind + 1]);
	if (au_net_mode_parse(argv[optind], &mode) < 0) {
		shown = escape_display(argv[optind]);
		die_usage("net mode: bad mode '%s': use " AU_NET_MODE_NAMES, shown);
	}
	a = au_setup(ctx, o.agent);
	agent_net_set_mode(a, au_net_mode_name(mode));
	config_save(&ctx->cfg);
	shown = escape_display(a->user_name);
	printf("Network mode of agent %s: %s (%s)\n", shown, au_net_mode_name(mode), mode_meaning(mode));
	if (mode == AU_NET_ALLOW && !a->nr_net_allow)
		hint("nothing is listed yet: 'au net allow -a %s example.com'", shown);
	if (mode == AU_NET_HOST)
		hint("'au run' says so at every run; 'au net mode -a %s all' goes back to the default", shown);
	return EXIT_OK;
}

/* Each operand as a canonical pattern, or a usage error before anything is loaded. */
static char **canonical_operands(int argc, char **argv, const char *verb, size_t *nr)
{
	char **v;

	if (optind >= argc)
		die_usage("net %s: missing PATTERN", verb);
	*nr = (size_t)(argc - optind);
	v = xcalloc(*nr + 1, sizeof(*v));
	for (size_t i = 0; i < *nr; i++) {
		char canonical[NET_PATTERN_TEXT_MAX];
		const char *why;

		if (au_net_pattern_canonical(argv[optind + (int)i], canonical, &why) < 0) {
			autofree char *shown = escape_display(argv[optind + (int)i]);

			die_usage("net %s: bad pattern '%s': %s", verb, shown, why);
		}
		v[i] = xstrdup(canonical);
	}
	return v;
}

static void free_patterns(char **v, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		free(v[i]);
	free(v);
}

static bool listed(char *const *v, size_t nr, const char *pattern)
{
	for (size_t i = 0; i < nr; i++) {
		if (!strcmp(v[i], pattern))
			return true;
	}
	return false;
}

static int net_allow(int argc, char **argv, struct au_ctx *ctx)
{
	struct net_opts o = { 0 };
	autostrbuf struct strbuf why = STRBUF_INIT;
	autostrvec struct strvec all = STRVEC_INIT;
	autofree char *shown = NULL;
	enum au_net_mode mode;
	size_t nr;
	char **patterns;
	struct agent *a;

	parse_net_options(argc, argv, "allow", &o);
	patterns = canonical_operands(argc, argv, "allow", &nr);
	a = au_setup(ctx, o.agent);
	shown = escape_display(a->user_name);
	/* The whole new list is checked before anything is stored. */
	for (size_t i = 0; i < a->nr_net_allow; i++)
		strvec_push(&all, a->net_allow[i]);
	for (size_t i = 0; i < nr; i++) {
		if (!listed(all.v, all.nr, patterns[i]))
			strvec_push(&all, patterns[i]);
	}
	if (au_net_check_list(a->user_name, all.v, all.nr, &why) < 0) {
		free_patterns(patterns, nr);
		error("cannot allow that for agent '%s': %s", shown, why.buf);
		hint("'au net list -a %s' shows what is allowed; 'au net disallow' takes patterns away", shown);
		exit(EXIT_FAIL);
	}
	for (size_t i = 0; i < nr; i++) {
		struct net_pattern p;
		const char *reason;

		if (!agent_net_allow(a, patterns[i])) {
			printf("%s was allowed already for agent %s\n", patterns[i], shown);
			continue;
		}
		printf("Allowed %s for agent %s\n", patterns[i], shown);
		if (net_pattern_parse(patterns[i], &p, &reason) == 0 && p.port && au_net_port_is_proxys(p.port))
			hint("port %u is the proxy's own in the agent's namespace: tools reach %s through the "
			     "proxy variables, not by capture", p.port, patterns[i]);
	}
	free_patterns(patterns, nr);
	config_save(&ctx->cfg);
	mode = agent_net_mode(a);
	if (mode == AU_NET_NONE || mode == AU_NET_HOST)
		hint("agent %s is in network mode %s: the list applies in modes allow and all "
		     "('au net mode -a %s allow')", shown, au_net_mode_name(mode), shown);
	return EXIT_OK;
}

static int net_disallow(int argc, char **argv, struct au_ctx *ctx)
{
	struct net_opts o = { 0 };
	autofree char *shown = NULL;
	size_t nr;
	char **patterns;
	struct agent *a;

	parse_net_options(argc, argv, "disallow", &o);
	patterns = canonical_operands(argc, argv, "disallow", &nr);
	a = au_setup(ctx, o.agent);
	shown = escape_display(a->user_name);
	/* All of them, or none: a pattern that is not there changes nothing. */
	for (size_t i = 0; i < nr; i++) {
		if (!listed(a->net_allow, a->nr_net_allow, patterns[i])) {
			error("%s is not allowed for agent %s", patterns[i], shown);
			hint("'au net list -a %s' shows what is allowed", shown);
			free_patterns(patterns, nr);
			exit(EXIT_FAIL);
		}
	}
	for (size_t i = 0; i < nr; i++) {
		if (agent_net_disallow(a, patterns[i]))
			printf("Disallowed %s for agent %s\n", patterns[i], shown);
	}
	free_patterns(patterns, nr);
	config_save(&ctx->cfg);
	return EXIT_OK;
}

static int net_list(int argc, char **argv, struct au_ctx *ctx)
{
	struct net_opts o = { 0 };
	enum au_net_mode mode;
	autofree char *shown = NULL;
	struct agent *a;

	parse_net_options(argc, argv, "list", &o);
	if (optind < argc)
		die_usage("net list: unexpected argument '%s'", argv[optind]);
	a = au_setup(ctx, o.agent);
	mode = agent_net_mode(a);
	if (o.json) {
		autostrbuf struct strbuf sb = STRBUF_INIT;
		struct json_writer w;

		json_init(&w, &sb);
		json_begin_object(&w);
		json_key(&w, "agent");
		json_string(&w, a->user_name);
		json_key(&w, "mode");
		json_string(&w, au_net_mode_name(mode));
		json_key(&w, "allow");
		json_begin_array(&w);
		for (size_t i = 0; i < a->nr_net_allow; i++)
			json_string(&w, a->net_allow[i]);
		json_end_array(&w);
		json_end_object(&w);
		/* Patterns and modes are checked on load (printable ASCII); the name is escaped by the writer. */
		printf("%s\n", strbuf_str(&sb));
		return EXIT_OK;
	}
	shown = escape_display(a->user_name);
	printf("Network of agent %s: %s (%s)\n", shown, au_net_mode_name(mode), mode_meaning(mode));
	if (!a->nr_net_allow)
		printf("Nothing is listed.\n");
	for (size_t i = 0; i < a->nr_net_allow; i++) {
		autofree char *pattern = escape_display(a->net_allow[i]);

		printf("  %s\n", pattern);
	}
	return EXIT_OK;
}

/* ---- au net log ---- */

struct log_reader {
	const char *agent;
	bool json;
	struct strbuf partial; /* a line not ended yet */
	size_t bad;           /* lines that are not this agent's records */
};

static void show_line(struct log_reader *lr, const char *line, size_t len)
{
	autostrbuf struct strbuf out = STRBUF_INIT;
	struct net_record r;
	const char *why;

	if (!len)
		return;
	/*
	 * The log is the human's file, but what it holds came from a process
	 * of the agent's: nothing goes to the terminal before it parses again.
	 */
	if (net_record_parse(line, len, lr->agent, NULL, &r, &why) < 0) {
		lr->bad++;
		return;
	}
	if (lr->json)
		net_record_to_json(&r, &out);
	else
		net_record_to_text(&r, &out);
	net_record_release(&r);
	printf("%s\n", out.buf);
}

/* Shows every whole line read from fd; keeps a last line without its newline for later. */
static int show_from(struct log_reader *lr, int fd)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		const char *p = buf, *end = buf + n, *nl;

		while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
			if (lr->partial.len) {
				strbuf_add(&lr->partial, p, (size_t)(nl - p));
				show_line(lr, lr->partial.buf, lr->partial.len);
				strbuf_reset(&lr->partial);
			} else {
				show_line(lr, p, (size_t)(nl - p));
			}
			p = nl + 1;
		}
		/* A record is at most a few kilobytes: more without a newline is not one. */
		if (lr->partial.len + (size_t)(end - p) > 65536) {
			lr->bad++;
			strbuf_reset(&lr->partial);
		} else {
			strbuf_add(&lr->partial, p, (size_t)(end - p));
		}
	}
	fflush(stdout);
	return n < 0 ? -1 : 0;
}

/* Opens a log; -1 with errno ENOENT when there is none, dies on anything else. */
static int open_log(const char *path)
{
	autostrbuf struct strbuf why = STRBUF_INIT;
	int fd = netlog_open_read(path, &why);

	if (fd < 0 && errno != ENOENT) {
		autofree char *shown = escape_display(path);

		die("cannot read the network log '%s': %s", shown, why.len ? why.buf : strerror(errno));
	}
	return fd;
}

/* Waits for more in the log, or for a new log (rotated): returns the fd to go on with. */
static int follow(struct log_reader *lr, const char *path, int fd)
{
	for (;;) {
		struct stat now, mine;
		int fresh;

		poll(NULL, 0, 250);
		if (show_from(lr, fd) < 0)
			die_errno("cannot read the network log");
		if (fstat(fd, &mine) < 0 || stat(path, &now) < 0 || (now.st_dev == mine.st_dev && now.st_ino == mine.st_ino))
			continue;
		/* Rotated: the rest of the old one, then the new one from its start. */
		fresh = open_log(path);
		if (fresh < 0)
			continue;
		show_from(lr, fd);
		strbuf_reset(&lr->partial);
		close(fd);
		fd = fresh;
		if (show_from(lr, fd) < 0)
			die_errno("cannot read the network log");
	}
}

static int net_log(int argc, char **argv, struct au_ctx *ctx)
{
	struct net_opts o = { 0 };
	struct log_reader lr = { .partial = STRBUF_INIT };
	autofree char *path = NULL;
	autofree char *older = NULL;
	autofree char *shown = NULL;
	autoclose int old_fd = -1;
	autoclose int fd = -1;
	struct agent *a;

	parse_net_options(argc, argv, "log", &o);
	if (optind < argc)
		die_usage("net log: unexpected argument '%s'", argv[optind]);
	a = au_setup(ctx, o.agent);
	lr.agent = a->user_name;
	lr.json = o.json;
	path = netlog_path(a->user_name);
	older = xasprintf("%s.1", path);
	shown = escape_display(a->user_name);
	old_fd = open_log(older);
	fd = open_log(path);
	if (fd < 0 && old_fd < 0 && !o.follow) {
		printf("No connections logged for agent %s yet.\n", shown);
		return EXIT_OK;
	}
	if (old_fd >= 0 && show_from(&lr, old_fd) < 0)
		die_errno("cannot read the network log");
	strbuf_reset(&lr.partial);
	if (fd >= 0 && show_from(&lr, fd) < 0)
		die_errno("cannot read the network log");
	if (lr.bad) {
		autofree char *shown_path = escape_display(path);

		warn("%zu line%s of '%s' %s not a record of agent %s: not shown", lr.bad, lr.bad == 1 ? "" : "s",
		     shown_path, lr.bad == 1 ? "is" : "are", shown);
	}
	if (o.follow) {
		while (fd < 0) {
			poll(NULL, 0, 250);
			fd = open_log(path);
		}
		follow(&lr, path, steal_fd(&fd));
	}
	strbuf_release(&lr.partial);
	return EXIT_OK;
}

static const struct net_command {
	const char *name;
	int (*fn)(int argc, char **argv, struct au_ctx *ctx);
	unsigned setup;
} net_commands[] = {
	{ "mode", net_mode, NEED_AGENT | LOCK_WRITE },
	{ "allow", net_allow, NEED_AGENT | LOCK_WRITE },
	{ "disallow", net_disallow, NEED_AGENT | LOCK_WRITE },
	{ "list", net_list, NEED_AGENT | LOCK_READ },
	/* No lock: -f may follow for hours, and the config is only read once. */
	{ "log", net_log, NEED_AGENT },
};

int cmd_net(int argc, char **argv, struct au_ctx *ctx)
{
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(net_usage, stdout);
		return EXIT_OK;
	}
	if (argc < 2)
		die_usage("net: missing subcommand (mode, allow, disallow, list or log)");
	for (size_t i = 0; i < ARRAY_SIZE(net_commands); i++) {
		if (!strcmp(argv[1], net_commands[i].name)) {
			ctx->setup = net_commands[i].setup;
			return net_commands[i].fn(argc - 1, argv + 1, ctx);
		}
	}
	die_usage("net: unknown subcommand '%s'", argv[1]);
}
