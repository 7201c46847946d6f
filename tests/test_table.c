/*
 * test_table.c: the in-memory table partition (shard/table.h) and the content digest
 * (common/digest.h): docs/design.md section 1 semantics, NULLs, var-length values growing and
 * shrinking (in place and out of line), clear, reserve-then-apply allocating nothing,
 * failure atomicity of reserve, sorted iteration, digests independent of order and
 * partitioning, and long random runs against a simple reference model checked with
 * irs__part_check.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include "cli.h" /* irs_cli_value_equal */
#include "common/alloc.h"
#include "common/digest.h"
#include "common/keycodec.h"
#include "shard/fault.h"
#include "shard/table.h"
#include "test_util.h"

/* ------------------------------------------------------------------ schemas */

enum { S_MAIN, S_STRKEY, S_FIXED, S_WIDE, S_KEYONLY, S_COUNT };

static irs_schema_table *make_schema(int which)
{
	switch (which) {
	case S_MAIN: {
		static const irs_type ty[] = {IRS_TYPE_UINT64, IRS_TYPE_INT32,  IRS_TYPE_UTF8,
					      IRS_TYPE_DOUBLE, IRS_TYPE_BOOL,   IRS_TYPE_BYTES,
					      IRS_TYPE_TIMESTAMP, IRS_TYPE_UINT32, IRS_TYPE_INT64,
					      IRS_TYPE_UTF8};
		static const uint32_t pk[] = {0};
		return tu_schema_new(ty, 10, pk, 1);
	}
	case S_STRKEY: {
		static const irs_type ty[] = {IRS_TYPE_UTF8, IRS_TYPE_BYTES, IRS_TYPE_INT64,
					      IRS_TYPE_UINT64};
		static const uint32_t pk[] = {2, 0};
		return tu_schema_new(ty, 4, pk, 2);
	}
	case S_FIXED: {
		static const irs_type ty[] = {IRS_TYPE_INT64, IRS_TYPE_INT64};
		static const uint32_t pk[] = {0};
		return tu_schema_new(ty, 2, pk, 1);
	}
	case S_WIDE: {
		irs_type ty[21];
		ty[0] = IRS_TYPE_UINT32;
		for (int i = 1; i < 21; i++)
			ty[i] = (i % 5 == 0) ? IRS_TYPE_INT64 : (i % 3 == 0) ? IRS_TYPE_BOOL
				: (i % 2) ? IRS_TYPE_UTF8 : IRS_TYPE_BYTES;
		static const uint32_t pk[] = {0};
		return tu_schema_new(ty, 21, pk, 1);
	}
	case S_KEYONLY: {
		static const irs_type ty[] = {IRS_TYPE_BYTES};
		static const uint32_t pk[] = {0};
		return tu_schema_new(ty, 1, pk, 1);
	}
	}
	return NULL;
}

/* ------------------------------------------------------------------ reference model */

typedef struct mrow {
	bool present;
	irs_value *vals; /* ncols; strings malloc'd and owned */
} mrow;

typedef struct env {
	irs_mem mem;
	irs_schema_table *t;
	irs_table_part *part;
	uint32_t nkeys;
	mrow *rows;
	uint8_t keybuf[64];    /* key strings of key_row */
	bool long_prefixes;    /* key strings start with one of three prefixes (by id % 3),
				* two of them longer than the sort's 8-byte key prefix */
	bool one_prefix;       /* with long_prefixes: all start with the same long one */
	bool mixed_keys;       /* uint64 keys are splitmix64(id) (random-looking, as distinct)
				* instead of id x 2^64/phi (evenly spread) */
	uint64_t rs;
	irs_apply_counts counts, expect;
} env;

/* The key columns of key id, deterministic; strings may hold 0x00. */
static void key_row(env *e, uint32_t id, irs_value *row)
{
	const irs_schema_table *t = e->t;
	for (uint32_t k = 0; k < t->nkey; k++) {
		uint32_t c = t->key_cols[k];
		switch (t->cols[c].type) {
		case IRS_TYPE_UINT64: {
			uint64_t z = (uint64_t)id * 0x9E3779B97F4A7C15u;
			if (e->mixed_keys) { /* splitmix64's finalizer: a bijection */
				z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
				z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
				z ^= z >> 31;
			}
			row[c] = tu_u64(z);
			break;
		}
		case IRS_TYPE_UINT32: row[c] = tu_u64(id); break;
		case IRS_TYPE_INT64:
			row[c] = tu_i64(t->nkey == 1 ? (int64_t)id - 5000 : (int64_t)(id % 7) - 3);
			break;
		case IRS_TYPE_INT32: row[c] = tu_i64((int32_t)id - 100); break;
		default: {
			/* id/7 as a string of varying length with 0x00 bytes and prefixes */
			uint32_t v = t->nkey == 1 ? id : id / 7;
			size_t n = 0;
			uint8_t *b = e->keybuf + 32 * k;
			static const char *const prefixes[3] = {"", "aaaaaaaaaa", "\xff\xff\xff\xff\xff\xff\xff\xff\xff"};
			if (e->long_prefixes)
				for (const char *pre = prefixes[e->one_prefix ? 1 : id % 3]; *pre; pre++)
					b[n++] = (uint8_t)*pre;
			do {
				b[n++] = (uint8_t)(v % 3 == 0 ? 0x00 : v % 3 == 1 ? 'a' : 0xFF);
				v /= 3;
			} while (v && n < 31);
			row[c] = tu_bytes(b, n);
			break;
		}
		}
	}
}

static size_t key_of(env *e, uint32_t id, uint8_t *out, size_t cap)
{
	irs_value row[32];
	key_row(e, id, row);
	size_t n = irs__key_encode(e->t, row, out, cap);
	assert_true(n > 0);
	return n;
}

static void mval_free(irs_value *v, irs_type ty)
{
	if (v->state == IRS_VALUE_SET && irs__type_is_var(ty))
		free((void *)v->v.s.ptr);
	*v = tu_null();
}

static void mval_set(irs_value *dst, irs_type ty, const irs_value *src)
{
	mval_free(dst, ty);
	*dst = *src;
	if (src->state == IRS_VALUE_SET && irs__type_is_var(ty)) {
		void *p = malloc(src->v.s.len ? src->v.s.len : 1);
		assert_non_null(p);
		if (src->v.s.len)
			memcpy(p, src->v.s.ptr, src->v.s.len);
		dst->v.s.ptr = p;
	}
	if (src->state == IRS_VALUE_ABSENT)
		dst->state = IRS_VALUE_NULL;
}

static void model_erase(env *e, uint32_t id)
{
	mrow *m = &e->rows[id];
	if (!m->present)
		return;
	for (uint32_t c = 0; c < e->t->ncols; c++)
		mval_free(&m->vals[c], e->t->cols[c].type);
	m->present = false;
}

