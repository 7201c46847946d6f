#!/usr/bin/env bash
# perf/compare.sh [W0|W1|custom]: every contender side by side on one generated
# collection, interleaved, REPS times (default 3; every run is reported, the tables
# give the median with min-max), with the collection files in the page cache:
#
#   inc1, inc2 (incN)  increstore restore --shards N, DEFAULT mode: the expected states
#                      the collection records are checked at every barrier
#   inc2nc             increstore restore --shards 2 --no-check-expected
#   loop               irs_naive_loop: read + decode + apply in one thread, same table code
#   ceiling            irs_ceiling: our own apply-only ceiling (pre-decoded, 2 threads)
#   reference          hash_bench --parts 2 --prefetch 16 --prefault: the fixed reference
#                      ceiling outside this code, on its own generated workload of the
#                      same shape (IRS_REFERENCE_DIR, default ../shared/reference)
#   refcold            the same without --prefault: it allocates and first touches its
#                      tables inside its timer, as every other contender does (no target)
#   sqlite             irs_sqlite_apply: in-memory SQLite, prepared upserts
#   rocksdb            irs_rocksdb_apply: RocksDB on tmpfs, merge operator (when built)
#   lmdb               irs_lmdb_apply: LMDB on tmpfs (when built)
#   base               another build of increstore (BASELINE), restore --shards 2 in
#                      default mode: the same restore by an earlier version, in the same run
#
# Fails when a contender fails or ends with another content digest or row count. Then
# the sweeps (SWEEP=1, or a comma list of them; all in default mode, 2 shards unless
# said):
#   chain  the same incremental changes in 1, 10, 100, 1000 incrementals
#   pair   100 incrementals of PAIR_ROWS/100 changes vs 1 incremental of PAIR_ROWS
#          changes, both on the same PAIR_ROWS-row full backup (W1: 2000000)
#   skew   uniform vs --keys zipf --zipf-theta 0.99 (increstore 1 and 2 shards, the loop)
# Writes perf/results/<W>.md and perf/results/<W>-*.png (custom: perf/results/tmp/).
#
#   W0  --rows 500000  --incrementals 10 --changes 50000    (pair: 200000 rows)
#   W1  --rows 5000000 --incrementals 10 --changes 500000   (pair: 2000000 rows)
#   custom  ROWS, INCS and CHANGES from the environment (pair: ROWS*2/5 rows)
#
# Builds nothing: run `bash ci/build.sh bench` first (and `make -C ../shared/reference`).
# Environment: REPS (3), SWEEP (1 = chain,pair,skew; 0 = none), PAIR_ROWS,
# RUN_TIMEOUT (seconds per run, default 1800: a run that takes longer is stopped and
# reported as timed out), PERF_WORK (build/perf-work: collections are kept and reused),
# PERF_OUT (where the report goes), IRS_REFERENCE_DIR (none = run without the
# reference ceiling), GEN_ONLY=1 only generates the collections, PAUSE (seconds to sleep
# before every run, default 0: on a VM that hands freed pages back to the host, a pause
# makes every contender pay for its pages alike; perf/results/host_memory_runs.md), ORDER
# (shuffle: the contenders in a new order every rep, seeded by the rep's number, so that
# none always runs after the same one; fixed: in the order listed above, as before),
# BASELINE (the increstore binary of another build, run as the contender `base`; it
# must read this collection), BASELINE_LABEL (how the report names that build,
# default: its --version) and BASELINE_TARGET (a speed-up over it that the report
# restates in units of the reference ceiling, e.g. 10). An earlier commit, for instance:
#   git worktree add /tmp/base REV && (cd /tmp/base && bash ci/build.sh bench)
#   BASELINE=/tmp/base/build/bench/cli/increstore BASELINE_LABEL=REV BASELINE_TARGET=10 \
#     bash perf/compare.sh W1
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-W0}
case "$W" in
  W0) ROWS=500000 INCS=10 CHANGES=50000 PAIR_ROWS=${PAIR_ROWS:-200000} ;;
  W1) ROWS=5000000 INCS=10 CHANGES=500000 PAIR_ROWS=${PAIR_ROWS:-2000000} ;;
  custom) : "${ROWS:?}" "${INCS:?}" "${CHANGES:?}"
          PAIR_ROWS=${PAIR_ROWS:-$((ROWS * 2 / 5))} ;;
  *) echo "usage: perf/compare.sh [W0|W1|custom]" >&2; exit 2 ;;
