/*
 * table.h (private): one shard's partition of one table, the in-memory table that
 * restores write into. See table.c for the layout, invariants and the reasoning.
 *
 * A partition holds the rows whose key hash maps to its shard (irs__shard_of). It is
 * an open-addressing hash index over encoded keys (common/keycodec.h) whose slots
 * point at row blobs in a per-partition arena.
 *
 * FAILURE ATOMICITY (docs/design.md section 4) is two-phase:
 *
 *     stage:  bytes += irs__part_rec_bound(p, rec)   for each staged UPSERT
 *             irs__part_reserve(p, nupserts, bytes)   may fail: table untouched
 *     apply:  irs__part_apply(p, rec, &counts)        cannot fail; uses up the
 *                                                     record's share of the reservation
 *
 * A backup discarded after a failure simply is not applied: call
 * irs__part_unreserve() and the table is exactly as it was (it may keep the extra
 * capacity it grew, which later backups reuse).
 *
 * THREADS: a partition is owned by one shard thread, which alone calls every
 * function that changes it (reserve, apply, unreserve, clear). The read functions
 * (get, row_values, next, sorted, digest, check, counters) write nothing, so any
 * number of threads may call them at once while the owner is quiescent, i.e. between
 * backups, after a barrier that orders the owner's writes before the reads (the
 * countdown's release/acquire does). No function here synchronises; none blocks.
 *
 * OWNERSHIP: row blob pointers returned by get/next/sorted, and the string values
 * irs__part_row_values() points into them, stay valid until the next change to the
 * partition (apply, clear, destroy).
 */
#ifndef IRS_SHARD_TABLE_H
#define IRS_SHARD_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "common/alloc.h"
#include "common/record.h"
#include "common/schema.h"

typedef struct irs_table_part irs_table_part;

/* What applying changes did; irs__part_apply adds to these. */
typedef struct irs_apply_counts {
	uint64_t inserted;    /* UPSERT of a missing key */
	uint64_t updated;     /* UPSERT of an existing key */
	uint64_t erased;      /* ERASE of an existing key */
	uint64_t noop_erases; /* ERASE of a missing key (does nothing) */
} irs_apply_counts;

/* ------------------------------------------------------------------ lifetime */

/*
 * Creates an empty partition of table t, with a hash index sized so that
 * expected_rows rows fit without growing (0 = allocate nothing yet). t and mem must
 * outlive the partition. Errors: IRS_ENOMEM, IRS_ELIMIT. Pair with
 * irs__part_destroy(). Thread: any; the partition then belongs to its owner.
 */
int irs__part_create(irs_mem *mem, const irs_schema_table *t, uint64_t expected_rows,
		     irs_table_part **out);

/* Frees the partition and every row; NULL is a no-op. Thread: owner, quiescent. */
void irs__part_destroy(irs_table_part *p);

/*
 * Removes every row and drops any reservation: a full backup restarts the table. Keeps
 * the hash index capacity; frees the row arena. Thread: owner.
 */
void irs__part_clear(irs_table_part *p);

/* ------------------------------------------------------------------ staging */

/*
 * Worst-case bytes of new row storage that applying rec can take (a multiple of 8;
 * 0 for an ERASE). Depends on the record and the schema only, never on what the
 * table holds, so it can be computed before earlier backups are applied.
 * irs__part_rec_bound gives the same number faster (layout precomputed).
 * Thread: any (pure).
 */
size_t irs__rec_row_bound(const irs_schema_table *t, const irs_rec *rec);
size_t irs__part_rec_bound(const irs_table_part *p, const irs_rec *rec);

/*
 * Makes sure that nrecs more UPSERT records whose bounds sum to `bytes` can be applied
 * without allocating: grows the hash index so nrecs more rows fit under the load
 * factor and the arena so `bytes` more bytes of blobs fit. Reservations add up; each
 * applied UPSERT uses up one row and its bound (whether it inserted, updated or took
 * less), so a reservation settles itself when the records it covered are applied.
 * ERASE records need no reservation (counting them in nrecs is harmless).
 * Errors: IRS_ENOMEM or IRS_ELIMIT (the memory limit), or IRS_ENOMEM when the
 * partition would exceed its 16 GiB arena; on error the rows, counters and earlier
 * reservations are unchanged and the partition stays usable. Thread: owner.
 */