/* docs/design.md section 1: listed columns change; a missing row starts all NULL. */
static void model_upsert(env *e, uint32_t id, const irs_value *row)
{
	mrow *m = &e->rows[id];
	const irs_schema_table *t = e->t;
	if (!m->present) {
		m->present = true;
		irs_value key[32];
		key_row(e, id, key);
		for (uint32_t c = 0; c < t->ncols; c++)
			m->vals[c] = tu_null();
		for (uint32_t k = 0; k < t->nkey; k++)
			mval_set(&m->vals[t->key_cols[k]], t->cols[t->key_cols[k]].type,
				 &key[t->key_cols[k]]);
	}
	for (uint32_t vi = 0; vi < t->nvalues; vi++) {
		uint32_t c = t->value_cols[vi];
		if (row[c].state != IRS_VALUE_ABSENT)
			mval_set(&m->vals[c], t->cols[c].type, &row[c]);
	}
}

static void env_init(env *e, int schema, uint32_t nkeys, uint64_t expected, uint64_t limit,
		     uint64_t seed)
{
	memset(e, 0, sizeof *e);
	irs__mem_init(&e->mem, NULL, limit);
	e->t = make_schema(schema);
	assert_non_null(e->t);
	e->nkeys = nkeys;
	e->rows = calloc(nkeys, sizeof *e->rows);
	assert_non_null(e->rows);
	for (uint32_t i = 0; i < nkeys; i++) {
		e->rows[i].vals = calloc(e->t->ncols, sizeof(irs_value));
		assert_non_null(e->rows[i].vals);
	}
	e->rs = seed;
	assert_int_equal(irs__part_create(&e->mem, e->t, expected, &e->part), 0);
	/* Odd seeds maintain the digest per change; compare_rows checks it against the
	 * model either way, and irs__part_check against the digest's definition. */
	if (seed & 1)
		irs__part_track_digest(e->part);
}

static void env_free(env *e)
{
	irs__part_destroy(e->part);
	/* Every byte the partition took from irs_mem came back. */
	assert_int_equal(atomic_load(&e->mem.used), 0);
	for (uint32_t i = 0; i < e->nkeys; i++) {
		model_erase(e, i);
		free(e->rows[i].vals);
	}
	free(e->rows);
	tu_schema_free(e->t);
}

/* ------------------------------------------------------------------ random changes */

static uint8_t strpool[8192];

static void strpool_init(void)
{
	uint64_t rs = 5;
	for (size_t i = 0; i < sizeof strpool; i++) {
		strpool[i] = (uint8_t)('a' + tu_rand_below(&rs, 26));
		if (i % 97 == 0)
			strpool[i] = 0;
	}
}

static irs_value rand_value(env *e, irs_type ty)
{
	uint64_t r = tu_rand(&e->rs);
	if (r % 5 == 0)
		return tu_null();
	r >>= 4;
	switch (ty) {
	case IRS_TYPE_BOOL: return tu_bool((int)(r & 1));
	case IRS_TYPE_INT32: return tu_i64((int32_t)(uint32_t)r);
	case IRS_TYPE_INT64:
	case IRS_TYPE_TIMESTAMP: return tu_i64((int64_t)tu_rand(&e->rs));
	case IRS_TYPE_UINT32: return tu_u64((uint32_t)r);
	case IRS_TYPE_UINT64: return tu_u64(tu_rand(&e->rs));
	case IRS_TYPE_DOUBLE: return tu_dbl(r % 2 ? -0.0 : (double)(int64_t)r / 3.0);
	default: {
		size_t len;
		uint64_t k = r % 100;
		if (k < 2)
			len = 2100 + (size_t)(r >> 8) % 3000; /* beyond the exact free lists */
		else if (k < 8)
			len = 100 + (size_t)(r >> 8) % 400;
		else
			len = (size_t)(r >> 8) % 41;
		size_t off = (size_t)(tu_rand(&e->rs) % (sizeof strpool - len));
		return tu_bytes(strpool + off, len);
	}
	}
}

/*
 * A random change for key id, applied to the model; returns its record. Upserts list
 * a random subset of value columns (sometimes all), ~15% are erases.
 */
static irs_rec *rand_change(env *e, uint32_t id, int erase_pct)
{
	const irs_schema_table *t = e->t;
	irs_value row[32];
	for (uint32_t c = 0; c < t->ncols; c++)
		row[c] = tu_absent();
	key_row(e, id, row);
	irs_rec *rec;
	if ((int)tu_rand_below(&e->rs, 100) < erase_pct) {
		rec = tu_rec_new(t, IRS_REC_ERASE, false, row);
		if (e->rows[id].present)
			e->expect.erased++;
		else
			e->expect.noop_erases++;
		model_erase(e, id);
	} else {
		int mode = (int)tu_rand_below(&e->rs, 10);
		for (uint32_t vi = 0; vi < t->nvalues; vi++) {
			uint32_t c = t->value_cols[vi];
			if (mode < 2 || tu_rand_below(&e->rs, 3) == 0)
				row[c] = rand_value(e, t->cols[c].type);
		}
		rec = tu_rec_new(t, IRS_REC_UPSERT, false, row);
		if (e->rows[id].present)
			e->expect.updated++;
		else
			e->expect.inserted++;
		model_upsert(e, id, row);
	}
	assert_non_null(rec);
	assert_int_equal(irs__part_rec_bound(e->part, rec), irs__rec_row_bound(t, rec));
	return rec;
}

/* ------------------------------------------------------------------ comparison */

static uint64_t model_logical(env *e, uint64_t *count, uint64_t *digest)
{
	const irs_schema_table *t = e->t;
	uint64_t lg = 0;
	*count = 0;
	*digest = 0;
	for (uint32_t id = 0; id < e->nkeys; id++) {
		mrow *m = &e->rows[id];
		if (!m->present)
			continue;
		uint8_t key[256];
		lg += key_of(e, id, key, sizeof key) + t->value_bitmap_bytes;
		for (uint32_t vi = 0; vi < t->nvalues; vi++) {
			uint32_t c = t->value_cols[vi];
			if (m->vals[c].state != IRS_VALUE_SET)
				continue;
			uint8_t w = irs__type_width(t->cols[c].type);
			lg += w ? w : m->vals[c].v.s.len;
		}
		(*count)++;
		*digest += irs__row_digest(t, m->vals);
	}
	return lg;
}

