/*
 * diff.c: irs_collection_diff, the net changes that take the state at backup `from` to
 * the state at backup `to` (docs/cli.md, "increstore diff").
 *
 * ALGORITHM
 *   Touched keys (from and to share their base full backup, the usual case):
 *     1. Read the incrementals in (from, to] with the format layer (segment reader and
 *        batch decoder, one thread) and collect the encoded keys they touch, per table,
 *        in a hash set (struct dset). Only these keys can differ between the states.
 *     2. Restore up to `to` with a key filter (irs_key_filter: a Bloom filter, then the
 *        set's index) that keeps only those keys: every change of the chain is still decoded and validated, but the
 *        partitions hold at most one row per touched key. At the barrier of `from`
 *        (every shard idle) copy the rows the touched keys have then, serialized.
 *     3. After the restore, walk each table's touched keys in key order and compare the
 *        row at `to` with the copy: new or different -> UPSERT of the whole row; gone
 *        -> ERASE; equal (or absent at both) -> nothing.
 *   Whole states (a full backup lies in (from, to], i.e. `from` is before the base of
 *   `to`): every key may have changed. Restore up to `from`, copy every row into the
 *   set, free that restore, restore up to `to`, add its keys to the set, and compare
 *   as in step 3.
 *
 * ROW COPIES are the canonical serialization of common/digest.h (per column a presence
 * byte, then the value little-endian, strings as u32 length + bytes), so two rows are
 * equal exactly when their copies are equal bytewise: doubles by their bits, strings
 * by their bytes, NULL apart from "".
 *
 * MEMORY: the key set holds, per touched key, a 32-byte entry, 32 to 64 bytes of index,
 * 1 to 2 bytes of Bloom filter, the encoded key and (when it had one) the row at `from`; the filtered restore holds at
 * most one row per touched key. Nothing is sized from the tables, except in the
 * whole-state case, which is documented as such.
 *
 * THREADS: the set is built before the restore starts its shards (thread creation
 * orders it before every read) and is read-only while shards decode: the filter's
 * lookups run on every decoding shard at once. The barrier copy writes only the
 * entries' row fields and the row buffer, which the filter never reads, while every
 * shard is idle. Everything else runs on the caller's thread.
 *
 * OWNERSHIP: every allocation of the diff itself goes through its own irs_mem (the
 * caller's allocator, the memory limit); the restores have theirs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/cancel.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/keycodec.h"
#include "common/options.h"
#include "engine/restore.h"
#include "format/batch.h"

#define NO_ROW UINT32_MAX

/* One touched key of a table. */
typedef struct dkey {
	uint64_t hash;              /* irs__key_hash of the key */
	uint64_t key_off;           /* the encoded key in dset.keys */
	uint64_t a_off;             /* the row at `from`, serialized, in dset.rows ... */
	uint32_t key_len;
	uint32_t a_len;             /* ... of this length; NO_ROW when the key had no row */
} dkey;

/* The touched keys of one table: entries, an open-addressing index over them, and
 * the bytes they point into. */
typedef struct dset {
	dkey *e;
	size_t n, cap;
	uint64_t *slots;            /* hash >> 32 << 32 | (entry index + 1); 0 = empty; a power
				     * of two of them. The tag makes a miss (most lookups of the
				     * filter) cost one cache line, not a visit to the entry */
	size_t nslots;
	irs_buf keys;
	irs_buf rows;
	uint64_t *bloom;            /* a blocked Bloom filter of the keys (bloom_build) ... */
	size_t bloom_blocks;        /* ... of this many 64-byte blocks, a power of two */
	unsigned bloom_shift;       /* 64 - log2(bloom_blocks) */
} dset;

