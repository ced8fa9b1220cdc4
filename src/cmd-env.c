/* cmd-env.c: au env set|unset|list: variables stored for every run of an agent. */
#include "agent.h"
#include "au.h"
#include "config.h"
#include "json.h"
#include "util.h"

#include <getopt.h>
#include <string.h>

static const char env_usage[] =
	"Usage: au env set [-a NAME] KEY=VALUE|KEY\n"
	"       au env unset [-a NAME] KEY\n"
	"       au env list [-a NAME] [--show-values] [--json]\n"
	"\n"
	"Store environment variables for every 'au run' of an agent (a proxy, a CA\n"
	"bundle, an API key). A bare KEY passes your own value through at run time, so\n"
	"the secret stays in your environment and not in the config file.\n"
	"'au run --env' overrides a stored value for one run.\n"
	"\n"
	"  -a, --agent NAME    the agent (default: agent)\n"
	"      --show-values  show the stored values (hidden otherwise)\n"
	"      --json         list: one JSON object {\"agent\", \"values_shown\",\n"
	"                     \"env\": [{\"name\", \"passthrough\", \"value\"}, ...]} (see 'man au')\n"
	"  -h, --help         show this help\n";

static void check_key(const char *verb, const char *entry, size_t len)
{
	autofree char *key = xstrndup(entry, len);

	if (!valid_env_key(entry, len)) {
		autofree char *shown = escape_display(entry);
		die_usage("env %s: invalid variable name in '%s'", verb, shown);
	}
	if (env_key_is_agents(key))
		die_usage("env %s: %s is the agent's own and cannot be set", verb, key);
}

struct env_opts {
	const char *agent;
	bool show_values;
	bool json;
};

/* Options of every subcommand; --show-values only for list. Returns argv's index of the operands. */
static int parse_env_options(int argc, char **argv, const char *verb, struct env_opts *o)
{
	static const struct option options[] = {
		{ "agent", required_argument, NULL, 'a' },
		{ "show-values", no_argument, NULL, 's' },
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
		case 's':
			if (strcmp(verb, "list"))
				die_usage("env %s: unknown option '--show-values'", verb);
			o->show_values = true;
			break;
		case 'j':
			if (strcmp(verb, "list"))
				die_usage("env %s: unknown option '--json'", verb);
			o->json = true;
			break;
		case 'h':
			fputs(env_usage, stdout);
			exit(EXIT_OK);
		default:
			die_bad_option(c, argv, "env");
		}
	}
	return optind;
}

/* The one KEY or KEY=VALUE operand of set and unset, checked before anything is loaded. */
static const char *key_operand(int argc, char **argv, const char *verb)
{
	const char *entry, *eq;

	if (optind >= argc)
		die_usage("env %s: missing KEY", verb);
	if (argc - optind > 1)
		die_usage("env %s: unexpected argument '%s'", verb, argv[optind + 1]);
	entry = argv[optind];
	eq = strchr(entry, '=');
	if (eq && !strcmp(verb, "unset"))
		die_usage("env unset: give the KEY alone");
	check_key(verb, entry, eq ? (size_t)(eq - entry) : strlen(entry));
	return entry;
}

static int env_set(int argc, char **argv, struct au_ctx *ctx)
{
	struct env_opts o = { 0 };
	const char *entry, *eq;
	autofree char *key = NULL;
	struct agent *a;

	parse_env_options(argc, argv, "set", &o);
	entry = key_operand(argc, argv, "set");
	eq = strchr(entry, '=');
	key = xstrndup(entry, eq ? (size_t)(eq - entry) : strlen(entry));
	a = au_setup(ctx, o.agent);
	agent_env_set(a, entry);
	config_save(&ctx->cfg);
	if (eq)
		printf("Set %s for agent %s\n", key, a->user_name);
	else
		printf("Set %s for agent %s: your value passes through at each run\n", key, a->user_name);
	if (!eq && !getenv(key)) {
		/* Most likely a forgotten "=VALUE", or an export still to come. */
		warn("%s is not set in your environment now: au run passes nothing until it is", key);
		hint("export %s in your shell before 'au run', or store a value: au env set -a %s %s=VALUE",
		     key, a->user_name, key);
	}
	return EXIT_OK;
}

