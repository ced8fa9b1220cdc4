/*
 * au-json.h: au's objects as JSON, for the --json output of several commands,
 * so that a mount or a list of paths looks the same wherever it appears.
 * The layout of each command's object is documented in man/au.1 (JSON OUTPUT).
 */
#pragma once

#include "config.h"
#include "json.h"

/* The agent's mounts: [{"source": …, "target": …, "read_only": …}, …], in config order. */
void json_mounts(struct json_writer *w, const struct agent *a);

/* A NULL-terminated vector of strings as an array. */
void json_strings(struct json_writer *w, const char *const *v);
