#!/usr/bin/env bash
# ci/test.sh: the whole test run (the README's test command calls this after ci/deps.sh).
#   1. dev build (RelWithDebInfo): every cmocka test, the CLI acceptance scripts, the
#      README example, a benchmark smoke run, the install consumer check
#   2. ASan+UBSan build: every test again
#   3. TSan build: every test again (suppressions cover liburcu internals only)
#   4. libFuzzer targets, each for a few seconds from the seed corpus
# IRS_LONG=1 adds the long stress, soak and fuzz runs (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
start=$(date +%s)
step() { echo; echo "=== $* ($(( $(date +%s) - start ))s)"; }

step "dev build"
ci/build.sh dev
step "dev tests"
ctest --preset dev -j "$jobs"

step "install consumer"
rm -rf build/install-root build/consumer
cmake --install build/dev --prefix "$PWD/build/install-root" >/dev/null
cmake -S tests/install -B build/consumer -DCMAKE_PREFIX_PATH="$PWD/build/install-root" >/dev/null
cmake --build build/consumer >/dev/null
build/consumer/consumer_cmake
PKG_CONFIG_PATH="$PWD/build/install-root/lib/pkgconfig:$PWD/build/install-root/lib/x86_64-linux-gnu/pkgconfig" \
  bash tests/install/pkgconfig_consumer.sh build/consumer

step "asan+ubsan build"
ci/build.sh asan
step "asan+ubsan tests"
ctest --preset asan -j "$jobs"

step "tsan build"
ci/build.sh tsan
step "tsan tests"
ctest --preset tsan -j "$jobs"

step "fuzz smoke"
ci/build.sh fuzz
for f in build/fuzz/tests/fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  corpus=tests/fuzz/corpus/${name#fuzz_}
  secs=${IRS_FUZZ_SECONDS:-8}
  [ "${IRS_LONG:-0}" = 1 ] && secs=600
  mkdir -p "build/fuzz/work/$name"
  "$f" -max_total_time="$secs" -print_final_stats=0 "build/fuzz/work/$name" "$corpus" 2>&1 | tail -n 1
done

step "done in $(( $(date +%s) - start ))s"
