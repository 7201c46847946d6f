#!/usr/bin/env bash
# Partitioned restores and net diffs through the command line:
#   * K = 3 partitioned restores run as parallel processes; check-partitions accepts them,
#     their JSONL outputs together are exactly the whole restore's; the same with CSV and
#     --upto, SQLite and compacted-collection outputs; check-partitions refuses a missing,
#     a duplicated or a tampered partition (exit 1, naming it), files of another backup
#     or K, and unreadable files (exit 3); a collection without expected states needs
#     --reference; --partition's usage errors; a failed export or statistics file fails
#     the restore (exit 4) and its statistics say so;
#   * diff: collections squashed in three commands (restore --upto A --out S; diff A..B;
#     add S --incremental) restore to exactly the state at B, for pairs with and without
#     a full backup in between, from a base full, from before the target's base; extreme
#     values round-trip; usage errors; --memory-limit with units; a failed diff leaves
#     no file.
#   bash partition_diff.sh <increstore-binary> <source-dir>
set -euo pipefail
BIN=$1
. "$(dirname "$0")/lib.sh"
has() { # name pattern file: the file holds the pattern
  if grep -q -- "$2" "$3"; then echo "ok   $1"; else
    echo "FAIL $1: no '$2' in:"; cat "$3"; fails=$((fails+1)); fi
}
# rows and digest of each table in a --stats-json file
tables_of() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
print("\n".join("%s %d %s" % (t["name"], t["rows"], t["digest"]) for t in d["tables"]))' "$1"; }

# ------------------------------------------------------------------ partitions
C=$W/c
"$BIN" gen "$C" --rows 6000 --incrementals 5 --changes 1500 --tables 2 --fulls 2 --reinserts 0.3 \
  --null-fraction 0.1 --seed 5 -q >/dev/null
"$BIN" restore "$C" -q --stats-json "$W/whole.json" --out "$W/whole/"
pids=()
for i in 0 1 2; do
  "$BIN" restore "$C" -q --partition $i/3 --shards $((i + 1)) --stats-json "$W/p$i.json" --out "$W/p$i/" &
  pids+=($!)
done
for i in 0 1 2; do
  set +e; wait "${pids[$i]}"; rc=$?; set -e
  check "partition $i/3 exit code" 0 "$rc"
done
check "check-partitions K=3" 0 "$(code "$BIN" check-partitions "$C" "$W/p0.json" "$W/p1.json" "$W/p2.json")"
has "check-partitions says OK" "OK: the 3 partitions add up" "$W/out"
for t in t1 t2; do
  check "union of the partitions = whole restore ($t)" "$(sort "$W/whole/$t.jsonl")" \
    "$(cat "$W/p0/$t.jsonl" "$W/p1/$t.jsonl" "$W/p2/$t.jsonl" | sort)"
  [ -s "$W/p0/$t.jsonl" ] && [ -s "$W/p1/$t.jsonl" ] && [ -s "$W/p2/$t.jsonl" ] ||
    { echo "FAIL an empty partition of $t"; fails=$((fails+1)); }
done
check "stats record the partition" '1 3' \
  "$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["partition"]; print(p["index"], p["count"])' "$W/p1.json")"
check "a whole restore is partition 0/1" 0 "$(code "$BIN" check-partitions "$C" "$W/whole.json")"

# --upto and CSV, K = 2
"$BIN" restore "$C" -q --upto inc-002 --out "$W/wu.csv/"
for i in 0 1; do
  "$BIN" restore "$C" -q --upto inc-002 --partition $i/2 --stats-json "$W/u$i.json" --out "$W/u$i.csv/"
done
check "check-partitions --upto" 0 "$(code "$BIN" check-partitions "$C" --upto inc-002 "$W/u0.json" "$W/u1.json")"
for t in t1 t2; do
  check "CSV union = whole ($t, --upto)" "$(tail -n +2 "$W/wu.csv/$t.csv" | sort)" \
    "$(tail -q -n +2 "$W/u0.csv/$t.csv" "$W/u1.csv/$t.csv" | sort)"
