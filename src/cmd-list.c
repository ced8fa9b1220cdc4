/* cmd-list.c: au list */
#include "au.h"
#include "util.h"

int cmd_list(int argc, char **argv, struct au_ctx *ctx)
{
	die("'au list' is not implemented yet");
}
