#!/usr/bin/env bash
# Exact-output tests of `increstore restore` on collections built with create/add:
# every rule of docs/design.md section 1, --upto at each backup, several fulls, several
# tables, the export formats, and the exit codes.
#   bash restore_semantics.sh <increstore-binary> <source-dir>
set -euo pipefail
BIN=$1
. "$(dirname "$0")/lib.sh"

cat > "$W/schema.json" <<'EOF'
{"table": "t", "columns": [{"name": "id", "type": "Uint64"}, {"name": "a", "type": "int32"},
 {"name": "b", "type": "Utf8"}, {"name": "c", "type": "double"}], "primary_key": ["id"]}
EOF
C=$W/c
"$BIN" create "$C" --schema "$W/schema.json" >/dev/null
printf '%s\n' '{"id": 1, "a": 10, "b": "one", "c": 1.5}' '{"id": 2, "a": 20, "b": "two"}' \
  '{"id": 3, "a": 30, "b": "three", "c": 3.25}' > "$W/full1.jsonl"
"$BIN" add "$C" --full "$W/full1.jsonl" --name f1 >/dev/null
# partial upsert keeps the other columns; upsert of a missing key fills NULLs; erase of a
# missing key is a no-op; NULL set explicitly
printf '%s\n' '{"op": "upsert", "row": {"id": 1, "a": 11}}' \
  '{"op": "upsert", "row": {"id": 4, "b": "four"}}' \
  '{"op": "erase", "key": {"id": 99}}' \
  '{"op": "upsert", "row": {"id": 3, "b": null}}' \
  '{"op": "erase", "key": {"id": 2}}' > "$W/i1.jsonl"
"$BIN" add "$C" --incremental "$W/i1.jsonl" --name i1 >/dev/null
# empty incremental
: > "$W/empty.jsonl"
"$BIN" add "$C" --incremental "$W/empty.jsonl" --name i2 >/dev/null
# erase then re-insert across backups (2 was erased in i1); repeated keys collapse
printf '%s\n' '{"op": "upsert", "row": {"id": 2, "c": 2.5}}' \
  '{"op": "upsert", "row": {"id": 1, "b": "uno"}}' '{"op": "upsert", "row": {"id": 1, "c": -1}}' \
  '{"op": "erase", "key": {"id": 4}}' '{"op": "upsert", "row": {"id": 4, "a": 44}}' > "$W/i3.jsonl"
"$BIN" add "$C" --incremental "$W/i3.jsonl" --name i3 >/dev/null

out() { "$BIN" restore "$C" --quiet --out "$W/o.jsonl" "$@" && cat "$W/o.jsonl"; }
check "upto f1" '{"id": 1, "a": 10, "b": "one", "c": 1.5}
{"id": 2, "a": 20, "b": "two", "c": null}
{"id": 3, "a": 30, "b": "three", "c": 3.25}' "$(out --upto f1)"
check "upto i1" '{"id": 1, "a": 11, "b": "one", "c": 1.5}
{"id": 3, "a": 30, "b": null, "c": 3.25}
{"id": 4, "a": null, "b": "four", "c": null}' "$(out --upto i1)"
check "upto i2 (empty)" "$(out --upto i1)" "$(out --upto i2)"
check "upto i3" '{"id": 1, "a": 11, "b": "uno", "c": -1}
{"id": 2, "a": null, "b": null, "c": 2.5}
{"id": 3, "a": 30, "b": null, "c": 3.25}
{"id": 4, "a": 44, "b": null, "c": null}' "$(out)"
for s in 1 2 3 7 64; do
  check "shards $s" "$(out)" "$(out --shards $s)"
done

