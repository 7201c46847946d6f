/*
 * perf_kv.h: what the key-value contenders (rocksdb_apply.c, lmdb_apply.c) share: the
 * row they store and the database directory they use. Header-only, as perf_walk.h.
 *
 * ROW: key = the record's encoded primary key (common/keycodec.h); value = the row
 * blob "NULL bitmap of the value columns | every non-NULL value column in value
 * order, encoded as in a change record". An UPSERT listing every value column gives
 * the blob straight from the record (a blind write); one listing some columns merges
 * them into the old blob: a read-modify-write in LMDB, a merge operand in RocksDB
 * (perf_operand, folded by perf_apply_operand and perf_fold_operands).
 */
#ifndef IRS_PERF_KV_H
#define IRS_PERF_KV_H

#include <unistd.h>

#include "perf_walk.h"
#include "common/keycodec.h"

/* Whether the UPSERT r lists every value column of t. */
static inline bool perf_lists_all(const irs_schema_table *t, const irs_rec *r)
{
	const uint8_t *changed = irs__rec_changed(r);
	for (uint32_t vi = 0; vi < t->nvalues; vi++)
		if (!irs__bit_get(changed, vi))
			return false;
	return true;
}

/* The blob of an UPSERT that lists every value column: the record's NULL bitmap and
 * values as they are. Returns its length (out holds at least r->size bytes). */
static inline size_t perf_full_row(uint8_t *out, const irs_schema_table *t, const irs_rec *r)
{
	size_t B = t->value_bitmap_bytes;
	size_t vlen = r->size - IRS_REC_HEADER - r->key_len - 2 * B;
	memcpy(out, irs__rec_nulls(r, t), B);
	memcpy(out + B, irs__rec_values(r, t), vlen);
	return B + vlen;
}

/*
 * A partial update as it travels to a merge operator: the record's bytes after its key,
 * "changed bitmap (B bytes) | NULL bitmap of the listed columns (B bytes) | every listed
 * non-NULL value in value order". Returns a pointer into r; *len receives the length.
 */
static inline const uint8_t *perf_operand(const irs_rec *r, size_t *len)
{
	*len = r->size - IRS_REC_HEADER - r->key_len;
	return irs__rec_changed(r);
}

/* The blob `old` (NULL for a missing key: its columns are NULL) with the columns an
 * operand lists replaced (changed / nulls / values as in perf_operand). Writes at most
 * B + the size of old's values + the size of the operand's values bytes to out.
 * Returns the blob's length. */
static inline size_t perf_apply_operand(uint8_t *out, const irs_schema_table *t, const uint8_t *changed,
					const uint8_t *nulls, const uint8_t *rv, const uint8_t *old)
{
	size_t B = t->value_bitmap_bytes;
	const uint8_t *ov = old ? old + B : NULL;
	uint8_t *o = out + B;
	memset(out, 0, B);
	for (uint32_t vi = 0; vi < t->nvalues; vi++) {
		irs_type ty = t->cols[t->value_cols[vi]].type;
		bool old_null = !old || irs__bit_get(old, vi);
		size_t osz = old_null ? 0 : irs__value_size_at(ty, ov);
		if (irs__bit_get(changed, vi)) {
			if (irs__bit_get(nulls, vi)) {
				irs__bit_set(out, vi);
			} else {
				size_t sz = irs__value_size_at(ty, rv);
				memcpy(o, rv, sz);
				o += sz;
				rv += sz;
			}
		} else if (old_null) {
			irs__bit_set(out, vi);
		} else {
			memcpy(o, ov, osz);
			o += osz;
		}
		ov = ov ? ov + osz : NULL;
	}
	return (size_t)(o - out);
}

/* The blob of an UPSERT listing some columns: the listed ones from the record, the
 * others from the old blob (NULL when the key is missing: they become NULL). Returns
 * its length. */
static inline size_t perf_merge_row(uint8_t *out, const irs_schema_table *t, const irs_rec *r,
				    const uint8_t *old)
{
	return perf_apply_operand(out, t, irs__rec_changed(r), irs__rec_nulls(r, t), irs__rec_values(r, t), old);
}

/*
 * Two operands folded into one (a first, then b): a column b lists comes from b, one
 * only a lists from a, so applying the result equals applying a then b. Writes at most
 * 2B + the size of both operands' values bytes to out; returns the length.
 */
static inline size_t perf_fold_operands(uint8_t *out, const irs_schema_table *t, const uint8_t *a,
					const uint8_t *b)
{
	size_t B = t->value_bitmap_bytes;
	const uint8_t *av = a + 2 * B, *bv = b + 2 * B;
	uint8_t *o = out + 2 * B;
	memset(out, 0, 2 * B);
	for (uint32_t vi = 0; vi < t->nvalues; vi++) {
		irs_type ty = t->cols[t->value_cols[vi]].type;
		bool in_a = irs__bit_get(a, vi), in_b = irs__bit_get(b, vi);
		bool null_a = in_a && irs__bit_get(a + B, vi), null_b = in_b && irs__bit_get(b + B, vi);
		size_t asz = in_a && !null_a ? irs__value_size_at(ty, av) : 0;
		size_t bsz = in_b && !null_b ? irs__value_size_at(ty, bv) : 0;
		const uint8_t *src = in_b ? bv : av;
		size_t sz = in_b ? bsz : asz;
		if (in_a || in_b) {
			irs__bit_set(out, vi);
			if (in_b ? null_b : null_a)
				irs__bit_set(out + B, vi);
			memcpy(o, src, sz);
			o += sz;
		}
		av += asz;
		bv += bsz;
	}
	return (size_t)(o - out);
}

/* row[] (one per column) := the row stored under (key, blob); strings point into
 * them or into scratch (IRS_MAX_KEY_BYTES). Exits on a key that does not decode. */
static inline void perf_kv_row(const irs_schema_table *t, const uint8_t *key, size_t klen,
			       const uint8_t *blob, irs_value *row, uint8_t *scratch)
{
	memset(row, 0, sizeof *row * t->ncols);
	if (irs__key_decode(t, key, klen, row, scratch)) {
		fprintf(stderr, "key does not decode\n");
		exit(3);
	}
	const uint8_t *p = blob + t->value_bitmap_bytes;
	for (uint32_t vi = 0; vi < t->nvalues; vi++) {
		irs_value *val = &row[t->value_cols[vi]];
		if (irs__bit_get(blob, vi)) {
			val->state = IRS_VALUE_NULL;
		} else {
			val->state = IRS_VALUE_SET;
			p = irs__value_read(t->cols[t->value_cols[vi]].type, p, val);
		}
	}
}

/* The database directory: argv[2] when given (then *argc becomes 2, for perf_open),
 * else /dev/shm/irs_<name>_<pid> (tmpfs), or /tmp/... when /dev/shm is not writable. */
static inline void perf_db_dir(int *argc, char **argv, const char *name, char *out, size_t cap)
{
	if (*argc == 3) {
		snprintf(out, cap, "%s", argv[2]);
		*argc = 2;
	} else {
		snprintf(out, cap, "%s/irs_%s_%d", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", name,
			 (int)getpid());
	}
}

#endif
