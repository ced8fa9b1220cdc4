/* cmd-limit.c: au limit set|unset|list: the resource limits of every run of an agent. */
#include "au.h"
#include "config.h"
#include "entrypoint.h"
#include "json.h"
#include "limit.h"
#include "util.h"

#include <getopt.h>
#include <string.h>

static const char limit_usage[] =
	"Usage: au limit set [-a NAME] KEY=VALUE...\n"
	"       au limit unset [-a NAME] KEY...\n"
	"       au limit list [-a NAME] [--json]\n"
	"\n"
	"Limit what each 'au run' of an agent may use. Every run lives in a cgroup of its\n"
	"own (a systemd scope where systemd runs), out of your login session:\n"
	"\n"
	"  memory=SIZE    memory, swap included: 512M, 16G (K, M, G, T: powers of 1024);\n"
	"                 when it runs out, the biggest process is killed, not the agent\n"
	"  cpu=PERCENT%   CPU time, in percent of one CPU: 50%, 150%\n"
	"  tasks=N        processes and threads at once: 512\n"
	"\n"
	"KEY=max is no limit. 'au run --limit KEY=VALUE' overrides one for a single run.\n"
	"Without a tasks limit, the agent's processes and threads are capped at 8192,\n"
	"over all its runs together.\n"
	"\n"
	"  -a, --agent NAME  the agent (default: agent)\n"
	"      --json        with list: one JSON object {\"agent\", \"limits\":\n"
	"                    [{\"key\", \"value\" (as set), \"amount\" (bytes, percent or\n"
	"                    tasks; null for max)}]}\n"
	"  -h, --help        show this help\n";

struct limit_opts {
	const char *agent;
	bool json;
};

/* Options of every subcommand; --json for list. */
static void parse_limit_options(int argc, char **argv, const char *verb, struct limit_opts *o)
{
	static const struct option options[] = {
		{ "agent", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, ":a:h", options, NULL)) != -1) {
		switch (c) {
		case 'a':
			o->agent = optarg;
			break;
		case 'j':
			if (strcmp(verb, "list"))
				die_usage("limit %s: unknown option '--json'", verb);
			o->json = true;
			break;
		case 'h':
			fputs(limit_usage, stdout);
			exit(EXIT_OK);
		default:
			die_bad_option(c, argv, "limit");
		}
	}
}

/* Every operand is checked before anything is loaded: a bad one leaves the config as it was. */
static int limit_set(int argc, char **argv, struct au_ctx *ctx)
{
	struct limit_opts o = { 0 };
	struct agent *a;

	parse_limit_options(argc, argv, "set", &o);
	if (optind >= argc)
		die_usage("limit set: missing KEY=VALUE (memory=16G, cpu=150%%, tasks=512)");
	for (int i = optind; i < argc; i++) {
		autostrbuf struct strbuf why = STRBUF_INIT;
		unsigned long long value;
		enum limit_key key;

		if (limit_parse(argv[i], &key, &value, &why) < 0)
			die_usage("limit set: %s", why.buf);
	}
	a = au_setup(ctx, o.agent);
	for (int i = optind; i < argc; i++)
		agent_limit_set(a, argv[i]);
	config_save(&ctx->cfg);
	for (int i = optind; i < argc; i++)
		printf("Limited %s for agent %s\n", argv[i], a->user_name);
	return EXIT_OK;
}

static int limit_unset(int argc, char **argv, struct au_ctx *ctx)
{
	struct limit_opts o = { 0 };
	struct agent *a;

	parse_limit_options(argc, argv, "unset", &o);
	if (optind >= argc)
		die_usage("limit unset: missing KEY (memory, cpu or tasks)");
	for (int i = optind; i < argc; i++) {
		enum limit_key key;

		if (!limit_key_from_name(argv[i], strlen(argv[i]), &key)) {
			autofree char *shown = escape_display(argv[i]);

			die_usage("limit unset: '%s' is not memory, cpu or tasks", shown);
		}
	}
	a = au_setup(ctx, o.agent);
	for (int i = optind; i < argc; i++) {
		if (!agent_limit_unset(a, argv[i]))
			die("%s is not limited for agent %s", argv[i], a->user_name);
	}
	config_save(&ctx->cfg);
	for (int i = optind; i < argc; i++)
		printf("Unlimited %s for agent %s\n", argv[i], a->user_name);
	return EXIT_OK;
}

/* The stored entries were checked on load (limit_parse()); the writer escapes them anyway. */
static void limit_list_json(const struct agent *a)
{
	autostrbuf struct strbuf out = STRBUF_INIT;
	struct json_writer w;

	json_init(&w, &out);
	json_begin_object(&w);
	json_key(&w, "agent");
	json_string(&w, a->user_name);
	json_key(&w, "limits");
	json_begin_array(&w);
	for (size_t i = 0; i < a->nr_limits; i++) {
		autostrbuf struct strbuf why = STRBUF_INIT;
		unsigned long long amount;
		enum limit_key key;

		if (limit_parse(a->limits[i], &key, &amount, &why) < 0)
			die("agent %s: %s", a->user_name, why.buf);
		json_begin_object(&w);
		json_key(&w, "key");
		json_string(&w, limit_name(key));
		json_key(&w, "value");
		json_string(&w, strchr(a->limits[i], '=') + 1);
		json_key(&w, "amount");
		if (amount)
			json_uint(&w, amount);
		else
			json_null(&w);
		json_end_object(&w);
	}
	json_end_array(&w);
	json_end_object(&w);
	json_print(&w, stdout);
}

static int limit_list(int argc, char **argv, struct au_ctx *ctx)
{
	struct limit_opts o = { 0 };
	struct agent *a;

	parse_limit_options(argc, argv, "list", &o);
	if (optind < argc)
		die_usage("limit list: unexpected argument '%s'", argv[optind]);
	a = au_setup(ctx, o.agent);
	if (o.json) {
		limit_list_json(a);
		return EXIT_OK;
	}
	if (!a->nr_limits)
		printf("No limits for agent %s (tasks are capped at %llu over all its runs).\n", a->user_name,
		       SU_TASKS_DEFAULT);
	for (size_t i = 0; i < a->nr_limits; i++)
		printf("%s\n", a->limits[i]);
	return EXIT_OK;
}

static const struct limit_command {
	const char *name;
	int (*fn)(int argc, char **argv, struct au_ctx *ctx);
	unsigned setup;
} limit_commands[] = {
	{ "set", limit_set, NEED_AGENT | LOCK_WRITE },
	{ "unset", limit_unset, NEED_AGENT | LOCK_WRITE },
	{ "list", limit_list, NEED_AGENT | LOCK_READ },
};

int cmd_limit(int argc, char **argv, struct au_ctx *ctx)
{
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(limit_usage, stdout);
		return EXIT_OK;
	}
	if (argc < 2)
		die_usage("limit: missing subcommand (set, unset or list)");
	for (size_t i = 0; i < ARRAY_SIZE(limit_commands); i++) {
		if (!strcmp(argv[1], limit_commands[i].name)) {
			ctx->setup = limit_commands[i].setup;
			return limit_commands[i].fn(argc - 1, argv + 1, ctx);
		}
	}
	die_usage("limit: unknown subcommand '%s'", argv[1]);
}