/* The partition equals the model, row by row; its validator agrees. */
static void compare_rows(env *e)
{
	const irs_schema_table *t = e->t;
	char why[256];
	int rc = irs__part_check(e->part, why, sizeof why);
	if (rc)
		fail_msg("irs__part_check: %s", why);
	irs_value got[32];
	uint8_t scratch[256];
	assert_true(irs__part_max_key_len(e->part) <= sizeof scratch);
	for (uint32_t id = 0; id < e->nkeys; id++) {
		uint8_t key[256];
		size_t kl = key_of(e, id, key, sizeof key);
		const uint8_t *row = irs__part_get(e->part, key, kl, irs__key_hash(key, kl));
		mrow *m = &e->rows[id];
		if (!m->present) {
			if (row)
				fail_msg("key %u: row present, model has none", id);
			continue;
		}
		if (!row)
			fail_msg("key %u: row missing", id);
		size_t rkl;
		const uint8_t *rk = irs__row_key(row, &rkl);
		assert_int_equal(rkl, kl);
		assert_memory_equal(rk, key, kl);
		assert_int_equal(irs__part_row_values(e->part, row, got, scratch), 0);
		for (uint32_t c = 0; c < t->ncols; c++)
			if (!irs_cli_value_equal(t->cols[c].type, &got[c], &m->vals[c]))
				fail_msg("key %u column %u differs (state %d vs %d)", id, c,
					 got[c].state, m->vals[c].state);
	}
	uint64_t count, digest;
	uint64_t lg = model_logical(e, &count, &digest);
	assert_int_equal(irs__part_count(e->part), count);
	assert_int_equal(irs__part_logical_bytes(e->part), lg);
	uint64_t pd;
	pd = irs__part_digest(e->part);
	assert_int_equal(pd, digest);
	assert_memory_equal(&e->counts, &e->expect, sizeof e->counts);
}

static void compare(env *e)
{
	assert_int_equal(irs__part_error(e->part), 0);
	compare_rows(e);
}

/* Applies recs as one staged backup: reserve, then apply with no allocation at all. */
static void apply_staged(env *e, irs_rec **recs, size_t n, bool batch)
{
	uint64_t bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += irs__part_rec_bound(e->part, recs[i]);
	assert_int_equal(irs__part_reserve(e->part, n, bytes), 0);
	uint64_t used = atomic_load(&e->mem.used);
	if (batch) {
		irs__part_apply_batch(e->part, (const irs_rec *const *)recs, n, &e->counts);
	} else {
		for (size_t i = 0; i < n; i++)
			irs__part_apply(e->part, recs[i], &e->counts);
	}
	assert_int_equal(atomic_load(&e->mem.used), used); /* apply allocated nothing */
	irs__part_unreserve(e->part);
	for (size_t i = 0; i < n; i++)
		free(recs[i]);
}

/* rounds backups of `per` changes to distinct random keys. From round track_at on
 * (-1: never) a partition that did not track its digest from the start does. */
static void random_run(int schema, uint32_t nkeys, int rounds, uint32_t per, int erase_pct,
		       uint64_t seed, uint64_t expected, int track_at)
{
	env e;
	env_init(&e, schema, nkeys, expected, 0, seed);
	irs_rec **recs = calloc(per, sizeof *recs);
	uint32_t *ids = calloc(nkeys, sizeof *ids);
	for (uint32_t i = 0; i < nkeys; i++)
		ids[i] = i;
	for (int r = 0; r < rounds; r++) {
		/* distinct keys within a backup: a partial shuffle */
		uint32_t n = per < nkeys ? per : nkeys;
		for (uint32_t i = 0; i < n; i++) {
			uint32_t j = i + (uint32_t)tu_rand_below(&e.rs, nkeys - i);
			uint32_t x = ids[i];
			ids[i] = ids[j];
			ids[j] = x;
			recs[i] = rand_change(&e, ids[i], r == 0 ? 0 : erase_pct);
		}
		if (r == track_at)
			irs__part_track_digest(e.part);
		apply_staged(&e, recs, n, r % 2 == 0);
		if (r % 4 == 3 || r == rounds - 1)
			compare(&e);
	}
	free(recs);
	free(ids);
	env_free(&e);
}

/* ------------------------------------------------------------------ tests */

static irs_rec *upsert(env *e, uint32_t id, int ncols, ...)
{
	irs_value row[32];
	for (uint32_t c = 0; c < e->t->ncols; c++)
		row[c] = tu_absent();
	key_row(e, id, row);
	va_list ap;
	va_start(ap, ncols);
	for (int i = 0; i < ncols; i++) {
		uint32_t c = va_arg(ap, uint32_t);
		row[c] = va_arg(ap, irs_value);
	}
	va_end(ap);
	if (e->rows[id].present)
		e->expect.updated++;
	else
		e->expect.inserted++;
	model_upsert(e, id, row);
	irs_rec *rec = tu_rec_new(e->t, IRS_REC_UPSERT, false, row);
	assert_non_null(rec);
	return rec;
}

static irs_rec *erase(env *e, uint32_t id)
{
	irs_value row[32];
	for (uint32_t c = 0; c < e->t->ncols; c++)
		row[c] = tu_absent();
	key_row(e, id, row);
	if (e->rows[id].present)
		e->expect.erased++;
	else
		e->expect.noop_erases++;
	model_erase(e, id);
	irs_rec *rec = tu_rec_new(e->t, IRS_REC_ERASE, false, row);
	assert_non_null(rec);
	return rec;
}

static void one(env *e, irs_rec *rec)
{
	apply_staged(e, &rec, 1, false);
	compare(e);
}

static void test_semantics(void **state)
{
	(void)state;
	env e;
	env_init(&e, S_MAIN, 8, 0, 0, 1);
	static char big[3000];
	memset(big, 'q', sizeof big);
	/* insert: unlisted columns NULL */
	one(&e, upsert(&e, 1, 2, 1u, tu_i64(5), 2u, tu_str("hello")));
	assert_int_equal(irs__part_logical_bytes(e.part), 8 + 2 + 4 + 5);
	/* partial update: others unchanged */
	one(&e, upsert(&e, 1, 1, 3u, tu_dbl(2.5)));
	assert_int_equal(irs__part_logical_bytes(e.part), 8 + 2 + 4 + 5 + 8);
	/* var growth beyond the blob: out of line; then back to short; then NULL */
	one(&e, upsert(&e, 1, 1, 2u, tu_bytes(big, 300)));
	one(&e, upsert(&e, 1, 2, 2u, tu_bytes(big, 2999), 9u, tu_str("tail")));
	one(&e, upsert(&e, 1, 1, 2u, tu_str("x")));
	one(&e, upsert(&e, 1, 1, 9u, tu_bytes(big, 50)));
	one(&e, upsert(&e, 1, 1, 2u, tu_null()));
	one(&e, upsert(&e, 1, 1, 5u, tu_bytes("", 0))); /* empty string is not NULL */
	/* listed NULL on fixed columns */
	one(&e, upsert(&e, 1, 2, 1u, tu_null(), 4u, tu_bool(1)));
	/* erase, no-op erase, re-insert without resurrecting old values */
	one(&e, erase(&e, 1));
	assert_int_equal(e.counts.erased, 1);
	one(&e, erase(&e, 1));
	assert_int_equal(e.counts.noop_erases, 1);
	one(&e, upsert(&e, 1, 1, 8u, tu_i64(-1)));
	assert_int_equal(e.counts.inserted, 2);
	/* an upsert listing nothing inserts an all-NULL row / changes nothing */
	one(&e, upsert(&e, 2, 0));
	one(&e, upsert(&e, 2, 0));
	/* extremes round-trip */
	one(&e, upsert(&e, 3, 5, 1u, tu_i64(INT32_MIN), 7u, tu_u64(UINT32_MAX), 8u,
		       tu_i64(INT64_MIN), 6u, tu_i64(INT64_MAX), 3u, tu_dbl(-0.0)));
	one(&e, upsert(&e, 3, 1, 3u, tu_dbl(INFINITY)));
	env_free(&e);
}

