/*
 * sqlite_apply.c: the SQLite contender of docs/design.md section 6. Reads a generated
 * collection with the library's reader and batch decoder (perf_walk.h, the same code
 * irs_naive_loop runs) and applies the chain, from the last full backup on, to an
 * in-memory SQLite database:
 *
 *   - ":memory:", journal_mode=OFF, synchronous=OFF, one transaction per backup;
 *   - one table per collection table; a single integer key column becomes the
 *     INTEGER PRIMARY KEY (the rowid), other keys a PRIMARY KEY of a WITHOUT ROWID
 *     table. bool/int*\/uint32/timestamp -> INTEGER, uint64 -> INTEGER holding the
 *     64-bit pattern, double -> REAL, utf8 -> TEXT, bytes -> BLOB;
 *   - UPSERT = INSERT INTO t(key, listed columns) VALUES(...) ON CONFLICT(key) DO
 *     UPDATE SET each listed column = excluded.column (DO NOTHING when none is
 *     listed); ERASE = DELETE ... WHERE key = ?. Prepared statements are cached per
 *     table and set of listed columns (the record's "changed" bitmap) and reused.
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
#include <sqlite3.h>
#include <stdarg.h>

#include "perf_walk.h"

typedef struct sbuf {
	char *p;
	size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n >= 0 && b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap * 2 + (size_t)n + 256;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
}

/* Column names are quoted; gen's names need no escaping but "" doubling keeps it safe. */
static void sb_ident(sbuf *b, const char *name)
{
	sb_add(b, "\"");
	for (const char *s = name; *s; s++)
		sb_add(b, *s == '"' ? "\"\"" : "%c", *s);
	sb_add(b, "\"");
}

typedef struct stmt_ent {
	uint8_t *changed; /* NULL = empty slot */
	sqlite3_stmt *st;
} stmt_ent;

typedef struct tstate {
	const irs_schema_table *t;
	sqlite3_stmt *del;
	stmt_ent *cache;      /* open addressing on the changed bitmap */
	size_t cache_cap, cache_n;
	irs_value *row;
	uint8_t *scratch;
} tstate;

typedef struct ctx {
	sqlite3 *db;
	tstate *ts;
	uint32_t ntables;
} ctx;

static void die_db(sqlite3 *db, const char *what)
{
	fprintf(stderr, "sqlite: %s: %s\n", what, sqlite3_errmsg(db));
	exit(3);
}

static void exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "sqlite: %s: %s\n", sql, msg ? msg : "?");
		exit(3);
	}
}

static const char *sql_type(irs_type ty)
{
	switch (ty) {
	case IRS_TYPE_DOUBLE: return "REAL";
	case IRS_TYPE_UTF8: return "TEXT";
	case IRS_TYPE_BYTES: return "BLOB";
	default: return "INTEGER";
	}
}

static bool rowid_key(const irs_schema_table *t)
{
	if (t->nkey != 1)
		return false;
	irs_type ty = t->cols[t->key_cols[0]].type;
	return ty != IRS_TYPE_DOUBLE && ty != IRS_TYPE_UTF8 && ty != IRS_TYPE_BYTES;
}

static void create_table(sqlite3 *db, const irs_schema_table *t)
{
	sbuf b = {0};
	sb_add(&b, "CREATE TABLE ");
	sb_ident(&b, t->name);
	sb_add(&b, " (");
	bool rowid = rowid_key(t);
	for (uint32_t i = 0; i < t->ncols; i++) {
		sb_add(&b, i ? ", " : "");
		sb_ident(&b, t->cols[i].name);
		sb_add(&b, " %s", sql_type(t->cols[i].type));
		if (rowid && t->cols[i].is_key)
			sb_add(&b, " PRIMARY KEY");
	}
	if (!rowid) {
		sb_add(&b, ", PRIMARY KEY (");
		for (uint32_t k = 0; k < t->nkey; k++) {
			sb_add(&b, k ? ", " : "");
			sb_ident(&b, t->cols[t->key_cols[k]].name);
		}
		sb_add(&b, ")) WITHOUT ROWID");
	} else {
		sb_add(&b, ")");
	}
	exec(db, b.p);
	free(b.p);
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
		die_db(db, sql);
	return st;
}

