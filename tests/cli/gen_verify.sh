#!/usr/bin/env bash
# gen_verify.sh: acceptance test of `increstore gen` and `increstore verify` (docs/design.md
# sections 1 and 5), driving the built binary only.
#
# usage: bash gen_verify.sh <increstore-binary> <source-dir>
#
# For several seeds and flag combinations (composite and string keys via --schema,
# several tables, several fulls, empty incrementals, zipf and sequential keys, partial
# updates, re-inserts, no-op erases, NULLs, hot keys written more than 64 times) it
# checks that:
#   - gen is deterministic: the same seed gives byte-identical segment files, another
#     seed gives different ones;
#   - restore exits 0 (it checks the expected state gen recorded at every barrier),
#     also with --upto;
#   - verify and verify --each exit 0 and say OK;
#   - restore with 1, 2 and 7 shards exports identical JSONL;
#   - verify reports a planted difference (--tamper) with exit 1;
#   - a corrupted segment byte makes restore and verify exit 3;
#   - usage errors exit 2 and --help lists every flag.
# Sizes are small: the whole script takes a few seconds (well under 60 s on 2 cores).
set -euo pipefail

BIN=$1
SRC=$2
T=$(mktemp -d "${TMPDIR:-/tmp}/irs_gen_test.XXXXXX")
trap 'rm -rf "$T"' EXIT
: "$SRC"

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
		tail -20 "$T/out" >&2
		echo "--- stderr:" >&2
		tail -20 "$T/err" >&2
		fail "exit $got, want $want: $*"
	fi
}

out_has() {
	local frag
	for frag in "$@"; do
		grep -qF -- "$frag" "$T/out" || { tail -20 "$T/out" >&2; fail "stdout lacks '$frag'"; }
	done
}

# The segment files of a collection in chain order (data/b<seq>-<random>/t<table>-<n>.seg;
# the zero-padded sequence number sorts first).
segments() {
	(cd "$1" && find data -name '*.seg' | sort)
}

# same_segments A B: both collections hold byte-identical segments, in the same order.
same_segments() {
	local a b
	mapfile -t a < <(segments "$1")
	mapfile -t b < <(segments "$2")
	[ "${#a[@]}" -gt 0 ] || fail "$1 has no segments"
	[ "${#a[@]}" = "${#b[@]}" ] || fail "$1 has ${#a[@]} segments, $2 has ${#b[@]}"
	local i
	for i in "${!a[@]}"; do
		[ "$(basename "${a[$i]}")" = "$(basename "${b[$i]}")" ] || fail "segment names differ: ${a[$i]} ${b[$i]}"
		cmp -s "$1/${a[$i]}" "$2/${b[$i]}" || return 1
	done
	return 0
}

# A schema with composite keys: string, int32, bool and bytes/timestamp key parts.
cat >"$T/schema.json" <<'EOF'
{"tables": [
  {"table": "orders",
   "columns": [{"name": "region", "type": "utf8"}, {"name": "oid", "type": "int32"},
               {"name": "open", "type": "bool"}, {"name": "amount", "type": "double"},
               {"name": "note", "type": "utf8"}, {"name": "payload", "type": "bytes"},
               {"name": "big", "type": "uint64"}, {"name": "at", "type": "timestamp"}],
   "primary_key": ["open", "region", "oid"]},
  {"table": "events",
   "columns": [{"name": "k", "type": "bytes"}, {"name": "ts", "type": "timestamp"},
               {"name": "v", "type": "int64"}, {"name": "u", "type": "uint32"}],
   "primary_key": ["k", "ts"]},
  {"table": "keys_only",
   "columns": [{"name": "d", "type": "double"}],
   "primary_key": ["d"]}
]}
EOF

CONFIGS=(
	"--rows 4000 --incrementals 6 --changes 900"
	"--rows 3000 --incrementals 8 --changes 600 --tables 3 --fulls 2 --empty-every 3 --keys zipf --reinserts 0.4 --noop-erases 0.3 --null-fraction 0.15"
	"--schema $T/schema.json --rows 3000 --incrementals 6 --changes 700 --keys sequential --partial 0.8 --partial-columns 2 --reinserts 0.5 --fulls 3"
	"--rows 1500 --incrementals 66 --changes 300 --keys zipf --zipf-theta 0.9 --partial 1 --types uint64,double,bytes,utf8,int32 --columns 7 --value-bytes 5 --null-fraction 0.3"
	"--rows 2000 --incrementals 5 --changes 2500 --updates 0.5 --erases 0.5 --partial 0 --value-bytes 0"
)

n=0
for cfg in "${CONFIGS[@]}"; do
	n=$((n + 1))
	# shellcheck disable=SC2086
	read -r -a args <<<"$cfg"
	for seed in 1 2; do
		D=$T/c$n-s$seed
		expect 0 "$BIN" gen "$D" "${args[@]}" --seed "$seed" -q
		out_has "generated $D"
		if [ "$seed" = 1 ]; then
			expect 0 "$BIN" gen "$D.again" "${args[@]}" --seed "$seed" -q
			same_segments "$D" "$D.again" || fail "config $n: the same seed gave different segments"
			rm -rf "$D.again"
		fi
		expect 0 "$BIN" inspect "$D" --verify-data
		expect 0 "$BIN" restore "$D" -q
		expect 0 "$BIN" verify "$D" -q
		out_has "verify: OK: " "rows identical through backup "
		expect 0 "$BIN" verify "$D" --each -q --shards 3
		out_has "verify: backup full-" "verify: OK: "
	done
	if same_segments "$T/c$n-s1" "$T/c$n-s2"; then
		fail "config $n: seeds 1 and 2 gave identical segments"
	fi

	# The result does not depend on the shard count.
	D=$T/c$n-s1
	for s in 1 2 7; do
		expect 0 "$BIN" restore "$D" -q --shards "$s" --out "$T/x$n-$s/"
	done
	diff -r "$T/x$n-1" "$T/x$n-2" >/dev/null || fail "config $n: 1 and 2 shards export differently"
	diff -r "$T/x$n-1" "$T/x$n-7" >/dev/null || fail "config $n: 1 and 7 shards export differently"
	[ -n "$(ls "$T/x$n-1")" ] || fail "config $n: no export written"
	rm -rf "$T/x$n-"*
