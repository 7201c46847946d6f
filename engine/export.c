/*
 * export.c: writing restored tables out as JSONL, CSV, a SQLite database, or a new
 * collection holding one full backup (the chain compacted into a new base).
 *
 * Every export writes to a temporary name beside the target and renames it into place
 * at the end, so a failed or interrupted export never leaves a partial file under the
 * target name, and an existing file there stays as it was. The restore's cancel flag
 * (what SIGINT/SIGTERM set in the CLI) is read while the tables are sorted for the
 * export (irs__cursor_open, irs__scan) and every 1024 rows: a cancelled export removes
 * its temporary and reports IRS_ECANCELED.
 *
 * SQLITE TYPES: tables are created STRICT so SQLite stores exactly what is bound:
 * bool, int32, int64, uint32, timestamp -> INTEGER (timestamp in microseconds); double
 * -> REAL; utf8 -> TEXT; bytes -> BLOB; uint64 -> ANY, holding an INTEGER when the
 * value fits in a signed 64-bit integer and, above 2^63-1, its decimal TEXT zero-padded
 * to 20 digits ("09223372036854775808" .. "18446744073709551615"). SQLite has no
 * unsigned 64-bit integer, and any numeric affinity would round such values. The TEXT
 * reads back exactly (strtoull), and the padding keeps ORDER BY numeric: SQLite sorts
 * every INTEGER before every TEXT, and equal-length digit strings sort as numbers.
 * (SQLite stores a NaN double as NULL and -0.0 as 0.0: docs/cli.md says so.)
 *
 * DURABILITY: a SQLite export is written with journaling and syncing off (it is a new
 * file nobody else sees), then fsync'd as a whole before the rename, like the text
 * exports; after the rename the directory is fsync'd, so the new name survives a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "restore.h"
#include "shard/fault.h"
#include "sqlite_out.h"
#include "textout.h"

int irs__export_cancelled(const irs_restore *r, uint64_t *rows)
{
	if ((*rows)++ % 1024 != 0)
		return 0;
	irs__fault_slow_export();
	return irs__pool_cancelled(&r->pool) ? IRS_ECANCELED : 0;
}

/* The message of a cancelled export of path. */
static int cancel_error(const char *path, irs_error *err)
{
	return irs__seterr(err, IRS_ECANCELED, "cancelled while writing %s; it was left as it was", path);
}

static int tmp_name(char *out, size_t cap, const char *path)
{
	return snprintf(out, cap, "%s.tmp-%ld", path, (long)getpid()) >= (int)cap ? -1 : 0;
}

/* fsync of a file written by someone else (SQLite): its data before its new name. */
static int sync_file(const char *path, irs_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return irs__seterr(err, IRS_EIO, "%s: fsync failed: %s", path, strerror(e));
	}
	close(fd);
	return 0;
}

static int export_text(const irs_restore *r, uint32_t table, const char *path, int csv,
		       irs_error *err)
{
	char tmp[4096];
	if (tmp_name(tmp, sizeof tmp, path))
		return irs__seterr(err, IRS_EINVAL, "%s: path too long", path);
	FILE *f = fopen(tmp, "we");
	if (!f)
		return irs__seterr(err, IRS_EIO, "%s: cannot create: %s", path, strerror(errno));
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	const irs_schema_table *t = &r->c->tables[table];
	int rc = 0, io_errno = 0;
	if (csv) {
		irs_textbuf head;
		irs__textbuf_init(&head, (irs_mem *)&r->mem);
		rc = irs__text_csv_header(&head, t);
		if (!rc && fwrite(head.data, 1, head.len, f) != head.len) {
			io_errno = errno;
			rc = IRS_EIO;
		}
		irs__textbuf_free(&head);
	}
	if (!rc)
		rc = irs__export_text_rows(r, table, csv, f, &io_errno, err);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = rc ? rc : IRS_EIO;
	if (fclose(f) != 0)
		rc = rc ? rc : IRS_EIO;
	if (!rc && rename(tmp, path) != 0)
		rc = irs__seterr(err, IRS_EIO, "%s: rename failed: %s", path, strerror(errno));
	if (!rc)
		rc = irs__fsync_parent(path, err);
	if (rc) {
		unlink(tmp);
		if (rc == IRS_ECANCELED) /* also over "cancelled sorting table T" */
			cancel_error(path, err);
		else if (rc == IRS_EIO && (!err || !err->code))
			irs__seterr(err, IRS_EIO, "%s: write failed: %s", path,
				    strerror(io_errno ? io_errno : errno));
		else if ((rc == IRS_ENOMEM || rc == IRS_ELIMIT) && (!err || !err->code))
			irs__seterr(err, rc, "%s: out of memory writing table %s", path, t->name);
		else if (err && !err->code)
			irs__seterr(err, rc, "%s: export failed", path);
	}
	return rc;
}

