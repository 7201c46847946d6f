#!/usr/bin/env python3
"""Restores of one collection by several builds or settings, interleaved.

    python3 perf/ab_restore.py [--runs N] [--pause S] DIR 'LABEL|BINARY|ARGS' ...

Runs `BINARY restore DIR --stats-json F -q ARGS` N times (default 10) for every variant,
alternating which goes first, so the machine's noise hits them alike; with --pause S it
sleeps S seconds before every run (on a VM that hands freed pages back to the host, a
run then pays for the host to supply every page: perf/results/host_memory_runs.md).
Prints a Markdown table of the median (min-max) of every run: the whole restore, the
full backup and the incrementals (wall times from the stats), the whole command (which
includes an export asked for with `--out`), peak RSS, minor faults and CPU (from
/usr/bin/time). Every run must succeed. Example, two builds of W1:

    python3 perf/ab_restore.py build/perf-work/W1/main \\
        'old|/tmp/old/build/bench/cli/increstore|--shards 2' \\
        'new|build/bench/cli/increstore|--shards 2'
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def one_run(binary, directory, extra, stats):
    cmd = ['/usr/bin/time', '-f', '%M %R %U %S %e', binary, 'restore', directory,
           '--stats-json', stats, '-q'] + extra
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode:
        sys.exit('%s failed (exit %d): %s' % (' '.join(cmd[4:]), p.returncode, p.stderr[-400:]))
    rss_kb, faults, user, system, command = p.stderr.strip().splitlines()[-1].split()
    with open(stats) as f:
        s = json.load(f)
    full = sum(b['wall_s'] for b in s['backups'] if b['kind'] == 'full')
    incs = sum(b['wall_s'] for b in s['backups'] if b['kind'] != 'full')
    return (s['wall_s'], full, incs, int(rss_kb) / 1024, int(faults), float(user), float(system),
            float(command))


def cell(runs, k, fmt):
    xs = sorted(r[k] for r in runs)
    return '%s (%s-%s)' % (fmt % statistics.median(xs), fmt % xs[0], fmt % xs[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--runs', type=int, default=10)
    ap.add_argument('--pause', type=float, default=0.0)
    ap.add_argument('dir')
    ap.add_argument('variant', nargs='+', help="'LABEL|BINARY|ARGS'")
    a = ap.parse_args()
    variants = []
    for v in a.variant:
        parts = v.split('|')
        if len(parts) != 3:
            sys.exit("a variant is 'LABEL|BINARY|ARGS', got %r" % v)
        variants.append((parts[0], parts[1], parts[2].split()))
    results = {label: [] for label, _, _ in variants}
    fd, stats = tempfile.mkstemp(suffix='.json')
    os.close(fd)
    try:
        for i in range(a.runs):
            for label, binary, extra in (variants if i % 2 == 0 else variants[::-1]):
                if a.pause:
                    time.sleep(a.pause)
                results[label].append(one_run(binary, a.dir, extra, stats))
    finally:
        os.unlink(stats)
    print('| build | whole restore s | full backup s | incrementals s | command s | peak RSS MiB | minor faults | user CPU s | system CPU s |')
    print('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for label, runs in results.items():
        print('| %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (
            label, cell(runs, 0, '%.3f'), cell(runs, 1, '%.3f'), cell(runs, 2, '%.3f'),
            cell(runs, 7, '%.2f'), cell(runs, 3, '%.0f'), cell(runs, 4, '%.0f'), cell(runs, 5, '%.2f'),
            cell(runs, 6, '%.2f')))


if __name__ == '__main__':
    main()
