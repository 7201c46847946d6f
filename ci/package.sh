#!/usr/bin/env bash
# ci/package.sh: the plain default build (Release, both libraries, no test hooks) as a C
# user types it, plus the Debian prefix, then the tests only it adds, then the Debian packages
# libincrestore0, libincrestore-dev and increstore (cpack -G DEB, cmake/Packaging.cmake)
# checked without installing them: unpacked with dpkg-deb -x into build/deb-root, then
# tests/install/consumers.sh builds and runs consumers against them.
# Install them with: apt install ./build/default/*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
extra=()
[ "${CI:-}" = true ] && extra+=(-DIRS_WERROR=ON)
cmake -S . -B build/default -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr "${extra[@]}" >/dev/null
cmake --build build/default -j "$jobs"
# What this configuration adds to the dev build's run: the shared library's exports,
# and the examples and docs checks against the shared library and the Release binary.
# IRS_PACKAGE_ALL_TESTS=1 runs every test of the configuration instead.
if [ "${IRS_PACKAGE_ALL_TESTS:-0}" = 1 ]; then
	ctest --test-dir build/default -j "$jobs" --output-on-failure -LE long
else
	ctest --test-dir build/default -j "$jobs" --output-on-failure -R '^(library_exports|example_|docs_match_help)'
fi
rm -f build/default/*.deb
(cd build/default && cpack -G DEB >/dev/null)
rm -rf build/deb-root build/consumer-deb
mkdir -p build/deb-root
for deb in build/default/*.deb; do
	echo "$(basename "$deb"): $(dpkg-deb -f "$deb" Depends)"
	dpkg-deb -x "$deb" build/deb-root
done
bash tests/install/consumers.sh build/deb-root/usr build/consumer-deb