/* ---- SQLite */

static const char *sqlite_type(irs_type t)
{
	switch (t) {
	case IRS_TYPE_DOUBLE: return "REAL";
	case IRS_TYPE_UTF8: return "TEXT";
	case IRS_TYPE_BYTES: return "BLOB";
	case IRS_TYPE_UINT64: return "ANY";
	default: return "INTEGER";
	}
}

/* Appends a double-quoted SQL identifier. */
static void put_ident(irs_textbuf *b, const char *name)
{
	irs__textbuf_put(b, "\"", 1);
	for (const char *p = name; *p; p++) {
		if (*p == '"')
			irs__textbuf_put(b, "\"\"", 2); /* doubled inside the quotes */
		else
			irs__textbuf_put(b, p, 1);
	}
	irs__textbuf_put(b, "\"", 1);
}

int irs__sqlite_bind_value(sqlite3_stmt *st, int i, irs_type type, const irs_value *v)
{
	if (v->state != IRS_VALUE_SET)
		return sqlite3_bind_null(st, i);
	switch (type) {
	case IRS_TYPE_BOOL: return sqlite3_bind_int(st, i, v->v.b);
	case IRS_TYPE_INT32:
	case IRS_TYPE_INT64:
	case IRS_TYPE_TIMESTAMP: return sqlite3_bind_int64(st, i, v->v.i64);
	case IRS_TYPE_UINT32: return sqlite3_bind_int64(st, i, (sqlite3_int64)v->v.u64);
	case IRS_TYPE_UINT64:
		if (v->v.u64 <= (uint64_t)INT64_MAX)
			return sqlite3_bind_int64(st, i, (sqlite3_int64)v->v.u64);
		char dec[24];
		snprintf(dec, sizeof dec, "%020" PRIu64, v->v.u64);
		return sqlite3_bind_text(st, i, dec, -1, SQLITE_TRANSIENT);
	case IRS_TYPE_DOUBLE: return sqlite3_bind_double(st, i, v->v.d);
	case IRS_TYPE_UTF8: return sqlite3_bind_text(st, i, v->v.s.len ? v->v.s.ptr : "", (int)v->v.s.len, SQLITE_STATIC);
	case IRS_TYPE_BYTES: return sqlite3_bind_blob(st, i, v->v.s.len ? v->v.s.ptr : "", (int)v->v.s.len, SQLITE_STATIC);
	}
	return SQLITE_MISUSE;
}

int irs__sqlite_table_sql(irs_textbuf *create, irs_textbuf *insert, const irs_schema_table *t,
			  bool without_rowid)
{
	irs__textbuf_reset(create);
	irs__textbuf_reset(insert);
	irs__textbuf_put(create, "CREATE TABLE ", 13);
	put_ident(create, t->name);
	irs__textbuf_put(create, " (", 2);
	irs__textbuf_put(insert, "INSERT INTO ", 12);
	put_ident(insert, t->name);
	irs__textbuf_put(insert, " VALUES (", 9);
	for (uint32_t c = 0; c < t->ncols; c++) {
		if (c) {
			irs__textbuf_put(create, ", ", 2);
			irs__textbuf_put(insert, ", ", 2);
		}
		put_ident(create, t->cols[c].name);
		irs__textbuf_put(create, " ", 1);
		const char *ty = sqlite_type(t->cols[c].type);
		irs__textbuf_put(create, ty, strlen(ty));
		if (t->cols[c].is_key)
			irs__textbuf_put(create, " NOT NULL", 9);
		irs__textbuf_put(insert, "?", 1);
	}
	irs__textbuf_put(create, ", PRIMARY KEY (", 15);
	for (uint32_t k = 0; k < t->nkey; k++) {
		if (k)
			irs__textbuf_put(create, ", ", 2);
		put_ident(create, t->cols[t->key_cols[k]].name);
	}
	if (without_rowid)
		irs__textbuf_put(create, ")) WITHOUT ROWID, STRICT", 24);
	else
		irs__textbuf_put(create, ")) STRICT", 9);
	irs__textbuf_put(insert, ")", 1);
	if (irs__textbuf_cstr(create) || irs__textbuf_cstr(insert))
		return IRS_ENOMEM;
	return 0;
}

