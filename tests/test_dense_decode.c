/*
 * test_dense_decode.c: the batch decoder's dense path (format/batch_decode.c), which
 * decodes a batch of full rows without NULLs a column at a time, writes exactly what
 * the per-change paths write: the same records byte for byte (row digests included),
 * the same count, or the same error, for tables of every type, composite and string
 * keys, key columns anywhere, and for batches it must refuse (a NULL, an erase, a
 * partial row) or that were damaged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "format/batch.h"
#include "proto/collection.pb-c.h"
#include "test_util.h"

typedef struct rec_bytes {
	uint8_t *b;
	size_t n, cap;
} rec_bytes;

static int bytes_sink(void *ctx, const irs_rec *rec, irs_error *err)
{
	(void)err;
	rec_bytes *x = ctx;
	if (x->n + rec->size > x->cap) {
		x->cap = 2 * (x->n + rec->size);
		x->b = realloc(x->b, x->cap);
		assert_non_null(x->b);
	}
	memcpy(x->b + x->n, rec, rec->size);
	x->n += rec->size;
	return 0;
}

/* Decodes a payload with row digests (as a restore does), once as the engine would and
 * once with the dense path off, and checks that both say the same. Returns whether the
 * dense path took it. */
static bool decode_both_ways(irs_batch_decoder *d, const irs_schema_table *t, const uint8_t *p,
			     size_t len, bool full)
{
	rec_bytes a = {0}, g = {0};
	irs_error ea, eg;
	uint32_t na = 0, ng = 0;
	uint64_t before = d->dense_batches;
	d->row_digests = true;
	int ra = irs__batch_decode(d, t, p, len, full, 5, bytes_sink, &a, &na, &ea);
	bool dense = d->dense_batches != before;
	d->generic_only = true;
	int rg = irs__batch_decode(d, t, p, len, full, 5, bytes_sink, &g, &ng, &eg);
	d->generic_only = false;
	assert_int_equal(d->dense_batches, before + dense);
	assert_int_equal(ra, rg);
	if (ra) {
		assert_false(dense);
		assert_string_equal(ea.message, eg.message);
	} else {
		assert_int_equal(na, ng);
	}
	assert_int_equal(a.n, g.n);
	if (a.n)
		assert_memory_equal(a.b, g.b, a.n);
	free(a.b);
	free(g.b);
	return dense;
}

/* ---- tables and rows */

enum { S_W1, S_COMPOSITE, S_KEYONLY, S_KEY_LAST, NSCHEMA };

static irs_schema_table *make_schema(int s)
{
	switch (s) {
	case S_W1: { /* the shape of gen's tables */
		static const irs_type ty[] = {IRS_TYPE_UINT64, IRS_TYPE_INT64, IRS_TYPE_DOUBLE, IRS_TYPE_UTF8,
					      IRS_TYPE_UINT32, IRS_TYPE_BOOL,  IRS_TYPE_TIMESTAMP};
		static const uint32_t pk[] = {0};
		return tu_schema_new(ty, 7, pk, 1);
	}
	case S_COMPOSITE: { /* every type; a bytes and an int32 key part, in that order */
		static const irs_type ty[] = {IRS_TYPE_BOOL,   IRS_TYPE_INT32, IRS_TYPE_INT64,
					      IRS_TYPE_UINT32, IRS_TYPE_UINT64, IRS_TYPE_DOUBLE,
					      IRS_TYPE_UTF8,   IRS_TYPE_BYTES, IRS_TYPE_TIMESTAMP};
		static const uint32_t pk[] = {7, 1};
		return tu_schema_new(ty, 9, pk, 2);
	}
	case S_KEYONLY: {
		static const irs_type ty[] = {IRS_TYPE_UTF8};
		static const uint32_t pk[] = {0};
		return tu_schema_new(ty, 1, pk, 1);
	}
	default: { /* the key after the values */
		static const irs_type ty[] = {IRS_TYPE_UTF8, IRS_TYPE_BYTES, IRS_TYPE_UINT32};
		static const uint32_t pk[] = {2};
		return tu_schema_new(ty, 3, pk, 1);
	}
	}
}

