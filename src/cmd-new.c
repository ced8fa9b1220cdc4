/* cmd-new.c: au new */
#include "au.h"
#include "util.h"

int cmd_new(int argc, char **argv, struct au_ctx *ctx)
{
	die("'au new' is not implemented yet");
}
