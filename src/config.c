/* config.c: placeholder, replaced by the config reader/writer. */
#include "config.h"
#include "util.h"

char *config_default_path(void)
{
	return xstrdup("/nonexistent");
}
