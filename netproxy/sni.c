/*
 * sni.c: ClientHello parsing (see sni.h).
 *
 * The handshake message may be split over several records, so the records'
 * payloads are joined first (up to SNI_PEEK_MAX), then the ClientHello is
 * walked field by field with every length checked against what is left.
 * Anything odd (two server_name extensions, two host names, a name that is
 * not a host name) is SNI_BAD: the capture then refuses the connection.
 */
#include "sni.h"

#include <string.h>

#define TLS_RECORD_HANDSHAKE 22
#define TLS_RECORD_HEADER 5
#define TLS_RECORD_MAX 16384
#define TLS_HANDSHAKE_CLIENT_HELLO 1
#define TLS_EXT_SERVER_NAME 0
#define TLS_SNI_HOST_NAME 0

struct reader {
	const uint8_t *p;
	size_t left;
};

static int take(struct reader *r, size_t n, const uint8_t **out)
{
	if (r->left < n)
		return -1;
	if (out)
		*out = r->p;
	r->p += n;
	r->left -= n;
	return 0;
}

static int take_u8(struct reader *r, size_t *v)
{
	const uint8_t *p;

	if (take(r, 1, &p) < 0)
		return -1;
	*v = p[0];
	return 0;
}

static int take_u16(struct reader *r, size_t *v)
{
	const uint8_t *p;

	if (take(r, 2, &p) < 0)
		return -1;
	*v = (size_t)p[0] << 8 | p[1];
	return 0;
}

/* A length-prefixed vector, as a reader of its own. */
static int take_vector(struct reader *r, int len_bytes, struct reader *sub)
{
	size_t n;

	if ((len_bytes == 1 ? take_u8(r, &n) : take_u16(r, &n)) < 0)
		return -1;
	sub->p = r->p;
	sub->left = n;
	return take(r, n, NULL);
}

static enum sni_status parse_server_name(struct reader ext, char name[NET_NAME_MAX + 1], const char **why)
{
	struct reader list;
	bool found = false;

	if (take_vector(&ext, 2, &list) < 0 || ext.left || !list.left) {
		*why = "malformed server_name extension";
		return SNI_BAD;
	}
	while (list.left) {
		struct reader host;
		size_t type;

		if (take_u8(&list, &type) < 0 || take_vector(&list, 2, &host) < 0) {
			*why = "malformed server_name extension";
			return SNI_BAD;
		}
		if (type != TLS_SNI_HOST_NAME)
			continue;
		if (found) {
			*why = "two host names in server_name";
			return SNI_BAD;
		}
		if (net_name_normalize((const char *)host.p, host.left, name, why) < 0) {
			*why = "server name is not a host name";
			return SNI_BAD;
		}
		found = true;
	}
	if (!found) {
		*why = "server_name without a host name";
		return SNI_BAD;
	}
	return SNI_FOUND;
}

static enum sni_status parse_client_hello(struct reader hello, char name[NET_NAME_MAX + 1], const char **why)
{
	struct reader skip, exts;
	enum sni_status status = SNI_ABSENT;
	bool seen = false;

	/* legacy_version, random, session id, cipher suites, compression methods */
	if (take(&hello, 2 + 32, NULL) < 0 || take_vector(&hello, 1, &skip) < 0 || skip.left > 32 ||
	    take_vector(&hello, 2, &skip) < 0 || skip.left < 2 || skip.left % 2 ||
	    take_vector(&hello, 1, &skip) < 0 || skip.left < 1) {
		*why = "malformed ClientHello";
		return SNI_BAD;
	}
	if (!hello.left)
		return SNI_ABSENT; /* no extensions at all (TLS 1.0 era) */
	if (take_vector(&hello, 2, &exts) < 0 || hello.left) {
		*why = "malformed ClientHello extensions";
		return SNI_BAD;
	}
	while (exts.left) {
		struct reader ext;
		size_t type;

		if (take_u16(&exts, &type) < 0 || take_vector(&exts, 2, &ext) < 0) {
			*why = "malformed ClientHello extensions";
			return SNI_BAD;
		}
		if (type != TLS_EXT_SERVER_NAME)
			continue;
		if (seen) {
			*why = "two server_name extensions";
			return SNI_BAD;
		}
		seen = true;
		status = parse_server_name(ext, name, why);
		if (status == SNI_BAD)
			return status;
	}
	return status;
}

enum sni_status sni_extract(const uint8_t *buf, size_t len, char name[NET_NAME_MAX + 1], const char **why)
{
	uint8_t handshake[SNI_PEEK_MAX];
	size_t have = 0, pos = 0, need = 0;
	struct reader hello;

	*why = NULL;
	if (len > SNI_PEEK_MAX)
		len = SNI_PEEK_MAX;
	/* Join the handshake records' payloads until the ClientHello is whole. */
	for (;;) {
		size_t rec_len;

		if (have >= 4) {
			if (handshake[0] != TLS_HANDSHAKE_CLIENT_HELLO) {
				*why = "not a ClientHello";
				return SNI_BAD;
			}
			need = 4 + ((size_t)handshake[1] << 16 | (size_t)handshake[2] << 8 | handshake[3]);
			if (need > SNI_PEEK_MAX - TLS_RECORD_HEADER) {
				*why = "ClientHello larger than the peek limit";
				return SNI_BAD;
			}
			if (have >= need)
				break;
		}
		if (len - pos < TLS_RECORD_HEADER)
			goto need_more;
		if (buf[pos] != TLS_RECORD_HANDSHAKE || buf[pos + 1] != 3) {
			*why = "not a TLS handshake record";
			return SNI_BAD;
		}
		rec_len = (size_t)buf[pos + 3] << 8 | buf[pos + 4];
		if (rec_len == 0 || rec_len > TLS_RECORD_MAX) {
			*why = "bad TLS record length";
			return SNI_BAD;
		}
		if (len - pos - TLS_RECORD_HEADER < rec_len) {
			/* A first record still arriving can already show a hello not worth waiting for. */
			const uint8_t *h = buf + pos + TLS_RECORD_HEADER;

			if (have == 0 && len - pos - TLS_RECORD_HEADER >= 4) {
				if (h[0] != TLS_HANDSHAKE_CLIENT_HELLO) {
					*why = "not a ClientHello";
					return SNI_BAD;
				}
				if (4 + ((size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3]) >
				    SNI_PEEK_MAX - TLS_RECORD_HEADER) {
					*why = "ClientHello larger than the peek limit";
					return SNI_BAD;
				}
			}
			goto need_more;
		}
		if (have + rec_len > sizeof(handshake)) {
			*why = "ClientHello larger than the peek limit";
			return SNI_BAD;
		}
		memcpy(handshake + have, buf + pos + TLS_RECORD_HEADER, rec_len);
		have += rec_len;
		pos += TLS_RECORD_HEADER + rec_len;
	}
	hello.p = handshake + 4;
	hello.left = need - 4;
	return parse_client_hello(hello, name, why);

need_more:
	if (len >= SNI_PEEK_MAX) {
		*why = "ClientHello larger than the peek limit";
		return SNI_BAD;
	}
	return SNI_NEED_MORE;
}
