/*
 * cursor.c: cursors over the restored tables (include/increstore.h, "Reading the
 * restored tables"), and the callback scan built on them.
 *
 * ORDERED CURSOR: a k-way merge of the table's partitions, each in key order
 * (engine/read_order.c sorts a partition once per barrier). The merge keeps one source
 * per partition that has rows in the range: its next row and that row's first 8 key
 * bytes as a big-endian number, so heap comparisons rarely touch the rows (for a key
 * of up to 8 bytes, never). A range [lo, hi) first narrows every source by binary
 * search; a bound that sets only the first key columns (in primary key order) is a
 * key prefix, whose encoding is a byte prefix of every key extending it and orders
 * before them (common/keycodec.h).
 *
 * PARTITION CURSOR: the rows of one partition in hash slot order: no sort, no merge;
 * N threads with one partition each read a table N ways at once.
 *
 * THREADS: a cursor belongs to the thread using it; any number of cursors, on any
 * threads, read one restore at once. Cursors write nothing shared: key strings holding
 * 0x00 are unescaped into the cursor's own scratch.
 *
 * OWNERSHIP: one allocation per cursor (the struct, its sources, heap and scratch),
 * from the restore's allocator; rows point into the partitions.
 */
#include <stdatomic.h>
#include <string.h>

#include "common/error.h"
#include "common/keycodec.h"
#include "restore.h"

typedef struct merge_src {
	const uint8_t *const *rows;
	size_t i, end;           /* rows[i..end) are still to come */
	uint64_t pre;            /* first 8 key bytes of rows[i], big-endian, zero padded */
	const uint8_t *key;      /* rows[i]'s encoded key */
	size_t klen;
	const irs_table_part *part;
} merge_src;

struct irs_cursor {
	const irs_restore *r;
	const irs_schema_table *t;
	size_t bytes;            /* of this allocation */
	bool ordered;
	/* partition cursor */
	const irs_table_part *part;
	size_t pos;
	/* ordered cursor */
	merge_src *src;          /* nsrc sources */
	merge_src **heap;        /* min-heap of the sources with rows left */
	size_t nheap;
	uint8_t *scratch;        /* unescaped key strings of the current row */
	uint8_t *extra;          /* cursor_new's extra bytes */
};

static bool table_readable(const irs_restore *r, uint32_t table)
{
	return r && table < r->c->ntables && r->pool.shards;
}

/* Rows ahead of a source's next one that are asked into the cache: rows lie at random
 * in the arena, so each would otherwise be a cache miss when its turn comes. */
#define ROW_PREFETCH 8

static void src_load(merge_src *m)
{
	if (m->i + ROW_PREFETCH < m->end)
		__builtin_prefetch(m->rows[m->i + ROW_PREFETCH]);
	m->key = irs__row_key(m->rows[m->i], &m->klen);
	uint64_t v = 0;
	for (size_t b = 0; b < 8; b++)
		v = v << 8 | (b < m->klen ? m->key[b] : 0);
	m->pre = v;
}

static bool src_less(const merge_src *a, const merge_src *b)
{
	if (a->pre != b->pre)
		return a->pre < b->pre;
	return irs__key_cmp(a->key, a->klen, b->key, b->klen) < 0;
}

static void sift_down(merge_src **heap, size_t n, size_t k)
{
	for (;;) {
		size_t l = 2 * k + 1, m = k;
		if (l < n && src_less(heap[l], heap[m]))
			m = l;
		if (l + 1 < n && src_less(heap[l + 1], heap[m]))
			m = l + 1;
		if (m == k)
			return;
		merge_src *tmp = heap[k];
		heap[k] = heap[m];
		heap[m] = tmp;
		k = m;
	}
}