/* Rows with many var columns: updates move unlisted values left and right. */
static void test_var_moves(void **state)
{
	(void)state;
	random_run(S_WIDE, 64, 120, 32, 5, 11, 0, -1);
}

static void test_random_main(void **state)
{
	(void)state;
	random_run(S_MAIN, 3000, 24, 1500, 15, 21, 3000, -1);
}

static void test_random_strkey(void **state)
{
	(void)state;
	random_run(S_STRKEY, 2000, 20, 900, 20, 31, 0, -1);
}

static void test_random_fixed(void **state)
{
	(void)state;
	random_run(S_FIXED, 20000, 12, 8000, 30, 41, 100, -1);
}

/* Tracking turned on when the partition already holds rows (even seeds: it did not
 * track from the start): the digest starts from a scan of the rows, then follows every
 * change; compare() checks it against the model and the digest's definition. */
static void test_tracking_started_late(void **state)
{
	(void)state;
	random_run(S_MAIN, 3000, 12, 1500, 15, 22, 3000, 3);
	random_run(S_STRKEY, 2000, 10, 900, 20, 32, 0, 1);
}

static void test_keyonly(void **state)
{
	(void)state;
	random_run(S_KEYONLY, 500, 20, 200, 40, 51, 0, -1);
}

static void test_clear(void **state)
{
	(void)state;
	env e;
	env_init(&e, S_MAIN, 500, 0, 0, 61);
	irs_rec *recs[500];
	for (uint32_t i = 0; i < 500; i++)
		recs[i] = rand_change(&e, i, 0);
	apply_staged(&e, recs, 500, true);
	compare(&e);
	uint64_t mem_before = irs__part_memory_bytes(e.part);
	irs__part_clear(e.part);
	for (uint32_t i = 0; i < 500; i++)
		model_erase(&e, i);
	assert_int_equal(irs__part_count(e.part), 0);
	assert_true(irs__part_memory_bytes(e.part) < mem_before);
	memset(&e.counts, 0, sizeof e.counts);
	memset(&e.expect, 0, sizeof e.expect);
	compare(&e);
	size_t pos = 0;
	assert_null(irs__part_next(e.part, &pos));
	for (uint32_t i = 0; i < 300; i++)
		recs[i] = rand_change(&e, i, 10);
	apply_staged(&e, recs, 300, false);
	compare(&e);
	env_free(&e);
}

static int cmp_keys(const void *a, const void *b)
{
	const uint8_t *ra = *(const uint8_t *const *)a, *rb = *(const uint8_t *const *)b;
	size_t al, bl;
	const uint8_t *ka = irs__row_key(ra, &al), *kb = irs__row_key(rb, &bl);
	return irs__key_cmp(ka, al, kb, bl);
}

static void check_sorted(env *e)
{
	const uint8_t **rows;
	size_t n;
	assert_int_equal(irs__part_sorted(e->part, NULL, &rows, &n), 0);
	assert_int_equal(n, irs__part_count(e->part));
	for (size_t i = 1; i < n; i++)
		assert_true(cmp_keys(&rows[i - 1], &rows[i]) < 0);
	/* The same set as unordered iteration. */
	const uint8_t **all = malloc((n ? n : 1) * sizeof *all);
	size_t pos = 0, k = 0;
	const uint8_t *r;
	while ((r = irs__part_next(e->part, &pos)) != NULL)
		all[k++] = r;
	assert_int_equal(k, n);
	qsort(all, n, sizeof *all, cmp_keys);
	for (size_t i = 0; i < n; i++)
		assert_ptr_equal(all[i], rows[i]);
	free(all);
	irs__part_sorted_free(e->part, rows, n);
}

/* A partition of nk keys of `schema` (inserted in one staged batch), checked sorted. */
static void sorted_case(int schema, uint32_t nk, uint64_t seed, bool mixed_keys, bool long_prefixes)
{
	env e;
	env_init(&e, schema, nk, 0, 0, seed);
	e.mixed_keys = mixed_keys;
	e.long_prefixes = long_prefixes;
	irs_rec **recs = calloc(nk, sizeof *recs);
	for (uint32_t i = 0; i < nk; i++)
		recs[i] = rand_change(&e, i, 0);
	apply_staged(&e, recs, nk, true);
	check_sorted(&e);
	free(recs);
	env_free(&e);
}

static void test_sorted(void **state)
{
	(void)state;
	/* S_MAIN's keys at random over all 64 bits: enough of them that the radix sort's
	 * first buckets are split again, into buckets of every small size (40k rows of
	 * S_MAIN's model took ThreadSanitizer past the kernel's 65530 memory mappings a
	 * process; 20k take about 30k) */
	for (int s = 0; s < S_COUNT; s++)
		sorted_case(s, s == S_FIXED || s == S_MAIN ? 20000 : 3000, 71 + (uint64_t)s, s == S_MAIN, false);
	/* Thousands of keys alike in their first 8 bytes, beside keys that differ early
	 * (S_KEYONLY; S_STRKEY's keys start with a small integer, then the strings): the
	 * radix sort's buckets, and the whole-key comparisons after it. */
	sorted_case(S_KEYONLY, 9000, 91, false, true);
	sorted_case(S_STRKEY, 9000, 92, false, true);
	/* Empty partition. */
	env e;
	env_init(&e, S_MAIN, 1, 0, 0, 1);
	check_sorted(&e);
	env_free(&e);
}

/* An allocator that raises the sort's cancel flag when asked for `when` bytes (the
 * sorting entries: the flag then goes up between the scan and the radix sort). */
typedef struct cancel_alloc {
	volatile int flag;
	size_t when;
} cancel_alloc;

static void *cancel_malloc(void *ctx, size_t size)
{
	cancel_alloc *x = ctx;
	if (size == x->when)
		__atomic_store_n(&x->flag, 1, __ATOMIC_RELAXED);
	return malloc(size);
}

/* A set cancel flag stops a sort, before it starts or once the rows are scanned; it
 * frees what it took, and the next sort without the flag is whole. */
