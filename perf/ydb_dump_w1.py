#!/usr/bin/env python3
"""ydb_dump_w1.py: a YDB backup-collection dump the size of W1, for timing
`increstore import-ydb` (docs/performance.md, "Import: import-ydb").

    python3 perf/ydb_dump_w1.py OUT [--rows 5000000] [--incrementals 10]
                                    [--changes 500000] [--seed 1]

Writes OUT/<ts>_full/t/ and OUT/<ts>_incremental/t/ as `ydb tools dump` would: one table
`t` with the schema of `increstore gen` (id Uint64 key; Int64, Double, Utf8, Uint32,
Bool, Timestamp; rows of about 70 bytes in memory), data files split at 128 MiB like
the dump writer. Each incremental holds M changes as W1 does: 60% updates of existing
rows (half of them write one column), 25% inserts, 15% erases, with uniform keys, in
the current (generation 3) incremental format: the __ydb_incrBackupImpl_changeMetadata
column with a column state for every value column.

No expected state is computed (tests/ydb/ydb_dump.py does that for correctness); the
row counts after each backup are printed so a restore can be checked against them.
"""
import argparse
import array
import os
import random
import sys

SPLIT = 128 << 20
COLS = [("c1_int64", "INT64"), ("c2_double", "DOUBLE"), ("c3_utf8", "UTF8"),
        ("c4_uint32", "UINT32"), ("c5_bool", "BOOL"), ("c6_timestamp", "TIMESTAMP")]
SPECIAL = set(b'"#%&\'()+,:<=>?[\\]^`{|}')


def cgi(b):
    return '"' + "".join("+" if c == 32 else "%%%02X" % c if c < 32 or c >= 127 or c in SPECIAL
                         else chr(c) for c in b) + '"'


def varint(v):
    out = bytearray()
    while True:
        if v < 0x80:
            out.append(v)
            return bytes(out)
        out.append(v & 0x7F | 0x80)
        v >>= 7


def meta(changed, nulls, deleted):
    """TChangeMetadata: a state for each value column (tags 2..7), then IsDeleted."""
    out = b""
    for i in range(len(COLS)):
        st = b"\x08" + varint(i + 2) + b"\x10" + varint(nulls >> i & 1) + b"\x18" + varint(changed >> i & 1)
        out += b"\x0a" + varint(len(st)) + st
    return cgi(out + b"\x10" + varint(int(deleted)))


def scheme(incremental):
    cols = [("id", "UINT64", True)] + [(n, t, False) for n, t in COLS]
    if incremental:
        cols.append(("__ydb_incrBackupImpl_changeMetadata", "STRING", False))
    out = []
    for name, t, key in cols:
        if key and not incremental:
            ty = "  type {\n    type_id: %s\n  }\n  not_null: true" % t
        else:
            ty = "  type {\n    optional_type {\n      item {\n        type_id: %s\n      }\n    }\n  }" % t
        out.append('columns {\n  name: "%s"\n%s\n}' % (name, ty))
    out.append('primary_key: "id"')
    if incremental:
        out.append('attributes {\n  key: "__incremental_backup"\n  value: "{}"\n}')
    return "\n".join(out) + "\n"


class Files:
    """data_NN.csv files of one table, a new one after SPLIT bytes."""

    def __init__(self, d):
        self.d, self.n, self.size, self.f = d, 0, 0, None
        self.bytes = 0
        self.open()

    def open(self):
        if self.f:
            self.f.close()
        self.f = open(os.path.join(self.d, "data_%02d.csv" % self.n), "w", buffering=1 << 20)
        self.n += 1
        self.size = 0

    def write(self, text):
        if self.size >= SPLIT:
            self.open()
        self.f.write(text)
        self.size += len(text)
        self.bytes += len(text)

    def close(self):
        self.f.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=5000000)
    ap.add_argument("--incrementals", type=int, default=10)
    ap.add_argument("--changes", type=int, default=500000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(rng.randint(12, 20)))
             for _ in range(1024)]
    wtext = [cgi(w.encode()) for w in words]

    def values():
        return [str(rng.randint(-2**62, 2**62)), "%.10g" % rng.uniform(-1e6, 1e6), rng.choice(wtext),
                str(rng.randrange(2**32)), "1" if rng.random() < 0.5 else "0",
                "2024-%02d-%02dT%02d:%02d:%02d.%06dZ" % (rng.randint(1, 12), rng.randint(1, 28),
                                                        rng.randrange(24), rng.randrange(60),
                                                        rng.randrange(60), rng.randrange(10**6))]

    alive = array.array("q", range(a.rows))    # live keys, for uniform picks
    where = array.array("q", range(a.rows))    # key -> index in alive, -1 when erased
    next_key = a.rows
    total_bytes = 0

    d = os.path.join(a.out, "20250101000000Z_full", "t")
    os.makedirs(d)
    open(os.path.join(d, "scheme.pb"), "w").write(scheme(False))
    f = Files(d)
    for k in range(a.rows):
        f.write("%d,%s\n" % (k, ",".join(values())))
    f.close()
    total_bytes += f.bytes
    print("20250101000000Z_full: %d rows, %.1f MB" % (a.rows, f.bytes / 1e6), flush=True)

    upd_meta = {}
    full_mask = (1 << len(COLS)) - 1
    erase_meta = meta(full_mask, full_mask, True)
    erase_tail = "," + ",".join(["null"] * len(COLS)) + "," + erase_meta + "\n"
    for i in range(a.incrementals):
        name = "202501%02d000000Z_incremental" % (i + 2)
        d = os.path.join(a.out, name, "t")
        os.makedirs(d)
        open(os.path.join(d, "scheme.pb"), "w").write(scheme(True))
        f = Files(d)
        n_upd, n_ins = int(a.changes * 0.60), int(a.changes * 0.25)
        n_era = a.changes - n_upd - n_ins
        touched = set()
        for _ in range(n_upd):
            while True:
                k = alive[rng.randrange(len(alive))]
                if k not in touched:
                    break
            touched.add(k)
            v = values()
            if rng.random() < 0.5:  # one column written
                c = rng.randrange(len(COLS))
                mask = 1 << c
                v = [v[j] if j == c else "null" for j in range(len(COLS))]
            else:
                mask = full_mask
            m = upd_meta.get(mask)
            if m is None:
                m = upd_meta[mask] = meta(mask, 0, False)
            f.write("%d,%s,%s\n" % (k, ",".join(v), m))
        for _ in range(n_era):
            while True:
                k = alive[rng.randrange(len(alive))]
                if k not in touched:
                    break
            touched.add(k)
            f.write("%d%s" % (k, erase_tail))
            j = where[k]
            last = alive[-1]
            alive[j] = last
            where[last] = j
            alive.pop()
            where[k] = -1
        for _ in range(n_ins):
            k = next_key
            next_key += 1
            f.write("%d,%s,%s\n" % (k, ",".join(values()), upd_meta.setdefault(full_mask, meta(full_mask, 0, False))))
            where.append(len(alive))
            alive.append(k)
        f.close()
        total_bytes += f.bytes
        print("%s: %d changes, %.1f MB, %d rows after" % (name, a.changes, f.bytes / 1e6, len(alive)),
              flush=True)
    print("total %.1f MB" % (total_bytes / 1e6))
    return 0


if __name__ == "__main__":
    sys.exit(main())
