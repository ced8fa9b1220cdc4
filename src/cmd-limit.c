/* cmd-limit.c: au limit set|unset|list: the resource limits of every run of an agent. */
#include "au.h"
#include "config.h"
#include "entrypoint.h"
#include "limit.h"
#include "util.h"

#include <getopt.h>
#include <string.h>

static const char limit_usage[] =
	"Usage: au limit set [-a NAME] KEY=VALUE...\n"
	"       au limit unset [-a NAME] KEY...\n"
	"       au limit list [-a NAME]\n"
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
	"  -h, --help        show this help\n";

/* Options of every subcommand. */
static const char *parse_limit_options(int argc, char **argv)
{
	static const struct option options[] = {
		{ "agent", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *agent = NULL;
	int c;

	while ((c = getopt_long(argc, argv, ":a:h", options, NULL)) != -1) {
		switch (c) {
		case 'a':
			agent = optarg;
			break;
		case 'h':
			fputs(limit_usage, stdout);
			exit(EXIT_OK);
		default:
			die_bad_option(c, argv, "limit");
		}
	}
	return agent;
}

/* Every operand is checked before anything is loaded: a bad one leaves the config as it was. */
static int limit_set(int argc, char **argv, struct au_ctx *ctx)
{
	const char *name = parse_limit_options(argc, argv);
	struct agent *a;

	if (optind >= argc)
		die_usage("limit set: missing KEY=VALUE (memory=16G, cpu=150%%, tasks=512)");
	for (int i = optind; i < argc; i++) {
		autostrbuf struct strbuf why = STRBUF_INIT;
		unsigned long long value;
		enum limit_key key;

		if (limit_parse(argv[i], &key, &value, &why) < 0)
			die_usage("limit set: %s", why.buf);
	}
	a = au_setup(ctx, name);
	for (int i = optind; i < argc; i++)
		agent_limit_set(a, argv[i]);
	config_save(&ctx->cfg);
	for (int i = optind; i < argc; i++)
		printf("Limited %s for agent %s\n", argv[i], a->user_name);
	return EXIT_OK;
}

static int limit_unset(int argc, char **argv, struct au_ctx *ctx)
{
	const char *name = parse_limit_options(argc, argv);
	struct agent *a;

	if (optind >= argc)
		die_usage("limit unset: missing KEY (memory, cpu or tasks)");
	for (int i = optind; i < argc; i++) {
		enum limit_key key;

		if (!limit_key_from_name(argv[i], strlen(argv[i]), &key)) {
			autofree char *shown = escape_display(argv[i]);

			die_usage("limit unset: '%s' is not memory, cpu or tasks", shown);
		}
	}
	a = au_setup(ctx, name);
	for (int i = optind; i < argc; i++) {
		if (!agent_limit_unset(a, argv[i]))
			die("%s is not limited for agent %s", argv[i], a->user_name);
	}
	config_save(&ctx->cfg);
	for (int i = optind; i < argc; i++)
		printf("Unlimited %s for agent %s\n", argv[i], a->user_name);
	return EXIT_OK;
}

static int limit_list(int argc, char **argv, struct au_ctx *ctx)
{
	const char *name = parse_limit_options(argc, argv);
	struct agent *a;

	if (optind < argc)
		die_usage("limit list: unexpected argument '%s'", argv[optind]);
	a = au_setup(ctx, name);
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
