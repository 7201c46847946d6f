/*
 * sqlite_oracle.c: the SQLite copy of a collection's tables (sqlite_oracle.h has the
 * semantics, the table layout and the errors).
 *
 * STATEMENTS: per table, INSERT (every column), DELETE by key, DELETE all, SELECT by
 * key, SELECT all and count(*) are prepared when the table is created. UPSERTs depend
 * on the set of listed value columns (the record's "changed" bitmap), so they are
 * prepared on first use and kept in an open-addressing cache keyed by (table, bitmap),
 * XXH3 of the bitmap seeded with the table number. The cache doubles to stay at most
 * half full; past STMT_CACHE_MAX distinct sets it is emptied and refilled, so a chain
 * with very many column sets costs re-preparing, not unbounded memory.
 *
 * BINDING: values are bound in the stored representation (the 64-bit patterns of
 * uint64 and double); strings SQLITE_STATIC, since they live in the decoded record
 * until the statement has stepped. Reading back checks the storage class against the
 * column's type, so a wrong value cannot pass as a right one.
 *
 * OWNERSHIP: the oracle owns the database, every statement and its buffers; rows it
 * returns point into its memory (lookup: until the next lookup; scan: during the
 * callback).
 */
#include "sqlite_oracle.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "engine/cli_support.h"

#define STMT_CACHE_MAX 4096u  /* distinct column sets kept before starting over */

typedef struct otable {
	const irs_schema_table *t;
	sqlite3_stmt *insert;     /* full rows: every column */
	sqlite3_stmt *erase;      /* by key */
	sqlite3_stmt *lookup;     /* every column, by key */
	sqlite3_stmt *count;
	sqlite3_stmt *scan;       /* every row, every column */
	sqlite3_stmt *clear;
} otable;

/* A cached UPSERT statement for one (table, listed value columns) pair. */
typedef struct stmt_slot {
	uint64_t hash;
	uint32_t table;
	uint8_t *bits;            /* the table's changed bitmap (value_bitmap_bytes) */
	sqlite3_stmt *st;
} stmt_slot;

struct irs_oracle {
	irs_collection *c;
	const char *who;          /* starts error messages */
	const volatile sig_atomic_t *cancel;
	sqlite3 *db;
	irs_mem mem;              /* decoder and segment reader memory */
	otable *tabs;
	stmt_slot *cache;
	uint32_t cache_cap, cache_n;
	irs_batch_decoder dec;
	irs_value *row;           /* a decoded change: one per column of the widest table */
	irs_value *out;           /* a row read back: the same */
	uint8_t *scratch;         /* unescaped key strings (IRS_MAX_KEY_BYTES) */
	uint8_t *copy;            /* lookup's string copies */
	size_t copy_cap;
	irs_textbuf sql;
	uint64_t changes;         /* applied so far */
	bool full;                /* the open transaction is a full backup's */
	uint32_t cur;             /* irs_oracle_apply_backup: the table being read */
};

static int sql_fail(irs_oracle *o, irs_error *err, const char *what)
{
	return irs__seterr(err, IRS_EIO, "%s: SQLite: %s: %s", o->who, what, sqlite3_errmsg(o->db));
}

static int oom(irs_oracle *o, irs_error *err)
{
	return irs__seterr(err, IRS_ENOMEM, "%s: out of memory", o->who);
}

