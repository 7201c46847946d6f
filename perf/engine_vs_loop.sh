#!/usr/bin/env bash
# perf/engine_vs_loop.sh [ROWS INCREMENTALS CHANGES]: the engine at 1 and 2 shards, in
# its default mode (the expected states the collection records checked at every
# barrier), against the single-threaded loop (perf/naive_loop.c: read, decode, apply with the
# same table code; no threads, no queues), on one generated collection, in one run;
# then the barrier turnaround with 16 shards on a chain of 200 small incrementals,
# and peak RSS against the tables' logical size. Writes perf/results/engine_vs_loop.md.
#
# Default size: W1 of docs/design.md section 6 (5000000 rows, 10 x 500000 changes).
# REPS runs of each (default 3), interleaved; ORDER=permute (default) runs the three in
# the next of their six orders every rep, so that none always follows the same one (a
# run's time here depends on what ran just before it; perf/compare.sh shuffles its nine
# for the same reason), ORDER=fixed as loop, 1 shard, 2 shards every rep.
# Needs the bench preset: bash ci/build.sh bench
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-5000000} INCS=${2:-10} CHANGES=${3:-500000} REPS=${REPS:-3} ORDER=${ORDER:-permute}
case "$ORDER" in permute|fixed) ;; *) echo "ORDER: permute or fixed, not '$ORDER'" >&2; exit 2 ;; esac
B=build/bench/cli/increstore
LOOP=build/bench/perf/irs_naive_loop
[ -x "$B" ] && [ -x "$LOOP" ] || { echo "build first: bash ci/build.sh bench" >&2; exit 2; }
W=${PERF_WORK:-build/perf-work}
mkdir -p "$W" perf/results
C=$W/w-$ROWS-$INCS-$CHANGES
[ -f "$C/MANIFEST" ] || "$B" gen "$C" --rows "$ROWS" --incrementals "$INCS" --changes "$CHANGES" --seed 1 -q
cat "$C"/data/*/*.seg > /dev/null   # page cache: the comparison excludes disk reads
CHG=$(python3 -c "import sys;print($ROWS + $INCS * $CHANGES)")

# The loop's digest, which every engine run must end with (untimed; also a warm-up).
"$LOOP" "$C" > "$W/loop-digest.json"
run_engine() { # shards -> seconds (the restore's own wall time); every run's digest must be the loop's
  "$B" restore "$C" --shards "$1" -q --stats-json "$W/s$1.json"
  python3 - "$W/s$1.json" "$W/loop-digest.json" <<'PY'
import json, sys
s, l = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
if s['tables'][0]['digest'] != l['digest']:
    sys.exit('digest mismatch: loop %s, engine (%d shards) %s' % (l['digest'], s['shards'], s['tables'][0]['digest']))
print(s['wall_s'])
PY
}
declare -A T
ORDERS=()
for rep in $(seq "$REPS"); do     # interleaved, so machine noise hits all alike
  order="loop s1 s2"
  [ "$ORDER" = permute ] && order=$(python3 -c 'import itertools, sys
orders = list(itertools.permutations(sys.argv[2:]))
print(" ".join(orders[(int(sys.argv[1]) - 1) % len(orders)]))' "$rep" $order)
  ORDERS+=("${order// /,}")
  for who in $order; do
    if [ "$who" = loop ]; then
      "$LOOP" "$C" > "$W/loop.json"
      T[loop]+="$(python3 -c "import json;print(json.load(open('$W/loop.json'))['seconds'])") "
    else
      T[$who]+="$(run_engine "${who#s}") "
    fi
  done
done
# the last 2-shard run's (whichever ran last in its rep)
rss=$(python3 -c "import json;s=json.load(open('$W/s2.json'));print(s['peak_rss_bytes'], s['tables'][0]['logical_bytes'])")

# Barrier turnaround: 200 incrementals of 1000 changes, 16 shards.
CB=$W/barrier
[ -f "$CB/MANIFEST" ] || "$B" gen "$CB" --rows 100000 --incrementals 200 --changes 1000 --seed 2 -q
"$B" restore "$CB" --shards 16 -q --stats-json "$W/b.json"
bt=$(python3 -c "
import json; s = json.load(open('$W/b.json'))
v = sorted(b['barrier_turnaround_us'] for b in s['backups'][1:])
print('%.1f %.1f %.1f' % (v[len(v)//2], v[int(len(v)*0.99)], v[-1]))")

python3 - "${T[loop]}" "${T[s1]}" "${T[s2]}" "$CHG" $rss $bt "$ORDER" "${ORDERS[*]}" <<'PY' > perf/results/engine_vs_loop.md
import sys, platform, statistics
runs = [[float(x) for x in a.split()] for a in sys.argv[1:4]]
chg, rss, logical, p50, p99, mx, order, orders = sys.argv[4:]
loop, s1, s2 = (statistics.median(r) for r in runs)
chg, rss, logical = int(chg), int(rss), int(logical)
spread = ['%.3f-%.3f' % (min(r), max(r)) for r in runs]
every = ['; '.join('%.3f' % x for x in r) for r in runs]
cpu = [l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')]
mem = [l.split()[1] for l in open('/proc/meminfo') if l.startswith('MemTotal')][0]
print('# Engine vs the single-threaded loop\n')
print('Machine: %s, %d cores, %.1f GiB, Linux %s\n' % (cpu[0], len(cpu), int(mem) / 2**20, platform.release()))
print('Collection: %d changes in total (gen, seed 1); files in page cache; %d interleaved runs of each, '
      'median (min-max), every run listed. The engine runs in its default mode (expected states checked at every barrier).\n' % (chg, len(runs[0])))
names = {'loop': 'loop', 's1': '1 shard', 's2': '2 shards'}
if order == 'permute':
    print('Order: the next of the six every rep (`ORDER=permute`): %s.\n' % '; '.join(
        'rep %d: %s' % (i + 1, ', '.join(names[n] for n in o.split(','))) for i, o in enumerate(orders.split())))
else:
    print('Order: loop, 1 shard, 2 shards in every rep (`ORDER=fixed`).\n')
print('| contender | seconds | M changes/s | vs loop | target | every run, seconds |')
print('| --- | ---: | ---: | ---: | --- | --- |')
print('| single-threaded loop | %.3f (%s) | %.2f | 1.00x | | %s |' % (loop, spread[0], chg / loop / 1e6, every[0]))
print('| increstore, 1 shard | %.3f (%s) | %.2f | %.2fx | >= 0.9x | %s |' % (s1, spread[1], chg / s1 / 1e6, loop / s1, every[1]))
print('| increstore, 2 shards | %.3f (%s) | %.2f | %.2fx | >= 1.7x | %s |' % (s2, spread[2], chg / s2 / 1e6, loop / s2, every[2]))
print('\nPeak RSS (2 shards): %.0f MiB for %.0f MiB of logical table data: %.2fx '
      '(target <= 1.5x + 64 MiB = %.0f MiB).\n' % (rss / 2**20, logical / 2**20, rss / logical,
                                                  (1.5 * logical + 64 * 2**20) / 2**20))
print('Barrier turnaround, 16 shards, 200 incrementals (last shard done -> coordinator awake): '
      'p50 %s us, p99 %s us, max %s us (target p99 <= 100 us).' % (p50, p99, mx))
PY
cat perf/results/engine_vs_loop.md
