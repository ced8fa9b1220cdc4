/*
 * sni.h: the server name in a TLS ClientHello (RFC 8446 4.1.2, RFC 6066 3).
 *
 * A captured connection to a fake address stands for one name. When the
 * client speaks TLS, the name it asks the server for must be that name, or
 * one allowed name's address would carry any other name's traffic to a
 * server that hosts both. The proxy peeks at the ClientHello without
 * consuming it; the bytes go upstream untouched.
 *
 * Pure: no I/O.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "pattern.h"

/* How much of the stream the proxy will look at for a ClientHello. */
#define SNI_PEEK_MAX 16384

enum sni_status {
	SNI_NEED_MORE, /* the ClientHello is not complete yet */
	SNI_FOUND,     /* name holds the canonical server name */
	SNI_ABSENT,    /* a ClientHello without server_name */
	SNI_BAD,       /* not a TLS ClientHello, malformed, or larger than SNI_PEEK_MAX */
};

/* buf: the first bytes of the stream (TLS records). *why is set on SNI_BAD. */
enum sni_status sni_extract(const uint8_t *buf, size_t len, char name[NET_NAME_MAX + 1], const char **why);
