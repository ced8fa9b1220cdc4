/* cmd-env.c: au env set|unset|list: variables stored for every run of an agent. */
#include "agent.h"
#include "au.h"
#include "config.h"
#include "util.h"

#include <getopt.h>
#include <string.h>

static const char env_usage[] =
	"Usage: au env set [-a NAME] KEY=VALUE|KEY\n"
	"       au env unset [-a NAME] KEY\n"
	"       au env list [-a NAME] [--show-values]\n"
	"\n"
	"Store environment variables for every 'au run' of an agent (a proxy, a CA\n"
	"bundle, an API key). A bare KEY passes your own value through at run time, so\n"
	"the secret stays in your environment and not in the config file.\n"
	"'au run --env' overrides a stored value for one run.\n"
	"\n"
	"  -a, --agent NAME    the agent (default: agent)\n"
	"      --show-values  show the stored values (hidden otherwise)\n"
	"  -h, --help         show this help\n";

static void check_key(const char *verb, const char *entry, size_t len)
{
	autofree char *key = xstrndup(entry, len);

	if (!valid_env_key(entry, len)) {
		autofree char *shown = escape_display(entry);
		die_usage("env %s: invalid variable name in '%s'", verb, shown);
	}
	if (!strcmp(key, "HOME") || !strcmp(key, "USER") || !strcmp(key, "LOGNAME") || !strcmp(key, "SHELL"))
		die_usage("env %s: %s is the agent's own and cannot be set", verb, key);
}

int cmd_env(int argc, char **argv, struct au_ctx *ctx)
{
	static const struct option options[] = {
		{ "agent", required_argument, NULL, 'a' },
		{ "show-values", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *verb, *name = NULL;
	bool show = false, write;
	autoconfig struct config cfg = { 0 };
	struct agent *a;
	int c, lock_fd;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(env_usage, stdout);
		return EXIT_OK;
	}
	if (argc < 2)
		die_usage("env: missing subcommand (set, unset or list)");
	verb = argv[1];
	if (strcmp(verb, "set") && strcmp(verb, "unset") && strcmp(verb, "list"))
		die_usage("env: unknown subcommand '%s'", verb);
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, ":a:h", options, NULL)) != -1) {
		switch (c) {
		case 'a':
			name = optarg;
			break;
		case 's':
			if (strcmp(verb, "list"))
				die_usage("env %s: unknown option '--show-values'", verb);
			show = true;
			break;
		case 'h':
			fputs(env_usage, stdout);
			return EXIT_OK;
		default:
			die_bad_option(c, argv, "env");
		}
	}
	write = strcmp(verb, "list") != 0;
	if (write && optind >= argc)
		die_usage("env %s: missing KEY", verb);
	if (argc - optind > (write ? 1 : 0))
		die_usage("env %s: unexpected argument '%s'", verb, argv[optind + (write ? 1 : 0)]);
	if (write) {
		const char *eq = strchr(argv[optind], '=');
		if (eq && !strcmp(verb, "unset"))
			die_usage("env unset: give the KEY alone");
		check_key(verb, argv[optind], eq ? (size_t)(eq - argv[optind]) : strlen(argv[optind]));
	}

	lock_fd = config_lock(ctx->config_path, write);
	config_load(&cfg, ctx->config_path);
	startup_warnings(&cfg);
	a = agent_select(&cfg, name);

	if (!strcmp(verb, "set")) {
		const char *entry = argv[optind];
		const char *eq = strchr(entry, '=');
		autofree char *key = xstrndup(entry, eq ? (size_t)(eq - entry) : strlen(entry));

		agent_env_set(a, entry);
		config_save(&cfg);
		if (eq)
			printf("Set %s for agent %s\n", key, a->user_name);
		else
			printf("Set %s for agent %s: your value passes through at each run\n", key, a->user_name);
	} else if (!strcmp(verb, "unset")) {
		if (!agent_env_unset(a, argv[optind]))
			die("%s is not set for agent %s", argv[optind], a->user_name);
		config_save(&cfg);
		printf("Unset %s for agent %s\n", argv[optind], a->user_name);
	} else {
		if (!a->nr_env)
			printf("No environment variables stored for agent %s.\n", a->user_name);
		for (size_t i = 0; i < a->nr_env; i++) {
			const char *eq = strchr(a->env[i], '=');
			autofree char *shown = escape_display(a->env[i]);

			if (!eq)
				printf("%s (your value, passed through)\n", shown);
			else if (show)
				printf("%s\n", shown);
			else
				printf("%.*s=<hidden>\n", (int)(eq - a->env[i]), shown);
		}
	}
	if (lock_fd >= 0)
		close(lock_fd);
	return EXIT_OK;
}
