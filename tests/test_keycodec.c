/*
 * test_keycodec.c: the encoded key's byte order equals the typed order of the key
 * tuple (common/keycodec.h), decoding round-trips and rejects malformed bytes.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include "cli.h" /* irs_cli_value_equal */
#include "common/keycodec.h"
#include "test_util.h"

#define NVALS 3000
#define NPAIRS 200000
#define KEYCAP (IRS_MAX_KEY_BYTES + 16)

/* ------------------------------------------------------------------ typed order */

static int cmp3(int c)
{
	return (c > 0) - (c < 0);
}

/* Typed order of two SET values of one type; doubles: -0 < +0, no NaN here. */
static int typed_cmp(irs_type ty, const irs_value *a, const irs_value *b)
{
	switch (ty) {
	case IRS_TYPE_BOOL: return cmp3(a->v.b - b->v.b);
	case IRS_TYPE_INT32:
	case IRS_TYPE_INT64:
	case IRS_TYPE_TIMESTAMP: return (a->v.i64 > b->v.i64) - (a->v.i64 < b->v.i64);
	case IRS_TYPE_UINT32:
	case IRS_TYPE_UINT64: return (a->v.u64 > b->v.u64) - (a->v.u64 < b->v.u64);
	case IRS_TYPE_DOUBLE:
		if (a->v.d < b->v.d)
			return -1;
		if (a->v.d > b->v.d)
			return 1;
		return (!signbit(a->v.d) && signbit(b->v.d)) - (signbit(a->v.d) && !signbit(b->v.d));
	case IRS_TYPE_UTF8:
	case IRS_TYPE_BYTES: {
		size_t n = a->v.s.len < b->v.s.len ? a->v.s.len : b->v.s.len;
		int c = n ? memcmp(a->v.s.ptr, b->v.s.ptr, n) : 0;
		if (c)
			return cmp3(c);
		return (a->v.s.len > b->v.s.len) - (a->v.s.len < b->v.s.len);
	}
	}
	return 0;
}

static int tuple_cmp(const irs_schema_table *t, const irs_value *a, const irs_value *b)
{
	for (uint32_t k = 0; k < t->nkey; k++) {
		uint32_t c = t->key_cols[k];
		int r = typed_cmp(t->cols[c].type, &a[c], &b[c]);
		if (r)
			return r;
	}
	return 0;
}

/* ------------------------------------------------------------------ random values */

/* Strings over a tiny alphabet so that prefixes, 0x00 and 0xFF collide often. */
static const uint8_t ALPHA[] = {0x00, 0x01, 0xFF, 'a', 'b', 0xFE};

typedef struct pool {
	uint8_t *bytes; /* string storage */
	size_t used, cap;
} pool;

static irs_value rand_value(uint64_t *rs, irs_type ty, pool *pl)
{
	uint64_t r = tu_rand(rs);
	switch (ty) {
	case IRS_TYPE_BOOL: return tu_bool((int)(r & 1));
	case IRS_TYPE_INT32: {
		static const int64_t sp[] = {INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX - 1,
					     INT32_MAX};
		if (r % 4 == 0)
			return tu_i64(sp[(r >> 8) % 7]);
		return tu_i64((int32_t)(uint32_t)(r >> 16));
	}
	case IRS_TYPE_INT64:
	case IRS_TYPE_TIMESTAMP: {
		static const int64_t sp[] = {INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1,
					     INT64_MAX, -256, 255};
		if (r % 4 == 0)
			return tu_i64(sp[(r >> 8) % 9]);
		if (r % 4 == 1)
			return tu_i64((int64_t)((r >> 8) % 2000) - 1000);
		return tu_i64((int64_t)tu_rand(rs));
	}
	case IRS_TYPE_UINT32: {
		static const uint64_t sp[] = {0, 1, 255, 256, UINT32_MAX - 1, UINT32_MAX};
		if (r % 4 == 0)
			return tu_u64(sp[(r >> 8) % 6]);
		return tu_u64((uint32_t)(r >> 16));
	}
	case IRS_TYPE_UINT64: {
		static const uint64_t sp[] = {0, 1, 255, 256, UINT64_MAX - 1, UINT64_MAX,
					      (uint64_t)1 << 63, ((uint64_t)1 << 63) - 1};
		if (r % 4 == 0)
			return tu_u64(sp[(r >> 8) % 8]);
		return tu_u64(tu_rand(rs));
	}
	case IRS_TYPE_DOUBLE: {
		static const double sp[] = {0.0, -0.0, 1.0, -1.0, INFINITY, -INFINITY, DBL_MAX,
					    -DBL_MAX, DBL_MIN, -DBL_MIN, 5e-324, -5e-324, 0.5,
					    -0.5};
		if (r % 3 == 0)
			return tu_dbl(sp[(r >> 8) % 14]);
		if (r % 3 == 1)
			return tu_dbl((double)((int64_t)((r >> 8) % 2001) - 1000) / 8.0);
		uint64_t bits = tu_rand(rs);
		double d;
		memcpy(&d, &bits, sizeof d);
		if (isnan(d))
			d = 1e300 * (bits & 1 ? -1 : 1);
		return tu_dbl(d);
	}
	case IRS_TYPE_UTF8:
	case IRS_TYPE_BYTES: {
		size_t len = (size_t)((r >> 8) % 7);
		if (pl->cap - pl->used < len + 1)
			return tu_bytes("", 0);
		uint8_t *s = pl->bytes + pl->used;
		for (size_t i = 0; i < len; i++)
			s[i] = ALPHA[tu_rand(rs) % sizeof ALPHA];
		if (ty == IRS_TYPE_UTF8)
			for (size_t i = 0; i < len; i++)
				if (s[i] >= 0x80)
					s[i] = 'z'; /* keep it valid UTF-8 (0x00 stays) */
		pl->used += len;
		return tu_bytes(s, len);
	}
	}
	return tu_null();
}

