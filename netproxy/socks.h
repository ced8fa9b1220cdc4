/*
 * socks.h: the SOCKS5 subset au-netproxy speaks (RFC 1928): no
 * authentication, CONNECT only (no BIND, no UDP ASSOCIATE), to a domain
 * name, an IPv4 or an IPv6 address.
 *
 * Pure: the parsers take what has been read so far and say whether it is
 * complete, so the connection code reads and asks again.
 */
#pragma once

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

enum socks_status {
	SOCKS_NEED_MORE,
	SOCKS_OK,
	SOCKS_BAD,                /* not SOCKS5, or malformed: close */
	SOCKS_NO_ACCEPTABLE_AUTH, /* answer 05 FF and close */
	SOCKS_UNSUPPORTED_CMD,    /* answer REP 07 */
	SOCKS_UNSUPPORTED_ATYP,   /* answer REP 08 */
};

/* REP codes of RFC 1928 section 6. */
enum socks_reply {
	SOCKS_REP_SUCCEEDED = 0x00,
	SOCKS_REP_GENERAL_FAILURE = 0x01,
	SOCKS_REP_NOT_ALLOWED = 0x02,
	SOCKS_REP_NETWORK_UNREACHABLE = 0x03,
	SOCKS_REP_HOST_UNREACHABLE = 0x04,
	SOCKS_REP_CONNECTION_REFUSED = 0x05,
	SOCKS_REP_TTL_EXPIRED = 0x06,
	SOCKS_REP_COMMAND_NOT_SUPPORTED = 0x07,
	SOCKS_REP_ADDRESS_NOT_SUPPORTED = 0x08,
};

enum socks_atyp {
	SOCKS_ATYP_IPV4 = 0x01,
	SOCKS_ATYP_DOMAIN = 0x03,
	SOCKS_ATYP_IPV6 = 0x04,
};

struct socks_request {
	enum socks_atyp atyp;
	char domain[256];       /* DOMAIN: the name as sent (printable ASCII) */
	struct in6_addr addr;   /* IPV4 (as ::ffff:a.b.c.d) or IPV6 */
	uint16_t port;
};

/* The method negotiation: VER NMETHODS METHODS. *consumed is set on SOCKS_OK. */
enum socks_status socks_parse_greeting(const uint8_t *buf, size_t len, size_t *consumed);

/* The request: VER CMD RSV ATYP DST.ADDR DST.PORT. *consumed is set on SOCKS_OK. */
enum socks_status socks_parse_request(const uint8_t *buf, size_t len, struct socks_request *req,
				      size_t *consumed);

/* A reply with BND.ADDR 0.0.0.0:0 (the agent has no use for ours). Returns its length. */
size_t socks_format_reply(uint8_t out[10], enum socks_reply rep);
