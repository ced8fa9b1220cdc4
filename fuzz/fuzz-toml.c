/*
 * fuzz-toml.c: libFuzzer harness for the TOML reader, writer and config layer.
 *
 * Whatever parses must be written back to text that parses to the same data,
 * and a config that loads must load again, unchanged, from what we save.
 */
#include <stdint.h>
#include <string.h>

/*
 * The sources are included, not linked from libau, so that they are built
 * with the fuzzer's coverage instrumentation (libau is not); the linker then
 * takes nothing of theirs from the library.
 */
#include "../src/toml.c"
#include "../src/config.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_toml(const char *text, size_t len)
{
	char *err = NULL;
	struct toml_table *t = toml_parse("fuzz.toml", text, len, &err);
	struct toml_table *again;
	char *out;

	if (!t) {
		/* Every error carries a position. */
		if (!err || strncmp(err, "fuzz.toml:", 10))
			__builtin_trap();
		free(err);
		return;
	}
	out = toml_format(t);
	again = toml_parse("again.toml", out, strlen(out), &err);
	if (!again || !toml_table_equal(t, again))
		__builtin_trap();
	toml_table_free(again);
	toml_table_free(t);
	free(out);
}

static void check_config(const char *text, size_t len)
{
	struct config cfg, again;
	char *err = NULL;
	char *out, *out2;

	if (config_parse(&cfg, "fuzz.toml", text, len, &err) < 0) {
		if (!err || strncmp(err, "fuzz.toml:", 10))
			__builtin_trap();
		free(err);
		config_release(&cfg);
		return;
	}
	out = config_format(&cfg);
	if (config_parse(&again, "again.toml", out, strlen(out), &err) < 0)
		__builtin_trap();
	out2 = config_format(&again);
	if (strcmp(out, out2))
		__builtin_trap();
	free(out);
	free(out2);
	config_release(&again);
	config_release(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_toml((const char *)data, size);
	check_config((const char *)data, size);
	return 0;
}
