#!/usr/bin/env bash
# perf/partition_diff.sh [COLLECTION] [REPS]: time and peak RSS of
#   * one partition (0) of K = 1, 2, 4, 8 (K = 1 is a whole restore, expected states
#     checked; K > 1 checks nothing against the manifest);
#   * `diff` of the last two backups against a whole restore;
# REPS (default 3) interleaved rounds, medians and min-max; every partition's digests
# are checked with check-partitions once. Release build: `bash ci/build.sh bench`.
# COLLECTION defaults to a W1 made with
#   build/bench/cli/increstore gen DIR --rows 5000000 --incrementals 10 --changes 500000 --seed 7
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bench/cli/increstore}
C=${1:?usage: perf/partition_diff.sh COLLECTION [REPS]}
REPS=${2:-3}
SHARDS=${SHARDS:-2}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
last=$("$BIN" inspect "$C" --json | python3 -c 'import json,sys; b=json.load(sys.stdin)["backups"]; print(b[-2]["name"], b[-1]["name"])')
read -r prev final <<< "$last"
cat "$C"/data/*/*.seg > /dev/null   # into the page cache

# one measurement: label, then the command; appends "label seconds maxrss_kib"
measure() {
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$OUT/t" "$@" > /dev/null
  echo "$label $(cat "$OUT/t")" >> "$OUT/results"
}
for rep in $(seq 1 "$REPS"); do
  for k in 1 2 4 8; do
    measure "partition-0/$k" "$BIN" restore "$C" --partition 0/$k --shards "$SHARDS" -q
  done
  measure "diff-$prev..$final" "$BIN" diff "$C" --from "$prev" --to "$final" --shards "$SHARDS" \
    --out "$OUT/d.jsonl" -q
done
# the partitions add up (once, K = 4)
for i in 0 1 2 3; do
  "$BIN" restore "$C" --partition $i/4 --shards "$SHARDS" -q --stats-json "$OUT/p$i.json"
done
"$BIN" check-partitions "$C" "$OUT"/p?.json
echo "diff lines: $(wc -l < "$OUT/d.jsonl")"
python3 - "$OUT/results" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    label, secs, kib = line.split()
    rows.setdefault(label, []).append((float(secs), int(kib)))
print("| what | seconds, median (min-max) | peak RSS MiB, median (min-max) |")
print("| --- | ---: | ---: |")
for label, v in rows.items():
    s = [x[0] for x in v]; m = [x[1] / 1024 for x in v]
    print(f"| {label} | {statistics.median(s):.2f} ({min(s):.2f}-{max(s):.2f}) "
          f"| {statistics.median(m):.0f} ({min(m):.0f}-{max(m):.0f}) |")
EOF
