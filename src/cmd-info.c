/* cmd-info.c: au info */
#include "au.h"
#include "util.h"

int cmd_info(int argc, char **argv, struct au_ctx *ctx)
{
	die("'au info' is not implemented yet");
}
