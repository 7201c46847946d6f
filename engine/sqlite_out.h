/*
 * sqlite_out.h (private): the SQLite table layout of an exported table (export.c).
 * (verify's oracle keeps its own layout: it stores doubles and uint64 as 64-bit
 * patterns so NaN and -0.0 survive a bitwise comparison.)
 */
#ifndef IRS_ENGINE_SQLITE_OUT_H
#define IRS_ENGINE_SQLITE_OUT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/schema.h"
#include "textout.h"

/* Binds v (of column type `type`) to parameter i; NULL/ABSENT bind NULL. Strings are
 * bound SQLITE_STATIC: they must live until the statement steps. */
int irs__sqlite_bind_value(sqlite3_stmt *st, int i, irs_type type, const irs_value *v);

/* The CREATE TABLE ... STRICT statement (WITHOUT ROWID when without_rowid) and the
 * INSERT statement (one ? per column in schema order) of table t. 0 or IRS_ENOMEM. */
int irs__sqlite_table_sql(irs_textbuf *create, irs_textbuf *insert, const irs_schema_table *t,
			  bool without_rowid);

/*
 * Whether an exported table is made WITHOUT ROWID: when its rows average at most
 * IRS_SQLITE_SMALL_ROW logical bytes. Such a table is one b-tree ordered by the primary
 * key, instead of a rowid b-tree and an index on the key, which SQLite advises for rows
 * under about a twentieth of a page. 200 bytes is a twentieth of SQLite's default 4 KiB
 * page, kept although the export writes 16 KiB pages: a conservative bound, measured
 * only on W1's 70-byte rows. Larger rows stay in a rowid table, where they do not crowd
 * the key's b-tree.
 */
#define IRS_SQLITE_SMALL_ROW 200
static inline bool irs__sqlite_without_rowid(uint64_t rows, uint64_t logical_bytes)
{
	return logical_bytes <= rows * IRS_SQLITE_SMALL_ROW;
}

#endif
