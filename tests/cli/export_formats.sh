#!/usr/bin/env bash
# The output rules of docs/cli.md ("Rules shared by every command", "Exports, byte for
# byte"), checked exactly:
#   - the spelling of doubles (shortest, 5e-324, -0.0, 1e+21) and key order over double
#     keys (-0.0 before 0, NaN after Infinity), read back by Python's json module;
#   - uint64 above 2^63-1 in a .sqlite export: 20-digit TEXT, every value read back
#     exactly, ORDER BY numeric; small rows WITHOUT ROWID, large rows with a rowid,
#     pages of 16 KiB;
#   - restore --stats-json -: stdout is one JSON document, the summary is on stderr;
#   - the progress lines and the terminal bar name the backup they count;
#   - exports are fsync'd before the rename and the directory after it (strace).
#   bash export_formats.sh <increstore-binary> <source-dir>
set -euo pipefail
BIN=$1
. "$(dirname "$0")/lib.sh"

# ---- doubles: spelling and key order
cat >"$W/d.json" <<'EOF'
{"table": "d", "columns": [{"name": "k", "type": "double"}, {"name": "v", "type": "double"},
 {"name": "u", "type": "uint64"}], "primary_key": ["k"]}
EOF
"$BIN" create "$W/d" --schema "$W/d.json" >/dev/null
printf '%s\n' '{"k": 1.5, "v": 5e-324, "u": 0}' '{"k": "NaN", "v": 1e21, "u": 9223372036854775807}' \
	'{"k": -0.0, "v": -0.0, "u": 9223372036854775808}' '{"k": 0, "v": 0.1, "u": 18446744073709551615}' \
	'{"k": "-Infinity", "v": 4.9406564584124654e-324, "u": 10000000000000000000}' \
	'{"k": "Infinity", "v": 1000, "u": 1}' '{"k": -2.5e-7, "v": 123456.789, "u": 2}' >"$W/d.jsonl"
"$BIN" add "$W/d" --full "$W/d.jsonl" >/dev/null
"$BIN" restore "$W/d" --quiet --out "$W/d.out.jsonl"
check "doubles: shortest text, -0.0, key order" \
'{"k": "-Infinity", "v": 5e-324, "u": 10000000000000000000}
{"k": -2.5e-7, "v": 123456.789, "u": 2}
{"k": -0.0, "v": -0.0, "u": 9223372036854775808}
{"k": 0, "v": 0.1, "u": 18446744073709551615}
{"k": 1.5, "v": 5e-324, "u": 0}
{"k": "Infinity", "v": 1000, "u": 1}
{"k": "NaN", "v": 1e+21, "u": 9223372036854775807}' "$(cat "$W/d.out.jsonl")"
"$BIN" restore "$W/d" --quiet --out "$W/d.out.csv"
check "doubles in CSV" 'k,v,u
-Infinity,5e-324,10000000000000000000
-2.5e-7,123456.789,2
-0.0,-0.0,9223372036854775808
0,0.1,18446744073709551615
1.5,5e-324,0
Infinity,1000,1
NaN,1e+21,9223372036854775807' "$(cat "$W/d.out.csv")"
# extensions in any case: out.JSONL is a JSONL file (it was a new collection), D.CSV/ CSV files
"$BIN" restore "$W/d" --quiet --out "$W/d.OUT.JSONL"
"$BIN" restore "$W/d" --quiet --out "$W/d.Out.Csv"
"$BIN" restore "$W/d" --quiet --out "$W/d.DIR.CSV/"
check "--out *.JSONL, *.Csv, DIR.CSV/: the same bytes as in lower case" "same same same" \
  "$(cmp -s "$W/d.OUT.JSONL" "$W/d.out.jsonl" && echo same) $(cmp -s "$W/d.Out.Csv" "$W/d.out.csv" && echo same) $(cmp -s "$W/d.DIR.CSV/d.csv" "$W/d.out.csv" && echo same)"
