/*
 * ydb_plan.h (private to the CLI): deciding what `import-ydb` writes, before anything is
 * written: which of the dump's backups, the collection's tables, and for every table of
 * every imported backup its scheme.pb, its system columns and where each of its columns
 * goes. Every refusal about the dump's structure is made here, so a refused dump never
 * creates anything.
 *
 * RULES
 *   - Backups are imported in name order, named after their directories. Without an
 *     existing collection the first must be a full backup.
 *   - The collection's tables are every table of every full backup of the dump, sorted
 *     by name; each is defined by the first full backup holding it. A full backup
 *     without one of them has no rows for it (the table is empty there).
 *   - A table's columns are matched by name. Every full backup must give a table the
 *     same columns (names and YDB types) and the same primary key. An incremental must
 *     give the same, plus its system columns (ydb_change.h), and its table must be in its
 *     base full backup (the last full before it).
 *   - Columns of a type increstore cannot hold are refused, naming backup, table,
 *     column and type. Nullability does not matter (incremental tables make every
 *     column nullable).
 *   - With an existing collection (append): its backups must be the dump's, in the same
 *     order and kinds, up to its last one (the dump may lack older ones); the backups
 *     after its last are imported, and their tables must be in its schema, with the
 *     same definitions.
 */
#ifndef IRS_CLI_YDB_PLAN_H
#define IRS_CLI_YDB_PLAN_H

#include <stdint.h>

#include "increstore.h"
#include "ydb_change.h"
#include "ydb_dump.h"
#include "ydb_scheme.h"

typedef struct irs_ydb_plan_table {
	const irs_ydb_dump_table *dump;   /* the table's files */
	irs_ydb_scheme scheme;
	irs_ydb_sys sys;                  /* incremental backups only */
	uint32_t table;                   /* the collection's table index */
	uint32_t *target;                 /* per scheme column: collection column or
					   * IRS_YDB_NOT_MAPPED (system) */
} irs_ydb_plan_table;

typedef struct irs_ydb_plan_backup {
	const irs_ydb_dump_backup *dump;
	irs_ydb_plan_table *tables;
	uint32_t ntables;
	uint64_t bytes;                   /* data bytes of its tables */
} irs_ydb_plan_backup;

typedef struct irs_ydb_plan {
	irs_ydb_plan_backup *backups;     /* to import, in order */
	uint32_t nbackups;
	/* the collection's schema (new collection; for append, a copy of its schema) */
	irs_table_def *tables;            /* every string and array owned by the plan */
	uint32_t ntables;
	irs_ydb_kind **kinds;             /* per table, per column: the YDB type that defined
					   * it; NULL for a collection's own tables (append) */
	const char **origin;              /* per table: the backup that defined it, or the
					   * collection's directory */
	uint32_t skipped;                 /* append: the dump's backups the collection has */
} irs_ydb_plan;

/*
 * Plans the import of dump. existing is the collection to append to, or NULL for a new
 * one. Errors: IRS_EINPUT (naming the backup, table, file or column), IRS_EIO,
 * IRS_ENOMEM. On error the plan is empty.
 */
int irs_ydb_plan_make(const irs_ydb_dump *dump, const irs_collection *existing,
		      irs_ydb_plan *out, irs_error *err);

void irs_ydb_plan_free(irs_ydb_plan *p);

#endif
