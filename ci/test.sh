#!/usr/bin/env bash
# ci/test.sh: the whole test run (the README's test command calls this after ci/deps.sh).
#   0. every #include points down the layers (ci/check_layers.sh)
#   1. dev build (RelWithDebInfo, fault hooks, static library only): every cmocka test,
#      the CLI acceptance scripts, the README example, a benchmark smoke run; consumers
#      of its install (tests/install/consumers.sh)
#   2. the plain default build (Release, no fault hooks, shared + static libraries) and
#      its tests, then the Debian packages and consumers of them (ci/package.sh); the
#      plain Debug build (libraries and command)
#   3. ASan+UBSan build: every test again
#   4. TSan build: every test again (suppressions cover liburcu internals only)
#   5. libFuzzer targets, each for a few seconds from the seed corpus
# IRS_LONG=1 runs every fuzz target for 10 minutes; IRS_SOAK_MINUTES=N adds the soak
# (tests/soak.sh: random chains, shard counts, kills and resumes, checked against SQLite).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
start=$(date +%s)
step() { echo; echo "=== $* ($(( $(date +%s) - start ))s)"; }

step "layers"
bash ci/check_layers.sh

step "dev build"
ci/build.sh dev
step "dev tests"
ctest --preset dev -j "$jobs"

step "install consumer (the dev build: static library only)"
rm -rf build/install-root build/consumer
cmake --install build/dev --prefix "$PWD/build/install-root" >/dev/null
bash tests/install/consumers.sh build/install-root build/consumer

step "default build (Release, shared + static), its tests, Debian packages"
bash ci/package.sh

step "plain Debug build (-O0: nothing the optimizer inlines hides a missing library)"
rm -rf build/debug
cmake -S . -B build/debug -DCMAKE_BUILD_TYPE=Debug -DIRS_BUILD_TESTS=OFF >/dev/null
cmake --build build/debug -j "$jobs" >/dev/null
build/debug/cli/increstore --version

step "asan+ubsan build"
ci/build.sh asan
step "asan+ubsan tests"
ctest --preset asan -j "$jobs"

step "tsan build"
ci/build.sh tsan
step "tsan tests"
ctest --preset tsan -j "$jobs"

step "fuzz smoke"
targets="fuzz_jsonl_rows fuzz_changes_jsonl fuzz_csv fuzz_schema_json fuzz_batch fuzz_manifest fuzz_checkpoint
  fuzz_ydb_textproto fuzz_ydb_csv"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs" --target $targets
secs=${IRS_FUZZ_SECONDS:-10}
[ "${IRS_LONG:-0}" = 1 ] && secs=600
for name in $targets; do
  mkdir -p "build/fuzz/work/$name"
  # new inputs go to the work directory; the committed seed corpus is only read
  log=build/fuzz/work/$name.log
  if ! build/fuzz/tests/fuzz/$name -max_total_time="$secs" -dict=tests/fuzz/import.dict \
       "build/fuzz/work/$name" "tests/fuzz/corpus/$name" >"$log" 2>&1; then
    tail -n 40 "$log"; echo "fuzz target $name failed (crash input in the directory above)"; exit 1
  fi
  echo "$name: $(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)"
done

if [ -n "${IRS_SOAK_MINUTES:-}" ]; then
  step "soak for ${IRS_SOAK_MINUTES} minutes"
  bash tests/soak.sh "$IRS_SOAK_MINUTES" build/dev/cli/increstore
fi

step "done in $(( $(date +%s) - start ))s"
