/*
 * test_restore.c: the restore engine against a straightforward reference.
 *
 * DIFFERENTIAL: random chains from fixed seeds (random schemas with every type, NULLs,
 * composite keys, partial upserts, erases, re-inserts, empty backups, several fulls,
 * keys changed up to 3 times within one incremental) are written with the backup
 * writer, which collapses repeated keys (docs/design.md section 1), and, independently,
 * applied change by change into SQLite with plain SQL (INSERT ... ON CONFLICT DO
 * UPDATE of the listed columns; DELETE). After
 * each backup the oracle's tables are snapshotted. The engine then restores every
 * chain with 1, 2, 3, 7 and 64 shards, and at every barrier each table must equal the
 * snapshot of that backup row for row, column for column.
 *
 * ATOMICITY: a failure injected on one shard while staging incremental i, and a
 * damaged frame in incremental i, must leave every table exactly equal to the
 * snapshot of backup i-1, with irs_restore_through() = i-1.
 *
 * STRESS: 64 shards on 2 cores, runs of one record, random yields in the hot paths.
 */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "format/collection.h"
#include "common/digest.h"
#include "engine/restore.h"
#include "shard/fault.h"
#include "test_util.h"

/* ------------------------------------------------------------------ random chains */

#define MAX_T 3
#define MAX_C 9
#define MAX_B 12

typedef struct gen_table {
	irs_table_def def;
	irs_column_def cols[MAX_C];
	uint32_t pk[3];
	char name[16];
	char colnames[MAX_C][16];
} gen_table;

typedef struct chain {
	char dir[256];
	uint32_t ntables;
	gen_table t[MAX_T];
	uint32_t nbackups;
	sqlite3 *db;            /* oracle with snapshot tables s<b>_<t> */
	uint64_t rng;
	uint32_t keyspace;
	bool expected;          /* backups record the oracle's rows and digest as expected states */
	char strbuf[MAX_C][48]; /* storage for generated string values of one change */
} chain;

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
static uint64_t repeated_changes;

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
				repeated_changes++;
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

static void chain_make(chain *ch, uint64_t seed)
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

static void chain_free(chain *ch)
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
static int compare(chain *ch, irs_restore *r, uint32_t snap, char *why, size_t whycap)
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
	    compare(x->ch, r, b, x->why, sizeof x->why)) {
		x->failures++;
		return 1;
	}
	return 0;
}

