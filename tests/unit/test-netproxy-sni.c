/*
 * test-netproxy-sni.c: reading the server name from a TLS ClientHello
 * (netproxy/sni.c): real ClientHellos from openssl and curl, hand-built ones
 * split over records, cut short, or bent out of shape. Ends with a seeded
 * mutation run of the fuzz harness.
 */
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "netproxy-mutate.h"

#include "../../fuzz/fuzz-netproxy-sni.c"

struct hello_spec {
	const char *names[3]; /* host names in the one server_name extension */
	int nr_names;
	int sni_extensions;   /* how many server_name extensions (0: none) */
	bool no_extensions;   /* a TLS 1.0-era hello without the extensions block */
	size_t record_size;   /* payload bytes per record (0: all in one) */
};

static void put16(struct strbuf *sb, size_t v)
{
	strbuf_addch(sb, (char)(v >> 8));
	strbuf_addch(sb, (char)v);
}

/* The TLS records of a ClientHello built to spec. */
static void build_hello(const struct hello_spec *spec, struct strbuf *out)
{
	autostrbuf struct strbuf body = STRBUF_INIT, exts = STRBUF_INIT, sni = STRBUF_INIT;
	size_t off = 0, chunk;

	put16(&body, 0x0303);
	for (int i = 0; i < 32; i++)
		strbuf_addch(&body, (char)i);
	strbuf_addch(&body, 32);
	for (int i = 0; i < 32; i++)
		strbuf_addch(&body, (char)(0xa0 + i));
	put16(&body, 4);
	put16(&body, 0x1301);
	put16(&body, 0x1302);
	strbuf_addch(&body, 1);
	strbuf_addch(&body, 0);
	if (!spec->no_extensions) {
		/* supported_versions: TLS 1.3 */
		put16(&exts, 0x002b);
		put16(&exts, 3);
		strbuf_add(&exts, "\x02\x03\x04", 3);
		for (int i = 0; i < spec->nr_names; i++) {
			strbuf_addch(&sni, 0);
			put16(&sni, strlen(spec->names[i]));
			strbuf_addstr(&sni, spec->names[i]);
		}
		for (int e = 0; e < spec->sni_extensions; e++) {
			put16(&exts, 0x0000);
			put16(&exts, sni.len + 2);
			put16(&exts, sni.len);
			strbuf_add(&exts, sni.buf, sni.len);
		}
		put16(&body, exts.len);
		strbuf_add(&body, exts.buf, exts.len);
	}
	{
		autostrbuf struct strbuf hs = STRBUF_INIT;

		strbuf_addch(&hs, 1);
		strbuf_addch(&hs, (char)(body.len >> 16));
		put16(&hs, body.len & 0xffff);
		strbuf_add(&hs, body.buf, body.len);
		chunk = spec->record_size ? spec->record_size : hs.len;
		strbuf_reset(out);
		while (off < hs.len) {
			size_t n = hs.len - off < chunk ? hs.len - off : chunk;

			strbuf_add(out, "\x16\x03\x01", 3);
			put16(out, n);
			strbuf_add(out, hs.buf + off, n);
			off += n;
		}
	}
}

static enum sni_status extract(const struct strbuf *sb, char name[NET_NAME_MAX + 1], const char **why)
{
	return sni_extract((const uint8_t *)sb->buf, sb->len, name, why);
}