done
check "files of another backup" 1 "$(code "$BIN" check-partitions "$C" "$W/u0.json" "$W/u1.json")"
has "... named" "u0.json: a restore up to backup inc-002, not up to inc-006" "$W/err"

# SQLite and compacted-collection outputs
sum=0
for i in 0 1 2; do
  "$BIN" restore "$C" -q --partition $i/3 --out "$W/s$i.sqlite"
  sum=$((sum + $(sqlite3 "$W/s$i.sqlite" 'SELECT count(*) FROM t1')))
done
check "SQLite partitions add up" "$(wc -l < "$W/whole/t1.jsonl")" "$sum"
"$BIN" restore "$C" -q --partition 1/3 --out "$W/coll1"
"$BIN" restore "$W/coll1" -q --stats-json "$W/coll1.json"
check "a partition as a compacted collection" "$(tables_of "$W/p1.json")" "$(tables_of "$W/coll1.json")"

# refusals
check "missing partition" 1 "$(code "$BIN" check-partitions "$C" "$W/p0.json" "$W/p2.json")"
has "... named" "partition 1/3 is missing" "$W/err"
check "duplicated partition" 1 "$(code "$BIN" check-partitions "$C" "$W/p0.json" "$W/p1.json" "$W/p1.json" "$W/p2.json")"
has "... named" "partition 1/3 appears twice" "$W/err"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
t=d["tables"][1]; t["digest"]="%016x" % ((int(t["digest"],16)+1) % 2**64); json.dump(d, open(sys.argv[2],"w"))' \
  "$W/p2.json" "$W/p2t.json"
check "tampered digest" 1 "$(code "$BIN" check-partitions "$C" "$W/p0.json" "$W/p1.json" "$W/p2t.json")"
has "... names the table" "table t2: the 3 partitions add up to" "$W/err"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["tables"][0]["rows"] += 1
json.dump(d, open(sys.argv[2],"w"))' "$W/p0.json" "$W/p0r.json"
check "tampered row count" 1 "$(code "$BIN" check-partitions "$C" "$W/p0r.json" "$W/p1.json" "$W/p2.json")"
has "... names the table" "table t1: " "$W/err"
check "mixed K" 1 "$(code "$BIN" check-partitions "$C" "$W/p0.json" "$W/p1.json" "$W/p2.json" "$W/u1.json")"
has "... named" "every file must be of the same K" "$W/err"
echo '{"status": "ok"' > "$W/bad.json"
check "invalid statistics file" 3 "$(code "$BIN" check-partitions "$C" "$W/p0.json" "$W/bad.json")"
has "... named" "bad.json" "$W/err"
check "missing statistics file" 3 "$(code "$BIN" check-partitions "$C" "$W/nope.json")"
has "... named" "nope.json" "$W/err"
echo '{"status": "ok"}' > "$W/old.json"
check "statistics without a partition" 3 "$(code "$BIN" check-partitions "$C" "$W/old.json")"
check "no statistics files" 2 "$(code "$BIN" check-partitions "$C")"
check "unknown --upto" 2 "$(code "$BIN" check-partitions "$C" --upto nope "$W/p0.json")"
for bad in 3/3 0/0 1/4097 x/2 1/ /3 -1/3 "1/3x" 4096/4096; do
  check "restore --partition $bad" 2 "$(code "$BIN" restore "$C" -q --partition "$bad")"
done
check "restore --partition 4095/4096" 0 "$(code "$BIN" restore "$C" -q --partition 4095/4096)"
check "--partition with --checkpoint" 2 "$(code "$BIN" restore "$C" -q --partition 1/2 --checkpoint "$W/ck")"
has "... says why" "checkpoints cannot be combined" "$W/err"
# an export that fails fails the command; its statistics say so, check-partitions
# refuses them, and the message names the file asked for, not its temporary
mkdir -p "$W/p1f/t1.jsonl"   # a directory where table t1's file should go
echo old >"$W/p1f/t0.jsonl"
check "partition whose export failed" 4 "$(code "$BIN" restore "$C" -q --partition 1/3 \
  --stats-json "$W/p1x.json" --out "$W/p1f/")"
