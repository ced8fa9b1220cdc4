/* cmd-run.c: au run */
#include "au.h"
#include "util.h"

int cmd_run(int argc, char **argv, struct au_ctx *ctx)
{
	die("'au run' is not implemented yet");
}