done

# --upto: restore checks the expected state of an intermediate backup; verify there.
D=$T/c1-s1
expect 0 "$BIN" restore "$D" -q --upto inc-003 --shards 2
expect 0 "$BIN" verify "$D" -q --upto inc-003
out_has "verify: OK: 1 table, " "through backup inc-003"
# Several fulls: restoring up to a later full starts there.
expect 0 "$BIN" verify "$T/c3-s1" -q --each --upto full-003
out_has "through backup full-003"

# Single-table exports are identical across shard counts for the exact --out .jsonl form.
for s in 1 2 7; do
	expect 0 "$BIN" restore "$D" -q --shards "$s" --out "$T/one-$s.jsonl"
done
cmp -s "$T/one-1.jsonl" "$T/one-2.jsonl" || fail "one-table export differs between 1 and 2 shards"
cmp -s "$T/one-1.jsonl" "$T/one-7.jsonl" || fail "one-table export differs between 1 and 7 shards"
[ "$(wc -l <"$T/one-1.jsonl")" -gt 4000 ] || fail "export has too few rows"

# verify must catch a planted difference in its SQLite copy.
for kind in update delete insert; do
	expect 1 "$BIN" verify "$D" -q --tamper "$kind"
	out_has "verify: DIFFERENCE after backup inc-006 in table t at key {\"id\": " "  engine: " "  sqlite: "
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "verify --tamper $kind: stderr is not one line"
done
expect 1 "$BIN" verify "$T/c3-s1" -q --each --tamper insert
out_has "verify: DIFFERENCE"
# ... in the first table that has a row (an empty first table changed nothing, and the
# self-test passed); with every table empty there is nothing to plant: exit 2
cat >"$T/ef.json" <<'JSON'
{"tables": [{"table": "e", "columns": [{"name": "id", "type": "int32"}], "primary_key": ["id"]},
            {"table": "f", "columns": [{"name": "id", "type": "int32"}, {"name": "v", "type": "utf8"}],
             "primary_key": ["id"]}]}
JSON
printf '{"id": 1, "v": "a"}\n{"id": 2, "v": "b"}\n{"id": 3, "v": "c"}\n' >"$T/f.jsonl"
printf '{"op": "erase", "key": {"id": %d}}\n' 1 2 3 >"$T/f-gone.jsonl"
expect 0 "$BIN" create "$T/ef" --schema "$T/ef.json"
expect 0 "$BIN" add "$T/ef" --full "f=$T/f.jsonl" --name full
expect 0 "$BIN" add "$T/ef" --incremental "f=$T/f-gone.jsonl" --name gone
for kind in update delete insert; do
	expect 1 "$BIN" verify "$T/ef" -q --upto full --tamper "$kind"
	out_has "verify: DIFFERENCE after backup full in table f at key {\"id\": "
done
expect 2 "$BIN" verify "$T/ef" -q --tamper delete
grep -q "every table is empty, so there is no row to change" "$T/err" || fail "verify --tamper, all empty: $(cat "$T/err")"

# Corruption: one flipped byte in a segment (inside a frame: CRC mismatch) -> exit 3.
flip_byte() {
	local f=$1 off=$2
	local b
	b=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 0xff)))" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}
for which in 2 1; do # an incremental's segment, then the full's
	C=$T/corrupt$which
	cp -r "$D" "$C"
	seg=$C/$(segments "$C" | sed -n "${which}p")
	size=$(stat -c %s "$seg")
	flip_byte "$seg" $((size / 2))
	expect 3 "$BIN" restore "$C" -q
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "restore of a corrupt collection: stderr is not one line"
	expect 3 "$BIN" verify "$C" -q
	expect 3 "$BIN" verify "$C" -q --each
done

# Usage errors and help.
expect 2 "$BIN" gen "$T/u1" --incrementals 1 --changes 1
expect 2 "$BIN" gen "$T/u2" --rows 10 --incrementals 1 --changes 1 --keys random
expect 2 "$BIN" gen "$T/u3" --rows 10 --incrementals 1 --changes 1 --updates 0.5 --inserts 0.3 --erases 0.3
expect 2 "$BIN" gen "$T/u4" --rows 10 --incrementals 1 --changes 1 --null-fraction 1.5
expect 2 "$BIN" gen "$T/u5" --rows 10 --incrementals 1 --changes 1 --schema "$T/schema.json" --columns 3
expect 2 "$BIN" verify "$D" --upto no-such-backup
expect 2 "$BIN" verify
expect 4 "$BIN" gen "$D" --rows 10 --incrementals 1 --changes 1 -q   # a collection is there
expect 0 "$BIN" gen --help
for flag in --rows --incrementals --changes --seed --updates --inserts --erases --partial \
	--partial-columns --keys --zipf-theta --value-bytes --columns --types --schema --tables \
	--fulls --empty-every --null-fraction --reinserts --noop-erases --batch-rows \
	--writer-memory --quiet "same flags and seed give byte-identical segment files"; do
	out_has "$flag"
done
expect 0 "$BIN" verify --help
for flag in --upto --each --shards --quiet --tamper "100x slower" "both copies"; do
	out_has "$flag"
done

echo "gen_verify: OK"
