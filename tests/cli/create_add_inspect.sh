#!/usr/bin/env bash
# create_add_inspect.sh: acceptance test of `increstore create`, `add` and `inspect`
# (docs/design.md section 5), driving the built binary only.
#
# usage: bash create_add_inspect.sh <increstore-binary> <source-dir>
#
# Checks exit codes (0 ok, 2 usage, 3 invalid input, 4 I/O), one-line error messages
# that name file:line, the `inspect --json` fields, and that a failed `add` leaves the
# collection exactly as it was.
set -euo pipefail

BIN=$1
SRC=$2
SAMPLES=$SRC/samples
T=$(mktemp -d "${TMPDIR:-/tmp}/irs_cli_test.XXXXXX")
trap 'rm -rf "$T"' EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# expect CODE CMD...: runs CMD, checks its exit code; stdout in $T/out, stderr in $T/err.
expect() {
	local want=$1
	shift
	local got=0
	"$@" >"$T/out" 2>"$T/err" || got=$?
	if [ "$got" != "$want" ]; then
		echo "--- stdout:" >&2
		cat "$T/out" >&2
		echo "--- stderr:" >&2
		cat "$T/err" >&2
		fail "exit $got, want $want: $*"
	fi
}

# The error output must be exactly one line "increstore: ..." containing each argument.
err_has() {
	[ "$(wc -l <"$T/err")" -eq 1 ] || { cat "$T/err" >&2; fail "stderr is not one line"; }
	grep -q '^increstore: ' "$T/err" || fail "stderr does not start with 'increstore: '"
	local frag
	for frag in "$@"; do
		grep -qF -- "$frag" "$T/err" || { cat "$T/err" >&2; fail "stderr lacks '$frag'"; }
	done
}

out_has() {
	local frag
	for frag in "$@"; do
		grep -qF -- "$frag" "$T/out" || { cat "$T/out" >&2; fail "stdout lacks '$frag'"; }
	done
}

# jq-like checks with python3: jcheck FILE 'python expression over d' ...
jcheck() {
	local file=$1
	shift
	local expr
	for expr in "$@"; do
		python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
			"$file" "$expr" || { cat "$file" >&2; fail "json check failed: $expr"; }
	done
}

# snapshot DIR NAME: the inspect --json output and the file list, to compare after
# failed adds (an aborted backup must leave no data files behind either).
snapshot() {
	"$BIN" inspect "$1" --json >"$T/snap.$2"
	(cd "$1" && find . -type f ! -name LOCK | sort) >"$T/files.$2"
}

unchanged() {
	"$BIN" inspect "$1" --json >"$T/snap.now"
	cmp -s "$T/snap.$2" "$T/snap.now" || { diff "$T/snap.$2" "$T/snap.now" >&2; fail "collection changed after a failed add"; }
	(cd "$1" && find . -type f ! -name LOCK | sort) >"$T/files.now"
	cmp -s "$T/files.$2" "$T/files.now" || { diff "$T/files.$2" "$T/files.now" >&2; fail "files changed after a failed add"; }
}

# ---------------------------------------------------------------- help and version
expect 0 "$BIN" --help
out_has "usage: increstore" create add inspect
expect 0 "$BIN" --version
out_has "increstore " "allocator:"
for c in create add inspect; do
	expect 0 "$BIN" "$c" --help
	out_has "usage: increstore $c"
done
expect 2 "$BIN"
err_has "missing command"
expect 2 "$BIN" frobnicate
err_has "unknown command 'frobnicate'" "--help"
expect 2 "$BIN" create "$T/x" --schema "$SAMPLES/schema.json" --bogus
err_has "unknown option '--bogus'" "increstore create --help"

# ---------------------------------------------------------------- create
C=$T/orders
expect 0 "$BIN" create "$C" --schema "$SAMPLES/schema.json"
expect 0 "$BIN" inspect "$C"
out_has "orders" "backups: 0" "id" "uint64" "timestamp"
expect 4 "$BIN" create "$C" --schema "$SAMPLES/schema.json"
err_has "$C"
expect 2 "$BIN" create "$T/noschema"
err_has "--schema"
expect 4 "$BIN" create "$T/c_missing" --schema "$T/does-not-exist.json"
err_has "does-not-exist.json"