# a second full replaces everything; incrementals after it build on it
printf '%s\n' '{"id": 7, "a": 7}' > "$W/full2.jsonl"
"$BIN" add "$C" --full "$W/full2.jsonl" --name f2 >/dev/null
printf '%s\n' '{"op": "upsert", "row": {"id": 7, "b": "seven"}}' > "$W/i4.jsonl"
"$BIN" add "$C" --incremental "$W/i4.jsonl" --name i4 >/dev/null
check "second full" '{"id": 7, "a": 7, "b": null, "c": null}' "$(out --upto f2)"
check "after second full" '{"id": 7, "a": 7, "b": "seven", "c": null}' "$(out)"
check "before second full" "$(out --upto i3)" "$("$BIN" restore "$C" --quiet --upto i3 --out "$W/o2.jsonl"; cat "$W/o2.jsonl")"

# CSV: NULL is an unquoted empty field, the empty string is ""
check "csv" 'id,a,b,c
7,7,seven,' "$("$BIN" restore "$C" --quiet --out "$W/o.csv"; cat "$W/o.csv")"

# SQLite export: typed table with its primary key
"$BIN" restore "$C" --quiet --out "$W/o.sqlite"
check "sqlite rows" '7|7|seven|' "$(sqlite3 "$W/o.sqlite" 'SELECT * FROM t')"
check "sqlite pk" '1' "$(sqlite3 "$W/o.sqlite" "SELECT pk FROM pragma_table_info('t') WHERE name='id'")"

# compaction into a new collection restores to the same rows
"$BIN" restore "$C" --quiet --out "$W/compacted"
check "compacted" "$(out)" "$("$BIN" restore "$W/compacted" --quiet --out "$W/o3.jsonl"; cat "$W/o3.jsonl")"

# several tables: --table, or a directory ending in / for one file per table
cat > "$W/multi.json" <<'EOF'
{"tables": [
 {"table": "u", "columns": [{"name": "k", "type": "utf8"}, {"name": "n", "type": "int64"}], "primary_key": ["k"]},
 {"table": "v", "columns": [{"name": "x", "type": "int32"}, {"name": "y", "type": "bool"}, {"name": "z", "type": "bytes"}],
  "primary_key": ["y", "x"]}]}
EOF
M=$W/m
"$BIN" create "$M" --schema "$W/multi.json" >/dev/null
printf '%s\n' '{"k": "b", "n": 2}' '{"k": "a", "n": 1}' > "$W/u.jsonl"
printf 'x,y,z\n5,true,five\n-3,false,\n1,true,""\n' > "$W/v.csv"
"$BIN" add "$M" --full u="$W/u.jsonl" v="$W/v.csv" --name base >/dev/null
printf '%s\n' '{"op": "upsert", "row": {"x": -3, "y": false, "z": {"base64": "AAE="}}}' '{"op": "upsert", "row": {"x": 9, "y": false, "z": {"base64": "/w=="}}}' > "$W/v1.jsonl"
"$BIN" add "$M" --incremental v="$W/v1.jsonl" --name inc >/dev/null
check "multi needs --table" 2 "$(code "$BIN" restore "$M" --quiet --out "$W/x.jsonl")"
"$BIN" restore "$M" --quiet --out "$W/per/"
check "multi u" '{"k": "a", "n": 1}
{"k": "b", "n": 2}' "$(cat "$W/per/u.jsonl")"
check "multi v (composite key order)" '{"x": -3, "y": false, "z": "\u0000\u0001"}
{"x": 9, "y": false, "z": {"base64": "/w=="}}
{"x": 1, "y": true, "z": ""}
{"x": 5, "y": true, "z": "five"}' "$(cat "$W/per/v.jsonl")"
"$BIN" restore "$M" --quiet --table u --out "$W/u_only.jsonl"
check "multi --table" "$(cat "$W/per/u.jsonl")" "$(cat "$W/u_only.jsonl")"

# stats JSON: f2 (1 insert) and i4 (1 update) on 3 shards
"$BIN" restore "$C" --quiet --shards 3 --stats-json "$W/stats.json"
check "stats" "ok f2,i4 1 1 3 1" "$(python3 -c "
import json; s = json.load(open('$W/stats.json'))
print(s['status'], ','.join(b['name'] for b in s['backups']), s['totals']['inserted'],
      s['totals']['updated'], len(s['backups'][1]['shard_applied']), s['tables'][0]['rows'])")"