static void test_sort_cancelled(void **state)
{
	(void)state;
	env e;
	env_init(&e, S_FIXED, 20000, 0, 0, 73);
	irs_rec **recs = calloc(e.nkeys, sizeof *recs);
	for (uint32_t i = 0; i < e.nkeys; i++)
		recs[i] = rand_change(&e, i, 0);
	apply_staged(&e, recs, e.nkeys, true);
	free(recs);
	uint64_t used = atomic_load(&e.mem.used);
	const uint8_t **rows = (const uint8_t **)&rows;
	size_t n = 1;
	/* set before the call */
	volatile int flag = 1;
	assert_int_equal(irs__part_sorted(e.part, &flag, &rows, &n), IRS_ECANCELED);
	assert_null(rows);
	assert_int_equal(n, 0);
	assert_int_equal(atomic_load(&e.mem.used), used);
	/* set while the sort runs: when its entries are allocated */
	cancel_alloc ca = {.flag = 0, .when = (size_t)irs__part_count(e.part) * 16};
	irs_allocator saved = e.mem.a;
	e.mem.a.malloc = cancel_malloc;
	e.mem.a.free = tu_alloc_free;
	e.mem.a.ctx = &ca;
	assert_int_equal(irs__part_sorted(e.part, &ca.flag, &rows, &n), IRS_ECANCELED);
	assert_int_equal(ca.flag, 1);
	assert_null(rows);
	assert_int_equal(atomic_load(&e.mem.used), used);
	e.mem.a = saved;
	/* a flag that stays down changes nothing */
	flag = 0;
	assert_int_equal(irs__part_sorted(e.part, &flag, &rows, &n), 0);
	assert_int_equal(n, irs__part_count(e.part));
	irs__part_sorted_free(e.part, rows, n);
	check_sorted(&e);
	env_free(&e);
}

#ifdef IRS_FAULT_INJECTION
/* Every read of the flag can be the one that stops a sort: with the step lowered to 64
 * entries (so that the radix levels, their buckets and the introsort partitions read
 * it) and the flag reading as set from read K on, each K gives IRS_ECANCELED and frees
 * what the sort took, until K passes the sort's last read and it completes. */
static void sort_cancel_sweep(int schema, uint32_t nk, uint64_t seed, bool one_prefix, int min_reads)
{
	env e;
	env_init(&e, schema, nk, 0, 0, seed);
	e.long_prefixes = e.one_prefix = one_prefix;
	irs_rec **recs = calloc(nk, sizeof *recs);
	for (uint32_t i = 0; i < nk; i++)
		recs[i] = rand_change(&e, i, 0);
	apply_staged(&e, recs, nk, true);
	free(recs);
	uint64_t used = atomic_load(&e.mem.used);
	volatile int flag = 0;
	irs__fault.sort_cancel_step = 64;
	const uint8_t **rows;
	size_t n;
	int cancelled = 0;
	for (int64_t k = 0;; k = k < 300 ? k + 1 : k + k / 8) {
		irs__fault.sort_cancel_read = k;
		int rc = irs__part_sorted(e.part, &flag, &rows, &n);
		if (rc == 0)
			break;
		if (rc != IRS_ECANCELED || rows || n || atomic_load(&e.mem.used) != used)
			fail_msg("flag set from read %lld: %s, %zu rows, %llu bytes held", (long long)k,
				 irs_err_name(rc), n, (unsigned long long)(atomic_load(&e.mem.used) - used));
		cancelled++;
	}
	irs__fault_reset();
	assert_true(cancelled > min_reads); /* reads well past the three before sorting */
	assert_int_equal(n, irs__part_count(e.part));
	irs__part_sorted_free(e.part, rows, n);
	check_sorted(&e);
	env_free(&e);
}

static void test_sort_cancelled_anywhere(void **state)
{
	(void)state;
	sort_cancel_sweep(S_FIXED, 20000, 75, false, 300); /* radix levels */
	sort_cancel_sweep(S_KEYONLY, 9000, 93, true, 100); /* every 8-byte prefix alike: introsort */
}
#endif

/* The digest as docs define it, computed independently of digest.c. */
static uint64_t spec_digest(const irs_schema_table *t, const irs_value *row)
{
	static uint8_t buf[1 << 16];
	size_t n = 0;
	for (uint32_t c = 0; c < t->ncols; c++) {
		const irs_value *v = &row[c];
		if (v->state != IRS_VALUE_SET) {
			buf[n++] = 0;
			continue;
		}
		buf[n++] = 1;
		uint64_t x = 0;
		int w = 0;
		switch (t->cols[c].type) {
		case IRS_TYPE_BOOL: x = v->v.b != 0; w = 1; break;
		case IRS_TYPE_INT32: x = (uint32_t)(int32_t)v->v.i64; w = 4; break;
		case IRS_TYPE_UINT32: x = (uint32_t)v->v.u64; w = 4; break;
		case IRS_TYPE_INT64:
		case IRS_TYPE_TIMESTAMP: x = (uint64_t)v->v.i64; w = 8; break;
		case IRS_TYPE_UINT64: x = v->v.u64; w = 8; break;
		case IRS_TYPE_DOUBLE: memcpy(&x, &v->v.d, 8); w = 8; break;
		default:
			x = v->v.s.len;
			for (int i = 0; i < 4; i++)
				buf[n++] = (uint8_t)(x >> (8 * i));
			memcpy(buf + n, v->v.s.ptr, v->v.s.len);
			n += v->v.s.len;
			continue;
		}
		for (int i = 0; i < w; i++)
			buf[n++] = (uint8_t)(x >> (8 * i));
	}
	return XXH3_64bits(buf, n);
}

static void test_digest_definition(void **state)
{
	(void)state;
	env e;
	env_init(&e, S_MAIN, 400, 0, 0, 81);
	for (uint32_t i = 0; i < 400; i++) {
		irs_rec *rec = rand_change(&e, i, 0);
		free(rec);
		mrow *m = &e.rows[i];
		assert_int_equal(irs__row_digest(e.t, m->vals), spec_digest(e.t, m->vals));
	}
	/* Long rows take the streaming path: same result. */
	static uint8_t big[5000];
	memset(big, 7, sizeof big);
	irs_value row[10];
	for (int c = 0; c < 10; c++)
		row[c] = tu_null();
	row[0] = tu_u64(1);
	for (size_t len = 400; len < 5000; len += 97) {
		row[2] = tu_bytes(big, len);
		row[9] = tu_bytes(big, len / 3);
		assert_int_equal(irs__row_digest(e.t, row), spec_digest(e.t, row));
	}
	/* NULL differs from empty; ABSENT counts as NULL. */
	row[2] = tu_null();
	uint64_t dn = irs__row_digest(e.t, row);
	row[2] = tu_absent();
	assert_int_equal(irs__row_digest(e.t, row), dn);
	row[2] = tu_bytes("", 0);
	assert_int_not_equal(irs__row_digest(e.t, row), dn);
	env_free(&e);
}

