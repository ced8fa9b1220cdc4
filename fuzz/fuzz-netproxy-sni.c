/*
 * fuzz-netproxy-sni.c: libFuzzer harness for the ClientHello reader
 * (netproxy/sni.c), which a captured TLS connection reaches before any byte
 * of it goes upstream.
 *
 * A name it finds is a canonical host name; it never asks for more than the
 * peek limit; and what it found in the whole input it finds in any longer
 * input with the same start (bytes after the ClientHello do not matter).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz-netproxy.h"

#include "../netproxy/sni.c"
#include "../netproxy/pattern.c"
#include "../netproxy/addr.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[NET_NAME_MAX + 1], canonical[NET_NAME_MAX + 1], again_name[NET_NAME_MAX + 1];
	uint8_t longer[SNI_PEEK_MAX];
	const char *why;
	enum sni_status status = sni_extract(data, size, name, &why), again;

	if (status == SNI_NEED_MORE) {
		FUZZ_CHECK(size < SNI_PEEK_MAX, "wants more past the peek limit");
		return 0;
	}
	if (status == SNI_BAD) {
		FUZZ_CHECK(why && *why, "a refusal without a reason");
		return 0;
	}
	if (status == SNI_FOUND)
		FUZZ_CHECK(net_name_normalize(name, strlen(name), canonical, &why) == 0 && !strcmp(name, canonical),
			   "SNI '%s' is not canonical", name);
	if (size < sizeof(longer)) {
		memcpy(longer, data, size);
		memset(longer + size, 0x16, sizeof(longer) - size);
		again = sni_extract(longer, sizeof(longer), again_name, &why);
		FUZZ_CHECK(again == status, "trailing bytes changed the verdict");
		if (status == SNI_FOUND)
			FUZZ_CHECK(!strcmp(again_name, name), "trailing bytes changed the name");
	}
	return 0;
}