typedef struct diff_run {
	const irs_collection *c;
	irs_mem mem;                /* everything below */
	dset *sets;                 /* per collection table */
	bool *enabled;              /* per table: diffed */
	uint32_t from, to;
	irs_value *row;             /* max_ncols values */
	uint8_t *scratch;           /* unescaped key strings (IRS_MAX_KEY_BYTES) */
	irs_buf ser;                /* a row at `to`, serialized for the comparison */
	const volatile int *cancel;
	int snap_rc;                /* a failure inside the barrier callback ... */
	irs_error snap_err;         /* ... and its message */
} diff_run;

/* Bytes of each version of irs_diff_options (common/options.h). */
static const size_t diff_options_size[] = {
	0, IRS_OPTIONS_END(irs_diff_options, check_expected), /* 1: 0.1.0 */
};
#define DIFF_OPTIONS_VERSIONS (sizeof diff_options_size / sizeof diff_options_size[0] - 1)

void irs_diff_options_init(irs_diff_options *o, uint32_t version)
{
	irs_diff_options d;
	memset(&d, 0, sizeof d);
	d.version = version;
	d.check_expected = 1;
	irs__options_init(o, &d, version, diff_options_size, DIFF_OPTIONS_VERSIONS);
}

/* An allocation failed: IRS_ELIMIT when the memory limit refused it. */
static int oom(diff_run *d, irs_error *err, const char *what)
{
	return irs__seterr(err, irs__mem_over_limit(&d->mem) ? IRS_ELIMIT : IRS_ENOMEM, "out of memory %s%s", what,
			   irs__mem_over_limit(&d->mem) ? " (the memory limit)" : "");
}

static bool cancelled(const diff_run *d)
{
	return irs__cancel_requested(d->cancel);
}

/* ------------------------------------------------------------------ the key set */

static dkey *dset_find(const dset *s, const uint8_t *key, size_t len, uint64_t hash)
{
	if (!s->nslots)
		return NULL;
	size_t mask = s->nslots - 1;
	uint64_t tag = hash >> 32 << 32;
	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		uint64_t v = s->slots[i];
		if (!v)
			return NULL;
		if ((v & ~0xffffffffull) != tag)
			continue;
		dkey *e = &s->e[(uint32_t)v - 1];
		if (e->hash == hash && e->key_len == len && memcmp(s->keys.p + e->key_off, key, len) == 0)
			return e;
	}
}

static inline uint64_t slot_of(uint64_t hash, size_t k)
{
	return hash >> 32 << 32 | (uint64_t)(k + 1);
}

/* Doubles the index (load stays at most 1/4: the filter mostly looks up keys that are
 * not there, and each probe is a cache miss) and re-inserts every entry. */
static int dset_grow_index(irs_mem *mem, dset *s)
{
	size_t n = s->nslots ? s->nslots * 2 : 1024;
	uint64_t *slots = irs__calloc(mem, n * sizeof *slots);
	if (!slots)
		return IRS_ENOMEM;
	for (size_t k = 0; k < s->n; k++) {
		size_t i = s->e[k].hash & (n - 1);
		while (slots[i])
			i = (i + 1) & (n - 1);
		slots[i] = slot_of(s->e[k].hash, k);
	}
	irs__free(mem, s->slots, s->nslots * sizeof *s->slots);
	s->slots = slots;
	s->nslots = n;
	return 0;
}

/* The entry of `key`, added (without a row) when it is new. */
static int dset_add(irs_mem *mem, dset *s, const uint8_t *key, size_t len, uint64_t hash, dkey **out)
{
	dkey *e = dset_find(s, key, len, hash);
	if (e) {
		*out = e;
		return 0;
	}
	if (s->n >= UINT32_MAX - 1)
		return IRS_ENOMEM;
	if ((s->n + 1) * 4 > s->nslots && dset_grow_index(mem, s) != 0)
		return IRS_ENOMEM;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		dkey *ne = irs__realloc(mem, s->e, s->cap * sizeof *ne, cap * sizeof *ne);
		if (!ne)
			return IRS_ENOMEM;
		s->e = ne;
		s->cap = cap;
	}
	uint64_t off = s->keys.len;
	if (!irs__buf_append(&s->keys, key, len))
		return IRS_ENOMEM;
	e = &s->e[s->n];
	*e = (dkey){.hash = hash, .key_off = off, .key_len = (uint32_t)len, .a_len = NO_ROW};
	size_t i = hash & (s->nslots - 1);
	while (s->slots[i])
		i = (i + 1) & (s->nslots - 1);
	s->slots[i] = slot_of(hash, s->n++);
	*out = e;
	return 0;
}

