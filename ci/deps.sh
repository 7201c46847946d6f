#!/usr/bin/env bash
# Installs every build and test dependency from Debian 12 packages. Idempotent,
# non-interactive; run as root. Skips apt entirely when everything is present.
set -euo pipefail
PKGS=(build-essential cmake pkg-config clang libclang-rt-14-dev
      liburcu-dev libprotobuf-c-dev protobuf-c-compiler libjemalloc-dev
      libcmocka-dev libbenchmark-dev libsqlite3-dev sqlite3 libjson-c-dev libcsv-dev
      libxxhash-dev python3)
if [ "${IRS_PERF_DEPS:-0}" = 1 ]; then
  # perf/: the RocksDB and LMDB contenders, the plots, /usr/bin/time for peak RSS
  PKGS+=(librocksdb-dev liblmdb-dev gnuplot-nox time)
fi
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