bad_schema() { # bad_schema TEXT FRAGMENT...
	local text=$1
	shift
	printf '%s\n' "$text" >"$T/bad_schema.json"
	rm -rf "$T/c_bad"
	expect 3 "$BIN" create "$T/c_bad" --schema "$T/bad_schema.json"
	err_has "bad_schema.json" "$@"
	[ ! -e "$T/c_bad/MANIFEST" ] || fail "a failed create left a MANIFEST"
}
bad_schema '{"table": "t", "columns": [{"name": "id", "type": "integer"}], "primary_key": ["id"]}' 'unknown type "integer"'
bad_schema '{"table": "t", "columns": [{"name": "id", "type": "uint64"}, {"name": "id", "type": "utf8"}], "primary_key": ["id"]}' 'duplicate column "id"'
bad_schema '{"table": "t", "columns": [{"name": "id", "type": "uint64"}], "primary_key": ["nope"]}' 'key column "nope" not found'
bad_schema '{"table": "t", "columns": [{"name": "id", "type": "uint64"}], "primary_key": []}' '"primary_key" is empty'
bad_schema '{"table": "t", "columns": [{"name": "id", "type": "uint64"}]}' 'missing "primary_key"'
bad_schema '{"table": "t", "columns": [{"name": "id", "type": "uint64"}], "primary_key": ["id"]' 'malformed JSON'
# YDB type names, case-insensitive.
printf '%s\n' '{"table": "y", "columns": [{"name": "k", "type": "Uint32"}, {"name": "s", "type": "String"}, {"name": "u", "type": "UTF8"}], "primary_key": ["k"]}' >"$T/ydb.json"
expect 0 "$BIN" create "$T/ydb" --schema "$T/ydb.json"
expect 0 "$BIN" inspect "$T/ydb" --json
cp "$T/out" "$T/ydb.out.json"
jcheck "$T/ydb.out.json" 'd["tables"][0]["columns"][1]["type"] == "bytes"' 'd["tables"][0]["columns"][2]["type"] == "utf8"'

# An incremental needs a full backup first.
printf '{"op": "upsert", "row": {"id": 1}}\n' >"$T/one_change.jsonl"
expect 3 "$BIN" add "$C" --incremental "$T/one_change.jsonl"

# ---------------------------------------------------------------- add: full, incrementals
expect 0 "$BIN" add "$C" --full "$SAMPLES/full.jsonl" --name f1
expect 0 "$BIN" add "$C" --incremental "$SAMPLES/inc1.jsonl" --name i1
expect 0 "$BIN" add "$C" --incremental "$SAMPLES/inc2.jsonl"
expect 0 "$BIN" add "$C" --full "$SAMPLES/full.csv" --name f2
expect 0 "$BIN" add "$C" --incremental "$SAMPLES/inc1.jsonl" --name i3
expect 0 "$BIN" inspect "$C" --json
cp "$T/out" "$T/c.json"
jcheck "$T/c.json" \
	'd["table_count"] == 1 and d["backup_count"] == 5' \
	'[b["kind"] for b in d["backups"]] == ["full", "incremental", "incremental", "full", "incremental"]' \
	'[b["seq"] for b in d["backups"]] == [1, 2, 3, 4, 5]' \
	'd["backups"][0]["name"] == "f1" and d["backups"][0]["parent"] is None' \
	'd["backups"][1]["parent"] == "f1" and d["backups"][2]["parent"] == "i1"' \
	'[b["base"] for b in d["backups"]] == ["f1", "f1", "f1", "f2", "f2"]' \
	'd["backups"][0]["records"] == 10 and d["backups"][3]["records"] == 10' \
	'd["backups"][1]["records"] == 7' \
	'd["backups"][2]["records"] == 6' \
	'all(b["bytes"] > 0 and b["segments"] >= 1 for b in d["backups"])' \
	'all(b["created"].endswith("Z") and len(b["created"]) == 27 for b in d["backups"])' \
	'd["tables"][0]["name"] == "orders" and d["tables"][0]["primary_key"] == ["id"]' \
	'[c["type"] for c in d["tables"][0]["columns"]] == ["uint64","int32","int64","uint32","double","utf8","bytes","bool","timestamp"]' \
	'd["backups"][0]["tables"][0]["records"] == 10'
expect 0 "$BIN" inspect "$C"
out_has "f1" "i1" "f2" "full" "incremental"
expect 0 "$BIN" inspect "$C" --verify-data
out_has "verify-data: OK"
expect 0 "$BIN" inspect "$C" --json --verify-data
cp "$T/out" "$T/cv.json"
jcheck "$T/cv.json" 'd["verify_data"]["ok"] is True'

