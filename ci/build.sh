#!/usr/bin/env bash
# ci/build.sh PRESET: configures and builds one preset of CMakePresets.json
# (dev, asan, tsan, bench, fuzz) into build/PRESET.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-dev}
extra=()
[ "${CI:-}" = true ] && extra+=(-DIRS_WERROR=ON)
cmake --preset "$preset" "${extra[@]}" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
