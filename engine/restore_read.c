/*
 * restore_read.c: reading the restored tables: counts, digests, point gets and scans
 * in primary key order.
 *
 * ORDERED SCAN: each shard's partition is sorted by encoded key (whose byte order is
 * the typed key order, keycodec.h), then a binary heap merges the S sorted arrays.
 * Reads run on the caller's thread while every shard is quiescent (after
 * irs_restore_run returned, or inside the barrier callback).
 */
#include <string.h>

#include "common/error.h"
#include "restore.h"
#include "common/keycodec.h"

int64_t irs_restore_through(const irs_restore *r)
{
	return r ? r->through : -1;
}

int64_t irs_restore_resumed_from(const irs_restore *r)
{
	return r ? r->resumed_from : -1;
}

uint32_t irs_restore_shard_count(const irs_restore *r)
{
	return r ? r->pool.nshards : 0;
}

const irs_backup_stats *irs_restore_stats(const irs_restore *r, uint32_t *count)
{
	if (count)
		*count = r ? r->nstats : 0;
	return r ? r->stats : NULL;
}

uint64_t irs_restore_peak_bytes(const irs_restore *r)
{
	if (!r)
		return 0;
	uint64_t p = atomic_load_explicit(&((irs_restore *)r)->mem.peak, memory_order_relaxed);
	return p > r->peak_bytes ? p : r->peak_bytes;
}

static bool table_ok(const irs_restore *r, uint32_t table)
{
	return r && table < r->c->ntables && r->pool.shards;
}

/* Adds up f over the table's partitions (0 for a table out of range). */
static uint64_t sum_parts(const irs_restore *r, uint32_t table, uint64_t (*f)(const irs_table_part *))
{
	uint64_t n = 0;
	if (!table_ok(r, table))
		return 0;
	for (uint32_t s = 0; s < r->pool.nshards; s++)
		if (r->pool.shards[s].parts[table])
			n += f(r->pool.shards[s].parts[table]); /* wraps: digests add mod 2^64 */
	return n;
}

uint64_t irs_restore_row_count(const irs_restore *r, uint32_t table)
{
	return sum_parts(r, table, irs__part_count);
}

uint64_t irs_restore_logical_bytes(const irs_restore *r, uint32_t table)
{
	return sum_parts(r, table, irs__part_logical_bytes);
}

/* O(shards) when the partitions track their digests (the restore checked expected
 * states), else a scan of every row. */
uint64_t irs_restore_digest(const irs_restore *r, uint32_t table)
{
	return sum_parts(r, table, irs__part_digest);
}

int irs_restore_get(const irs_restore *r, uint32_t table, const irs_value *key, irs_value *row,
		    irs_error *err)
{
	if (!table_ok(r, table) || !key || !row)
		return irs__seterr(err, IRS_EINVAL, "irs_restore_get: bad argument");
	const irs_schema_table *t = &r->c->tables[table];
	for (uint32_t k = 0; k < t->nkey; k++) {
		const irs_schema_column *col = &t->cols[t->key_cols[k]];
		const irs_value *v = &key[t->key_cols[k]];
		const char *why = v->state == IRS_VALUE_SET ? irs__value_check(col->type, v) : "not set";
		if (why)
			return irs__seterr(err, IRS_EINVAL, "key column %s: %s", col->name, why);
	}
	uint8_t kbuf[IRS_MAX_KEY_BYTES];
	size_t klen = irs__key_encode(t, key, kbuf, sizeof kbuf);
	if (!klen)
		return irs__seterr(err, IRS_EINVAL, "key longer than %u bytes", IRS_MAX_KEY_BYTES);
	uint64_t h = irs__key_hash(kbuf, klen);
	const irs_table_part *p = r->pool.shards[irs__shard_of(h, r->pool.nshards)].parts[table];
	const uint8_t *blob = p ? irs__part_get(p, kbuf, klen, h) : NULL;
	if (!blob)
		return irs__seterr(err, IRS_ENOTFOUND, "no row with that key in table %s", t->name);
	if (irs__part_row_values(p, blob, row, r->scratch) != 0)
		return irs__seterr(err, IRS_ECORRUPT, "table %s: a stored key does not decode", t->name);
	return 0;
}

typedef struct cursor {
	const uint8_t **rows;
	size_t n, i;
	const irs_table_part *part;
} cursor;

static bool cur_less(const cursor *a, const cursor *b)
{
	size_t la, lb;
	const uint8_t *ka = irs__row_key(a->rows[a->i], &la);
	const uint8_t *kb = irs__row_key(b->rows[b->i], &lb);
	return irs__key_cmp(ka, la, kb, lb) < 0;
}

static void sift_down(cursor **heap, size_t n, size_t k)
{
	for (;;) {
		size_t l = 2 * k + 1, m = k;
		if (l < n && cur_less(heap[l], heap[m]))
			m = l;
		if (l + 1 < n && cur_less(heap[l + 1], heap[m]))
			m = l + 1;
		if (m == k)
			return;
		cursor *tmp = heap[k];
		heap[k] = heap[m];
		heap[m] = tmp;
		k = m;
	}
}

int irs_restore_scan(const irs_restore *r, uint32_t table, irs_row_fn fn, void *ctx, irs_error *err)
{
	if (!table_ok(r, table) || !fn)
		return irs__seterr(err, IRS_EINVAL, "irs_restore_scan: bad argument");
	irs_mem *mem = &((irs_restore *)r)->mem;
	const irs_schema_table *t = &r->c->tables[table];
	uint32_t S = r->pool.nshards;
	cursor *cur = irs__calloc(mem, sizeof(cursor) * S);
	cursor **heap = irs__calloc(mem, sizeof(cursor *) * S);
	irs_value *row = irs__malloc(mem, sizeof(irs_value) * t->ncols);
	int rc = 0;
	if (!cur || !heap || !row) {
		rc = irs__seterr(err, IRS_ENOMEM, "out of memory scanning table %s", t->name);
		goto out;
	}
	size_t nheap = 0;
	for (uint32_t s = 0; s < S; s++) {
		cur[s].part = r->pool.shards[s].parts[table];
		if (!cur[s].part)
			continue;
		rc = irs__part_sorted(cur[s].part, &cur[s].rows, &cur[s].n);
		if (rc) {
			rc = irs__seterr(err, rc, "out of memory sorting table %s", t->name);
			goto out;
		}
		if (cur[s].n)
			heap[nheap++] = &cur[s];
	}
	for (size_t k = nheap; k-- > 0;)
		sift_down(heap, nheap, k);
	while (nheap) {
		cursor *c = heap[0];
		if (irs__part_row_values(c->part, c->rows[c->i], row, r->scratch) != 0) {
			rc = irs__seterr(err, IRS_ECORRUPT, "table %s: a stored key does not decode", t->name);
			goto out;
		}
		rc = fn(ctx, row);
		if (rc)
			goto out;
		if (++c->i == c->n)
			heap[0] = heap[--nheap];
		sift_down(heap, nheap, 0);
	}
out:
	if (cur)
		for (uint32_t s = 0; s < S; s++)
			if (cur[s].rows)
				irs__part_sorted_free(cur[s].part, cur[s].rows, cur[s].n);
	irs__free(mem, cur, sizeof(cursor) * S);
	irs__free(mem, heap, sizeof(cursor *) * S);
	irs__free(mem, row, sizeof(irs_value) * t->ncols);
	return rc;
}
