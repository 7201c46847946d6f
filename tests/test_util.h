/*
 * test_util.h: helpers shared by the cmocka tests (tests/test_*.c). Every helper is
 * named tu_*; add, don't remove. Helpers allocate with libc (tests only) and call
 * no cmocka assert, so worker threads may use them.
 */
#ifndef IRS_TEST_UTIL_H
#define IRS_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "increstore.h"
#include "common/record.h"
#include "common/schema.h"

/* ---- random numbers (deterministic per seed) */

/* splitmix64: the next value of the sequence seeded by *state. */
uint64_t tu_rand(uint64_t *state);
/* Uniform in [0, n), n > 0. */
uint64_t tu_rand_below(uint64_t *state, uint64_t n);

/* ---- schemas */

/*
 * A table schema built by hand: columns named c0, c1, ... of the given types, primary
 * key columns pk[0..npk) in key order. Free with tu_schema_free(). NULL on ENOMEM.
 */
irs_schema_table *tu_schema_new(const irs_type *types, uint32_t ncols, const uint32_t *pk,
				uint32_t npk);
void tu_schema_free(irs_schema_table *t);

/* Creates at dir a collection of one table t (id uint64 key, v utf8) and opens it.
 * NULL (err set) on any failure. */
irs_collection *tu_kv_collection(const char *dir, irs_error *err);

/* An irs_allocator's free for allocators whose malloc/realloc are libc's in the end:
 * ignores ctx and size and frees p. */
void tu_alloc_free(void *ctx, void *p, size_t size);

/* ---- values */

irs_value tu_absent(void);
irs_value tu_null(void);
irs_value tu_bool(int b);
irs_value tu_i64(int64_t v);   /* int32, int64, timestamp */
irs_value tu_u64(uint64_t v);  /* uint32, uint64 */
irs_value tu_dbl(double d);
irs_value tu_str(const char *s);                 /* utf8 or bytes, NUL-terminated */
irs_value tu_bytes(const void *p, size_t len);   /* utf8 or bytes */

/* ---- change records */

/*
 * A change record (common/record.h) for row[] (one irs_value per column) built with
 * irs__rec_build: op IRS_REC_UPSERT or IRS_REC_ERASE; full = ABSENT value columns
 * are listed as NULL (a full-backup row). malloc'd, 8-byte aligned; free() it.
 * NULL when the row does not fit (key too long) or on ENOMEM.
 */
irs_rec *tu_rec_new(const irs_schema_table *t, int op, bool full, const irs_value *row);

#endif