typedef struct sql_ctx {
	sqlite3 *db;
	sqlite3_stmt *ins;
	const irs_schema_table *t;
	const irs_restore *r;
	uint64_t rows;
	irs_textbuf *key;   /* the key of a row SQLite's constraints refused, as JSON */
	bool refused;       /* ... and there is one */
} sql_ctx;

/* The key columns of row as a JSON object, into b ({"x": -0.0}). */
static int key_json(irs_textbuf *b, const irs_schema_table *t, const irs_value *row)
{
	irs__textbuf_reset(b);
	int rc = irs__textbuf_put(b, "{", 1);
	for (uint32_t k = 0; !rc && k < t->nkey; k++) {
		const irs_schema_column *col = &t->cols[t->key_cols[k]];
		if (k)
			rc = irs__textbuf_put(b, ", ", 2);
		rc = rc ? rc : irs__text_json_string(b, col->name, strlen(col->name));
		rc = rc ? rc : irs__textbuf_put(b, ": ", 2);
		rc = rc ? rc : irs__text_json_value(b, col->type, &row[t->key_cols[k]]);
	}
	rc = rc ? rc : irs__textbuf_put(b, "}", 1);
	return rc ? rc : irs__textbuf_cstr(b);
}

static int sql_row(void *ctx, const irs_value *row)
{
	sql_ctx *x = ctx;
	if (irs__export_cancelled(x->r, &x->rows))
		return IRS_ECANCELED;
	for (uint32_t c = 0; c < x->t->ncols; c++)
		if (irs__sqlite_bind_value(x->ins, (int)c + 1, x->t->cols[c].type, &row[c]) != SQLITE_OK)
			return IRS_EIO;
	int rc = sqlite3_step(x->ins);
	sqlite3_reset(x->ins);
	/* a double key SQLite cannot hold: it stores -0.0 as 0.0 (then a repeat of the
	 * 0.0 key) and NaN as NULL (refused in a key) */
	if (rc == SQLITE_CONSTRAINT)
		x->refused = key_json(x->key, x->t, row) == 0;
	return rc == SQLITE_DONE ? 0 : IRS_EIO;
}

/* SQLite's message with the system error under it ("disk I/O error" says little). */
static const char *sqlite_why(sqlite3 *db, char *buf, size_t cap)
{
	int e = db ? sqlite3_system_errno(db) : 0;
	if (e)
		snprintf(buf, cap, "%s (%s)", db ? sqlite3_errmsg(db) : "cannot open", strerror(e));
	else
		snprintf(buf, cap, "%s", db ? sqlite3_errmsg(db) : "cannot open");
	return buf;
}