/* ------------------------------------------------------------------ fixtures */

typedef struct keyset {
	irs_schema_table *t;
	irs_value *rows;   /* NVALS * ncols */
	uint8_t *enc;      /* NVALS * KEYCAP_SMALL */
	size_t *len;
	pool pl;
} keyset;

#define KEYCAP_SMALL 256

static void keyset_free(keyset *ks)
{
	tu_schema_free(ks->t);
	free(ks->rows);
	free(ks->enc);
	free(ks->len);
	free(ks->pl.bytes);
}

/* NVALS random key tuples of the given key types (the schema has only key columns). */
static void keyset_make(keyset *ks, const irs_type *types, uint32_t n, uint64_t seed)
{
	uint32_t pk[8];
	for (uint32_t i = 0; i < n; i++)
		pk[i] = n - 1 - i; /* key order differs from schema order */
	ks->t = tu_schema_new(types, n, pk, n);
	assert_non_null(ks->t);
	ks->rows = calloc((size_t)NVALS * n, sizeof *ks->rows);
	ks->enc = malloc((size_t)NVALS * KEYCAP_SMALL);
	ks->len = calloc(NVALS, sizeof *ks->len);
	ks->pl.cap = (size_t)NVALS * n * 8;
	ks->pl.bytes = malloc(ks->pl.cap);
	ks->pl.used = 0;
	assert_true(ks->rows && ks->enc && ks->len && ks->pl.bytes);
	uint64_t rs = seed;
	for (size_t i = 0; i < NVALS; i++) {
		irs_value *row = &ks->rows[i * n];
		for (uint32_t c = 0; c < n; c++)
			row[c] = rand_value(&rs, types[c], &ks->pl);
		ks->len[i] = irs__key_encode(ks->t, row, ks->enc + i * KEYCAP_SMALL, KEYCAP_SMALL);
		assert_true(ks->len[i] > 0);
		size_t bound = 0;
		for (uint32_t c = 0; c < n; c++)
			bound += irs__key_part_bound(types[c], &row[c]);
		assert_true(ks->len[i] <= bound);
	}
}

/* Byte order of encodings == typed order of tuples, on random and adjacent pairs. */
static void check_order(const keyset *ks, uint64_t seed)
{
	uint32_t n = ks->t->ncols;
	uint64_t rs = seed;
	for (size_t k = 0; k < NPAIRS; k++) {
		size_t i = tu_rand_below(&rs, NVALS), j = k % 7 ? tu_rand_below(&rs, NVALS) : i;
		int typed = tuple_cmp(ks->t, &ks->rows[i * n], &ks->rows[j * n]);
		int bytes = cmp3(irs__key_cmp(ks->enc + i * KEYCAP_SMALL, ks->len[i],
					      ks->enc + j * KEYCAP_SMALL, ks->len[j]));
		if (typed != bytes)
			fail_msg("pair %zu,%zu: typed %d, bytes %d", i, j, typed, bytes);
	}
}

