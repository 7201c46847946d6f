#!/usr/bin/env python3
"""ydb_dump.py: YDB backup-collection dumps for testing `increstore import-ydb`, and an
independent model of how YDB restores them.

    ydb_dump.py gen OUT [--seed S] [--rows N] [--incrementals K] [--rows-per-file R]
                        [--break KIND]
        writes OUT/dump (what `ydb tools dump -p .backups/collections/<c> -o OUT/dump`
        would write) and OUT/expected.json: for every backup, the state of every table
        after restoring up to it, computed by this file's model of YDB's restore.
    ydb_dump.py check OUT BIN COLLECTION
        restores COLLECTION with BIN up to every backup (`restore --upto B --out DIR/`,
        one nested DIR/<table>.jsonl per table) and compares every table with the model,
        value by value; the last backup also table by table (`--table T --out X.jsonl`)
        and in SQLite (row counts). Exit 1 on a difference.
    ydb_dump.py breaks
        lists the --break kinds with the text their refusal must contain.

THE DUMP (from the notes on YDB's dump format): one <ts>_full / <ts>_incremental
directory per backup; one directory per table holding scheme.pb (text-format
Ydb.Table.CreateTableRequest) and data_NN.csv (no header, `null`, Bool 1/0, quoted
CGI-escaped strings, RFC 3339 times with 6 digits, Interval in microseconds, Float as
%.6g, Double as %.10g, inf/-inf/nan). Incremental tables carry the system columns of
their generation:
    1: __ydb_incrBackupImpl_deleted
    2: __ydb_incrBackupImpl_deleted + __ydb_incrBackupImpl_columnStates
    3: __ydb_incrBackupImpl_changeMetadata
Rows of incremental tables are written as YDB's change-record writer does
(SerializeBackup): every value column gets a state; a column the statement wrote is
IsChanged, with IsNull when the new value is NULL; a column it did not write is not
changed and stored NULL; a REPLACE marks the columns it left out IsNull+IsChanged; an
erase stores NULL everywhere, every state IsNull+IsChanged, IsDeleted. Generation 1's
writer stored only the columns an UPDATE wrote.

THE MODEL applies MakeRestoreUpdates (ydb/core/tx/datashard/incr_restore_helpers.cpp)
to the rows as written, using the true column ids, which the importer has to recover.
For generations 2 and 3 the generator also checks that the rule gives back the
statements' intended effect (it does not for generation 1's partial updates: the rule
NULLs the columns they did not write, and the model reproduces that).
"""
import argparse
import base64
import json
import math
import os
import random
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ydb_breaks  # noqa: E402  (the --break kinds)

US = 1000000
MAX_DATE = 49673
MAX_DATETIME = 86400 * MAX_DATE
MAX_TIMESTAMP = MAX_DATETIME * US

# YDB type -> (type_id in scheme.pb, increstore type)
TYPES = {
    "Bool": ("BOOL", "bool"), "Int8": ("INT8", "int32"), "Int16": ("INT16", "int32"),
    "Int32": ("INT32", "int32"), "Int64": ("INT64", "int64"), "Uint8": ("UINT8", "uint32"),
    "Uint16": ("UINT16", "uint32"), "Uint32": ("UINT32", "uint32"), "Uint64": ("UINT64", "uint64"),
    "Float": ("FLOAT", "double"), "Double": ("DOUBLE", "double"), "Date": ("DATE", "timestamp"),
    "Datetime": ("DATETIME", "timestamp"), "Timestamp": ("TIMESTAMP", "timestamp"),
    "Interval": ("INTERVAL", "int64"), "String": ("STRING", "bytes"), "Utf8": ("UTF8", "utf8"),
    "Yson": ("YSON", "bytes"), "Json": ("JSON", "utf8"), "JsonDocument": ("JSON_DOCUMENT", "utf8"),
}
INT_RANGE = {
    "Int8": (-2**7, 2**7 - 1), "Int16": (-2**15, 2**15 - 1), "Int32": (-2**31, 2**31 - 1),
    "Int64": (-2**63, 2**63 - 1), "Uint8": (0, 2**8 - 1), "Uint16": (0, 2**16 - 1),
    "Uint32": (0, 2**32 - 1), "Uint64": (0, 2**64 - 1),
    "Interval": (-(MAX_TIMESTAMP - 1), MAX_TIMESTAMP - 1),
}
SYS_DELETED = "__ydb_incrBackupImpl_deleted"
SYS_STATES = "__ydb_incrBackupImpl_columnStates"
SYS_META = "__ydb_incrBackupImpl_changeMetadata"

# ---------------------------------------------------------------- text forms


