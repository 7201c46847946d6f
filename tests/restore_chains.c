/*
 * restore_chains.c: random backup chains with a SQLite oracle, shared by the restore
 * tests (test_restore.c, test_restore_faults.c). restore_chains.h says what each
 * helper does.
 *
 * A chain is written with the backup writer and, independently, applied into SQLite
 * with plain SQL (INSERT ... ON CONFLICT DO UPDATE of the listed columns; DELETE).
 * After each backup the oracle's tables are snapshotted as s<b>_<table>, so a restore
 * can be compared with any backup's state row for row, column for column.
 */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/digest.h"
#include "engine/restore.h"
#include "format/collection.h"
#include "restore_chains.h"
#include "test_util.h"

/* ------------------------------------------------------------------ random chains */


static const irs_type all_types[] = {IRS_TYPE_BOOL,   IRS_TYPE_INT32,  IRS_TYPE_INT64,
				     IRS_TYPE_UINT32, IRS_TYPE_UINT64, IRS_TYPE_DOUBLE,
				     IRS_TYPE_UTF8,   IRS_TYPE_BYTES,  IRS_TYPE_TIMESTAMP};

static uint64_t rnd(chain *ch, uint64_t n)
{
	return tu_rand_below(&ch->rng, n);
}

/* A value of type ty for column c; `id` picks key values (deterministic per id). */
static irs_value gen_value(chain *ch, uint32_t c, irs_type ty, bool key, uint64_t id)
{
	uint64_t x = key ? id * 0x9E3779B97F4A7C15ull : tu_rand(&ch->rng);
	if (!key && rnd(ch, 8) == 0) {
		/* edge values */
		switch (ty) {
		case IRS_TYPE_INT32: return tu_i64(rnd(ch, 2) ? INT32_MIN : INT32_MAX);
		case IRS_TYPE_INT64:
		case IRS_TYPE_TIMESTAMP: return tu_i64(rnd(ch, 2) ? INT64_MIN : INT64_MAX);
		case IRS_TYPE_UINT32: return tu_u64(UINT32_MAX);
		case IRS_TYPE_UINT64: return tu_u64(UINT64_MAX);
		case IRS_TYPE_DOUBLE: return tu_dbl(rnd(ch, 2) ? INFINITY : -1e-310);
		case IRS_TYPE_UTF8:
		case IRS_TYPE_BYTES: return tu_bytes("", 0);
		default: break;
		}
	}
	switch (ty) {
	case IRS_TYPE_BOOL: return tu_bool(key ? (int)(id & 1) : (int)(x & 1));
	case IRS_TYPE_INT32: return tu_i64(key ? (int32_t)(id * 7919) - 5000 : (int32_t)x);
	case IRS_TYPE_INT64: return tu_i64(key ? (int64_t)id * -1000003 : (int64_t)x);
	case IRS_TYPE_UINT32: return tu_u64(key ? id * 3 : (uint32_t)x);
	case IRS_TYPE_UINT64: return tu_u64(key ? UINT64_MAX - id * 12345 : x);
	case IRS_TYPE_TIMESTAMP: return tu_i64(key ? (int64_t)id * 1000000 - 86400000000 : (int64_t)(x >> 8));
	case IRS_TYPE_DOUBLE: {
		double d = key ? (double)id * 1.5 - 20 : (double)(int64_t)x / 1e6;
		return tu_dbl(d == 0 ? 0.0 : d); /* no -0.0: SQLite does not keep its sign */
	}
	case IRS_TYPE_UTF8:
	case IRS_TYPE_BYTES: {
		char *s = ch->strbuf[c];
		int n = key ? snprintf(s, 48, "k%llu", (unsigned long long)id)
			    : snprintf(s, 48, "v%llx", (unsigned long long)(x % 100000));
		if (ty == IRS_TYPE_BYTES && !key && (x & 4)) {
			s[0] = '\0'; /* an embedded zero byte */
		}
		if (ty == IRS_TYPE_UTF8 && !key && (x & 8))
			n = snprintf(s, 48, "\xc3\xa9t\xc3\xa9 %u", (unsigned)(x % 97));
		return tu_bytes(s, (size_t)n);
	}
	}
	return tu_null();
}