esac
REPS=${REPS:-3} RUN_TIMEOUT=${RUN_TIMEOUT:-1800} PAUSE=${PAUSE:-0} ORDER=${ORDER:-shuffle}
case "$ORDER" in shuffle|fixed) ;; *) echo "ORDER: shuffle or fixed, not '$ORDER'" >&2; exit 2 ;; esac
case "${SWEEP:-1}" in
  1) SWEEPS="chain pair skew" ;;
  0) SWEEPS="" ;;
  *) SWEEPS=${SWEEP//,/ } ;;
esac
for s in $SWEEPS; do
  case "$s" in chain|pair|skew) ;; *) echo "SWEEP: unknown sweep '$s' (chain, pair, skew)" >&2; exit 2 ;; esac
done
has() { [[ " $SWEEPS " == *" $1 "* ]]; }
PAIR_ROWS=$((PAIR_ROWS / 100 * 100)) TOTAL=$((INCS * CHANGES))
if has pair && [ "$PAIR_ROWS" -lt 100 ]; then echo "PAIR_ROWS must be >= 100" >&2; exit 2; fi
if has chain && [ "$TOTAL" -lt 1000 ]; then echo "chain sweep: INCS*CHANGES must be >= 1000" >&2; exit 2; fi

B=build/bench/cli/increstore P=build/bench/perf
for x in "$B" $P/irs_naive_loop $P/irs_ceiling $P/irs_sqlite_apply; do
  [ -x "$x" ] || { echo "missing $x: bash ci/build.sh bench" >&2; exit 2; }
done
command -v gnuplot >/dev/null || { echo "gnuplot missing: apt-get install gnuplot-nox" >&2; exit 2; }
TIME=/usr/bin/time
# the code measured: taken now, so commits made while this runs do not relabel it
COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo +changes)"
[ -x $TIME ] || { echo "missing /usr/bin/time (apt-get install time)" >&2; exit 2; }

# The reference ceiling: a fixed program beside the checkout, never built from here.
REF_DIR=${IRS_REFERENCE_DIR:-../shared/reference} REF=""
if [ "$REF_DIR" != none ]; then
  if [ ! -x "$REF_DIR/hash_bench" ]; then
    echo "reference ceiling: no hash_bench in $(realpath -m "$REF_DIR")" >&2
    echo "  build it (make -C $REF_DIR), point IRS_REFERENCE_DIR at it, or run without it" \
         "with IRS_REFERENCE_DIR=none (the report then says it was not measured)" >&2
    exit 2
  fi
  if command -v make >/dev/null && [ -f "$REF_DIR/Makefile" ] && ! make -q -C "$REF_DIR" hash_bench 2>/dev/null; then
    echo "note: $REF_DIR/hash_bench is older than its source (make -C $REF_DIR)" >&2
  fi
  # hash_bench generates its own workload of the same shape; it holds at most 64
  # incrementals and needs twice as many live keys as one incremental updates and erases.
  if [ "$INCS" -gt 64 ] || [ "$ROWS" -le $((2 * (CHANGES - CHANGES * 25 / 100))) ]; then
    echo "reference ceiling: hash_bench cannot run $ROWS rows + $INCS x $CHANGES (at most 64" \
         "incrementals, rows > 1.5 x changes); IRS_REFERENCE_DIR=none runs without it" >&2
    exit 2
  fi
  REF=$(realpath "$REF_DIR")/hash_bench