static int prepare(irs_oracle *o, sqlite3_stmt **st, irs_error *err)
{
	if (irs__textbuf_cstr(&o->sql))
		return oom(o, err);
	if (sqlite3_prepare_v3(o->db, o->sql.data, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
		return sql_fail(o, err, o->sql.data);
	return 0;
}

/* printf into o->sql (statement text is short: names are t<i>/c<j>). */
static void sqlf(irs_oracle *o, const char *fmt, ...) IRS_PRINTF(2, 3);
static void sqlf(irs_oracle *o, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		irs__textbuf_put(&o->sql, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* " WHERE c<k1> = ?1 AND c<k2> = ?2" */
static void sql_where_key(irs_oracle *o, const irs_schema_table *t)
{
	for (uint32_t k = 0; k < t->nkey; k++)
		sqlf(o, "%s c%" PRIu32 " = ?%" PRIu32, k ? " AND" : " WHERE", t->key_cols[k], k + 1);
}

/* "c<k1>, c<k2>" */
static void sql_key_columns(irs_oracle *o, const irs_schema_table *t)
{
	for (uint32_t k = 0; k < t->nkey; k++)
		sqlf(o, "%sc%" PRIu32, k ? ", " : "", t->key_cols[k]);
}

static const char *oracle_type(irs_type t)
{
	switch (t) {
	case IRS_TYPE_UTF8: return "TEXT";
	case IRS_TYPE_BYTES: return "BLOB";
	default: return "INTEGER"; /* doubles and uint64 as their 64-bit patterns */
	}
}

/* A key of one INTEGER column is the rowid: the layout SQLite is fastest with. */
static bool rowid_key(const irs_schema_table *t)
{
	return t->nkey == 1 && strcmp(oracle_type(t->cols[t->key_cols[0]].type), "INTEGER") == 0;
}

/* ------------------------------------------------------------------ setup */

/* Creates table i and its fixed statements. */
static int create_table(irs_oracle *o, uint32_t i, irs_error *err)
{
	otable *ot = &o->tabs[i];
	const irs_schema_table *t = ot->t = &o->c->tables[i];
	irs__textbuf_reset(&o->sql);
	sqlf(o, "CREATE TABLE t%" PRIu32 " (", i);
	for (uint32_t c = 0; c < t->ncols; c++)
		sqlf(o, "%sc%" PRIu32 " %s%s", c ? ", " : "", c, oracle_type(t->cols[c].type),
		     t->cols[c].is_key ? " NOT NULL" : "");
	sqlf(o, ", PRIMARY KEY (");
	sql_key_columns(o, t);
	sqlf(o, rowid_key(t) ? ")) STRICT" : ")) WITHOUT ROWID, STRICT");
	if (irs__textbuf_cstr(&o->sql))
		return oom(o, err);
	if (sqlite3_exec(o->db, o->sql.data, NULL, NULL, NULL) != SQLITE_OK)
		return sql_fail(o, err, o->sql.data);
	int rc;
	irs__textbuf_reset(&o->sql);
	sqlf(o, "INSERT INTO t%" PRIu32 " VALUES (", i);
	for (uint32_t c = 0; c < t->ncols; c++)
		sqlf(o, "%s?", c ? ", " : "");
	sqlf(o, ")");
	if ((rc = prepare(o, &ot->insert, err)))
		return rc;
	irs__textbuf_reset(&o->sql);
	sqlf(o, "DELETE FROM t%" PRIu32, i);
	sql_where_key(o, t);
	if ((rc = prepare(o, &ot->erase, err)))
		return rc;
	irs__textbuf_reset(&o->sql);
	sqlf(o, "SELECT ");
	for (uint32_t c = 0; c < t->ncols; c++)
		sqlf(o, "%sc%" PRIu32, c ? ", " : "", c);
	sqlf(o, " FROM t%" PRIu32, i);
	if ((rc = prepare(o, &ot->scan, err)))
		return rc;
	sql_where_key(o, t);
	if ((rc = prepare(o, &ot->lookup, err)))
		return rc;
	irs__textbuf_reset(&o->sql);
	sqlf(o, "SELECT count(*) FROM t%" PRIu32, i);
	if ((rc = prepare(o, &ot->count, err)))
		return rc;
	irs__textbuf_reset(&o->sql);
	sqlf(o, "DELETE FROM t%" PRIu32, i);
	return prepare(o, &ot->clear, err);
}

static void cache_clear(irs_oracle *o)
{
	for (uint32_t j = 0; j < o->cache_cap; j++) {
		sqlite3_finalize(o->cache[j].st);
		free(o->cache[j].bits);
	}
	memset(o->cache, 0, sizeof *o->cache * o->cache_cap);
	o->cache_n = 0;
}

void irs_oracle_close(irs_oracle *o)
{
	if (!o)
		return;
	if (o->cache) {
		cache_clear(o);
		free(o->cache);
	}
	if (o->tabs) {
		for (uint32_t i = 0; i < o->c->ntables; i++) {
			otable *ot = &o->tabs[i];
			sqlite3_finalize(ot->insert);
			sqlite3_finalize(ot->erase);
			sqlite3_finalize(ot->lookup);
			sqlite3_finalize(ot->count);
			sqlite3_finalize(ot->scan);
			sqlite3_finalize(ot->clear);
		}
		free(o->tabs);
	}
	if (o->db)
		sqlite3_close(o->db);
	irs__batch_decoder_free(&o->dec);
	irs__textbuf_free(&o->sql);
	free(o->row);
	free(o->out);
	free(o->scratch);
	free(o->copy);
	free(o);
}

/* Fills a zeroed o: buffers, the database, the tables. */
static int oracle_init(irs_oracle *o, irs_error *err)
{
	irs_collection *c = o->c;
	o->row = calloc(c->max_ncols + 1, sizeof *o->row);
	o->out = calloc(c->max_ncols + 1, sizeof *o->out);
	o->scratch = malloc(IRS_MAX_KEY_BYTES);
	o->tabs = calloc(c->ntables + 1, sizeof *o->tabs);
	o->cache_cap = 64;
	o->cache = calloc(o->cache_cap, sizeof *o->cache);
	if (!o->row || !o->out || !o->scratch || !o->tabs || !o->cache)
		return oom(o, err);
	if (sqlite3_open_v2(":memory:", &o->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
		return irs__seterr(err, IRS_EIO, "%s: cannot open an in-memory SQLite database", o->who);
	sqlite3_exec(o->db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY",
		     NULL, NULL, NULL);
	for (uint32_t i = 0; i < c->ntables; i++) {
		int rc = create_table(o, i, err);
		if (rc)
			return rc;
	}
	return 0;
}

int irs_oracle_open(irs_collection *c, const char *who, const volatile sig_atomic_t *cancel,
		    irs_oracle **out, irs_error *err)
{
	*out = NULL;
	irs_oracle *o = calloc(1, sizeof *o);
	if (!o)
		return irs__seterr(err, IRS_ENOMEM, "%s: out of memory", who);
	o->c = c;
	o->who = who;
	o->cancel = cancel;
	irs__mem_init(&o->mem, NULL, 0);
	irs__batch_decoder_init(&o->dec, &o->mem);
	irs__textbuf_init(&o->sql, &o->mem);
	int rc = oracle_init(o, err);
	if (rc) {
		irs_oracle_close(o);
		return rc;
	}
	*out = o;
	return 0;
}

/* ------------------------------------------------------------------ values */

/* Binds v (of column type `type`) in the oracle's exact representation. Strings are
 * bound SQLITE_STATIC: they live until the statement has stepped. */
static int bind_value(sqlite3_stmt *st, int i, irs_type type, const irs_value *v)
{
	if (v->state != IRS_VALUE_SET)
		return sqlite3_bind_null(st, i);
	int64_t x;
	switch (type) {
	case IRS_TYPE_BOOL: return sqlite3_bind_int64(st, i, v->v.b != 0);
	case IRS_TYPE_INT32:
	case IRS_TYPE_INT64:
	case IRS_TYPE_TIMESTAMP: return sqlite3_bind_int64(st, i, v->v.i64);
	case IRS_TYPE_UINT32:
	case IRS_TYPE_UINT64:
		memcpy(&x, &v->v.u64, sizeof x);
		return sqlite3_bind_int64(st, i, x);
	case IRS_TYPE_DOUBLE:
		memcpy(&x, &v->v.d, sizeof x);
		return sqlite3_bind_int64(st, i, x);
	case IRS_TYPE_UTF8:
		return sqlite3_bind_text(st, i, v->v.s.len ? v->v.s.ptr : "", (int)v->v.s.len, SQLITE_STATIC);
	case IRS_TYPE_BYTES:
		return sqlite3_bind_blob(st, i, v->v.s.len ? v->v.s.ptr : "", (int)v->v.s.len, SQLITE_STATIC);
	}
	return SQLITE_MISUSE;
}

/* Binds the key columns of row as ?1, ?2, ...; returns the next parameter index, or 0
 * after a failed bind. */
static int bind_key(sqlite3_stmt *st, const irs_schema_table *t, const irs_value *row)
{
	int b = 1;
	for (uint32_t k = 0; k < t->nkey; k++, b++)
		if (bind_value(st, b, t->cols[t->key_cols[k]].type, &row[t->key_cols[k]]) != SQLITE_OK)
			return 0;
	return b;
}

/* Reads column i of a result row back into v; false when SQLite holds a value of the
 * wrong storage class (impossible in a STRICT table, checked anyway). */
static bool column_value(sqlite3_stmt *st, int i, irs_type type, irs_value *v)
{
	int ct = sqlite3_column_type(st, i);
	if (ct == SQLITE_NULL) {
		v->state = IRS_VALUE_NULL;
		return true;
	}
	v->state = IRS_VALUE_SET;
	if (type == IRS_TYPE_UTF8 || type == IRS_TYPE_BYTES) {
		if (ct != (type == IRS_TYPE_UTF8 ? SQLITE_TEXT : SQLITE_BLOB))
			return false;
		const void *p = type == IRS_TYPE_UTF8 ? (const void *)sqlite3_column_text(st, i)
						      : sqlite3_column_blob(st, i);
		v->v.s.len = (size_t)sqlite3_column_bytes(st, i);
		v->v.s.ptr = p ? p : "";
		return true;
	}
	if (ct != SQLITE_INTEGER)
		return false;
	int64_t x = sqlite3_column_int64(st, i);
	switch (type) {
	case IRS_TYPE_BOOL:
		if (x != 0 && x != 1)
			return false;
		v->v.b = (int)x;
		break;
	case IRS_TYPE_INT32:
		if (x < INT32_MIN || x > INT32_MAX)
			return false;
		v->v.i64 = x;
		break;
	case IRS_TYPE_UINT32:
		if (x < 0 || x > (int64_t)UINT32_MAX)
			return false;
		v->v.u64 = (uint64_t)x;
		break;
	case IRS_TYPE_INT64:
	case IRS_TYPE_TIMESTAMP: v->v.i64 = x; break;
	case IRS_TYPE_UINT64: memcpy(&v->v.u64, &x, sizeof x); break;
	case IRS_TYPE_DOUBLE: memcpy(&v->v.d, &x, sizeof x); break;
	default: return false;
	}
	return true;
}

/* Every column of the current result row into o->out; a value of the wrong storage
 * class reads as NULL. Returns the first such column, or UINT32_MAX. */
static uint32_t read_row(irs_oracle *o, sqlite3_stmt *st, const irs_schema_table *t)
{
	uint32_t bad = UINT32_MAX;
	for (uint32_t c = 0; c < t->ncols; c++)
		if (!column_value(st, (int)c, t->cols[c].type, &o->out[c])) {
			o->out[c].state = IRS_VALUE_NULL;
			if (bad == UINT32_MAX)
				bad = c;
		}
	return bad;
}

/* ------------------------------------------------------------------ applying */

/* Builds and prepares the UPSERT for the listed value columns `bits` of table ti. */
static sqlite3_stmt *prepare_upsert(irs_oracle *o, uint32_t ti, const uint8_t *bits, irs_error *err)
{
	const irs_schema_table *t = o->tabs[ti].t;
	irs__textbuf_reset(&o->sql);
	sqlf(o, "INSERT INTO t%" PRIu32 " (", ti);
	sql_key_columns(o, t);
	uint32_t listed = 0;
	for (uint32_t vi = 0; vi < t->nvalues; vi++)
		if (irs__bit_get(bits, vi)) {
			sqlf(o, ", c%" PRIu32, t->value_cols[vi]);
			listed++;
		}
	sqlf(o, ") VALUES (");
	for (uint32_t k = 0; k < t->nkey + listed; k++)
		sqlf(o, "%s?", k ? ", " : "");
	sqlf(o, ") ON CONFLICT (");
	sql_key_columns(o, t);
	if (!listed) {
		sqlf(o, ") DO NOTHING");
	} else {
		sqlf(o, ") DO UPDATE SET ");
		uint32_t n = 0;
		for (uint32_t vi = 0; vi < t->nvalues; vi++)
			if (irs__bit_get(bits, vi)) {
				sqlf(o, "%sc%" PRIu32 " = excluded.c%" PRIu32, n ? ", " : "", t->value_cols[vi],
				     t->value_cols[vi]);
				n++;
			}
	}
	sqlite3_stmt *st = NULL;
	return prepare(o, &st, err) ? NULL : st;
}

/* Doubles the cache (at most half full after). false when out of memory. */
static bool cache_grow(irs_oracle *o)
{
	uint32_t ncap = o->cache_cap * 2;
	stmt_slot *nc = calloc(ncap, sizeof *nc);
	if (!nc)
		return false;
	for (uint32_t j = 0; j < o->cache_cap; j++) {
		if (!o->cache[j].st)
			continue;
		uint32_t k = (uint32_t)o->cache[j].hash & (ncap - 1);
		while (nc[k].st)
			k = (k + 1) & (ncap - 1);
		nc[k] = o->cache[j];
	}
	free(o->cache);
	o->cache = nc;
	o->cache_cap = ncap;
	return true;
}

/* The cached UPSERT statement for the listed value columns `bits` of table ti. */
static sqlite3_stmt *upsert_stmt(irs_oracle *o, uint32_t ti, const uint8_t *bits, irs_error *err)
{
	size_t nb = o->tabs[ti].t->value_bitmap_bytes;
	uint64_t h = XXH3_64bits_withSeed(bits, nb, ti);
	uint32_t mask = o->cache_cap - 1, i = (uint32_t)h & mask;
	for (; o->cache[i].st; i = (i + 1) & mask)
		if (o->cache[i].hash == h && o->cache[i].table == ti && memcmp(o->cache[i].bits, bits, nb) == 0)
			return o->cache[i].st;
	if (o->cache_n >= STMT_CACHE_MAX) {
		/* Too many distinct column sets: start over rather than grow without bound. */
		cache_clear(o);
		i = (uint32_t)h & mask;
	} else if (2 * (o->cache_n + 1) > o->cache_cap) {
		if (!cache_grow(o)) {
			oom(o, err);
			return NULL;
		}
		mask = o->cache_cap - 1;
		for (i = (uint32_t)h & mask; o->cache[i].st; i = (i + 1) & mask)
			;
	}
	uint8_t *copy = malloc(nb ? nb : 1);
	if (!copy) {
		oom(o, err);
		return NULL;
	}
	sqlite3_stmt *st = prepare_upsert(o, ti, bits, err);
	if (!st) {
		free(copy);
		return NULL;
	}
	memcpy(copy, bits, nb);
	o->cache[i] = (stmt_slot){.hash = h, .table = ti, .bits = copy, .st = st};
	o->cache_n++;
	return st;
}

int irs_oracle_begin(irs_oracle *o, bool full, irs_error *err)
{
	if (sqlite3_exec(o->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return sql_fail(o, err, "BEGIN");
	o->full = full;
	for (uint32_t ti = 0; full && ti < o->c->ntables; ti++) {
		sqlite3_stmt *clear = o->tabs[ti].clear;
		int s = sqlite3_step(clear);
		sqlite3_reset(clear);
		if (s != SQLITE_DONE) {
			int rc = sql_fail(o, err, "DELETE");
			irs_oracle_rollback(o);
			return rc;
		}
	}
	return 0;
}

int irs_oracle_commit(irs_oracle *o, irs_error *err)
{
	if (sqlite3_exec(o->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		return sql_fail(o, err, "COMMIT");
	return 0;
}

void irs_oracle_rollback(irs_oracle *o)
{
	sqlite3_exec(o->db, "ROLLBACK", NULL, NULL, NULL);
}

int irs_oracle_apply(irs_oracle *o, uint32_t ti, const irs_rec *rec, irs_error *err)
{
	const otable *ot = &o->tabs[ti];
	const irs_schema_table *t = ot->t;
	if (irs__rec_decode(t, rec, o->row, o->scratch) != 0)
		return irs__seterr(err, IRS_ECORRUPT, "a change record does not decode");
	sqlite3_stmt *st;
	int b = 1, rc = SQLITE_OK;
	if (rec->op == IRS_REC_ERASE) {
		st = ot->erase;
		b = bind_key(st, t, o->row);
	} else if (o->full) {
		st = ot->insert;
		for (uint32_t c = 0; c < t->ncols && rc == SQLITE_OK; c++)
			rc = bind_value(st, b++, t->cols[c].type, &o->row[c]);
	} else {
		const uint8_t *bits = irs__rec_changed(rec);
		st = upsert_stmt(o, ti, bits, err);
		if (!st)
			return err && err->code ? err->code : IRS_ENOMEM;
		b = bind_key(st, t, o->row);
		for (uint32_t vi = 0; vi < t->nvalues && b && rc == SQLITE_OK; vi++)
			if (irs__bit_get(bits, vi))
				rc = bind_value(st, b++, t->cols[t->value_cols[vi]].type, &o->row[t->value_cols[vi]]);
	}
	if (!b)
		rc = SQLITE_ERROR;
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT && o->full) {
		char key[256];
		irs__rec_key_format(t, irs__rec_key(rec), rec->key_len, key, sizeof key);
		return irs__seterr(err, IRS_EDUPKEY, "key %s appears twice", key);
	}
	if (rc != SQLITE_DONE)
		return sql_fail(o, err, "applying a change");
	o->changes++;
	if ((o->changes & 4095) == 0 && o->cancel && __atomic_load_n(o->cancel, __ATOMIC_RELAXED))
		return irs__seterr(err, IRS_ECANCELED, "cancelled");
	return 0;
}

/* irs_rec_sink of irs_oracle_apply_backup: one change of table o->cur. */
static int apply_sink(void *ctx, const irs_rec *rec, irs_error *err)
{
	irs_oracle *o = ctx;
	return irs_oracle_apply(o, o->cur, rec, err);
}

/* Reads and applies one segment of table ti of backup bm. */
static int apply_segment(irs_oracle *o, const irs_backup_meta *bm, uint32_t ti,
			 const Increstore__Segment *seg, irs_error *err)
{
	const char *bname = bm->pb->name;
	irs_segment_scan s = {.mem = &o->mem, .dirfd = o->c->dirfd, .path = seg->path, .table = ti,
			      .t = o->tabs[ti].t, .full = bm->kind == IRS_BACKUP_FULL, .backup = bname};
	int rc = irs__segment_scan(&s, &o->dec, apply_sink, o, err);
	if (!rc && s.records != seg->records)
		rc = irs__seterr(err, IRS_ECORRUPT,
				 "backup %s: segment %s holds %" PRIu64 " records, the manifest says %" PRIu64,
				 bname, seg->path, s.records, (uint64_t)seg->records);
	return rc;
}

int irs_oracle_apply_backup(irs_oracle *o, uint32_t b, irs_error *err)
{
	const irs_backup_meta *bm = &o->c->backups[b];
	int rc = irs_oracle_begin(o, bm->kind == IRS_BACKUP_FULL, err);
	if (rc)
		return rc;
	for (uint32_t ti = 0; ti < o->c->ntables && !rc; ti++) {
		const Increstore__TableBackup *tb = irs__backup_table(bm, ti);
		o->cur = ti;
		for (size_t s = 0; tb && s < tb->n_segments && !rc; s++)
			rc = apply_segment(o, bm, ti, tb->segments[s], err);
	}
	if (rc) {
		irs_oracle_rollback(o);
		return rc;
	}
	return irs_oracle_commit(o, err);
}

uint64_t irs_oracle_changes(const irs_oracle *o)
{
	return o->changes;
}

/* ------------------------------------------------------------------ reading */

int irs_oracle_count(irs_oracle *o, uint32_t t, uint64_t *rows, irs_error *err)
{
	sqlite3_stmt *st = o->tabs[t].count;
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		*rows = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return s == SQLITE_ROW ? 0 : sql_fail(o, err, "count");
}

/* Copies the strings of o->out[0..n) into o->copy, which the row then points into. */
static bool copy_strings(irs_oracle *o, const irs_schema_table *t)
{
	size_t need = 0;
	for (uint32_t c = 0; c < t->ncols; c++)
		if (o->out[c].state == IRS_VALUE_SET && irs__type_is_var(t->cols[c].type))
			need += o->out[c].v.s.len;
	if (need > o->copy_cap) {
		uint8_t *nb = realloc(o->copy, need);
		if (!nb)
			return false;
		o->copy = nb;
		o->copy_cap = need;
	}
	size_t at = 0;
	for (uint32_t c = 0; c < t->ncols; c++) {
		irs_value *v = &o->out[c];
		if (v->state != IRS_VALUE_SET || !irs__type_is_var(t->cols[c].type) || !v->v.s.len)
			continue;
		memcpy(o->copy + at, v->v.s.ptr, v->v.s.len);
		v->v.s.ptr = o->copy + at;
		at += v->v.s.len;
	}
	return true;
}

int irs_oracle_lookup(irs_oracle *o, uint32_t t, const irs_value *key_row, irs_value *row,
		      uint32_t *bad_col, irs_error *err)
{
	const irs_schema_table *ts = o->tabs[t].t;
	sqlite3_stmt *st = o->tabs[t].lookup;
	bind_key(st, ts, key_row);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return sql_fail(o, err, "lookup");
	}
	*bad_col = read_row(o, st, ts);
	bool ok = copy_strings(o, ts);
	sqlite3_reset(st);
	if (!ok)
		return oom(o, err);
	memcpy(row, o->out, sizeof *row * ts->ncols);
	return 1;
}

int irs_oracle_scan(irs_oracle *o, uint32_t t, int (*fn)(void *ctx, const irs_value *row),
		    void *ctx, irs_error *err)
{
	const irs_schema_table *ts = o->tabs[t].t;
	sqlite3_stmt *st = o->tabs[t].scan;
	int rc, stop = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_row(o, st, ts);
		if ((stop = fn(ctx, o->out)) != 0)
			break;
	}
	sqlite3_reset(st);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? 0 : sql_fail(o, err, "scan");
}

/* ------------------------------------------------------------------ testing */

int irs_oracle_tamper(irs_oracle *o, const char **kind_io, uint32_t *table, int *changed, irs_error *err)
{
	/* the first table with a row: in an empty one nothing would change, and verify's
	 * self-test would pass without testing anything */
	uint32_t ti = 0;
	uint64_t rows = 0;
	for (; ti < o->c->ntables; ti++) {
		int rc = irs_oracle_count(o, ti, &rows, err);
		if (rc)
			return rc;
		if (rows)
			break;
	}
	if (ti == o->c->ntables)
		return irs__seterr(err, IRS_EINVAL, "--tamper: every table is empty, so there is no row to change");
	*table = ti;
	const irs_schema_table *t = &o->c->tables[ti];
	const char *kind = *kind_io;
	irs__textbuf_reset(&o->sql);
	char keys[256];
	size_t kl = 0;
	keys[0] = '\0';
	for (uint32_t k = 0; k < t->nkey && kl < sizeof keys - 16; k++)
		kl += (size_t)snprintf(keys + kl, sizeof keys - kl, "%sc%" PRIu32, k ? ", " : "", t->key_cols[k]);
	if (strcmp(kind, "update") == 0 && t->nvalues == 0)
		kind = "delete";
	if (strcmp(kind, "update") == 0) {
		uint32_t c = t->value_cols[0];
		irs_type ty = t->cols[c].type;
		sqlf(o, "UPDATE t%" PRIu32 " SET c%" PRIu32 " = CASE WHEN c%" PRIu32 " IS NULL THEN ", ti, c, c);
		sqlf(o, "%s", ty == IRS_TYPE_UTF8 ? "''" : ty == IRS_TYPE_BYTES ? "x''" : "0");
		sqlf(o, " ELSE NULL END WHERE (");
	} else if (strcmp(kind, "delete") == 0) {
		sqlf(o, "DELETE FROM t%" PRIu32 " WHERE (", ti);
	} else {
		uint32_t k0 = UINT32_MAX; /* the first key column that is not bool */
		for (uint32_t k = 0; k < t->nkey && k0 == UINT32_MAX; k++)
			if (t->cols[t->key_cols[k]].type != IRS_TYPE_BOOL)
				k0 = t->key_cols[k];
		if (k0 == UINT32_MAX) {
			*kind_io = "delete";
			return irs_oracle_tamper(o, kind_io, table, changed, err);
		}
		irs_type ty = t->cols[k0].type;
		sqlf(o, "INSERT INTO t%" PRIu32 " SELECT ", ti);
		for (uint32_t c = 0; c < t->ncols; c++) {
			if (c != k0)
				sqlf(o, "%sc%" PRIu32, c ? ", " : "", c);
			else if (ty == IRS_TYPE_UTF8)
				sqlf(o, "%s(SELECT max(c%" PRIu32 ") || 'z' FROM t%" PRIu32 ")", c ? ", " : "", c, ti);
			else if (ty == IRS_TYPE_BYTES)
				sqlf(o, "%s(SELECT max(c%" PRIu32 ") || x'ff' FROM t%" PRIu32 ")", c ? ", " : "", c, ti);
			else
				sqlf(o, "%s(SELECT max(c%" PRIu32 ") + 1 FROM t%" PRIu32 ")", c ? ", " : "", c, ti);
		}
		sqlf(o, " FROM t%" PRIu32 " WHERE (", ti);
	}
	irs__textbuf_put(&o->sql, keys, kl);
	sqlf(o, ") IN (SELECT ");
	irs__textbuf_put(&o->sql, keys, kl);
	sqlf(o, " FROM t%" PRIu32 " ORDER BY ", ti);
	irs__textbuf_put(&o->sql, keys, kl);
	sqlf(o, " LIMIT 1 OFFSET (SELECT count(*) / 2 FROM t%" PRIu32 "))", ti);
	if (irs__textbuf_cstr(&o->sql))
		return oom(o, err);
	if (sqlite3_exec(o->db, o->sql.data, NULL, NULL, NULL) != SQLITE_OK)
		return sql_fail(o, err, o->sql.data);
	*changed = sqlite3_changes(o->db);
	return 0;
}
