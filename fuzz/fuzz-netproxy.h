/*
 * fuzz-netproxy.h: what the au-netproxy harnesses share.
 *
 * FUZZ_CHECK states an invariant. Under libFuzzer a broken one traps (the
 * fuzzer keeps the input); the unit tests that drive the same harnesses
 * with seeded mutations define it first, to fail a cmocka test instead.
 */
#pragma once

#include <stdio.h>

#ifndef FUZZ_CHECK
#define FUZZ_CHECK(cond, ...)                                                  \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "invariant broken: " __VA_ARGS__);     \
			fputc('\n', stderr);                                   \
			__builtin_trap();                                      \
		}                                                              \
	} while (0)
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