/*
 * The filter is asked about every change of the chain, and most keys are not in the set:
 * a lookup of the index is a cache (and TLB) miss each. A blocked Bloom filter of about
 * 8 bits per key answers most of those "no"s from one cache line that stays in cache far
 * more often: one 64-byte block picked by the key's hash, 3 bits set in it (a false
 * positive rate of about 3%, then the index decides).
 */
static inline uint64_t bloom_mix(uint64_t hash)
{
	return hash * 0x9E3779B97F4A7C15ull; /* the block from its top bits, bits from its low */
}

static inline void bloom_bits(uint64_t m, unsigned *b0, unsigned *b1, unsigned *b2)
{
	*b0 = (unsigned)(m & 511);
	*b1 = (unsigned)(m >> 9 & 511);
	*b2 = (unsigned)(m >> 18 & 511);
}

static int bloom_build(irs_mem *mem, dset *s)
{
	size_t blocks = 1;
	unsigned log2 = 0;
	while (blocks * 64 < s->n) { /* 64 keys (8 bits each) per 512-bit block */
		blocks *= 2;
		log2++;
	}
	s->bloom = irs__calloc(mem, blocks * 64);
	if (!s->bloom)
		return IRS_ENOMEM;
	s->bloom_blocks = blocks;
	s->bloom_shift = 64 - log2;
	for (size_t k = 0; k < s->n; k++) {
		uint64_t m = bloom_mix(s->e[k].hash);
		uint64_t *blk = s->bloom + (log2 ? (m >> s->bloom_shift) : 0) * 8;
		unsigned b0, b1, b2;
		bloom_bits(m, &b0, &b1, &b2);
		blk[b0 >> 6] |= 1ull << (b0 & 63);
		blk[b1 >> 6] |= 1ull << (b1 & 63);
		blk[b2 >> 6] |= 1ull << (b2 & 63);
	}
	return 0;
}

/* False when the key is certainly not in the set. */
static inline bool bloom_maybe(const dset *s, uint64_t hash)
{
	uint64_t m = bloom_mix(hash);
	const uint64_t *blk = s->bloom + (s->bloom_blocks > 1 ? (m >> s->bloom_shift) : 0) * 8;
	unsigned b0, b1, b2;
	bloom_bits(m, &b0, &b1, &b2);
	return (blk[b0 >> 6] >> (b0 & 63) & blk[b1 >> 6] >> (b1 & 63) & blk[b2 >> 6] >> (b2 & 63) & 1) != 0;
}

static void dset_free(irs_mem *mem, dset *s)
{
	irs__free(mem, s->bloom, s->bloom_blocks * 64);
	irs__free(mem, s->e, s->cap * sizeof *s->e);
	irs__free(mem, s->slots, s->nslots * sizeof *s->slots);
	irs__buf_free(&s->keys);
	irs__buf_free(&s->rows);
}

/* The filter of the restore up to `to`: keep the touched keys. Read-only. */
static bool keep_touched(const void *ctx, uint32_t table, const uint8_t *key, size_t key_len,
			 uint64_t hash)
{
	const diff_run *d = ctx;
	const dset *s = &d->sets[table];
	return s->n && bloom_maybe(s, hash) && dset_find(s, key, key_len, hash) != NULL;
}

/* ------------------------------------------------------------------ rows */

