#!/usr/bin/env bash
# perf/compare.sh [W0|W1]: every contender side by side on one generated collection,
# interleaved, REPS times (default 3), with the collection files in the page cache:
#
#   increstore restore --shards 1, 2 (and nproc when > 2)   the engine, end to end
#   irs_naive_loop     read + decode + apply in one thread, same table code
#   irs_ceiling        apply only: pre-decoded, pre-routed, memory touched, 2 threads
#   irs_sqlite_apply   in-memory SQLite, prepared upserts, a transaction per backup
#   irs_rocksdb_apply  RocksDB on tmpfs, WAL off, partial updates read-modify-write
#   irs_lmdb_apply     LMDB (when built)
#
# Fails when any contender ends with another content digest. Then the chain-length
# sweep (the same incremental changes in 1, 10, 100, 1000 incrementals; increstore, 2
# shards) and key skew (uniform vs --keys zipf --zipf-theta 0.99; increstore 1 and 2
# shards and the loop). Writes perf/results/<W>.md and perf/results/<W>-*.png.
#
#   W0  --rows 500000  --incrementals 10 --changes 50000    (quick: about a minute)
#   W1  --rows 5000000 --incrementals 10 --changes 500000   (docs/design.md section 6)
#
# `custom` takes ROWS, INCS and CHANGES from the environment (for smoke tests).
# Builds nothing: run `bash ci/build.sh bench` first. Environment: REPS (3),
# PERF_WORK (build/perf-work: generated collections are kept there and reused),
# SWEEP=0 skips the sweeps, GEN_ONLY=1 only generates the collections.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-W0}
case "$W" in
  W0) ROWS=500000 INCS=10 CHANGES=50000 ;;
  W1) ROWS=5000000 INCS=10 CHANGES=500000 ;;
  custom) : "${ROWS:?}" "${INCS:?}" "${CHANGES:?}" ;;   # sizes from the environment
  *) echo "usage: perf/compare.sh [W0|W1|custom]" >&2; exit 2 ;;
esac
REPS=${REPS:-3} SWEEP=${SWEEP:-1}
B=build/bench/cli/increstore P=build/bench/perf
for x in "$B" $P/irs_naive_loop $P/irs_ceiling $P/irs_sqlite_apply; do
  [ -x "$x" ] || { echo "missing $x: bash ci/build.sh bench" >&2; exit 2; }
done
command -v gnuplot >/dev/null || { echo "gnuplot missing: apt-get install gnuplot-nox" >&2; exit 2; }
TIME=/usr/bin/time
[ -x $TIME ] || { echo "missing /usr/bin/time (apt-get install time)" >&2; exit 2; }
WORK=${PERF_WORK:-build/perf-work}/$W
OUT=perf/results
mkdir -p "$WORK/runs" "$OUT"
rm -f "$WORK"/runs/*

gen() { # DIR gen-flags...
  local d=$1; shift
  [ -f "$d/MANIFEST" ] || "$B" gen "$d" "$@" --seed 1 -q
}
warm() { cat "$1"/data/*/*.seg > /dev/null; }

# One run of a contender -> $WORK/runs/NAME-REP.json: one JSON line of
# {engine, seconds, changes, rows, digest} plus rss_kb (and the stats file for the engine).
run() { # NAME REP COLLECTION
  local name=$1 rep=$2 c=$3 o=$WORK/runs/$1-$2
  case "$name" in
    inc*) local s=${name#inc}
          $TIME -f %M -o "$o.rss" "$B" restore "$c" --shards "$s" --no-check-expected -q \
                --stats-json "$o.stats.json"
          python3 - "$o.stats.json" > "$o.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(json.dumps({"engine": "increstore-%d" % s["shards"], "seconds": s["wall_s"],
                  "changes": s["totals"]["changes"], "rows": sum(t["rows"] for t in s["tables"]),
                  "digest": s["tables"][0]["digest"]}))
PY
          ;;
    loop) $TIME -f %M -o "$o.rss" $P/irs_naive_loop "$c" > "$o.json" ;;
    ceiling) $TIME -f %M -o "$o.rss" $P/irs_ceiling "$c" 2 > "$o.json" ;;
    sqlite|rocksdb|lmdb) $TIME -f %M -o "$o.rss" $P/irs_${name}_apply "$c" > "$o.json" ;;
  esac
}

NPROC=$(nproc)
SHARDS="1 2"; [ "$NPROC" -gt 2 ] && SHARDS="$SHARDS $NPROC"
CONT=""
for s in $SHARDS; do CONT="$CONT inc$s"; done
CONT="$CONT loop ceiling sqlite"
[ -x $P/irs_rocksdb_apply ] && CONT="$CONT rocksdb" || echo "note: irs_rocksdb_apply not built: skipped" >&2
[ -x $P/irs_lmdb_apply ] && CONT="$CONT lmdb"

# Every collection first (kept for later runs), then the measurements.
MAIN=$WORK/main TOTAL=$((INCS * CHANGES))
gen "$MAIN" --rows $ROWS --incrementals $INCS --changes $CHANGES
if [ "$SWEEP" = 1 ]; then
  for k in 1 10 100 1000; do
    gen "$WORK/chain-$k" --rows $ROWS --incrementals $k --changes $((TOTAL / k))
  done
  gen "$WORK/zipf" --rows $ROWS --incrementals $INCS --changes $CHANGES --keys zipf --zipf-theta 0.99
fi
[ "${GEN_ONLY:-0}" = 1 ] && exit 0
warm "$MAIN"
echo "== $W: contenders:$CONT; $REPS reps" >&2
for rep in $(seq "$REPS"); do
  for name in $CONT; do
    run "$name" "$rep" "$MAIN"
    echo "  rep $rep $name: $(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['seconds'])" "$WORK/runs/$name-$rep.json") s" >&2
  done
done

if [ "$SWEEP" = 1 ]; then
  for k in 1 10 100 1000; do warm "$WORK/chain-$k"; done
  warm "$WORK/zipf"
  echo "== sweeps" >&2
  for rep in $(seq "$REPS"); do
    for k in 1 10 100 1000; do run inc2 "chain$k-$rep" "$WORK/chain-$k"; done
    for s in 1 2; do
      run "inc$s" "uniform-$rep" "$MAIN"
      run "inc$s" "zipf-$rep" "$WORK/zipf"
    done
    run loop "uniform-$rep" "$MAIN"
    run loop "zipf-$rep" "$WORK/zipf"
  done
fi

SEGBYTES=$(cat "$MAIN"/data/*/*.seg | wc -c)
python3 perf/compare_report.py "$W" "$WORK" "$OUT" "$REPS" "$SWEEP" "$SEGBYTES" \
  "--rows $ROWS --incrementals $INCS --changes $CHANGES" $CONT
cat "$OUT/$W.md"