/* decode(encode(v)) == v, and the scratch rule for strings holding 0x00. */
static void check_roundtrip(const keyset *ks)
{
	uint32_t n = ks->t->ncols;
	irs_value out[8];
	uint8_t scratch[KEYCAP_SMALL];
	for (size_t i = 0; i < NVALS; i++) {
		const uint8_t *enc = ks->enc + i * KEYCAP_SMALL;
		memset(out, 0, sizeof out);
		assert_int_equal(irs__key_decode(ks->t, enc, ks->len[i], out, scratch), 0);
		for (uint32_t c = 0; c < n; c++) {
			irs_type ty = ks->t->cols[c].type;
			if (!irs_cli_value_equal(ty, &ks->rows[i * n + c], &out[c]))
				fail_msg("row %zu column %u does not round-trip", i, c);
			if (irs__type_is_var(ty) && out[c].v.s.len) {
				const uint8_t *p = out[c].v.s.ptr;
				bool in_key = p >= enc && p < enc + ks->len[i];
				bool in_scratch = p >= scratch && p < scratch + ks->len[i];
				assert_true(in_key || in_scratch);
				assert_true(in_scratch == (memchr(p, 0, out[c].v.s.len) != NULL));
			}
		}
		/* Canonical: re-encoding gives the same bytes. */
		uint8_t again[KEYCAP_SMALL];
		assert_int_equal(irs__key_encode(ks->t, out, again, sizeof again), ks->len[i]);
		assert_memory_equal(again, enc, ks->len[i]);
		assert_int_equal(irs__key_hash(enc, ks->len[i]), XXH3_64bits(enc, ks->len[i]));
	}
}

static void run_types(const irs_type *types, uint32_t n, uint64_t seed)
{
	keyset ks;
	keyset_make(&ks, types, n, seed);
	check_order(&ks, seed * 31 + 7);
	check_roundtrip(&ks);
	keyset_free(&ks);
}

/* ------------------------------------------------------------------ tests */

static void test_each_type(void **state)
{
	(void)state;
	static const irs_type all[] = {IRS_TYPE_BOOL,   IRS_TYPE_INT32,  IRS_TYPE_INT64,
				       IRS_TYPE_UINT32, IRS_TYPE_UINT64, IRS_TYPE_DOUBLE,
				       IRS_TYPE_UTF8,   IRS_TYPE_BYTES,  IRS_TYPE_TIMESTAMP};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		run_types(&all[i], 1, 100 + i);
}

static void test_composite(void **state)
{
	(void)state;
	static const irs_type k1[] = {IRS_TYPE_UTF8, IRS_TYPE_INT32};
	static const irs_type k2[] = {IRS_TYPE_BYTES, IRS_TYPE_BYTES, IRS_TYPE_BYTES};
	static const irs_type k3[] = {IRS_TYPE_BOOL, IRS_TYPE_DOUBLE, IRS_TYPE_UINT64};
	static const irs_type k4[] = {IRS_TYPE_INT64, IRS_TYPE_UTF8, IRS_TYPE_TIMESTAMP,
				      IRS_TYPE_UINT32};
	static const irs_type k5[] = {IRS_TYPE_BOOL, IRS_TYPE_BOOL};
	run_types(k1, 2, 1);
	run_types(k2, 3, 2);
	run_types(k3, 3, 3);
	run_types(k4, 4, 4);
	run_types(k5, 2, 5);
}

static size_t enc1(irs_schema_table *t, irs_value v, uint8_t *out)
{
	return irs__key_encode(t, &v, out, KEYCAP_SMALL);
}