/* Appends the canonical serialization of row[] (common/digest.h) to b. */
static bool row_serialize(irs_buf *b, const irs_schema_table *t, const irs_value *row)
{
	for (uint32_t c = 0; c < t->ncols; c++) {
		const irs_value *v = &row[c];
		irs_type ty = t->cols[c].type;
		uint8_t present = v->state == IRS_VALUE_SET, tmp[8];
		if (!irs__buf_append(b, &present, 1))
			return false;
		if (!present)
			continue;
		switch (ty) {
		case IRS_TYPE_BOOL:
			tmp[0] = v->v.b ? 1 : 0;
			if (!irs__buf_append(b, tmp, 1))
				return false;
			break;
		case IRS_TYPE_INT32:
			irs__store_le32(tmp, (uint32_t)(int32_t)v->v.i64);
			if (!irs__buf_append(b, tmp, 4))
				return false;
			break;
		case IRS_TYPE_UINT32:
			irs__store_le32(tmp, (uint32_t)v->v.u64);
			if (!irs__buf_append(b, tmp, 4))
				return false;
			break;
		case IRS_TYPE_INT64:
		case IRS_TYPE_TIMESTAMP:
		case IRS_TYPE_UINT64:
			irs__store_le64(tmp, ty == IRS_TYPE_UINT64 ? v->v.u64 : (uint64_t)v->v.i64);
			if (!irs__buf_append(b, tmp, 8))
				return false;
			break;
		case IRS_TYPE_DOUBLE: {
			uint64_t bits;
			memcpy(&bits, &v->v.d, 8);
			irs__store_le64(tmp, bits);
			if (!irs__buf_append(b, tmp, 8))
				return false;
			break;
		}
		case IRS_TYPE_UTF8:
		case IRS_TYPE_BYTES:
			irs__store_le32(tmp, (uint32_t)v->v.s.len);
			if (!irs__buf_append(b, tmp, 4) || !irs__buf_append(b, v->v.s.ptr, v->v.s.len))
				return false;
			break;
		}
	}
	return true;
}

/* The partition of `r` that holds `hash` in table t, and the row blob of the key. */
static const uint8_t *restored_row(const irs_restore *r, uint32_t t, const uint8_t *key, size_t len,
				   uint64_t hash, const irs_table_part **part)
{
	*part = r->pool.shards[irs__shard_of(hash, r->pool.nshards)].parts[t];
	return *part ? irs__part_get(*part, key, len, hash) : NULL;
}

/* Copies the row of blob (in part) serialized into e's row fields. */
static int copy_row(diff_run *d, dset *s, const irs_schema_table *t, dkey *e,
		    const irs_table_part *part, const uint8_t *blob, irs_error *err)
{
	if (irs__part_row_values(part, blob, d->row, d->scratch) != 0)
		return irs__seterr(err, IRS_ECORRUPT, "table %s: a restored key does not decode", t->name);
	uint64_t off = s->rows.len;
	if (!row_serialize(&s->rows, t, d->row) || s->rows.len - off >= NO_ROW)
		return irs__seterr(err, irs__mem_over_limit(&d->mem) ? IRS_ELIMIT : IRS_ENOMEM,
				   "out of memory copying the rows of table %s", t->name);
	e->a_off = off;
	e->a_len = (uint32_t)(s->rows.len - off);
	return 0;
}

