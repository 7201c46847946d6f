/*
 * rocksdb_apply.c: the RocksDB contender of docs/design.md section 6. Reads a generated
 * collection with the library's reader and batch decoder (perf_walk.h, the same code
 * irs_naive_loop runs) and applies the chain, from the last full backup on, to a
 * RocksDB database (C API, rocksdb/c.h):
 *
 *   - the database lives on tmpfs (/dev/shm, or DBDIR), WAL disabled
 *     (rocksdb_writeoptions_disable_WAL), no compression, increase_parallelism(2),
 *     otherwise default options (64 MiB memtables, background flush and compaction);
 *   - key = the record's encoded primary key (common/keycodec.h; prefixed with a
 *     2-byte table number when the collection has several tables); value = the row
 *     blob "NULL bitmap (B bytes) | every non-NULL value column in value order,
 *     encoded as in a change record";
 *   - an UPSERT listing every value column is a blind Put (the result does not
 *     depend on the old row); an UPSERT listing some columns is a read-modify-write:
 *     Get, merge the listed columns into the old row (or NULLs for a missing key),
 *     Put; an ERASE is a Delete. Writes go through one WriteBatch per frame (at most
 *     4096 changes); a backup holds each key at most once (verify checks it), so a
 *     Get never needs a write of its own frame.
 *
 * Timed: from the first segment open to the last write returning (files in the page
 * cache -> every change visible to reads), i.e. read + decode + merge + RocksDB. Not
 * timed: opening the MANIFEST and the database, the digest scan, closing (memtable
 * flush and compaction still pending are not waited for). decode_seconds is a
 * separate read+decode-only pass.
 *
 *     irs_rocksdb_apply DIR [DBDIR]
 *
 * Prints {"engine": "rocksdb", "seconds", "decode_seconds", "changes", "rows",
 * "digest", "rmw"}: rmw counts the partial updates done as read-modify-write.
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
	uint64_t rmw, missing;
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


static int on_frame(void *vc, uint32_t t, const irs_rec *const *recs, size_t n)
{
	ctx *x = vc;
	const irs_schema_table *T = &x->c->tables[t];
	size_t B = T->value_bitmap_bytes;
	rocksdb_writebatch_clear(x->wb);
	for (size_t i = 0; i < n; i++) {
		const irs_rec *r = recs[i];
		size_t klen = make_key(x, t, r);
		if (r->op == IRS_REC_ERASE) {
			rocksdb_writebatch_delete(x->wb, (const char *)x->key, klen);
			continue;
		}
		if (perf_lists_all(T, r)) { /* the row is the record's nulls bitmap and values, as they are */
			size_t vlen = perf_full_row(x->val, T, r);
			rocksdb_writebatch_put(x->wb, (const char *)x->key, klen, (const char *)x->val, vlen);
			continue;
		}
		char *err = NULL;
		x->rmw++;
		rocksdb_pinnableslice_t *ps = rocksdb_get_pinned(x->db, x->ro, (const char *)x->key, klen, &err);
		check(err, "get");
		size_t olen = 0;
		const uint8_t *old = ps ? (const uint8_t *)rocksdb_pinnableslice_value(ps, &olen) : NULL;
		if (!old)
			x->missing++;
		if (B + olen + r->size > x->val_cap) {
			x->val_cap = 2 * (B + olen + r->size);
			x->val = realloc(x->val, x->val_cap);
			if (!x->val)
				abort();
		}
		size_t vlen = perf_merge_row(x->val, T, r, old);
		rocksdb_writebatch_put(x->wb, (const char *)x->key, klen, (const char *)x->val, vlen);
		if (ps)
			rocksdb_pinnableslice_destroy(ps);
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

	rocksdb_options_t *opt = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(opt, 1);
	rocksdb_options_increase_parallelism(opt, 2);
	rocksdb_options_set_compression(opt, rocksdb_no_compression);
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

	uint64_t rows, digest = scan_digest(&x, &rows);
	printf("{\"engine\": \"rocksdb\", \"seconds\": %.6f, \"decode_seconds\": %.6f, \"changes\": %llu, "
	       "\"rows\": %llu, \"digest\": \"%016llx\", \"rmw\": %llu, \"note\": \"tmpfs, WAL off, no "
	       "compression, WriteBatch per frame; partial updates read-modify-write (Get, merge, Put), "
	       "full-row upserts blind Put; timed: read+decode+merge+write, no final flush\"}\n",
	       secs, decode_s, (unsigned long long)changes, (unsigned long long)rows,
	       (unsigned long long)digest, (unsigned long long)x.rmw);
	rocksdb_writebatch_destroy(x.wb);
	rocksdb_close(x.db);
	err = NULL;
	rocksdb_destroy_db(opt, dbdir, &err);
	free(err);
	rocksdb_options_destroy(opt);
	return 0;
}