# a JSON reader keeps the sign of -0.0 and reads every value back exactly
check "python reads -0.0 with its sign, the others exactly" "ok" "$(python3 - "$W/d.out.jsonl" <<'EOF'
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
v = {r["u"]: r["v"] for r in rows}
assert math.copysign(1.0, v[9223372036854775808]) == -1.0 and v[9223372036854775808] == 0.0
assert v[10000000000000000000] == 5e-324 and v[9223372036854775807] == 1e21 and v[2] == 123456.789
print("ok")
EOF
)"

# ---- uint64 in SQLite (a table SQLite can hold: no NaN and no -0.0 beside 0 in its key)
cat >"$W/u.json" <<'EOF'
{"table": "u", "columns": [{"name": "id", "type": "uint64"}, {"name": "u", "type": "uint64"},
 {"name": "v", "type": "double"}], "primary_key": ["id"]}
EOF
"$BIN" create "$W/u" --schema "$W/u.json" >/dev/null
printf '%s\n' '{"id": 18446744073709551615, "u": 0, "v": 1.5}' '{"id": 9223372036854775808, "u": 1}' \
	'{"id": 2, "u": 9223372036854775807}' '{"id": 3, "u": 9223372036854775808}' \
	'{"id": 4, "u": 18446744073709551615, "v": 1e21}' '{"id": 5, "u": 10000000000000000000}' \
	'{"id": 6, "u": 2}' >"$W/u.jsonl"
"$BIN" add "$W/u" --full "$W/u.jsonl" >/dev/null
"$BIN" restore "$W/u" --quiet --out "$W/u.sqlite"
"$BIN" restore "$W/u" --quiet --out "$W/u.out.jsonl"
check "sqlite: uint64 as INTEGER, above 2^63-1 as 20-digit TEXT, ORDER BY numeric" \
'integer|0
integer|1
integer|2
integer|9223372036854775807
text|09223372036854775808
text|10000000000000000000
text|18446744073709551615' "$(sqlite3 "$W/u.sqlite" 'SELECT typeof(u), u FROM u ORDER BY u')"
check "sqlite: the uint64 key too, in key order" \
	'2|3|4|5|6|09223372036854775808|18446744073709551615' \
	"$(sqlite3 "$W/u.sqlite" 'SELECT id FROM u ORDER BY id' | paste -sd'|')"
check "sqlite: every uint64 reads back exactly (as the JSONL export has it)" "ok" "$(python3 - "$W/u.sqlite" "$W/u.out.jsonl" <<'EOF'
import json, sqlite3, sys
db = sorted((int(i), int(u)) for (i, u) in sqlite3.connect(sys.argv[1]).execute("SELECT id, u FROM u"))
js = sorted((r["id"], r["u"]) for r in map(json.loads, open(sys.argv[2])))
assert db == js, (db, js)
print("ok")
EOF
)"
check "sqlite: a 20-digit TEXT finds its row" "4" \
	"$(sqlite3 "$W/u.sqlite" "SELECT id FROM u WHERE u = '18446744073709551615'")"
# a table of small rows is one b-tree by its key (WITHOUT ROWID); rows averaging more
# than 200 bytes stay in a rowid table
check "sqlite: small rows: WITHOUT ROWID" \
	'CREATE TABLE "u" ("id" ANY NOT NULL, "u" ANY, "v" REAL, PRIMARY KEY ("id")) WITHOUT ROWID, STRICT' \
	"$(sqlite3 "$W/u.sqlite" "SELECT sql FROM sqlite_master WHERE name = 'u'")"
check "sqlite: pages of 16 KiB" "16384" "$(sqlite3 "$W/u.sqlite" 'PRAGMA page_size')"
cat >"$W/big.json" <<'EOF'
{"table": "big", "columns": [{"name": "id", "type": "uint32"}, {"name": "s", "type": "utf8"}],
 "primary_key": ["id"]}
EOF
"$BIN" create "$W/big" --schema "$W/big.json" >/dev/null
python3 -c 'import json
for i in range(5): print(json.dumps({"id": 5 - i, "s": chr(97 + i) * (150 + 50 * i)}))' >"$W/big.jsonl"
"$BIN" add "$W/big" --full "$W/big.jsonl" >/dev/null
"$BIN" restore "$W/big" --quiet --out "$W/big.sqlite"
check "sqlite: rows of 250 bytes on average: a rowid table" \
	'CREATE TABLE "big" ("id" INTEGER NOT NULL, "s" TEXT, PRIMARY KEY ("id")) STRICT' \
	"$(sqlite3 "$W/big.sqlite" "SELECT sql FROM sqlite_master WHERE name = 'big'")"
