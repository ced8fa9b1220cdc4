/*
 * fakeip.c: the name <-> fake address table (see fakeip.h).
 *
 * Addresses are handed out in order and never reused, so an address means
 * one name for the whole run, and a lookup is an array index. The reverse
 * direction is a small chained hash. At most 65534 names fit in 127.1/16,
 * which bounds the memory an agent can make us spend here (about 20 MB).
 */
#include "fakeip.h"

#include <pthread.h>
#include <string.h>

#include "netproto.h"
#include "util.h"

#define FAKEIP_BUCKETS 4096
#define FAKEIP_CAPACITY (NETPROTO_FAKE_LAST - NETPROTO_FAKE_FIRST + 1)

struct fakeip_entry {
	struct fakeip_entry *next;
	uint32_t index;
	char name[];
};

struct fakeip {
	pthread_mutex_t lock;
	struct fakeip_entry *buckets[FAKEIP_BUCKETS];
	/* By index: the entry given out as NETPROTO_FAKE_FIRST + index. */
	struct fakeip_entry **by_index;
	size_t nr, alloc;
};

/* FNV-1a: the names are the agent's choice, but a long chain only costs the agent's own queries. */
static uint32_t name_hash(const char *name)
{
	uint32_t h = 2166136261u;

	for (; *name; name++)
		h = (h ^ (uint8_t)*name) * 16777619u;
	return h;
}

struct fakeip *fakeip_new(void)
{
	struct fakeip *table = xcalloc(1, sizeof(*table));

	pthread_mutex_init(&table->lock, NULL);
	return table;
}

void fakeip_free(struct fakeip *table)
{
	if (!table)
		return;
	for (size_t i = 0; i < table->nr; i++)
		free(table->by_index[i]);
	free(table->by_index);
	pthread_mutex_destroy(&table->lock);
	free(table);
}

int fakeip_assign(struct fakeip *table, const char *name, uint32_t *v4)
{
	uint32_t bucket = name_hash(name) % FAKEIP_BUCKETS;
	struct fakeip_entry *e;
	size_t len = strlen(name);
	int ret = -1;

	pthread_mutex_lock(&table->lock);
	for (e = table->buckets[bucket]; e; e = e->next)
		if (!strcmp(e->name, name))
			break;
	if (!e && table->nr < FAKEIP_CAPACITY) {
		e = xmalloc(sizeof(*e) + len + 1);
		memcpy(e->name, name, len + 1);
		e->index = (uint32_t)table->nr;
		e->next = table->buckets[bucket];
		table->buckets[bucket] = e;
		ALLOC_GROW(table->by_index, table->nr, table->alloc);
		table->by_index[table->nr++] = e;
	}
	if (e) {
		*v4 = NETPROTO_FAKE_FIRST + e->index;
		ret = 0;
	}
	pthread_mutex_unlock(&table->lock);
	return ret;
}

bool fakeip_lookup(struct fakeip *table, uint32_t v4, char name[NET_NAME_MAX + 1])
{
	bool found = false;

	if (v4 < NETPROTO_FAKE_FIRST || v4 > NETPROTO_FAKE_LAST)
		return false;
	pthread_mutex_lock(&table->lock);
	if (v4 - NETPROTO_FAKE_FIRST < table->nr) {
		const struct fakeip_entry *e = table->by_index[v4 - NETPROTO_FAKE_FIRST];

		memcpy(name, e->name, strlen(e->name) + 1);
		found = true;
	}
	pthread_mutex_unlock(&table->lock);
	return found;
}
