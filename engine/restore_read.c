/*
 * restore_read.c: reading the restored tables: counts, digests, point gets and batched
 * gets. Cursors and scans are in cursor.c.
 *
 * THREADS: reads run on any number of caller threads at once while every shard is
 * quiescent (after irs_restore_run returned, or while the coordinator waits in the
 * barrier callback). Nothing here writes the restore: a get decodes into the caller's
 * row[] and its own stack. A digest that has to scan rows starts helper threads of its
 * own (digest_scan below), which only read, and joins them before it returns.
 */
#include <string.h>

#include "common/error.h"
#include "restore.h"
#include "common/keycodec.h"
#include "shard/fault.h"

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

/*
 * The digest of a table whose partitions do not track theirs (the restore did not check
 * expected states) is a scan of every row, which waits on a row miss per row: 0.5 s for
 * W1's 5.5M rows in one thread. Partitions are independent and a scan only reads, so
 * helper threads take partitions from a shared cursor beside the caller, one thread per
 * online CPU at most. A helper that cannot start leaves its share to the threads that
 * did, so the digest still cannot fail.
 */
#define MAX_DIGEST_HELPERS 63u

typedef struct digest_scan {
	const irs_restore *r;
	uint32_t table;
	atomic_uint next;        /* the next shard whose partition is to be scanned */
	_Atomic uint64_t sum;    /* wraps: digests add mod 2^64 */
} digest_scan;

static void digest_scan_share(digest_scan *ds)
{
	uint64_t sum = 0;
	uint32_t n = ds->r->pool.nshards, s;
	while ((s = atomic_fetch_add_explicit(&ds->next, 1, memory_order_relaxed)) < n) {
		const irs_table_part *p = ds->r->pool.shards[s].parts[ds->table];
		if (p)
			sum += irs__part_digest(p);
	}
	atomic_fetch_add_explicit(&ds->sum, sum, memory_order_relaxed);
}

static void *digest_scan_helper(void *arg)
{
	digest_scan_share(arg);
	return NULL;
}

/* O(shards) when the partitions track their digests (the restore checked expected
 * states), else a scan of every row (above). */