check "sqlite: ... holding every row" "1|350|e 2|300|d 3|250|c 4|200|b 5|150|a" \
	"$(sqlite3 "$W/big.sqlite" 'SELECT id, length(s), substr(s, 1, 1) FROM big ORDER BY id' | paste -sd' ')"
# SQLite cannot hold a NaN key or both -0.0 and 0 as keys: the export fails, naming the
# table, and leaves nothing under the target name
set +e
"$BIN" restore "$W/d" --quiet --out "$W/d.sqlite" 2>"$W/d.err"
rc=$?
set -e
check "sqlite: a table SQLite cannot hold fails the export (exit 4)" "4 no file" \
	"$rc $([ -e "$W/d.sqlite" ] && echo file || echo no file)"
check "sqlite: ... naming the table" "1" "$(grep -c 'table d: ' "$W/d.err")"

# ---- --stats-json -: stdout holds the JSON only
"$BIN" gen "$W/g" --rows 3000 --incrementals 3 --changes 500 --seed 3 --quiet >/dev/null 2>&1
"$BIN" restore "$W/g" --shards 2 --stats-json - >"$W/stats.out" 2>"$W/stats.err"
check "--stats-json -: stdout is one JSON document" "ok 4" \
	"$(python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); print("ok", len(d["backups"]))' "$W/stats.out")"
check "--stats-json -: the summary is on stderr" "1" "$(grep -c '^restored .* through inc-003: 4 backups' "$W/stats.err")"

# ---- progress names the backup it counts
"$BIN" restore "$W/g" --shards 2 2>"$W/progress" >/dev/null
check "progress lines" 'restored backup 1/4 full-000
restored backup 2/4 inc-001
restored backup 3/4 inc-002
restored backup 4/4 inc-003' "$(sed 's/:.*//' "$W/progress")"
if command -v script >/dev/null; then
	# on a terminal: every redraw of the bar names the backup with its position
	script -qec "'$BIN' restore '$W/g' --shards 2 --upto inc-002" /dev/null >"$W/tty" </dev/null || true
	tr '\r' '\n' <"$W/tty" | sed -n 's/.*backup \([0-9]*\)\/\([0-9]*\) \([a-z0-9-]*\) .*/\1 \2 \3/p' | sort -u >"$W/bars"
	bad=$(awk '{want = ($1 == 1) ? "full-000" : sprintf("inc-%03d", $1 - 1); if ($3 != want || $2 != 3) print}' "$W/bars")
	check "terminal bar: position and name agree" "" "$bad"
	check "terminal bar: the last redraw is 3/3 inc-002" "3 3 inc-002" "$(tail -n 1 "$W/bars")"
fi

# ---- fsync before rename, and of the directory after it
if command -v strace >/dev/null && strace -f -o /dev/null true 2>/dev/null; then
	for ext in sqlite jsonl; do
		# (LeakSanitizer cannot run under ptrace: off for the traced run of an ASan build)
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
			strace -f -y -e trace=fsync,rename -o "$W/trace.$ext" "$BIN" restore "$W/g" --quiet --out "$W/x.$ext"
		order=$(grep -E "fsync|rename" "$W/trace.$ext" | sed -n \
			-e "s|.*fsync([0-9]*<$W/x.$ext.tmp-[0-9]*>).*|fsync file|p" \
			-e "s|.*rename(\"$W/x.$ext.tmp-[0-9]*\", \"$W/x.$ext\").*|rename|p" \
			-e "s|.*fsync([0-9]*<$W>).*|fsync dir|p")
		check "$ext export: fsync, rename, fsync of the directory" "fsync file
rename
fsync dir" "$order"
	done
else
	echo "skip fsync order (strace cannot trace here)"
fi