has "... names the file" "p1f/t1.jsonl: is a directory" "$W/err"
check "... no table file replaced" old "$(cat "$W/p1f/t0.jsonl")"
check "... its statistics say so" IRS_EIO \
  "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$W/p1x.json")"
check "... check-partitions refuses it" 1 \
  "$(code "$BIN" check-partitions "$C" "$W/p0.json" "$W/p1x.json" "$W/p2.json")"
has "... named" "p1x.json: partition 1/3: the restore or its export failed (IRS_EIO)" "$W/err"
check "export to a missing directory" 4 "$(code "$BIN" restore "$C" -q --table t1 --out "$W/nodir/t1.jsonl")"
has "... names the file asked for" "nodir/t1.jsonl: cannot create" "$W/err"
check "statistics that cannot be written" 4 \
  "$(code "$BIN" restore "$C" -q --stats-json "$W/nodir/s.json" --out "$W/stats-fail.sqlite")"
has "... named" "nodir/s.json: cannot create: $W/nodir is not a directory" "$W/err"

# a collection made by add records no expected state: --reference
cat > "$W/schema.json" <<'EOF'
{"table": "t", "columns": [{"name": "id", "type": "uint64"}, {"name": "v", "type": "utf8"}],
 "primary_key": ["id"]}
EOF
"$BIN" create "$W/a" --schema "$W/schema.json" -q
for i in $(seq 1 200); do echo "{\"id\": $i, \"v\": \"r$i\"}"; done > "$W/a_full.jsonl"
"$BIN" add "$W/a" --full "$W/a_full.jsonl" --name f -q
"$BIN" restore "$W/a" -q --stats-json "$W/a_whole.json"
for i in 0 1; do "$BIN" restore "$W/a" -q --partition $i/2 --stats-json "$W/a$i.json"; done
check "no expected state" 1 "$(code "$BIN" check-partitions "$W/a" "$W/a0.json" "$W/a1.json")"
has "... names the table" "table t: the manifest records no expected state" "$W/err"
check "--reference" 0 "$(code "$BIN" check-partitions "$W/a" --reference "$W/a_whole.json" "$W/a0.json" "$W/a1.json")"
check "--reference of another partition set" 3 \
  "$(code "$BIN" check-partitions "$W/a" --reference "$W/a0.json" "$W/a0.json" "$W/a1.json")"
check "--reference against a missing partition" 1 \
  "$(code "$BIN" check-partitions "$W/a" --reference "$W/a_whole.json" "$W/a0.json")"

# ------------------------------------------------------------------ diff
D=$W/d
"$BIN" gen "$D" --rows 5000 --incrementals 8 --changes 1500 --fulls 2 --reinserts 0.3 --noop-erases 0.1 \
  --partial 0.7 --tables 2 --null-fraction 0.1 --seed 9 -q >/dev/null
# backups: full-000, inc-001..inc-004, full-005, inc-006..inc-009
squash() { # from to: the state at `to` rebuilt from the state at `from` plus one diff
  local a=$1 b=$2 s=$W/sq-$1-$2
  "$BIN" restore "$D" -q --upto "$a" --out "$s"
  "$BIN" diff "$D" --from "$a" --to "$b" --out "$s.diff/" -q
  "$BIN" add "$s" --incremental t1="$s.diff/t1.jsonl" t2="$s.diff/t2.jsonl" --name "$b" -q
  "$BIN" restore "$s" -q --out "$s.out/" --stats-json "$s.json"
  "$BIN" restore "$D" -q --upto "$b" --out "$s.want/" --stats-json "$s.want.json"
  check "squash $a..$b: rows and digests" "$(tables_of "$s.want.json")" "$(tables_of "$s.json")"
  for t in t1 t2; do
    check "squash $a..$b: every row of $t" "$(cat "$s.want/$t.jsonl")" "$(cat "$s.out/$t.jsonl")"
  done
}
squash inc-001 inc-004    # touched keys
squash full-000 inc-003   # from the base full
squash inc-002 inc-007    # a full in between
squash inc-003 full-005   # the target is a full
squash full-005 inc-009   # from the second base
squash inc-006 inc-009
grep -q '"op": "erase"' "$W/sq-inc-001-inc-004.diff/t1.jsonl" ||
  { echo "FAIL the diff holds no erase"; fails=$((fails+1)); }