def cgi_escape(b, old=False):
    """CGIEscape: space -> '+', controls, >= 0x7F and the specials -> %XX upper case.
    old=True leaves '^' alone, as older revisions did."""
    special = set(b'"#%&\'()+,:<=>?[\\]^`{|}')
    out = []
    for c in b:
        if c == 0x20:
            out.append("+")
        elif c < 0x20 or c >= 0x7F or (c in special and not (old and c == 0x5E)):
            out.append("%%%02X" % c)
        else:
            out.append(chr(c))
    return '"' + "".join(out) + '"'


def f32(x):
    """(double)(float)x, as C rounds it (too large for a float: infinity)."""
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


def fmt_g(x, digits):
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return "%.*g" % (digits, x)


def rfc3339(us):
    days, rem = divmod(us, 86400 * US)
    secs, frac = divmod(rem, US)
    # civil from days (Howard Hinnant)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y += m <= 2
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (y, m, d, secs // 3600, secs // 60 % 60,
                                                     secs % 60, frac)


STRINGS = ["", "null", "a,b,c", 'quote"d', "100%", "+plus+", "two words", "x=1&y=2",
           "Текст на русском", "emoji \U0001F600", "tab\tand\nnewline", "(){}[]<>|^`~!$*-./;@_",
           "#hash :colon 'apos' ?q \\back"]
JSONS = ['{}', '{"a": [1, 2, {"b": null}]}', '"text, with comma"', '[1.5e10, true, false]', 'null']


def value_of(rng, ydb):
    """A random value of a YDB type: (text as the dump writer prints it, the value increstore
    must hold). Values are Python ints, floats, bools, str (utf8) or bytes."""
    if ydb == "Bool":
        v = rng.random() < 0.5
        return ("1" if v else "0"), v
    if ydb in INT_RANGE:
        lo, hi = INT_RANGE[ydb]
        v = rng.choice([lo, hi, 0, rng.randint(lo, hi), rng.randint(max(lo, -1000), min(hi, 1000))])
        return str(v), v
    if ydb in ("Float", "Double"):
        x = rng.choice([0.0, 1.5, -2.25, math.pi, 1e-5, 1.5e20, 16777217.0, 3.4e38, 1e-300,
                        math.inf, -math.inf, math.nan, rng.uniform(-1e6, 1e6), rng.random()])
        if ydb == "Float" and x == 1e-300:
            x = 1e-40  # a float subnormal
        text = fmt_g(x, 6 if ydb == "Float" else 10)
        v = float(text)
        return text, f32(v) if ydb == "Float" else v
    if ydb == "Date":
        days = rng.choice([0, MAX_DATE - 1, rng.randrange(MAX_DATE)])
        return rfc3339(days * 86400 * US), days * 86400 * US
    if ydb == "Datetime":
        s = rng.choice([0, MAX_DATETIME - 1, rng.randrange(MAX_DATETIME)])
        return rfc3339(s * US), s * US
    if ydb == "Timestamp":
        us = rng.choice([0, MAX_TIMESTAMP - 1, rng.randrange(MAX_TIMESTAMP)])
        return rfc3339(us), us
    if ydb in ("Utf8", "Json", "JsonDocument"):
        s = rng.choice(JSONS if ydb != "Utf8" else STRINGS)
        return cgi_escape(s.encode(), old=rng.random() < 0.2), s
    if ydb in ("String", "Yson"):
        b = bytes(rng.randrange(256) for _ in range(rng.randrange(12)))
        if ydb == "Yson":
            b = rng.choice([b"{a=1;b=[2;3]}", b"#", b"\x01\x02yson", b""])
        return cgi_escape(b), b
    raise ValueError(ydb)


# Text forms the writer does not produce but YDB's reader accepts: (type, text, value).
ALT_FORMS = [
    ("Bool", "true", True), ("Bool", "FALSE", False), ("Bool", "yes", True), ("Bool", "off", False),
    ("Int32", "+17", 17), ("Int64", "-0", 0), ("Uint64", "18446744073709551615", 2**64 - 1),
    ("Double", "  2.5", 2.5), ("Double", "1E5", 100000.0), ("Double", "0x10", 16.0),
    ("Double", "-0", -0.0), ("Double", "1e999", math.inf), ("Double", ".5", 0.5),
    ("Float", "0.1", f32(0.1)), ("Float", "1e39", math.inf),
    ("Date", "2024-02-29", 19782 * 86400 * US),
    ("Date", "2024-02-29T13:45:00Z", 19782 * 86400 * US),          # truncated to the day
    ("Datetime", "2024-02-29T13:45:00.999Z", (19782 * 86400 + 49500) * US),  # to the second
    ("Timestamp", "2024-02-29T13:45:00.5+01:00", (19782 * 86400 + 45900) * US + 500000),
    ("Timestamp", "1970-01-01T00:00:00Z", 0),
    ("Utf8", '"%d0%a2%D0%b5"', "Те"),          # lower-case hex
    ("Utf8", '"50%"', "50%"), ("Utf8", '"%zz%4"', "%zz%4"),  # '%' without two hex digits
    ("Utf8", '"a^b"', "a^b"), ("Utf8", '"a+b c"', "a b c"),
    ("String", '"%00%FF%80"', b"\x00\xff\x80"),
]