/* Same rows, different insertion orders and partitionings: same digest. */
static void test_digest_order(void **state)
{
	(void)state;
	env a, b;
	env_init(&a, S_STRKEY, 1500, 0, 0, 91);
	env_init(&b, S_STRKEY, 1500, 0, 0, 91);
	irs_rec **ra = calloc(1500, sizeof *ra), **rb = calloc(1500, sizeof *rb);
	for (uint32_t i = 0; i < 1500; i++)
		ra[i] = rand_change(&a, i, 0);
	/* b gets a's records in reverse order. */
	for (uint32_t i = 0; i < 1500; i++) {
		rb[i] = malloc(ra[1499 - i]->size + 8);
		memcpy(rb[i], ra[1499 - i], ra[1499 - i]->size);
	}
	/* And a third copy split over 3 partitions by the shard hash. */
	irs_table_part *parts[3];
	for (int s = 0; s < 3; s++)
		assert_int_equal(irs__part_create(&a.mem, a.t, 0, &parts[s]), 0);
	irs_apply_counts cnt = {0};
	for (uint32_t i = 0; i < 1500; i++) {
		irs_table_part *p = parts[irs__shard_of(ra[i]->hash, 3)];
		assert_int_equal(irs__part_reserve(p, 1, irs__part_rec_bound(p, ra[i])), 0);
		irs__part_apply(p, ra[i], &cnt);
	}
	apply_staged(&a, ra, 1500, true);
	irs__part_destroy(b.part);
	assert_int_equal(irs__part_create(&b.mem, b.t, 0, &b.part), 0);
	irs_apply_counts bc = {0};
	assert_int_equal(irs__part_reserve(b.part, 1500, 1500 * 8192), 0);
	irs__part_apply_batch(b.part, (const irs_rec *const *)rb, 1500, &bc);
	uint64_t da, db, sum = 0;
	da = irs__part_digest(a.part);
	db = irs__part_digest(b.part);
	assert_int_equal(da, db);
	for (int s = 0; s < 3; s++) {
		uint64_t d;
		d = irs__part_digest(parts[s]);
		sum = irs__digest_add(sum, d);
		assert_int_equal(irs__part_check(parts[s], NULL, 0), 0);
		irs__part_destroy(parts[s]);
	}
	assert_int_equal(sum, da);
	assert_int_equal(cnt.inserted, 1500);
	for (uint32_t i = 0; i < 1500; i++)
		free(rb[i]);
	free(ra);
	free(rb);
	env_free(&a);
	env_free(&b);
}

/* A failing reserve leaves the table exactly as it was, and usable. */
static void test_reserve_failure(void **state)
{
	(void)state;
	env e;
	env_init(&e, S_MAIN, 2000, 0, 4u << 20, 101);
	irs_rec *recs[1000];
	for (uint32_t i = 0; i < 1000; i++)
		recs[i] = rand_change(&e, i, 0);
	apply_staged(&e, recs, 1000, true);
	compare(&e);
	uint64_t d0;
	d0 = irs__part_digest(e.part);
	/* Too many rows, then too many bytes for the 4 MiB limit. */
	assert_int_equal(irs__part_reserve(e.part, 1000000, 0), IRS_ELIMIT);
	assert_int_equal(irs__part_reserve(e.part, 10, 64u << 20), IRS_ELIMIT);
	assert_int_equal(irs__part_reserve(e.part, (uint64_t)1 << 40, 0), IRS_ENOMEM);
	compare(&e);
	uint64_t d1;
	d1 = irs__part_digest(e.part);
	assert_int_equal(d0, d1);
	/* Still usable. */
	for (uint32_t i = 0; i < 500; i++)
		recs[i] = rand_change(&e, 1000 + i, 0);
	apply_staged(&e, recs, 500, false);
	compare(&e);
	env_free(&e);
}

/* Applying without a reservation still works (the partition grows as it goes), and
 * when memory runs out the change is dropped and the error is sticky. */
static void test_unreserved(void **state)
{
	(void)state;
	env e;
	env_init(&e, S_WIDE, 300, 0, 0, 111);
	for (uint32_t i = 0; i < 3000; i++) {
		irs_rec *rec = rand_change(&e, (uint32_t)tu_rand_below(&e.rs, 300), 10);
		irs__part_apply(e.part, rec, &e.counts);
		free(rec);
	}
	compare(&e);
	env_free(&e);

	irs_mem m;
	irs__mem_init(&m, NULL, 64u << 10);
	irs_schema_table *t = make_schema(S_FIXED);
	irs_table_part *p;
	assert_int_equal(irs__part_create(&m, t, 0, &p), 0);
	irs_apply_counts c = {0};
	uint64_t i = 0;
	for (; i < 100000 && !irs__part_error(p); i++) {
		irs_value row[2] = {tu_i64((int64_t)i), tu_i64(1)};
		irs_rec *rec = tu_rec_new(t, IRS_REC_UPSERT, true, row);
		irs__part_apply(p, rec, &c);
		free(rec);
	}
	assert_int_equal(irs__part_error(p), IRS_ELIMIT);
	assert_int_equal(c.inserted, i - 1);
	assert_int_equal(irs__part_count(p), i - 1);
	irs__part_destroy(p);
	assert_int_equal(atomic_load(&m.used), 0);
	tu_schema_free(t);
}

/* An allocator of the caller's: plain malloc, counting its calls. */
static void *counted_malloc(void *ctx, size_t n)
{
	++*(size_t *)ctx;
	return malloc(n);
}
static void *counted_realloc(void *ctx, void *q, size_t old_n, size_t n)
{
	(void)old_n;
	++*(size_t *)ctx;
	return realloc(q, n);
}
static void counted_free(void *ctx, void *q, size_t n)
{
	(void)ctx, (void)n;
	free(q);
}

/*
 * Table memory in huge pages (irs__malloc_huge): whole 2 MiB pages come 2 MiB-aligned
 * from the default allocator and through the caller's allocator from one of theirs;
 * both counted exactly. A partition's index and a reservation's chunk above 2 MiB are
 * whole huge pages, and the rows in them read back.
 */