int irs__part_reserve(irs_table_part *p, uint64_t nrecs, uint64_t bytes);

/*
 * Drops what is left of every reservation. Call when staged records are discarded
 * instead of applied (and harmless after applying them). The memory stays with the
 * partition for later use. Thread: owner.
 */
void irs__part_unreserve(irs_table_part *p);

/* ------------------------------------------------------------------ apply */

/*
 * Applies one change record (common/record.h) with docs/design.md section 1 semantics:
 * UPSERT of an existing key changes the listed columns only (a listed NULL sets
 * NULL); UPSERT of a missing key inserts a row with the unlisted columns NULL; ERASE
 * of a missing key does nothing. Adds to *counts (not reset).
 *
 * Cannot fail when the record was covered by irs__part_reserve(): it then allocates
 * nothing from irs_mem. Applying an unreserved record is a contract breach the
 * partition survives: it tries to grow, and if that fails the change is dropped and
 * irs__part_error() reports IRS_ENOMEM/ELIMIT from then on.
 * rec->hash must be irs__key_hash of the key. Thread: owner.
 */
void irs__part_apply(irs_table_part *p, const irs_rec *rec, irs_apply_counts *counts);

/*
 * Applies recs[0..n) in order, as n calls to irs__part_apply would, but in groups of
 * 16: the next group's hash slots are prefetched and this group's rows are loaded by
 * one tight loop before the group is applied, so the cache misses of 16 changes
 * overlap instead of queueing (docs/design.md section 6; measured ~2.8x on a W1-like mix).
 * Thread: owner.
 */
void irs__part_apply_batch(irs_table_part *p, const irs_rec *const *recs, size_t n,
			   irs_apply_counts *counts);

/*
 * A full backup's rows: inserts recs[0..n) in order like irs__part_apply_batch, growing
 * the index and the arena as it goes (no reservation: a full backup that fails is
 * cleared, so nothing needs to be undone). A record whose key is already in the
 * partition is a duplicate key within the backup (the table started empty): the call
 * stops there and returns IRS_EDUPKEY with *at its index. It also stops at a record
 * it cannot allocate for, with IRS_ENOMEM or IRS_ELIMIT (and irs__part_error() says so
 * until irs__part_clear). The records before *at are applied. Thread: owner.
 */
int irs__part_insert_batch(irs_table_part *p, const irs_rec *const *recs, size_t n,
			   irs_apply_counts *counts, size_t *at);

/* 0, or the sticky error of an unreserved apply that could not allocate. */
int irs__part_error(const irs_table_part *p);

/* ------------------------------------------------------------------ reads */

/* The row blob with this encoded key (hash = irs__key_hash(key)), or NULL. */
const uint8_t *irs__part_get(const irs_table_part *p, const uint8_t *key, size_t key_len,
			     uint64_t hash);

/* A row blob's encoded key: blobs start with a u16 LE key length and a byte of
 * table-internal state, then the key. */
static inline const uint8_t *irs__row_key(const uint8_t *row, size_t *key_len)
{
	*key_len = (size_t)row[0] | (size_t)row[1] << 8;
	return row + 3;
}

/*
 * Decodes a row blob into row[] (t->ncols entries): key columns SET, value columns
 * NULL or SET. Strings point into the partition, or into scratch for key strings
 * holding 0x00; scratch needs irs__part_max_key_len(p) bytes. Returns 0, or
 * IRS_ECORRUPT when the key does not decode (never for a healthy partition).
 */
int irs__part_row_values(const irs_table_part *p, const uint8_t *row, irs_value *out,
			 uint8_t *scratch);
/* As irs__part_row_values for the value columns only (the key columns of out[] are
 * left as they are): needs no scratch and cannot fail. */
void irs__part_row_value_cols(const irs_table_part *p, const uint8_t *row, irs_value *out);
/* Starts loading the home slot of `hash`, for a get a few keys later (batched gets
 * overlap their cache misses). */
