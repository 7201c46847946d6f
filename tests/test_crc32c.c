/*
 * test_crc32c.c: CRC-32C (common/crc32c.c) against the RFC 3720 (iSCSI) test
 * vectors, the hardware path against the portable one and a bit-at-a-time reference
 * on every alignment and every length 0..300, and chained (incremental) computation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/crc32c.h"

/* The definition itself: reflected polynomial 0x82F63B78, init and xorout ~0, one bit
 * at a time. Independent of both implementations under test. */
static uint32_t crc_ref(uint32_t crc, const uint8_t *p, size_t len)
{
	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
	}
	return ~crc;
}

/* splitmix64: a fixed, portable random stream. */
static uint64_t rnd_state;
static uint64_t rnd(void)
{
	uint64_t z = (rnd_state += 0x9E3779B97F4A7C15u);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static void check_vectors(crc_fn f)
{
	uint8_t buf[32];
	memset(buf, 0, sizeof buf);
	assert_int_equal(f(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xFF, sizeof buf);
	assert_int_equal(f(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(f(0, buf, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(f(0, buf, 32), 0x113FDB5Cu);
	assert_int_equal(f(0, "123456789", 9), 0xE3069283u);
	/* The empty buffer leaves the running value unchanged. */
	assert_int_equal(f(0, buf, 0), 0u);
	assert_int_equal(f(0x12345678u, buf, 0), 0x12345678u);
	/* iSCSI SCSI Read(10) command PDU, RFC 3720 B.4. */
	static const uint8_t read10[48] = {
		0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
		0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
	assert_int_equal(f(0, read10, sizeof read10), 0xD9963A56u);
}

static void test_vectors_dispatch(void **state)
{
	(void)state;
	check_vectors(irs__crc32c);
}

static void test_vectors_portable(void **state)
{
	(void)state;
	check_vectors(irs__crc32c_portable);
}

static void test_vectors_reference(void **state)
{
	(void)state;
	/* The test's own reference must agree with the RFC too, or the comparisons
	 * below would prove nothing. */
	uint8_t buf[32];
	memset(buf, 0, sizeof buf);
	assert_int_equal(crc_ref(0, buf, 32), 0x8A9136AAu);
	assert_int_equal(crc_ref(0, (const uint8_t *)"123456789", 9), 0xE3069283u);
}

/* Every alignment 0..15 and every length 0..300, random contents, random seed value:
 * dispatching (hardware when available), portable and reference agree. */
static void test_hw_vs_portable(void **state)
{
	(void)state;
	rnd_state = 42;
	enum { MAXLEN = 300, ALIGNS = 16 };
	uint8_t *raw = malloc(MAXLEN + ALIGNS + 8);
	assert_non_null(raw);
	/* Start from an 8-byte aligned address so offset k is exactly misaligned by k. */
	uint8_t *base = (uint8_t *)(((uintptr_t)raw + 7) & ~(uintptr_t)7);
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < MAXLEN + ALIGNS; i++)
			base[i] = (uint8_t)rnd();
		for (size_t a = 0; a < ALIGNS; a++) {
			for (size_t len = 0; len <= MAXLEN; len++) {
				uint32_t seed = round == 0 ? 0 : (uint32_t)rnd();
				uint32_t want = crc_ref(seed, base + a, len);
				uint32_t got_d = irs__crc32c(seed, base + a, len);
				uint32_t got_p = irs__crc32c_portable(seed, base + a, len);
				if (got_d != want || got_p != want)
					fail_msg("align %zu len %zu seed %08x: reference %08x, dispatch %08x, "
						 "portable %08x (hardware path %s)",
						 a, len, seed, want, got_d, got_p,
						 irs__crc32c_hw() ? "on" : "off");
			}
		}
	}
	free(raw);
}

/* crc(crc(0, a), b) == crc(0, a || b) at every split point, for both paths, and
 * across many small pieces (how the segment reader builds the whole-file CRC). */
static void test_incremental(void **state)
{
	(void)state;
	rnd_state = 7;
	enum { N = 1031 };
	uint8_t *buf = malloc(N);
	assert_non_null(buf);
	for (size_t i = 0; i < N; i++)
		buf[i] = (uint8_t)rnd();
	uint32_t whole = crc_ref(0, buf, N);
	assert_int_equal(irs__crc32c(0, buf, N), whole);
	assert_int_equal(irs__crc32c_portable(0, buf, N), whole);
	for (size_t split = 0; split <= N; split++) {
		uint32_t d = irs__crc32c(irs__crc32c(0, buf, split), buf + split, N - split);
		uint32_t p = irs__crc32c_portable(irs__crc32c_portable(0, buf, split), buf + split,
						  N - split);
		uint32_t mixed = irs__crc32c_portable(irs__crc32c(0, buf, split), buf + split, N - split);
		if (d != whole || p != whole || mixed != whole)
			fail_msg("split %zu: whole %08x, dispatch %08x, portable %08x, mixed %08x", split,
				 whole, d, p, mixed);
	}
	/* Random piece sizes 0..40. */
	for (int round = 0; round < 50; round++) {
		uint32_t d = 0, p = 0;
		size_t off = 0;
		while (off < N) {
			size_t n = (size_t)(rnd() % 41);
			if (n > N - off)
				n = N - off;
			d = irs__crc32c(d, buf + off, n);
			p = irs__crc32c_portable(p, buf + off, n);
			off += n;
		}
		assert_int_equal(d, whole);
		assert_int_equal(p, whole);
	}
	free(buf);
}

/* A large buffer (the 8-byte main loops dominate) agrees with the reference. */
static void test_large(void **state)
{
	(void)state;
	rnd_state = 99;
	size_t n = (1u << 20) + 5;
	uint8_t *buf = malloc(n);
	assert_non_null(buf);
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)rnd();
	uint32_t want = crc_ref(0, buf, n);
	assert_int_equal(irs__crc32c(0, buf, n), want);
	assert_int_equal(irs__crc32c_portable(0, buf, n), want);
	assert_int_equal(irs__crc32c(0, buf + 3, n - 3), crc_ref(0, buf + 3, n - 3));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_reference),
		cmocka_unit_test(test_vectors_dispatch),
		cmocka_unit_test(test_vectors_portable),
		cmocka_unit_test(test_hw_vs_portable),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
