/*
 * ydb_change.h (private to the CLI): turning a row of a YDB incremental backup table
 * into an increstore change, exactly as YDB's DataShard restores it
 * (MakeRestoreUpdates in ydb/core/tx/datashard/incr_restore_helpers.cpp).
 *
 * THE THREE GENERATIONS of system columns (the incremental table's extra columns):
 *   1. __ydb_incrBackupImpl_deleted Bool
 *        true: erase the key. NULL/false: upsert every value column as stored (NULLs
 *        included).
 *   2. __ydb_incrBackupImpl_deleted Bool + __ydb_incrBackupImpl_columnStates String
 *        deleted true: erase. Otherwise the column states (a serialized
 *        NKikimrBackup.TColumnStateMap) rule each value column as in generation 3.
 *   3. __ydb_incrBackupImpl_changeMetadata String (NKikimrBackup.TChangeMetadata)
 *        IsDeleted: erase. Otherwise, per value column: a state with IsChanged=false
 *        leaves the column alone; else IsNull=true sets NULL; else (no state, or no
 *        metadata) the stored value is written.
 *   In 2 and 3, metadata that is NULL, empty or does not parse counts as absent: every
 *   value column is written as stored.
 *
 * WIRE FORMAT of the metadata (protobuf):
 *   TChangeMetadata / TColumnStateMap: field 1 (bytes) TColumnState, repeated;
 *                                       field 2 (varint) IsDeleted (TChangeMetadata)
 *   TColumnState: field 1 varint Tag, field 2 varint IsNull, field 3 varint IsChanged
 *   Parsing follows protobuf's: unknown fields are skipped, a known field with another
 *   wire type is an unknown field, the last value of a scalar wins, and a later state
 *   for the same tag replaces an earlier one (YDB keeps them in a hash map).
 *
 * TAGS are column ids, which scheme.pb does not carry. irs_ydb_tagmap_build recovers
 * them from the tags the table's rows use (the notes' rule): as many distinct tags as
 * value columns -> pair them in order (both are in id order); otherwise, every tag the
 * 1-based position of a value column among all columns -> positions; otherwise an error
 * listing the tags.
 */
#ifndef IRS_CLI_YDB_CHANGE_H
#define IRS_CLI_YDB_CHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ydb_scheme.h"

#define IRS_YDB_SYS_DELETED "__ydb_incrBackupImpl_deleted"
#define IRS_YDB_SYS_STATES "__ydb_incrBackupImpl_columnStates"
#define IRS_YDB_SYS_META "__ydb_incrBackupImpl_changeMetadata"
#define IRS_YDB_SYS_PREFIX "__ydb_incrBackupImpl_"

/* The system columns of an incremental table. */
typedef struct irs_ydb_sys {
	int generation;        /* 1, 2 or 3 */
	int deleted_col;       /* scheme column index, or -1 */
	int states_col;
	int meta_col;
} irs_ydb_sys;

/*
 * Finds the system columns of an incremental table (every column whose name starts
 * with __ydb_incrBackupImpl_) and the generation they make. Returns NULL, or a reason:
 * no system column, an unknown one, a combination of no generation, a wrong type.
 */
const char *irs_ydb_sys_detect(const irs_ydb_scheme *s, irs_ydb_sys *out);

/* True when column c of s is a system column. */
bool irs_ydb_sys_is_system(const irs_ydb_sys *sys, uint32_t c);

/* ---- metadata */

typedef struct irs_ydb_state {
	uint32_t tag;
	bool is_null;
	bool is_changed;
} irs_ydb_state;

typedef struct irs_ydb_meta {
	irs_ydb_state *states; /* in wire order; reused between parses */
	size_t n, cap;
	bool is_deleted;
} irs_ydb_meta;

/* Parses p[0..len) into m (reusing its buffer). 1 = parsed, 0 = malformed, -1 = ENOMEM. */
int irs_ydb_meta_parse(const uint8_t *p, size_t len, irs_ydb_meta *m);
void irs_ydb_meta_free(irs_ydb_meta *m);

/* ---- one row */

/* What the row's system columns hold (parsed by the caller). */
typedef struct irs_ydb_rowsys {
	bool deleted;          /* generations 1-2: the deleted column is true */
	const uint8_t *meta;   /* generations 2-3: the states / metadata bytes, or NULL for NULL */
	size_t meta_len;
} irs_ydb_rowsys;

/* What happens to one value column. */
enum { IRS_YDB_COL_STORED = 0, IRS_YDB_COL_SKIP = 1, IRS_YDB_COL_NULL = 2 };
/* What happens to the row. */
enum { IRS_YDB_ROW_UPSERT = 1, IRS_YDB_ROW_ERASE = 2 };

/* Sorted distinct tags -> value column index. */
typedef struct irs_ydb_tagmap {
	uint32_t *tags;        /* ascending */
	uint32_t *value;       /* value column index of tags[i] */
	size_t n;
} irs_ydb_tagmap;

/*
 * The tags whose states this row's rule reads (none for an erase or a row without
 * usable metadata), in m->states after the call. Returns the count, or -1 on ENOMEM.
 */
long irs_ydb_row_tags(int generation, const irs_ydb_rowsys *rs, irs_ydb_meta *m);

/*
 * The row's change: returns IRS_YDB_ROW_ERASE, or IRS_YDB_ROW_UPSERT with action[j]
 * (IRS_YDB_COL_*) for each of the nvalues value columns; -1 on ENOMEM; -2 when a state
 * names a tag that map does not have (*bad_tag is set; map NULL maps nothing).
 */
int irs_ydb_row_change(int generation, const irs_ydb_rowsys *rs, irs_ydb_meta *m,
		       const irs_ydb_tagmap *map, uint8_t *action, uint32_t nvalues,
		       uint32_t *bad_tag);

/*
 * Builds the tag -> value column map from the sorted distinct tags the rows use and
 * the 1-based position of each value column among all columns (ascending). On failure
 * returns IRS_EINPUT with why (listing the tags), or IRS_ENOMEM. Free with
 * irs_ydb_tagmap_free.
 */
int irs_ydb_tagmap_build(const uint32_t *tags, size_t ntags, const uint32_t *value_pos,
			 uint32_t nvalues, irs_ydb_tagmap *out, char *why, size_t whycap);
void irs_ydb_tagmap_free(irs_ydb_tagmap *m);

/* A set of tags (a small open-addressing hash set). */
typedef struct irs_ydb_tagset {
	uint64_t *slots;       /* tag + 1; 0 = empty */
	size_t cap, n;
} irs_ydb_tagset;

/* Adds tag; 0, or -1 on ENOMEM. */
int irs_ydb_tagset_add(irs_ydb_tagset *s, uint32_t tag);
/* The tags, sorted ascending, into a malloc'd array (*out NULL when empty); -1 on ENOMEM. */
int irs_ydb_tagset_sorted(const irs_ydb_tagset *s, uint32_t **out, size_t *n);
void irs_ydb_tagset_free(irs_ydb_tagset *s);

#endif