# ---- --out targets that cannot be written are refused before the restore runs: the
# collections below are damaged, so a refusal that came after the restore would say so
damage() { # flips a byte in the middle of the first segment of collection $1
	local seg; seg=$(find "$1/data" -type f -name '*.seg' | head -n 1)
	python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2]^=0x55; open(p,"wb").write(b)' "$seg"
}
"$BIN" gen "$W/bad" --rows 300 --incrementals 1 --changes 20 >/dev/null 2>&1
damage "$W/bad"
run "$BIN" restore "$W/bad" --quiet --out "$W/x.jsonl"
check "the damaged collection fails (exit 3)" 3 "$rc"
mkdir "$W/taken" "$W/dir.jsonl"
touch "$W/plain"
for case in "taken|$W/taken already exists" "plain|$W/plain already exists" \
	"dir.jsonl|$W/dir.jsonl: is a directory" "plain/|$W/plain/: not a directory" \
	"none/sub|$W/none/sub: cannot create: $W/none is not a directory" \
	"none/x.sqlite|$W/none/x.sqlite: cannot create: $W/none is not a directory" \
	"none/t/|$W/none/t/: cannot create: $W/none is not a directory"; do
	run "$BIN" restore "$W/bad" --quiet --out "$W/${case%%|*}"
	check "--out ${case%%|*}: refused first, exit 4" "4|1|increstore: ${case#*|}" "$rc|$nlines|$err"
done
check "nothing was made" "" "$(ls "$W/taken"; ls -d "$W/none" 2>/dev/null || true)"
# what the schema alone refuses is a usage error before the restore too: one file for
# several tables, a DIR/ where one table's file would be another's directory
"$BIN" gen "$W/bad2" --rows 300 --incrementals 1 --changes 20 --tables 2 >/dev/null 2>&1
damage "$W/bad2"
run "$BIN" restore "$W/bad2" --quiet --out "$W/two.jsonl"
check "--out FILE with 2 tables: a usage error before the restore" \
	"2|1|increstore: restore: --out $W/two.jsonl: the collection has 2 tables; name one with --table, or give a directory ending in '/' for one file per table (see 'increstore restore --help')" \
	"$rc|$nlines|$err"
cat >"$W/clash.json" <<'JSON'
{"tables": [
  {"table": "A", "columns": [{"name": "id", "type": "uint64"}], "primary_key": ["id"]},
  {"table": "A.jsonl/B", "columns": [{"name": "id", "type": "uint64"}], "primary_key": ["id"]}
]}
JSON
"$BIN" create "$W/clash" --schema "$W/clash.json" >/dev/null
echo '{"id": 1}' >"$W/one.jsonl"
"$BIN" add "$W/clash" --full "A=$W/one.jsonl" "A.jsonl/B=$W/one.jsonl" >/dev/null
damage "$W/clash"
run "$BIN" restore "$W/clash" --quiet --out "$W/cdir/"
check "--out DIR/ with clashing table files: a usage error before the restore, DIR not made" \
	"2|1|increstore: restore: --out DIR/: the file of table 'A' would be the directory of table 'A.jsonl/B'; export them one at a time with --table (see 'increstore restore --help')|" \
	"$rc|$nlines|$err|$(ls -d "$W/cdir" 2>/dev/null || true)"
first=$("$BIN" inspect "$W/clash" | awk '$2 == "full" {print $3}')
run "$BIN" diff "$W/clash" --from "$first" --quiet --out "$W/ddir/"
check "diff --out DIR/ with clashing table files: a usage error, DIR not made" \
	"2|1|increstore: diff: --out DIR/: the file of table 'A' would be the directory of table 'A.jsonl/B'; export them one at a time with --table (see 'increstore diff --help')|" \
	"$rc|$nlines|$err|$(ls -d "$W/ddir" 2>/dev/null || true)"
run env -C "$W" "$BIN" restore "$W/bad" --quiet --out -
check "--out -: a usage error, no collection named '-'" "2|1|" "$rc|$nlines|$(ls -d "$W/-" 2>/dev/null || true)"
# an empty path (it restored everything, then failed to rename to ''): a usage error first
run env -C "$W" "$BIN" restore "$W/bad" --quiet --out ''
check "--out '': a usage error before the restore" \
	"2|1|increstore: restore: option '--out': an empty value (see 'increstore restore --help')" "$rc|$nlines|$err"
