/* hash.c: SHA-256 of open files, with nettle. */
#include "hash.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <unistd.h>

static void to_hex(const unsigned char *digest, char hex[SHA256_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < SHA256_DIGEST_SIZE; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 15];
	}
	hex[SHA256_HEX_LEN] = '\0';
}

int sha256_fd(int fd, char hex[SHA256_HEX_LEN + 1])
{
	struct sha256_ctx ctx;
	unsigned char buf[65536];
	unsigned char digest[SHA256_DIGEST_SIZE];
	off_t off = 0;

	sha256_init(&ctx);
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		sha256_update(&ctx, (size_t)n, buf);
		off += n;
	}
	sha256_digest(&ctx, sizeof(digest), digest);
	to_hex(digest, hex);
	return 0;
}

void sha256_buf(const void *data, size_t len, char hex[SHA256_HEX_LEN + 1])
{
	struct sha256_ctx ctx;
	unsigned char digest[SHA256_DIGEST_SIZE];

	sha256_init(&ctx);
	sha256_update(&ctx, len, data);
	sha256_digest(&ctx, sizeof(digest), digest);
	to_hex(digest, hex);
}