static uint64_t next(uint64_t *s)
{
	*s += 0x9E3779B97F4A7C15ull;
	uint64_t z = *s;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* A string of 0 to 40 bytes: ASCII, 2- and 3-byte characters, and 0x00 (valid UTF-8,
 * escaped in keys); bytes columns also get any byte. */
static size_t random_string(uint64_t *rng, bool any_byte, uint8_t *out)
{
	static const char *const pieces[] = {"a", "Zq", "\xc3\xa9", "\xe6\x97\xa5", "", "\x00", "0123456789"};
	size_t n = 0, parts = next(rng) % 8;
	for (size_t i = 0; i < parts; i++) {
		if (any_byte && next(rng) % 3 == 0) {
			out[n++] = (uint8_t)next(rng);
			continue;
		}
		size_t k = next(rng) % 7, l = k == 5 ? 1 : strlen(pieces[k]);
		memcpy(out + n, pieces[k], l);
		n += l;
	}
	return n;
}

/* Row i: a value of its type in every column, key columns distinct per i. */
static void make_row(const irs_schema_table *t, uint32_t i, uint64_t *rng, irs_value *row,
		     uint8_t (*strs)[64])
{
	for (uint32_t c = 0; c < t->ncols; c++) {
		bool key = t->cols[c].is_key;
		uint64_t x = key ? (uint64_t)i * 7919u + 1u : next(rng);
		switch (t->cols[c].type) {
		case IRS_TYPE_BOOL: row[c] = tu_bool((int)(x & 1)); break;
		case IRS_TYPE_INT32: row[c] = tu_i64((int32_t)(key ? (int64_t)i - 100 : (int64_t)x)); break;
		case IRS_TYPE_UINT32: row[c] = tu_u64((uint32_t)x); break;
		case IRS_TYPE_UINT64: row[c] = tu_u64(x); break;
		case IRS_TYPE_DOUBLE: row[c] = tu_dbl((double)(int64_t)x / 7.0); break;
		case IRS_TYPE_UTF8:
		case IRS_TYPE_BYTES: {
			size_t n = key ? (size_t)snprintf((char *)strs[c], 64, "k%u", i) : 0;
			if (key && t->cols[c].type == IRS_TYPE_BYTES)
				strs[c][n++] = 0; /* a 0x00 inside an escaped key part */
			n += random_string(rng, t->cols[c].type == IRS_TYPE_BYTES, strs[c] + n);
			row[c] = tu_bytes(strs[c], n);
			break;
		}
		default: row[c] = tu_i64((int64_t)x); break;
		}
	}
}

typedef enum { ALL_FULL, ONE_NULL, ONE_PARTIAL, ONE_ERASE } batch_kind;

/* Encodes n changes of table t into one ChangeBatch: full rows, but for change n/2
 * when kind says otherwise. *payload lives until the encoder is freed. */
static void make_batch(irs_batch_encoder *e, const irs_schema_table *t, uint32_t n, batch_kind kind,
		       uint64_t seed, const uint8_t **payload, size_t *len)
{
	uint64_t rng = seed;
	irs_value row[16];
	uint8_t strs[16][64];
	irs_error err;
	for (uint32_t i = 0; i < n; i++) {
		make_row(t, i, &rng, row, strs);
		int op = IRS_REC_UPSERT;
		bool odd = i == n / 2 && t->nvalues;
		uint32_t vc = t->value_cols[t->nvalues ? t->nvalues - 1 : 0];
		if (odd && kind == ONE_NULL)
			row[vc] = tu_null();
		if (odd && kind == ONE_PARTIAL)
			row[vc] = tu_absent();
		if (i == n / 2 && kind == ONE_ERASE) {
			op = IRS_REC_ERASE;
			for (uint32_t v = 0; v < t->nvalues; v++)
				row[t->value_cols[v]] = tu_absent();
		}
		irs_rec *rec = tu_rec_new(t, op, false, row);
		assert_non_null(rec);
		assert_int_equal(irs__batch_encoder_add(e, rec, &err), 0);
		free(rec);
	}
	assert_int_equal(irs__batch_encoder_finish(e, payload, len, &err), 0);
}

/* ---- tests */

static void test_full_rows_every_shape(void **state)
{
	(void)state;
	static const uint32_t sizes[] = {1, 2, 7, 300, 4096};
	irs_mem mem;
	irs__mem_init(&mem, NULL, 0);
	irs_batch_decoder d;
	irs__batch_decoder_init(&d, &mem);
	for (int s = 0; s < NSCHEMA; s++) {
		irs_schema_table *t = make_schema(s);
		assert_non_null(t);
		irs_batch_encoder e;
		assert_int_equal(irs__batch_encoder_init(&e, &mem, t), 0);
		for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
			const uint8_t *p;
			size_t len;
			make_batch(&e, t, sizes[k], ALL_FULL, 17 + k + 100 * (uint64_t)s, &p, &len);
			/* a full backup's batch and the same changes as an incremental's */
			assert_true(decode_both_ways(&d, t, p, len, true));
			assert_true(decode_both_ways(&d, t, p, len, false));
		}
		irs__batch_encoder_free(&e);
		tu_schema_free(t);
	}
	irs__batch_decoder_free(&d);
	assert_int_equal(atomic_load(&mem.used), 0);
}

/* A NULL, a partial row or an erase anywhere sends the whole batch down the other
 * paths (keys-only tables have no value to make NULL or leave out). */
