/* au.h: what every command gets from main, and the start that commands share. */
#pragma once

#include "config.h"

#include <stdbool.h>

/*
 * What a command needs before its own work, declared in the command table of
 * au.c (and in mount's and env's tables), as git's RUN_SETUP does: au_setup()
 * then takes the lock, loads the config, gives the start-up warnings and
 * selects the agent, in that order, the same way for every command.
 */
enum au_setup_flags {
	NEED_CONFIG = 1 << 0,               /* load the config, give the start-up warnings */
	NEED_AGENT = 1 << 1 | NEED_CONFIG,  /* and select the agent (-a NAME, default "agent") */
	LOCK_READ = 1 << 2,                 /* hold a shared lock on the config until au_unlock() */
	LOCK_WRITE = 1 << 3,                /* hold an exclusive lock: the command writes the config */
};

struct au_ctx {
	const char *config_path; /* -C, or the default */
	bool color_out;          /* colors on stdout */
	bool color_err;          /* colors on stderr */
	unsigned setup;          /* the command's enum au_setup_flags */
	int lock_fd;             /* -1 when no lock is held */
	struct config cfg;       /* after au_setup() with NEED_CONFIG */
};

/*
 * The shared start of a command, after it has parsed its options: what
 * ctx->setup asks for. Returns the selected agent (agent_name, or the default
 * when NULL) with NEED_AGENT, else NULL. Dies with a hint when there is no
 * such agent.
 */
struct agent *au_setup(struct au_ctx *ctx, const char *agent_name);
/*
 * For a command that asks before it writes (LOCK_READ in its table): takes
 * the exclusive lock, creating the lock file, and loads the config again, as
 * another au may have changed it in between. Pointers into the old config
 * are gone.
 */
void au_lock_for_write(struct au_ctx *ctx);
/* Lets the lock go early, e.g. before running something that takes it too. */
void au_unlock(struct au_ctx *ctx);
void au_ctx_release(struct au_ctx *ctx);

int cmd_new(int argc, char **argv, struct au_ctx *ctx);
int cmd_run(int argc, char **argv, struct au_ctx *ctx);
int cmd_info(int argc, char **argv, struct au_ctx *ctx);
int cmd_list(int argc, char **argv, struct au_ctx *ctx);
int cmd_delete(int argc, char **argv, struct au_ctx *ctx);
int cmd_repair(int argc, char **argv, struct au_ctx *ctx);
int cmd_mount(int argc, char **argv, struct au_ctx *ctx);
int cmd_env(int argc, char **argv, struct au_ctx *ctx);
int cmd_limit(int argc, char **argv, struct au_ctx *ctx);
int cmd_net(int argc, char **argv, struct au_ctx *ctx);