/* First index of rows[0..n) whose key is >= key (n when none). */
static size_t lower_bound(const uint8_t *const *rows, size_t n, const uint8_t *key, size_t klen)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		size_t ml;
		const uint8_t *mk = irs__row_key(rows[mid], &ml);
		if (irs__key_cmp(mk, ml, key, klen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Checks a range bound: the key columns of `v` that are SET, in primary key order up
 * to the first ABSENT one, form a key prefix (all of them: a whole key). Sets *k to
 * their number (0: the empty prefix, below every key) and *cap to a bound of their
 * encoded length. Returns 0 or IRS_EINVAL naming the column.
 */
static int bound_check(const irs_schema_table *t, const irs_value *v, const char *which, uint32_t *k,
		       size_t *cap, irs_error *err)
{
	*k = 0;
	*cap = 0;
	if (!v)
		return 0;
	for (; *k < t->nkey && v[t->key_cols[*k]].state == IRS_VALUE_SET; (*k)++) {
		const irs_schema_column *col = &t->cols[t->key_cols[*k]];
		const char *why = irs__value_check(col->type, &v[t->key_cols[*k]]);
		if (why)
			return irs__seterr(err, IRS_EINVAL, "%s bound, key column %s: %s", which, col->name, why);
		*cap += irs__key_part_bound(col->type, &v[t->key_cols[*k]]);
	}
	for (uint32_t j = *k; j < t->nkey; j++) {
		const irs_schema_column *col = &t->cols[t->key_cols[j]];
		if (v[t->key_cols[j]].state != IRS_VALUE_ABSENT)
			return irs__seterr(err, IRS_EINVAL,
					   "%s bound, key column %s: %s (a bound sets the first key "
					   "columns in primary key order, the others are absent)",
					   which, col->name,
					   v[t->key_cols[j]].state == IRS_VALUE_NULL ? "NULL"
										 : "set after an absent one");
	}
	if (*cap > IRS_MAX_KEY_BYTES)
		*cap = IRS_MAX_KEY_BYTES;
	return 0;
}

/* Encodes the first k key columns of v (bound_check passed) into out[0..cap). Returns
 * the length, or 0 when the prefix is longer than a key may be. */
static size_t bound_encode(const irs_schema_table *t, const irs_value *v, uint32_t k, uint8_t *out,
			   size_t cap)
{
	if (!k)
		return 0;
	irs_schema_table prefix = *t;
	prefix.nkey = k;
	return irs__key_encode(&prefix, v, out, cap);
}

/* The longest key any partition of the table holds: the scratch a row's key needs. */
size_t irs__table_key_scratch(const irs_restore *r, uint32_t table)
{
	size_t m = 0;
	for (uint32_t s = 0; s < r->pool.nshards; s++) {
		const irs_table_part *p = r->pool.shards[s].parts[table];
		if (p && irs__part_max_key_len(p) > m)
			m = irs__part_max_key_len(p);
	}
	return m + 1;
}

/* One allocation: the cursor, then nsrc sources, their heap, the key scratch and
 * `extra` bytes after it (the bounds' keys). */
static irs_cursor *cursor_new(const irs_restore *r, uint32_t table, uint32_t nsrc, size_t extra,
			      irs_error *err)
{
	size_t scratch = irs__table_key_scratch(r, table);
	size_t bytes = sizeof(irs_cursor) + nsrc * (sizeof(merge_src) + sizeof(merge_src *)) + scratch + extra;
	irs_mem *mem = (irs_mem *)&r->mem;
	irs_cursor *c = irs__calloc(mem, bytes);
	if (!c) {
		irs__seterr(err, irs__mem_over_limit(mem) ? IRS_ELIMIT : IRS_ENOMEM,
			    "out of memory opening a cursor on table %s", r->c->tables[table].name);
		return NULL;
	}
	c->r = r;
	c->t = &r->c->tables[table];
	c->bytes = bytes;
	c->src = (merge_src *)(void *)(c + 1);
	c->heap = (merge_src **)(void *)(c->src + nsrc);
	c->scratch = (uint8_t *)(c->heap + nsrc);
	c->extra = c->scratch + scratch;
	return c;
}

void irs_cursor_close(irs_cursor *c)
{
	if (c)
		irs__free((irs_mem *)&c->r->mem, c, c->bytes);
}

int irs_restore_cursor_open(const irs_restore *r, uint32_t table, const irs_value *lo,
			    const irs_value *hi, irs_cursor **out, irs_error *err)
{
	return irs__cursor_open(r, table, lo, hi, NULL, out, err);
}

int irs__cursor_open(const irs_restore *r, uint32_t table, const irs_value *lo, const irs_value *hi,
		     const volatile int *cancel, irs_cursor **out, irs_error *err)
{
	irs__errclear(err);
	if (!out)
		return irs__seterr(err, IRS_EINVAL, "irs_restore_cursor_open: NULL cursor");
	*out = NULL;
	if (!table_readable(r, table))
		return irs__seterr(err, IRS_EINVAL, "irs_restore_cursor_open: no table %u", table);
	const irs_schema_table *t = &r->c->tables[table];
	uint32_t lok, hik;
	size_t locap, hicap;
	int rc = bound_check(t, lo, "lower", &lok, &locap, err);
	if (!rc)
		rc = bound_check(t, hi, "upper", &hik, &hicap, err);
	if (rc)
		return rc;
	uint32_t S = r->pool.nshards;
	irs_cursor *c = cursor_new(r, table, S, locap + hicap, err);
	if (!c)
		return err ? err->code : IRS_ENOMEM;
	c->ordered = true;
	uint8_t *lob = c->extra, *hib = c->extra + locap;
	size_t lol = bound_encode(t, lo, lok, lob, locap), hil = bound_encode(t, hi, hik, hib, hicap);
	if ((lok && !lol) || (hik && !hil)) {
		irs_cursor_close(c);
		return irs__seterr(err, IRS_EINVAL, "a bound is longer than a key may be (%u bytes)",
				   IRS_MAX_KEY_BYTES);
	}
	/* Readers start at different partitions, so concurrent first opens of a table
	 * sort its partitions in parallel (read_order.c). */
	uint32_t first = atomic_fetch_add_explicit(&((irs_restore *)r)->order.turn, 1, memory_order_relaxed) % S;
	for (uint32_t k = 0; k < S; k++) {
		uint32_t s = (first + k) % S;
		merge_src *m = &c->src[s];
		m->part = r->pool.shards[s].parts[table];
		rc = irs__read_order_part(r, table, s, cancel, &m->rows, &m->end);
		if (rc) {
			irs_cursor_close(c);
			return irs__seterr(err, rc, rc == IRS_ECANCELED ? "cancelled sorting table %s"
									: "out of memory sorting table %s",
					   t->name);
		}
		if (lo && m->end)
			m->i = lower_bound(m->rows, m->end, lob, lol);
		if (hi && m->end)
			m->end = lower_bound(m->rows, m->end, hib, hil);
		if (m->end < m->i)
			m->end = m->i; /* lo > hi: an empty range */
	}
	for (uint32_t s = 0; s < S; s++) {
		merge_src *m = &c->src[s];
		if (m->i < m->end) {
			src_load(m);
			c->heap[c->nheap++] = m;
		}
	}
	for (size_t k = c->nheap; k-- > 0;)
		sift_down(c->heap, c->nheap, k);
	*out = c;
	return 0;
}

uint32_t irs_restore_partition_count(const irs_restore *r)
{
	return r && r->pool.shards ? r->pool.nshards : 0;
}

int irs_restore_cursor_open_partition(const irs_restore *r, uint32_t table, uint32_t partition,
				      irs_cursor **out, irs_error *err)
{
	irs__errclear(err);
	if (!out)
		return irs__seterr(err, IRS_EINVAL, "irs_restore_cursor_open_partition: NULL cursor");
	*out = NULL;
	if (!table_readable(r, table))
		return irs__seterr(err, IRS_EINVAL, "irs_restore_cursor_open_partition: no table %u", table);
	if (partition >= r->pool.nshards)
		return irs__seterr(err, IRS_EINVAL, "partition %u of %u", partition, r->pool.nshards);
	irs_cursor *c = cursor_new(r, table, 0, 0, err);
	if (!c)
		return err ? err->code : IRS_ENOMEM;
	c->part = r->pool.shards[partition].parts[table];
	*out = c;
	return 0;
}

/* Decodes a row blob of partition p into row[]. */
static int emit(irs_cursor *c, const irs_table_part *p, const uint8_t *blob, irs_value *row,
		irs_error *err)
{
	if (irs__part_row_values(p, blob, row, c->scratch) != 0)
		return irs__seterr(err, IRS_ECORRUPT, "table %s: a stored key does not decode", c->t->name);
	return 1;
}

int irs_cursor_next(irs_cursor *c, irs_value *row, irs_error *err)
{
	if (!c || !row)
		return irs__seterr(err, IRS_EINVAL, "irs_cursor_next: NULL argument");
	if (!c->ordered) {
		const uint8_t *blob = c->part ? irs__part_next(c->part, &c->pos) : NULL;
		return blob ? emit(c, c->part, blob, row, err) : 0;
	}
	const irs_table_part *part;
	const uint8_t *blob;
	return irs__cursor_next_blob(c, &part, &blob) ? emit(c, part, blob, row, err) : 0;
}

int irs__cursor_next_blob(irs_cursor *c, const irs_table_part **part, const uint8_t **blob)
{
	if (!c->nheap)
		return 0;
	merge_src *m = c->heap[0];
	*part = m->part;
	*blob = m->rows[m->i];
	if (++m->i < m->end)
		src_load(m);
	else
		c->heap[0] = c->heap[--c->nheap];
	sift_down(c->heap, c->nheap, 0);
	return 1;
}

int irs_restore_scan(const irs_restore *r, uint32_t table, irs_row_fn fn, void *ctx, irs_error *err)
{
	return irs__scan(r, table, fn, ctx, NULL, err);
}

int irs__scan(const irs_restore *r, uint32_t table, irs_row_fn fn, void *ctx, const volatile int *cancel,
	      irs_error *err)
{
	if (!table_readable(r, table) || !fn)
		return irs__seterr(err, IRS_EINVAL, "irs_restore_scan: bad argument");
	const irs_schema_table *t = &r->c->tables[table];
	irs_mem *mem = (irs_mem *)&r->mem;
	irs_value *row = irs__malloc(mem, sizeof(irs_value) * t->ncols);
	if (!row)
		return irs__seterr(err, IRS_ENOMEM, "out of memory scanning table %s", t->name);
	irs_cursor *c;
	int rc = irs__cursor_open(r, table, NULL, NULL, cancel, &c, err);
	while (!rc && (rc = irs_cursor_next(c, row, err)) == 1)
		rc = fn(ctx, row);
	irs_cursor_close(c);
	irs__free(mem, row, sizeof(irs_value) * t->ncols);
	return rc;
}