static sqlite3_stmt *prepare_delete(sqlite3 *db, const irs_schema_table *t)
{
	sbuf b = {0};
	sb_add(&b, "DELETE FROM ");
	sb_ident(&b, t->name);
	sb_add(&b, " WHERE ");
	for (uint32_t k = 0; k < t->nkey; k++) {
		sb_add(&b, k ? " AND " : "");
		sb_ident(&b, t->cols[t->key_cols[k]].name);
		sb_add(&b, " = ?%u", k + 1);
	}
	sqlite3_stmt *st = prepare(db, b.p);
	free(b.p);
	return st;
}

/* Parameters: the key columns (key order), then the listed value columns (value order). */
static sqlite3_stmt *prepare_upsert(sqlite3 *db, const irs_schema_table *t, const uint8_t *changed)
{
	sbuf b = {0};
	sb_add(&b, "INSERT INTO ");
	sb_ident(&b, t->name);
	sb_add(&b, " (");
	for (uint32_t k = 0; k < t->nkey; k++) {
		sb_add(&b, k ? ", " : "");
		sb_ident(&b, t->cols[t->key_cols[k]].name);
	}
	uint32_t listed = 0;
	for (uint32_t vi = 0; vi < t->nvalues; vi++)
		if (irs__bit_get(changed, vi)) {
			sb_add(&b, ", ");
			sb_ident(&b, t->cols[t->value_cols[vi]].name);
			listed++;
		}
	sb_add(&b, ") VALUES (");
	for (uint32_t i = 0; i < t->nkey + listed; i++)
		sb_add(&b, i ? ", ?" : "?");
	sb_add(&b, ") ON CONFLICT (");
	for (uint32_t k = 0; k < t->nkey; k++) {
		sb_add(&b, k ? ", " : "");
		sb_ident(&b, t->cols[t->key_cols[k]].name);
	}
	if (!listed) {
		sb_add(&b, ") DO NOTHING");
	} else {
		sb_add(&b, ") DO UPDATE SET ");
		bool first = true;
		for (uint32_t vi = 0; vi < t->nvalues; vi++)
			if (irs__bit_get(changed, vi)) {
				sb_add(&b, first ? "" : ", ");
				first = false;
				sb_ident(&b, t->cols[t->value_cols[vi]].name);
				sb_add(&b, " = excluded.");
				sb_ident(&b, t->cols[t->value_cols[vi]].name);
			}
	}
	sqlite3_stmt *st = prepare(db, b.p);
	free(b.p);
	return st;
}

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static sqlite3_stmt *upsert_stmt(sqlite3 *db, tstate *s, const uint8_t *changed)
{
	size_t nb = s->t->value_bitmap_bytes;
	for (size_t i = hash_bytes(changed, nb) & (s->cache_cap - 1);; i = (i + 1) & (s->cache_cap - 1)) {
		stmt_ent *e = &s->cache[i];
		if (!e->changed) {
			if (2 * (s->cache_n + 1) > s->cache_cap) { /* grow, then retry */
				stmt_ent *old = s->cache;
				size_t oc = s->cache_cap;
				s->cache_cap *= 2;
				s->cache = calloc(s->cache_cap, sizeof *s->cache);
				for (size_t j = 0; j < oc; j++)
					if (old[j].changed) {
						size_t k = hash_bytes(old[j].changed, nb) & (s->cache_cap - 1);
						while (s->cache[k].changed)
							k = (k + 1) & (s->cache_cap - 1);
						s->cache[k] = old[j];
					}
				free(old);
				return upsert_stmt(db, s, changed);
			}
			e->changed = malloc(nb ? nb : 1);
			memcpy(e->changed, changed, nb);
			e->st = prepare_upsert(db, s->t, changed);
			s->cache_n++;
			return e->st;
		}
		if (!memcmp(e->changed, changed, nb))
			return e->st;
	}
}