static void make_schema(chain *ch)
{
	ch->ntables = 1 + (uint32_t)rnd(ch, MAX_T);
	for (uint32_t i = 0; i < ch->ntables; i++) {
		gen_table *g = &ch->t[i];
		snprintf(g->name, sizeof g->name, "t%u", i);
		uint32_t ncols = 1 + (uint32_t)rnd(ch, MAX_C);
		uint32_t nkey = 1 + (uint32_t)rnd(ch, ncols < 3 ? ncols : 3);
		for (uint32_t c = 0; c < ncols; c++) {
			snprintf(g->colnames[c], 16, "c%u", c);
			irs_type ty = all_types[rnd(ch, 9)];
			if (c < nkey && ty == IRS_TYPE_DOUBLE)
				ty = IRS_TYPE_INT64; /* SQLite merges -0.0 and 0.0 keys */
			if (c < nkey && ty == IRS_TYPE_BOOL && nkey == 1)
				ty = IRS_TYPE_UINT32; /* a bool alone makes a 2-row table */
			g->cols[c].name = g->colnames[c];
			g->cols[c].type = ty;
		}
		/* the key is the first nkey columns, in reverse order (key order != schema order) */
		for (uint32_t k = 0; k < nkey; k++)
			g->pk[k] = nkey - 1 - k;
		g->def.name = g->name;
		g->def.columns = g->cols;
		g->def.column_count = ncols;
		g->def.primary_key = g->pk;
		g->def.primary_key_count = nkey;
	}
}

static const char *sql_type(irs_type t)
{
	switch (t) {
	case IRS_TYPE_DOUBLE: return "REAL";
	case IRS_TYPE_UTF8: return "TEXT";
	case IRS_TYPE_BYTES: return "BLOB";
	default: return "INTEGER"; /* uint64 as its int64 bit pattern */
	}
}

