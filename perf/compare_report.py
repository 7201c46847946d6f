#!/usr/bin/env python3
"""perf/compare_report.py WORK OUT: turns the runs of perf/compare.sh (WORK/meta.json,
WORK/runs/NAME-TAG.{json,rss,stats.json}) into OUT/<W>.md and gnuplot PNGs. Called by
compare.sh; can be rerun alone on the same WORK.

Every figure is the median of the runs with their min-max, and every run is listed: a
run that hit RUN_TIMEOUT counts as RUN_TIMEOUT seconds, marked '>' (its figures are
bounds). Peak RSS is /usr/bin/time's maximum resident set of the process. Fails (exit 1)
when the contenders that read the collection disagree on the content digest, the
change count or the row count.
"""
import json, os, platform, statistics, subprocess, sys

WORK, OUT = sys.argv[1:3]
META = json.load(open(os.path.join(WORK, 'meta.json')))
W, REPS, CONT, SWEEPS = META['workload'], META['reps'], META['contenders'], META['sweeps']
RUNS = os.path.join(WORK, 'runs')
MiB = 2**20

LABEL = {'loop': 'single-threaded loop (irs_naive_loop)',
         'ceiling': 'our own ceiling (irs_ceiling: apply only, 2 threads)',
         'reference': 'reference ceiling (hash_bench, pre-decoded, prefaulted)',
         'refcold': 'reference ceiling without --prefault (its tables touched inside its timer)',
         'sqlite': 'SQLite in-memory (irs_sqlite_apply)',
         'rocksdb': 'RocksDB, merge operator (irs_rocksdb_apply)',
         'lmdb': 'LMDB (irs_lmdb_apply)'}


BASE_NAME = 'increstore at %s' % (META.get('baseline_label') or 'BASELINE')


def label(n):
    if n == 'base':
        return BASE_NAME + ', 2 shards (default)'
    if n.startswith('inc'):
        s = n[3:].replace('nc', '')
        return 'increstore, %s shard%s%s' % (s, '' if s == '1' else 's',
                                             ', --no-check-expected' if n.endswith('nc') else ' (default)')
    return LABEL[n]


def fail(msg):
    print('compare_report: ' + msg, file=sys.stderr)
    sys.exit(1)


def load(name, tag):
    base = os.path.join(RUNS, '%s-%s' % (name, tag))
    r = json.loads(open(base + '.json').read().strip().splitlines()[-1])
    r.setdefault('timeout', False)
    try:
        r['rss_kb'] = int(open(base + '.rss').read().split()[-1])
    except (OSError, ValueError, IndexError):
        r['rss_kb'] = None
    if not r['timeout'] and os.path.exists(base + '.stats.json'):
        r['stats'] = json.load(open(base + '.stats.json'))
    return r


def series(name, tag_fmt):
    return [load(name, tag_fmt % rep) for rep in range(1, REPS + 1)]


class Fig:
    """The median of some runs with min and max; lb = a run timed out (a lower bound)."""
    def __init__(self, vals, lb=False):
        self.v, self.lb = sorted(vals), lb
        self.med = statistics.median(self.v) if self.v else None

    def fmt(self, f='%.3f', scale=1.0):
        if self.med is None:
            return '-'
        s = f % (self.med / scale)
        if len(self.v) > 1:
            s += ' (%s-%s)' % (f % (self.v[0] / scale), f % (self.v[-1] / scale))
        return ('> ' if self.lb else '') + s


def secs(rs):
    return Fig([r['seconds'] for r in rs], any(r['timeout'] for r in rs))


def rss(rs):
    return Fig([r['rss_kb'] * 1024 for r in rs if r['rss_kb'] and not r['timeout']])


def every(rs, with_rss=True):
    """Every run: 's, MiB' each, in run order."""
    out = []
    for r in rs:
        if r['timeout']:
            out.append('> %d s (timed out)' % r['seconds'])
        else:
            out.append('%.3f s' % r['seconds'] + (', %.0f MiB' % (r['rss_kb'] / 1024) if with_rss and r['rss_kb'] else ''))
    return '; '.join(out)


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]


