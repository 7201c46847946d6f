/*
 * ydb_plan.c: the import plan of ydb_plan.h: backups to import, the collection's
 * schema, and every table's column mapping, with every structural refusal.
 *
 * ALGORITHM
 *   1. Choose the backups: all of them (the first must be full), or, appending, the
 *      ones after the collection's last backup, once the two chains are checked to
 *      agree where they overlap.
 *   2. Read the scheme.pb of every table of every chosen backup.
 *   3. New collection: walk the full backups in order; a table's first appearance
 *      defines it, later ones must match. Appending: the collection's schema is the
 *      definition, and every full table must match it.
 *   4. Check every incremental table against its definition (columns by name, same
 *      YDB types, same key, known system columns) and its presence in its base full.
 *   5. Map each scheme column to the collection column of the same name.
 */
#include "ydb_plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cli_support.h"

static int nomem(irs_error *err)
{
	return irs__seterr(err, IRS_ENOMEM, "out of memory");
}

/* Names increstore accepts for backups, tables and columns. */
static const char *name_problem(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > IRS_MAX_NAME)
		return "must be 1 to 255 bytes";
	if (!irs__utf8_valid((const uint8_t *)s, n))
		return "is not valid UTF-8";
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20)
			return "holds a control character";
	return NULL;
}

/* ---- the collection's tables */

static int find_table(const irs_ydb_plan *p, const char *name)
{
	for (uint32_t t = 0; t < p->ntables; t++)
		if (strcmp(p->tables[t].name, name) == 0)
			return (int)t;
	return -1;
}

static int find_column(const irs_table_def *d, const char *name)
{
	for (uint32_t c = 0; c < d->column_count; c++)
		if (strcmp(d->columns[c].name, name) == 0)
			return (int)c;
	return -1;
}

static int grow_tables(irs_ydb_plan *p, irs_error *err)
{
	uint32_t n = p->ntables + 1;
	irs_table_def *t = realloc(p->tables, n * sizeof *t);
	if (t)
		p->tables = t;
	irs_ydb_kind **k = realloc(p->kinds, n * sizeof *k);
	if (k)
		p->kinds = k;
	const char **o = realloc(p->origin, n * sizeof *o);
	if (o)
		p->origin = o;
	if (!t || !k || !o)
		return nomem(err);
	memset(&p->tables[p->ntables], 0, sizeof *t);
	p->kinds[p->ntables] = NULL;
	p->origin[p->ntables] = NULL;
	return 0;
}

/* Appends a table defined by scheme s of a full backup (no system columns). */
static int add_table(irs_ydb_plan *p, const char *name, const irs_ydb_scheme *s, const char *origin,
		     irs_error *err)
{
	if (grow_tables(p, err))
		return err->code;
	irs_table_def *d = &p->tables[p->ntables];
	irs_column_def *cols = calloc(s->ncols, sizeof *cols);
	uint32_t *pk = calloc(s->npk, sizeof *pk);
	irs_ydb_kind *kinds = calloc(s->ncols, sizeof *kinds);
	char *tname = strdup(name);
	p->ntables++; /* owned by the plan from here on, also when half-filled */
	d->name = tname;
	d->columns = cols;
	d->primary_key = pk;
	p->kinds[p->ntables - 1] = kinds;
	p->origin[p->ntables - 1] = origin;
	if (!cols || !pk || !kinds || !tname)
		return nomem(err);
	for (uint32_t c = 0; c < s->ncols; c++) {
		cols[c].type = irs_ydb_kind_type(s->cols[c].kind);
		kinds[c] = s->cols[c].kind;
		if (!(cols[c].name = strdup(s->cols[c].name)))
			return nomem(err);
		d->column_count++;
	}
	memcpy(pk, s->pk, s->npk * sizeof *pk);
	d->primary_key_count = s->npk;
	return 0;
}

/* Copies the schema of the collection being appended to. */
static int copy_schema(irs_ydb_plan *p, const irs_collection *c, irs_error *err)
{
	for (uint32_t t = 0; t < irs_collection_table_count(c); t++) {
		irs_table_def src;
		if (irs_collection_table(c, t, &src))
			return irs__seterr(err, IRS_EIO, "cannot read table %u of the collection", t);
		if (grow_tables(p, err))
			return err->code;
		irs_table_def *d = &p->tables[p->ntables++];
		p->origin[p->ntables - 1] = "the collection";
		irs_column_def *cols = calloc(src.column_count, sizeof *cols);
		uint32_t *pk = calloc(src.primary_key_count, sizeof *pk);
		d->name = strdup(src.name);
		d->columns = cols;
		d->primary_key = pk;
		if (!cols || !pk || !d->name)
			return nomem(err);
		for (uint32_t k = 0; k < src.column_count; k++) {
			cols[k].type = src.columns[k].type;
			if (!(cols[k].name = strdup(src.columns[k].name)))
				return nomem(err);
			d->column_count++;
		}
		memcpy(pk, src.primary_key, src.primary_key_count * sizeof *pk);
		d->primary_key_count = src.primary_key_count;
	}
	return 0;
}