static int export_sqlite(const irs_restore *r, const char *path, bool all_tables, irs_error *err)
{
	char why[300];
	char tmp[4096];
	if (tmp_name(tmp, sizeof tmp, path))
		return irs__seterr(err, IRS_EINVAL, "%s: path too long", path);
	unlink(tmp);
	sqlite3 *db = NULL;
	int rc = 0;
	if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		rc = irs__seterr(err, IRS_EIO, "%s: %s", path, sqlite_why(db, why, sizeof why));
		goto out;
	}
	/* a new file written once, in key order: no journal, no syncs until the end; pages
	 * of 16 KiB and a cache of 16 MiB (the default 2 MiB) for the b-trees' right edges */
	sqlite3_exec(db, "PRAGMA page_size=16384; PRAGMA cache_size=-16384; PRAGMA journal_mode=OFF; "
			 "PRAGMA synchronous=OFF", NULL, NULL, NULL);
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		rc = irs__seterr(err, IRS_EIO, "%s: %s", path, sqlite_why(db, why, sizeof why));
		goto out;
	}
	irs_textbuf create, insert, key;
	irs__textbuf_init(&create, (irs_mem *)&r->mem);
	irs__textbuf_init(&insert, (irs_mem *)&r->mem);
	irs__textbuf_init(&key, (irs_mem *)&r->mem);
	for (uint32_t t = 0; t < r->c->ntables && !rc; t++) {
		if (!all_tables && !r->enabled[t])
			continue;
		const irs_schema_table *ts = &r->c->tables[t];
		bool without_rowid = irs__sqlite_without_rowid(irs_restore_row_count(r, t),
							      irs_restore_logical_bytes(r, t));
		if (irs__sqlite_table_sql(&create, &insert, ts, without_rowid)) {
			rc = irs__seterr(err, IRS_ENOMEM, "%s: out of memory writing table %s", path, ts->name);
			break;
		}
		sql_ctx x = {.db = db, .t = ts, .r = r, .key = &key};
		if (sqlite3_exec(db, create.data, NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(db, insert.data, -1, &x.ins, NULL) != SQLITE_OK) {
			rc = irs__seterr(err, IRS_EIO, "%s: table %s: %s", path, ts->name, sqlite_why(db, why, sizeof why));
			break;
		}
		rc = irs__scan(r, t, sql_row, &x, r->pool.cancel, err);
		if (rc == IRS_ECANCELED)
			cancel_error(path, err);
		else if (x.refused && err && !err->code)
			irs__seterr(err, rc, "%s: table %s: SQLite cannot hold the key %s (%s; it stores -0.0 "
				    "as 0.0 and NaN as NULL): export this table as JSONL or CSV", path, ts->name,
				    key.data, sqlite_why(db, why, sizeof why));
		else if (rc && err && !err->code)
			irs__seterr(err, rc, "%s: table %s: %s", path, ts->name, sqlite_why(db, why, sizeof why));
		sqlite3_finalize(x.ins);
	}
	irs__textbuf_free(&create);
	irs__textbuf_free(&insert);
	irs__textbuf_free(&key);
	if (!rc && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = irs__seterr(err, IRS_EIO, "%s: %s", path, sqlite_why(db, why, sizeof why));
out:
	if (db && sqlite3_close(db) != SQLITE_OK && !rc)
		rc = irs__seterr(err, IRS_EIO, "%s: close failed", path);
	if (!rc)
		rc = sync_file(tmp, err);
	if (!rc && rename(tmp, path) != 0)
		rc = irs__seterr(err, IRS_EIO, "%s: rename failed: %s", path, strerror(errno));
	if (!rc)
		rc = irs__fsync_parent(path, err);
	if (rc)
		unlink(tmp);
	return rc;
}

/* ---- a new collection with one full backup */

typedef struct coll_ctx {
	irs_backup_writer *w;
	uint32_t table;
	uint64_t n;
	const irs_restore *r;
	irs_error *err;
} coll_ctx;

static int coll_row(void *ctx, const irs_value *row)
{
	coll_ctx *x = ctx;
	uint64_t n = x->n;
	if (irs__export_cancelled(x->r, &n))
		return IRS_ECANCELED;
	return irs_backup_writer_upsert(x->w, x->table, row, ++x->n, x->err);
}

static int export_collection(const irs_restore *r, const char *path, bool all_tables, irs_error *err)
{
	const irs_collection *c = r->c;
	struct stat st;
	if (stat(path, &st) == 0)
		return irs__seterr(err, IRS_EEXIST, "%s already exists", path);
	char tmp[4096];
	if (tmp_name(tmp, sizeof tmp, path))
		return irs__seterr(err, IRS_EINVAL, "%s: path too long", path);
	irs_table_def *defs = irs__calloc((irs_mem *)&r->mem, sizeof(irs_table_def) * c->ntables);
	if (!defs)
		return irs__seterr(err, IRS_ENOMEM, "%s: out of memory writing the collection", path);
	uint32_t nt = 0; /* the tables written: all, or those the restore holds */
	for (uint32_t t = 0; t < c->ntables; t++)
		if (all_tables || r->enabled[t])
			irs_collection_table(c, t, &defs[nt++]);
	irs_collection *nc = NULL;
	irs_backup_writer *w = NULL;
	int rc = irs_collection_create(tmp, defs, nt, err);
	irs__free((irs_mem *)&r->mem, defs, sizeof(irs_table_def) * c->ntables);
	if (!rc)
		rc = irs_collection_open(tmp, &r->mem.a, 0, &nc, err); /* the embedder's allocator */
	const char *base_name = r->through >= 0 ? c->backups[r->through].pb->name : "empty";
	irs_writer_options wo;
	irs_writer_options_init(&wo, IRS_WRITER_OPTIONS_VERSION);
	wo.cancel = r->pool.cancel; /* the commit is the longest step: a signal stops it too */
	if (!rc)
		rc = irs_backup_writer_begin(nc, IRS_BACKUP_FULL, base_name, &wo, &w, err);
	for (uint32_t t = 0, to = 0; !rc && t < c->ntables; t++) {
		if (!all_tables && !r->enabled[t])
			continue;
		coll_ctx x = {.w = w, .table = to, .r = r, .err = err};
		rc = irs__scan(r, t, coll_row, &x, r->pool.cancel, err);
		if (!rc)
			rc = irs_backup_writer_set_expected(w, to, irs_restore_row_count(r, t),
							    irs_restore_digest(r, t), err);
		to++;
	}
	uint64_t last = 0;
	if (!rc && irs__export_cancelled(r, &last))
		rc = IRS_ECANCELED; /* before the commit */
	if (w) {
		if (rc)
			irs_backup_writer_abort(w);
		else
			rc = irs_backup_writer_commit(w, err);
	}
	irs_collection_close(nc);
	if (!rc && rename(tmp, path) != 0)
		rc = irs__seterr(err, IRS_EIO, "%s: rename failed: %s", path, strerror(errno));
	if (!rc)
		rc = irs__fsync_parent(path, err);
	if (rc == IRS_ECANCELED) /* the writer's message would speak of the temporary */
		cancel_error(path, err);
	else if (rc && err && err->code && !strstr(err->message, path))
		irs__errprefix(err, "%s: writing the collection", path);
	if (rc) {
		irs__errrename(err, tmp, path); /* the collection the caller asked for */
		irs__remove_tree_at(AT_FDCWD, tmp); /* the partial temporary collection */
	}
	return rc;
}

/* irs_restore_export; all_tables also writes the tables a filtered restore left
 * empty (a checkpoint: its schema must be the collection's). */
static int export_to(const irs_restore *r, irs_export_format format, uint32_t table, const char *path,
		     bool all_tables, irs_error *err)
{
	irs__errclear(err);
	if (!r || !path || !r->pool.shards)
		return irs__seterr(err, IRS_EINVAL, "irs_restore_export: bad argument");
	int rc;
	switch (format) {
	case IRS_EXPORT_JSONL:
	case IRS_EXPORT_CSV:
		if (table >= r->c->ntables)
			return irs__seterr(err, IRS_EINVAL, "table index %u of %u", table, r->c->ntables);
		rc = export_text(r, table, path, format == IRS_EXPORT_CSV, err);
		break;
	case IRS_EXPORT_SQLITE:
		rc = export_sqlite(r, path, all_tables, err);
		break;
	case IRS_EXPORT_COLLECTION:
		rc = export_collection(r, path, all_tables, err);
		break;
	default:
		return irs__seterr(err, IRS_EINVAL, "unknown export format %d", (int)format);
	}
	/* every failure names the file (reading the tables, e.g. out of memory sorting
	 * one, does not know it) */
	if (rc && err && !strstr(err->message, path))
		irs__errprefix(err, "%s", path);
	return rc;
}

int irs_restore_export(const irs_restore *r, irs_export_format format, uint32_t table,
		       const char *path, irs_error *err)
{
	return export_to(r, format, table, path, false, err);
}

int irs__export_checkpoint(const irs_restore *r, const char *path, irs_error *err)
{
	return export_to(r, IRS_EXPORT_COLLECTION, 0, path, true, err);
}