static void bind(sqlite3_stmt *st, int i, irs_type ty, const irs_value *v)
{
	int rc;
	if (v->state != IRS_VALUE_SET) {
		rc = sqlite3_bind_null(st, i);
	} else {
		switch (ty) {
		case IRS_TYPE_BOOL: rc = sqlite3_bind_int(st, i, v->v.b); break;
		case IRS_TYPE_INT32:
		case IRS_TYPE_INT64:
		case IRS_TYPE_TIMESTAMP: rc = sqlite3_bind_int64(st, i, v->v.i64); break;
		case IRS_TYPE_UINT32:
		case IRS_TYPE_UINT64: rc = sqlite3_bind_int64(st, i, (sqlite3_int64)v->v.u64); break;
		case IRS_TYPE_DOUBLE: rc = sqlite3_bind_double(st, i, v->v.d); break;
		case IRS_TYPE_UTF8:
			rc = sqlite3_bind_text(st, i, v->v.s.ptr ? v->v.s.ptr : "", (int)v->v.s.len,
					       SQLITE_STATIC);
			break;
		default:
			rc = v->v.s.ptr ? sqlite3_bind_blob(st, i, v->v.s.ptr, (int)v->v.s.len, SQLITE_STATIC)
					: sqlite3_bind_zeroblob(st, i, 0);
			break;
		}
	}
	if (rc != SQLITE_OK) {
		fprintf(stderr, "sqlite: bind failed (%d)\n", rc);
		exit(3);
	}
}

static int on_frame(void *vc, uint32_t t, const irs_rec *const *recs, size_t n)
{
	ctx *c = vc;
	tstate *s = &c->ts[t];
	const irs_schema_table *T = s->t;
	for (size_t i = 0; i < n; i++) {
		const irs_rec *r = recs[i];
		if (irs__rec_decode(T, r, s->row, s->scratch)) {
			fprintf(stderr, "record does not decode\n");
			return 1;
		}
		sqlite3_stmt *st = r->op == IRS_REC_ERASE ? s->del : upsert_stmt(c->db, s, irs__rec_changed(r));
		int p = 1;
		for (uint32_t k = 0; k < T->nkey; k++) {
			uint32_t col = T->key_cols[k];
			bind(st, p++, T->cols[col].type, &s->row[col]);
		}
		if (r->op != IRS_REC_ERASE)
			for (uint32_t vi = 0; vi < T->nvalues; vi++) {
				uint32_t col = T->value_cols[vi];
				if (s->row[col].state != IRS_VALUE_ABSENT)
					bind(st, p++, T->cols[col].type, &s->row[col]);
			}
		if (sqlite3_step(st) != SQLITE_DONE)
			die_db(c->db, "step");
		sqlite3_reset(st);
	}
	return 0;
}

static int on_begin(void *vc, uint32_t b, bool full)
{
	(void)b, (void)full; /* the chain has one full backup, first, into empty tables */
	exec(((ctx *)vc)->db, "BEGIN");
	return 0;
}

static int on_end(void *vc, uint32_t b)
{
	(void)b;
	exec(((ctx *)vc)->db, "COMMIT");
	return 0;
}

