// Microbenchmarks of the restore's building blocks (bodies in fixtures.c):
//   table    batch apply of inserts, one-column updates and erases (the
//            apply-only ceiling per thread), point gets
//   batch    ChangeBatch decode / encode, MB/s (target: decode >= 1 GB/s per thread)
//   routing  key encode + hash + shard choice per change
//   crc32c   hardware vs portable
//   inbox    wait-free queue with 1..8 producers and a blocking consumer
//   barrier  countdown round trip with 1..64 shard threads
#include <benchmark/benchmark.h>

#include <vector>

#include "fixtures.h"

static void BM_table_insert(benchmark::State &state)
{
	size_t n = (size_t)state.range(0);
	irs_bench_rows *rows = irs_bench_rows_new(n, 0, 1, 0);
	for (auto _ : state) {
		state.PauseTiming();
		irs_bench_table *t = irs_bench_table_new(n);
		state.ResumeTiming();
		irs_bench_table_apply(t, rows);
		state.PauseTiming();
		irs_bench_table_free(t);
		state.ResumeTiming();
	}
	state.SetItemsProcessed(int64_t(state.iterations() * n));
	irs_bench_rows_free(rows);
}
BENCHMARK(BM_table_insert)->Arg(1 << 16)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

static void BM_table_update_one_column(benchmark::State &state)
{
	size_t n = (size_t)state.range(0);
	irs_bench_rows *base = irs_bench_rows_new(n, 0, 1, 0);
	irs_bench_rows *upd = irs_bench_rows_new(n, 1, 2, n);
	irs_bench_table *t = irs_bench_table_new(n);
	irs_bench_table_apply(t, base);
	for (auto _ : state)
		irs_bench_table_apply(t, upd);
	state.SetItemsProcessed(int64_t(state.iterations() * n));
	irs_bench_table_free(t);
	irs_bench_rows_free(base);
	irs_bench_rows_free(upd);
}
BENCHMARK(BM_table_update_one_column)->Arg(1 << 16)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

// Erase every row of a 1M-row partition (the partition is rebuilt outside the timer).
static void BM_table_erase(benchmark::State &state)
{
	size_t n = (size_t)state.range(0);
	irs_bench_rows *base = irs_bench_rows_new(n, 0, 1, 0);
	irs_bench_rows *del = irs_bench_rows_new(n, 2, 1, 0);
	for (auto _ : state) {
		state.PauseTiming();
		irs_bench_table *t = irs_bench_table_new(n);
		irs_bench_table_apply(t, base);
		state.ResumeTiming();
		irs_bench_table_apply(t, del);
		state.PauseTiming();
		irs_bench_table_free(t);
		state.ResumeTiming();
	}
	state.SetItemsProcessed(int64_t(state.iterations() * n));
	irs_bench_rows_free(base);
	irs_bench_rows_free(del);
}
BENCHMARK(BM_table_erase)->Arg(1 << 16)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

static void BM_table_get(benchmark::State &state)
{
	size_t n = (size_t)state.range(0);
	irs_bench_rows *base = irs_bench_rows_new(n, 0, 1, 0);
	irs_bench_table *t = irs_bench_table_new(n);
	irs_bench_table_apply(t, base);
	for (auto _ : state)
		benchmark::DoNotOptimize(irs_bench_table_get_all(t, base));
	state.SetItemsProcessed(int64_t(state.iterations() * n));
	irs_bench_table_free(t);
	irs_bench_rows_free(base);
}
BENCHMARK(BM_table_get)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

static void BM_batch_decode(benchmark::State &state)
{
	irs_bench_rows *rows = irs_bench_rows_new((size_t)state.range(0), (int)state.range(1), 3, 1 << 20);
	irs_bench_batch *b = irs_bench_batch_new(rows, state.range(1) == 0);
	for (auto _ : state)
		benchmark::DoNotOptimize(irs_bench_batch_decode(b));
	state.SetBytesProcessed(int64_t(state.iterations() * irs_bench_batch_bytes(b)));
	state.SetItemsProcessed(int64_t(state.iterations() * irs_bench_rows_count(rows)));
	irs_bench_batch_free(b);
	irs_bench_rows_free(rows);
}
// rows per frame, partial (0 = full rows, 1 = one-column updates)
BENCHMARK(BM_batch_decode)->Args({4096, 0})->Args({4096, 1});

static void BM_batch_encode(benchmark::State &state)
{
	irs_bench_rows *rows = irs_bench_rows_new((size_t)state.range(0), 0, 3, 0);
	irs_bench_batch *b = irs_bench_batch_new(rows, 1);
	size_t len = 0;
	for (auto _ : state)
		len = irs_bench_batch_encode(b);
	state.SetBytesProcessed(int64_t(state.iterations() * len));
	state.SetItemsProcessed(int64_t(state.iterations() * irs_bench_rows_count(rows)));
	irs_bench_batch_free(b);
	irs_bench_rows_free(rows);
}
BENCHMARK(BM_batch_encode)->Arg(4096);

static void BM_route(benchmark::State &state)
{
	uint64_t k = 0;
	for (auto _ : state)
		benchmark::DoNotOptimize(irs_bench_key_route(k++, 16));
	state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_route);

static void BM_crc32c(benchmark::State &state)
{
	std::vector<uint8_t> buf((size_t)state.range(0), 0x5a);
	int hw = (int)state.range(1);
	for (auto _ : state)
		benchmark::DoNotOptimize(irs_bench_crc32c(buf.data(), buf.size(), hw));
	state.SetBytesProcessed(int64_t(state.iterations()) * state.range(0));
	state.SetLabel(hw ? (irs_bench_crc32c_has_hw() ? "sse4.2" : "portable (no sse4.2)") : "portable");
}
BENCHMARK(BM_crc32c)->Args({4096, 1})->Args({4096, 0})->Args({1 << 20, 1})->Args({1 << 20, 0});

static void BM_inbox(benchmark::State &state)
{
	const int per = 50000;
	for (auto _ : state)
		irs_bench_inbox_run((int)state.range(0), per);
	state.SetItemsProcessed(int64_t(state.iterations()) * state.range(0) * per);
}
BENCHMARK(BM_inbox)->Arg(1)->Arg(2)->Arg(8)->UseRealTime()->Unit(benchmark::kMillisecond);

static void BM_barrier_round_trip(benchmark::State &state)
{
	irs_bench_barrier *b = irs_bench_barrier_new((int)state.range(0));
	for (auto _ : state)
		irs_bench_barrier_round(b);
	irs_bench_barrier_free(b);
}
BENCHMARK(BM_barrier_round_trip)->Arg(1)->Arg(2)->Arg(16)->Arg(64)->UseRealTime()->Unit(benchmark::kMicrosecond);
