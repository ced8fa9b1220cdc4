/*
 * netproxy-mutate.h: the seeded mutation run that au-netproxy's parser tests
 * share. It takes valid samples, mutates them (bytes flipped, syntax bytes
 * put in, truncated, runs deleted, pieces of other samples spliced in,
 * pieces duplicated) and feeds each result to the fuzz harness that the
 * test included, whose invariants then fail the test (FUZZ_CHECK). The same
 * seed every run: a failure can be replayed.
 */
#pragma once

#include <stdint.h>
#include <string.h>

#include "util.h"

#define FUZZ_CHECK(cond, ...)                                                  \
	do {                                                                   \
		if (!(cond))                                                   \
			fail_msg("invariant broken: " __VA_ARGS__);            \
	} while (0)

struct sample {
	const uint8_t *data;
	size_t len;
};

static uint64_t mutate_rng_state;

static uint64_t mutate_rng(void)
{
	/* xorshift64*: deterministic, so a failure can be replayed. */
	mutate_rng_state ^= mutate_rng_state >> 12;
	mutate_rng_state ^= mutate_rng_state << 25;
	mutate_rng_state ^= mutate_rng_state >> 27;
	return mutate_rng_state * 0x2545F4914F6CDD1DULL;
}

/* One mutant of a random sample into sb; interesting: bytes the format cares about. */
static void mutate_one(struct strbuf *sb, const struct sample *samples, size_t nr, const char *interesting,
		       size_t interesting_len)
{
	const struct sample *s = &samples[mutate_rng() % nr];
	int edits = 1 + (int)(mutate_rng() % 6);

	strbuf_reset(sb);
	strbuf_add(sb, s->data, s->len);
	for (int e = 0; e < edits; e++) {
		size_t at = sb->len ? mutate_rng() % sb->len : 0;
		const struct sample *o = &samples[mutate_rng() % nr];

		switch (mutate_rng() % 7) {
		case 0:
			if (sb->len)
				sb->buf[at] = (char)mutate_rng();
			break;
		case 1:
			if (sb->len)
				sb->buf[at] = interesting[mutate_rng() % interesting_len];
			break;
		case 2:
			sb->len = at;
			break;
		case 3:
			if (sb->len) {
				size_t n = mutate_rng() % (sb->len - at < 16 ? sb->len - at : 16);

				memmove(sb->buf + at, sb->buf + at + n, sb->len - at - n);
				sb->len -= n;
			}
			break;
		case 4: {
			size_t from = o->len ? mutate_rng() % o->len : 0;
			size_t n = o->len - from < 40 ? o->len - from : 40;
			struct strbuf nb = STRBUF_INIT;

			strbuf_add(&nb, sb->buf, at);
			strbuf_add(&nb, o->data + from, n);
			strbuf_add(&nb, sb->buf + at, sb->len - at);
			strbuf_release(sb);
			*sb = nb;
			break;
		}
		case 5: {
			size_t n = sb->len - at < 32 ? sb->len - at : 32;
			autofree char *copy = xmalloc(n + 1);

			memcpy(copy, sb->buf + at, n);
			strbuf_add(sb, copy, n);
			break;
		}
		case 6: /* a length byte or a count pushed to an edge */
			if (sb->len)
				sb->buf[at] = (char)((const uint8_t[]){ 0, 1, 0x3f, 0x40, 0x7f, 0x80, 0xc0, 0xff })[mutate_rng() % 8];
			break;
		}
	}
	strbuf_grow(sb, 0);
}
