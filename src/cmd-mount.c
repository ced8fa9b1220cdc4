/* cmd-mount.c: au mount */
#include "au.h"
#include "util.h"

int cmd_mount(int argc, char **argv, struct au_ctx *ctx)
{
	die("'au mount' is not implemented yet");
}