fi
REF_ENV=(WL_N="$ROWS" WL_INC="$INCS" WL_INCSZ="$CHANGES")
REF_ARGS=(--parts 2 --prefetch 16 --prefault) REF_COLD_ARGS=(--parts 2 --prefetch 16)

WORK=${PERF_WORK:-build/perf-work}/$W
OUT=${PERF_OUT:-perf/results}
[ "$W" = custom ] && OUT=${PERF_OUT:-perf/results/tmp}
mkdir -p "$WORK/runs" "$OUT"
rm -f "$WORK"/runs/*
SHM=/dev/shm; [ -w $SHM ] || SHM=/tmp

NPROC=$(nproc)
SHARDS="1 2"; [ "$NPROC" -gt 2 ] && SHARDS="$SHARDS $NPROC"
CONT=""
for s in $SHARDS; do CONT="$CONT inc$s"; done
CONT="$CONT inc2nc"
BASELINE=${BASELINE:-} BASELINE_LABEL=${BASELINE_LABEL:-} BASELINE_TARGET=${BASELINE_TARGET:-}
if [ -n "$BASELINE" ]; then
  [ -x "$BASELINE" ] || { echo "BASELINE: $BASELINE is not an executable" >&2; exit 2; }
  [ -n "$BASELINE_LABEL" ] || BASELINE_LABEL=$("$BASELINE" --version 2>/dev/null | head -1)
  CONT="$CONT base"
fi
CONT="$CONT loop ceiling"
[ -n "$REF" ] && CONT="$CONT reference refcold"
CONT="$CONT sqlite"
if [ -x $P/irs_rocksdb_apply ]; then CONT="$CONT rocksdb"; else echo "note: irs_rocksdb_apply not built: skipped" >&2; fi
if [ -x $P/irs_lmdb_apply ]; then CONT="$CONT lmdb"; else echo "note: irs_lmdb_apply not built: skipped" >&2; fi

# ------------------------------------------------------------------ collections
MAIN=$WORK/main
GENS=()   # "DIR|gen flags" of every collection this run reads
GENS+=("$MAIN|--rows $ROWS --incrementals $INCS --changes $CHANGES")
if has chain; then
  for k in 1 10 100 1000; do
    GENS+=("$WORK/chain-$k|--rows $ROWS --incrementals $k --changes $((TOTAL / k))")
  done
fi
if has pair; then
  GENS+=("$WORK/pair-100|--rows $PAIR_ROWS --incrementals 100 --changes $((PAIR_ROWS / 100))")
  GENS+=("$WORK/pair-1|--rows $PAIR_ROWS --incrementals 1 --changes $PAIR_ROWS")
fi
has skew && GENS+=("$WORK/zipf|--rows $ROWS --incrementals $INCS --changes $CHANGES --keys zipf --zipf-theta 0.99")

# Disk: about 65 bytes of segment files per change at W1; count 100, plus 10%.
# A collection is reused when DIR.flags says it was generated with the same flags.
fresh() { [ -f "$1/MANIFEST" ] && [ "$(cat "$1.flags" 2>/dev/null)" = "$2" ]; }
need=0
for g in "${GENS[@]}"; do
  d=${g%%|*} f=${g#*|}
  fresh "$d" "$f" && continue
  read -r r i ch <<< "$(echo "$f" | awk '{print $2, $4, $6}')"
  need=$((need + (r + i * ch) * 110))
done
avail=$(($(df --output=avail -k "$WORK" | tail -1) * 1024))
if [ "$need" -gt "$avail" ]; then
  echo "not enough disk in $WORK: the collections need about $((need >> 20)) MiB, $((avail >> 20)) MiB free" >&2
  exit 4
fi

for g in "${GENS[@]}"; do
  d=${g%%|*} f=${g#*|}
  fresh "$d" "$f" && continue
  rm -rf "$d" "$d.flags"
  if [ "$f" = "${GENS[0]#*|}" ] && [ "$d" != "$MAIN" ]; then
    ln -s main "$d"   # the same flags as the main collection: the same files
  else
    echo "  gen $d $f --seed 1" >&2
    # shellcheck disable=SC2086
    "$B" gen "$d" $f --seed 1 -q >&2
  fi
  echo "$f" > "$d.flags"
done
[ "${GEN_ONLY:-0}" = 1 ] && exit 0
SAME_FULL=""
if has pair; then   # the pair's two chains start from the same full backup, byte for byte
  SAME_FULL=yes
  for f in "$WORK"/pair-1/data/b000001-*/*.seg; do
    g=$(echo "$WORK"/pair-100/data/b000001-*/"$(basename "$f")")
    cmp -s "$f" "$g" || SAME_FULL=no
  done