# ---------------------------------------------------------------- protobuf wire


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_state(tag, is_null, is_changed, rng=None):
    b = varint(1 << 3) + varint(tag) + varint(2 << 3) + varint(int(is_null)) + \
        varint(3 << 3) + varint(int(is_changed))
    if rng and rng.random() < 0.1:
        b += varint(9 << 3 | 2) + varint(2) + b"zz"  # an unknown field, skipped
    return b


def pb_meta(states, deleted, rng, with_deleted=True):
    """TChangeMetadata (with_deleted) or TColumnStateMap; states in random order."""
    states = list(states)
    rng.shuffle(states)
    out = b""
    for tag, is_null, is_changed in states:
        s = pb_state(tag, is_null, is_changed, rng)
        out += varint(1 << 3 | 2) + varint(len(s)) + s
    if with_deleted:
        out += varint(2 << 3) + varint(int(deleted))
    return out


def parse_meta(b):
    """Independent decoder of the metadata: (states as [(tag, null, changed)], deleted) or
    None when it does not parse as protobuf would."""
    def rd_varint(b, i):
        v = 0
        for k in range(10):
            if i >= len(b):
                raise ValueError
            c = b[i]
            i += 1
            v |= (c & 0x7F) << (7 * k)
            if not c & 0x80:
                return v, i
        raise ValueError

    def fields(b):
        i = 0
        while i < len(b):
            key, i = rd_varint(b, i)
            f, t = key >> 3, key & 7
            if f == 0 or key > 0xFFFFFFFF:
                raise ValueError
            if t == 0:
                v, i = rd_varint(b, i)
                yield f, t, v
            elif t == 2:
                n, i = rd_varint(b, i)
                if n > len(b) - i:
                    raise ValueError
                yield f, t, b[i:i + n]
                i += n
            elif t == 1 and i + 8 <= len(b):
                i += 8
            elif t == 5 and i + 4 <= len(b):
                i += 4
            else:
                raise ValueError  # groups are not produced here
    try:
        states, deleted = [], False
        for f, t, v in fields(b):
            if f == 1 and t == 2:
                st = [0, False, False]
                for g, u, w in fields(v):
                    if u == 0 and 1 <= g <= 3:
                        st[g - 1] = (w & 0xFFFFFFFF) if g == 1 else bool(w)
                states.append(tuple(st))
            elif f == 2 and t == 0:
                deleted = bool(v)
        return states, deleted
    except ValueError:
        return None


# ---------------------------------------------------------------- tables


class Col:
    def __init__(self, name, ydb, cid, key=False, not_null=False):
        self.name, self.ydb, self.id, self.key, self.not_null = name, ydb, cid, key, not_null


class Table:
    def __init__(self, name, cols, pk, gen=3, states="all"):
        self.name, self.cols, self.pk, self.gen = name, cols, pk, gen
        self.states = states       # "all": every value column; "written": only written ones
        self.files_split = None     # numbering of data files (None = 00, 01, ...)
        self.no_data_file = False   # incrementals get no data file at all

    def values(self):
        return [c for c in self.cols if not c.key]

    def keyof(self, row):
        return tuple(row[n] for n in self.pk)


