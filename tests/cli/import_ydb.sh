#!/usr/bin/env bash
# `increstore import-ydb` against dumps built by tests/ydb/ydb_dump.py, whose model of
# YDB's restore gives the expected state after every backup:
#   - every table after every backup, the nested --out DIR/ files and SQLite, exactly;
#   - every refusal: exit 3, the expected message, and nothing left behind;
#   - --append: catching up, up to date, diverging chains, failures leaving DIR as it was;
#   - hand-made dumps: data file numbers of any length, a data file linked to nothing, the
#     decoded bytes of a refused string, a scheme.pb of too many columns.
#   bash import_ydb.sh <increstore-binary> <source-dir>
set -euo pipefail
BIN=$1
SRC=$2
GEN="python3 $SRC/tests/ydb/ydb_dump.py"
. "$(dirname "$0")/lib.sh"
tree_hash() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum); }
no_staging() { ! ls -a "$1" | grep -q '\.import-'; }

# ---- full dumps, compared with the model
for args in "--seed 1" "--seed 2 --rows 60 --incrementals 6 --rows-per-file 25" "--seed 3 --incrementals 1"; do
  d=$W/g; rm -rf "$d"
  $GEN gen "$d" $args
  run "$BIN" import-ydb "$d/dump" "$d/coll"
  if [ $rc -ne 0 ]; then bad "import ($args): rc $rc: $err"; continue; fi
  if $GEN check "$d" "$BIN" "$d/coll" >"$W/check" 2>&1; then
    ok "import ($args): $(tail -n 1 "$W/check")"
  else
    cat "$W/check"; bad "import ($args)"
  fi
done
# the summary names every table, nested ones by path
grep -q "10 tables: Alt, Dense, DirA/DirB/TableC, DirA/TableA, Empty, Gaps, Meta, Meta2, Orders, Types" "$W/out" \
  && ok "summary lists the tables" || bad "summary: $(cat "$W/out")"

# ---- a table that only a later full backup has: empty before it, and named in order
d=$W/later; rm -rf "$d"; $GEN gen "$d" --seed 4 --rows 6 --incrementals 2 --rows-per-file 4
fulls=$(ls "$d/dump" | grep '_full$'); f1=$(echo "$fulls" | head -n 1); f2=$(echo "$fulls" | tail -n 1)
cp -r "$d/dump/$f2/Orders" "$d/dump/$f2/AAA"
run "$BIN" import-ydb "$d/dump" "$d/coll" -q
"$BIN" restore "$d/coll" --upto "$f1" --table AAA --out "$d/a1.jsonl" -q
"$BIN" restore "$d/coll" --upto "$f2" --table AAA --out "$d/a2.jsonl" -q
"$BIN" restore "$d/coll" --upto "$f2" --table Orders --out "$d/o2.jsonl" -q
"$BIN" restore "$d/coll" --table AAA --out "$d/a3.jsonl" -q
[ $rc -eq 0 ] && [ ! -s "$d/a1.jsonl" ] && [ -s "$d/a2.jsonl" ] && cmp -s "$d/a2.jsonl" "$d/o2.jsonl" \
  && cmp -s "$d/a2.jsonl" "$d/a3.jsonl" && "$BIN" inspect "$d/coll" | grep -A1 '^tables:' | grep -q '^  AAA ' \
  && ok "a table first in a later full backup: empty before it, first in name order" \
  || bad "later table: rc $rc $err"

# ---- refusals: exit 3, the message, no collection and no staging directory left
while IFS=$'\t' read -r kind text; do
  d=$W/b; rm -rf "$d"
  $GEN gen "$d" --seed 5 --rows 8 --incrementals 2 --rows-per-file 3 --break "$kind"
  run "$BIN" import-ydb "$d/dump" "$d/coll" -q
  if [ $rc -eq 3 ] && [[ "$err" == *"$text"* ]] && [ ! -e "$d/coll" ] && no_staging "$d" \
     && [ "$(echo "$err" | wc -l)" -eq 1 ]; then
    ok "refuses $kind"
  else
    bad "refuses $kind: rc $rc, want 3 and '$text': $err"
  fi
done < <($GEN breaks)

# messages name the file and line
d=$W/b; rm -rf "$d"; $GEN gen "$d" --seed 5 --rows 8 --incrementals 2 --rows-per-file 3 --break int-range
run "$BIN" import-ydb "$d/dump" "$d/coll"
[[ "$err" == *"/Orders/data_"*".csv:1: field 2 (column qty, Int32): out of range for Int32: '2147483648'"* ]] \
  && ok "value error names file, line, field, column and text" || bad "value error: $err"