"$BIN" diff "$D" --from inc-001 --to inc-004 --out "$W/touched.jsonl" --table t1 > "$W/touched.txt"
has "summary: touched keys" "the keys the incrementals touched" "$W/touched.txt"
"$BIN" diff "$D" --from inc-002 --to inc-007 --table t2 --out "$W/whole.jsonl" > "$W/whole.txt"
has "summary: whole tables" "whole tables: a full backup lies in between" "$W/whole.txt"

# one table, stdout, an empty diff, usage errors
"$BIN" diff "$D" --from inc-006 --to inc-008 --table t1 --out "$W/one.jsonl" -q
check "--out - equals the file" "$(cat "$W/one.jsonl")" \
  "$("$BIN" diff "$D" --from inc-006 --to inc-008 --table t1 --out - 2>/dev/null)"
check "--to defaults to the last backup" "$(cat "$W/sq-inc-006-inc-009.diff/t2.jsonl")" \
  "$("$BIN" diff "$D" --from inc-006 --table t2 --out - 2>/dev/null)"
check "from = to: no changes" 0 "$(code "$BIN" diff "$D" --from inc-003 --to inc-003 --table t1 --out "$W/none.jsonl")"
check "... an empty file" "" "$(cat "$W/none.jsonl")"
check "from after to" 2 "$(code "$BIN" diff "$D" --from inc-004 --to inc-002 --out "$W/x/")"
has "... says so" "comes after" "$W/err"
check "several tables need --table or DIR/" 2 "$(code "$BIN" diff "$D" --from inc-001 --out "$W/x.jsonl")"
check "unknown --from" 2 "$(code "$BIN" diff "$D" --from nope --out "$W/x/")"
check "unknown --to" 2 "$(code "$BIN" diff "$D" --from inc-001 --to nope --out "$W/x/")"
check "unknown --table" 2 "$(code "$BIN" diff "$D" --from inc-001 --table nope --out "$W/x.jsonl")"
check "no --from" 2 "$(code "$BIN" diff "$D" --out "$W/x/")"
check "no --out" 2 "$(code "$BIN" diff "$D" --from inc-001)"
check "diff --memory-limit with a unit" 0 \
  "$(code "$BIN" diff "$D" --from inc-006 --to inc-008 --table t1 --out "$W/lim.jsonl" --memory-limit 512MiB -q)"
check "... the same diff" "$(cat "$W/one.jsonl")" "$(cat "$W/lim.jsonl")"
check "diff --memory-limit too small" 4 \
  "$(code "$BIN" diff "$D" --from inc-006 --to inc-008 --table t1 --out "$W/lim2.jsonl" --memory-limit 64K -q)"
check "diff --memory-limit garbage" 2 "$(code "$BIN" diff "$D" --from inc-001 --out "$W/x/" --memory-limit 12Q)"
check "diff to a missing directory" 4 "$(code "$BIN" diff "$D" --from inc-006 --table t1 --out "$W/nodir/d.jsonl")"
has "... names the file asked for" "nodir/d.jsonl: cannot create" "$W/err"
[ ! -e "$W/x.jsonl" ] && [ ! -e "$W/x" ] || { echo "FAIL a usage error left a file"; fails=$((fails+1)); }

# a damaged incremental: exit 3, no file left
cp -r "$D" "$W/dd"
seg=$(ls "$W"/dd/data/b000004-*/t0-*.seg | head -1)   # inc-003 is backup #4 (docs/format.md)
printf '\x55' | dd of="$seg" bs=1 seek=40 conv=notrunc status=none
check "damaged incremental" 3 "$(code "$BIN" diff "$W/dd" --from inc-001 --to inc-004 --out "$W/dmg/")"
check "... nothing left behind" "" "$(ls "$W/dmg" 2>/dev/null)"

