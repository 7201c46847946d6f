// CRC32C throughput: the hardware path against the portable table, per buffer size.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

extern "C" {
#include "common/crc32c.h"
}

static void BM_crc32c(benchmark::State &state)
{
	std::vector<uint8_t> buf(state.range(0), 0x5a);
	for (auto _ : state)
		benchmark::DoNotOptimize(irs__crc32c(0, buf.data(), buf.size()));
	state.SetBytesProcessed(int64_t(state.iterations()) * state.range(0));
	state.SetLabel(irs__crc32c_hw() ? "sse4.2" : "portable");
}
BENCHMARK(BM_crc32c)->Arg(64)->Arg(4096)->Arg(1 << 20);

static void BM_crc32c_portable(benchmark::State &state)
{
	std::vector<uint8_t> buf(state.range(0), 0x5a);
	for (auto _ : state)
		benchmark::DoNotOptimize(irs__crc32c_portable(0, buf.data(), buf.size()));
	state.SetBytesProcessed(int64_t(state.iterations()) * state.range(0));
}
BENCHMARK(BM_crc32c_portable)->Arg(64)->Arg(4096)->Arg(1 << 20);