rm -rf "$d"; $GEN gen "$d" --seed 5 --rows 8 --incrementals 2 --rows-per-file 3 --break dup-key
run "$BIN" import-ydb "$d/dump" "$d/coll"
[[ "$err" == "increstore: backup 20250101000000Z_full: table Orders: key id="*" appears twice in one backup ("*"/Orders/data_"*".csv:"*" and "*"/Orders/data_"*".csv:"*")" ]] \
  && ok "duplicate key names both files and lines" || bad "duplicate key: $err"
rm -rf "$d"; $GEN gen "$d" --seed 5 --rows 8 --incrementals 2 --rows-per-file 3 --break decimal
run "$BIN" import-ydb "$d/dump" "$d/coll"
[ "$err" = "increstore: backup 20250101000000Z_full: table Orders: column price: YDB type Decimal(22,9) cannot be imported into increstore" ] \
  && ok "unsupported type names backup, table, column and type" || bad "unsupported: $err"

# ---- usage and I/O
d=$W/u; rm -rf "$d"; $GEN gen "$d" --seed 6 --rows 4 --incrementals 1
run "$BIN" import-ydb "$d/dump"; [ $rc -eq 2 ] && ok "missing DIR: exit 2" || bad "missing DIR: $rc"
run "$BIN" import-ydb "$d/nothing" "$d/c"; [ $rc -eq 4 ] && ok "missing DUMP: exit 4" || bad "missing DUMP: $rc $err"
mkdir -p "$d/full"; touch "$d/full/x"
run "$BIN" import-ydb "$d/dump" "$d/full"; [ $rc -eq 4 ] && [ -e "$d/full/x" ] && ok "non-empty DIR: exit 4" \
  || bad "non-empty DIR: $rc $err"
mkdir -p "$d/empty"
run "$BIN" import-ydb "$d/dump" "$d/empty" -q
[ $rc -eq 0 ] && [ ! -s "$W/out" ] && $GEN check "$d" "$BIN" "$d/empty" >/dev/null && ok "into an empty directory" \
  || bad "into an empty directory: $rc $err"
run "$BIN" import-ydb --help; [ $rc -eq 0 ] && grep -q "ydb tools dump -p" "$W/out" && ok "--help" || bad "--help"
run "$BIN" restore "$d/empty" --out "$d/o/" -q
[ -f "$d/o/DirA/DirB/TableC.jsonl" ] && [ -f "$d/o/Orders.jsonl" ] && ok "--out DIR/ nests tables named by paths" \
  || bad "--out DIR/ nesting: $(cd "$d/o" && find . -type f)"
run "$BIN" restore "$d/empty" --table DirA/TableA --out "$d/o.csv/" -q
[ "$(cd "$d/o.csv" && find . -type f)" = "./DirA/TableA.csv" ] && ok "--out DIR.csv/ with --table" || bad "--out DIR.csv/"

# ---- SIGINT: exit 5, nothing left (the signal is sent once the staging directory exists,
# seconds before a 2M-row import could finish)
k=$W/k; mkdir -p "$k/dump/20250101000000Z_full/t"
printf 'columns {\n  name: "id"\n  type {\n    type_id: UINT64\n  }\n}\nprimary_key: "id"\n' \
  > "$k/dump/20250101000000Z_full/t/scheme.pb"
seq 1 2000000 > "$k/dump/20250101000000Z_full/t/data_00.csv"
set +e
"$BIN" import-ydb "$k/dump" "$k/coll" 2>"$W/err" & pid=$!
for _ in $(seq 1 400); do ls -a "$k" | grep -q '\.coll\.import-' && break; sleep 0.05; done
kill -INT $pid; wait $pid; rc=$?
set -e
[ $rc -eq 5 ] && grep -q "cancelled: no collection was created" "$W/err" && [ ! -e "$k/coll" ] && no_staging "$k" \
  && ok "SIGINT: exit 5, no collection" || bad "SIGINT: rc $rc $(cat "$W/err")"