def scheme_pb(t, incremental, extra_cols=(), comment=False):
    """The text-format CreateTableRequest, as TextFormat::PrintToString lays it out."""
    def name_lit(s):
        return '"' + "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\' else
                             "".join("\\%03o" % b for b in ch.encode()) for ch in s) + '"'
    out = []
    if comment:
        out.append("# written by a test generator")
    for c in list(t.cols) + list(extra_cols):
        tid = TYPES[c.ydb][0] if c.ydb in TYPES else c.ydb
        out.append("columns {")
        out.append("  name: %s" % name_lit(c.name))
        if c.ydb.startswith("decimal") or c.ydb.startswith("pg_") or c.ydb.startswith("list"):
            body = {"decimal": "decimal_type {\n      precision: 22\n      scale: 9\n    }",
                    "pg_int4": 'pg_type {\n      type_name: "int4"\n      oid: 23\n    }',
                    "list_utf8": "list_type {\n      item {\n        type_id: UTF8\n      }\n    }"}[c.ydb]
            out.append("  type {\n    optional_type {\n      item {\n        %s\n      }\n    }\n  }"
                       % body.replace("\n", "\n    "))
        elif c.not_null and not incremental:
            out.append("  type {\n    type_id: %s\n  }" % tid)
        else:
            out.append("  type {\n    optional_type {\n      item {\n        type_id: %s\n      }\n"
                       "    }\n  }" % tid)
        if not incremental and c.not_null:
            out.append("  not_null: true")
        out.append('  family: "default"')
        out.append("}")
    for k in t.pk:
        out.append("primary_key: %s" % name_lit(k))
    out.append("storage_settings {\n  tablet_commit_log0 {\n    media: \"ssd\"\n  }\n"
               "  store_external_blobs: DISABLED\n}")
    out.append("column_families {\n  name: \"default\"\n  data {\n    media: \"ssd\"\n  }\n"
               "  compression: COMPRESSION_NONE\n}")
    if incremental:
        out.append('attributes {\n  key: "__incremental_backup"\n  value: "{}"\n}')
    out.append("partitioning_settings {\n  partitioning_by_size: ENABLED\n  partition_size_mb: 2048\n"
               "  min_partitions_count: 1\n}")
    out.append("key_bloom_filter: DISABLED")
    out.append("indexes {\n  name: \"idx\"\n  index_columns: \"%s\"\n  global_index {\n"
               "    settings {\n      partitioning_settings { min_partitions_count: 1 }\n    }\n  }\n}"
               % t.pk[0])
    out.append('read_replicas_settings {\n  per_az_read_replicas_count: 0\n}\nttl_settings {\n'
               '  date_type_column {\n    column_name: "x"\n    expire_after_seconds: 3600\n  }\n}'
               if comment else "")
    return "\n".join(out) + "\n"


def make_tables(rng):
    every = [t for t in TYPES]
    tables = []
    cols = [Col("id", "Uint64", 1, key=True, not_null=True)]
    for i, ty in enumerate(every):
        cols.append(Col("c_" + ty.lower(), ty, i + 2))
    cols.append(Col("цена", "Double", len(cols) + 1))  # a non-ASCII name (octal escapes)
    tables.append(Table("Types", cols, ["id"]))
    tables.append(Table("Orders", [Col("id", "Uint64", 1, True, True), Col("qty", "Int32", 2, not_null=True),
                                   Col("note", "Utf8", 3), Col("price", "Double", 4),
                                   Col("ts", "Timestamp", 5)], ["id"]))
    # nested, composite key in another order than the columns, generation 1 and 2
    tables.append(Table("DirA/TableA", [Col("a", "Int32", 1, True, True), Col("b", "Utf8", 2, True, True),
                                        Col("v", "Int64", 3), Col("w", "String", 4)], ["b", "a"], gen=1))
    tables.append(Table("DirA/DirB/TableC", [Col("k", "Utf8", 1, True, True), Col("x", "Uint32", 2),
                                             Col("y", "Bool", 3), Col("z", "Json", 4)], ["k"], gen=2))
    # dropped columns: ids with gaps (the count rule maps them)
    tables.append(Table("Gaps", [Col("id", "Uint64", 1, True, True), Col("p", "Int64", 3),
                                 Col("q", "Utf8", 4), Col("r", "Double", 7)], ["id"]))
    # states only for the written columns, dense ids (the position rule maps them)
    tables.append(Table("Dense", [Col("id", "Uint64", 1, True, True), Col("p", "Int64", 2),
                                  Col("q", "Utf8", 3), Col("r", "Bool", 4)], ["id"], states="written"))
    # metadata edge cases: NULL, empty, garbage, zero states, IsDeleted = 2
    tables.append(Table("Meta", [Col("id", "Uint64", 1, True, True), Col("p", "Int64", 2),
                                 Col("q", "Utf8", 3)], ["id"]))
    tables.append(Table("Meta2", [Col("id", "Uint64", 1, True, True), Col("p", "Int64", 2),
                                  Col("q", "Utf8", 3)], ["id"], gen=2))
    empty = Table("Empty", [Col("id", "Uint64", 1, True, True), Col("v", "Utf8", 2)], ["id"])
    empty.no_data_file = True
    tables.append(empty)
    tables.append(Table("Alt", [Col("id", "Uint64", 1, True, True)] +
                        [Col("c_" + ty.lower(), ty, i + 2) for i, ty in enumerate(every)], ["id"]))
    tables[1].files_split = [9, 10, 100]  # data_9.csv, data_10.csv, data_100.csv
    return tables


# ---------------------------------------------------------------- the model