# extreme values round-trip through a diff
cat > "$W/vschema.json" <<'EOF'
{"table": "v", "columns": [{"name": "id", "type": "uint64"}, {"name": "u", "type": "uint64"},
 {"name": "i", "type": "int32"}, {"name": "d", "type": "double"}, {"name": "b", "type": "bytes"},
 {"name": "ts", "type": "timestamp"}, {"name": "s", "type": "utf8"}, {"name": "f", "type": "bool"}],
 "primary_key": ["id"]}
EOF
V=$W/v
"$BIN" create "$V" --schema "$W/vschema.json" -q
printf '%s\n' '{"id": 1, "u": 1, "i": 1, "d": 1, "b": "x", "ts": 0, "s": "a", "f": true}' \
  '{"id": 2, "u": 2}' '{"id": 18446744073709551615, "s": "max key"}' > "$W/vfull.jsonl"
"$BIN" add "$V" --full "$W/vfull.jsonl" --name base -q
printf '%s\n' \
  '{"op": "upsert", "row": {"id": 1, "u": 18446744073709551615, "i": -2147483648, "d": -0.0}}' \
  '{"op": "upsert", "row": {"id": 2, "d": 5e-324, "b": {"base64": "/wCA"}, "ts": -62167219200000001}}' \
  '{"op": "upsert", "row": {"id": 3, "d": "-Infinity", "ts": 253402300800000000, "s": "q\"\\\n\u0000é"}}' \
  '{"op": "upsert", "row": {"id": 4, "d": "NaN", "f": false, "s": ""}}' \
  '{"op": "upsert", "row": {"id": 5, "d": 1.7976931348623157e308, "b": ""}}' \
  '{"op": "erase", "key": {"id": 18446744073709551615}}' > "$W/vinc.jsonl"
"$BIN" add "$V" --incremental "$W/vinc.jsonl" --name i1 -q
printf '%s\n' '{"op": "upsert", "row": {"id": 5, "d": 0.1}}' > "$W/vinc2.jsonl"
"$BIN" add "$V" --incremental "$W/vinc2.jsonl" --name i2 -q
"$BIN" restore "$V" -q --upto base --out "$W/vs"
"$BIN" diff "$V" --from base --to i2 --out "$W/vd.jsonl" -q
"$BIN" add "$W/vs" --incremental "$W/vd.jsonl" --name i2 -q
"$BIN" restore "$V" -q --stats-json "$W/vwant.json" --out "$W/vwant.jsonl"
"$BIN" restore "$W/vs" -q --stats-json "$W/vgot.json" --out "$W/vgot.jsonl"
check "extreme values: rows and digest" "$(tables_of "$W/vwant.json")" "$(tables_of "$W/vgot.json")"
check "extreme values: every row" "$(cat "$W/vwant.jsonl")" "$(cat "$W/vgot.jsonl")"
check "extreme values: the diff" '{"op": "upsert", "row": {"id": 1, "u": 18446744073709551615, "i": -2147483648, "d": -0.0, "b": "x", "ts": "1970-01-01T00:00:00.000000Z", "s": "a", "f": true}}
{"op": "upsert", "row": {"id": 2, "u": 2, "i": null, "d": 5e-324, "b": {"base64": "/wCA"}, "ts": -62167219200000001, "s": null, "f": null}}
{"op": "upsert", "row": {"id": 3, "u": null, "i": null, "d": "-Infinity", "b": null, "ts": 253402300800000000, "s": "q\"\\\n\u0000é", "f": null}}
{"op": "upsert", "row": {"id": 4, "u": null, "i": null, "d": "NaN", "b": null, "ts": null, "s": "", "f": false}}
{"op": "upsert", "row": {"id": 5, "u": null, "i": null, "d": 0.1, "b": "", "ts": null, "s": null, "f": null}}
{"op": "erase", "key": {"id": 18446744073709551615}}' "$(cat "$W/vd.jsonl")"

if [ "$fails" -ne 0 ]; then echo "$fails FAILED"; exit 1; fi
echo "all partition and diff checks passed"
