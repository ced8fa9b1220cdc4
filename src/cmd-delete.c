/* cmd-delete.c: au delete */
#include "au.h"
#include "util.h"

int cmd_delete(int argc, char **argv, struct au_ctx *ctx)
{
	die("'au delete' is not implemented yet");
}
