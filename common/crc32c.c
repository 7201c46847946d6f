/*
 * crc32c.c: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
 *
 * ALGORITHM: on x86-64 with SSE4.2, the crc32 instruction over 8 bytes at a time
 * (about 8 bytes/cycle on a modern core); elsewhere slicing-by-8 tables built once.
 * The choice is made once, on first use, from cpuid; both paths give identical
 * results, which tests/test_crc32c.c checks against the RFC 3720 vectors.
 */
#include "crc32c.h"

#include <stdatomic.h>
#include <string.h>

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static atomic_int table_ready;

/* Built on first use; racing builders write the same values, and the release store
 * publishes them. */
static void build_table(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
		table[0][n] = c;
	}
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = table[0][n];
		for (int k = 1; k < 8; k++) {
			c = table[0][c & 0xff] ^ (c >> 8);
			table[k][n] = c;
		}
	}
	atomic_store_explicit(&table_ready, 1, memory_order_release);
}

uint32_t irs__crc32c_portable(uint32_t crc, const void *buf, size_t len)
{
	if (!atomic_load_explicit(&table_ready, memory_order_acquire))
		build_table();
	const uint8_t *p = buf;
	crc = ~crc;
	while (len && ((uintptr_t)p & 7)) {
		crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
		len--;
	}
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		w ^= crc; /* little-endian host assumed by the format; see below */
		crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
		      table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^
		      table[2][(w >> 40) & 0xff] ^ table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>

/* Aligned to 64 bytes so the 8-byte loop never straddles a cache line of
 * the instruction fetch: where it did (after unrelated code moved), this
 * loop ran at 4.9 instead of 7 GB/s on the same machine. */
__attribute__((target("sse4.2"), aligned(64))) static uint32_t
crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc;
	while (len && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		len--;
	}
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return ~(uint32_t)c;
}

static int detect_hw(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	return (c & bit_SSE4_2) != 0;
}
#else
static int detect_hw(void)
{
	return 0;
}
#endif

/* 0 = unknown, 1 = hardware, 2 = portable */
static atomic_int mode;

int irs__crc32c_hw(void)
{
	int m = atomic_load_explicit(&mode, memory_order_relaxed);
	if (!m) {
		m = detect_hw() ? 1 : 2;
		atomic_store_explicit(&mode, m, memory_order_relaxed);
	}
	return m == 1;
}

uint32_t irs__crc32c(uint32_t crc, const void *buf, size_t len)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (irs__crc32c_hw())
		return crc32c_hw(crc, buf, len);
#endif
	return irs__crc32c_portable(crc, buf, len);
}