# Empty files make empty backups; stdin is JSONL.
: >"$T/empty.jsonl"
expect 0 "$BIN" add "$C" --full "$T/empty.jsonl" --name empty_full
expect 0 "$BIN" add "$C" --incremental "$T/empty.jsonl" --name empty_inc
: >"$T/empty.csv"
expect 0 "$BIN" add "$C" --full "$T/empty.csv" --name empty_csv
printf '{"id": 42, "customer": "from stdin"}\n{"id": 43}\n' | expect 0 "$BIN" add "$C" --full - --name from_stdin
expect 0 "$BIN" inspect "$C" --json
cp "$T/out" "$T/c2.json"
jcheck "$T/c2.json" \
	'[b["records"] for b in d["backups"]][-4:] == [0, 0, 0, 2]' \
	'd["backups"][-4]["kind"] == "full" and d["backups"][-3]["base"] == "empty_full"' \
	'd["backups"][-2]["kind"] == "full" and d["backups"][-2]["name"] == "empty_csv"'

# Repeated keys: collapsed in an incremental, an error naming both lines in a full.
printf '%s\n' '{"op": "upsert", "row": {"id": 42, "qty": 1}}' '{"op": "upsert", "row": {"id": 42, "price": 2.5}}' \
	'{"op": "erase", "key": {"id": 43}}' '{"op": "upsert", "row": {"id": 43, "qty": 3}}' >"$T/repeat.jsonl"
expect 0 "$BIN" add "$C" --incremental "$T/repeat.jsonl" --name collapsed
expect 0 "$BIN" inspect "$C" --json
cp "$T/out" "$T/c3.json"
jcheck "$T/c3.json" 'd["backups"][-1]["records"] == 2'

# ---------------------------------------------------------------- failed adds change nothing
snapshot "$C" before
fails() { # fails CODE FILE-CONTENT-OR-- ARGS... ; then err_has
	local code=$1
	shift
	expect "$code" "$BIN" add "$C" "$@"
	unchanged "$C" before
}
printf '{"id": 1}\n{"id": 2}\n\n{"id": 1, "qty": 5}\n' >"$T/dup.jsonl"
fails 3 --full "$T/dup.jsonl"
err_has "dup.jsonl" "line 1" "line 4"
printf '{"id": 1}\n{"id": 2, "qty": 2147483648}\n' >"$T/range.jsonl"
fails 3 --full "$T/range.jsonl"
err_has "range.jsonl:2:" 'column "qty" (int32)' "out of range"
printf '{"id": 18446744073709551616}\n' >"$T/u64.jsonl"
fails 3 --full "$T/u64.jsonl"
err_has "u64.jsonl:1:" "out of range for uint64"
printf '{"id": 1, "nope": 1}\n' >"$T/unknown.jsonl"
fails 3 --full "$T/unknown.jsonl"
err_has "unknown.jsonl:1:" 'unknown column "nope"'
printf '{"id": 1}\n{"id": 2,\n' >"$T/malformed.jsonl"
fails 3 --full "$T/malformed.jsonl"
err_has "malformed.jsonl:2:" "malformed JSON"
printf '{"qty": 1}\n' >"$T/nokey.jsonl"
fails 3 --full "$T/nokey.jsonl"
err_has "nokey.jsonl:1:" 'key column "id" is missing'
printf 'id,qty\n1,5\n2,abc\n' >"$T/bad.csv"
fails 3 --full "$T/bad.csv"
err_has "bad.csv:3:" 'field 2 (column "qty", int32)' "expected an integer"
printf 'id,customer\n1,a"b\n' >"$T/quote.csv"
fails 3 --full "$T/quote.csv"
err_has "quote.csv:2:" "malformed CSV"
printf 'id,customer\n,x\n' >"$T/nullkey.csv"
fails 3 --full "$T/nullkey.csv"
err_has "nullkey.csv:2:" "key column is NULL"
printf '{"op": "erase", "key": {"id": 1, "qty": 2}}\n' >"$T/erase_nonkey.jsonl"
fails 3 --incremental "$T/erase_nonkey.jsonl"
err_has "erase_nonkey.jsonl:1:" "not a primary key column"
printf '{"op": "upsert", "row": {"id": 5}}\n{"op": "remove", "key": {"id": 1}}\n' >"$T/badop.jsonl"
fails 3 --incremental "$T/badop.jsonl"
err_has "badop.jsonl:2:" '"op" must be "upsert" or "erase"'
fails 3 --incremental "$SAMPLES/full.jsonl"
err_has "full.jsonl:1:" "--full"
fails 4 --full "$T/no-such-file.jsonl"
err_has "no-such-file.jsonl"
fails 2 --full "$SAMPLES/full.jsonl" --name f1
err_has "f1" "already"
fails 2 --incremental "$SAMPLES/full.csv"
err_has "CSV"
fails 2 --full
err_has "--full"
fails 2 --full "$SAMPLES/full.jsonl" --incremental
fails 2 --full "$SAMPLES/full.jsonl" --name
err_has "'--name' needs a value"
fails 2 --full "$SAMPLES/full.jsonl" --frob
err_has "unknown option '--frob'" "increstore add --help"
fails 2 --full nosuch="$SAMPLES/full.jsonl"
expect 4 "$BIN" add "$T/not-a-collection" --full "$SAMPLES/full.jsonl"
expect 4 "$BIN" inspect "$T/not-a-collection"
err_has "not-a-collection"