static void sql(sqlite3 *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sql(sqlite3 *db, const char *fmt, ...)
{
	char q[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q, sizeof q, fmt, ap);
	va_end(ap);
	char *msg = NULL;
	if (sqlite3_exec(db, q, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "SQL error: %s\n  in: %s\n", msg, q);
		sqlite3_free(msg);
		fail();
	}
}

static void bind(sqlite3_stmt *st, int i, irs_type ty, const irs_value *v)
{
	if (v->state != IRS_VALUE_SET) {
		sqlite3_bind_null(st, i);
		return;
	}
	switch (ty) {
	case IRS_TYPE_BOOL: sqlite3_bind_int(st, i, v->v.b); break;
	case IRS_TYPE_UINT32:
	case IRS_TYPE_UINT64: sqlite3_bind_int64(st, i, (sqlite3_int64)v->v.u64); break;
	case IRS_TYPE_DOUBLE: sqlite3_bind_double(st, i, v->v.d); break;
	case IRS_TYPE_UTF8: sqlite3_bind_text(st, i, v->v.s.ptr, (int)v->v.s.len, SQLITE_TRANSIENT); break;
	case IRS_TYPE_BYTES: sqlite3_bind_blob(st, i, v->v.s.len ? v->v.s.ptr : "", (int)v->v.s.len, SQLITE_TRANSIENT); break;
	default: sqlite3_bind_int64(st, i, v->v.i64); break;
	}
}

/* The oracle's apply of one change: plain SQL, nothing shared with the engine. */
static void oracle_apply(chain *ch, uint32_t ti, bool erase, const irs_value *row)
{
	gen_table *g = &ch->t[ti];
	char q[2048];
	size_t n = 0;
	sqlite3_stmt *st;
	if (erase) {
		n += (size_t)snprintf(q + n, sizeof q - n, "DELETE FROM %s WHERE ", g->name);
		for (uint32_t k = 0; k < g->def.primary_key_count; k++)
			n += (size_t)snprintf(q + n, sizeof q - n, "%sc%u IS ?", k ? " AND " : "", g->pk[k]);
		assert_int_equal(sqlite3_prepare_v2(ch->db, q, -1, &st, NULL), SQLITE_OK);
		for (uint32_t k = 0; k < g->def.primary_key_count; k++)
			bind(st, (int)k + 1, g->cols[g->pk[k]].type, &row[g->pk[k]]);
	} else {
		uint32_t listed[MAX_C], nl = 0;
		for (uint32_t c = 0; c < g->def.column_count; c++)
			if (row[c].state != IRS_VALUE_ABSENT)
				listed[nl++] = c;
		n += (size_t)snprintf(q + n, sizeof q - n, "INSERT INTO %s (", g->name);
		for (uint32_t i = 0; i < nl; i++)
			n += (size_t)snprintf(q + n, sizeof q - n, "%sc%u", i ? "," : "", listed[i]);
		n += (size_t)snprintf(q + n, sizeof q - n, ") VALUES (");
		for (uint32_t i = 0; i < nl; i++)
			n += (size_t)snprintf(q + n, sizeof q - n, "%s?", i ? "," : "");
		n += (size_t)snprintf(q + n, sizeof q - n, ") ON CONFLICT DO ");
		uint32_t nset = 0;
		for (uint32_t i = 0; i < nl; i++) {
			bool is_key = false;
			for (uint32_t k = 0; k < g->def.primary_key_count; k++)
				is_key |= g->pk[k] == listed[i];
			if (is_key)
				continue;
			n += (size_t)snprintf(q + n, sizeof q - n, "%sc%u=excluded.c%u", nset++ ? "," : "UPDATE SET ",
					      listed[i], listed[i]);
		}
		if (!nset)
			n += (size_t)snprintf(q + n, sizeof q - n, "NOTHING");
		assert_int_equal(sqlite3_prepare_v2(ch->db, q, -1, &st, NULL), SQLITE_OK);
		for (uint32_t i = 0; i < nl; i++)
			bind(st, (int)i + 1, g->cols[listed[i]].type, &row[listed[i]]);
	}
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* The oracle's row count and content digest of table ti: each SQLite row read back as
 * irs_value and digested by the definition (common/digest.h). */
static void oracle_state(chain *ch, uint32_t ti, uint64_t *rows, uint64_t *digest)
{
	gen_table *g = &ch->t[ti];
	char q[256];
	snprintf(q, sizeof q, "SELECT * FROM %s", g->name);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(ch->db, q, -1, &st, NULL), SQLITE_OK);
	*rows = 0;
	*digest = 0;
	irs_type types[MAX_C];
	for (uint32_t c = 0; c < g->def.column_count; c++)
		types[c] = g->cols[c].type;
	irs_schema_table *t = tu_schema_new(types, g->def.column_count, g->pk, g->def.primary_key_count);
	assert_non_null(t);
	while (sqlite3_step(st) == SQLITE_ROW) {
		irs_value v[MAX_C];
		for (uint32_t c = 0; c < g->def.column_count; c++) {
			int i = (int)c;
			if (sqlite3_column_type(st, i) == SQLITE_NULL) {
				v[c] = tu_null();
				continue;
			}
			switch (g->cols[c].type) {
			case IRS_TYPE_BOOL: v[c] = tu_bool(sqlite3_column_int(st, i)); break;
			case IRS_TYPE_UINT32:
			case IRS_TYPE_UINT64: v[c] = tu_u64((uint64_t)sqlite3_column_int64(st, i)); break;
			case IRS_TYPE_DOUBLE: v[c] = tu_dbl(sqlite3_column_double(st, i)); break;
			case IRS_TYPE_UTF8:
				v[c] = tu_bytes(sqlite3_column_text(st, i), (size_t)sqlite3_column_bytes(st, i));
				break;
			case IRS_TYPE_BYTES:
				v[c] = tu_bytes(sqlite3_column_blob(st, i), (size_t)sqlite3_column_bytes(st, i));
				break;
			default: v[c] = tu_i64(sqlite3_column_int64(st, i)); break;
			}
		}
		*digest = irs__digest_add(*digest, irs__row_digest(t, v));
		(*rows)++;
	}
	sqlite3_finalize(st);
	tu_schema_free(t);
}

/* Changes to a key already changed in the same incremental, over all chains made: the
 * writer collapses them in order (docs/design.md section 1) while SQLite applies each
 * one, so the collapsing rules are compared with plain SQL. */
uint64_t chain_repeated_changes;

/* One random change of table t to key id: a row of a full backup, or an upsert of
 * some columns (NULLs among them) or an erase; written and applied to the oracle. */
static void gen_change(chain *ch, irs_backup_writer *w, uint32_t t, uint64_t id, bool full,
		       uint64_t tag)
{
	gen_table *g = &ch->t[t];
	irs_value row[MAX_C];
	irs_error err;
	for (uint32_t col = 0; col < g->def.column_count; col++) {
		bool key = col < g->def.primary_key_count;
		row[col] = gen_value(ch, col, g->cols[col].type, key, id);
	}
	bool erase = !full && rnd(ch, 4) == 0;
	if (!erase) {
		for (uint32_t col = g->def.primary_key_count; col < g->def.column_count; col++) {
			uint64_t r = rnd(ch, 10);
			if (r == 0)
				row[col] = tu_null();
			else if (!full && r < 4)
				row[col] = tu_absent();
		}
	}
	if (erase)
		assert_int_equal(irs_backup_writer_erase(w, t, row, tag, &err), 0);
	else
		assert_int_equal(irs_backup_writer_upsert(w, t, row, tag, &err), 0);
	oracle_apply(ch, t, erase, row);
}

/* Writes one backup of random changes, and applies it to the oracle. A full backup's
 * keys are distinct; an incremental also changes some keys again, up to 3 times. */
static void gen_backup(chain *ch, uint32_t b, bool full)
{
	irs_collection *c;
	irs_error err;
	assert_int_equal(irs_collection_open(ch->dir, NULL, 0, &c, &err), 0);
	irs_writer_options wo;
	irs_writer_options_init(&wo, IRS_WRITER_OPTIONS_VERSION);
	wo.batch_rows = 1 + (uint32_t)rnd(ch, 17);
	wo.segment_bytes = 512 + rnd(ch, 4096);
	wo.no_sync = 1; /* scratch collections: fsync would dominate the run time */
	wo.collapse_duplicates = !full;
	irs_backup_writer *w;
	char name[32];
	snprintf(name, sizeof name, "b%02u", b);
	assert_int_equal(irs_backup_writer_begin(c, full ? IRS_BACKUP_FULL : IRS_BACKUP_INCREMENTAL, name,
						 &wo, &w, &err),
			 0);
	sql(ch->db, "BEGIN");
	if (full)
		for (uint32_t t = 0; t < ch->ntables; t++)
			sql(ch->db, "DELETE FROM %s", ch->t[t].name);
	bool empty = !full && rnd(ch, 6) == 0;
	for (uint32_t t = 0; t < ch->ntables && !empty; t++) {
		uint32_t nchanges = (uint32_t)rnd(ch, full ? ch->keyspace + 1 : ch->keyspace / 2 + 2);
		/* distinct ids: a random start and a stride coprime with the key space */
		uint64_t start = rnd(ch, ch->keyspace), stride = 1 + rnd(ch, ch->keyspace);
		while (gcd(stride, ch->keyspace) != 1)
			stride++;
		uint64_t tag = 0;
		for (uint32_t i = 0; i < nchanges; i++)
			gen_change(ch, w, t, (start + i * stride) % ch->keyspace, full, ++tag);
		/* then keys of this backup again, in two more rounds, so a key may see up to 3
		 * changes (upsert after upsert, erase after upsert, upsert after erase) */
		for (int again = 0; again < 2 && !full && nchanges; again++) {
			uint32_t nrep = (uint32_t)rnd(ch, nchanges + 1);
			for (uint32_t i = 0; i < nrep; i++) {
				uint64_t pick = rnd(ch, nchanges);
				gen_change(ch, w, t, (start + pick * stride) % ch->keyspace, false, ++tag);
				chain_repeated_changes++;
			}
		}
	}
	sql(ch->db, "COMMIT");
	for (uint32_t t = 0; t < ch->ntables && ch->expected; t++) {
		uint64_t rows, digest;
		oracle_state(ch, t, &rows, &digest);
		assert_int_equal(irs_backup_writer_set_expected(w, t, rows, digest, &err), 0);
	}
	if (irs_backup_writer_commit(w, &err) != 0)
		fail_msg("commit: %s", err.message);
	irs_collection_close(c);
	for (uint32_t t = 0; t < ch->ntables; t++)
		sql(ch->db, "CREATE TABLE s%u_%s AS SELECT * FROM %s", b, ch->t[t].name, ch->t[t].name);
}

void chain_make(chain *ch, uint64_t seed)
{
	memset(ch, 0, sizeof *ch);
	ch->rng = seed * 0x9E3779B97F4A7C15ull + 1;
	snprintf(ch->dir, sizeof ch->dir, "/tmp/irs_test_restore_XXXXXX");
	assert_non_null(mkdtemp(ch->dir));
	strcat(ch->dir, "/c");
	make_schema(ch);
	ch->keyspace = 2 + (uint32_t)rnd(ch, 60);
	/* Two chains in three record expected states, so the restore checks them at every
	 * barrier with digests maintained per change; the third restores without. */
	ch->expected = seed % 3 != 0;
	irs_table_def defs[MAX_T];
	for (uint32_t t = 0; t < ch->ntables; t++)
		defs[t] = ch->t[t].def;
	irs_error err;
	assert_int_equal(irs_collection_create(ch->dir, defs, ch->ntables, &err), 0);
	assert_int_equal(sqlite3_open(":memory:", &ch->db), SQLITE_OK);
	for (uint32_t t = 0; t < ch->ntables; t++) {
		gen_table *g = &ch->t[t];
		char q[2048];
		size_t n = (size_t)snprintf(q, sizeof q, "CREATE TABLE %s (", g->name);
		for (uint32_t c = 0; c < g->def.column_count; c++)
			n += (size_t)snprintf(q + n, sizeof q - n, "c%u %s, ", c, sql_type(g->cols[c].type));
		n += (size_t)snprintf(q + n, sizeof q - n, "PRIMARY KEY (");
		for (uint32_t k = 0; k < g->def.primary_key_count; k++)
			n += (size_t)snprintf(q + n, sizeof q - n, "%sc%u", k ? "," : "", g->pk[k]);
		snprintf(q + n, sizeof q - n, "))");
		sql(ch->db, "%s", q);
	}
	ch->nbackups = 2 + (uint32_t)rnd(ch, MAX_B - 1);
	for (uint32_t b = 0; b < ch->nbackups; b++)
		gen_backup(ch, b, b == 0 || rnd(ch, 5) == 0);
}

void chain_free(chain *ch)
{
	sqlite3_close(ch->db);
	char cmd[600];
	char *slash = strrchr(ch->dir, '/');
	*slash = '\0';
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", ch->dir);
	assert_int_equal(system(cmd), 0);
}

/* ------------------------------------------------------------------ comparison */

typedef struct cmp_ctx {
	chain *ch;
	uint32_t t;
	uint32_t snap;
	sqlite3_stmt *get;
	uint64_t rows;
	int diff;
	char why[512];
} cmp_ctx;

static int cmp_row(void *ctx, const irs_value *row)
{
	cmp_ctx *x = ctx;
	gen_table *g = &x->ch->t[x->t];
	sqlite3_reset(x->get);
	for (uint32_t k = 0; k < g->def.primary_key_count; k++)
		bind(x->get, (int)k + 1, g->cols[g->pk[k]].type, &row[g->pk[k]]);
	if (sqlite3_step(x->get) != SQLITE_ROW) {
		snprintf(x->why, sizeof x->why, "table %s: engine row %llu missing from the oracle", g->name,
			 (unsigned long long)x->rows);
		return x->diff = 1;
	}
	for (uint32_t c = 0; c < g->def.column_count; c++) {
		const irs_value *v = &row[c];
		int st = sqlite3_column_type(x->get, (int)c);
		bool same;
		if (v->state != IRS_VALUE_SET) {
			same = st == SQLITE_NULL;
		} else if (st == SQLITE_NULL) {
			same = false;
		} else {
			switch (g->cols[c].type) {
			case IRS_TYPE_BOOL: same = sqlite3_column_int(x->get, (int)c) == v->v.b; break;
			case IRS_TYPE_UINT32:
			case IRS_TYPE_UINT64:
				same = (uint64_t)sqlite3_column_int64(x->get, (int)c) == v->v.u64;
				break;
			case IRS_TYPE_DOUBLE: same = sqlite3_column_double(x->get, (int)c) == v->v.d; break;
			case IRS_TYPE_UTF8:
			case IRS_TYPE_BYTES: {
				const void *p = g->cols[c].type == IRS_TYPE_UTF8
							? (const void *)sqlite3_column_text(x->get, (int)c)
							: sqlite3_column_blob(x->get, (int)c);
				size_t n = (size_t)sqlite3_column_bytes(x->get, (int)c);
				same = n == v->v.s.len && (n == 0 || memcmp(p, v->v.s.ptr, n) == 0);
				break;
			}
			default: same = sqlite3_column_int64(x->get, (int)c) == v->v.i64; break;
			}
		}
		if (!same) {
			snprintf(x->why, sizeof x->why, "table %s column c%u differs (engine state %d, sqlite type %d)",
				 g->name, c, v->state, st);
			return x->diff = 1;
		}
	}
	x->rows++;
	return 0;
}

/* Compares every table of the engine with snapshot `snap`; returns 0 when identical. */
int chain_compare(chain *ch, irs_restore *r, uint32_t snap, char *why, size_t whycap)
{
	for (uint32_t t = 0; t < ch->ntables; t++) {
		gen_table *g = &ch->t[t];
		char q[1024];
		size_t n = (size_t)snprintf(q, sizeof q, "SELECT * FROM s%u_%s WHERE ", snap, g->name);
		for (uint32_t k = 0; k < g->def.primary_key_count; k++)
			n += (size_t)snprintf(q + n, sizeof q - n, "%sc%u IS ?", k ? " AND " : "", g->pk[k]);
		cmp_ctx x = {.ch = ch, .t = t, .snap = snap};
		if (sqlite3_prepare_v2(ch->db, q, -1, &x.get, NULL) != SQLITE_OK) {
			snprintf(why, whycap, "prepare: %s", sqlite3_errmsg(ch->db));
			return 1;
		}
		irs_error err;
		int rc = irs_restore_scan(r, t, cmp_row, &x, &err);
		sqlite3_finalize(x.get);
		if (x.diff) {
			snprintf(why, whycap, "after backup %u: %s", snap, x.why);
			return 1;
		}
		if (rc) {
			snprintf(why, whycap, "scan: %s", err.message);
			return 1;
		}
		snprintf(q, sizeof q, "SELECT count(*) FROM s%u_%s", snap, g->name);
		sqlite3_stmt *st;
		sqlite3_prepare_v2(ch->db, q, -1, &st, NULL);
		sqlite3_step(st);
		uint64_t want = (uint64_t)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		if (want != x.rows || irs_restore_row_count(r, t) != want) {
			snprintf(why, whycap, "after backup %u: table %s has %llu rows (scan %llu), oracle %llu", snap,
				 g->name, (unsigned long long)irs_restore_row_count(r, t),
				 (unsigned long long)x.rows, (unsigned long long)want);
			return 1;
		}
	}
	return 0;
}

/* The digest the restore reports (maintained per change when the chain records
 * expected states) equals a scan of every partition by the digest's definition. */
static int digest_cross_check(chain *ch, irs_restore *r, uint32_t b, char *why, size_t whycap)
{
	for (uint32_t t = 0; t < ch->ntables; t++) {
		uint64_t scan = 0;
		for (uint32_t s = 0; s < r->pool.nshards; s++) {
			uint64_t d;
			const irs_table_part *part = r->pool.shards[s].parts[t];
			if (!part)
				continue;
			if (irs__part_digest_by_definition(part, &d) != 0) {
				snprintf(why, whycap, "after backup %u: table %u: digest scan failed", b, t);
				return 1;
			}
			scan = irs__digest_add(scan, d);
		}
		if (scan != irs_restore_digest(r, t)) {
			snprintf(why, whycap, "after backup %u: table %u: digest %016llx, a scan gives %016llx", b,
				 t, (unsigned long long)irs_restore_digest(r, t), (unsigned long long)scan);
			return 1;
		}
	}
	return 0;
}

typedef struct barrier_ctx {
	chain *ch;
	uint32_t expect_next;
	int failures;
	char why[600];
} barrier_ctx;

/* Runs on the coordinator thread: records, never asserts (cmocka asserts on the main
 * thread only). */
static int on_barrier(void *ctx, irs_restore *r, uint32_t b)
{
	barrier_ctx *x = ctx;
	if (b != x->expect_next) {
		snprintf(x->why, sizeof x->why, "barrier for backup %u, expected %u", b, x->expect_next);
		x->failures++;
		return 1;
	}
	x->expect_next++;
	if (digest_cross_check(x->ch, r, b, x->why, sizeof x->why) ||
	    chain_compare(x->ch, r, b, x->why, sizeof x->why)) {
		x->failures++;
		return 1;
	}
	return 0;
}

/* Restores the chain up to `upto` with `shards` shards, checking every barrier. */
void chain_restore_and_check(chain *ch, uint32_t shards, uint32_t upto)
{
	irs_collection *c;
	irs_error err;
	assert_int_equal(irs_collection_open(ch->dir, NULL, 0, &c, &err), 0);
	barrier_ctx bx = {.ch = ch, .expect_next = c->backups[upto].base};
	irs_restore_options o;
	irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
	o.shards = shards;
	/* with 3 shards every incremental is read twice (checked, then applied as it
	 * streams) instead of staged in memory */
	o.staging_budget = shards == 3 ? 1 : 0;
	/* the coordinator decodes too with 2 and 3 shards, never with 7, and by default
	 * (when there are fewer shards than CPUs) otherwise, whatever the machine */
	o.coordinator_decodes = shards == 2 || shards == 3 ? 1 : shards == 7 ? -1 : 0;
	o.upto = c->backups[upto].pb->name;
	o.barrier = on_barrier;
	o.barrier_ctx = &bx;
	irs_restore *r = NULL;
	int rc = irs_restore_run(c, &o, NULL, &r, &err);
	if (bx.failures)
		fail_msg("shards %u upto %u: %s", shards, upto, bx.why);
	if (rc)
		fail_msg("restore failed: %s", err.message);
	assert_int_equal(irs_restore_through(r), (int64_t)upto);
	assert_int_equal(bx.expect_next, upto + 1);
	irs_restore_free(r);
	irs_collection_close(c);
}

int chain_quick(void)
{
	const char *q = getenv("IRS_TEST_QUICK");
	return q && *q == '1';
}

/* ------------------------------------------------------------------ atomicity */

/* Finds the chain's first incremental after position 1 (so i-1 exists). */
int32_t chain_pick_incremental(const irs_collection *c)
{
	for (uint32_t b = 1; b < c->nbackups; b++)
		if (c->backups[b].kind == IRS_BACKUP_INCREMENTAL && c->backups[b].records > 0)
			return (int32_t)b;
	return -1;
}

static char last_message[IRS_ERROR_MESSAGE_MAX]; /* of the last chain_check_failed_state */

void chain_check_failed_state(chain *ch, irs_collection *c, uint32_t shards, int32_t fb,
			       int want_rc, const char *what)
{
	irs_restore_options o;
	irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
	o.shards = shards;
	irs_restore *r = NULL;
	irs_error err;
	int rc = irs_restore_run(c, &o, NULL, &r, &err);
	assert_int_equal(rc, want_rc);
	assert_non_null(r);
	uint32_t base = c->backups[c->nbackups - 1].base;
	if ((uint32_t)fb <= base) {
		/* the failing backup was before the last full: not part of this restore */
		irs_restore_free(r);
		return;
	}
	assert_int_equal(irs_restore_through(r), fb - 1);
	snprintf(last_message, sizeof last_message, "%s", err.message);
	chain_check_message(c, fb, err.message, "", false, what);
	char why[600];
	if (chain_compare(ch, r, (uint32_t)fb - 1, why, sizeof why))
		fail_msg("%s: %s", what, why);
	irs_restore_free(r);
}

const char *chain_last_message(void)
{
	return last_message;
}

void chain_check_message(const irs_collection *c, int32_t fb, const char *msg, const char *mid,
			 bool exact, const char *what)
{
	char head[512], tail[300];
	snprintf(head, sizeof head, "backup %s: %s", c->backups[fb].pb->name, mid);
	snprintf(tail, sizeof tail, "; the tables are as restored through backup %s",
		 c->backups[fb - 1].pb->name);
	size_t hn = strlen(head), tn = strlen(tail), n = strlen(msg);
	bool ok = n >= hn + tn && strncmp(msg, head, hn) == 0 && strcmp(msg + n - tn, tail) == 0;
	if (exact)
		ok = ok && n == hn + tn;
	if (!ok)
		fail_msg("%s: message \"%s\"\n  want \"%s%s%s\"", what, msg, head, exact ? "" : "...", tail);
}

const char *chain_first_segment(const irs_collection *c, uint32_t fb)
{
	for (uint32_t t = 0; t < c->ntables; t++) {
		const Increstore__TableBackup *tb = irs__backup_table(&c->backups[fb], t);
		if (tb && tb->n_segments)
			return tb->segments[0]->path;
	}
	fail_msg("backup %u has no segment", fb);
	return NULL;
}

/* Flips one payload byte in the first frame of the first segment of backup fb. */
const char *chain_damage_frame(const irs_collection *c, uint32_t fb)
{
	const irs_backup_meta *bm = &c->backups[fb];
	for (uint32_t t = 0; t < c->ntables; t++) {
		const Increstore__TableBackup *tb = irs__backup_table(bm, t);
		if (!tb || !tb->n_segments)
			continue;
		char path[600];
		snprintf(path, sizeof path, "%s/%s", c->dir, tb->segments[0]->path);
		int fd = open(path, O_RDWR);
		assert_true(fd >= 0);
		uint8_t b;
		off_t at = 16 + 8 + 2; /* inside the first frame's payload */
		assert_int_equal(pread(fd, &b, 1, at), 1);
		b ^= 0x20;
		assert_int_equal(pwrite(fd, &b, 1, at), 1);
		close(fd);
		return tb->segments[0]->path;
	}
	fail_msg("backup %u has no segment", fb);
	return NULL;
}
