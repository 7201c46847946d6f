#!/usr/bin/env bash
# tests/library_exports.sh LIB HEADER: the shared library LIB has the SONAME of the
# README's ABI rule and exports exactly the functions HEADER declares with IRS_API,
# each at the version node of that SONAME (cmake/increstore.map.in), and nothing else.
set -euo pipefail
lib=$1 header=$2
export LC_ALL=C
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
ver=$(sed -n 's/^#define IRS_VERSION_STRING "\(.*\)"/\1/p' "$header")
major=${ver%%.*} rest=${ver#*.} minor=${rest%%.*}
want_soname=libincrestore.so.$major
[ "$major" = 0 ] && want_soname=libincrestore.so.0.$minor
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "$want_soname" ] || { echo "SONAME $soname, the ABI rule gives $want_soname"; exit 1; }
# Declarations may span lines: join the header, then take the name before '(' of every
# IRS_API declaration.
grep -v '^#' "$header" | tr '\n' ' ' | grep -o 'IRS_API [^;(]*(' | sed 's/.*[ *]\(irs_[a-z0-9_]*\)($/\1/' | sort -u >"$W/declared"
node=INCRESTORE_${want_soname#libincrestore.so.}
nm -D --defined-only "$lib" | awk '{print $3}' | grep -v "^${node}\$" >"$W/exported.v" || true
sed 's/@@.*//' "$W/exported.v" | sort -u >"$W/exported"
if grep -v "@@${node}\$" "$W/exported.v" >"$W/badnode"; then
	echo "exported at another version node than $node:"; cat "$W/badnode"; exit 1
fi
if ! diff -u "$W/declared" "$W/exported"; then
	echo "the exports of $lib differ from the IRS_API declarations of $header (- declared, + exported)"
	exit 1
fi
echo "$soname exports the $(wc -l <"$W/declared") IRS_API functions of $(basename "$header") at $node, nothing else"
