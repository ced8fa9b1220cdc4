/*
 * fakeip.h: the fake IPv4 addresses the DNS stub gives out, one per name.
 *
 * A client that ignores proxy variables resolves an allowed name through the
 * stub, gets 127.1.0.N and connects to it; a capture listener accepts the
 * connection, and the local address is all it has to know which name the
 * client meant. So the mapping must be stable for the run and reversible.
 * Both directions take a lock: the stub and every connection use them.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "pattern.h"

struct fakeip;

struct fakeip *fakeip_new(void);
void fakeip_free(struct fakeip *table);

/*
 * The fake address of a canonical name (host byte order), given out on first
 * use from 127.1.0.1 upward. -1 when the range is exhausted.
 */
int fakeip_assign(struct fakeip *table, const char *name, uint32_t *v4);

/* The name that fake address was given for; false when it was given to none. */
bool fakeip_lookup(struct fakeip *table, uint32_t v4, char name[NET_NAME_MAX + 1]);