static void test_real_client_hellos(void **state)
{
	static const struct {
		const char *file, *name;
	} captures[] = {
		{ SRCDIR "/tests/data/netproxy/clienthello-openssl.bin", "example.com" },
		{ SRCDIR "/tests/data/netproxy/clienthello-curl.bin", "www.example.org" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(captures); i++) {
		autostrbuf struct strbuf sb = STRBUF_INIT;
		char name[NET_NAME_MAX + 1];
		const char *why;
		FILE *f = fopen(captures[i].file, "rb");
		char buf[4096];
		size_t n;

		assert_non_null(f);
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			strbuf_add(&sb, buf, n);
		fclose(f);
		/* openssl sent "Example.COM": the name comes out canonical. */
		assert_int_equal(extract(&sb, name, &why), SNI_FOUND);
		assert_string_equal(name, captures[i].name);
		/* Every shorter prefix wants more, and never guesses. */
		for (size_t len = 0; len < sb.len; len++)
			if (sni_extract((const uint8_t *)sb.buf, len, name, &why) != SNI_NEED_MORE)
				fail_msg("%s cut to %zu bytes did not ask for more", captures[i].file, len);
	}
}

static void test_built_hellos(void **state)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;
	char name[NET_NAME_MAX + 1];
	const char *why;

	build_hello(&(struct hello_spec){ .names = { "Allowed.Example." }, .nr_names = 1, .sni_extensions = 1 }, &sb);
	assert_int_equal(extract(&sb, name, &why), SNI_FOUND);
	assert_string_equal(name, "allowed.example");

	/* Split into records of 7 bytes: the handshake message is put back together. */
	build_hello(&(struct hello_spec){ .names = { "split.example" }, .nr_names = 1, .sni_extensions = 1,
					  .record_size = 7 },
		    &sb);
	assert_int_equal(extract(&sb, name, &why), SNI_FOUND);
	assert_string_equal(name, "split.example");
	for (size_t len = 0; len < sb.len; len++)
		assert_int_equal(sni_extract((const uint8_t *)sb.buf, len, name, &why), SNI_NEED_MORE);

	build_hello(&(struct hello_spec){ .sni_extensions = 0 }, &sb);
	assert_int_equal(extract(&sb, name, &why), SNI_ABSENT);
	build_hello(&(struct hello_spec){ .no_extensions = true }, &sb);
	assert_int_equal(extract(&sb, name, &why), SNI_ABSENT);

	/* Application data after the hello changes nothing. */
	build_hello(&(struct hello_spec){ .names = { "a.example" }, .nr_names = 1, .sni_extensions = 1 }, &sb);
	strbuf_add(&sb, "\x17\x03\x03\x00\x05hello", 10);
	assert_int_equal(extract(&sb, name, &why), SNI_FOUND);
	assert_string_equal(name, "a.example");
}

static void assert_bad(const struct hello_spec *spec, const char *why_part)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;
	char name[NET_NAME_MAX + 1];
	const char *why = NULL;

	build_hello(spec, &sb);
	assert_int_equal(extract(&sb, name, &why), SNI_BAD);
	if (!strstr(why, why_part))
		fail_msg("refused with '%s', not '%s'", why, why_part);
}

static void test_odd_server_names(void **state)
{
	/* Two names, two extensions: which would the server believe? */
	assert_bad(&(struct hello_spec){ .names = { "allowed.example", "denied.example" }, .nr_names = 2,
					 .sni_extensions = 1 },
		   "two host names");
	assert_bad(&(struct hello_spec){ .names = { "allowed.example" }, .nr_names = 1, .sni_extensions = 2 },
		   "two server_name extensions");
	assert_bad(&(struct hello_spec){ .names = { "bad name.example" }, .nr_names = 1, .sni_extensions = 1 },
		   "not a host name");
	assert_bad(&(struct hello_spec){ .names = { "" }, .nr_names = 1, .sni_extensions = 1 }, "not a host name");
	assert_bad(&(struct hello_spec){ .names = { "127.0.0.1" }, .nr_names = 1, .sni_extensions = 1 },
		   "not a host name");
	assert_bad(&(struct hello_spec){ .nr_names = 0, .sni_extensions = 1 }, "server_name");
}

static void test_not_a_client_hello(void **state)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;
	char name[NET_NAME_MAX + 1];
	const char *why;

	build_hello(&(struct hello_spec){ .names = { "a.example" }, .nr_names = 1, .sni_extensions = 1 }, &sb);
	sb.buf[0] = 0x17; /* application data */
	assert_int_equal(extract(&sb, name, &why), SNI_BAD);
	sb.buf[0] = 0x16;
	sb.buf[1] = 0x02; /* SSL 2 */
	assert_int_equal(extract(&sb, name, &why), SNI_BAD);
	sb.buf[1] = 0x03;
	sb.buf[5] = 2; /* ServerHello */
	assert_int_equal(extract(&sb, name, &why), SNI_BAD);
	sb.buf[5] = 1;
	sb.buf[3] = 0;
	sb.buf[4] = 0; /* an empty record */
	assert_int_equal(extract(&sb, name, &why), SNI_BAD);
	sb.buf[3] = 0x40;
	sb.buf[4] = 1; /* a record over 16 KiB */
	assert_int_equal(extract(&sb, name, &why), SNI_BAD);
	assert_string_equal(why, "bad TLS record length");

	/* "GET / HTTP/1.1" does not start a TLS stream at all. */
	assert_int_equal(sni_extract((const uint8_t *)"GET / HTTP/1.1\r\n", 16, name, &why), SNI_BAD);
}

