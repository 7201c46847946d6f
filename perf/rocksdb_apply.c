/*
 * rocksdb_apply.c: the RocksDB contender of docs/design.md section 6, configured as
 * RocksDB's users would configure it for this job. Reads a generated collection with
 * the library's reader and batch decoder (perf_walk.h, the same code irs_naive_loop
 * runs) and applies the chain, from the last full backup on, to a RocksDB database
 * (C API, rocksdb/c.h):
 *
 *   - the database lives on tmpfs (/dev/shm, or DBDIR); WAL disabled
 *     (rocksdb_writeoptions_disable_WAL); no compression at any level;
 *     rocksdb_options_increase_parallelism(nproc) and max_background_jobs = nproc
 *     (flushes and compactions on every core); optimize_level_style_compaction with a
 *     512 MiB memtable budget (128 MiB memtables): IncreaseParallelism plus
 *     OptimizeLevelStyleCompaction is the starting point RocksDB's own documentation
 *     gives; a block-based table with a 10 bits/key bloom filter; the default
 *     skiplist memtable (a vector memtable appends in a fraction of the time but only
 *     sorts when read or flushed: on W0 the timed part fell from about 10 s to 1 s
 *     and the scan after it grew from 1 s to 8 s, i.e. it moves the work out of the
 *     timer);
 *   - key = the record's encoded primary key (common/keycodec.h; prefixed with a
 *     2-byte table number when the collection has several tables); value = the row
 *     blob "NULL bitmap (B bytes) | every non-NULL value column in value order,
 *     encoded as in a change record" (perf_kv.h);
 *   - an UPSERT listing every value column is a blind Put; an UPSERT listing some
 *     columns is a Merge of the listed columns (perf_operand) that the merge operator
 *     below folds into the row: no read while writing; an ERASE is a Delete. Writes
 *     go through one WriteBatch per frame (at most 4096 changes), one writer thread.
 *
 * MERGE OPERATOR: full merge = the stored row (none after a Delete or for a new key:
 * every column NULL) with each operand's listed columns replaced, in order
 * (perf_apply_operand); partial merge = operands folded pairwise into one that lists
 * the union of their columns, the later winning (perf_fold_operands). Both allocate
 * their result with malloc; RocksDB frees it through delete_value.
 *
 * Timed: from the first segment open to the last write returning (files in the page
 * cache -> every change visible to reads), i.e. read + decode + RocksDB. Not timed:
 * opening the MANIFEST and the database, the digest scan (an iterator, which applies
 * the merge operands still pending: printed as scan_seconds), closing (memtable flush
 * and compaction still pending are not waited for). decode_seconds is a separate
 * read+decode-only pass.
 *
 *     irs_rocksdb_apply DIR [DBDIR]
 *
 * Prints {"engine": "rocksdb", "seconds", "decode_seconds", "scan_seconds", "changes",
 * "rows", "digest", "merges", "note"}: merges counts the partial updates written as
 * Merge.
 */
#include <rocksdb/c.h>

#include "perf_kv.h"

typedef struct ctx {
	irs_collection *c;
	rocksdb_t *db;
	rocksdb_writeoptions_t *wo;
	rocksdb_readoptions_t *ro;
	rocksdb_writebatch_t *wb;
	uint8_t *key, *val, *scratch;
	size_t val_cap;
	uint64_t merges;
} ctx;

static void check(char *err, const char *what)
{
	if (err) {
		fprintf(stderr, "rocksdb: %s: %s\n", what, err);
		exit(3);
	}
}

static size_t make_key(const ctx *x, uint32_t t, const irs_rec *r)
{
	size_t n = 0;
	if (x->c->ntables > 1) {
		x->key[0] = (uint8_t)(t >> 8);
		x->key[1] = (uint8_t)t;
		n = 2;
	}
	memcpy(x->key + n, irs__rec_key(r), r->key_len);
	return n + r->key_len;
}


/* ---------------------------------------------------------------- merge operator */

/* The table a stored key belongs to (the 2-byte prefix when there are several). */
static const irs_schema_table *key_table(const irs_collection *c, const char *key, size_t klen)
{
	uint32_t t = 0;
	if (c->ntables > 1 && klen >= 2)
		t = (uint32_t)(uint8_t)key[0] << 8 | (uint8_t)key[1];
	return t < c->ntables ? &c->tables[t] : NULL;
}

