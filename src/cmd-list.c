/* cmd-list.c: au list */
#include "agent.h"
#include "au.h"
#include "config.h"
#include "util.h"

#include <getopt.h>
#include <string.h>

static const char list_usage[] =
	"Usage: au list [-h]\n"
	"\n"
	"List the configured agents. The agent named 'agent' is the default one.\n"
	"\n"
	"  -h, --help  show this help\n";

int cmd_list(int argc, char **argv, struct au_ctx *ctx)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct config *cfg;
	int c;

	while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		if (c == 'h') {
			fputs(list_usage, stdout);
			return EXIT_OK;
		}
		die_bad_option(c, argv, "list");
	}
	if (optind < argc)
		die_usage("list: unexpected argument '%s'", argv[optind]);

	au_setup(ctx, NULL);
	cfg = &ctx->cfg;
	if (!cfg->nr_agents)
		puts("No agents configured.");
	for (size_t i = 0; i < cfg->nr_agents; i++) {
		autofree char *name = escape_display(cfg->agents[i].user_name);
		bool is_default = !strcmp(cfg->agents[i].user_name, DEFAULT_AGENT);

		printf("%s%s\n", name, is_default ? " (default)" : "");
	}
	return EXIT_OK;
}