/* Restores the chain up to `upto` with `shards` shards, checking every barrier. */
static void restore_and_check(chain *ch, uint32_t shards, uint32_t upto)
{
	irs_collection *c;
	irs_error err;
	assert_int_equal(irs_collection_open(ch->dir, NULL, 0, &c, &err), 0);
	barrier_ctx bx = {.ch = ch, .expect_next = c->backups[upto].base};
	irs_restore_options o;
	irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
	o.shards = shards;
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

static int quick(void)
{
	const char *q = getenv("IRS_TEST_QUICK");
	return q && *q == '1';
}

static void test_differential(void **state)
{
	(void)state;
	static const uint32_t shard_counts[] = {1, 2, 3, 7, 64};
	uint32_t chains = quick() ? 25 : 120;
	for (uint32_t seed = 1; seed <= chains; seed++) {
		chain ch;
		chain_make(&ch, seed);
		for (size_t i = 0; i < sizeof shard_counts / sizeof shard_counts[0]; i++) {
			/* 64 shards on every 4th chain keeps the run time reasonable */
			if (shard_counts[i] == 64 && seed % 4)
				continue;
			restore_and_check(&ch, shard_counts[i], ch.nbackups - 1);
		}
		/* every earlier target too, with 2 shards */
		for (uint32_t upto = 0; upto + 1 < ch.nbackups; upto++)
			restore_and_check(&ch, 2, upto);
		chain_free(&ch);
	}
	print_message("  %u chains; %llu changes repeated a key within an incremental\n", chains,
		      (unsigned long long)repeated_changes);
	assert_true(repeated_changes >= chains);
}

/* ------------------------------------------------------------------ atomicity */

/* Finds the chain's first incremental after position 1 (so i-1 exists). */
static int32_t pick_incremental(const irs_collection *c)
{
	for (uint32_t b = 1; b < c->nbackups; b++)
		if (c->backups[b].kind == IRS_BACKUP_INCREMENTAL && c->backups[b].records > 0)
			return (int32_t)b;
	return -1;
}

/* The message docs/reliability.md promises for a failure in backup fb: it starts with
 * "backup <fb>: " and then `mid` (formatted by the caller, may be ""), and ends with
 * where the tables are. With exact, it is exactly "backup <fb>: <mid>; the tables are
 * as restored through backup <fb-1>". */
static void check_message(const irs_collection *c, int32_t fb, const char *msg, const char *mid,
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

static const char *last_message; /* of the last check_failed_state */

static void check_failed_state(chain *ch, irs_collection *c, uint32_t shards, int32_t fb,
			       int want_rc, const char *what)
{
	static char saved[IRS_ERROR_MESSAGE_MAX];
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
	snprintf(saved, sizeof saved, "%s", err.message);
	last_message = saved;
	check_message(c, fb, err.message, "", false, what);
	char why[600];
	if (compare(ch, r, (uint32_t)fb - 1, why, sizeof why))
		fail_msg("%s: %s", what, why);
	irs_restore_free(r);
}

static void test_atomicity_shard_failure(void **state)
{
	(void)state;
	int tested = 0;
	for (uint32_t seed = 200; seed < 240; seed++) {
		chain ch;
		chain_make(&ch, seed);
		irs_collection *c;
		irs_error err;
		assert_int_equal(irs_collection_open(ch.dir, NULL, 0, &c, &err), 0);
		int32_t fb = pick_incremental(c);
		if (fb > 0 && (uint32_t)fb > c->backups[c->nbackups - 1].base) {
			for (uint32_t shards = 1; shards <= 7; shards += 3) {
				irs__fault_reset();
				irs__fault.fail_backup = fb;
				irs__fault.fail_shard = (uint32_t)(seed % shards);
				check_failed_state(&ch, c, shards, fb, IRS_ESHARD, "injected shard failure");
				char mid[128];
				snprintf(mid, sizeof mid, "shard %u: injected failure in backup %d", seed % shards, fb);
				check_message(c, fb, last_message, mid, true, "injected shard failure");
				tested++;
			}
			irs__fault_reset();
		}
		irs_collection_close(c);
		chain_free(&ch);
	}
	assert_true(tested >= 10);
}

/* The path of the first segment of backup fb (tables in order): the first the plan
 * indexes. */
static const char *first_segment(const irs_collection *c, uint32_t fb)
{
	for (uint32_t t = 0; t < c->ntables; t++) {
		const Increstore__TableBackup *tb = irs__backup_table(&c->backups[fb], t);
		if (tb && tb->n_segments)
			return tb->segments[0]->path;
	}
	fail_msg("backup %u has no segment", fb);
	return NULL;
}

/* Flips one payload byte in the first frame of the first segment of backup fb;
 * returns that segment's path. */
static const char *damage_frame(const irs_collection *c, uint32_t fb)
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

static void test_atomicity_corrupt_frame(void **state)
{
	(void)state;
	int tested = 0;
	for (uint32_t seed = 300; seed < 330; seed++) {
		chain ch;
		chain_make(&ch, seed);
		irs_collection *c;
		irs_error err;
		assert_int_equal(irs_collection_open(ch.dir, NULL, 0, &c, &err), 0);
		int32_t fb = pick_incremental(c);
		if (fb > 0 && (uint32_t)fb > c->backups[c->nbackups - 1].base) {
			const char *seg = damage_frame(c, (uint32_t)fb);
			check_failed_state(&ch, c, 3, fb, IRS_ECORRUPT, "corrupt frame");
			char mid[400];
			snprintf(mid, sizeof mid, "segment %s: frame 0 at byte 16: CRC32C mismatch (stored ", seg);
			check_message(c, fb, last_message, mid, false, "corrupt frame");
			tested++;
		}
		irs_collection_close(c);
		chain_free(&ch);
	}
	assert_true(tested >= 5);
}

/* A shard error at a chosen (backup, shard, frame): IRS_ESHARD and tables at i-1, or
 * success when that shard decoded fewer frames than the chosen one. */
static void test_atomicity_shard_failure_at_frame(void **state)
{
	(void)state;
	int failed = 0;
	for (uint32_t seed = 700; seed < 720; seed++) {
		chain ch;
		chain_make(&ch, seed);
		irs_collection *c;
		irs_error err;
		assert_int_equal(irs_collection_open(ch.dir, NULL, 0, &c, &err), 0);
		int32_t fb = pick_incremental(c);
		uint64_t frames = 0;
		for (uint32_t t = 0; fb > 0 && t < c->ntables; t++) {
			const Increstore__TableBackup *tb = irs__backup_table(&c->backups[fb], t);
			for (size_t k = 0; tb && k < tb->n_segments; k++)
				frames += tb->segments[k]->frames;
		}
		/* one shard decodes every frame, so it fails exactly when the backup has that
		 * many; with more, shard 0 may decode fewer and the restore succeed */
		bool applies = fb > 0 && (uint32_t)fb > c->backups[c->nbackups - 1].base;
		for (int pass = 0; applies && pass < 2; pass++) {
			uint32_t shards = pass ? 1 + seed % 3 : 1;
			if (pass && shards == 1)
				break;
			bool must_fail = shards == 1 && frames >= 1 + seed % 2;
			irs__fault_reset();
			irs__fault.fail_backup = fb;
			irs__fault.fail_shard = 0;
			irs__fault.fail_frame = 1 + seed % 2;
			irs_restore_options o;
			irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
			o.shards = shards;
			irs_restore *r = NULL;
			int rc = irs_restore_run(c, &o, NULL, &r, &err);
			irs__fault_reset();
			char why[600];
			if (rc == 0) {
				if (must_fail)
					fail_msg("seed %u: one shard decoded all %llu frames, but no failure", seed,
						 (unsigned long long)frames);
				assert_int_equal(irs_restore_through(r), (int64_t)c->nbackups - 1);
				if (compare(&ch, r, c->nbackups - 1, why, sizeof why))
					fail_msg("%s", why);
			} else {
				assert_int_equal(rc, IRS_ESHARD);
				assert_int_equal(irs_restore_through(r), fb - 1);
				char mid[128];
				snprintf(mid, sizeof mid, "shard 0: injected failure after frame %u of backup %d",
					 1 + seed % 2, fb);
				check_message(c, fb, err.message, mid, true, "injected failure after a frame");
				if (compare(&ch, r, (uint32_t)fb - 1, why, sizeof why))
					fail_msg("%s", why);
				failed++;
			}
			irs_restore_free(r);
		}
		irs_collection_close(c);
		chain_free(&ch);
	}
	assert_true(failed >= 3);
}

/* An I/O error reading a frame of incremental i: IRS_EIO, tables at i-1. */
static void test_atomicity_read_error(void **state)
{
	(void)state;
	int tested = 0;
	for (uint32_t seed = 400; seed < 420; seed++) {
		chain ch;
		chain_make(&ch, seed);
		irs_collection *c;
		irs_error err;
		assert_int_equal(irs_collection_open(ch.dir, NULL, 0, &c, &err), 0);
		int32_t fb = pick_incremental(c);
		if (fb > 0 && (uint32_t)fb > c->backups[c->nbackups - 1].base) {
			irs__fault_reset();
			irs__fault.eio_backup = fb;
			irs__fault.eio_frame = 0;
			check_failed_state(&ch, c, 1 + seed % 4, fb, IRS_EIO, "injected read error");
			irs__fault_reset();
			char mid[400];
			snprintf(mid, sizeof mid, "segment %s: frame 0 at byte 16: read failed: injected I/O error",
				 first_segment(c, (uint32_t)fb));
			check_message(c, fb, last_message, mid, true, "injected read error");
			tested++;
		}
		irs_collection_close(c);
		chain_free(&ch);
	}
	assert_true(tested >= 5);
}

/* One shard much slower than the others: the barrier waits for it, nothing else. */
static void test_slow_shard(void **state)
{
	(void)state;
	for (uint32_t seed = 600; seed < 606; seed++) {
		chain ch;
		chain_make(&ch, seed);
		irs__fault_reset();
		irs__fault.slow_shard = seed % 3;
		irs__fault.slow_us = 2000;
		irs__fault.run_bytes = 256;
		restore_and_check(&ch, 3, ch.nbackups - 1);
		irs__fault_reset();
		chain_free(&ch);
	}
}

/* A full backup that fails leaves empty tables, and the message says so. (The first
 * seed whose last full backup holds records; a fixed choice, so the test never skips.) */
static void test_full_failure_leaves_empty(void **state)
{
	(void)state;
	chain ch;
	irs_collection *c = NULL;
	irs_error err;
	uint32_t base = 0;
	for (uint64_t seed = 7; seed < 40 && !c; seed++) {
		chain_make(&ch, seed);
		assert_int_equal(irs_collection_open(ch.dir, NULL, 0, &c, &err), 0);
		base = c->backups[c->nbackups - 1].base;
		if (c->backups[base].records == 0) {
			irs_collection_close(c);
			c = NULL;
			chain_free(&ch);
		}
	}
	assert_non_null(c);
	const char *seg = damage_frame(c, base);
	irs_restore_options o;
	irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
	o.shards = 4;
	irs_restore *r = NULL;
	assert_int_equal(irs_restore_run(c, &o, NULL, &r, &err), IRS_ECORRUPT);
	char head[400];
	snprintf(head, sizeof head, "backup %s: segment %s: frame 0 at byte 16: CRC32C mismatch (stored ",
		 c->backups[base].pb->name, seg);
	const char *tail = "; the tables are empty";
	size_t n = strlen(err.message);
	if (strncmp(err.message, head, strlen(head)) != 0 || n < strlen(tail) ||
	    strcmp(err.message + n - strlen(tail), tail) != 0)
		fail_msg("message \"%s\", want \"%s...%s\"", err.message, head, tail);
	assert_int_equal(irs_restore_through(r), -1);
	for (uint32_t t = 0; t < c->ntables; t++)
		assert_int_equal(irs_restore_row_count(r, t), 0);
	irs_restore_free(r);
	irs_collection_close(c);
	chain_free(&ch);
}

/* ------------------------------------------------------------------ stress */

static void test_stress_many_shards(void **state)
{
	(void)state;
	uint32_t rounds = quick() ? 3 : 12;
	for (uint32_t seed = 500; seed < 500 + rounds; seed++) {
		chain ch;
		chain_make(&ch, seed);
		irs__fault_reset();
		irs__fault.run_bytes = 1; /* one record per run: the most queue traffic */
		irs__fault.yield_every = 7;
		restore_and_check(&ch, 64, ch.nbackups - 1);
		restore_and_check(&ch, 33, ch.nbackups - 1);
		irs__fault_reset();
		chain_free(&ch);
	}
}

/* Cancellation before the first backup: nothing restored, ECANCELED. */
static void test_cancel(void **state)
{
	(void)state;
	chain ch;
	chain_make(&ch, 11);
	irs_collection *c;
	irs_error err;
	assert_int_equal(irs_collection_open(ch.dir, NULL, 0, &c, &err), 0);
	volatile int cancel = 1;
	irs_restore_options o;
	irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
	o.shards = 2;
	o.cancel = &cancel;
	irs_restore *r = NULL;
	assert_int_equal(irs_restore_run(c, &o, NULL, &r, &err), IRS_ECANCELED);
	assert_int_equal(irs_restore_through(r), -1);
	irs_restore_free(r);
	irs_collection_close(c);
	chain_free(&ch);
}

/* Watchdog: a hang (a lost wakeup, a deadlock) fails the run instead of stalling it. */
static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "test_restore: watchdog expired (hang)\n";
	ssize_t w = write(2, msg, sizeof msg - 1);
	(void)w;
	_exit(1);
}

int main(void)
{
	signal(SIGALRM, on_alarm);
	alarm(900);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_differential),
		cmocka_unit_test(test_atomicity_shard_failure),
		cmocka_unit_test(test_atomicity_corrupt_frame),
		cmocka_unit_test(test_full_failure_leaves_empty),
		cmocka_unit_test(test_atomicity_read_error),
		cmocka_unit_test(test_atomicity_shard_failure_at_frame),
		cmocka_unit_test(test_slow_shard),
		cmocka_unit_test(test_stress_many_shards),
		cmocka_unit_test(test_cancel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