run env -C "$W" "$BIN" restore '' --quiet
check "restore '': a usage error" "2|1" "$rc|$nlines"

# --stats-json naming a file the export writes: they would overwrite each other
for case in "s.jsonl|s.jsonl|--table t1" "s.jsonl|./s.jsonl|--table t1" "d2/|d2/t2.jsonl|"; do
	IFS='|' read -r out stats extra <<<"$case"
	# shellcheck disable=SC2086 # extra: words, or none
	run env -C "$W" "$BIN" restore "$W/bad2" --quiet $extra --out "$out" --stats-json "$stats"
	check "--out $out --stats-json $stats: a usage error before the restore" \
		"2|1|increstore: restore: --stats-json $stats: the export to $out writes that file; name another (see 'increstore restore --help')|" \
		"$rc|$nlines|$err|$(ls -d "$W/s.jsonl" "$W/d2" 2>/dev/null || true)"
done

# --table T exports only T, in every format that holds several tables: a .sqlite or a
# new collection with the other tables in them, empty, would say they are empty
"$BIN" gen "$W/two" --rows 400 --incrementals 1 --changes 50 --tables 2 --seed 5 -q >/dev/null
"$BIN" restore "$W/two" --quiet --table t2 --out "$W/two-t2.sqlite"
check "--table t2 --out .sqlite: only t2" "t2" "$(sqlite3 "$W/two-t2.sqlite" '.tables' | tr -s ' \n' ' ' | sed 's/ $//')"
"$BIN" restore "$W/two" --quiet --table t2 --out "$W/two-t2"
want=$("$BIN" restore "$W/two" --table t2 --stats-json - --quiet |
	python3 -c 'import json,sys; print(*[t["digest"] for t in json.load(sys.stdin)["tables"] if t["name"] == "t2"])')
got=$("$BIN" restore "$W/two-t2" --stats-json - --quiet |
	python3 -c 'import json,sys; print(*[t["name"] + " " + t["digest"] for t in json.load(sys.stdin)["tables"]])')
check "--table t2 --out COLLECTION: a collection of t2 alone, its digest" "t2 $want" "$got"

# a double key SQLite cannot hold (-0.0 beside 0.0, NaN): the key named, no file
echo '{"tables": [{"table": "dk", "columns": [{"name": "x", "type": "double"}, {"name": "y", "type": "uint64"}], "primary_key": ["x"]}]}' >"$W/dk.json"
"$BIN" create "$W/dk" --schema "$W/dk.json" >/dev/null
printf '{"x": -0.0, "y": 1}\n{"x": 0.0, "y": 2}\n{"x": 1.5, "y": 3}\n' >"$W/dk1.jsonl"
"$BIN" add "$W/dk" --full "dk=$W/dk1.jsonl" --name signed >/dev/null
printf '{"op": "erase", "key": {"x": -0.0}}\n{"op": "upsert", "row": {"x": "NaN", "y": 4}}\n' >"$W/dk2.jsonl"
"$BIN" add "$W/dk" --incremental "dk=$W/dk2.jsonl" --name nan >/dev/null
run "$BIN" restore "$W/dk" --quiet --upto signed --out "$W/dk1.sqlite"
check "a .sqlite of keys -0.0 and 0.0: the key named" \
	"4|1|increstore: $W/dk1.sqlite: table dk: SQLite cannot hold the key {\"x\": 0} (UNIQUE constraint failed: dk.x; it stores -0.0 as 0.0 and NaN as NULL): export this table as JSONL or CSV|" \
	"$rc|$nlines|$err|$(ls "$W"/dk1.sqlite* 2>/dev/null || true)"
run "$BIN" restore "$W/dk" --quiet --out "$W/dk2.sqlite"
check "a .sqlite of a NaN key: the key named" \
	"4|1|increstore: $W/dk2.sqlite: table dk: SQLite cannot hold the key {\"x\": \"NaN\"} (NOT NULL constraint failed: dk.x; it stores -0.0 as 0.0 and NaN as NULL): export this table as JSONL or CSV|" \
	"$rc|$nlines|$err|$(ls "$W"/dk2.sqlite* 2>/dev/null || true)"

[ $fails = 0 ] && echo "all export format checks passed"
exit $((fails > 0))