static void test_lengths_that_lie(void **state)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;
	char name[NET_NAME_MAX + 1];
	const char *why;
	size_t ext_len_at;

	build_hello(&(struct hello_spec){ .names = { "a.example" }, .nr_names = 1, .sni_extensions = 1 }, &sb);
	/* The extensions block's length, one more than what follows. */
	ext_len_at = 5 + 4 + 2 + 32 + 1 + 32 + 2 + 4 + 2;
	sb.buf[ext_len_at + 1]++;
	assert_int_equal(extract(&sb, name, &why), SNI_BAD);
	sb.buf[ext_len_at + 1] -= 2;
	assert_int_equal(extract(&sb, name, &why), SNI_BAD);
	sb.buf[ext_len_at + 1]++;
	assert_int_equal(extract(&sb, name, &why), SNI_FOUND);
	/* A session id longer than 32. */
	sb.buf[5 + 4 + 2 + 32] = 33;
	assert_int_equal(extract(&sb, name, &why), SNI_BAD);
}

static void test_bounded_peek(void **state)
{
	autostrbuf struct strbuf sb = STRBUF_INIT;
	char name[NET_NAME_MAX + 1];
	const char *why;
	uint8_t big[SNI_PEEK_MAX + 10];

	/* A handshake that says it is larger than the peek limit is refused at once. */
	memcpy(big, "\x16\x03\x01\x40\x00\x01\x00\x40\x00", 9);
	memset(big + 9, 0, sizeof(big) - 9);
	assert_int_equal(sni_extract(big, 9, name, &why), SNI_BAD);
	assert_string_equal(why, "ClientHello larger than the peek limit");
	/* Records of one byte each are fine while they fit in the peek... */
	build_hello(&(struct hello_spec){ .names = { "a.example" }, .nr_names = 1, .sni_extensions = 1,
					  .record_size = 1 },
		    &sb);
	assert_int_equal(extract(&sb, name, &why), SNI_FOUND);
	/* ...but a hello whose records' headers push it past the limit is refused, not waited for. */
	{
		char long_name[250];
		autostrbuf struct strbuf many = STRBUF_INIT;
		struct hello_spec spec = { .nr_names = 1, .sni_extensions = 40, .record_size = 1 };

		memset(long_name, 'a', 60);
		long_name[60] = '\0';
		spec.names[0] = long_name;
		build_hello(&spec, &many);
		assert_true(many.len > SNI_PEEK_MAX);
		assert_int_equal(extract(&many, name, &why), SNI_BAD);
		assert_string_equal(why, "ClientHello larger than the peek limit");
	}
}

static void test_mutation_run(void **state)
{
	autostrbuf struct strbuf a = STRBUF_INIT, b = STRBUF_INIT, c = STRBUF_INIT;
	struct sample samples[3];
	static const char interesting[] = "\x00\x01\x02\x03\x16\x17\xff.";
	autostrbuf struct strbuf sb = STRBUF_INIT;
	size_t found = 0, runs = 60000;

	build_hello(&(struct hello_spec){ .names = { "www.example.com" }, .nr_names = 1, .sni_extensions = 1 }, &a);
	build_hello(&(struct hello_spec){ .names = { "x.example" }, .nr_names = 1, .sni_extensions = 1,
					  .record_size = 40 },
		    &b);
	build_hello(&(struct hello_spec){ .sni_extensions = 0 }, &c);
	samples[0] = (struct sample){ (const uint8_t *)a.buf, a.len };
	samples[1] = (struct sample){ (const uint8_t *)b.buf, b.len };
	samples[2] = (struct sample){ (const uint8_t *)c.buf, c.len };
	mutate_rng_state = 0x7151ULL;
	for (size_t run = 0; run < runs; run++) {
		char name[NET_NAME_MAX + 1];
		const char *why;

		mutate_one(&sb, samples, ARRAY_SIZE(samples), interesting, sizeof(interesting) - 1);
		LLVMFuzzerTestOneInput((const uint8_t *)sb.buf, sb.len);
		found += sni_extract((const uint8_t *)sb.buf, sb.len, name, &why) == SNI_FOUND;
	}
	print_message("# sni mutation run: %zu runs, %zu with a name found\n", runs, found);
	assert_true(found > runs / 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_client_hellos),
		cmocka_unit_test(test_built_hellos),
		cmocka_unit_test(test_odd_server_names),
		cmocka_unit_test(test_not_a_client_hello),
		cmocka_unit_test(test_lengths_that_lie),
		cmocka_unit_test(test_bounded_peek),
		cmocka_unit_test(test_mutation_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
