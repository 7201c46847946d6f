/*
 * sqlite_oracle.h (private to the CLI; perf/ links it too): a collection's tables kept
 * in an in-memory SQLite database and changed with plain SQL. `increstore verify`
 * compares the engine against it (cmd_verify.c); perf/sqlite_apply.c times it as the
 * SQLite contender. One implementation serves both, so the contender measured is the
 * oracle trusted, and the oracle is tuned as SQLite's users would tune it.
 *
 * SEMANTICS, the restore's, in SQL alone, one transaction per backup:
 *   full backup   DELETE FROM every table, then INSERT every row
 *   UPSERT        INSERT INTO t (key..., listed...) VALUES (...)
 *                 ON CONFLICT (key...) DO UPDATE SET listed = excluded.listed
 *                 (a new row gets NULL in the unlisted columns; with no listed value
 *                 column: ON CONFLICT DO NOTHING)
 *   ERASE         DELETE FROM t WHERE key = ...
 * Every statement is prepared once: the fixed ones per table, the UPSERTs per (table,
 * set of listed columns) in a cache.
 *
 * TABLES: table i is "t<i>" with columns "c<j>" (no user names in SQL, so no quoting
 * or reserved-name problems), STRICT, PRIMARY KEY = the table's key. A key of one
 * column stored as INTEGER is the rowid (INTEGER PRIMARY KEY); other keys make a
 * WITHOUT ROWID table. Types are stored exactly: bool, int32, int64, uint32,
 * timestamp as INTEGER; uint64 as INTEGER holding its 64-bit pattern (so 2^64-1 is
 * -1); double as INTEGER holding its IEEE-754 bits (SQLite would turn NaN into NULL
 * and -0.0 into 0); utf8 as TEXT; bytes as BLOB (an empty string is a zero-length
 * value, not NULL). Reading a row back gives the exact values that were written.
 *
 * ERRORS: IRS_EIO "WHO: SQLite: <what>: <sqlite3_errmsg>", IRS_ENOMEM, IRS_ECORRUPT
 * (a record or segment that does not decode), IRS_EDUPKEY (a key twice in a full
 * backup), IRS_ECANCELED; WHO is the name given to irs_oracle_open.
 *
 * Thread: an oracle belongs to the thread that uses it; SQLite runs single-threaded
 * inside it.
 */
#ifndef IRS_CLI_SQLITE_ORACLE_H
#define IRS_CLI_SQLITE_ORACLE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/cli_support.h"

typedef struct irs_oracle irs_oracle;

/*
 * Creates the database and the tables of c (which must outlive the oracle). who
 * starts every error message ("verify"). cancel, when not NULL, is polled while
 * applying: non-zero stops with IRS_ECANCELED. Pair with irs_oracle_close.
 */
int irs_oracle_open(irs_collection *c, const char *who, const volatile sig_atomic_t *cancel,
		    irs_oracle **out, irs_error *err);
void irs_oracle_close(irs_oracle *o);

/* ------------------------------------------------------------------ applying */

/* Opens the transaction of one backup; a full backup first empties every table. */
int irs_oracle_begin(irs_oracle *o, bool full, irs_error *err);

/* Applies one decoded change record of table t (full backup: a row to INSERT). */
int irs_oracle_apply(irs_oracle *o, uint32_t t, const irs_rec *rec, irs_error *err);

/* Ends the transaction: commit, or (after a failure) roll back. */
int irs_oracle_commit(irs_oracle *o, irs_error *err);
void irs_oracle_rollback(irs_oracle *o);

/*
 * Applies backup b of the collection in one transaction: reads its segments with the
 * library's reader and batch decoder, and checks every segment's record count against
 * the manifest. On failure nothing of b stays applied.
 */
int irs_oracle_apply_backup(irs_oracle *o, uint32_t b, irs_error *err);

/* Changes applied so far. */
uint64_t irs_oracle_changes(const irs_oracle *o);

/* ------------------------------------------------------------------ reading */

/* The rows of table t. */
int irs_oracle_count(irs_oracle *o, uint32_t t, uint64_t *rows, irs_error *err);

/*
 * The row of table t whose key equals the key columns of key_row, into row[] (one
 * value per column; strings are copies that stay valid until the next lookup).
 * *bad_col is the first column whose stored value the column's type cannot hold
 * (impossible in a STRICT table, checked anyway; it and every later such column read
 * as NULL), or UINT32_MAX. Returns 1, 0 when there is no such row, or an error code.
 */
int irs_oracle_lookup(irs_oracle *o, uint32_t t, const irs_value *key_row, irs_value *row,
		      uint32_t *bad_col, irs_error *err);

/*
 * Calls fn for every row of table t in primary key order (of the stored values: the
 * 64-bit patterns for uint64 and double), a value that the column's type cannot hold
 * reading as NULL. row is valid during the call. fn returns 0 to go on, > 0 to stop;
 * irs_oracle_scan returns 0 after the last row, fn's value when it stopped, or an
 * error code.
 */
int irs_oracle_scan(irs_oracle *o, uint32_t t, int (*fn)(void *ctx, const irs_value *row),
		    void *ctx, irs_error *err);

/* ------------------------------------------------------------------ testing */

/*
 * Changes the copy of the first table holding a row (its index in *table) behind the
 * engine's back, so that a comparison must find a difference (`verify --tamper`);
 * IRS_EINVAL when every table is empty. On the middle row in key order: "update"
 * flips the first value column between NULL and a value (0, '' or a zero-length
 * blob); "delete" removes the row; "insert" adds a copy of it under a key just past
 * the largest one (in the first non-bool key column: + 1, or a byte appended).
 * "update" of a table without value columns deletes instead; so does "insert" into a
 * table whose key columns are all bool, and it sets *kind to "delete". *changed
 * receives the number of rows changed.
 */
int irs_oracle_tamper(irs_oracle *o, const char **kind, uint32_t *table, int *changed, irs_error *err);

#endif
