#!/usr/bin/env bash
# Installs from Debian 12 packages everything the project's scripts need: ci/build.sh
# (every preset, the bench preset's perf/ contenders included), ci/test.sh,
# ci/package.sh, ci/quickstart.sh, tests/soak.sh, perf/compare.sh and
# perf/engine_vs_loop.sh. Idempotent, non-interactive; run as root. Skips apt entirely
# when everything is present.
set -euo pipefail
PKGS=(build-essential cmake pkg-config clang libclang-rt-14-dev
      liburcu-dev libprotobuf-c-dev protobuf-c-compiler libjemalloc-dev
      libcmocka-dev libbenchmark-dev libsqlite3-dev sqlite3 libjson-c-dev libcsv-dev
      libxxhash-dev python3
      help2man groff-base  # the man page and its check against --help
      strace               # tests/cli/export_formats.sh: fsync before rename
      dpkg-dev file        # cpack -G DEB: dpkg-shlibdeps, and file to find ELF objects
      librocksdb-dev liblmdb-dev  # perf/ contenders (the bench preset builds them)
      gnuplot-nox time)    # perf/compare.sh: plots and /usr/bin/time for peak RSS
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "ci/deps.sh: missing packages (${missing[*]}); run as root" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "ci/deps.sh: installed ${missing[*]}"
fi