void irs__part_prefetch_slot(const irs_table_part *p, uint64_t hash);

uint64_t irs__part_count(const irs_table_part *p);
/* Sum over rows of encoded key + NULL bitmap bytes + non-NULL value bytes (fixed
 * width, or the length of a utf8/bytes value). */
uint64_t irs__part_logical_bytes(const irs_table_part *p);
/* Longest encoded key ever stored (a bound for scratch buffers). */
size_t irs__part_max_key_len(const irs_table_part *p);
/* Bytes this partition has allocated through irs_mem. */
uint64_t irs__part_memory_bytes(const irs_table_part *p);

/* Where a partition's memory goes (for statistics and tuning). */
typedef struct irs_part_stats {
	uint64_t rows;
	uint64_t logical_bytes;
	uint64_t index_bytes;    /* hash slots */
	uint64_t arena_bytes;    /* all arena chunks = live + free + unused + lost */
	uint64_t live_bytes;     /* row blobs and out-of-line values */
	uint64_t free_bytes;     /* freed blocks waiting for reuse */
	uint64_t unused_bytes;   /* never handed out yet (bump and spare regions) */
	uint64_t other_bytes;    /* the partition's own small arrays */
	uint64_t reserved_rows;  /* reservation not used up yet */
	uint64_t reserved_bytes;
} irs_part_stats;

void irs__part_stats(const irs_table_part *p, irs_part_stats *out);

/*
 * Unordered iteration: start with *pos = 0; returns the next row blob, or NULL at the
 * end. The partition must not change during the iteration.
 */
const uint8_t *irs__part_next(const irs_table_part *p, size_t *pos);

/*
 * Every row blob, sorted by encoded key (irs__key_cmp order), into a new array
 * *rows_out of *n pointers; free it with irs__part_sorted_free(). An empty partition
 * gives NULL and 0. Takes 16 bytes per row while sorting, 8 after. A non-NULL cancel
 * flag found set (relaxed atomic loads, table_sort.c says when) stops the sort.
 * Errors: IRS_ENOMEM, IRS_ELIMIT, IRS_ECANCELED.
 */
int irs__part_sorted(const irs_table_part *p, const volatile int *cancel, const uint8_t ***rows_out,
		     size_t *n);
void irs__part_sorted_free(const irs_table_part *p, const uint8_t **rows, size_t n);

/*
 * The partition's content digest: the wrapping sum of its rows' digests
 * (common/digest.h); partitions of one table add up to the table's digest. O(1) while
 * the digest is tracked, else a scan of every row. Cannot fail.
 */
uint64_t irs__part_digest(const irs_table_part *p);

/* True when irs__part_digest would scan rows: the digest is not tracked and the
 * partition holds some. */
bool irs__part_digest_scans(const irs_table_part *p);

/*
 * From now on the digest is maintained per change (each insert, update and erase adds
 * and subtracts row digests), so irs__part_digest costs nothing at a barrier. Costs a
 * scan when the partition already holds rows. Thread: owner.
 */
void irs__part_track_digest(irs_table_part *p);

/*
 * The digest computed from its definition (every row decoded to irs_value, then
 * irs__row_digest): the cross-check of the blob serializer and of the tracking.
 * Errors: IRS_ENOMEM/ELIMIT (scratch), IRS_ECORRUPT (a key that does not decode).
 */
int irs__part_digest_by_definition(const irs_table_part *p, uint64_t *digest);

/*
 * Debug validator (tests): every row findable from its home slot and found first,
 * tags equal the key hash, keys decode, blobs and out-of-line values inside the
 * arena, row count and logical bytes equal to what the rows add up to, every arena
 * unit accounted for (rows + free lists + unused), reservations backed, and a tracked
 * digest equal to the digest by definition.
 * Returns 0, or IRS_ECORRUPT with a reason in why[0..why_cap) (may be NULL), or
 * IRS_ENOMEM for its own scratch.
 */
int irs__part_check(const irs_table_part *p, char *why, size_t why_cap);

#endif