def logical(rs):
    for r in rs:
        if 'stats' in r:
            return sum(t['logical_bytes'] for t in r['stats']['tables'])
    return None


def inc_seconds(r):
    """Time after the full backup: the restore's wall time minus the full backup's."""
    return r['seconds'] if r['timeout'] else r['seconds'] - r['stats']['backups'][0]['wall_s']


# ------------------------------------------------------------------ main contenders
runs = {n: series(n, '%d') for n in CONT}
# hash_bench, on its own generated workload: its arguments, and where its tables are touched
REFS = {'reference': (META['reference_args'], 'tables allocated and touched in advance (prefault)'),
        'refcold': (META.get('reference_cold_args', '?'), 'tables allocated and first touched inside the timer')}
same = [n for n in CONT if n not in REFS]   # the contenders that read our files
ok = [(n, r) for n in same for r in runs[n] if not r['timeout']]
for key in ('digest', 'changes', 'rows'):
    vals = {r[key] for _, r in ok}
    if len(vals) > 1:
        fail('%s mismatch between contenders: %s' % (key, sorted({(n, r[key]) for n, r in ok})))
if not ok:
    fail('every run timed out')
first = ok[0][1]
changes, rows, digest = first['changes'], first['rows'], first['digest']
T = {n: secs(runs[n]) for n in CONT}
R = {n: rss(runs[n]) for n in CONT}
rate = {n: runs[n][0]['changes'] / T[n].med if not runs[n][0]['timeout'] else changes / T[n].med for n in CONT}