# exit codes
check "usage: bad --shards" 2 "$(code "$BIN" restore "$C" --shards 0)"
check "usage: unknown --upto" 2 "$(code "$BIN" restore "$C" --upto nope)"
check "usage: unknown option" 2 "$(code "$BIN" restore "$C" --frobnicate)"
check "io: missing collection" 4 "$(code "$BIN" restore "$W/missing")"
seg=$(ls "$C"/data/b000002-*/*.seg | head -1)
printf '\xff' | dd of="$seg" bs=1 seek=30 conv=notrunc status=none
check "corrupt: exit 3" 3 "$(code "$BIN" restore "$C" --quiet --upto i3)"
check "corrupt: one line naming the frame" 1 "$(grep -c 'frame 0 at byte 16' "$W/err")"
check "corrupt: says where the tables are" 1 "$(grep -c 'restored through backup f1' "$W/err")"

# a damaged frame length whose walk still ends at the end of the file (frames 1-3 then
# read from the middle of frame 0, and frame 3 fails its CRC too): frame 0 is named,
# whatever shard reads which frame first
D=$W/len
printf '{"table":"d","columns":[{"name":"k","type":"int64"},{"name":"x","type":"double"}],"primary_key":["k"]}' >"$W/len.json"
"$BIN" create "$D" --schema "$W/len.json" -q
printf '{"k":1,"x":1}\n' >"$W/len-full.jsonl"
"$BIN" add "$D" --full "$W/len-full.jsonl" --name A -q
printf '%s\n' '{"op":"upsert","row":{"k":1,"x":10}}' '{"op":"erase","key":{"k":2}}' \
  '{"op":"upsert","row":{"k":5,"x":5}}' '{"op":"upsert","row":{"k":4,"x":-0.0}}' \
  '{"op":"upsert","row":{"k":6}}' >"$W/len-inc.jsonl"
"$BIN" add "$D" --incremental "$W/len-inc.jsonl" --name B -q
seg=$(ls "$D"/data/b000002-*/*.seg)
check "damaged length: the segment as expected" "113 89" "$(stat -c %s "$seg") $(od -An -tu4 -j16 -N4 "$seg" | tr -d ' ')"
printf '\x26' | dd of="$seg" bs=1 seek=16 conv=notrunc status=none
for shards in 1 2 3 4; do
  check "damaged length, $shards shards: exit 3" 3 "$(code "$BIN" restore "$D" --quiet --shards $shards)"
  check "damaged length, $shards shards: frame 0 named" 1 "$(grep -c 'frame 0 at byte 16: CRC32C mismatch' "$W/err")"
done
# two damaged frames (1 and 3) in the second table's segment, whose frames follow the
# first table's in the restore's frame list: frame 1 is named, whichever is read first
M=$W/two
"$BIN" gen "$M" --rows 30000 --tables 2 --incrementals 1 --changes 100 --seed 5 -q >/dev/null
seg=$(ls "$M"/data/b000001-*/t1-0000.seg)
at=$(python3 - "$seg" <<'EOF'
import struct, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
offs, off = [], 16
while off < len(b):
    offs.append(off)
    off += 8 + struct.unpack("<I", b[off:off + 4])[0]
assert len(offs) == 4, len(offs)
for k in (1, 3):
    b[offs[k] + 8 + 10] ^= 0x40
open(p, "wb").write(b)
print(offs[1])
EOF
)
for shards in 1 2 3 4; do
  check "two bad frames, $shards shards: exit 3" 3 "$(code "$BIN" restore "$M" --quiet --shards $shards)"
  check "two bad frames, $shards shards: the first named" 1 \
    "$(grep -c "t1-0000.seg: frame 1 at byte $at: CRC32C mismatch" "$W/err")"
done

echo "$fails failed"
[ "$fails" = 0 ]