# ---------------------------------------------------------------- several tables
M=$T/multi
expect 0 "$BIN" create "$M" --schema "$SAMPLES/multi/schema.json"
expect 0 "$BIN" add "$M" --full customers="$SAMPLES/multi/customers.jsonl" order_lines="$SAMPLES/multi/order_lines.csv" --name base
expect 0 "$BIN" add "$M" --incremental customers="$SAMPLES/multi/customers_inc1.jsonl" order_lines="$SAMPLES/multi/order_lines_inc1.jsonl" --name inc1
expect 0 "$BIN" add "$M" --incremental order_lines="$SAMPLES/multi/order_lines_inc1.jsonl" --name only_lines
expect 0 "$BIN" inspect "$M" --json --verify-data
cp "$T/out" "$T/m.json"
jcheck "$T/m.json" \
	'd["table_count"] == 2 and [t["name"] for t in d["tables"]] == ["customers", "order_lines"]' \
	'd["tables"][1]["primary_key"] == ["order_id", "line"]' \
	'd["backups"][0]["records"] == 8' \
	'[t["records"] for t in d["backups"][0]["tables"]] == [3, 5]' \
	'[t["records"] for t in d["backups"][1]["tables"]] == [3, 4]' \
	'[t["records"] for t in d["backups"][2]["tables"]] == [0, 4]' \
	'd["verify_data"]["ok"] is True'
expect 0 "$BIN" inspect "$M"
out_has "customers" "order_lines" "key 1" "key 2"
snapshot "$M" mbefore
expect 2 "$BIN" add "$M" --full "$SAMPLES/multi/customers.jsonl"
err_has "TABLE=FILE"
expect 2 "$BIN" add "$M" --full nosuch="$SAMPLES/multi/customers.jsonl"
err_has "no table named 'nosuch'"
expect 2 "$BIN" add "$M" --full customers="$SAMPLES/multi/customers.jsonl" customers="$SAMPLES/multi/customers.jsonl"
printf 'order_id,line\n7,1\n7,1\n' >"$T/dup_lines.csv"
expect 3 "$BIN" add "$M" --full customers="$SAMPLES/multi/customers.jsonl" order_lines="$T/dup_lines.csv"
err_has "dup_lines.csv" "line 2" "line 3"
printf '{"op": "upsert", "row": {"order_id": 1}}\n' >"$T/no_line.jsonl"
expect 3 "$BIN" add "$M" --incremental order_lines="$T/no_line.jsonl"
err_has "no_line.jsonl:1:" 'key column "line" is missing'
unchanged "$M" mbefore

# ---------------------------------------------------------------- table names holding '='
cat >"$T/eq.json" <<'EOF'
{"tables": [{"table": "x=y", "columns": [{"name": "id", "type": "int32"}], "primary_key": ["id"]},
            {"table": "x", "columns": [{"name": "id", "type": "int32"}], "primary_key": ["id"]}]}