static char *full_merge(void *state, const char *key, size_t klen, const char *existing, size_t elen,
			const char *const *ops, const size_t *olens, int nops, unsigned char *success,
			size_t *out_len)
{
	const irs_schema_table *T = key_table(state, key, klen);
	size_t B = T ? T->value_bitmap_bytes : 0, cap = B + elen;
	for (int i = 0; i < nops; i++)
		cap += olens[i];
	/* each step reads one buffer and writes the other; the row never outgrows cap */
	uint8_t *buf[2] = {malloc(cap), malloc(cap)};
	if (!T || !buf[0] || !buf[1]) {
		free(buf[0]);
		free(buf[1]);
		*success = 0;
		return NULL;
	}
	const uint8_t *row = (const uint8_t *)existing; /* NULL: no row (every column NULL) */
	size_t len = elen;
	for (int i = 0; i < nops; i++) {
		const uint8_t *op = (const uint8_t *)ops[i];
		uint8_t *out = buf[i & 1];
		len = perf_apply_operand(out, T, op, op + B, op + 2 * B, row);
		row = out;
	}
	uint8_t *keep = nops ? buf[(nops - 1) & 1] : buf[0];
	if (!nops) /* not called so by RocksDB; kept exact anyway */
		memcpy(keep, existing, elen);
	free(keep == buf[0] ? buf[1] : buf[0]);
	*success = 1;
	*out_len = len;
	return (char *)keep;
}

static char *partial_merge(void *state, const char *key, size_t klen, const char *const *ops,
			   const size_t *olens, int nops, unsigned char *success, size_t *out_len)
{
	const irs_schema_table *T = key_table(state, key, klen);
	size_t cap = 0;
	for (int i = 0; i < nops; i++)
		cap += olens[i];
	uint8_t *buf[2] = {malloc(cap), malloc(cap)};
	if (!T || !nops || !buf[0] || !buf[1]) {
		free(buf[0]);
		free(buf[1]);
		*success = 0;
		return NULL;
	}
	memcpy(buf[0], ops[0], olens[0]);
	size_t len = olens[0];
	for (int i = 1; i < nops; i++) /* buf[(i-1)&1] holds the fold so far */
		len = perf_fold_operands(buf[i & 1], T, buf[(i - 1) & 1], (const uint8_t *)ops[i]);
	uint8_t *keep = buf[(nops - 1) & 1];
	free(keep == buf[0] ? buf[1] : buf[0]);
	*success = 1;
	*out_len = len;
	return (char *)keep;
}

static void delete_value(void *state, const char *value, size_t len)
{
	(void)state, (void)len;
	free((void *)value);
}

static void no_destructor(void *state)
{
	(void)state;
}

static const char *merge_name(void *state)
{
	(void)state;
	return "irs_row_columns";
}

static int on_frame(void *vc, uint32_t t, const irs_rec *const *recs, size_t n)
{
	ctx *x = vc;
	const irs_schema_table *T = &x->c->tables[t];
	rocksdb_writebatch_clear(x->wb);
	for (size_t i = 0; i < n; i++) {
		const irs_rec *r = recs[i];
		size_t klen = make_key(x, t, r);
		if (r->op == IRS_REC_ERASE) {
			rocksdb_writebatch_delete(x->wb, (const char *)x->key, klen);
		} else if (perf_lists_all(T, r)) { /* the row is the record's nulls bitmap and values */
			if (r->size > x->val_cap) { /* the row is shorter than its record */
				x->val_cap = 2 * (size_t)r->size;
				x->val = realloc(x->val, x->val_cap);
				if (!x->val)
					abort();
			}
			size_t vlen = perf_full_row(x->val, T, r);
			rocksdb_writebatch_put(x->wb, (const char *)x->key, klen, (const char *)x->val, vlen);
		} else {
			size_t olen;
			const uint8_t *op = perf_operand(r, &olen);
			rocksdb_writebatch_merge(x->wb, (const char *)x->key, klen, (const char *)op, olen);
			x->merges++;
		}
	}
	char *err = NULL;
	rocksdb_write(x->db, x->wo, x->wb, &err);
	check(err, "write");
	return 0;
}

/* Content digest of table 0 and the rows of every table, from a full scan. */
static uint64_t scan_digest(ctx *x, uint64_t *rows)
{
	uint32_t maxc = 0;
	for (uint32_t t = 0; t < x->c->ntables; t++)
		maxc = x->c->tables[t].ncols > maxc ? x->c->tables[t].ncols : maxc;
	irs_value *row = calloc(maxc, sizeof *row);
	rocksdb_iterator_t *it = rocksdb_create_iterator(x->db, x->ro);
	uint64_t d = 0;
	*rows = 0;
	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &klen);
		const uint8_t *v = (const uint8_t *)rocksdb_iter_value(it, &vlen);
		uint32_t t = 0;
		if (x->c->ntables > 1) {
			t = (uint32_t)k[0] << 8 | k[1];
			k += 2;
			klen -= 2;
		}
		(*rows)++;
		if (t != 0)
			continue;
		const irs_schema_table *T = &x->c->tables[t];
		perf_kv_row(T, k, klen, v, row, x->scratch);
		d = irs__digest_add(d, irs__row_digest(T, row));
	}
	char *err = NULL;
	rocksdb_iter_get_error(it, &err);
	check(err, "iterate");
	rocksdb_iter_destroy(it);
	free(row);
	return d;
}

