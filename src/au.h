/* au.h: what every command gets from main. */
#pragma once

#include <stdbool.h>

struct au_ctx {
	const char *config_path; /* -C, or the default */
	bool color_out;          /* colors on stdout */
	bool color_err;          /* colors on stderr */
};

int cmd_new(int argc, char **argv, struct au_ctx *ctx);
int cmd_run(int argc, char **argv, struct au_ctx *ctx);
int cmd_info(int argc, char **argv, struct au_ctx *ctx);
int cmd_list(int argc, char **argv, struct au_ctx *ctx);
int cmd_delete(int argc, char **argv, struct au_ctx *ctx);
int cmd_mount(int argc, char **argv, struct au_ctx *ctx);
int cmd_env(int argc, char **argv, struct au_ctx *ctx);

/* Start-up warnings (home open to others, group not in this session). */
struct config;
void startup_warnings(const struct config *cfg);