static void test_special_values(void **state)
{
	(void)state;
	irs_type ty = IRS_TYPE_DOUBLE;
	uint32_t pk0 = 0;
	irs_schema_table *t = tu_schema_new(&ty, 1, &pk0, 1);
	uint8_t a[KEYCAP_SMALL], b[KEYCAP_SMALL];
	/* -inf < -max < -1 < -min < -0 < +0 < min < 1 < max < +inf < +NaN; -NaN < -inf */
	const double ladder[] = {-INFINITY, -DBL_MAX, -1.0, -5e-324, -0.0, 0.0, 5e-324, 1.0,
				 DBL_MAX, INFINITY, NAN};
	for (size_t i = 0; i + 1 < sizeof ladder / sizeof ladder[0]; i++) {
		size_t la = enc1(t, tu_dbl(ladder[i]), a), lb = enc1(t, tu_dbl(ladder[i + 1]), b);
		assert_int_equal(la, 8);
		assert_true(irs__key_cmp(a, la, b, lb) < 0);
	}
	size_t la = enc1(t, tu_dbl(-NAN), a), lb = enc1(t, tu_dbl(-INFINITY), b);
	assert_true(irs__key_cmp(a, la, b, lb) < 0);
	/* -0 and +0 are distinct keys and round-trip with their sign. */
	irs_value out;
	uint8_t scratch[16];
	la = enc1(t, tu_dbl(-0.0), a);
	assert_int_equal(irs__key_decode(t, a, la, &out, scratch), 0);
	assert_true(out.v.d == 0.0 && signbit(out.v.d));
	la = enc1(t, tu_dbl(NAN), a);
	assert_int_equal(irs__key_decode(t, a, la, &out, scratch), 0);
	assert_true(isnan(out.v.d));
	tu_schema_free(t);

	/* Integer extremes: exact bytes. */
	ty = IRS_TYPE_INT64;
	t = tu_schema_new(&ty, 1, &pk0, 1);
	la = enc1(t, tu_i64(INT64_MIN), a);
	assert_int_equal(la, 8);
	assert_memory_equal(a, "\x00\x00\x00\x00\x00\x00\x00\x00", 8);
	la = enc1(t, tu_i64(INT64_MAX), a);
	assert_memory_equal(a, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
	la = enc1(t, tu_i64(0), a);
	assert_memory_equal(a, "\x80\x00\x00\x00\x00\x00\x00\x00", 8);
	tu_schema_free(t);
	ty = IRS_TYPE_UINT64;
	t = tu_schema_new(&ty, 1, &pk0, 1);
	la = enc1(t, tu_u64(UINT64_MAX), a);
	assert_memory_equal(a, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
	assert_int_equal(irs__key_decode(t, a, la, &out, scratch), 0);
	assert_true(out.v.u64 == UINT64_MAX);
	tu_schema_free(t);
	ty = IRS_TYPE_INT32;
	t = tu_schema_new(&ty, 1, &pk0, 1);
	la = enc1(t, tu_i64(INT32_MIN), a);
	assert_int_equal(la, 4);
	assert_memory_equal(a, "\x00\x00\x00\x00", 4);
	assert_int_equal(irs__key_decode(t, a, la, &out, scratch), 0);
	assert_true(out.v.i64 == INT32_MIN);
	tu_schema_free(t);

	/* Strings: escapes, terminator, prefix order. */
	ty = IRS_TYPE_BYTES;
	t = tu_schema_new(&ty, 1, &pk0, 1);
	la = enc1(t, tu_bytes("a\0b", 3), a);
	assert_int_equal(la, 6);
	assert_memory_equal(a, "a\x00\xff" "b\x00\x00", 6);
	const char *ord[] = {"", "\0", "\0\0", "\0\x01", "\x01", "a", "a\0", "a\x01", "ab", "b"};
	const size_t ordl[] = {0, 1, 2, 2, 1, 1, 2, 2, 2, 1};
	for (size_t i = 0; i + 1 < 10; i++) {
		la = enc1(t, tu_bytes(ord[i], ordl[i]), a);
		lb = enc1(t, tu_bytes(ord[i + 1], ordl[i + 1]), b);
		assert_true(irs__key_cmp(a, la, b, lb) < 0);
	}
	tu_schema_free(t);
}

static void test_limits(void **state)
{
	(void)state;
	irs_type ty = IRS_TYPE_BYTES;
	uint32_t pk0 = 0;
	irs_schema_table *t = tu_schema_new(&ty, 1, &pk0, 1);
	uint8_t *big = malloc(KEYCAP);
	uint8_t *src = malloc(IRS_MAX_KEY_BYTES);
	memset(src, 'x', IRS_MAX_KEY_BYTES);
	/* Fits exactly: 65533 bytes + terminator = 65535. */
	irs_value v = tu_bytes(src, IRS_MAX_KEY_BYTES - 2);
	assert_int_equal(irs__key_encode(t, &v, big, KEYCAP), IRS_MAX_KEY_BYTES);
	v = tu_bytes(src, IRS_MAX_KEY_BYTES - 1);
	assert_int_equal(irs__key_encode(t, &v, big, KEYCAP), 0);
	/* Escapes count: 40000 zero bytes need 80002. */
	memset(src, 0, 40000);
	v = tu_bytes(src, 40000);
	assert_int_equal(irs__key_encode(t, &v, big, KEYCAP), 0);
	/* Small caps: every cap below the length fails, the length itself works. */
	v = tu_bytes("ab\0cd", 5);
	for (size_t cap = 0; cap < 8; cap++)
		assert_int_equal(irs__key_encode(t, &v, big, cap), 0);
	assert_int_equal(irs__key_encode(t, &v, big, 8), 8);
	tu_schema_free(t);
	ty = IRS_TYPE_UINT64;
	t = tu_schema_new(&ty, 1, &pk0, 1);
	v = tu_u64(5);
	assert_int_equal(irs__key_encode(t, &v, big, 7), 0);
	assert_int_equal(irs__key_encode(t, &v, big, 8), 8);
	tu_schema_free(t);
	free(big);
	free(src);
}

/* Every strict prefix and every extension of a valid key is rejected; bad bytes too. */
static void test_malformed(void **state)
{
	(void)state;
	static const irs_type types[] = {IRS_TYPE_UTF8, IRS_TYPE_BOOL, IRS_TYPE_BYTES,
					 IRS_TYPE_INT32};
	keyset ks;
	keyset_make(&ks, types, 4, 77);
	irs_value out[4];
	uint8_t scratch[KEYCAP_SMALL + 8];
	uint8_t buf[KEYCAP_SMALL + 8];
	for (size_t i = 0; i < 300; i++) {
		const uint8_t *enc = ks.enc + i * KEYCAP_SMALL;
		size_t len = ks.len[i];
		for (size_t l = 0; l < len; l++) {
			/* Copy to an exact-size buffer so ASan catches any over-read. */
			uint8_t *exact = malloc(l ? l : 1);
			memcpy(exact, enc, l);
			assert_int_equal(irs__key_decode(ks.t, exact, l, out, scratch), IRS_ECORRUPT);
			free(exact);
		}
		memcpy(buf, enc, len);
		buf[len] = 0;
		assert_int_equal(irs__key_decode(ks.t, buf, len + 1, out, scratch), IRS_ECORRUPT);
	}
	keyset_free(&ks);

	/* Bad bool, bad escape. */
	irs_type ty = IRS_TYPE_BOOL;
	uint32_t pk0 = 0;
	irs_schema_table *t = tu_schema_new(&ty, 1, &pk0, 1);
	assert_int_equal(irs__key_decode(t, (const uint8_t *)"\x02", 1, out, scratch), IRS_ECORRUPT);
	assert_int_equal(irs__key_decode(t, (const uint8_t *)"\x01", 1, out, scratch), 0);
	tu_schema_free(t);
	ty = IRS_TYPE_UTF8;
	t = tu_schema_new(&ty, 1, &pk0, 1);
	assert_int_equal(irs__key_decode(t, (const uint8_t *)"a\x00\x01", 3, out, scratch),
			 IRS_ECORRUPT);
	assert_int_equal(irs__key_decode(t, (const uint8_t *)"a\x00\xff\x00\x01", 5, out, scratch),
			 IRS_ECORRUPT);
	assert_int_equal(irs__key_decode(t, (const uint8_t *)"a\x00\xff", 3, out, scratch),
			 IRS_ECORRUPT);
	assert_int_equal(irs__key_decode(t, (const uint8_t *)"\x00", 1, out, scratch),
			 IRS_ECORRUPT);
	assert_int_equal(irs__key_decode(t, (const uint8_t *)"a\x00\xff\x00\x00", 5, out, scratch),
			 0);
	assert_int_equal(out[0].v.s.len, 2);
	assert_memory_equal(out[0].v.s.ptr, "a\0", 2);
	tu_schema_free(t);

	/* Random bytes: never crash; whatever decodes re-encodes to the same bytes. */
	static const irs_type rt[] = {IRS_TYPE_BYTES, IRS_TYPE_BOOL, IRS_TYPE_UTF8};
	uint32_t pk[3] = {0, 1, 2};
	t = tu_schema_new(rt, 3, pk, 3);
	uint64_t rs = 99;
	size_t ok = 0;
	for (size_t i = 0; i < 200000; i++) {
		size_t l = tu_rand_below(&rs, 12);
		uint8_t *b = malloc(l ? l : 1);
		for (size_t k = 0; k < l; k++) {
			uint64_t r = tu_rand(&rs);
			b[k] = (uint8_t)(r % 3 ? (r >> 8) % 3 : (r >> 8)); /* mostly 0, 1, 2 */
			if (r % 11 == 0)
				b[k] = 0xFF;
		}
		if (irs__key_decode(t, b, l, out, scratch) == 0) {
			ok++;
			uint8_t again[64];
			assert_int_equal(irs__key_encode(t, out, again, sizeof again), l);
			assert_memory_equal(again, b, l);
		}
		free(b);
	}
	assert_true(ok > 100); /* the generator does hit valid keys */
	tu_schema_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_type),
		cmocka_unit_test(test_composite),
		cmocka_unit_test(test_special_values),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