# ---- --append
a=$W/a; rm -rf "$a"; $GEN gen "$a" --seed 7 --rows 12 --incrementals 5 --rows-per-file 5
backups=$(ls "$a/dump" | grep -E '_(full|incremental)$')
mkdir "$a/part"; for b in $(echo "$backups" | head -n 3); do cp -r "$a/dump/$b" "$a/part/"; done
run "$BIN" import-ydb "$a/part" "$a/coll" -q
[ $rc -eq 0 ] || bad "append: first import: $err"
run "$BIN" import-ydb "$a/dump" "$a/coll" --append
[ $rc -eq 0 ] && grep -q "appended 4 backups (1 full + 3 incremental)" "$W/out" && no_staging "$a" \
  && ok "append catches up" || bad "append: $rc $err $(cat "$W/out")"
$GEN check "$a" "$BIN" "$a/coll" >"$W/check" 2>&1 && ok "append result: $(tail -n 1 "$W/check")" \
  || { cat "$W/check"; bad "append result"; }
h=$(tree_hash "$a/coll")
run "$BIN" import-ydb "$a/dump" "$a/coll" --append
[ $rc -eq 0 ] && grep -q "is up to date" "$W/out" && [ "$(tree_hash "$a/coll")" = "$h" ] \
  && ok "append when up to date changes nothing" || bad "up to date: $rc $err"
# a dump that lost its oldest backups still appends
rm -rf "$a/coll2" "$a/pruned"; cp -r "$a/part" "$a/part2"; rm -rf "$a/part2/$(echo "$backups" | sed -n 3p)"
run "$BIN" import-ydb "$a/part2" "$a/coll2" -q
mkdir "$a/pruned"; for b in $(echo "$backups" | tail -n +2); do cp -r "$a/dump/$b" "$a/pruned/"; done
run "$BIN" import-ydb "$a/pruned" "$a/coll2" --append -q
[ $rc -eq 0 ] && $GEN check "$a" "$BIN" "$a/coll2" >/dev/null && ok "append from a pruned dump" \
  || bad "append from a pruned dump: $rc $err"
# diverging chains: the dump lacks a backup the collection has ...
rm -rf "$a/div"; cp -r "$a/dump" "$a/div"; rm -rf "$a/div/$(echo "$backups" | sed -n 2p)"
run "$BIN" import-ydb "$a/div" "$a/coll" --append
[ $rc -eq 3 ] && [[ "$err" == *"the chains diverge"* ]] && [ "$(tree_hash "$a/coll")" = "$h" ] \
  && ok "append refuses a dump missing one of DIR's backups" || bad "diverge 1: $rc $err"
# ... or has one in the middle that the collection lacks
rm -rf "$a/c3"; run "$BIN" import-ydb "$a/div" "$a/c3" -q
h3=$(tree_hash "$a/c3")
run "$BIN" import-ydb "$a/dump" "$a/c3" --append
[ $rc -eq 3 ] && [[ "$err" == *"the chains diverge: the dump has backup"* ]] && [ "$(tree_hash "$a/c3")" = "$h3" ] \
  && ok "append refuses a dump with a backup DIR lacks before its last" || bad "diverge 2: $rc $err"
# ... or replaced its last incremental by a full backup of the same time
rm -rf "$a/kind"; cp -r "$a/dump" "$a/kind"; last=$(echo "$backups" | tail -n 1)
mv "$a/kind/$last" "$a/kind/${last%_incremental}_full"
rm -rf "$a/c4"; run "$BIN" import-ydb "$a/dump" "$a/c4" -q
run "$BIN" import-ydb "$a/kind" "$a/c4" --append
[ $rc -eq 3 ] && [[ "$err" == *"the chains diverge"* ]] && ok "append refuses a backup that changed kind" \
  || bad "diverge 3: $rc $err"
# a failure in a later backup leaves DIR exactly as it was
rm -rf "$a/late"; cp -r "$a/dump" "$a/late"
f=$(ls "$a/late/$last/Orders/"data_*.csv | head -n 1)
printf 'not,a,valid,row,at,all\n' >> "$f"
rm -rf "$a/c5"; run "$BIN" import-ydb "$a/part" "$a/c5" -q; h5=$(tree_hash "$a/c5")
run "$BIN" import-ydb "$a/late" "$a/c5" --append
[ $rc -eq 3 ] && [ "$(tree_hash "$a/c5")" = "$h5" ] && no_staging "$a" && "$BIN" inspect "$a/c5" --verify-data >/dev/null \
  && ok "a failed append leaves DIR as it was" || bad "failed append: $rc $err"
