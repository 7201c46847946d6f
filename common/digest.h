/*
 * digest.h (private): the order-independent content digest of a table.
 *
 * Content digest
 * --------------
 * The digest of a table is the wrapping sum (mod 2^64) of the digests of its rows, so
 * it depends on the set of rows only: not on insertion order, partitioning, shard
 * count or the order a scan visits rows. It is what `gen` records as the expected
 * state after each backup and what irs_restore_digest() returns.
 *
 * The digest of a row is XXH3-64 (seed 0) of its canonical serialization: for every
 * column in schema order (key columns included, where the schema puts them):
 *
 *     u8  present          0 = NULL, 1 = a value follows
 *     value (when present), little-endian:
 *         bool             1 byte, 0 or 1
 *         int32, uint32    4 bytes (two's complement for int32)
 *         int64, uint64,   8 bytes (two's complement for int64 and timestamp)
 *         timestamp
 *         double           the 8 IEEE-754 bytes as stored (so -0.0 != +0.0 and NaN
 *                          payloads count)
 *         utf8, bytes      u32 byte length, then the bytes
 *
 * An empty table has digest 0. Because the sum is commutative, partitions digest
 * independently and the coordinator adds their digests.
 *
 * Thread: every function is pure (no shared state) and callable from any thread.
 */
#ifndef IRS_COMMON_DIGEST_H
#define IRS_COMMON_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t as a complete type: no malloc */
#include <xxhash.h>

#include "schema.h"

/* Rows that serialize to at most this many bytes are hashed in one call. */
#define IRS_DIGEST_INLINE 512

/*
 * A streaming serializer: bytes collect in buf and are hashed in one XXH3 call at the
 * end; a row longer than IRS_DIGEST_INLINE switches to XXH3's streaming state (same
 * result, XXH3 streaming equals one-shot). Lives on the stack; never allocates.
 */
typedef struct irs_digest_stream {
	size_t len;                  /* bytes in buf */
	int streaming;               /* 1 once st holds earlier bytes */
	uint8_t buf[IRS_DIGEST_INLINE];
	XXH3_state_t st;             /* used for long rows only */
} irs_digest_stream;

/* Starts a row. Pair with irs__digest_end(). */
void irs__digest_begin(irs_digest_stream *d);
/* Appends raw bytes. */
void irs__digest_put(irs_digest_stream *d, const void *p, size_t n);
/*
 * Appends one column: its presence byte and, when v->state is IRS_VALUE_SET, the
 * value serialized for `type`. IRS_VALUE_ABSENT counts as NULL.
 */
void irs__digest_value(irs_digest_stream *d, irs_type type, const irs_value *v);
/* The row digest of everything appended since irs__digest_begin(). */
uint64_t irs__digest_end(irs_digest_stream *d);

/* The digest of one row: row[] has t->ncols entries (NULL/ABSENT or SET). */
uint64_t irs__row_digest(const irs_schema_table *t, const irs_value *row);

/* Adds a row digest (or a partition digest) to a table digest. */
static inline uint64_t irs__digest_add(uint64_t table, uint64_t row)
{
	return table + row; /* unsigned: wraps mod 2^64 by definition */
}

#endif