uint64_t irs_restore_digest(const irs_restore *r, uint32_t table)
{
	if (!table_ok(r, table))
		return 0;
	uint32_t scans = 0;
	for (uint32_t s = 0; s < r->pool.nshards; s++) {
		const irs_table_part *p = r->pool.shards[s].parts[table];
		scans += p && irs__part_digest_scans(p);
	}
	uint32_t cpus = irs__online_cpus(), threads = cpus < scans ? cpus : scans;
	uint32_t helpers = irs__fault_read_helpers(threads ? threads - 1 : 0);
	if (helpers > MAX_DIGEST_HELPERS)
		helpers = MAX_DIGEST_HELPERS;
	digest_scan ds = {.r = r, .table = table};
	atomic_init(&ds.next, 0);
	atomic_init(&ds.sum, 0);
	pthread_t th[MAX_DIGEST_HELPERS];
	uint32_t started = 0;
	while (started < helpers && !irs__fault_read_helper_start(started) &&
	       !pthread_create(&th[started], NULL, digest_scan_helper, &ds))
		started++;
	digest_scan_share(&ds);
	for (uint32_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	return atomic_load_explicit(&ds.sum, memory_order_relaxed);
}

/* Checks the key columns of key[] and encodes them into kbuf[0..cap). */
static int key_encode(const irs_schema_table *t, const irs_value *key, uint8_t *kbuf, size_t cap,
		      size_t *klen, irs_error *err)
{
	for (uint32_t k = 0; k < t->nkey; k++) {
		const irs_schema_column *col = &t->cols[t->key_cols[k]];
		const irs_value *v = &key[t->key_cols[k]];
		const char *why = v->state == IRS_VALUE_SET ? irs__value_check(col->type, v) : "not set";
		if (why)
			return irs__seterr(err, IRS_EINVAL, "key column %s: %s", col->name, why);
	}
	*klen = irs__key_encode(t, key, kbuf, cap);
	if (!*klen)
		return irs__seterr(err, IRS_EINVAL, "key longer than %u bytes", IRS_MAX_KEY_BYTES);
	return 0;
}

/* row[] from a found blob: the key columns are the caller's (the same values: keys are
 * equal exactly when their encodings are), the value columns point into the table.
 * Nothing is unescaped, so no scratch is written and readers share nothing. */
static void row_fill(const irs_schema_table *t, const irs_table_part *p, const uint8_t *blob,
		     const irs_value *key, irs_value *row)
{
	for (uint32_t k = 0; k < t->nkey; k++)
		row[t->key_cols[k]] = key[t->key_cols[k]];
	irs__part_row_value_cols(p, blob, row);
}

int irs_restore_get(const irs_restore *r, uint32_t table, const irs_value *key, irs_value *row,
		    irs_error *err)
{
	if (!table_ok(r, table) || !key || !row)
		return irs__seterr(err, IRS_EINVAL, "irs_restore_get: bad argument");
	const irs_schema_table *t = &r->c->tables[table];
	uint8_t kbuf[IRS_MAX_KEY_BYTES];
	size_t klen;
	int rc = key_encode(t, key, kbuf, sizeof kbuf, &klen, err);
	if (rc)
		return rc;
	uint64_t h = irs__key_hash(kbuf, klen);
	const irs_table_part *p = r->pool.shards[irs__shard_of(h, r->pool.nshards)].parts[table];
	const uint8_t *blob = p ? irs__part_get(p, kbuf, klen, h) : NULL;
	if (!blob)
		return irs__seterr(err, IRS_ENOTFOUND, "no row with that key in table %s", t->name);
	row_fill(t, p, blob, key, row);
	return 0;
}

/*
 * BATCH GET: keys go in groups of GET_GROUP. For a group, every key is encoded and
 * hashed and its home slot prefetched; then the group is probed, its rows prefetched,
 * and decoded. The misses of a group (slot, then row, 200-330 ns each here) overlap
 * instead of queueing, as the table's batched apply does (shard/table_impl.h, BATCHES).
 */
#define GET_GROUP 16

/* Room the encoding of key[]'s key columns may need (at most IRS_MAX_KEY_BYTES). */
static size_t key_bound(const irs_schema_table *t, const irs_value *key)
{
	size_t n = 0;
	for (uint32_t k = 0; k < t->nkey && n < IRS_MAX_KEY_BYTES; k++) {
		const irs_value *v = &key[t->key_cols[k]];
		size_t b = v->state == IRS_VALUE_SET ? irs__key_part_bound(t->cols[t->key_cols[k]].type, v) : 0;
		n += b < IRS_MAX_KEY_BYTES ? b : IRS_MAX_KEY_BYTES;
	}
	return n < IRS_MAX_KEY_BYTES ? n : IRS_MAX_KEY_BYTES;
}

typedef struct get_slot {
	const uint8_t *key;     /* the encoded key, in the call's key buffer */
	size_t klen;
	uint64_t hash;
	const irs_table_part *part;
	const uint8_t *blob;
} get_slot;

int irs_restore_get_batch(const irs_restore *r, uint32_t table, const irs_value *keys, size_t n,
			  irs_value *rows, uint8_t *found, irs_error *err)
{
	irs__errclear(err);
	if (!table_ok(r, table) || (n && (!keys || !rows)))
		return irs__seterr(err, IRS_EINVAL, "irs_restore_get_batch: bad argument");
	const irs_schema_table *t = &r->c->tables[table];
	irs_mem *mem = (irs_mem *)&r->mem;
	size_t cap = GET_GROUP * 64, used;
	uint8_t *kbuf = irs__malloc(mem, cap);
	if (!kbuf)
		return irs__seterr(err, irs__mem_over_limit(mem) ? IRS_ELIMIT : IRS_ENOMEM,
				   "out of memory reading table %s", t->name);
	int rc = 0;
	get_slot g[GET_GROUP];
	for (size_t base = 0; base < n && !rc; base += GET_GROUP) {
		size_t m = n - base < GET_GROUP ? n - base : GET_GROUP;
		used = 0;
		for (size_t i = 0; i < m && !rc; i++) {
			const irs_value *key = keys + (base + i) * t->ncols;
			size_t need = key_bound(t, key);
			if (cap - used < need) {
				size_t ncap = used + need > 2 * cap ? used + need : 2 * cap;
				uint8_t *nb = irs__realloc(mem, kbuf, cap, ncap);
				if (!nb) {
					rc = irs__seterr(err, irs__mem_over_limit(mem) ? IRS_ELIMIT : IRS_ENOMEM,
							 "out of memory reading table %s", t->name);
					break;
				}
				kbuf = nb;
				cap = ncap;
				for (size_t j = 0, off = 0; j < i; off += g[j].klen, j++)
					g[j].key = kbuf + off;
			}
			rc = key_encode(t, key, kbuf + used, cap - used, &g[i].klen, err);
			if (rc) {
				irs__errprefix(err, "key %zu", base + i);
				break;
			}
			g[i].key = kbuf + used;
			used += g[i].klen;
			g[i].hash = irs__key_hash(g[i].key, g[i].klen);
			g[i].part = r->pool.shards[irs__shard_of(g[i].hash, r->pool.nshards)].parts[table];
			if (g[i].part)
				irs__part_prefetch_slot(g[i].part, g[i].hash);
		}
		for (size_t i = 0; i < m && !rc; i++) {
			g[i].blob = g[i].part ? irs__part_get(g[i].part, g[i].key, g[i].klen, g[i].hash) : NULL;
			if (g[i].blob)
				__builtin_prefetch(g[i].blob);
		}
		for (size_t i = 0; i < m && !rc; i++) {
			irs_value *row = rows + (base + i) * t->ncols;
			if (found)
				found[base + i] = g[i].blob != NULL;
			if (g[i].blob) {
				row_fill(t, g[i].part, g[i].blob, keys + (base + i) * t->ncols, row);
			} else {
				for (uint32_t c = 0; c < t->ncols; c++)
					row[c].state = IRS_VALUE_ABSENT;
			}
		}
	}
	irs__free(mem, kbuf, cap);
	return rc;
}
