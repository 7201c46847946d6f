#!/usr/bin/env python3
"""perf/compare_report.py: turns the runs of perf/compare.sh into perf/results/<W>.md
and three gnuplot PNGs. Called by compare.sh; not meant to be run alone.

argv: W WORK OUT REPS SWEEP SEGBYTES GENFLAGS CONTENDER...
"""
import json, os, platform, statistics, subprocess, sys

W, WORK, OUT, REPS, SWEEP, SEGBYTES, GENFLAGS = sys.argv[1:8]
CONT = sys.argv[8:]
REPS, SWEEP, SEGBYTES = int(REPS), SWEEP == '1', int(SEGBYTES)
RUNS = os.path.join(WORK, 'runs')

LABEL = {'loop': 'single-threaded loop (irs_naive_loop)', 'ceiling': 'apply-only ceiling, 2 threads (irs_ceiling)',
         'sqlite': 'SQLite in-memory (irs_sqlite_apply)', 'rocksdb': 'RocksDB, WAL off (irs_rocksdb_apply)',
         'lmdb': 'LMDB (irs_lmdb_apply)'}
def label(n):
    return 'increstore, %s shard%s' % (n[3:], '' if n == 'inc1' else 's') if n.startswith('inc') else LABEL[n]

def load(name, tag):
    base = os.path.join(RUNS, '%s-%s' % (name, tag))
    r = json.loads(open(base + '.json').read().strip().splitlines()[-1])
    try:
        r['rss_kb'] = int(open(base + '.rss').read().split()[-1])
    except (OSError, ValueError, IndexError):
        r['rss_kb'] = None
    if os.path.exists(base + '.stats.json'):
        r['stats'] = json.load(open(base + '.stats.json'))
    return r

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]

def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)

# ------------------------------------------------------------------ main contenders
runs = {n: [load(n, str(r)) for r in range(1, REPS + 1)] for n in CONT}
digests = {(n, r['digest']) for n in CONT for r in runs[n]}
if len({d for _, d in digests}) != 1:
    fail('digest mismatch between contenders: %s' % sorted(digests))
changes = runs[CONT[0]][0]['changes']
for n in CONT:
    for r in runs[n]:
        if r['changes'] != changes:
            fail('%s counted %d changes, %s %d' % (n, r['changes'], CONT[0], changes))
med = {n: statistics.median(r['seconds'] for r in runs[n]) for n in CONT}

