/*
 * fixtures.h: what the C++ benchmarks drive. The library's internal headers use C11
 * atomics, which C++ cannot include, so every benchmark body that touches internals
 * lives in fixtures.c (C) behind these plain functions; the .cc files only time them.
 */
#ifndef IRS_BENCH_FIXTURES_H
#define IRS_BENCH_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Change records shaped like W1's rows (docs/design.md section 6): a uint64 key and six value columns
 * (int64, double, utf8, uint32, bool, timestamp), about 70 bytes. partial 0: full
 * rows for keys 0..n-1; 1: updates touching one column of random keys below keyspace;
 * 2: erases of keys 0..n-1. */
typedef struct irs_bench_rows irs_bench_rows;
irs_bench_rows *irs_bench_rows_new(size_t n, int partial, uint64_t seed, uint64_t keyspace);
size_t irs_bench_rows_count(const irs_bench_rows *r);
void irs_bench_rows_free(irs_bench_rows *r);

/* One table partition, pre-sized for `expected` rows. */
typedef struct irs_bench_table irs_bench_table;
irs_bench_table *irs_bench_table_new(size_t expected);
/* Reserves, applies every record with the prefetching batch apply, unreserves. */
void irs_bench_table_apply(irs_bench_table *t, const irs_bench_rows *r);
/* Point gets of every record's key; returns how many were found. */
size_t irs_bench_table_get_all(const irs_bench_table *t, const irs_bench_rows *r);
void irs_bench_table_free(irs_bench_table *t);

/* A ChangeBatch payload of the rows (full or partial). */
typedef struct irs_bench_batch irs_bench_batch;
irs_bench_batch *irs_bench_batch_new(const irs_bench_rows *r, int full);
size_t irs_bench_batch_bytes(const irs_bench_batch *b);
/* Decodes the payload into records (as a restore does); returns the records' bytes. */
uint64_t irs_bench_batch_decode(irs_bench_batch *b);
/* Encodes the rows again; returns the payload size. */
size_t irs_bench_batch_encode(irs_bench_batch *b);
void irs_bench_batch_free(irs_bench_batch *b);

/* Encodes key k and hashes it (the routing cost of one change). */
uint64_t irs_bench_key_route(uint64_t k, uint32_t shards);

/* CRC32C of a buffer, hardware path when present (hw = 1) or the portable one. */
uint32_t irs_bench_crc32c(const void *p, size_t n, int hw);
int irs_bench_crc32c_has_hw(void);

/* Inbox: `producers` threads push `per` messages each into one inbox; the calling
 * thread pops them all, blocking when empty. */
void irs_bench_inbox_run(int producers, int per);

/* Barrier: `shards` threads blocked on their inboxes; one round = arm the countdown,
 * wake every shard with a message, each counts down, the caller wakes at zero. */
typedef struct irs_bench_barrier irs_bench_barrier;
irs_bench_barrier *irs_bench_barrier_new(int shards);
void irs_bench_barrier_round(irs_bench_barrier *b);
void irs_bench_barrier_free(irs_bench_barrier *b);

#ifdef __cplusplus
}
#endif

#endif
