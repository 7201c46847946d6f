#!/usr/bin/env python3
"""ydb_breaks.py: the damaged and unsupported dumps of `ydb_dump.py gen --break KIND`.

Each kind changes a freshly generated dump (OUT/dump) in one way that `increstore
import-ydb` must refuse with exit 3 and a message containing BREAKS[kind], leaving
nothing behind (tests/cli/import_ydb.sh checks all of them).
"""
import os
import random
import shutil

BREAKS = {
    # kind: (what the refusal message must contain)
    "incomplete": "the dump is incomplete",
    "incomplete-csv": "the dump is incomplete",
    "zst": "compressed data files are not supported",
    "enc": "encrypted dump",
    "extra-column": "is not in the table",
    "missing-column": "is missing",
    "type-change": "is Int64 here but Int32",
    "key-change": "primary key differs",
    "incremental-first": "an incremental backup before any full backup",
    "decimal": "column price: YDB type Decimal(22,9) cannot be imported",
    "uuid": "column u: YDB type Uuid cannot be imported",
    "dynumber": "YDB type DyNumber cannot be imported",
    "tzdate": "YDB type TzDate cannot be imported",
    "date32": "YDB type Date32 cannot be imported",
    "pg": "YDB type Pg(int4) cannot be imported",
    "list": "YDB type List<...> cannot be imported",
    "field-count": "fields, but the table has",
    "not-null": "is NOT NULL but holds null",
    "int-range": "out of range for Int32",
    "not-in-base": "is not in its base full backup",
    "tags": "table Gaps: the column-state tags of its rows (7) match neither its 3 value columns",
    "bad-string": "not a quoted string",
    "bad-time": "not an ISO 8601 time",
    "null-key": "key column id is NULL",
    "dup-key": "appears twice in one backup",
    "no-backups": "no backup directories",
    "orphan-data": "a data file in a directory without scheme.pb",
    "bad-scheme": "scheme.pb:3:",
    "bad-utf8": "invalid UTF-8",
    "system-columns": "match no known generation",
    "empty-line": "empty line",
}


def set_line(path, lineno, text):
    lines = open(path).read().split("\n")
    lines[lineno] = text
    open(path, "w").write("\n".join(lines))


