/* cmd-env.c: au env */
#include "au.h"
#include "util.h"

int cmd_env(int argc, char **argv, struct au_ctx *ctx)
{
	die("'au env' is not implemented yet");
}