fi
MAINBYTES=$(cat "$MAIN"/data/*/*.seg | wc -c)
shm_avail=$(($(df --output=avail -k $SHM | tail -1) * 1024))
[ "$shm_avail" -gt $((4 * MAINBYTES)) ] ||
  echo "note: $SHM has $((shm_avail >> 20)) MiB free; RocksDB and LMDB may need $((4 * MAINBYTES >> 20)) MiB" >&2
warm() { cat "$1"/data/*/*.seg > /dev/null; }

# ------------------------------------------------------------------ one run
# $WORK/runs/NAME-TAG.json: one JSON line {engine, seconds, changes, rows, digest, ...}
# or {"timeout": true}; .rss: /usr/bin/time's peak RSS; .stats.json: the restore's stats.
run() { # NAME TAG COLLECTION
  local name=$1 tag=$2 c=$3 o=$WORK/runs/$1-$2 rc=0 db=$SHM/irs-perf-$$-$1
  local t=("$TIME" -f %M -o "$o.rss" timeout -k 10 "$RUN_TIMEOUT")
  [ "$PAUSE" = 0 ] || sleep "$PAUSE"
  case "$name" in
    inc*|base) local s=${name#inc} flags=() bin=$B
          if [[ $s == *nc ]]; then s=${s%nc}; flags=(--no-check-expected); fi
          if [ "$name" = base ]; then s=2 bin=$BASELINE; fi
          "${t[@]}" "$bin" restore "$c" --shards "$s" "${flags[@]}" -q --stats-json "$o.stats.json" || rc=$?
          [ $rc != 0 ] || python3 - "$o.stats.json" "${flags[*]}" > "$o.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(json.dumps({"engine": "increstore-%d" % s["shards"], "seconds": s["wall_s"],
                  "changes": s["totals"]["changes"], "rows": sum(t["rows"] for t in s["tables"]),
                  "digest": s["tables"][0]["digest"], "flags": sys.argv[2]}))
PY
          ;;
    loop) "${t[@]}" $P/irs_naive_loop "$c" > "$o.json" || rc=$? ;;
    ceiling) "${t[@]}" $P/irs_ceiling "$c" 2 > "$o.json" || rc=$? ;;
    reference|refcold) local args=("${REF_ARGS[@]}")
      [ "$name" = refcold ] && args=("${REF_COLD_ARGS[@]}")
      env "${REF_ENV[@]}" "${t[@]}" "$REF" "${args[@]}" > "$o.out" 2> "$o.err" || rc=$?
      [ $rc != 0 ] || python3 - "$o.out" "${REF_ENV[*]}" "${args[*]}" > "$o.json" <<'PY'
import json, sys
line = [l for l in open(sys.argv[1]) if l.startswith('RESULT ')][-1]
f = dict(kv.split('=', 1) for kv in line.split()[1:] if '=' in kv)
env = dict(kv.split('=', 1) for kv in sys.argv[2].split())
n, k, sz = int(env['WL_N']), int(env['WL_INC']), int(env['WL_INCSZ'])
print(json.dumps({"engine": "reference", "seconds": float(f['total_s']), "changes": n + k * sz,
                  "rows": int(f['rows']), "total_rps": float(f['total_rps']),
                  "full_seconds": float(f['full_s']), "incremental_seconds": float(f['inc_s']),
                  "inc_rps": float(f['inc_rps']), "full_rps": float(f['full_rps']),
                  "checksum": f['checksum'], "env": sys.argv[2], "args": sys.argv[3]}))