def apply_break(out, kind):
    from ydb_dump import cgi_escape, pb_meta  # the generator's encoders (no cycle at load)
    d = os.path.join(out, "dump")
    backups = sorted(os.listdir(d))
    backups = [b for b in backups if b.endswith(("_full", "_incremental"))]
    full, inc = backups[0], [b for b in backups if b.endswith("_incremental")][-1]
    orders_inc = os.path.join(d, inc, "Orders")
    orders_full = os.path.join(d, full, "Orders")

    def scheme(path, old, new):
        p = os.path.join(path, "scheme.pb")
        s = open(p).read()
        assert old in s, (p, old)
        open(p, "w").write(s.replace(old, new, 1))

    def unsupported(ty_block, cname):
        p = os.path.join(d, full, "Orders", "scheme.pb")
        s = open(p).read()
        col = "columns {\n  name: \"%s\"\n  type {\n    optional_type {\n      item {\n        %s\n" \
              "      }\n    }\n  }\n}\n" % (cname, ty_block)
        open(p, "w").write(col + s)

    def first_data(p):
        names = [f for f in os.listdir(p) if f.startswith("data_") and f.endswith(".csv")]
        return os.path.join(p, sorted(names, key=lambda f: int(f[5:-4]))[0])
    if kind == "incomplete":
        open(os.path.join(orders_inc, "incomplete"), "w").write("")
    elif kind == "incomplete-csv":
        open(os.path.join(d, inc, "incomplete.csv"), "w").write("")
    elif kind == "zst":
        os.rename(first_data(orders_full), first_data(orders_full) + ".zst")
    elif kind == "enc":
        open(os.path.join(orders_full, "scheme.pb.enc"), "w").write("x")
    elif kind == "extra-column":
        scheme(orders_inc, "primary_key", 'columns {\n  name: "extra"\n  type {\n    optional_type {\n'
               '      item {\n        type_id: UTF8\n      }\n    }\n  }\n}\nprimary_key')
    elif kind == "missing-column":
        p = os.path.join(orders_inc, "scheme.pb")
        s = open(p).read()
        i = s.index('  name: "note"')
        start = s.rindex("columns {", 0, i)
        end = s.index("\n}\n", i) + 3
        open(p, "w").write(s[:start] + s[end:])
    elif kind == "type-change":
        p = os.path.join(orders_inc, "scheme.pb")
        s = open(p).read()
        i = s.index('  name: "qty"')
        j = s.index("type_id: INT32", i)
        open(p, "w").write(s[:j] + "type_id: INT64" + s[j + len("type_id: INT32"):])
    elif kind == "key-change":
        scheme(orders_inc, 'primary_key: "id"', 'primary_key: "id"\nprimary_key: "qty"')
    elif kind == "incremental-first":
        shutil.rmtree(os.path.join(d, full))
    elif kind in ("decimal", "uuid", "dynumber", "tzdate", "date32", "pg", "list"):
        block, cname = {
            "decimal": ("decimal_type {\n          precision: 22\n          scale: 9\n        }", "price2"),
            "uuid": ("type_id: UUID", "u"), "dynumber": ("type_id: DYNUMBER", "dn"),
            "tzdate": ("type_id: TZ_DATE", "tz"), "date32": ("type_id: DATE32", "d32"),
            "pg": ('pg_type {\n          type_name: "int4"\n          oid: 23\n        }', "pgc"),
            "list": ("list_type {\n          item {\n            type_id: UTF8\n          }\n        }", "l"),
        }[kind]
        if kind == "decimal":
            cname = "price"
            p = os.path.join(orders_full, "scheme.pb")
            s = open(p).read()
            i = s.index('  name: "price"')
            j = s.index("type_id: DOUBLE", i)
            open(p, "w").write(s[:j] + block + s[j + len("type_id: DOUBLE"):])
        else:
            unsupported(block, cname)
    elif kind == "field-count":
        set_line(first_data(orders_full), 0, open(first_data(orders_full)).readline().rstrip("\n") + ",1")
    elif kind == "not-null":
        f = first_data(orders_full)
        first = open(f).readline().rstrip("\n").split(",")
        first[1] = "null"
        set_line(f, 0, ",".join(first))
    elif kind == "int-range":
        f = first_data(orders_full)
        first = open(f).readline().rstrip("\n").split(",")
        first[1] = "2147483648"
        set_line(f, 0, ",".join(first))
    elif kind == "not-in-base":
        shutil.copytree(orders_inc, os.path.join(d, inc, "NewTable"))
    elif kind == "tags":
        # Gaps with states for only some columns: neither rule applies
        p = os.path.join(d, inc, "Gaps")
        f = first_data(p)
        lines = [ln for ln in open(f).read().split("\n") if ln]
        cells = lines[0].split(",")
        raw = pb_meta([(7, False, True)], False, random.Random(1))
        cells[-1] = cgi_escape(raw)
        cells[0] = "999999"
        lines.append(",".join(cells))
        open(f, "w").write("\n".join(lines) + "\n")
        # ... and the whole table uses only that state
        for fn in os.listdir(p):
            if fn.startswith("data_") and os.path.join(p, fn) != f:
                os.remove(os.path.join(p, fn))
        open(f, "w").write(",".join(cells) + "\n")
    elif kind == "bad-string":
        f = first_data(orders_full)
        first = open(f).readline().rstrip("\n").split(",")
        first[2] = "unquoted"
        set_line(f, 0, ",".join(first))
    elif kind == "bad-time":
        f = first_data(orders_full)
        first = open(f).readline().rstrip("\n").split(",")
        first[4] = '"2024-01-01"'
        set_line(f, 0, ",".join(first))
    elif kind == "null-key":
        f = first_data(orders_full)
        first = open(f).readline().rstrip("\n").split(",")
        first[0] = "null"
        set_line(f, 0, ",".join(first))
    elif kind == "dup-key":
        files = sorted(fn for fn in os.listdir(orders_full) if fn.startswith("data_") and fn.endswith(".csv"))
        row = open(os.path.join(orders_full, files[0])).readline()
        with open(os.path.join(orders_full, files[-1]), "a") as fh:
            fh.write(row)
    elif kind == "no-backups":
        for b in backups:
            shutil.rmtree(os.path.join(d, b))
    elif kind == "orphan-data":
        os.makedirs(os.path.join(d, full, "Lost"))
        open(os.path.join(d, full, "Lost", "data_00.csv"), "w").write("1\n")
    elif kind == "bad-scheme":
        p = os.path.join(orders_full, "scheme.pb")
        s = open(p).read().split("\n")
        s[2] = '  name: "unterminated'
        open(p, "w").write("\n".join(s))
    elif kind == "bad-utf8":
        f = first_data(orders_full)
        first = open(f).readline().rstrip("\n").split(",")
        first[2] = '"%C3%28"'
        set_line(f, 0, ",".join(first))
    elif kind == "system-columns":
        scheme(orders_inc, "primary_key", 'columns {\n  name: "__ydb_incrBackupImpl_deleted"\n  type {\n'
               '    optional_type {\n      item {\n        type_id: BOOL\n      }\n    }\n  }\n}\nprimary_key')
    elif kind == "empty-line":
        f = first_data(orders_full)
        s = open(f).read()
        open(f, "w").write("\n" + s)
    else:
        raise SystemExit("unknown break kind " + kind)
