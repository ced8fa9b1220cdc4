/* cmd-list.c: au list */
#include "agent.h"
#include "au.h"
#include "config.h"
#include "json.h"
#include "util.h"

#include <getopt.h>
#include <string.h>

static const char list_usage[] =
	"Usage: au list [--json] [-h]\n"
	"\n"
	"List the configured agents. The agent named 'agent' is the default one.\n"
	"\n"
	"      --json  one JSON object: {\"agents\": [{\"name\", \"default\", \"group\",\n"
	"              \"entrypoint\", \"bootstrapped\"}, ...]} (see 'man au')\n"
	"  -h, --help  show this help\n";

static void list_text(const struct config *cfg)
{
	if (!cfg->nr_agents)
		puts("No agents configured.");
	for (size_t i = 0; i < cfg->nr_agents; i++) {
		autofree char *name = escape_display(cfg->agents[i].user_name);
		bool is_default = !strcmp(cfg->agents[i].user_name, DEFAULT_AGENT);

		printf("%s%s\n", name, is_default ? " (default)" : "");
	}
}

static void list_json(const struct config *cfg)
{
	autostrbuf struct strbuf out = STRBUF_INIT;
	struct json_writer w;

	json_init(&w, &out);
	json_begin_object(&w);
	json_key(&w, "agents");
	json_begin_array(&w);
	for (size_t i = 0; i < cfg->nr_agents; i++) {
		const struct agent *a = &cfg->agents[i];

		json_begin_object(&w);
		json_key(&w, "name");
		json_string(&w, a->user_name);
		json_key(&w, "default");
		json_bool(&w, !strcmp(a->user_name, DEFAULT_AGENT));
		json_key(&w, "group");
		json_string(&w, a->group);
		json_key(&w, "entrypoint");
		json_string(&w, a->entrypoint);
		json_key(&w, "bootstrapped");
		json_bool(&w, a->bootstrapped);
		json_end_object(&w);
	}
	json_end_array(&w);
	json_end_object(&w);
	json_print(&w, stdout);
}

int cmd_list(int argc, char **argv, struct au_ctx *ctx)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(list_usage, stdout);
			return EXIT_OK;
		default:
			die_bad_option(c, argv, "list");
		}
	}
	if (optind < argc)
		die_usage("list: unexpected argument '%s'", argv[optind]);

	au_setup(ctx, NULL);
	if (json)
		list_json(&ctx->cfg);
	else
		list_text(&ctx->cfg);
	return EXIT_OK;
}