static int env_unset(int argc, char **argv, struct au_ctx *ctx)
{
	struct env_opts o = { 0 };
	const char *key;
	struct agent *a;

	parse_env_options(argc, argv, "unset", &o);
	key = key_operand(argc, argv, "unset");
	a = au_setup(ctx, o.agent);
	if (!agent_env_unset(a, key))
		die("%s is not set for agent %s", key, a->user_name);
	config_save(&ctx->cfg);
	printf("Unset %s for agent %s\n", key, a->user_name);
	return EXIT_OK;
}

/* Each entry: its name, whether it passes the human's value, and the value (null when hidden). */
static void env_list_json(const struct agent *a, bool show_values)
{
	autostrbuf struct strbuf out = STRBUF_INIT;
	struct json_writer w;

	json_init(&w, &out);
	json_begin_object(&w);
	json_key(&w, "agent");
	json_string(&w, a->user_name);
	json_key(&w, "values_shown");
	json_bool(&w, show_values);
	json_key(&w, "env");
	json_begin_array(&w);
	for (size_t i = 0; i < a->nr_env; i++) {
		const char *eq = strchr(a->env[i], '=');

		json_begin_object(&w);
		json_key(&w, "name");
		json_string_len(&w, a->env[i], eq ? (size_t)(eq - a->env[i]) : strlen(a->env[i]));
		json_key(&w, "passthrough");
		json_bool(&w, !eq);
		json_key(&w, "value");
		if (eq && show_values)
			json_string(&w, eq + 1);
		else
			json_null(&w);
		json_end_object(&w);
	}
	json_end_array(&w);
	json_end_object(&w);
	json_print(&w, stdout);
}

static int env_list(int argc, char **argv, struct au_ctx *ctx)
{
	struct env_opts o = { 0 };
	struct agent *a;

	parse_env_options(argc, argv, "list", &o);
	if (optind < argc)
		die_usage("env list: unexpected argument '%s'", argv[optind]);
	a = au_setup(ctx, o.agent);
	if (o.json) {
		env_list_json(a, o.show_values);
		return EXIT_OK;
	}
	if (!a->nr_env)
		printf("No environment variables stored for agent %s.\n", a->user_name);
	for (size_t i = 0; i < a->nr_env; i++) {
		const char *eq = strchr(a->env[i], '=');
		autofree char *shown = escape_display(a->env[i]);

		if (!eq)
			printf("%s (your value, passed through)\n", shown);
		else if (o.show_values)
			printf("%s\n", shown);
		else
			printf("%.*s=<hidden>\n", (int)(eq - a->env[i]), shown);
	}
	return EXIT_OK;
}

static const struct env_command {
	const char *name;
	int (*fn)(int argc, char **argv, struct au_ctx *ctx);
	unsigned setup;
} env_commands[] = {
	{ "set", env_set, NEED_AGENT | LOCK_WRITE },
	{ "unset", env_unset, NEED_AGENT | LOCK_WRITE },
	{ "list", env_list, NEED_AGENT | LOCK_READ },
};

int cmd_env(int argc, char **argv, struct au_ctx *ctx)
{
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(env_usage, stdout);
		return EXIT_OK;
	}
	if (argc < 2)
		die_usage("env: missing subcommand (set, unset or list)");
	for (size_t i = 0; i < ARRAY_SIZE(env_commands); i++) {
		if (!strcmp(argv[1], env_commands[i].name)) {
			ctx->setup = env_commands[i].setup;
			return env_commands[i].fn(argc - 1, argv + 1, ctx);
		}
	}
	die_usage("env: unknown subcommand '%s'", argv[1]);
}