/* Content digest of table t and its row count, from a SELECT of every column. */
static uint64_t table_digest(sqlite3 *db, const irs_schema_table *t, uint64_t *rows)
{
	sbuf b = {0};
	sb_add(&b, "SELECT ");
	for (uint32_t i = 0; i < t->ncols; i++) {
		sb_add(&b, i ? ", " : "");
		sb_ident(&b, t->cols[i].name);
	}
	sb_add(&b, " FROM ");
	sb_ident(&b, t->name);
	sqlite3_stmt *st = prepare(db, b.p);
	free(b.p);
	irs_value *row = calloc(t->ncols, sizeof *row);
	uint64_t d = 0;
	*rows = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (uint32_t i = 0; i < t->ncols; i++) {
			irs_value *v = &row[i];
			memset(v, 0, sizeof *v);
			if (sqlite3_column_type(st, (int)i) == SQLITE_NULL) {
				v->state = IRS_VALUE_NULL;
				continue;
			}
			v->state = IRS_VALUE_SET;
			switch (t->cols[i].type) {
			case IRS_TYPE_BOOL: v->v.b = sqlite3_column_int(st, (int)i); break;
			case IRS_TYPE_INT32:
			case IRS_TYPE_INT64:
			case IRS_TYPE_TIMESTAMP: v->v.i64 = sqlite3_column_int64(st, (int)i); break;
			case IRS_TYPE_UINT32:
			case IRS_TYPE_UINT64: v->v.u64 = (uint64_t)sqlite3_column_int64(st, (int)i); break;
			case IRS_TYPE_DOUBLE: v->v.d = sqlite3_column_double(st, (int)i); break;
			case IRS_TYPE_UTF8:
				v->v.s.ptr = sqlite3_column_text(st, (int)i);
				v->v.s.len = (size_t)sqlite3_column_bytes(st, (int)i);
				break;
			default:
				v->v.s.ptr = sqlite3_column_blob(st, (int)i);
				v->v.s.len = (size_t)sqlite3_column_bytes(st, (int)i);
				break;
			}
		}
		d = irs__digest_add(d, irs__row_digest(t, row));
		(*rows)++;
	}
	if (rc != SQLITE_DONE)
		die_db(db, "select");
	sqlite3_finalize(st);
	free(row);
	return d;
}

int main(int argc, char **argv)
{
	irs_collection *col = perf_open(argc, argv, "irs_sqlite_apply DIR");
	double decode_s = perf_decode_only(col);

	ctx c = {.ntables = col->ntables};
	if (sqlite3_open(":memory:", &c.db) != SQLITE_OK)
		die_db(c.db, "open");
	exec(c.db, "PRAGMA journal_mode=OFF");
	exec(c.db, "PRAGMA synchronous=OFF");
	c.ts = calloc(col->ntables, sizeof *c.ts);
	for (uint32_t t = 0; t < col->ntables; t++) {
		tstate *s = &c.ts[t];
		s->t = &col->tables[t];
		create_table(c.db, s->t);
		s->del = prepare_delete(c.db, s->t);
		s->cache_cap = 64;
		s->cache = calloc(s->cache_cap, sizeof *s->cache);
		s->row = calloc(s->t->ncols, sizeof *s->row);
		s->scratch = malloc(IRS_MAX_KEY_BYTES + 1);
	}

	perf_walk_cb cb = {.backup_begin = on_begin, .frame = on_frame, .backup_end = on_end, .ctx = &c};
	uint64_t changes;
	double t0 = perf_now();
	if (perf_walk(col, &cb, &changes))
		return 3;
	double secs = perf_now() - t0;

	uint64_t rows = 0, digest = 0;
	for (uint32_t t = 0; t < col->ntables; t++) {
		uint64_t n, d = table_digest(c.db, &col->tables[t], &n);
		if (t == 0)
			digest = d;
		rows += n;
	}
	printf("{\"engine\": \"sqlite\", \"seconds\": %.6f, \"decode_seconds\": %.6f, \"changes\": %llu, "
	       "\"rows\": %llu, \"digest\": \"%016llx\", \"note\": \"in-memory, journal_mode=OFF, "
	       "synchronous=OFF, cached prepared upserts per listed-column set, one transaction per "
	       "backup; timed: read+decode+bind+step\"}\n",
	       secs, decode_s, (unsigned long long)changes, (unsigned long long)rows,
	       (unsigned long long)digest);
	return 0;
}
