/* agent.c: placeholder, filled in by its own change. */
#include "util.h"
