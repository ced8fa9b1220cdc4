/*
 * socks.c: SOCKS5 greeting and request parsing (see socks.h).
 *
 * Only what RFC 1928 allows gets through, and a domain name must be
 * printable ASCII without NUL: the policy then checks it as a host name, so
 * a name with a NUL cannot read as "allowed.com" to us and as something else
 * to the resolver.
 */
#include "socks.h"

#include <string.h>

#include "addr.h"

#define SOCKS_VERSION 5
#define SOCKS_METHOD_NO_AUTH 0x00
#define SOCKS_CMD_CONNECT 0x01

enum socks_status socks_parse_greeting(const uint8_t *buf, size_t len, size_t *consumed)
{
	size_t n;

	if (len < 1)
		return SOCKS_NEED_MORE;
	if (buf[0] != SOCKS_VERSION)
		return SOCKS_BAD;
	if (len < 2)
		return SOCKS_NEED_MORE;
	n = buf[1];
	if (n == 0)
		return SOCKS_BAD;
	if (len < 2 + n)
		return SOCKS_NEED_MORE;
	*consumed = 2 + n;
	if (!memchr(buf + 2, SOCKS_METHOD_NO_AUTH, n))
		return SOCKS_NO_ACCEPTABLE_AUTH;
	return SOCKS_OK;
}

enum socks_status socks_parse_request(const uint8_t *buf, size_t len, struct socks_request *req,
				      size_t *consumed)
{
	size_t addr_len, need;

	memset(req, 0, sizeof(*req));
	if (len < 4)
		return SOCKS_NEED_MORE;
	if (buf[0] != SOCKS_VERSION || buf[2] != 0)
		return SOCKS_BAD;
	switch (buf[3]) {
	case SOCKS_ATYP_IPV4:
		addr_len = 4;
		break;
	case SOCKS_ATYP_IPV6:
		addr_len = 16;
		break;
	case SOCKS_ATYP_DOMAIN:
		if (len < 5)
			return SOCKS_NEED_MORE;
		addr_len = 1 + (size_t)buf[4];
		if (buf[4] == 0)
			return SOCKS_BAD;
		break;
	default:
		return SOCKS_UNSUPPORTED_ATYP;
	}
	/* The command is judged once the address is known to be well-formed. */
	need = 4 + addr_len + 2;
	if (len < need)
		return SOCKS_NEED_MORE;
	req->atyp = buf[3];
	if (req->atyp == SOCKS_ATYP_IPV4) {
		addr_from_v4((uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 | buf[7],
			     &req->addr);
	} else if (req->atyp == SOCKS_ATYP_IPV6) {
		memcpy(&req->addr, buf + 4, 16);
	} else {
		size_t n = buf[4];

		for (size_t i = 0; i < n; i++)
			if (buf[5 + i] <= 0x20 || buf[5 + i] >= 0x7f)
				return SOCKS_BAD;
		memcpy(req->domain, buf + 5, n);
		req->domain[n] = '\0';
	}
	req->port = (uint16_t)(buf[need - 2] << 8 | buf[need - 1]);
	*consumed = need;
	if (buf[1] != SOCKS_CMD_CONNECT)
		return SOCKS_UNSUPPORTED_CMD;
	return SOCKS_OK;
}

size_t socks_format_reply(uint8_t out[10], enum socks_reply rep)
{
	static const uint8_t reply[10] = { SOCKS_VERSION, 0, 0, SOCKS_ATYP_IPV4, 0, 0, 0, 0, 0, 0 };

	memcpy(out, reply, sizeof(reply));
	out[1] = (uint8_t)rep;
	return sizeof(reply);
}