int main(int argc, char **argv)
{
	char dbdir[4096];
	perf_db_dir(&argc, argv, "rocksdb", dbdir, sizeof dbdir);
	irs_collection *c = perf_open(argc, argv, "irs_rocksdb_apply DIR [DBDIR]");
	double decode_s = perf_decode_only(c);

	int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
	rocksdb_options_t *opt = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(opt, 1);
	rocksdb_options_increase_parallelism(opt, cores);
	rocksdb_options_optimize_level_style_compaction(opt, (uint64_t)512 << 20);
	rocksdb_options_set_max_background_jobs(opt, cores);
	/* optimize_level_style_compaction compresses the lower levels: none anywhere */
	int levels = rocksdb_options_get_num_levels(opt);
	int *none = calloc((size_t)levels, sizeof *none);
	for (int i = 0; i < levels; i++)
		none[i] = rocksdb_no_compression;
	rocksdb_options_set_compression_per_level(opt, none, (size_t)levels);
	free(none);
	rocksdb_options_set_compression(opt, rocksdb_no_compression);
	rocksdb_block_based_table_options_t *bbo = rocksdb_block_based_options_create();
	rocksdb_block_based_options_set_filter_policy(bbo, rocksdb_filterpolicy_create_bloom(10));
	rocksdb_options_set_block_based_table_factory(opt, bbo);
	rocksdb_mergeoperator_t *mo = rocksdb_mergeoperator_create(c, no_destructor, full_merge, partial_merge,
								     delete_value, merge_name);
	rocksdb_options_set_merge_operator(opt, mo);
	char *err = NULL;
	rocksdb_destroy_db(opt, dbdir, &err);
	free(err);
	err = NULL;
	ctx x = {.c = c};
	x.db = rocksdb_open(opt, dbdir, &err);
	check(err, "open");
	x.wo = rocksdb_writeoptions_create();
	rocksdb_writeoptions_disable_WAL(x.wo, 1);
	x.ro = rocksdb_readoptions_create();
	rocksdb_readoptions_set_verify_checksums(x.ro, 0);
	x.wb = rocksdb_writebatch_create();
	x.key = malloc(IRS_MAX_KEY_BYTES + 2);
	x.scratch = malloc(IRS_MAX_KEY_BYTES + 1);
	x.val_cap = 1 << 20;
	x.val = malloc(x.val_cap);

	perf_walk_cb cb = {.frame = on_frame, .ctx = &x};
	uint64_t changes;
	double t0 = perf_now();
	if (perf_walk(c, &cb, &changes))
		return 3;
	double secs = perf_now() - t0;

	uint64_t rows;
	double s0 = perf_now();
	uint64_t digest = scan_digest(&x, &rows);
	double scan_s = perf_now() - s0;
	printf("{\"engine\": \"rocksdb\", \"seconds\": %.6f, \"decode_seconds\": %.6f, \"scan_seconds\": %.6f, "
	       "\"changes\": %llu, \"rows\": %llu, \"digest\": \"%016llx\", \"merges\": %llu, \"note\": \"tmpfs, "
	       "WAL off, no compression, increase_parallelism(%d) and max_background_jobs=%d, "
	       "optimize_level_style_compaction(512 MiB), bloom filter 10 bits/key, a WriteBatch per frame "
	       "from one writer thread; partial updates are Merge operands folded by a merge operator "
	       "(full and partial merge), full-row upserts blind Put, erases Delete; timed: read+decode+"
	       "write, no final flush or compaction\"}\n",
	       secs, decode_s, scan_s, (unsigned long long)changes, (unsigned long long)rows,
	       (unsigned long long)digest, (unsigned long long)x.merges, cores, cores);
	rocksdb_writebatch_destroy(x.wb);
	rocksdb_close(x.db);
	err = NULL;
	rocksdb_destroy_db(opt, dbdir, &err);
	free(err);
	rocksdb_options_destroy(opt);
	rocksdb_block_based_options_destroy(bbo);
	return 0;
}
