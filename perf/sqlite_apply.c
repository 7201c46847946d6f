/*
 * sqlite_apply.c: the SQLite contender of docs/design.md section 6. Reads a generated
 * collection with the library's reader and batch decoder (perf_walk.h, the same code
 * irs_naive_loop runs) and applies the chain, from the last full backup on, to the
 * in-memory SQLite database of `increstore verify`'s oracle (cli/sqlite_oracle.h):
 *
 *   - ":memory:", journal_mode=OFF, synchronous=OFF, one transaction per backup;
 *   - one STRICT table per collection table; a key of one integer column is the
 *     INTEGER PRIMARY KEY (the rowid), other keys a PRIMARY KEY of a WITHOUT ROWID
 *     table; values stored exactly (uint64 and double as their 64-bit patterns);
 *   - full rows are INSERTs; UPSERT = INSERT INTO t(key, listed columns) VALUES(...)
 *     ON CONFLICT(key) DO UPDATE SET each listed column = excluded.column (DO NOTHING
 *     when none is listed); ERASE = DELETE ... WHERE key = ?. Every statement is
 *     prepared once; UPSERTs are cached per table and set of listed columns (the
 *     record's "changed" bitmap) and reused.
 * So the contender timed here is the oracle that `verify` trusts, configured as
 * SQLite's users would tune it.
 *
 * Timed: from the first segment open to the last COMMIT (files in the page cache ->
 * tables complete): read + decode + irs__rec_decode + bind + step. Not timed: opening
 * the MANIFEST, creating the schema, the digest scan. Before the timed run a
 * read+decode-only pass is timed too and printed as decode_seconds (the part of the
 * end-to-end time that is not SQLite's).
 *
 *     irs_sqlite_apply DIR
 *
 * Prints {"engine": "sqlite", "seconds", "decode_seconds", "changes", "rows",
 * "digest"}: digest is the content digest of the first table (common/digest.h),
 * computed from a SELECT of every row, comparable with `restore --stats-json`.
 */
#include "perf_walk.h"
#include "sqlite_oracle.h"

typedef struct ctx {
	irs_oracle *o;
	irs_error err;
} ctx;

/* Prints the oracle's error; returns 1 (stops perf_walk). */
static int fail(ctx *x)
{
	fprintf(stderr, "%s\n", x->err.message);
	return 1;
}

static int on_begin(void *vc, uint32_t b, bool full)
{
	(void)b;
	ctx *x = vc;
	return irs_oracle_begin(x->o, full, &x->err) ? fail(x) : 0;
}

static int on_frame(void *vc, uint32_t t, const irs_rec *const *recs, size_t n)
{
	ctx *x = vc;
	for (size_t i = 0; i < n; i++)
		if (irs_oracle_apply(x->o, t, recs[i], &x->err))
			return fail(x);
	return 0;
}

static int on_end(void *vc, uint32_t b)
{
	(void)b;
	ctx *x = vc;
	return irs_oracle_commit(x->o, &x->err) ? fail(x) : 0;
}

typedef struct digest_ctx {
	const irs_schema_table *t;
	uint64_t digest, rows;
} digest_ctx;

static int add_row(void *vd, const irs_value *row)
{
	digest_ctx *d = vd;
	d->digest = irs__digest_add(d->digest, irs__row_digest(d->t, row));
	d->rows++;
	return 0;
}

int main(int argc, char **argv)
{
	irs_collection *col = perf_open(argc, argv, "irs_sqlite_apply DIR");
	double decode_s = perf_decode_only(col);

	ctx x = {0};
	if (irs_oracle_open(col, "sqlite", NULL, &x.o, &x.err)) {
		fail(&x);
		return 3;
	}
	perf_walk_cb cb = {.backup_begin = on_begin, .frame = on_frame, .backup_end = on_end, .ctx = &x};
	uint64_t changes;
	double t0 = perf_now();
	if (perf_walk(col, &cb, &changes))
		return 3;
	double secs = perf_now() - t0;

	uint64_t rows = 0, digest = 0;
	for (uint32_t t = 0; t < col->ntables; t++) {
		digest_ctx d = {.t = &col->tables[t]};
		if (irs_oracle_scan(x.o, t, add_row, &d, &x.err)) {
			fail(&x);
			return 3;
		}
		if (t == 0)
			digest = d.digest;
		rows += d.rows;
	}
	printf("{\"engine\": \"sqlite\", \"seconds\": %.6f, \"decode_seconds\": %.6f, \"changes\": %llu, "
	       "\"rows\": %llu, \"digest\": \"%016llx\", \"note\": \"in-memory, journal_mode=OFF, "
	       "synchronous=OFF, cached prepared upserts per listed-column set, one transaction per "
	       "backup; timed: read+decode+bind+step\"}\n",
	       secs, decode_s, (unsigned long long)changes, (unsigned long long)rows,
	       (unsigned long long)digest);
	irs_oracle_close(x.o);
	return 0;
}