def apply_rule(t, state, row, sysv):
    """MakeRestoreUpdates on one written row. row: column -> value (None = NULL);
    sysv: the system columns' values (None = NULL, bytes for the metadata)."""
    key = t.keyof(row)
    gen = t.gen
    deleted = gen in (1, 2) and sysv.get(SYS_DELETED) is True
    if deleted:
        state.pop(key, None)
        return
    states = None
    if gen in (2, 3):
        raw = sysv.get(SYS_STATES if gen == 2 else SYS_META)
        if raw:  # NULL and empty are "no metadata"
            parsed = parse_meta(raw)
            if parsed is not None:
                st, is_del = parsed
                if gen == 3 and is_del:
                    state.pop(key, None)
                    return
                states = {}
                for tag, is_null, is_changed in st:
                    states[tag] = (is_null, is_changed)
    cur = state.get(key)
    new = dict(cur) if cur else {c.name: None for c in t.cols}
    for c in t.values():
        s = states.get(c.id) if states is not None else None
        if s is not None and not s[1]:
            continue
        new[c.name] = None if (s is not None and s[0]) else row[c.name]
    for n in t.pk:
        new[n] = row[n]
    state[key] = new


class Gen:
    def __init__(self, args):
        self.rng = random.Random(args.seed)
        self.args = args
        self.tables = make_tables(self.rng)
        self.state = {t.name: {} for t in self.tables}
        self.next_key = {t.name: 0 for t in self.tables}
        self.expected = {}
        self.backups = []

    def new_key(self, t):
        n = self.next_key[t.name]
        self.next_key[t.name] += 1
        row = {}
        for c in t.cols:
            if not c.key:
                continue
            if c.ydb == "Uint64":
                row[c.name] = n * 7 + 3
            elif c.ydb == "Int32":
                row[c.name] = n % 5 - 2
            else:
                row[c.name] = "k%06d-%s" % (n, STRINGS[n % len(STRINGS)][:6])
        return row

    def rand_row(self, t, cols):
        texts, vals = {}, {}
        for c in cols:
            null = not c.not_null and self.rng.random() < 0.2
            if null:
                texts[c.name], vals[c.name] = "null", None
            else:
                texts[c.name], vals[c.name] = value_of(self.rng, c.ydb)
        return texts, vals

    @staticmethod
    def key_text(c, v):
        return cgi_escape(v.encode()) if isinstance(v, str) else str(v)

    # -- writing

    def write_table(self, bdir, t, incremental, lines):
        d = os.path.join(bdir, t.name)
        os.makedirs(d, exist_ok=True)
        extra = []
        if incremental:
            if t.gen in (1, 2):
                extra.append(Col(SYS_DELETED, "Bool", 100))
            if t.gen == 2:
                extra.append(Col(SYS_STATES, "String", 101))
            if t.gen == 3:
                extra.append(Col(SYS_META, "String", 100))
        with open(os.path.join(d, "scheme.pb"), "w") as f:
            f.write(scheme_pb(t, incremental, extra, comment=t.name == "Orders"))
        with open(os.path.join(d, "permissions.pb"), "w") as f:
            f.write('actions {\n  change_owner: "root@builtin"\n}\n')
        if t.name == "Orders":  # a changefeed directory and export-s3 leftovers: skipped
            cf = os.path.join(d, "updates")
            os.makedirs(cf, exist_ok=True)
            open(os.path.join(cf, "changefeed_description.pb"), "w").write('name: "updates"\n')
            open(os.path.join(cf, "topic_description.pb"), "w").write("partitioning_settings {}\n")
            open(os.path.join(d, "metadata.json"), "w").write('{"version": 1}\n')
            open(os.path.join(d, "data_00.csv.sha256"), "w").write("0" * 64 + "\n")
        if t.no_data_file and incremental and not lines:
            return
        per = self.args.rows_per_file
        chunks = [lines[i:i + per] for i in range(0, len(lines), per)] or [[]]
        numbers = t.files_split or list(range(len(chunks)))
        if len(chunks) > len(numbers):
            numbers = list(range(len(chunks)))
        pattern = "data_%d.csv" if t.files_split else "data_%02d.csv"
        for num, chunk in zip(numbers, chunks):
            with open(os.path.join(d, pattern % num), "w", newline="") as f:
                f.write("".join(line + "\n" for line in chunk))

    def full_lines(self, t):
        """The current state as the writer prints it. Float and Double keep 6 and 10
        digits, so the state takes the values those texts give back."""
        lines = []
        for key, row in sorted(self.state[t.name].items(), key=lambda kv: repr(kv[0])):
            cells = []
            for c in t.cols:
                text = self.text_of(c, row[c.name])
                if c.ydb in ("Float", "Double") and row[c.name] is not None:
                    row[c.name] = f32(float(text)) if c.ydb == "Float" else float(text)
                cells.append(text)
            lines.append(",".join(cells))
        self.rng.shuffle(lines)
        return lines

    def text_of(self, c, v):
        """The writer's text of a value the table holds."""
        if v is None:
            return "null"
        if c.ydb == "Bool":
            return "1" if v else "0"
        if c.ydb in INT_RANGE:
            return str(v)
        if c.ydb in ("Float", "Double"):
            return fmt_g(v, 6 if c.ydb == "Float" else 10)
        if c.ydb in ("Date", "Datetime", "Timestamp"):
            return rfc3339(v)
        if isinstance(v, str):
            return cgi_escape(v.encode())
        return cgi_escape(v)

    # -- backups

    def full(self, name, first):
        """A full backup: the first one draws rows (written as the writer prints freshly
        drawn values); later ones write the current state, as a YDB full backup would."""
        bdir = os.path.join(self.dump, name)
        os.makedirs(bdir)
        open(os.path.join(bdir, "permissions.pb"), "w").write("")
        for t in self.tables:
            if first and t.name == "Alt":
                lines = self.alt_lines(t)
            elif first:
                lines = []
                for _ in range(0 if t.name == "Empty" else self.args.rows):
                    row = self.new_key(t)
                    texts, vals = self.rand_row(t, t.values())
                    row.update(vals)
                    self.state[t.name][t.keyof(row)] = row
                    lines.append(",".join(self.key_text(c, row[c.name]) if c.key else texts[c.name]
                                          for c in t.cols))
            else:
                lines = self.full_lines(t)
            self.write_table(bdir, t, False, lines)
        self.snapshot(name)

    def alt_lines(self, t):
        """One row per alternative text form, the other columns NULL."""
        lines = []
        for ydb, text, v in ALT_FORMS:
            k = self.new_key(t)
            row = {c.name: None for c in t.cols}
            row.update(k)
            cname = "c_" + ydb.lower()
            row[cname] = v
            self.state[t.name][t.keyof(row)] = row
            lines.append(",".join(str(k["id"]) if c.key else (text if c.name == cname else "null")
                                  for c in t.cols))
        return lines

    def incremental(self, name):
        bdir = os.path.join(self.dump, name)
        os.makedirs(bdir)
        for t in self.tables:
            lines = [] if t.name in ("Empty", "Alt") else self.changes(t)
            self.write_table(bdir, t, True, lines)
        # an index backup: skipped (even its scheme.pb and its bogus data)
        idx = os.path.join(bdir, "__ydb_backup_meta", "indexes", "Orders", "idx")
        os.makedirs(idx)
        open(os.path.join(idx, "scheme.pb"), "w").write("garbage {{{\n")
        open(os.path.join(idx, "data_00.csv"), "w").write("not,a,row\n")
        self.snapshot(name)

    def snapshot(self, name):
        self.backups.append(name)
        self.expected[name] = {t.name: [dict(r) for r in self.state[t.name].values()]
                               for t in self.tables}

    def changes(self, t):
        """One period's net changes of table t: the written rows, the model applied to them."""
        rng = self.rng
        st = self.state[t.name]
        existing = list(st)
        rng.shuffle(existing)
        n = max(1, len(existing) // 3)
        picks = existing[:n]
        ops = []
        for key in picks:
            r = rng.random()
            ops.append(("erase" if r < 0.15 else "replace" if r < 0.3 else "update", dict(zip(t.pk, key))))
        for _ in range(max(1, n // 2)):
            ops.append(("insert", self.new_key(t)))
        ops.append(("erase", self.new_key(t)))           # a key that never existed
        ops.append(("insert_delete", self.new_key(t)))   # inserted and deleted in the period
        if t.name in ("Meta", "Meta2"):
            ops += [("meta_" + kind, self.new_key(t)) for kind in
                    ("null", "empty", "garbage", "truncated", "zero", "deleted2")]
            ops += [("meta_" + kind, dict(zip(t.pk, k))) for kind, k in
                    zip(("null", "garbage", "zero", "deleted2"), existing[n:n + 4])]
        lines = []
        intended = {k: dict(v) for k, v in st.items()}
        for op, key in ops:
            line, row, sysv = self.encode(t, op, key, intended)
            lines.append(line)
            apply_rule(t, st, row, sysv)
        if t.gen in (2, 3) and t.states == "all" and t.name not in ("Meta", "Meta2"):
            assert intended == st, "the writer's rows do not restore the statements' effect"
        rng.shuffle(lines)
        return lines

    def encode(self, t, op, key, intended):
        """The incremental table row of one net change, and its intended effect."""
        rng = self.rng
        vcols = t.values()
        k = t.keyof(key)
        written, texts, vals = [], {}, {}
        writable = vcols[:-1] if t.states == "written" else vcols
        if op in ("update", "insert", "replace"):
            written = [c for c in writable if rng.random() < 0.5] or [writable[0]]
            if op == "insert" and rng.random() < 0.3:
                written = list(writable)
            if op != "update":  # a new or replaced row must give its NOT NULL columns
                written += [c for c in writable if c.not_null and c not in written]
            texts, vals = self.rand_row(t, written)
            cur = intended.get(k)
            if op == "replace" or cur is None:
                cur = {c.name: None for c in t.cols}
            for c in written:
                cur[c.name] = vals[c.name]
            cur.update(key)
            intended[k] = cur
        elif op in ("erase", "insert_delete"):
            intended.pop(k, None)
        row = dict(key)
        for c in vcols:
            row[c.name] = vals.get(c.name)
        cells = [self.key_text(c, key[c.name]) if c.key else texts.get(c.name, "null") for c in t.cols]
        deleted = op in ("erase", "insert_delete")
        wset = {c.name for c in written}
        states = []
        for c in writable:
            if deleted:
                states.append((c.id, True, True))
            elif c.name in wset:
                states.append((c.id, vals[c.name] is None, True))
            elif op == "replace":
                states.append((c.id, True, True))
            elif t.states == "all":
                states.append((c.id, False, False))
        sysv, sys_cells = {}, []
        if op.startswith("meta_"):
            texts, vals = self.rand_row(t, vcols)
            row.update(vals)
            cells = [self.key_text(c, key[c.name]) if c.key else texts[c.name] for c in t.cols]
            raw = {"null": None, "empty": b"", "garbage": b"\xff\xff\xff\xff",
                   "truncated": b"\x0a\x05\x08\x02", "zero": b"\x10\x00",
                   "deleted2": b"\x0a\x06\x08\x02\x10\x00\x18\x01\x10\x02"}[op[5:]]
            if t.gen == 2 and op == "meta_deleted2":
                raw = None
            if t.gen == 2:
                sysv[SYS_DELETED] = None if op == "meta_null" else False
                sysv[SYS_STATES] = raw
                sys_cells = ["null" if op == "meta_null" else "0", "null" if raw is None else cgi_escape(raw)]
            else:
                sysv[SYS_META] = raw
                sys_cells = ["null" if raw is None else cgi_escape(raw)]
        elif t.gen == 1:
            sysv[SYS_DELETED] = deleted
            sys_cells = ["1" if deleted else rng.choice(["0", "null"])]
            if not deleted and sys_cells[0] == "null":
                sysv[SYS_DELETED] = None
        elif t.gen == 2:
            raw = pb_meta(states, False, rng, with_deleted=False)
            sysv[SYS_DELETED] = deleted
            sysv[SYS_STATES] = raw
            sys_cells = ["1" if deleted else "0", cgi_escape(raw)]
        else:
            raw = pb_meta(states, deleted, rng)
            sysv[SYS_META] = raw
            sys_cells = [cgi_escape(raw)]
        return ",".join(cells + sys_cells), row, sysv

    def run(self, out):
        self.dump = os.path.join(out, "dump")
        os.makedirs(self.dump)
        names = []
        day = 1
        total = self.args.incrementals
        second_full_at = total // 2 if total >= 2 else None
        self.full("202501%02d000000Z_full" % day, True)
        for i in range(total):
            day += 1
            if second_full_at is not None and i == second_full_at:
                self.full("202501%02d000000Z_full" % day, False)
                day += 1
            self.incremental("202501%02d000000Z_incremental" % day)
        open(os.path.join(self.dump, "permissions.pb"), "w").write("")
        meta = {"backups": self.backups,
                "tables": {t.name: {"columns": [[c.name, TYPES[c.ydb][1]] for c in t.cols], "pk": t.pk}
                           for t in self.tables},
                "expected": {b: {tn: [encode_row(r) for r in rows] for tn, rows in s.items()}
                             for b, s in self.expected.items()}}
        with open(os.path.join(out, "expected.json"), "w") as f:
            json.dump(meta, f)
        return names


def encode_row(r):
    out = {}
    for k, v in r.items():
        if isinstance(v, float):
            out[k] = {"f64": struct.pack("<d", v).hex()}
        elif isinstance(v, bytes):
            out[k] = {"hex": v.hex()}
        else:
            out[k] = v
    return out


def decode_row(r):
    out = {}
    for k, v in r.items():
        if isinstance(v, dict) and "f64" in v:
            out[k] = struct.unpack("<d", bytes.fromhex(v["f64"]))[0]
        elif isinstance(v, dict) and "hex" in v:
            out[k] = bytes.fromhex(v["hex"])
        else:
            out[k] = v
    return out


# ---------------------------------------------------------------- checking


def parse_actual(line, columns):
    """A row of increstore's JSONL export as typed Python values."""
    raw = json.loads(line, parse_float=lambda s: ("num", s), parse_int=lambda s: ("num", s))
    out = {}
    for name, ty in columns:
        v = raw.get(name)
        if v is None:
            out[name] = None
        elif ty == "double":
            s = v[1] if isinstance(v, tuple) else {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}[v]
            out[name] = float(s)
        elif ty in ("int32", "int64", "uint32", "uint64"):
            out[name] = int(v[1])
        elif ty == "timestamp":
            out[name] = int(v[1]) if isinstance(v, tuple) else parse_rfc3339(v)
        elif ty == "bytes":
            out[name] = base64.b64decode(v["base64"]) if isinstance(v, dict) else v.encode()
        else:
            out[name] = v
    return out


def parse_rfc3339(s):
    y, mo, d = int(s[0:4]), int(s[5:7]), int(s[8:10])
    h, mi, se = int(s[11:13]), int(s[14:16]), int(s[17:19])
    frac = s[20:26] if s[19] == "." else "0"
    y -= mo <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (mo + (-3 if mo > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return ((days * 24 + h) * 60 + mi) * 60 * US + se * US + int(frac.ljust(6, "0"))


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or struct.pack("<d", a) == struct.pack("<d", b)
    return type(a) == type(b) and a == b


def compare_rows(meta, table, want_rows, path):
    cols = meta["tables"][table]["columns"]
    pk = meta["tables"][table]["pk"]
    got = [parse_actual(line, cols) for line in open(path, encoding="utf-8") if line.strip()]
    want = {tuple(r[k] for k in pk): r for r in (decode_row(x) for x in want_rows)}
    if len(got) != len(want):
        return "%d rows, expected %d" % (len(got), len(want))
    for g in got:
        k = tuple(g[n] for n in pk)
        w = want.get(k)
        if w is None:
            return "unexpected row %r" % (g,)
        for name, _ in cols:
            if not same(g[name], w[name]):
                return "key %r column %s: got %r, expected %r" % (k, name, g[name], w[name])
    return None


def check(out, binary, coll):
    """Every backup restored once with --out DIR/ (one nested file per table), the last
    one also table by table with --table T --out FILE and into SQLite."""
    meta = json.load(open(os.path.join(out, "expected.json")))
    work = tempfile.mkdtemp()
    total = bad = 0

    def compare(what, b, t, path):
        nonlocal total, bad
        total += 1
        why = compare_rows(meta, t, meta["expected"][b][t], path)
        if why:
            bad += 1
            print("DIFF %s %s %s: %s" % (what, b, t, why))

    try:
        for i, b in enumerate(meta["backups"]):
            d = os.path.join(work, "b%d" % i) + "/"
            subprocess.run([binary, "restore", coll, "--upto", b, "--out", d, "-q"], check=True)
            for t in meta["tables"]:
                compare("--out DIR/", b, t, os.path.join(d, t + ".jsonl"))
        last = meta["backups"][-1]
        for t in meta["tables"]:
            f = os.path.join(work, "t.jsonl")
            subprocess.run([binary, "restore", coll, "--table", t, "--out", f, "-q"], check=True)
            compare("--table", last, t, f)
        db = os.path.join(work, "all.sqlite")
        subprocess.run([binary, "restore", coll, "--out", db, "-q"], check=True)
        con = sqlite3.connect(db)
        for t in meta["tables"]:
            total += 1
            n = con.execute('SELECT count(*) FROM "%s"' % t.replace('"', '""')).fetchone()[0]
            if n != len(meta["expected"][last][t]):
                bad += 1
                print("DIFF sqlite %s: %d rows, expected %d" % (t, n, len(meta["expected"][last][t])))
        con.close()
    finally:
        shutil.rmtree(work)
    print("ydb-import: %d/%d identical" % (total - bad, total))
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("out")
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--rows", type=int, default=20)
    g.add_argument("--incrementals", type=int, default=4)
    g.add_argument("--rows-per-file", type=int, default=7)
    g.add_argument("--break", dest="brk")
    c = sub.add_parser("check")
    c.add_argument("out")
    c.add_argument("binary")
    c.add_argument("collection")
    sub.add_parser("breaks")
    a = ap.parse_args()
    if a.cmd == "gen":
        Gen(a).run(a.out)
        if a.brk:
            ydb_breaks.apply_break(a.out, a.brk)
        return 0
    if a.cmd == "check":
        return check(a.out, a.binary, a.collection)
    for k, v in ydb_breaks.BREAKS.items():
        print("%s\t%s" % (k, v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
