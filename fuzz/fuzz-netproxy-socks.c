/*
 * fuzz-netproxy-socks.c: libFuzzer harness for the SOCKS5 parsers
 * (netproxy/socks.c). The input is a greeting followed by a request, as a
 * client would send them.
 *
 * What is accepted must have been there: the parser consumed no more than
 * it was given, the request is a CONNECT with a known address type, and a
 * domain is printable ASCII of the length the client declared.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz-netproxy.h"

#include "../netproxy/socks.c"
#include "../netproxy/addr.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct socks_request req;
	size_t greeting = 0, request = 0;
	enum socks_status status = socks_parse_greeting(data, size, &greeting);

	if (status == SOCKS_NEED_MORE) {
		FUZZ_CHECK(size < 2 + 255, "greeting wants more than 257 bytes");
		return 0;
	}
	if (status != SOCKS_OK && status != SOCKS_NO_ACCEPTABLE_AUTH)
		return 0;
	FUZZ_CHECK(greeting >= 3 && greeting <= size && greeting == 2 + (size_t)data[1], "greeting length");
	if (status != SOCKS_OK)
		return 0;

	status = socks_parse_request(data + greeting, size - greeting, &req, &request);
	if (status == SOCKS_NEED_MORE) {
		FUZZ_CHECK(size - greeting < 4 + 256 + 2, "request wants more than its largest size");
		return 0;
	}
	if (status != SOCKS_OK && status != SOCKS_UNSUPPORTED_CMD)
		return 0;
	FUZZ_CHECK(request >= 8 && request <= size - greeting, "request length");
	if (status == SOCKS_OK)
		FUZZ_CHECK(data[greeting + 1] == 1, "a command other than CONNECT accepted");
	switch (req.atyp) {
	case SOCKS_ATYP_IPV4:
		FUZZ_CHECK(request == 10 && addr_is_v4(&req.addr), "IPv4 request");
		break;
	case SOCKS_ATYP_IPV6:
		FUZZ_CHECK(request == 22, "IPv6 request");
		break;
	case SOCKS_ATYP_DOMAIN:
		FUZZ_CHECK(strlen(req.domain) == data[greeting + 4] && request == 7 + strlen(req.domain),
			   "domain length");
		for (const char *p = req.domain; *p; p++)
			FUZZ_CHECK(*p > 0x20 && *p < 0x7f, "odd byte in the domain");
		break;
	default:
		FUZZ_CHECK(0, "unknown address type accepted");
	}
	return 0;
}
