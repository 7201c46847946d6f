#!/usr/bin/env bash
# Writes that fail (a full disk, a file size limit): every failure is one line naming
# the file, exit 4, and nothing is left behind: no temporary, no empty file, no
# directory the command made, and what was there before stays as it was.
#   bash pressure.sh <increstore-binary> <source-dir>
#
# The file size limit (ulimit -f; the command ignores SIGXFSZ, which would otherwise
# kill it, so write() fails with EFBIG) stands in for a full disk: the same write paths,
# on any file system. /dev/full gives a real ENOSPC.
set -euo pipefail
BIN=$1
. "$(dirname "$0")/lib.sh"
# limited KB CMD...: runs CMD with files limited to KB kilobytes; sets rc and err. KB is
# at least 1: ThreadSanitizer's runtime writes 512 KiB to /tmp/tsan.rodata.PID before
# main(), which a limit of 0 turns into SIGXFSZ before the command can ignore it (under
# any other limit the write is cut short and the runtime goes on).
limited() {
  local kb=$1; shift
  set +e
  # stderr through a pipe: the limit applies to every file the command writes
  ( ulimit -f "$kb"; exec "$@" ) 2>&1 >/dev/null | cat >"$W/stderr"
  rc=${PIPESTATUS[0]}
  set -e
  err=$(cat "$W/stderr")
}
one_line() { # name substring...: exit 4, one line holding each substring
  local name=$1; shift
  if [ "$rc" != 4 ] || [ "$(grep -c . "$W/stderr")" != 1 ]; then bad "$name: exit $rc: $err"; return 1; fi
  for s in "$@"; do
    case $err in *"$s"*) ;; *) bad "$name: the line lacks '$s': $err"; return 1 ;; esac
  done
  return 0
}
temporaries() { find "$W" \( -name '*.tmp-*' -o -name '*.part-*' -o -name 'tmp-*' \) | grep -v '^$' || true; }

C=$W/c
"$BIN" gen "$C" --rows 20000 --incrementals 1 --changes 100 --tables 2 --seed 2 -q >/dev/null

# ---- exports: the target named, the old file intact, no temporary
for ext in jsonl csv sqlite; do
  out=$W/out.$ext
  echo "old" > "$out"
  limited 64 "$BIN" restore "$C" --quiet --table t1 --out "$out"
  # (SQLite says "disk I/O error" for it)
  if one_line "--out *.$ext" "increstore: $out: " && [ "$(cat "$out")" = old ] && [ -z "$(temporaries)" ]; then
    ok "--out *.$ext over the limit: exit 4, the old file intact: $err"
  elif [ "$rc" = 4 ]; then
    bad "--out *.$ext: old file $(head -c 20 "$out"), left: $(temporaries)"
  fi
done
mkdir -p "$W/keep" && echo old > "$W/keep/t1.jsonl"
limited 64 "$BIN" restore "$C" --quiet --out "$W/keep/"
if one_line "--out DIR/" "$W/keep/t" && [ "$(cat "$W/keep/t1.jsonl")" = old ] && [ ! -e "$W/keep/t2.jsonl" ] &&
   [ -z "$(temporaries)" ]; then
  ok "--out DIR/: exit 4, nothing new in DIR, its old file intact: $err"
elif [ "$rc" = 4 ]; then bad "--out DIR/: $(ls "$W/keep"), left: $(temporaries)"; fi
limited 64 "$BIN" restore "$C" --quiet --out "$W/newdir/"
if one_line "--out DIR/ (new)" "$W/newdir/t" && [ ! -e "$W/newdir" ]; then
  ok "--out DIR/ (new): exit 4, DIR not left behind: $err"
elif [ "$rc" = 4 ]; then bad "--out DIR/ (new): $(ls "$W/newdir" 2>&1)"; fi
limited 64 "$BIN" restore "$C" --quiet --out "$W/compacted"
if one_line "--out (collection)" "$W/compacted" "write failed" && [ ! -e "$W/compacted" ] && [ -z "$(temporaries)" ]; then
  ok "--out a new collection: exit 4, nothing left: $err"
elif [ "$rc" = 4 ]; then bad "--out (collection): left: $(ls "$W" | grep compacted || true)"; fi

# ---- --stats-json
limited unlimited "$BIN" restore "$C" --quiet --stats-json /dev/full
one_line "--stats-json /dev/full" "/dev/full: cannot write statistics: No space left on device" &&
  ok "--stats-json on a full device: exit 4: $err"
limited 1 "$BIN" restore "$C" --quiet --stats-json "$W/stats.json"
if one_line "--stats-json over the limit" "$W/stats.json: cannot write statistics" && [ ! -e "$W/stats.json" ] &&
   [ -z "$(temporaries)" ]; then
  ok "--stats-json that cannot be written: exit 4, no empty file: $err"