static void test_huge_page_memory(void **state)
{
	(void)state;
	const size_t huge = (size_t)2 << 20;
	for (int custom = 0; custom < 2; custom++) {
		size_t calls = 0;
		irs_allocator a = {counted_malloc, counted_realloc, counted_free, &calls};
		irs_mem m;
		irs__mem_init(&m, custom ? &a : NULL, 0);
		void *q = irs__malloc_huge(&m, 2 * huge);
		assert_non_null(q);
		if (!custom)
			assert_int_equal((uintptr_t)q % huge, 0);
		assert_int_equal(calls, (size_t)custom);
		assert_int_equal(atomic_load(&m.used), 2 * huge);
		memset(q, 1, 2 * huge);
		irs__free(&m, q, 2 * huge);
		q = irs__malloc_huge(&m, huge + 8); /* not whole pages: the plain path */
		assert_non_null(q);
		assert_int_equal(atomic_load(&m.used), huge + 8);
		irs__free(&m, q, huge + 8);
		assert_int_equal(atomic_load(&m.used), 0);

		irs_schema_table *t = make_schema(S_FIXED);
		irs_table_part *p;
		assert_int_equal(irs__part_create(&m, t, 300000, &p), 0);
		irs_part_stats st;
		irs__part_stats(p, &st);
		assert_int_equal(st.index_bytes, (size_t)524288 * 8); /* 300000 rows at <= 3/4 */
		const uint32_t n = 70000;
		assert_int_equal(irs__part_reserve(p, n, 5 * huge / 2), 0);
		irs__part_stats(p, &st);
		assert_int_equal(st.arena_bytes, 3 * huge); /* 5 MiB of rows: three huge pages */
		irs_apply_counts c = {0};
		for (uint32_t i = 0; i < n; i++) {
			irs_value row[2] = {tu_i64((int64_t)i * 7919), tu_i64(i)};
			irs_rec *rec = tu_rec_new(t, IRS_REC_UPSERT, true, row);
			irs__part_apply(p, rec, &c);
			free(rec);
		}
		irs__part_unreserve(p);
		assert_int_equal(irs__part_error(p), 0);
		assert_int_equal(c.inserted, n);
		assert_int_equal(irs__part_check(p, NULL, 0), 0);
		irs__part_stats(p, &st);
		assert_int_equal(st.arena_bytes, 3 * huge); /* the reservation held every row */
		assert_int_equal(st.index_bytes + st.arena_bytes + st.other_bytes, irs__part_memory_bytes(p));
		for (uint32_t i = 0; i < n; i += 997) {
			irs_value row[2] = {tu_i64((int64_t)i * 7919), tu_i64(0)};
			uint8_t key[16];
			size_t kl = irs__key_encode(t, row, key, sizeof key);
			const uint8_t *got = irs__part_get(p, key, kl, irs__key_hash(key, kl));
			assert_non_null(got);
			irs_value v[2];
			irs__part_row_value_cols(p, got, v);
			assert_int_equal(v[1].v.i64, (int64_t)i);
		}
		irs__part_destroy(p);
		assert_int_equal(atomic_load(&m.used), 0);
		tu_schema_free(t);
	}
}

/* Reservations add up, and unreserve drops what is left. */
static void test_reserve_accounting(void **state)
{
	(void)state;
	env e;
	env_init(&e, S_MAIN, 4000, 1000, 0, 121);
	uint64_t m0 = irs__part_memory_bytes(e.part);
	/* Within the sized capacity: the index does not grow. */
	assert_int_equal(irs__part_reserve(e.part, 700, 0), 0);
	assert_int_equal(irs__part_memory_bytes(e.part), m0 + 1028); /* free-list heads only */
	assert_int_equal(irs__part_reserve(e.part, 300, 0), 0);
	irs__part_unreserve(e.part);
	assert_int_equal(irs__part_check(e.part, NULL, 0), 0);
	/* Several reserves, then one batch using them all. */
	irs_rec **recs = calloc(4000, sizeof *recs);
	uint64_t bytes[4] = {0};
	for (uint32_t i = 0; i < 4000; i++) {
		recs[i] = rand_change(&e, i, 0);
		bytes[i / 1000] += irs__part_rec_bound(e.part, recs[i]);
	}
	for (int k = 0; k < 4; k++)
		assert_int_equal(irs__part_reserve(e.part, 1000, bytes[k]), 0);
	uint64_t used = atomic_load(&e.mem.used);
	irs__part_apply_batch(e.part, (const irs_rec *const *)recs, 4000, &e.counts);
	assert_int_equal(atomic_load(&e.mem.used), used);
	irs__part_unreserve(e.part);
	compare(&e);
	irs_part_stats st;
	irs__part_stats(e.part, &st);
	assert_int_equal(st.rows, 4000);
	assert_int_equal(st.logical_bytes, irs__part_logical_bytes(e.part));
	assert_int_equal(st.arena_bytes, st.live_bytes + st.free_bytes + st.unused_bytes);
	assert_int_equal(st.index_bytes + st.arena_bytes + st.other_bytes,
			 irs__part_memory_bytes(e.part));
	assert_true(st.live_bytes >= st.logical_bytes);
	assert_int_equal(st.reserved_rows, 0);
	for (uint32_t i = 0; i < 4000; i++)
		free(recs[i]);
	free(recs);
	env_free(&e);
}

/* A full row for key id: every value column listed (ABSENT means NULL). */
static irs_rec *full_row(env *e, uint32_t id)
{
	const irs_schema_table *t = e->t;
	irs_value row[32];
	for (uint32_t c = 0; c < t->ncols; c++)
		row[c] = tu_absent();
	key_row(e, id, row);
	for (uint32_t vi = 0; vi < t->nvalues; vi++) {
		uint32_t c = t->value_cols[vi];
		row[c] = rand_value(e, t->cols[c].type);
	}
	irs_rec *rec = tu_rec_new(t, IRS_REC_UPSERT, true, row);
	assert_non_null(rec);
	return rec;
}

/* Applies a full row to the model (as insert_batch would). */
static void model_full(env *e, uint32_t id, const irs_rec *rec)
{
	irs_value row[32];
	uint8_t scratch[256];
	assert_int_equal(irs__rec_decode(e->t, rec, row, scratch), 0);
	e->expect.inserted++;
	model_upsert(e, id, row);
}

/* Full backups: inserts, and a repeated key is reported with its index. */
static void test_insert_batch(void **state)
{
	(void)state;
	env e;
	env_init(&e, S_MAIN, 2000, 1000, 0, 131);
	irs_rec *recs[1000];
	uint64_t bytes = 0;
	for (uint32_t i = 0; i < 1000; i++) {
		recs[i] = full_row(&e, i);
		bytes += irs__part_rec_bound(e.part, recs[i]);
	}
	assert_int_equal(irs__part_reserve(e.part, 1000, bytes), 0);
	uint64_t used = atomic_load(&e.mem.used);
	size_t dup = 12345;
	assert_int_equal(irs__part_insert_batch(e.part, (const irs_rec *const *)recs, 1000,
						&e.counts, &dup), 0);
	assert_int_equal(atomic_load(&e.mem.used), used);
	assert_int_equal(dup, 12345);
	for (uint32_t i = 0; i < 1000; i++) {
		model_full(&e, i, recs[i]);
		free(recs[i]);
	}
	compare(&e);
	/* A key already in the table at index 5: the first five go in, the rest do not. */
	for (uint32_t i = 0; i < 10; i++)
		recs[i] = full_row(&e, i == 5 ? 17 : 1000 + i);
	assert_int_equal(irs__part_reserve(e.part, 10, 10 * 4096), 0);
	assert_int_equal(irs__part_insert_batch(e.part, (const irs_rec *const *)recs, 10,
						&e.counts, &dup), IRS_EDUPKEY);
	assert_int_equal(dup, 5);
	for (uint32_t i = 0; i < 5; i++)
		model_full(&e, 1000 + i, recs[i]);
	for (uint32_t i = 0; i < 10; i++)
		free(recs[i]);
	compare(&e);
	/* A key repeated inside the batch. */
	for (uint32_t i = 0; i < 4; i++)
		recs[i] = full_row(&e, i == 3 ? 1500 : 1500 + i);
	assert_int_equal(irs__part_insert_batch(e.part, (const irs_rec *const *)recs, 4, &e.counts,
						&dup), IRS_EDUPKEY);
	assert_int_equal(dup, 3);
	for (uint32_t i = 0; i < 3; i++)
		model_full(&e, 1500 + i, recs[i]);
	for (uint32_t i = 0; i < 4; i++)
		free(recs[i]);
	irs__part_unreserve(e.part);
	compare(&e);
	env_free(&e);
}

