/*
 * lmdb_apply.c: an LMDB contender (optional in docs/design.md section 6). Reads a generated
 * collection with the library's reader and batch decoder (perf_walk.h) and applies
 * the chain, from the last full backup on, to an LMDB environment on tmpfs
 * (/dev/shm, or DBDIR):
 *
 *   - MDB_NOSYNC | MDB_NOMETASYNC | MDB_WRITEMAP (no fsync; writes go straight into
 *     the shared mapping), one write transaction per backup, one database per table;
 *   - key = the record's encoded primary key (common/keycodec.h); value = the row blob
 *     "NULL bitmap | non-NULL values in value order, encoded as in a change record"
 *     (the same as irs_rocksdb_apply);
 *   - an UPSERT listing every value column is a blind mdb_put; a partial one is a
 *     read-modify-write (mdb_get, merge, mdb_put); an ERASE is mdb_del (a missing key
 *     is ignored).
 *
 * Timed: first segment open to the last commit (read + decode + merge + LMDB). Not
 * timed: opening, the digest scan. decode_seconds is a separate read+decode-only pass.
 *
 *     irs_lmdb_apply DIR [DBDIR]
 */
#include <lmdb.h>
#include <sys/stat.h>

#include "perf_kv.h"

typedef struct ctx {
	irs_collection *c;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi *dbi;
	uint8_t *val, *scratch;
	size_t val_cap;
	uint64_t rmw;
} ctx;

static void check(int rc, const char *what)
{
	if (rc) {
		fprintf(stderr, "lmdb: %s: %s\n", what, mdb_strerror(rc));
		exit(3);
	}
}


static int on_begin(void *vc, uint32_t b, bool full)
{
	(void)b, (void)full;
	ctx *x = vc;
	check(mdb_txn_begin(x->env, NULL, 0, &x->txn), "txn_begin");
	return 0;
}

static int on_end(void *vc, uint32_t b)
{
	(void)b;
	ctx *x = vc;
	check(mdb_txn_commit(x->txn), "commit");
	x->txn = NULL;
	return 0;
}

static int on_frame(void *vc, uint32_t t, const irs_rec *const *recs, size_t n)
{
	ctx *x = vc;
	const irs_schema_table *T = &x->c->tables[t];
	size_t B = T->value_bitmap_bytes;
	for (size_t i = 0; i < n; i++) {
		const irs_rec *r = recs[i];
		MDB_val k = {r->key_len, (void *)irs__rec_key(r)}, v;
		if (r->op == IRS_REC_ERASE) {
			int rc = mdb_del(x->txn, x->dbi[t], &k, NULL);
			if (rc != MDB_NOTFOUND)
				check(rc, "del");
			continue;
		}
		if (B + 2 * (size_t)r->size > x->val_cap) {
			x->val_cap = 2 * (B + 2 * (size_t)r->size);
			x->val = realloc(x->val, x->val_cap);
			if (!x->val)
				abort();
		}
		if (perf_lists_all(T, r)) {
			v.mv_size = perf_full_row(x->val, T, r);
		} else {
			x->rmw++;
			MDB_val old;
			int rc = mdb_get(x->txn, x->dbi[t], &k, &old);
			if (rc != MDB_NOTFOUND)
				check(rc, "get");
			if (rc == 0 && B + old.mv_size + r->size > x->val_cap) {
				x->val_cap = 2 * (B + old.mv_size + r->size);
				x->val = realloc(x->val, x->val_cap);
				if (!x->val)
					abort();
			}
			v.mv_size = perf_merge_row(x->val, T, r, rc == 0 ? old.mv_data : NULL);
		}
		v.mv_data = x->val;
		check(mdb_put(x->txn, x->dbi[t], &k, &v, 0), "put");
	}
	return 0;
}

static uint64_t scan(ctx *x, uint32_t t, uint64_t *rows)
{
	const irs_schema_table *T = &x->c->tables[t];
	irs_value *row = calloc(T->ncols, sizeof *row);
	MDB_txn *txn;
	MDB_cursor *cur;
	check(mdb_txn_begin(x->env, NULL, MDB_RDONLY, &txn), "txn_begin");
	check(mdb_cursor_open(txn, x->dbi[t], &cur), "cursor");
	MDB_val k, v;
	uint64_t d = 0;
	*rows = 0;
	for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		(*rows)++;
		perf_kv_row(T, k.mv_data, k.mv_size, v.mv_data, row, x->scratch);
		d = irs__digest_add(d, irs__row_digest(T, row));
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	free(row);
	return d;
}

int main(int argc, char **argv)
{
	char dir[4096], path[4200];
	perf_db_dir(&argc, argv, "lmdb", dir, sizeof dir);
	irs_collection *c = perf_open(argc, argv, "irs_lmdb_apply DIR [DBDIR]");
	double decode_s = perf_decode_only(c);
	if (mkdir(dir, 0700) && access(dir, W_OK)) {
		perror(dir);
		return 3;
	}
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	unlink(path);
	ctx x = {.c = c};
	check(mdb_env_create(&x.env), "env_create");
	check(mdb_env_set_mapsize(x.env, (size_t)64 << 30), "mapsize");
	check(mdb_env_set_maxdbs(x.env, c->ntables + 1), "maxdbs");
	check(mdb_env_open(x.env, dir, MDB_NOSYNC | MDB_NOMETASYNC | MDB_WRITEMAP | MDB_NOTLS, 0600), "open");
	x.dbi = calloc(c->ntables, sizeof *x.dbi);
	MDB_txn *txn;
	check(mdb_txn_begin(x.env, NULL, 0, &txn), "txn_begin");
	for (uint32_t t = 0; t < c->ntables; t++)
		check(mdb_dbi_open(txn, c->tables[t].name, MDB_CREATE, &x.dbi[t]), "dbi_open");
	check(mdb_txn_commit(txn), "commit");
	x.val_cap = 1 << 20;
	x.val = malloc(x.val_cap);
	x.scratch = malloc(IRS_MAX_KEY_BYTES + 1);

	perf_walk_cb cb = {.backup_begin = on_begin, .frame = on_frame, .backup_end = on_end, .ctx = &x};
	uint64_t changes;
	double t0 = perf_now();
	if (perf_walk(c, &cb, &changes))
		return 3;
	double secs = perf_now() - t0;

	uint64_t rows = 0, digest = 0;
	for (uint32_t t = 0; t < c->ntables; t++) {
		uint64_t n, d = scan(&x, t, &n);
		if (t == 0)
			digest = d;
		rows += n;
	}
	printf("{\"engine\": \"lmdb\", \"seconds\": %.6f, \"decode_seconds\": %.6f, \"changes\": %llu, "
	       "\"rows\": %llu, \"digest\": \"%016llx\", \"rmw\": %llu, \"note\": \"tmpfs, NOSYNC+WRITEMAP, "
	       "one write transaction per backup; partial updates read-modify-write (get, merge, put), "
	       "full-row upserts blind put; timed: read+decode+merge+write+commit\"}\n",
	       secs, decode_s, (unsigned long long)changes, (unsigned long long)rows,
	       (unsigned long long)digest, (unsigned long long)x.rmw);
	mdb_env_close(x.env);
	unlink(path);
	snprintf(path, sizeof path, "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
	return 0;
}