cpu = [l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')]
mem = int([l.split()[1] for l in open('/proc/meminfo') if l.startswith('MemTotal')][0])
L = []
p = L.append
p('# Contenders side by side: %s (`perf/compare.sh %s`)\n' % (W, W))
p('Machine: %s, %d cores, %.1f GiB, Linux %s. Code: %s (%s).\n' % (
    cpu[0] if cpu else '?', os.cpu_count(), mem / 2**20, platform.release(), META['commit'], META['version']))
p('Collection: `increstore gen %s --seed 1`: %d changes in all (full backup + incrementals), '
  '%.1f MB of segment files, in the page cache. %d interleaved runs of each contender (every run is '
  'listed below; no best-of): the tables give the median (min-max). Every contender that reads the '
  'collection ended with the same content digest (`%s`) and row count (%d).\n' % (
      META['gen_flags'], changes, META['segment_bytes'] / 1e6, REPS, digest, rows))
if META.get('order') == 'shuffle':
    p('The contenders ran in a new order every rep (`ORDER=shuffle`, seeded by the rep\'s number), '
      'so that none always followed the same one: %s.\n' % '; '.join(
          'rep %d: %s' % (i + 1, ', '.join(o)) for i, o in enumerate(META.get('orders', []))))
elif META.get('order') == 'fixed':
    p('The contenders ran in the same order every rep (`ORDER=fixed`).\n')
if META.get('pause'):
    p('Every run started after a %g s pause (PAUSE), so that each paid for the memory it touched '
      'alike (`perf/results/host_memory_runs.md`).\n' % META['pause'])
if 'reference' in runs:
    r0 = next((r for r in runs['reference'] if not r['timeout']), None)
    p('The reference ceiling ran `%s %s/hash_bench %s`: its own generated workload of the same shape '
      '(%d changes, %s rows at the end), not our files.\n' % (
          META['reference_env'], META['reference_dir'], META['reference_args'],
          runs['reference'][0].get('changes', 0), r0['rows'] if r0 else '?'))
    if 'refcold' in runs:
        p('It also ran as `refcold`, `%s/hash_bench %s`: the same program allocating and first touching '
          'its tables inside its timer, as a restore does. It is no target; it shows how much of the '
          'reference\'s lead is memory it touched before its timer.\n' % (
              META['reference_dir'], REFS['refcold'][0]))
else:
    p('**The reference ceiling was not measured** (IRS_REFERENCE_DIR=%s): every ratio against it is '
      'missing.\n' % META['reference_dir'])
if any(r['timeout'] for n in CONT for r in runs[n]):
    p('Runs marked `>` hit the %d s limit (RUN_TIMEOUT): their figures are bounds.\n' % META['run_timeout'])

p('| contender | seconds | M changes/s | MB/s | peak RSS MiB | barrier turnaround p50 / p99 us | shard skew mean / max |')
p('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
for n in CONT:
    rs = [r for r in runs[n] if 'stats' in r]
    bt = sk = '-'
    if rs:
        v = [b['barrier_turnaround_us'] for r in rs for b in r['stats']['backups'][1:]]
        s = [b['skew'] for r in rs for b in r['stats']['backups']]
        bt = '%.1f / %.1f' % (pct(v, 0.5), pct(v, 0.99)) if v else '-'
        sk = '%.3f / %.3f' % (statistics.mean(s), max(s)) if s else '-'
    mbs = '-' if n in REFS else '%s%.0f' % ('< ' if T[n].lb else '', META['segment_bytes'] / T[n].med / 1e6)
    p('| %s | %s | %s%.2f | %s | %s | %s | %s |' % (label(n), T[n].fmt(), '< ' if T[n].lb else '',
                                                   rate[n] / 1e6, mbs, R[n].fmt('%.0f', MiB), bt, sk))

p('\nEvery run, in the order they ran (seconds, peak RSS):\n')
p('| contender | ' + ' | '.join('run %d' % i for i in range(1, REPS + 1)) + ' |')
p('| --- |' + ' --- |' * REPS)
for n in CONT:
    p('| %s | %s |' % (label(n), ' | '.join(every([r]) for r in runs[n])))



def ratio(a, b):
    """rate[a] / rate[b] and how it is bounded: '' exact, '>' at least (b timed out), '<' at most
    (a timed out), '?' unknown (both)."""
    if a not in rate or b not in rate:
        return None, ''
    if a == b:
        return 1.0, ''
    kind = {(False, False): '', (False, True): '>', (True, False): '<', (True, True): '?'}[(T[a].lb, T[b].lb)]
    return rate[a] / rate[b], kind


p('\nRatios of throughput (changes/s): how many times faster the row is than the column '
  '(`>` at least, `<` at most: a run timed out).\n')
p('| | ' + ' | '.join(CONT) + ' |')
p('| --- |' + ' ---: |' * len(CONT))
for a in CONT:
    p('| %s | ' % a + ' | '.join('%s%.2fx' % (ratio(a, b)[1], ratio(a, b)[0]) for b in CONT) + ' |')


# ------------------------------------------------------------------ sweeps
def chain_sweep():
    p('\n## Chain length: the same incremental changes in 1, 10, 100, 1000 incrementals '
      '(increstore, 2 shards, default mode)\n')
    p('| incrementals | restore seconds | after the full backup, seconds | vs 1 incremental | per incremental, ms | peak RSS MiB | every run (restore s, RSS) |')
    p('| ---: | ---: | ---: | ---: | ---: | ---: | --- |')
    ch = {}
    for k in (1, 10, 100, 1000):
        rs = series('inc2', 'chain%d-%%d' % k)
        ch[k] = (secs(rs), Fig([inc_seconds(r) for r in rs], any(r['timeout'] for r in rs)), rss(rs), rs)
    for k, (tot, inc, m, rs) in ch.items():
        p('| %d | %s | %s | %.2fx | %.3f | %s | %s |' % (k, tot.fmt(), inc.fmt(), inc.med / ch[1][1].med,
                                                        1e3 * inc.med / k, m.fmt('%.0f', MiB), every(rs)))
    p('\nThe time after the full backup is the restore\'s wall time minus the full backup\'s (every '
      'incremental, its barrier and its expected-state check). 100 vs 1 incremental: %.2fx after the full '
      'backup, %.2fx on the whole restore.' % (ch[100][1].med / ch[1][1].med, ch[100][0].med / ch[1][0].med))
    dat = os.path.join(WORK, 'chain.dat')
    with open(dat, 'w') as f:
        for k, (tot, inc, _, _) in ch.items():
            f.write('%d %f %f\n' % (k, tot.med, inc.med))
    png = '%s-chain.png' % W
    gnuplot('''set terminal pngcairo size 900,560
set output "%s"
set title "%s: restore time vs chain length (same changes; 2 shards, default mode; median of %d)"
set xlabel "incrementals (log)"; set ylabel "seconds"; set logscale x; set grid; set yrange [0:*]
set key top left
plot "%s" using 1:2 title "whole restore (full + incrementals)" with linespoints lw 2 pt 7, \\
     "%s" using 1:3 title "after the full backup" with linespoints lw 2 pt 5
''' % (os.path.join(OUT, png), W, REPS, dat, dat))
    pngs.append(png)


def pair_sweep():
    n = META['pair_rows']
    p('\n## Many small incrementals vs one big one: 100 x %d vs 1 x %d changes on the same %d-row full '
      'backup (increstore, 2 shards, default mode)\n' % (n // 100, n, n))
    p('The two collections\' full backups are %s.\n' % (
        'byte-identical' if META['pair_same_full'] == 'yes' else '**not byte-identical**'))
    p('| chain | restore seconds | full backup, seconds | after the full backup, seconds | peak RSS MiB | logical MiB | RSS limit 1.5x + 64 MiB | every run (restore s, RSS) |')
    p('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |')
    res = {}
    for k in (100, 1):
        rs = series('inc2', 'pair%d-%%d' % k)
        full = Fig([r['stats']['backups'][0]['wall_s'] for r in rs if 'stats' in r])
        inc = Fig([inc_seconds(r) for r in rs], any(r['timeout'] for r in rs))
        lg = logical(rs)
        res[k] = (secs(rs), inc, rss(rs), lg)
        p('| %d x %d | %s | %s | %s | %s | %s | %s | %s |' % (
            k, n // k, res[k][0].fmt(), full.fmt(), inc.fmt(), res[k][2].fmt('%.0f', MiB),
            '%.0f' % (lg / MiB) if lg else '-', '%.0f' % ((1.5 * lg + 64 * MiB) / MiB) if lg else '-', every(rs)))
    p('\n100 x %d vs 1 x %d: %.2fx after the full backup, %.2fx on the whole restore.' % (
        n // 100, n, res[100][1].med / res[1][1].med, res[100][0].med / res[1][0].med))
    return res


def skew_sweep():
    p('\n## Key skew: uniform vs zipf (theta 0.99), same sizes (default mode)\n')
    p('| contender | uniform s | zipf s | zipf / uniform | shard skew mean / max (uniform; zipf) | every run (uniform; zipf) |')
    p('| --- | ---: | ---: | ---: | --- | --- |')
    zd = set()
    for n in ('inc1', 'inc2', 'loop'):
        u, z = series(n, 'uniform-%d'), series(n, 'zipf-%d')
        zd |= {r['digest'] for r in z if not r['timeout']}
        tu, tz = secs(u), secs(z)
        sk = '-'
        if n.startswith('inc') and all('stats' in r for r in u + z):
            su = [b['skew'] for r in u for b in r['stats']['backups']]
            sz = [b['skew'] for r in z for b in r['stats']['backups']]
            sk = '%.3f / %.3f; %.3f / %.3f' % (statistics.mean(su), max(su), statistics.mean(sz), max(sz))
        p('| %s | %s | %s | %.2fx | %s | %s; %s |' % (label(n), tu.fmt(), tz.fmt(), tz.med / tu.med, sk,
                                                      every(u, False), every(z, False)))
    if len(zd) > 1:
        fail('zipf: digest mismatch %s' % zd)


def gnuplot(script):
    subprocess.run(['gnuplot'], input=script.encode(), check=True)


pngs = []
pair = None
if SWEEPS:
    L_main, L[:] = L[:], []          # the sweeps go after the targets
    if 'chain' in SWEEPS:
        chain_sweep()
    if 'pair' in SWEEPS:
        pair = pair_sweep()
    if 'skew' in SWEEPS:
        skew_sweep()
    L_sweeps, L[:] = L[:], L_main

# ------------------------------------------------------------------ targets
tg = []   # (what, measured text, target text, verdict)


def higher(what, a, b, lim, tgt, stretch=None):
    """Target: rate[a] / rate[b] >= lim (stretch: a further mark to report)."""
    v, kind = ratio(a, b)
    if v is None:
        tg.append((what, 'not measured', tgt, '-'))
        return
    met = v >= lim
    if kind == '?' or (kind == '>' and not met) or (kind == '<' and met):
        verdict = 'not known (timed out)'
    else:
        verdict = 'met' if met else '**missed**'
    if stretch and verdict == 'met':
        verdict += '; %.2fx %s' % (stretch, 'met' if v >= stretch else 'not yet')
    tg.append((what, '%s%.2fx' % (kind, v), tgt, verdict))


higher('2 shards vs the reference ceiling (changes/s, same run)', 'inc2', 'reference', 0.30,
       '>= 0.30x (0.45x: docs/design.md section 6)', 0.45)
def lower(what, v, kind, lim, tgt):
    """Target: v <= lim; kind '>' v is at least, '<' at most, '?' unknown (a run timed out)."""
    met = v <= lim
    if kind == '?' or (kind == '>' and met) or (kind == '<' and not met):
        verdict = 'not known (timed out)'
    else:
        verdict = 'met' if met else '**missed**'
    tg.append((what, '%s%.2fx' % (kind, v), tgt, verdict))


BOUND = {(False, False): '', (True, False): '>', (False, True): '<', (True, True): '?'}
if 'inc2nc' in T:
    lower('default mode vs `--no-check-expected`, 2 shards (time)', T['inc2'].med / T['inc2nc'].med,
          BOUND[(T['inc2'].lb, T['inc2nc'].lb)], 1.10, '<= 1.10x')
if pair:
    n = META['pair_rows']
    lower('100 x %d vs 1 x %d changes on a %d-row full (time after the full backup)' % (n // 100, n, n),
          pair[100][1].med / pair[1][1].med, BOUND[(pair[100][1].lb, pair[1][1].lb)], 1.2, '<= 1.2x')


def rss_target(what, m, lg):
    if not lg or m.med is None:
        tg.append((what, 'not measured', '<= 1.5x logical + 64 MiB', '-'))
        return
    lim = 1.5 * lg + 64 * MiB
    tg.append((what, '%.0f MiB for %.0f MiB logical (%.2fx)' % (m.med / MiB, lg / MiB, m.med / lg),
               '<= 1.5x + 64 MiB = %.0f MiB' % (lim / MiB), 'met' if m.med <= lim else '**missed**'))


rss_target('peak RSS, 2 shards, %s' % W, R['inc2'], logical(runs['inc2']))
if pair:
    rss_target('peak RSS, 2 shards, 1 x %d changes' % META['pair_rows'], pair[1][2], pair[1][3])
higher('1 shard vs the single-threaded loop', 'inc1', 'loop', 0.9, '>= 0.9x')
higher('2 shards vs the single-threaded loop', 'inc2', 'loop', 1.7, '>= 1.7x')
higher('2 shards vs SQLite', 'inc2', 'sqlite', 30, '>= 30x (40x: docs/design.md section 6)', 40)
higher('2 shards vs RocksDB', 'inc2', 'rocksdb', 80, '>= 80x')
p('\n## Targets (increstore in default mode, medians of the same run)\n')
p('| what | measured | target | |')
p('| --- | ---: | --- | --- |')
for row in tg:
    p('| %s | %s | %s | %s |' % row)
info = []
for what, a, b in (('2 shards vs our own ceiling (irs_ceiling)', 'inc2', 'ceiling'),
                   ('our own ceiling vs the reference ceiling', 'ceiling', 'reference'),
                   ('2 shards vs the reference ceiling without --prefault', 'inc2', 'refcold'),
                   ('the reference ceiling with --prefault vs without', 'reference', 'refcold'),
                   ('2 shards vs LMDB', 'inc2', 'lmdb'),
                   ('2 shards vs %s' % label('base'), 'inc2', 'base')):
    v, kind = ratio(a, b)
    if v is not None:
        info.append('%s: %s%.2fx' % (what, kind, v))
if info:
    p('\nNo target: ' + '; '.join(info) + '.')
# What a target against another contender asks, in units of the reference ceiling: the
# reference's own ratio to that contender in this run bounds what any restore reaches.
reach = []
goals = [('sqlite', 'SQLite', 30), ('rocksdb', 'RocksDB', 80)]
if META.get('baseline_target'):
    goals.append(('base', BASE_NAME, float(META['baseline_target'])))
for b, name, lim in goals:
    v, kind = ratio('reference', b)
    if v is not None and not kind:
        reach.append('%gx %s asks for %.2fx the reference ceiling\'s speed (the reference ran %.2fx %s)' % (
            lim, name, lim / v, v, name))
if reach:
    p('\nWhat a ratio to another contender asks, in units of the reference ceiling in this run: ' +
      '; '.join(reach) + '. The reference applies pre-decoded changes into memory touched before its timer; '
      'a restore also reads, decodes and checks the files and touches its memory inside its timer, so a '
      'figure near or above 1x is beyond its reach.')

# ------------------------------------------------------------------ configurations
notes = []
for n in CONT:
    if n.startswith('inc'):
        continue
    ok_runs = [r for r in runs[n] if not r['timeout']]
    r = ok_runs[0] if ok_runs else {}
    extra = ''
    if 'decode_seconds' in r:
        d = statistics.median(x['decode_seconds'] for x in ok_runs)
        extra += ' Read + decode alone took %.3f s (%.1f%% of its time).' % (d, 100 * d / T[n].med)
    if n == 'rocksdb' and 'scan_seconds' in r:
        extra += (' Partial updates written as Merge: %d; the digest scan after the timer, which folds the '
                  'operands still pending, took %.3f s.' % (r['merges'], statistics.median(x['scan_seconds'] for x in ok_runs)))
    if n == 'lmdb' and 'rmw' in r:
        extra += ' Partial updates done as read-modify-write: %d.' % r['rmw']
    if n == 'ceiling' and ok_runs:
        fs = statistics.median(x['full_seconds'] for x in ok_runs)
        extra += (' Of its time, the full backup (%d inserts into empty tables) took %.3f s; the incrementals '
                  'ran at %.2f M changes/s.' % (r['full_changes'], fs, statistics.median(x['incremental_mchanges_per_s'] for x in ok_runs)))
    if n in REFS and ok_runs:
        extra = (' `%s hash_bench %s`: records generated and decoded into 72-byte structs before the timer, '
                 'routed to 2 partitions up front, %s; '
                 'open addressing with inline rows, prefetch 16 records ahead, one thread per partition. '
                 'Its total_rps (full backup + incrementals): %.2f M/s median; full backup %.3f s, incrementals '
                 '%.2f M changes/s.' % ((META['reference_env'],) + REFS[n] + (
                                        statistics.median(x['total_rps'] for x in ok_runs) / 1e6,
                                        statistics.median(x['full_seconds'] for x in ok_runs),
                                        statistics.median(x['inc_rps'] for x in ok_runs) / 1e6)))
        r = {}
    note = r.get('note', '')
    if n == 'base':
        note = ('`restore --shards 2 --stats-json` in default mode with the binary %s, on the same files: '
                'the same restore by that build' % META.get('baseline', '?'))
    if n == 'loop':
        note = ('read + decode + reserve + apply_batch per frame in one thread with the table code the shards '
                'run; no threads, no queues; like the engine in default mode it compares the expected '
                'states after every backup, with digests kept per change; it does not check for '
                'duplicate keys')
    notes.append('* %s:%s%s' % (label(n), ' %s.' % note if note else '', extra))
notes.insert(0, '* increstore: `restore --shards N --stats-json` (default mode: the expected states the '
             'collection records are compared at every barrier) and the same with `--no-check-expected`; '
             'its own wall time (shard threads started -> tables complete; opening the MANIFEST is outside '
             'every contender\'s timer). Barrier turnaround over the incrementals of all runs (last shard '
             'done -> coordinator awake).')
notes.append('* Peak RSS is `/usr/bin/time -f %M` of the process (the ceilings and the KV stores include '
             'their pre-decoded or pre-read inputs; SQLite, RocksDB and LMDB run one extra decode-only pass '
             'first; the LMDB figure includes its tmpfs pages mapped in). Logical bytes are the restore\'s '
             '`--stats-json` tables[].logical_bytes (keys + values + NULL bits).')
p('\n## How each contender is configured and what is timed (all from the page cache)\n')
L.extend(notes)
if SWEEPS:
    L.extend(L_sweeps)

# ------------------------------------------------------------------ plots
shards = [n for n in CONT if n.startswith('inc') and not n.endswith('nc')]
dat = os.path.join(WORK, 'shards.dat')
with open(dat, 'w') as f:
    for n in shards:
        f.write('%s %f\n' % (n[3:], rate[n] / 1e6))
COLORS = ['#000000', '#d62728', '#1f77b4', '#ff7f0e', '#2ca02c', '#8c564b', '#17becf']
TITLE = {'reference': 'reference ceiling', 'ceiling': 'our own ceiling', 'inc2nc': '2 shards, no check'}
refs = ''.join(', %f title "%s" with lines dt %d lw 2 lc rgb "%s"' % (rate[n] / 1e6, TITLE.get(n, n), i + 2, COLORS[i])
               for i, n in enumerate(c for c in ('reference', 'ceiling', 'loop', 'inc2nc', 'sqlite', 'rocksdb', 'lmdb')
                                     if c in rate))
png = '%s-shards.png' % W
gnuplot('''set terminal pngcairo size 900,560
set output "%s"
set title "%s: throughput vs shards (default mode; median of %d)"
set xlabel "shards"; set ylabel "M changes/s (log)"; set logscale y
set xrange [0.5:%d.5]; set xtics 1; set key outside right; set grid
plot "%s" using 1:2 title "increstore" with linespoints lw 2 pt 7 ps 1.5 lc rgb "#9467bd"%s
''' % (os.path.join(OUT, png), W, REPS, int(shards[-1][3:]), dat, refs))
pngs.insert(0, png)
timed = [n for n in shards if all('stats' in r for r in runs[n])]
if timed:
    png = '%s-backups.png' % W
    dat2 = os.path.join(WORK, 'backups.dat')
    nb = len(runs[timed[0]][0]['stats']['backups'])
    with open(dat2, 'w') as f:
        for i in range(nb):
            f.write('%d' % i + ''.join(' %f' % (1e3 * statistics.median(r['stats']['backups'][i]['wall_s'] for r in runs[n]))
                                       for n in timed) + '\n')
    plots = ', '.join('"%s" using 1:%d title "increstore, %s shard(s)" with linespoints lw 2' % (dat2, i + 2, n[3:])
                      for i, n in enumerate(timed))
    gnuplot('''set terminal pngcairo size 900,560
set output "%s"
set title "%s: time per backup (0 = the full backup; default mode; median of %d)"
set xlabel "backup in the chain"; set ylabel "ms (log)"; set logscale y; set grid; set xtics 1
plot %s
''' % (os.path.join(OUT, png), W, REPS, plots))
    pngs.insert(1, png)

p('\nPlots: ' + ', '.join('[%s](%s)' % (x, x) for x in pngs) + '.')
open(os.path.join(OUT, W + '.md'), 'w').write('\n'.join(L) + '\n')