/* ------------------------------------------------------------------ shared tags */

typedef struct tagged_id {
	uint32_t tag, id;
} tagged_id;

static int cmp_tagged(const void *a, const void *b)
{
	const tagged_id *x = a, *y = b;
	if (x->tag != y->tag)
		return x->tag < y->tag ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

/*
 * Distinct keys whose hashes share the low 32 bits share the index tag and so the home
 * slot: only the key comparison tells their rows apart. Among NKEYS keys about
 * NKEYS^2 / 2^33 such pairs exist (about ten); up to MAXPAIRS are put in ids[2i],
 * ids[2i + 1]. Returns how many.
 */
enum { TAG_NKEYS = 300000, TAG_MAXPAIRS = 8 };

static uint32_t tag_pairs(env *e, uint32_t *ids)
{
	tagged_id *v = malloc(TAG_NKEYS * sizeof *v);
	assert_non_null(v);
	for (uint32_t id = 0; id < TAG_NKEYS; id++) {
		uint8_t key[256];
		size_t kl = key_of(e, id, key, sizeof key);
		v[id] = (tagged_id){(uint32_t)irs__key_hash(key, kl), id};
	}
	qsort(v, TAG_NKEYS, sizeof *v, cmp_tagged);
	uint32_t n = 0;
	for (uint32_t i = 1; i < TAG_NKEYS && n < TAG_MAXPAIRS; i++)
		if (v[i].tag == v[i - 1].tag) {
			ids[2 * n] = v[i - 1].id;
			ids[2 * n + 1] = v[i].id;
			n++;
			i++; /* a key is in one pair only */
		}
	free(v);
	return n;
}

/* Rows whose keys share a tag are inserted, read, updated, erased and re-inserted one
 * without the other, for an 8-byte key (compared as one word) and a string key. */
static void test_keys_sharing_a_tag(void **state)
{
	(void)state;
	static const int schemas[] = {S_FIXED, S_STRKEY};
	for (size_t si = 0; si < sizeof schemas / sizeof schemas[0]; si++) {
		env e;
		env_init(&e, schemas[si], TAG_NKEYS, 64, 0, 7);
		uint32_t ids[2 * TAG_MAXPAIRS];
		uint32_t n = tag_pairs(&e, ids);
		assert_true(n >= 2);
		irs_rec *recs[2 * TAG_MAXPAIRS];
		/* both keys of every pair, the second into the first's probe path */
		for (uint32_t i = 0; i < 2 * n; i++)
			recs[i] = rand_change(&e, ids[i], 0);
		apply_staged(&e, recs, 2 * n, true);
		compare(&e);
		/* the first erased, the second updated */
		for (uint32_t i = 0; i < n; i++) {
			recs[2 * i] = erase(&e, ids[2 * i]);
			recs[2 * i + 1] = rand_change(&e, ids[2 * i + 1], 0);
		}
		apply_staged(&e, recs, 2 * n, false);
		compare(&e);
		/* the first back, the second erased */
		for (uint32_t i = 0; i < n; i++) {
			recs[2 * i] = rand_change(&e, ids[2 * i], 0);
			recs[2 * i + 1] = erase(&e, ids[2 * i + 1]);
		}
		apply_staged(&e, recs, 2 * n, true);
		compare(&e);
		env_free(&e);
	}
}

/* Unreserved updates that need new blobs under a memory limit: each failing change
 * is dropped whole (the row stays as it was) and the error is sticky. */
static void test_unreserved_update_failure(void **state)
{
	(void)state;
	for (int schema = S_MAIN; schema <= S_WIDE; schema += S_WIDE - S_MAIN) {
		env e;
		env_init(&e, schema, 3000, 3000, 3u << 20, 141);
		uint32_t n = 0;
		for (; n < 3000; n++) {
			irs_rec *rec = full_row(&e, n);
			if (irs__part_reserve(e.part, 1, irs__part_rec_bound(e.part, rec))) {
				free(rec);
				break;
			}
			irs__part_apply(e.part, rec, &e.counts);
			model_full(&e, n, rec);
			free(rec);
		}
		assert_true(n > 10);
		compare(&e);
		static uint8_t big[2000];
		memset(big, 'z', sizeof big);
		uint32_t failed = 0;
		for (uint32_t k = 0; k < 4 * n; k++) {
			uint32_t id = k % n;
			irs_value row[32];
			for (uint32_t c = 0; c < e.t->ncols; c++)
				row[c] = tu_absent();
			key_row(&e, id, row);
			/* grow every other var column (the others keep inline values) */
			uint32_t nv = 0;
			for (uint32_t vi = 0; vi < e.t->nvalues; vi++) {
				uint32_t c = e.t->value_cols[vi];
				if (irs__type_is_var(e.t->cols[c].type) && nv++ % 2 == 0)
					row[c] = tu_bytes(big, 500 + k % 1000);
			}
			irs_rec *rec = tu_rec_new(e.t, IRS_REC_UPSERT, false, row);
			uint64_t before = e.counts.updated;
			irs__part_apply(e.part, rec, &e.counts);
			free(rec);
			if (e.counts.updated == before) {
				failed++;
				continue;
			}
			e.expect.updated++;
			model_upsert(&e, id, row);
		}
		assert_true(failed > 0);
		assert_int_equal(irs__part_error(e.part), IRS_ELIMIT);
		compare_rows(&e);
		env_free(&e);
	}
}

int main(void)
{
	strpool_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_semantics),
		cmocka_unit_test(test_var_moves),
		cmocka_unit_test(test_random_main),
		cmocka_unit_test(test_random_strkey),
		cmocka_unit_test(test_random_fixed),
		cmocka_unit_test(test_tracking_started_late),
		cmocka_unit_test(test_keyonly),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_sorted),
		cmocka_unit_test(test_sort_cancelled),
#ifdef IRS_FAULT_INJECTION
		cmocka_unit_test(test_sort_cancelled_anywhere),
#endif
		cmocka_unit_test(test_digest_definition),
		cmocka_unit_test(test_digest_order),
		cmocka_unit_test(test_reserve_failure),
		cmocka_unit_test(test_unreserved),
		cmocka_unit_test(test_reserve_accounting),
		cmocka_unit_test(test_huge_page_memory),
		cmocka_unit_test(test_insert_batch),
		cmocka_unit_test(test_unreserved_update_failure),
		cmocka_unit_test(test_keys_sharing_a_tag),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