PY
      ;;
    sqlite) "${t[@]}" $P/irs_sqlite_apply "$c" > "$o.json" || rc=$? ;;
    rocksdb|lmdb) "${t[@]}" "$P/irs_${name}_apply" "$c" "$db" > "$o.json" || rc=$?
                  rm -rf "$db" ;;
  esac
  if [ $rc = 124 ] || [ $rc = 137 ]; then
    echo "{\"timeout\": true, \"seconds\": $RUN_TIMEOUT}" > "$o.json"
    echo "  $name ($tag) timed out after $RUN_TIMEOUT s" >&2
  elif [ $rc != 0 ]; then
    echo "$name ($tag) failed with exit status $rc on $c (files: $o.*)" >&2
    exit 1
  fi
  echo "  $tag $name: $(python3 -c "import json,sys;print('%.3f' % json.load(open(sys.argv[1]))['seconds'])" "$o.json") s" >&2
}

# ------------------------------------------------------------------ the runs
warm "$MAIN"
echo "== $W: contenders:$CONT; $REPS reps" >&2
ORDERS=()
for rep in $(seq "$REPS"); do
  order=$CONT
  if [ "$ORDER" = shuffle ]; then
    order=$(python3 -c 'import random, sys
names = sys.argv[2:]
random.Random(int(sys.argv[1])).shuffle(names)
print(" ".join(names))' "$rep" $CONT)
  fi
  ORDERS+=("$order")
  for name in $order; do run "$name" "$rep" "$MAIN"; done
done

if [ -n "$SWEEPS" ]; then
  echo "== sweeps: $SWEEPS" >&2
  if has chain; then for k in 1 10 100 1000; do warm "$WORK/chain-$k"; done; fi
  if has pair; then warm "$WORK/pair-100"; warm "$WORK/pair-1"; fi
  if has skew; then warm "$WORK/zipf"; fi
  for rep in $(seq "$REPS"); do
    if has chain; then
      for k in 1 10 100 1000; do run inc2 "chain$k-$rep" "$WORK/chain-$k"; done
    fi
    if has pair; then
      run inc2 "pair100-$rep" "$WORK/pair-100"
      run inc2 "pair1-$rep" "$WORK/pair-1"
    fi
    if has skew; then
      for n in inc1 inc2 loop; do
        run $n "uniform-$rep" "$MAIN"
        run $n "zipf-$rep" "$WORK/zipf"
      done
    fi
  done
fi

# ------------------------------------------------------------------ the report
python3 - > "$WORK/meta.json" <<PY
import json
print(json.dumps({
  "workload": "$W", "reps": $REPS, "contenders": "$CONT".split(), "sweeps": "$SWEEPS".split(),
  "segment_bytes": $MAINBYTES, "gen_flags": "--rows $ROWS --incrementals $INCS --changes $CHANGES",
  "rows": $ROWS, "incrementals": $INCS, "changes": $CHANGES, "pair_rows": $PAIR_ROWS,
  "pair_same_full": "$SAME_FULL", "run_timeout": $RUN_TIMEOUT, "pause": $PAUSE,
  "order": "$ORDER", "orders": [o.split() for o in """$(printf '%s\n' "${ORDERS[@]}")""".splitlines()],
  "reference": "$REF", "reference_dir": "$REF_DIR", "reference_env": "${REF_ENV[*]}",
  "reference_args": "${REF_ARGS[*]}", "reference_cold_args": "${REF_COLD_ARGS[*]}",
  "baseline": "$BASELINE", "baseline_label": "$BASELINE_LABEL", "baseline_target": "$BASELINE_TARGET",
  "commit": "$COMMIT",
  "version": "$("$B" --version 2>/dev/null | head -1)"}))
PY
python3 perf/compare_report.py "$WORK" "$OUT"
cat "$OUT/$W.md"