EOF
E="$T/eqnames"
expect 0 "$BIN" create "$E" --schema "$T/eq.json"
mkdir -p "$T/eqdir"
printf '{"id": 1}\n' >"$T/eqdir/f.jsonl"
printf '{"id": 2}\n' >"$T/eqdir/y=f.jsonl"
snapshot "$E" eqbefore
# x with "y=f.jsonl" and x=y with "f.jsonl" are both tables with files: refused
(cd "$T/eqdir" && expect 2 "$BIN" add "$E" --full x=y=f.jsonl)
err_has "'x=y=f.jsonl' is ambiguous: tables 'x' and 'x=y' both match"
unchanged "$E" eqbefore
(cd "$T/eqdir" && expect 4 "$BIN" add "$E" --full x=y=missing.jsonl)
err_has "missing.jsonl"
(cd "$T/eqdir" && expect 0 "$BIN" add "$E" --full x=y=./f.jsonl x=./y=f.jsonl --name b1)
expect 0 "$BIN" restore "$E" --out "$T/eqout/"
[ "$(cat "$T/eqout/x=y.jsonl")" = '{"id": 1}' ] || fail "table x=y: $(cat "$T/eqout/x=y.jsonl")"
[ "$(cat "$T/eqout/x.jsonl")" = '{"id": 2}' ] || fail "table x: $(cat "$T/eqout/x.jsonl")"
# with only f.jsonl there, the split before it is the one taken
rm "$T/eqdir/y=f.jsonl"
printf '{"op": "erase", "key": {"id": 1}}\n' >"$T/eqdir/f.jsonl"
(cd "$T/eqdir" && expect 0 "$BIN" add "$E" --incremental x=y=f.jsonl --name b2)
rm -r "$T/eqout"
expect 0 "$BIN" restore "$E" --out "$T/eqout/"
[ ! -s "$T/eqout/x=y.jsonl" ] || fail "table x=y after the erase: $(cat "$T/eqout/x=y.jsonl")"
[ "$(cat "$T/eqout/x.jsonl")" = '{"id": 2}' ] || fail "table x after b2: $(cat "$T/eqout/x.jsonl")"

# ---------------------------------------------------------------- create: races and leftovers
# two creates of one directory at once: exactly one succeeds, and the collection is its
printf '{"table": "a", "columns": [{"name": "id", "type": "int32"}], "primary_key": ["id"]}\n' >"$T/ra.json"
printf '{"table": "b", "columns": [{"name": "id", "type": "int64"}], "primary_key": ["id"]}\n' >"$T/rb.json"
for round in $(seq 1 40); do
	R="$T/race$round"
	ra=0 rb=0
	"$BIN" create "$R" --schema "$T/ra.json" >/dev/null 2>"$T/ra.err" & pa=$!
	"$BIN" create "$R" --schema "$T/rb.json" >/dev/null 2>"$T/rb.err" & pb=$!
	wait $pa || ra=$?
	wait $pb || rb=$?
	case "$ra$rb" in
	04) want=a ;;
	40) want=b ;;
	*) fail "round $round: create exits $ra and $rb: $(cat "$T/ra.err" "$T/rb.err")" ;;
	esac
	"$BIN" inspect "$R" --json >"$T/race.json" || fail "round $round: no collection left"
	jcheck "$T/race.json" "d['tables'][0]['name'] == '$want'"
	rm -rf "$R"
done
# a create killed before its MANIFEST was in place leaves MANIFEST.tmp: not "not empty"
mkdir "$T/killed" && echo partial >"$T/killed/MANIFEST.tmp"
expect 0 "$BIN" create "$T/killed" --schema "$T/ra.json"
[ ! -e "$T/killed/MANIFEST.tmp" ] || fail "the stale MANIFEST.tmp stayed"
expect 0 "$BIN" inspect "$T/killed"
# a LOCK that is a symbolic link is not followed
ln -s "$T/victim" "$T/killed/LOCK"
printf '{"id": 1}\n' >"$T/one.jsonl"
expect 4 "$BIN" add "$T/killed" --full "$T/one.jsonl"
err_has "killed/LOCK"
[ ! -e "$T/victim" ] || fail "add followed the LOCK symlink"

# ---------------------------------------------------------------- corruption is found
cp -r "$C" "$T/corrupt"
seg=$(find "$T/corrupt/data" -type f -size +100c | head -n 1)
[ -n "$seg" ] || fail "no segment file found"
python3 - "$seg" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x55
open(p, "wb").write(bytes(b))
EOF
expect 3 "$BIN" inspect "$T/corrupt" --verify-data
err_has "$(basename "$seg")"
expect 3 "$BIN" inspect "$T/corrupt" --json --verify-data
cp "$T/out" "$T/corrupt.json"
jcheck "$T/corrupt.json" 'd["verify_data"]["ok"] is False' 'd["verify_data"]["code"] == "IRS_ECORRUPT"'

echo "create_add_inspect: all checks passed"
