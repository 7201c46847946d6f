// Reading a restored table through the public API (bodies in read_fixtures.c), on W1's
// final state with IRS_BENCH_COLLECTION=DIR (DIR made by `increstore gen DIR --rows
// 5000000 --incrementals 10 --changes 500000 --seed 7`), else on a W1-shaped collection a
// tenth of its size generated for the run (IRS_BENCH_ROWS rows). Restored with 2 shards.
//   BM_read_get             point gets of present keys in random order (per thread)
//   BM_read_get_batch/B     the same keys, B per irs_restore_get_batch call
//   BM_read_sort            the first ordered read after a change: sorting every partition
//   BM_read_ordered         a whole ordered cursor (the sorted order reused), or with T
//                           threads each a key-range slice [lo, hi) of the table
//   BM_read_partitions      partition cursors: with T threads each every T-th partition
// items_per_second counts keys looked up or rows read, by all threads together.
#include <benchmark/benchmark.h>

#include "read_fixtures.h"

static irs_bench_reads *reads(benchmark::State &state)
{
	const char *why = nullptr;
	irs_bench_reads *b = irs_bench_reads_open(&why);
	if (!b)
		state.SkipWithError(why);
	else
		state.SetLabel(irs_bench_reads_describe(b));
	return b;
}

static const size_t kGetsPerIteration = 1 << 16;

static void BM_read_get(benchmark::State &state)
{
	irs_bench_reads *b = reads(state);
	if (!b)
		return;
	size_t from = (size_t)state.thread_index() * 7919 * kGetsPerIteration, found = 0;
	for (auto _ : state) {
		found += irs_bench_reads_get(b, from, kGetsPerIteration);
		from += kGetsPerIteration;
	}
	if (found != state.iterations() * kGetsPerIteration)
		state.SkipWithError("a present key was not found");
	state.SetItemsProcessed(int64_t(state.iterations() * kGetsPerIteration));
}
BENCHMARK(BM_read_get)->Threads(1)->Threads(2)->UseRealTime()->Unit(benchmark::kMillisecond);

static void BM_read_get_batch(benchmark::State &state)
{
	irs_bench_reads *b = reads(state);
	if (!b)
		return;
	irs_bench_batch_buf buf = {};
	size_t from = (size_t)state.thread_index() * 7919 * kGetsPerIteration, found = 0;
	for (auto _ : state) {
		found += irs_bench_reads_get_batch(b, from, kGetsPerIteration, (size_t)state.range(0), &buf);
		from += kGetsPerIteration;
	}
	irs_bench_batch_buf_free(&buf);
	if (found != state.iterations() * kGetsPerIteration)
		state.SkipWithError("a present key was not found");
	state.SetItemsProcessed(int64_t(state.iterations() * kGetsPerIteration));
}
BENCHMARK(BM_read_get_batch)->Arg(16)->Arg(256)->Arg(4096)->Threads(1)->Threads(2)->UseRealTime()
	->Unit(benchmark::kMillisecond);

static void BM_read_sort(benchmark::State &state)
{
	irs_bench_reads *b = reads(state);
	if (!b)
		return;
	for (auto _ : state) {
		state.PauseTiming();
		irs_bench_reads_drop_order(b);
		state.ResumeTiming();
		// an ordered cursor over the empty range at the start: the sort, then nothing
		benchmark::DoNotOptimize(irs_bench_reads_scan_ordered(b, 0, 1 << 30));
	}
	state.SetItemsProcessed(int64_t(state.iterations() * irs_bench_reads_rows(b)));
}
BENCHMARK(BM_read_sort)->UseRealTime()->Unit(benchmark::kMillisecond);

static void BM_read_ordered(benchmark::State &state)
{
	irs_bench_reads *b = reads(state);
	if (!b)
		return;
	uint64_t rows = 0;
	for (auto _ : state)
		rows += irs_bench_reads_scan_ordered(b, (uint32_t)state.thread_index(), (uint32_t)state.threads());
	state.SetItemsProcessed(int64_t(rows));
}
BENCHMARK(BM_read_ordered)->Threads(1)->Threads(2)->UseRealTime()->Unit(benchmark::kMillisecond);

static void BM_read_partitions(benchmark::State &state)
{
	irs_bench_reads *b = reads(state);
	if (!b)
		return;
	uint64_t rows = 0;
	for (auto _ : state)
		rows += irs_bench_reads_scan_partitions(b, (uint32_t)state.thread_index(), (uint32_t)state.threads());
	state.SetItemsProcessed(int64_t(rows));
}
BENCHMARK(BM_read_partitions)->Threads(1)->Threads(2)->UseRealTime()->Unit(benchmark::kMillisecond);
