/*
 * read_fixtures.h: the restored state the read benchmarks read (read_fixtures.c says
 * where it comes from) and the reads bench_reads.cc times.
 */
#ifndef IRS_BENCH_READ_FIXTURES_H
#define IRS_BENCH_READ_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#include "increstore.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct irs_bench_reads irs_bench_reads;

/* The restored state, made on the first call; NULL with *why saying what is missing. */
irs_bench_reads *irs_bench_reads_open(const char **why);
/* "W1 ...: N rows in P partitions" for the benchmark's label. */
const char *irs_bench_reads_describe(const irs_bench_reads *b);
size_t irs_bench_reads_rows(const irs_bench_reads *b);
uint32_t irs_bench_reads_partitions(const irs_bench_reads *b);
/* Forgets the sorted order, so the next ordered read sorts again. No reader may run. */
void irs_bench_reads_drop_order(irs_bench_reads *b);

/* n point gets of present keys in random order, from position `from`; returns found. */
size_t irs_bench_reads_get(const irs_bench_reads *b, size_t from, size_t n);

/* Buffers of one thread's batched gets. */
typedef struct irs_bench_batch_buf {
	irs_value *keys, *rows;
	uint8_t *found;
	size_t cap;
} irs_bench_batch_buf;
void irs_bench_batch_buf_free(irs_bench_batch_buf *buf);
/* The same keys as irs_bench_reads_get, `batch` per irs_restore_get_batch call. */
size_t irs_bench_reads_get_batch(const irs_bench_reads *b, size_t from, size_t n, size_t batch,
				 irs_bench_batch_buf *buf);

/* Rows of key-range slice `part` of `parts` (cut at key quantiles) with an ordered
 * cursor; returns the rows read. */
uint64_t irs_bench_reads_scan_ordered(const irs_bench_reads *b, uint32_t part, uint32_t parts);
/* Rows of partitions first, first + step, ... with partition cursors. */
uint64_t irs_bench_reads_scan_partitions(const irs_bench_reads *b, uint32_t first, uint32_t step);

#ifdef __cplusplus
}
#endif

#endif
