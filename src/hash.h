/* hash.h: SHA-256 of open files (nettle). */
#pragma once

#include <stddef.h>

#define SHA256_HEX_LEN 64

/* Hashes fd from offset 0 (with pread, so the offset is untouched). */
int sha256_fd(int fd, char hex[SHA256_HEX_LEN + 1]);
void sha256_buf(const void *data, size_t len, char hex[SHA256_HEX_LEN + 1]);