/* ---- checks */

static int refuse(irs_error *err, const irs_ydb_plan_backup *b, const irs_ydb_plan_table *t,
		  const char *fmt, ...) IRS_PRINTF(4, 5);

/* "backup B: table T: <formatted>", IRS_EINPUT. */
static int refuse(irs_error *err, const irs_ydb_plan_backup *b, const irs_ydb_plan_table *t,
		  const char *fmt, ...)
{
	char what[IRS_ERROR_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return irs__seterr(err, IRS_EINPUT, "backup %s: table %s: %s", b->dump->name, t->dump->name, what);
}

/* Column names, types and system columns of one table of one backup. */
static int check_columns(const irs_ydb_plan_backup *b, irs_ydb_plan_table *t, irs_error *err)
{
	const irs_ydb_scheme *s = &t->scheme;
	bool full = b->dump->kind == IRS_BACKUP_FULL;
	if (!full) {
		const char *why = irs_ydb_sys_detect(s, &t->sys);
		if (why)
			return refuse(err, b, t, "%s", why);
	}
	for (uint32_t c = 0; c < s->ncols; c++) {
		const irs_ydb_column *col = &s->cols[c];
		if (!full && irs_ydb_sys_is_system(&t->sys, c))
			continue;
		const char *why = name_problem(col->name);
		if (why)
			return refuse(err, b, t, "column name %s %s", col->name, why);
		if (full && strncmp(col->name, IRS_YDB_SYS_PREFIX, strlen(IRS_YDB_SYS_PREFIX)) == 0)
			return refuse(err, b, t,
				      "column %s is an incremental backup's system column, in a full backup",
				      col->name);
		if (col->kind == IRS_YDB_UNSUPPORTED)
			return refuse(err, b, t, "column %s: YDB type %s cannot be imported into increstore",
				      col->name, col->type_name);
	}
	return 0;
}

/* Same columns (by name), types and key as the collection's table d (kinds may be NULL). */
static int check_matches(const irs_ydb_plan *p, const irs_ydb_plan_backup *b, irs_ydb_plan_table *t,
			 irs_error *err)
{
	const irs_table_def *d = &p->tables[t->table];
	const irs_ydb_kind *kinds = p->kinds[t->table];
	const char *origin = p->origin[t->table];
	const irs_ydb_scheme *s = &t->scheme;
	bool full = b->dump->kind == IRS_BACKUP_FULL;
	uint32_t seen = 0;
	t->target = calloc(s->ncols, sizeof *t->target);
	if (!t->target)
		return nomem(err);
	for (uint32_t c = 0; c < s->ncols; c++) {
		const irs_ydb_column *col = &s->cols[c];
		t->target[c] = IRS_YDB_NOT_MAPPED;
		if (!full && irs_ydb_sys_is_system(&t->sys, c))
			continue;
		int k = find_column(d, col->name);
		if (k < 0)
			return refuse(err, b, t, "column %s is not in the table as %s defines it",
				      col->name, origin);
		bool same = kinds ? kinds[k] == col->kind : d->columns[k].type == irs_ydb_kind_type(col->kind);
		if (!same) {
			const char *was = kinds ? irs_ydb_kind_name(kinds[k]) : irs_type_name(d->columns[k].type);
			return refuse(err, b, t, "column %s is %s here but %s in %s", col->name,
				      col->type_name, was, origin);
		}
		t->target[c] = (uint32_t)k;
		seen++;
	}
	if (seen != d->column_count) {
		for (uint32_t k = 0; k < d->column_count; k++)
			if (irs_ydb_scheme_find(s, d->columns[k].name) < 0)
				return refuse(err, b, t, "column %s (in the table as %s defines it) is missing",
					      d->columns[k].name, origin);
	}
	bool same_key = s->npk == d->primary_key_count;
	for (uint32_t i = 0; same_key && i < s->npk; i++)
		same_key = t->target[s->pk[i]] == d->primary_key[i];
	if (!same_key)
		return refuse(err, b, t, "its primary key differs from the one %s defines", origin);
	return 0;
}

/* The last full backup of the dump before backup index i, or NULL. */
static const irs_ydb_dump_backup *base_full(const irs_ydb_dump *d, uint32_t i)
{
	while (i-- > 0)
		if (d->backups[i].kind == IRS_BACKUP_FULL)
			return &d->backups[i];
	return NULL;
}

/* ---- choosing the backups */

/* Appending: the dump's index of the first backup to import. */
static int match_chain(const irs_ydb_dump *d, const irs_collection *c, uint32_t *first, irs_error *err)
{
	uint32_t nc = irs_collection_backup_count(c);
	*first = 0;
	if (nc == 0)
		return 0;
	irs_backup_info last;
	irs_collection_backup(c, nc - 1, &last);
	const char *prev = NULL;
	for (uint32_t i = 0; i < nc; i++) {
		irs_backup_info bi;
		irs_collection_backup(c, i, &bi);
		if (strcmp(bi.name, d->backups[0].name) < 0)
			continue;
		if (prev && strcmp(prev, bi.name) >= 0)
			return irs__seterr(err, IRS_EINPUT,
					   "the chains diverge: the collection's backups %s and %s are not in "
					   "name order, as a YDB collection's are",
					   prev, bi.name);
		prev = bi.name;
		uint32_t j = 0;
		while (j < d->nbackups && strcmp(d->backups[j].name, bi.name) != 0)
			j++;
		if (j == d->nbackups)
			return irs__seterr(err, IRS_EINPUT,
					   "the chains diverge: the collection has backup %s, which the dump "
					   "does not",
					   bi.name);
		if (d->backups[j].kind != bi.kind)
			return irs__seterr(err, IRS_EINPUT,
					   "the chains diverge: backup %s is %s in the collection but %s in the "
					   "dump",
					   bi.name, bi.kind == IRS_BACKUP_FULL ? "full" : "incremental",
					   d->backups[j].kind == IRS_BACKUP_FULL ? "full" : "incremental");
	}
	for (uint32_t j = 0; j < d->nbackups; j++) {
		if (strcmp(d->backups[j].name, last.name) > 0) {
			*first = j;
			return 0;
		}
		if (irs_collection_find_backup(c, d->backups[j].name) < 0)
			return irs__seterr(err, IRS_EINPUT,
					   "the chains diverge: the dump has backup %s, which the collection "
					   "lacks although it has the later backup %s",
					   d->backups[j].name, last.name);
	}
	*first = d->nbackups;
	return 0;
}

/* ---- the plan */

static int read_schemes(irs_ydb_plan_backup *b, irs_error *err)
{
	b->tables = calloc(b->dump->ntables ? b->dump->ntables : 1, sizeof *b->tables);
	if (!b->tables)
		return nomem(err);
	for (uint32_t i = 0; i < b->dump->ntables; i++) {
		irs_ydb_plan_table *t = &b->tables[i];
		t->dump = &b->dump->tables[i];
		b->bytes += t->dump->bytes;
		const char *why = name_problem(t->dump->name);
		if (why)
			return irs__seterr(err, IRS_EINPUT, "backup %s: table name %s %s (increstore's limit)",
					   b->dump->name, t->dump->name, why);
		size_t n = strlen(t->dump->dir) + sizeof "/scheme.pb";
		char *path = malloc(n);
		if (!path)
			return nomem(err);
		snprintf(path, n, "%s/scheme.pb", t->dump->dir);
		int rc = irs_ydb_scheme_read(path, &t->scheme, err);
		free(path);
		b->ntables++;
		if (rc)
			return rc;
		if ((rc = check_columns(b, t, err)) != 0)
			return rc;
	}
	return 0;
}

/* A new collection's tables in name order (the full backups may add them in any order). */
static void sort_tables(irs_ydb_plan *p)
{
	for (uint32_t i = 1; i < p->ntables; i++) {
		for (uint32_t j = i; j > 0 && strcmp(p->tables[j - 1].name, p->tables[j].name) > 0; j--) {
			irs_table_def t = p->tables[j];
			p->tables[j] = p->tables[j - 1];
			p->tables[j - 1] = t;
			irs_ydb_kind *k = p->kinds[j];
			p->kinds[j] = p->kinds[j - 1];
			p->kinds[j - 1] = k;
			const char *o = p->origin[j];
			p->origin[j] = p->origin[j - 1];
			p->origin[j - 1] = o;
		}
	}
}

/* Defines (new collection) or checks the tables of the full backups, then checks and maps
 * every table. */
static int build_schema(irs_ydb_plan *p, const irs_ydb_dump *d, uint32_t first, bool append,
			irs_error *err)
{
	for (uint32_t i = 0; i < p->nbackups; i++) {
		irs_ydb_plan_backup *b = &p->backups[i];
		if (b->dump->kind != IRS_BACKUP_FULL)
			continue;
		for (uint32_t k = 0; k < b->ntables; k++) {
			irs_ydb_plan_table *t = &b->tables[k];
			int at = find_table(p, t->dump->name);
			if (at < 0 && append)
				return irs__seterr(err, IRS_EINPUT,
						   "backup %s: table %s is not in the collection, whose tables "
						   "cannot change; import the dump into a new collection",
						   b->dump->name, t->dump->name);
			if (at < 0 && add_table(p, t->dump->name, &t->scheme, b->dump->name, err))
				return err->code;
		}
	}
	if (!append)
		sort_tables(p);
	for (uint32_t i = 0; i < p->nbackups; i++) {
		irs_ydb_plan_backup *b = &p->backups[i];
		const irs_ydb_dump_backup *base = base_full(d, first + i);
		for (uint32_t k = 0; k < b->ntables; k++) {
			irs_ydb_plan_table *t = &b->tables[k];
			int at = find_table(p, t->dump->name);
			bool in_base = b->dump->kind == IRS_BACKUP_FULL ||
				       (base ? irs_ydb_dump_find_table(base, t->dump->name) != NULL : at >= 0);
			if (at < 0 || !in_base)
				return irs__seterr(err, IRS_EINPUT,
						   "backup %s: table %s is not in its base full backup %s",
						   b->dump->name, t->dump->name,
						   base ? base->name : "(none in the dump)");
			t->table = (uint32_t)at;
			int rc = check_matches(p, b, t, err);
			if (rc)
				return rc;
		}
	}
	if (p->ntables > IRS_MAX_TABLES)
		return irs__seterr(err, IRS_EINPUT, "the dump has %u tables; increstore holds at most %d",
				   p->ntables, IRS_MAX_TABLES);
	return 0;
}

int irs_ydb_plan_make(const irs_ydb_dump *d, const irs_collection *existing, irs_ydb_plan *p,
		      irs_error *err)
{
	memset(p, 0, sizeof *p);
	uint32_t first = 0;
	int rc = existing ? match_chain(d, existing, &first, err) : 0;
	if (rc)
		return rc;
	p->skipped = first;
	if (first < d->nbackups && d->backups[first].kind != IRS_BACKUP_FULL &&
	    (!existing || irs_collection_backup_count(existing) == 0))
		return irs__seterr(err, IRS_EINPUT,
				   "backup %s: an incremental backup before any full backup (the dump "
				   "must start with a <timestamp>_full directory)",
				   d->backups[first].name);
	p->backups = calloc(d->nbackups - first + 1, sizeof *p->backups);
	if (!p->backups)
		return nomem(err);
	for (uint32_t i = first; !rc && i < d->nbackups; i++) {
		irs_ydb_plan_backup *b = &p->backups[p->nbackups++];
		b->dump = &d->backups[i];
		const char *why = name_problem(b->dump->name);
		if (why)
			rc = irs__seterr(err, IRS_EINPUT, "backup name %s %s (increstore's limit)", b->dump->name,
					 why);
		else
			rc = read_schemes(b, err);
	}
	if (!rc && existing)
		rc = copy_schema(p, existing, err);
	if (!rc)
		rc = build_schema(p, d, first, existing != NULL, err);
	if (rc)
		irs_ydb_plan_free(p);
	return rc;
}

void irs_ydb_plan_free(irs_ydb_plan *p)
{
	if (!p)
		return;
	for (uint32_t i = 0; i < p->nbackups; i++) {
		irs_ydb_plan_backup *b = &p->backups[i];
		for (uint32_t k = 0; k < b->ntables; k++) {
			irs_ydb_scheme_free(&b->tables[k].scheme);
			free(b->tables[k].target);
		}
		free(b->tables);
	}
	free(p->backups);
	for (uint32_t t = 0; t < p->ntables; t++) {
		irs_table_def *d = &p->tables[t];
		for (uint32_t c = 0; c < d->column_count; c++)
			free((char *)d->columns[c].name);
		free((void *)d->columns);
		free((void *)d->primary_key);
		free((char *)d->name);
		free(p->kinds[t]);
	}
	free(p->tables);
	free(p->kinds);
	free(p->origin);
	memset(p, 0, sizeof *p);
}