elif [ "$rc" = 4 ]; then bad "--stats-json: $(ls -la "$W" | grep stats || true)"; fi

# --out and --stats-json, the export small enough to be written and the statistics not:
# the statistics are written first, so the export is not left in place either
T=$W/tiny
"$BIN" gen "$T" --rows 3 --incrementals 1 --changes 1 --seed 2 -q >/dev/null
limited 1 "$BIN" restore "$T" --quiet --out "$W/tiny.jsonl" --stats-json "$W/tiny-stats.json"
if one_line "--out with --stats-json over the limit" "$W/tiny-stats.json: cannot write statistics" &&
   [ ! -e "$W/tiny.jsonl" ] && [ ! -e "$W/tiny-stats.json" ] && [ -z "$(temporaries)" ]; then
  ok "--out with statistics that cannot be written: exit 4, no export, nothing left: $err"
elif [ "$rc" = 4 ]; then bad "--out with --stats-json: left: $(ls "$W" | grep tiny || true)"; fi
limited unlimited "$BIN" restore "$T" --quiet --out "$W/tiny.jsonl" --stats-json "$W/tiny-stats.json"
if [ "$rc" = 0 ] && [ "$(wc -l <"$W/tiny.jsonl")" = 3 ] &&
   python3 -c "import json,sys; sys.exit(json.load(open('$W/tiny-stats.json'))['status'] != 'ok')" &&
   [ -z "$(temporaries)" ]; then
  ok "--out with --stats-json: the export and statistics saying ok, no temporary"
else bad "--out with --stats-json: exit $rc: $err"; fi

# ---- add: the segment named, the chain as it was, no leftovers
before=$("$BIN" inspect "$C" | grep -c 'incremental' || true)
python3 - "$W/rows.jsonl" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(30000):
        f.write('{"op": "upsert", "row": {"id": %d, "c3_utf8": "%s"}}\n' % (i, "v" * 40))
EOF
limited 256 "$BIN" add "$C" --incremental "t1=$W/rows.jsonl" --name big
after=$("$BIN" inspect "$C" | grep -c 'incremental' || true)
if one_line "add over the limit" "$C: data/b000003-" ".seg: write failed: File too large" &&
   [ "$before" = "$after" ] && [ -z "$(temporaries)" ] && [ "$(ls "$C/data" | grep -c b000003 || true)" = 0 ]; then
  ok "add: exit 4 naming the segment, the chain unchanged, nothing left: $err"
elif [ "$rc" = 4 ]; then bad "add: chain $before -> $after, data: $(ls "$C/data"), left: $(temporaries)"; fi

# ---- create and gen into new nested directories: nothing of them stays
# (columns enough for a MANIFEST over the 1 KiB limit)
python3 -c "import json; print(json.dumps({'table': 't', 'primary_key': ['id'], 'columns':
  [{'name': 'id', 'type': 'uint64'}] + [{'name': 'a_column_with_a_long_name_%02d' % i, 'type': 'utf8'}
  for i in range(60)]}))" >"$W/schema.json"
limited 1 "$BIN" create "$W/nx/a/b" --schema "$W/schema.json"
if one_line "create" "$W/nx/a/b/MANIFEST.tmp: write failed" && [ ! -e "$W/nx" ]; then
  ok "create: exit 4 naming the file, no directory left: $err"
elif [ "$rc" = 4 ]; then bad "create: left $(find "$W/nx")"; fi
limited 64 "$BIN" gen "$W/ny/a/g" --rows 50000 --incrementals 1 --changes 10 -q
if one_line "gen" "gen $W/ny/a/g: backup full-000: " "write failed: File too large" && [ ! -e "$W/ny" ]; then
  ok "gen: exit 4 naming the backup and the file, no directory left: $err"
elif [ "$rc" = 4 ]; then bad "gen: left $(find "$W/ny")"; fi
# a refused schema at create: exit 3, nothing made
echo '{"table": "a/../b", "columns": [{"name": "id", "type": "uint64"}], "primary_key": ["id"]}' > "$W/bad.json"
set +e; "$BIN" create "$W/nz/c" --schema "$W/bad.json" 2>"$W/stderr"; rc=$?; set -e
if [ $rc = 3 ] && [ ! -e "$W/nz" ] && grep -q "table name 'a/../b' holds a '.' or '..' path component" "$W/stderr"; then
  ok "create with a bad table name: exit 3, no directory made: $(cat "$W/stderr")"
else
  bad "create with a bad table name: exit $rc: $(cat "$W/stderr"); $(find "$W/nz" 2>&1)"
fi

if [ $fails -ne 0 ]; then echo "$fails failure(s)"; exit 1; fi
echo "all ok"
