// Entry point of irs_bench; the benchmarks live in the other bench/*.cc files.
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
