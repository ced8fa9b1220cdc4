/* au.c: main, global options, the command table and the start that commands share. */
#include "au-config.h"
#include "agent.h"
#include "au.h"
#include "config.h"
#include "util.h"

#include <getopt.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv, struct au_ctx *ctx);
	unsigned setup; /* enum au_setup_flags; mount, env and limit set theirs per subcommand */
	const char *summary;
} commands[] = {
	/* LOCK_READ: a "no" to its question leaves no lock file; it takes the write lock after the "yes". */
	{ "new", cmd_new, NEED_CONFIG | LOCK_READ, "create an agent user, its group, home and entrypoint" },
	{ "run", cmd_run, NEED_AGENT | LOCK_READ, "run a command as the agent" },
	{ "info", cmd_info, NEED_AGENT, "show an agent and check its health" },
	{ "list", cmd_list, NEED_CONFIG, "list the configured agents" },
	{ "delete", cmd_delete, NEED_AGENT | LOCK_WRITE, "remove an agent and everything au made for it" },
	{ "repair", cmd_repair, NEED_CONFIG | LOCK_WRITE, "adopt or import an agent, or rebuild its entrypoint" },
	{ "mount", cmd_mount, 0, "share folders of your home with an agent (add, remove, list)" },
	{ "env", cmd_env, 0, "store environment variables for an agent's runs (set, unset, list)" },
	{ "limit", cmd_limit, 0, "limit the memory, CPU and tasks of an agent's runs (set, unset, list)" },
	{ "net", cmd_net, 0, "the agent's network: mode, allowed destinations, connection log" },
};

struct agent *au_setup(struct au_ctx *ctx, const char *agent_name)
{
	struct agent *a;

	if (ctx->setup & (LOCK_READ | LOCK_WRITE))
		ctx->lock_fd = config_lock(ctx->config_path, ctx->setup & LOCK_WRITE ? CONFIG_LOCK_EXCLUSIVE
										 : CONFIG_LOCK_SHARED);
	if (!(ctx->setup & NEED_CONFIG))
		return NULL;
	config_load(&ctx->cfg, ctx->config_path);
	startup_warnings(&ctx->cfg);
	if ((ctx->setup & NEED_AGENT) != NEED_AGENT)
		return NULL;
	a = agent_select(&ctx->cfg, agent_name);
	/* An entry from before au recorded ids gets them now, while the system has them. */
	if (ctx->setup & LOCK_WRITE)
		agent_record_ids(a);
	return a;
}

void au_lock_for_write(struct au_ctx *ctx)
{
	au_unlock(ctx);
	config_release(&ctx->cfg);
	ctx->lock_fd = config_lock(ctx->config_path, CONFIG_LOCK_EXCLUSIVE);
	config_load(&ctx->cfg, ctx->config_path);
}

void au_unlock(struct au_ctx *ctx)
{
	if (ctx->lock_fd >= 0)
		close(ctx->lock_fd);
	ctx->lock_fd = -1;
}

void au_ctx_release(struct au_ctx *ctx)
{
	au_unlock(ctx);
	config_release(&ctx->cfg);
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: au [-C|--config PATH] [--version] [-h|--help] COMMAND [ARGS]\n"
		"\n"
		"Run AI coding agents as a dedicated UNIX user, in a box of their own.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"\n"
		"Options:\n"
		"  -C, --config PATH  config file (default ~/.config/agent-as-unix-user.toml)\n"
		"  -h, --help         show this help\n"
		"      --version      show the version\n"
		"\n"
		"Run 'au COMMAND --help' for the options of a command.\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct au_ctx ctx __attribute__((cleanup(au_ctx_release))) = { .lock_fd = -1 };
	autofree char *default_path = NULL;
	int c;

	/*
	 * A closed standard fd would be reused by the next open (the pty master,
	 * the config), which would then receive our messages or the agent's.
	 */
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			return EXIT_FAIL;
	}
	opterr = 0; /* our own one-line messages, see die_bad_option() */
	/* "+": stop at the command name, so that its own options are its own. */
	while ((c = getopt_long(argc, argv, "+:C:h", options, NULL)) != -1) {
		switch (c) {
		case 'C':
			if (!*optarg)
				die_usage("option '--config' needs a path");
			ctx.config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("au %s\n", AU_VERSION);
			return EXIT_OK;
		default:
			die_bad_option(c, argv, NULL);
		}
	}
	if (optind >= argc)
		die_usage("missing command");
	if (!ctx.config_path)
		ctx.config_path = default_path = config_default_path();
	ctx.color_out = color_enabled(STDOUT_FILENO);
	ctx.color_err = color_enabled(STDERR_FILENO);

	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (!strcmp(argv[optind], commands[i].name)) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;

			optind = 0; /* each command parses its own options from scratch */
			ctx.setup = commands[i].setup;
			set_usage_command(commands[i].name);
			return commands[i].fn(sub_argc, sub_argv, &ctx);
		}
	}
	die_usage("unknown command '%s'", argv[optind]);
}
