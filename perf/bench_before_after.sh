#!/usr/bin/env bash
# perf/bench_before_after.sh OLD_IRS_BENCH NEW_IRS_BENCH [OUT]: the component
# microbenchmarks (bench/) of two builds, interleaved REPS times (default 3) so the
# machine's noise hits both alike; writes a table of medians (min-max) and the ratio
# new/old (higher is better) to OUT (default perf/results/bench_before_after.md).
# OLD_NAME and NEW_NAME (default: the paths) name the builds in the report, e.g. their commits.
#
# An old build: git worktree add /tmp/old REV && cd /tmp/old && bash ci/build.sh bench
# (its binary is /tmp/old/build/bench/bench/irs_bench).
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${1:?usage: $0 OLD_IRS_BENCH NEW_IRS_BENCH [OUT]} NEW=${2:?usage: $0 OLD_IRS_BENCH NEW_IRS_BENCH [OUT]}
OUT=${3:-perf/results/bench_before_after.md} REPS=${REPS:-3}
FILTER=${FILTER:-'BM_(table|batch|route|crc32c|inbox|barrier)'}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
for r in $(seq "$REPS"); do
  for v in old new; do
    bin=$OLD; [ $v = new ] && bin=$NEW
    "$bin" --benchmark_filter="$FILTER" --benchmark_format=json 2>/dev/null > "$W/$v.$r.json"
  done
done
python3 - "$W" "$REPS" "${OLD_NAME:-$OLD}" "${NEW_NAME:-$NEW}" <<'PY' > "$OUT"
import json, statistics, sys, platform
w, reps, old_bin, new_bin = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
SCALE = {'ns': 1e-9, 'us': 1e-6, 'ms': 1e-3, 's': 1.0}
def load(v):
    out = {}
    for r in range(1, reps + 1):
        for b in json.load(open('%s/%s.%d.json' % (w, v, r)))['benchmarks']:
            if b.get('run_type') == 'aggregate':
                continue
            if 'bytes_per_second' in b:
                kind, x = 'rate_b', b['bytes_per_second']
            elif 'items_per_second' in b:
                kind, x = 'rate_i', b['items_per_second']
            else:
                kind, x = 'time', b['real_time'] * SCALE[b.get('time_unit', 'ns')]
            out.setdefault(b['name'], (kind, []))[1].append(x)
    return out
def fmt(kind, x):
    if kind == 'rate_b':
        return '%.0f MB/s' % (x / 1e6)
    if kind == 'rate_i':
        return '%.2f M/s' % (x / 1e6)
    return '%.1f us' % (x * 1e6)
old, new = load('old'), load('new')
cpu = [l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')]
print('# Component microbenchmarks: before and after\n')
print('Machine: %s, %d cores, Linux %s. Old: `%s`; new: `%s`. %d interleaved runs of each; '
      'median (min-max). Rates are per second of CPU time, or of wall time where the name '
      'says real_time; times are wall time; new/old > 1 means the new build is faster.\n'
      % (cpu[0], len(cpu), platform.release(), old_bin, new_bin, reps))
print('| benchmark | old | new | new/old |')
print('| --- | ---: | ---: | ---: |')
for name, (kind, nv) in new.items():
    if name not in old:
        continue
    ov = old[name][1]
    mo, mn = statistics.median(ov), statistics.median(nv)
    ratio = mn / mo if kind != 'time' else mo / mn
    print('| %s | %s (%s-%s) | %s (%s-%s) | %.2fx |' % (
        name, fmt(kind, mo), fmt(kind, min(ov)), fmt(kind, max(ov)),
        fmt(kind, mn), fmt(kind, min(nv)), fmt(kind, max(nv)), ratio))
PY
cat "$OUT"
