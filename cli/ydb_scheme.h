/*
 * ydb_scheme.h (private to the CLI): a table's definition from the scheme.pb of a YDB
 * dump, a text-format Ydb.Table.CreateTableRequest (ydb/public/api/protos/ydb_table.proto).
 *
 * Read from it: `columns { name: "..." type { ... } not_null: ... }` in file order
 * (which is column-id order), the repeated `primary_key: "..."` in key order, and the
 * attribute `attributes { key: "__incremental_backup" ... }`. Every other field
 * (family, storage_settings, column_families, partitioning_settings, ttl_settings,
 * indexes, key_bloom_filter, ...) is skipped.
 *
 * Types (Ydb.Type): `type_id: X` (NOT NULL), `optional_type { item { type_id: X } }`
 * (nullable), `decimal_type { precision: P scale: S }`, `pg_type { ... }`, containers.
 * A column whose type increstore cannot hold keeps kind IRS_YDB_UNSUPPORTED and its
 * YDB spelling in type_name ("Decimal(22,9)", "TzDate", "List<...>"); the caller
 * decides whether that is an error (it is not for a column it will never read).
 */
#ifndef IRS_CLI_YDB_SCHEME_H
#define IRS_CLI_YDB_SCHEME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "increstore.h"
#include "ydb_value.h"

#define IRS_YDB_SCHEME_MAX_BYTES ((size_t)16 << 20)

/* A scheme column with no collection column (a system column). */
#define IRS_YDB_NOT_MAPPED UINT32_MAX

typedef struct irs_ydb_column {
	char *name;
	irs_ydb_kind kind;        /* IRS_YDB_UNSUPPORTED: see type_name */
	char type_name[64];       /* YDB's name of the type, for messages */
	bool optional;            /* written as optional_type (nullable) */
	bool not_null;            /* not_null: true */
} irs_ydb_column;

typedef struct irs_ydb_scheme {
	irs_ydb_column *cols;     /* in file order (= column-id order) */
	uint32_t ncols;
	uint32_t *pk;             /* indexes into cols, in key order */
	uint32_t npk;
	bool incremental;         /* has the __incremental_backup attribute */
} irs_ydb_scheme;

/*
 * Parses a scheme.pb's text. name is the file in messages. Errors (IRS_EINPUT): syntax,
 * no columns, a column without name or type, a duplicate column, no primary key, a
 * primary key naming an unknown column or one twice. IRS_ENOMEM.
 */
int irs_ydb_scheme_parse(const char *text, size_t len, const char *name, irs_ydb_scheme *out,
			 irs_error *err);

/* Reads and parses the file at path (at most IRS_YDB_SCHEME_MAX_BYTES; IRS_EIO when it
 * cannot be read). */
int irs_ydb_scheme_read(const char *path, irs_ydb_scheme *out, irs_error *err);

/* Releases what a parse filled in; the struct itself is the caller's. NULL is a no-op. */
void irs_ydb_scheme_free(irs_ydb_scheme *s);

/* Index of the column named name, or -1. */
int irs_ydb_scheme_find(const irs_ydb_scheme *s, const char *name);

/* True when column c is one of the primary key columns. */
bool irs_ydb_scheme_is_key(const irs_ydb_scheme *s, uint32_t c);

#endif