/* Touched keys: copies the row every touched key has in r (the state at `from`). */
static int snapshot_touched(diff_run *d, const irs_restore *r, irs_error *err)
{
	for (uint32_t ti = 0; ti < d->c->ntables; ti++) {
		dset *s = &d->sets[ti];
		const irs_schema_table *t = &d->c->tables[ti];
		for (size_t k = 0; d->enabled[ti] && k < s->n; k++) {
			dkey *e = &s->e[k];
			const irs_table_part *part;
			const uint8_t *blob = restored_row(r, ti, s->keys.p + e->key_off, e->key_len, e->hash, &part);
			int rc = blob ? copy_row(d, s, t, e, part, blob, err) : 0;
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Whole states: adds every row of r to the sets; with_rows copies them too (the state
 * at `from`), otherwise only keys new to the set are added (the state at `to`). */
static int add_all_rows(diff_run *d, const irs_restore *r, bool with_rows, irs_error *err)
{
	for (uint32_t ti = 0; ti < d->c->ntables; ti++) {
		dset *s = &d->sets[ti];
		const irs_schema_table *t = &d->c->tables[ti];
		for (uint32_t sh = 0; d->enabled[ti] && sh < r->pool.nshards; sh++) {
			const irs_table_part *part = r->pool.shards[sh].parts[ti];
			size_t pos = 0;
			for (const uint8_t *blob; part && (blob = irs__part_next(part, &pos)) != NULL;) {
				size_t len;
				const uint8_t *key = irs__row_key(blob, &len);
				dkey *e;
				if (dset_add(&d->mem, s, key, len, irs__key_hash(key, len), &e) != 0)
					return irs__seterr(err, irs__mem_over_limit(&d->mem) ? IRS_ELIMIT : IRS_ENOMEM,
							   "out of memory collecting the keys of table %s", t->name);
				int rc = with_rows ? copy_row(d, s, t, e, part, blob, err) : 0;
				if (rc)
					return rc;
			}
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ touched keys */

typedef struct collect_ctx {
	diff_run *d;
	dset *s;
	const char *table;
} collect_ctx;

static int collect_sink(void *ctx, const irs_rec *rec, irs_error *err)
{
	collect_ctx *cc = ctx;
	dkey *e;
	if (dset_add(&cc->d->mem, cc->s, irs__rec_key(rec), rec->key_len, rec->hash, &e) != 0)
		return irs__seterr(err, irs__mem_over_limit(&cc->d->mem) ? IRS_ELIMIT : IRS_ENOMEM,
				   "out of memory collecting the keys of table %s", cc->table);
	return 0;
}

/* Adds the keys backup b changes (every table diffed) to the sets. */
static int collect_backup(diff_run *d, irs_batch_decoder *dec, uint32_t b, irs_error *err)
{
	const irs_collection *c = d->c;
	const char *bname = c->backups[b].pb->name;
	for (uint32_t ti = 0; ti < c->ntables; ti++) {
		const Increstore__TableBackup *tb = irs__backup_table(&c->backups[b], ti);
		if (!d->enabled[ti] || !tb)
			continue;
		collect_ctx cc = {d, &d->sets[ti], c->tables[ti].name};
		for (size_t si = 0; si < tb->n_segments; si++) {
			irs_segment_scan s = {.mem = &d->mem, .dirfd = c->dirfd, .path = tb->segments[si]->path,
					      .table = tb->table, .t = &c->tables[ti], .backup = bname,
					      .cancel = d->cancel};
			int rc = irs__segment_scan(&s, dec, collect_sink, &cc, err);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static int collect_touched(diff_run *d, irs_error *err)
{
	irs_batch_decoder dec;
	irs__batch_decoder_init(&dec, &d->mem);
	int rc = 0;
	for (uint32_t b = d->from + 1; !rc && b <= d->to; b++)
		rc = collect_backup(d, &dec, b, err);
	irs__batch_decoder_free(&dec);
	return rc;
}

/* ------------------------------------------------------------------ restores */

/* At the barrier of `from`: copy the touched keys' rows (every shard is idle). */
static int on_barrier(void *ctx, irs_restore *r, uint32_t backup)
{
	diff_run *d = ctx;
	if (backup != d->from)
		return 0;
	d->snap_rc = snapshot_touched(d, r, &d->snap_err);
	return d->snap_rc;
}

/* Restores up to backup `upto` with the caller's options (and hooks, may be NULL). */
static int run_restore(diff_run *d, const irs_diff_options *o, const irs_allocator *alloc,
		       uint32_t upto, const irs_restore_hooks *hooks, bool barrier, irs_restore **out,
		       irs_error *err)
{
	irs_restore_options ro;
	irs_restore_options_init(&ro, IRS_RESTORE_OPTIONS_VERSION);
	ro.shards = o->shards;
	ro.upto = d->c->backups[upto].pb->name;
	ro.tables = o->tables;
	ro.table_count = o->table_count;
	ro.progress = o->progress;
	ro.progress_ctx = o->progress_ctx;
	ro.cancel = o->cancel;
	ro.memory_limit = o->memory_limit;
	ro.check_expected = o->check_expected;
	if (barrier) {
		ro.barrier = on_barrier;
		ro.barrier_ctx = d;
	}
	d->snap_rc = 0;
	int rc = irs__restore_run_hooked(d->c, &ro, alloc, hooks, out, err);
	if (rc && d->snap_rc && err)
		*err = d->snap_err; /* the barrier's own failure, not "cancelled by the callback" */
	return rc && d->snap_rc ? d->snap_rc : rc;
}

/* ------------------------------------------------------------------ comparison */

typedef struct sort_ref {
	const uint8_t *key;
	uint32_t len;
	uint32_t index;             /* into dset.e */
} sort_ref;

static int ref_cmp(const void *a, const void *b)
{
	const sort_ref *x = a, *y = b;
	return irs__key_cmp(x->key, x->len, y->key, y->len);
}

/* Compares the set's keys of table ti at `to` (restore r) with their rows at `from`
 * and hands every net change to fn, in key order. */
static int emit_table(diff_run *d, const irs_restore *r, uint32_t ti, irs_diff_fn fn, void *ctx,
		      irs_diff_stats *st, irs_error *err)
{
	dset *s = &d->sets[ti];
	const irs_schema_table *t = &d->c->tables[ti];
	if (!s->n)
		return 0;
	sort_ref *refs = irs__malloc(&d->mem, s->n * sizeof *refs);
	if (!refs)
		return irs__seterr(err, irs__mem_over_limit(&d->mem) ? IRS_ELIMIT : IRS_ENOMEM,
				   "out of memory sorting the keys of table %s", t->name);
	for (size_t k = 0; k < s->n; k++)
		refs[k] = (sort_ref){s->keys.p + s->e[k].key_off, s->e[k].key_len, (uint32_t)k};
	qsort(refs, s->n, sizeof *refs, ref_cmp);
	int rc = 0;
	for (size_t k = 0; !rc && k < s->n; k++) {
		if ((k & 4095) == 0 && cancelled(d)) {
			rc = irs__seterr(err, IRS_ECANCELED, "cancelled comparing table %s", t->name);
			break;
		}
		const dkey *e = &s->e[refs[k].index];
		const uint8_t *a_row = e->a_len == NO_ROW ? NULL : s->rows.p + e->a_off;
		const irs_table_part *part;
		const uint8_t *blob = restored_row(r, ti, refs[k].key, e->key_len, e->hash, &part);
		if (blob) {
			if (irs__part_row_values(part, blob, d->row, d->scratch) != 0) {
				rc = irs__seterr(err, IRS_ECORRUPT, "table %s: a restored key does not decode", t->name);
				break;
			}
			d->ser.len = 0;
			if (!row_serialize(&d->ser, t, d->row)) {
				rc = oom(d, err, "comparing rows");
				break;
			}
			if (a_row && e->a_len == d->ser.len && memcmp(a_row, d->ser.p, d->ser.len) == 0)
				continue; /* equal at both: changed and changed back, or never changed */
			st->upserts++;
			rc = fn(ctx, ti, IRS_DIFF_UPSERT, d->row);
		} else if (a_row) {
			for (uint32_t c = 0; c < t->ncols; c++)
				d->row[c].state = IRS_VALUE_ABSENT;
			if (irs__key_decode(t, refs[k].key, e->key_len, d->row, d->scratch) != 0) {
				rc = irs__seterr(err, IRS_ECORRUPT, "table %s: a key does not decode", t->name);
				break;
			}
			st->erases++;
			rc = fn(ctx, ti, IRS_DIFF_ERASE, d->row);
		}
	}
	irs__free(&d->mem, refs, s->n * sizeof *refs);
	return rc;
}

static int emit_all(diff_run *d, const irs_restore *r, irs_diff_fn fn, void *ctx, irs_diff_stats *st,
		    irs_error *err)
{
	for (uint32_t ti = 0; ti < d->c->ntables; ti++) {
		if (!d->enabled[ti])
			continue;
		st->keys += d->sets[ti].n;
		int rc = emit_table(d, r, ti, fn, ctx, st, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------------ the two paths */

static int diff_touched(diff_run *d, const irs_diff_options *o, const irs_allocator *alloc,
			irs_diff_fn fn, void *ctx, irs_diff_stats *st, irs_error *err)
{
	uint64_t t0 = irs__now_ns();
	int rc = collect_touched(d, err);
	st->collect_ns = irs__now_ns() - t0;
	if (rc)
		return rc;
	uint64_t touched = 0;
	for (uint32_t t = 0; t < d->c->ntables; t++)
		touched += d->sets[t].n;
	if (!touched)
		return 0; /* only empty incrementals: the states are equal */
	uint64_t *presize = irs__calloc(&d->mem, sizeof(uint64_t) * d->c->ntables);
	if (!presize)
		return oom(d, err, "starting the diff");
	for (uint32_t t = 0; t < d->c->ntables; t++) {
		presize[t] = d->sets[t].n;
		if (d->sets[t].n && bloom_build(&d->mem, &d->sets[t]) != 0) {
			irs__free(&d->mem, presize, sizeof(uint64_t) * d->c->ntables);
			return oom(d, err, "building the key filter");
		}
	}
	irs_key_filter filter = {keep_touched, d};
	irs_restore_hooks hooks = {&filter, presize};
	irs_restore *r = NULL;
	t0 = irs__now_ns();
	rc = run_restore(d, o, alloc, d->to, &hooks, true, &r, err);
	uint64_t t1 = irs__now_ns();
	st->restore_ns = t1 - t0;
	if (!rc)
		rc = emit_all(d, r, fn, ctx, st, err);
	st->compare_ns = irs__now_ns() - t1;
	st->peak_bytes = irs_restore_peak_bytes(r);
	irs_restore_free(r);
	irs__free(&d->mem, presize, sizeof(uint64_t) * d->c->ntables);
	return rc;
}

static int diff_whole(diff_run *d, const irs_diff_options *o, const irs_allocator *alloc,
		      irs_diff_fn fn, void *ctx, irs_diff_stats *st, irs_error *err)
{
	st->whole_tables = 1;
	uint64_t t0 = irs__now_ns();
	irs_restore *ra = NULL;
	int rc = run_restore(d, o, alloc, d->from, NULL, false, &ra, err);
	if (!rc)
		rc = add_all_rows(d, ra, true, err);
	uint64_t peak_a = irs_restore_peak_bytes(ra);
	irs_restore_free(ra);
	if (rc)
		return rc;
	irs_restore *rb = NULL;
	rc = run_restore(d, o, alloc, d->to, NULL, false, &rb, err);
	if (!rc)
		rc = add_all_rows(d, rb, false, err);
	uint64_t t1 = irs__now_ns();
	st->restore_ns = t1 - t0;
	if (!rc)
		rc = emit_all(d, rb, fn, ctx, st, err);
	st->compare_ns = irs__now_ns() - t1;
	uint64_t peak_b = irs_restore_peak_bytes(rb);
	st->peak_bytes = peak_a > peak_b ? peak_a : peak_b;
	irs_restore_free(rb);
	return rc;
}

/* Resolves the arguments into d; 0 or an error. */
static int diff_setup(diff_run *d, const irs_collection *c, const char *from, const char *to,
		      const irs_diff_options *o, irs_error *err)
{
	if (c->nbackups == 0)
		return irs__seterr(err, IRS_ECHAIN, "%s: the collection holds no backup yet", c->dir);
	int f = from ? irs_collection_find_backup(c, from) : -1;
	if (f < 0)
		return irs__seterr(err, from ? IRS_ENOTFOUND : IRS_EINVAL, "%s: no backup named %s", c->dir,
				   from ? from : "(NULL)");
	int t = to ? irs_collection_find_backup(c, to) : (int)c->nbackups - 1;
	if (t < 0)
		return irs__seterr(err, IRS_ENOTFOUND, "%s: no backup named %s", c->dir, to);
	if (f > t)
		return irs__seterr(err, IRS_EINVAL,
				   "backup %s (#%d) comes after backup %s (#%d): a diff goes forward in the chain",
				   from, f + 1, c->backups[t].pb->name, t + 1);
	if (o->shards > 256)
		return irs__seterr(err, IRS_EINVAL, "%u shards: at most 256", o->shards);
	d->from = (uint32_t)f;
	d->to = (uint32_t)t;
	d->sets = irs__calloc(&d->mem, sizeof(dset) * c->ntables);
	d->enabled = irs__calloc(&d->mem, sizeof(bool) * c->ntables);
	d->row = irs__calloc(&d->mem, sizeof(irs_value) * (c->max_ncols ? c->max_ncols : 1));
	d->scratch = irs__malloc(&d->mem, IRS_MAX_KEY_BYTES);
	if (!d->sets || !d->enabled || !d->row || !d->scratch)
		return oom(d, err, "starting the diff");
	for (uint32_t ti = 0; ti < c->ntables; ti++) {
		irs__buf_init(&d->sets[ti].keys, &d->mem);
		irs__buf_init(&d->sets[ti].rows, &d->mem);
	}
	return irs__tables_enable(c, o->tables, o->table_count, d->enabled, err);
}

static void diff_free(diff_run *d)
{
	const irs_collection *c = d->c;
	for (uint32_t ti = 0; d->sets && ti < c->ntables; ti++)
		dset_free(&d->mem, &d->sets[ti]);
	irs__free(&d->mem, d->sets, sizeof(dset) * c->ntables);
	irs__free(&d->mem, d->enabled, sizeof(bool) * c->ntables);
	irs__free(&d->mem, d->row, sizeof(irs_value) * (c->max_ncols ? c->max_ncols : 1));
	irs__free(&d->mem, d->scratch, IRS_MAX_KEY_BYTES);
	irs__buf_free(&d->ser);
}

int irs_collection_diff(const irs_collection *c, const char *from, const char *to,
			const irs_diff_options *opts, const irs_allocator *alloc, irs_diff_fn fn,
			void *ctx, irs_diff_stats *stats, irs_error *err)
{
	irs__errclear(err);
	irs_diff_stats st = {0};
	if (stats)
		*stats = st;
	if (!c || !fn)
		return irs__seterr(err, IRS_EINVAL, "irs_collection_diff: NULL argument");
	irs_diff_options o;
	irs_diff_options_init(&o, IRS_DIFF_OPTIONS_VERSION);
	int rc = irs__options_read(&o, opts, diff_options_size, DIFF_OPTIONS_VERSIONS, "irs_diff_options", err);
	if (rc)
		return rc;
	diff_run d = {.c = c, .cancel = o.cancel};
	irs__mem_init(&d.mem, alloc, o.memory_limit);
	irs__buf_init(&d.ser, &d.mem);
	rc = diff_setup(&d, c, from, to, &o, err);
	if (!rc && cancelled(&d)) /* before any work, and so when there is none (from = to) */
		rc = irs__seterr(err, IRS_ECANCELED, "cancelled before comparing backup %s with %s",
				 c->backups[d.from].pb->name, c->backups[d.to].pb->name);
	if (!rc && d.from != d.to)
		rc = c->backups[d.to].base > d.from ? diff_whole(&d, &o, alloc, fn, ctx, &st, err)
						    : diff_touched(&d, &o, alloc, fn, ctx, &st, err);
	st.peak_bytes += atomic_load_explicit(&d.mem.peak, memory_order_relaxed);
	diff_free(&d);
	if (stats)
		*stats = st;
	return rc;
}