cpu = [l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')]
mem = int([l.split()[1] for l in open('/proc/meminfo') if l.startswith('MemTotal')][0])
L = []
p = L.append
p('# Contenders side by side: %s (`perf/compare.sh %s`)\n' % (W, W))
p('Machine: %s, %d cores, %.1f GiB, Linux %s.\n' % (cpu[0] if cpu else '?', os.cpu_count(), mem / 2**20,
                                                 platform.release()))
p('Collection: `increstore gen %s --seed 1`: %d changes in all (full backup + incrementals), '
  '%.1f MB of segment files, in the page cache. %d interleaved runs of each contender; '
  'the table gives the median (min-max). Every contender ended with the same content digest '
  '(`%s`) and row count (%d).\n' % (GENFLAGS, changes, SEGBYTES / 1e6, REPS, runs[CONT[0]][0]['digest'],
                                    runs[CONT[0]][0]['rows']))
p('| contender | seconds | M changes/s | MB/s | peak RSS MiB | barrier turnaround p50 / p99 us | shard skew mean / max |')
p('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
for n in CONT:
    rs = runs[n]
    secs = [r['seconds'] for r in rs]
    rss = [r['rss_kb'] for r in rs if r['rss_kb']]
    bt = sk = '-'
    if n.startswith('inc'):
        v = [b['barrier_turnaround_us'] for r in rs for b in r['stats']['backups'][1:]]
        s = [b['skew'] for r in rs for b in r['stats']['backups']]
        if v:
            bt = '%.1f / %.1f' % (pct(v, 0.5), pct(v, 0.99))
        if s:
            sk = '%.3f / %.3f' % (statistics.mean(s), max(s))
    p('| %s | %.3f (%.3f-%.3f) | %.2f | %.0f | %s | %s | %s |' % (
        label(n), med[n], min(secs), max(secs), changes / med[n] / 1e6, SEGBYTES / med[n] / 1e6,
        '%.0f' % (statistics.median(rss) / 1024) if rss else '-', bt, sk))

p('\nRatios: how many times faster the row is than the column (column seconds / row seconds).\n')
short = {n: (n.replace('inc', 'inc-') if n.startswith('inc') else n) for n in CONT}
p('| | ' + ' | '.join(short[n] for n in CONT) + ' |')
p('| --- |' + ' ---: |' * len(CONT))
for a in CONT:
    p('| %s | ' % short[a] + ' | '.join('%.2fx' % (med[b] / med[a]) for b in CONT) + ' |')

def ratio(a, b):
    return med[b] / med[a] if a in med and b in med else None
T = [('increstore 2 shards vs the apply-only ceiling', ratio('inc2', 'ceiling'), '>= 0.45x', 0.45),
     ('increstore 2 shards vs SQLite', ratio('inc2', 'sqlite'), '>= 40x', 40),
     ('increstore 2 shards vs RocksDB', ratio('inc2', 'rocksdb'), '>= 80x', 80),
     ('increstore 1 shard vs the loop', ratio('inc1', 'loop'), '>= 0.9x', 0.9),
     ('increstore 2 shards vs the loop', ratio('inc2', 'loop'), '>= 1.7x', 1.7)]
p('\n| docs/design.md section 6 | measured | target | |')
p('| --- | ---: | --- | --- |')
for what, v, tgt, lim in T:
    if v is not None:
        p('| %s | %.2fx | %s | %s |' % (what, v, tgt, 'met' if v >= lim else '**missed**'))
if 'inc2' in runs:
    st = runs['inc2'][0]['stats']
    logical = sum(t['logical_bytes'] for t in st['tables'])
    rss = statistics.median(r['stats']['peak_rss_bytes'] for r in runs['inc2'])
    lim = 1.5 * logical + 64 * 2**20
    p('| peak RSS (2 shards) vs logical size %.0f MiB | %.0f MiB (%.2fx) | <= 1.5x + 64 MiB = %.0f MiB | %s |' % (
        logical / 2**20, rss / 2**20, rss / logical, lim / 2**20, 'met' if rss <= lim else '**missed**'))

notes = []
for n in ('sqlite', 'rocksdb', 'lmdb'):
    if n in runs:
        r = runs[n][0]
        d = statistics.median(x['decode_seconds'] for x in runs[n])
        notes.append('* %s: %s. Read + decode alone took %.3f s (%.1f%% of its time).%s' % (
            label(n), r.get('note', ''), d, 100 * d / med[n],
            ' Partial updates done as read-modify-write: %d.' % r['rmw'] if 'rmw' in r else ''))
notes.append('* increstore: `restore --no-check-expected --stats-json`, its own wall time (irs_restore_run: '
             'shard threads started -> tables complete; opening the MANIFEST is outside every contender\'s '
             'timer); barrier turnaround over the incrementals of all runs (last shard done -> coordinator '
             'awake); skew from the stats.')
notes.append('* loop: read + decode + reserve + apply_batch per frame in one thread, same table code.')
if 'ceiling' in runs:
    rc = runs['ceiling']
    fs = statistics.median(r['full_seconds'] for r in rc)
    ir = statistics.median(r['incremental_mchanges_per_s'] for r in rc)
    notes.append('* ceiling: %s. Of its time, the full backup (%d inserts into empty tables) took %.3f s '
                 '(%.2f M rows/s); the incrementals ran at %.2f M changes/s.' % (
                     rc[0].get('note', ''), rc[0]['full_changes'], fs, rc[0]['full_changes'] / fs / 1e6, ir))
notes.append('* Peak RSS is `/usr/bin/time -f %M` of the process (the ceiling and the KV stores include '
             'their pre-decoded or pre-read inputs; SQLite, RocksDB and LMDB run one extra decode-only pass first; the LMDB figure includes its tmpfs pages mapped in).')
p('\nWhat each contender measures (all end to end from the page cache unless said):\n')
L.extend(x for x in notes if x)

# ------------------------------------------------------------------ plots
def gnuplot(script):
    subprocess.run(['gnuplot'], input=script.encode(), check=True)

shards = [n for n in CONT if n.startswith('inc')]
dat = os.path.join(WORK, 'shards.dat')
with open(dat, 'w') as f:
    for n in shards:
        f.write('%s %f\n' % (n[3:], changes / med[n] / 1e6))
COLORS = ['#d62728', '#1f77b4', '#ff7f0e', '#2ca02c', '#8c564b']
refs = ''.join(', %f title "%s" with lines dt %d lw 2 lc rgb "%s"' % (changes / med[n] / 1e6, n, i + 2, COLORS[i])
               for i, n in enumerate(c for c in ('ceiling', 'loop', 'sqlite', 'rocksdb', 'lmdb') if c in med))
png1 = '%s-shards.png' % W
gnuplot('''set terminal pngcairo size 900,560
set output "%s"
set title "%s: throughput vs shards (median of %d)"
set xlabel "shards"; set ylabel "M changes/s (log)"; set logscale y
set xrange [0.5:%d.5]; set xtics 1; set key outside right; set grid
plot "%s" using 1:2 title "increstore" with linespoints lw 2 pt 7 ps 1.5%s
''' % (os.path.join(OUT, png1), W, REPS, int(shards[-1][3:]), dat, refs))

png2 = '%s-backups.png' % W
dat2 = os.path.join(WORK, 'backups.dat')
nb = len(runs[shards[0]][0]['stats']['backups'])
with open(dat2, 'w') as f:
    for i in range(nb):
        f.write('%d' % i)
        for n in shards:
            f.write(' %f' % (1e3 * statistics.median(r['stats']['backups'][i]['wall_s'] for r in runs[n])))
        f.write('\n')
plots = ', '.join('"%s" using 1:%d title "increstore, %s shard(s)" with linespoints lw 2' % (dat2, i + 2, n[3:])
                  for i, n in enumerate(shards))
gnuplot('''set terminal pngcairo size 900,560
set output "%s"
set title "%s: time per backup (0 = the full backup; median of %d)"
set xlabel "backup in the chain"; set ylabel "ms (log)"; set logscale y; set grid; set xtics 1
plot %s
''' % (os.path.join(OUT, png2), W, REPS, plots))
pngs = [png1, png2]

# ------------------------------------------------------------------ sweeps
if SWEEP:
    p('\n## Chain length: the same incremental changes in 1, 10, 100, 1000 incrementals '
      '(increstore, 2 shards)\n')
    p('| incrementals | restore seconds | incrementals only, seconds | vs 1 incremental (incrementals only) | per backup, ms |')
    p('| ---: | ---: | ---: | ---: | ---: |')
    ch = {}
    for k in (1, 10, 100, 1000):
        rs = [load('inc2', 'chain%d-%d' % (k, r)) for r in range(1, REPS + 1)]
        tot = statistics.median(r['seconds'] for r in rs)
        inc = statistics.median(sum(b['wall_s'] for b in r['stats']['backups'][1:]) for r in rs)
        ch[k] = (tot, inc)
    for k, (tot, inc) in ch.items():
        p('| %d | %.3f | %.3f | %.2fx | %.3f |' % (k, tot, inc, inc / ch[1][1], 1e3 * inc / k))
    p('\nTarget: 100 incrementals <= 1.2x the time of 1 (measured on the incrementals: '
      '%.2fx, %s; on the whole restore: %.2fx).' % (ch[100][1] / ch[1][1],
                                                 'met' if ch[100][1] <= 1.2 * ch[1][1] else '**missed**',
                                                 ch[100][0] / ch[1][0]))
    dat3 = os.path.join(WORK, 'chain.dat')
    with open(dat3, 'w') as f:
        for k, (tot, inc) in ch.items():
            f.write('%d %f %f\n' % (k, tot, inc))
    png3 = '%s-chain.png' % W
    gnuplot('''set terminal pngcairo size 900,560
set output "%s"
set title "%s: restore time vs chain length (same changes; 2 shards; median of %d)"
set xlabel "incrementals (log)"; set ylabel "seconds"; set logscale x; set grid; set yrange [0:*]
set key top left
plot "%s" using 1:2 title "whole restore (full + incrementals)" with linespoints lw 2 pt 7, \\
     "%s" using 1:3 title "incrementals only" with linespoints lw 2 pt 5
''' % (os.path.join(OUT, png3), W, REPS, dat3, dat3))
    pngs.append(png3)

    p('\n## Key skew: uniform vs zipf (theta 0.99), same sizes\n')
    p('| contender | uniform s | zipf s | zipf / uniform | shard skew mean / max (uniform; zipf) |')
    p('| --- | ---: | ---: | ---: | --- |')
    zd = set()
    for n in ('inc1', 'inc2', 'loop'):
        u = [load(n, 'uniform-%d' % r) for r in range(1, REPS + 1)]
        z = [load(n, 'zipf-%d' % r) for r in range(1, REPS + 1)]
        zd |= {r['digest'] for r in z}
        mu, mz = statistics.median(r['seconds'] for r in u), statistics.median(r['seconds'] for r in z)
        sk = '-'
        if n.startswith('inc'):
            su = [b['skew'] for r in u for b in r['stats']['backups']]
            sz = [b['skew'] for r in z for b in r['stats']['backups']]
            sk = '%.3f / %.3f; %.3f / %.3f' % (statistics.mean(su), max(su), statistics.mean(sz), max(sz))
        p('| %s | %.3f | %.3f | %.2fx | %s |' % (label(n), mu, mz, mz / mu, sk))
    if len(zd) != 1:
        fail('zipf: digest mismatch %s' % zd)

p('\nPlots: ' + ', '.join('[%s](%s)' % (x, x) for x in pngs) + '.')
open(os.path.join(OUT, W + '.md'), 'w').write('\n'.join(L) + '\n')