static void test_refused_batches(void **state)
{
	(void)state;
	irs_mem mem;
	irs__mem_init(&mem, NULL, 0);
	irs_batch_decoder d;
	irs__batch_decoder_init(&d, &mem);
	for (int s = 0; s < NSCHEMA; s++) {
		irs_schema_table *t = make_schema(s);
		assert_non_null(t);
		irs_batch_encoder e;
		assert_int_equal(irs__batch_encoder_init(&e, &mem, t), 0);
		for (batch_kind kind = ONE_NULL; kind <= ONE_ERASE; kind++) {
			if (kind != ONE_ERASE && !t->nvalues)
				continue;
			const uint8_t *p;
			size_t len;
			make_batch(&e, t, 50, kind, 5 + kind, &p, &len);
			assert_false(decode_both_ways(&d, t, p, len, false));
			assert_false(decode_both_ways(&d, t, p, len, true)); /* invalid in a full backup */
		}
		irs__batch_encoder_free(&e);
		tu_schema_free(t);
	}
	irs__batch_decoder_free(&d);
}

/* A batch the dense path takes, with one byte changed at each of 97 places: whatever the
 * damage makes of it (refused, a different valid batch, an error), both paths agree. */
static void test_damaged_batches(void **state)
{
	(void)state;
	irs_mem mem;
	irs__mem_init(&mem, NULL, 0);
	irs_batch_decoder d;
	irs__batch_decoder_init(&d, &mem);
	uint32_t still_dense = 0, refused = 0;
	for (int s = 0; s < NSCHEMA; s++) {
		irs_schema_table *t = make_schema(s);
		assert_non_null(t);
		irs_batch_encoder e;
		assert_int_equal(irs__batch_encoder_init(&e, &mem, t), 0);
		const uint8_t *p;
		size_t len;
		make_batch(&e, t, 40, ALL_FULL, 99 + (uint64_t)s, &p, &len);
		uint8_t *q = malloc(len);
		assert_non_null(q);
		for (size_t k = 0; k < 97; k++) {
			for (uint8_t flip = 0x01; flip; flip = (uint8_t)(flip << 3)) {
				memcpy(q, p, len);
				q[len * k / 97] ^= flip;
				if (decode_both_ways(&d, t, q, len, k % 2 == 0))
					still_dense++;
				else
					refused++;
			}
		}
		free(q);
		irs__batch_encoder_free(&e);
		tu_schema_free(t);
	}
	/* both outcomes happened, so both comparisons ran */
	assert_true(still_dense > 50);
	assert_true(refused > 50);
	irs__batch_decoder_free(&d);
}

/* A string key part that escapes past the longest encoded key (no record can hold it,
 * so the batch is packed by hand): the same error, naming the same change, on either
 * path. */
static void test_key_too_long(void **state)
{
	(void)state;
	irs_mem mem;
	irs__mem_init(&mem, NULL, 0);
	irs_batch_decoder d;
	irs__batch_decoder_init(&d, &mem);
	static const irs_type ty[] = {IRS_TYPE_BYTES, IRS_TYPE_UINT32};
	static const uint32_t pk[] = {0};
	irs_schema_table *t = tu_schema_new(ty, 2, pk, 1);
	assert_non_null(t);
	/* 3 changes; key 1 is 40000 bytes of 0x00, each of which encodes to two bytes */
	static uint8_t data[40000 + 2];
	uint8_t ops[3] = {0}, changed[1] = {0x3F}, nulls[1] = {0}, lengths[12], fixed[12] = {0};
	const uint32_t lens[3] = {1, 40000, 1};
	for (int i = 0; i < 3; i++)
		irs__store_le32(lengths + 4 * i, lens[i]);
	Increstore__ColumnValues cv[2] = {INCRESTORE__COLUMN_VALUES__INIT, INCRESTORE__COLUMN_VALUES__INIT};
	Increstore__ColumnValues *cvp[2] = {&cv[0], &cv[1]};
	cv[0].lengths = (ProtobufCBinaryData){sizeof lengths, lengths};
	cv[0].data = (ProtobufCBinaryData){sizeof data, data};
	cv[1].fixed = (ProtobufCBinaryData){sizeof fixed, fixed};
	Increstore__ChangeBatch b = INCRESTORE__CHANGE_BATCH__INIT;
	b.count = 3;
	b.ops = (ProtobufCBinaryData){3, ops};
	b.changed = (ProtobufCBinaryData){1, changed};
	b.nulls = (ProtobufCBinaryData){1, nulls};
	b.n_columns = 2;
	b.columns = cvp;
	size_t n = increstore__change_batch__get_packed_size(&b);
	uint8_t *buf = malloc(n);
	assert_non_null(buf);
	increstore__change_batch__pack(&b, buf);
	irs_error err;
	uint32_t count;
	rec_bytes out = {0};
	assert_int_equal(irs__batch_decode(&d, t, buf, n, true, 0, bytes_sink, &out, &count, &err),
			 IRS_ECORRUPT);
	assert_string_equal(err.message, "change 1: encoded key longer than 65535 bytes");
	assert_int_equal(d.dense_batches, 0); /* started dense, ended in the error */
	free(out.b);
	decode_both_ways(&d, t, buf, n, true);
	free(buf);
	tu_schema_free(t);
	irs__batch_decoder_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_rows_every_shape),
		cmocka_unit_test(test_refused_batches),
		cmocka_unit_test(test_damaged_batches),
		cmocka_unit_test(test_key_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
