#!/usr/bin/env bash
# Generates a collection with the CLI, runs examples/parallel_readers on it with 3
# threads, and checks its counts against the CLI's own export: every row read once
# across the partitions, every key found again by the batched gets, the ordered count,
# and the rows before the middle one.
#   bash run_parallel.sh <increstore> <irs_example_parallel> <source-dir>
set -euo pipefail
CLI=$1 EX=$2
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$CLI" gen "$W/c" --rows 20000 --incrementals 3 --changes 4000 --seed 5 --quiet >/dev/null
"$EX" "$W/c" t 3 >"$W/out.txt"
cat "$W/out.txt"
"$CLI" restore "$W/c" --quiet --out "$W/o.csv"
rows=$(($(wc -l <"$W/o.csv") - 1))
half=$((rows / 2))  # gen's table has a one-column key
grep -qx "3 threads read $rows rows from 4 partitions; batched gets found $rows" "$W/out.txt"
grep -qx "ordered cursor: $rows rows, $half before the middle row's first key column" "$W/out.txt"
tail -n 1 "$W/out.txt" | grep -qx "$rows rows"
echo "example OK: $rows rows, $half before the middle one"
