#!/usr/bin/env bash
# Builds the sample collection with the CLI, runs examples/restore_rows on it, and
# checks its output against the CLI's own export.
#   bash run_example.sh <increstore> <irs_example_restore> <source-dir>
set -euo pipefail
CLI=$1 EX=$2 SRC=$3
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$CLI" create "$W/c" --schema "$SRC/samples/schema.json" >/dev/null
"$CLI" add "$W/c" --full "$SRC/samples/full.jsonl" >/dev/null
"$CLI" add "$W/c" --incremental "$SRC/samples/inc1.jsonl" >/dev/null
"$CLI" add "$W/c" --incremental "$SRC/samples/inc2.jsonl" >/dev/null
"$EX" "$W/c" orders > "$W/out.txt"
rows=$("$CLI" restore "$W/c" --quiet --out "$W/o.jsonl" && wc -l < "$W/o.jsonl")
tail -n 1 "$W/out.txt" | grep -qx "$rows rows" || { echo "example printed: $(tail -n 1 "$W/out.txt"), want $rows rows"; exit 1; }
# same keys in the same order as the CLI's key-ordered export
export LC_ALL=C
diff <(grep -ao '^{"id": [0-9]*' "$W/out.txt") <(grep -ao '^{"id": [0-9]*' "$W/o.jsonl")
echo "example OK: $rows rows"
