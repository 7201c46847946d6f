/*
 * sqlite_out.h (private): the SQLite table layout of an exported table (export.c).
 * (verify's oracle keeps its own layout: it stores doubles and uint64 as 64-bit
 * patterns so NaN and -0.0 survive a bitwise comparison.)
 */
#ifndef IRS_ENGINE_SQLITE_OUT_H
#define IRS_ENGINE_SQLITE_OUT_H

#include <sqlite3.h>

#include "common/schema.h"
#include "textout.h"

/* Binds v (of column type `type`) to parameter i; NULL/ABSENT bind NULL. Strings are
 * bound SQLITE_STATIC: they must live until the statement steps. */
int irs__sqlite_bind_value(sqlite3_stmt *st, int i, irs_type type, const irs_value *v);

/* The CREATE TABLE ... STRICT statement and the INSERT statement (one ? per column in
 * schema order) of table t. Returns 0 or IRS_ENOMEM. */
int irs__sqlite_table_sql(irs_textbuf *create, irs_textbuf *insert, const irs_schema_table *t);

#endif