# a new table cannot join a collection
rm -rf "$a/newt"; cp -r "$a/dump" "$a/newt"; nf=$(echo "$backups" | grep _full | tail -n 1)
cp -r "$a/newt/$nf/Orders" "$a/newt/$nf/Extra"
rm -rf "$a/c6"; mkdir "$a/p6"; for b in $(echo "$backups" | head -n 2); do cp -r "$a/dump/$b" "$a/p6/"; done
run "$BIN" import-ydb "$a/p6" "$a/c6" -q
run "$BIN" import-ydb "$a/newt" "$a/c6" --append
[ $rc -eq 3 ] && [[ "$err" == *"table Extra is not in the collection"* ]] && ok "append refuses a new table" \
  || bad "new table: $rc $err"
run "$BIN" import-ydb "$a/dump" "$W/nowhere" --append
[ $rc -eq 4 ] && ok "append to a missing collection: exit 4" || bad "append missing: $rc $err"

# ---- hand-made one-table dumps: data file numbers, links, messages, sizes
hand() { # dir: a dump of table T (id Uint64 key, s optional Utf8) with no data files
  rm -rf "$1"; mkdir -p "$1/dump/20250101000000Z_full/T"
  printf 'columns { name: "id" type { type_id: UINT64 } not_null: true }\ncolumns { name: "s" type { optional_type { item { type_id: UTF8 } } } }\nprimary_key: "id"\n' \
    > "$1/dump/20250101000000Z_full/T/scheme.pb"
  echo "$1/dump/20250101000000Z_full/T"
}
t=$(hand "$W/h1")
printf '3,"c"\n' > "$t/data_9.csv"; printf '1,"a"\n' > "$t/data_1234567890123.csv"; printf '2,"b"\n' > "$t/data_10.csv"
run "$BIN" import-ydb "$W/h1/dump" "$W/h1/coll" -q
"$BIN" restore "$W/h1/coll" --table T --out "$W/h1/t.jsonl" -q 2>/dev/null || true
[ $rc -eq 0 ] && [ "$(wc -l < "$W/h1/t.jsonl")" = 3 ] && ok "data files with any number of digits" \
  || bad "long data file numbers: rc $rc $err; $(cat "$W/h1/t.jsonl" 2>/dev/null)"
t=$(hand "$W/h2"); printf '1,"a"\n' > "$t/data_1.csv"; printf '2,"b"\n' > "$t/data_0001.csv"
run "$BIN" import-ydb "$W/h2/dump" "$W/h2/coll" -q
[ $rc -eq 3 ] && [[ "$err" == *"two data files with number 1"* ]] && [ ! -e "$W/h2/coll" ] \
  && ok "data_1.csv and data_0001.csv: one number twice" || bad "same number: $rc $err"
t=$(hand "$W/h3"); printf '1,"a"\n' > "$t/data_00.csv"; ln -s "$W/nothing-here" "$t/data_01.csv"
run "$BIN" import-ydb "$W/h3/dump" "$W/h3/coll" -q
[ $rc -eq 3 ] && [[ "$err" == *"data_01.csv: a symbolic link to nothing"* ]] && [ ! -e "$W/h3/coll" ] \
  && ok "a data file linked to nothing is refused by name" || bad "dangling data link: $rc $err"
t=$(hand "$W/h4"); printf '1,"%%C0%%80x"\n' > "$t/data_00.csv"
run "$BIN" import-ydb "$W/h4/dump" "$W/h4/coll" -q
[ $rc -eq 3 ] && [[ "$err" == *"data_00.csv:1: field 2 (column s, Utf8): invalid UTF-8 after percent-decoding: '??x'" ]] \
  && ok "a string refused once decoded shows its decoded bytes" || bad "decoded bytes: $rc $err"
t=$(hand "$W/h5"); printf '1,"a"\n' > "$t/data_00.csv"
python3 -c 'import sys; open(sys.argv[1], "w").write("".join("columns { name: \"c%d\" type { type_id: INT32 } }\n" % i for i in range(5000)) + "primary_key: \"c0\"\n")' "$t/scheme.pb"
run timeout 60 "$BIN" import-ydb "$W/h5/dump" "$W/h5/coll" -q
[ $rc -eq 3 ] && [[ "$err" == *"scheme.pb: 5000 columns (a table holds at most 4096)"* ]] \
  && ok "5000 columns refused before they are read" || bad "5000 columns: $rc $err"

echo "import_ydb: $fails failure(s)"
[ $fails -eq 0 ]
