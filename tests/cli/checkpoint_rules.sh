#!/usr/bin/env bash
# restore --checkpoint DIR: whose files a restore may remove, one restore per DIR, DIR
# checked before anything is restored, and a damaged checkpoint.
#   bash checkpoint_rules.sh <increstore-binary> <source-dir>
#
#   ownership   DIR also holds the user's files (ckpt-mine/, notes.txt) and another
#               collection's recorded checkpoint: after restores that write and replace
#               checkpoints, all of them are still there, and of this collection's
#               only the current one is left.
#   lock        while another process holds DIR's lock, a restore exits 4 at once
#               ("in use by another restore"); two real restores on one DIR: one of them
#               is refused, the other finishes with the right result.
#   up front    DIR a regular file, DIR below a file, DIR where nothing can be created
#               (/proc/self): exit 4 with one line, before any backup is restored.
#   damaged     a RESTORE_STATE with a bad CRC and a checkpoint with a damaged segment:
#               exit 3, one line naming the checkpoint ("checkpoint of backup NAME" for
#               its data) and how to start over; --checkpoint-restart then restores from
#               the beginning to the right result, the user's files untouched.
#   resumed     a restore that failed at inc-004 (a damaged segment, then repaired)
#               resumes from its checkpoint of inc-003: progress counts on from 4/9
#               with the chain's changes, and the summary and --stats-json count the
#               checkpoint as one, not as 3000-odd changes of inc-003.
set -euo pipefail
BIN=$1
. "$(dirname "$0")/lib.sh"
expect() { # name want_rc substring...
  local name=$1 want=$2; shift 2
  if [ "$rc" != "$want" ] || [ "$nlines" != 1 ]; then bad "$name: exit $rc (want $want), $nlines lines: $err"; return; fi
  for s in "$@"; do
    case $err in *"$s"*) ;; *) bad "$name: the line lacks '$s': $err"; return ;; esac
  done
  ok "$name: exit $rc: $err"
}

C=$W/c
"$BIN" gen "$C" --rows 3000 --incrementals 8 --changes 300 --seed 5 -q >/dev/null
ref=$("$BIN" restore "$C" --shards 2 2>/dev/null | grep '^  table')
ID=$("$BIN" inspect "$C" | sed -n 's/^id: //p')

# ---- ownership
D=$W/ck
mkdir -p "$D/ckpt-mine" "$D/ckpt-000002-foreign"
echo "the user's" > "$D/ckpt-mine/keep.txt"
echo "notes" > "$D/notes.txt"
echo "x" > "$D/ckpt-000002-foreign/data"
echo "ckpt-000002-foreign 00000000000000000000000000000000" > "$D/CHECKPOINTS"
run "$BIN" restore "$C" --quiet --upto inc-004 --checkpoint "$D" --checkpoint-seconds 0
[ "$rc" = 0 ] || bad "ownership: first restore exit $rc: $err"
run "$BIN" restore "$C" --quiet --upto inc-006 --checkpoint "$W/ck2" --checkpoint-seconds 0
for f in ckpt-mine/keep.txt notes.txt ckpt-000002-foreign/data; do
  [ -f "$D/$f" ] || bad "ownership: $D/$f was removed"
done
ours=$(grep -c " $ID\$" "$D/CHECKPOINTS" || true)
left=$(ls "$D" | grep -c '^ckpt-0' || true)
cur=$(cat "$D/CURRENT")
if [ "$ours" = 1 ] && [ "$left" = 2 ] && [ -d "$D/$cur" ] && grep -q "^$cur $ID\$" "$D/CHECKPOINTS" &&
   grep -q "^ckpt-000002-foreign 0000" "$D/CHECKPOINTS"; then
  ok "ownership: the user's files and another collection's checkpoint stay; one of ours ($cur)"
else
  bad "ownership: $ours recorded, $left ckpt-0* entries, CURRENT $cur: $(ls "$D"); $(cat "$D/CHECKPOINTS")"
fi

# ---- lock
L=$W/locked
mkdir "$L"
exec 9<"$L"          # this shell holds DIR's lock through fd 9
flock -n 9
run "$BIN" restore "$C" --quiet --checkpoint "$L"
expect "lock held by another process" 4 "checkpoint $L is in use by another restore"
exec 9<&-
# two real restores on one DIR: started together, one of them is refused at once
L2=$W/two
"$BIN" restore "$C" --shards 2 --checkpoint "$L2" --checkpoint-seconds 0 >"$W/a.out" 2>"$W/a.err" &
pa=$!
"$BIN" restore "$C" --shards 2 --checkpoint "$L2" --checkpoint-seconds 0 >"$W/b.out" 2>"$W/b.err" &
pb=$!
set +e; wait $pa; ra=$?; wait $pb; rb=$?; set -e
refused=0 done_ok=0
for x in "a $ra" "b $rb"; do
  set -- $x
  if [ "$2" = 4 ] && grep -q "is in use by another restore" "$W/$1.err"; then refused=$((refused+1)); fi
  if [ "$2" = 0 ] && [ "$(grep '^  table' "$W/$1.out")" = "$ref" ]; then done_ok=$((done_ok+1)); fi
done
# both may finish when one ends before the other starts; never an internal error
if [ $((refused + done_ok)) = 2 ] && [ $done_ok -ge 1 ]; then
  ok "two restores on one DIR: $done_ok finished with the right tables, $refused refused"
else
  bad "two restores on one DIR: exits $ra/$rb: $(cat "$W/a.err" "$W/b.err")"
fi

# ---- checked before anything is restored (no progress line: one line only)
touch "$W/afile"
run "$BIN" restore "$C" --checkpoint "$W/afile"
expect "DIR is a file" 4 "checkpoint $W/afile: cannot open the directory: Not a directory"
run "$BIN" restore "$C" --checkpoint "$W/afile/sub"
expect "DIR below a file" 4 "checkpoint $W/afile/sub: cannot create the directory"
run "$BIN" restore "$C" --checkpoint /proc/self
expect "DIR where nothing can be created" 4 "checkpoint /proc/self is not writable"
if [ "$(id -u)" != 0 ]; then
  mkdir "$W/ro" && chmod 0555 "$W/ro"
  run "$BIN" restore "$C" --checkpoint "$W/ro"
  expect "read-only DIR" 4 "checkpoint $W/ro is not writable: Permission denied"
fi

# ---- damaged checkpoints
# a restore that fails in the last backup leaves the checkpoint of inc-007 behind
last=$(ls -d "$C"/data/b000009-*)
seg=$(ls "$last"/*.seg | head -1)
cp "$seg" "$W/seg.orig"
printf '\377' | dd of="$seg" bs=1 seek=40 conv=notrunc 2>/dev/null
K=$W/damaged
run "$BIN" restore "$C" --quiet --checkpoint "$K" --checkpoint-seconds 0
[ "$rc" = 3 ] || bad "setup: the damaged last backup exits $rc: $err"
cp "$W/seg.orig" "$seg"
cur=$(cat "$K/CURRENT")
cp "$K/$cur/RESTORE_STATE" "$W/state.orig"
printf '\377' | dd of="$K/$cur/RESTORE_STATE" bs=1 seek=25 conv=notrunc 2>/dev/null
run "$BIN" restore "$C" --quiet --checkpoint "$K"
expect "RESTORE_STATE damaged" 3 "checkpoint $K/$cur/RESTORE_STATE: CRC32C mismatch at byte 16" \
  "to start over, remove $K/CURRENT or rerun with --checkpoint-restart"
cp "$W/state.orig" "$K/$cur/RESTORE_STATE"
cseg=$(ls "$K/$cur"/data/*/*.seg | head -1)
printf '\377' | dd of="$cseg" bs=1 seek=40 conv=notrunc 2>/dev/null
run "$BIN" restore "$C" --quiet --checkpoint "$K"
expect "checkpoint data damaged" 3 "checkpoint of backup inc-007 ($K/$cur): segment data/" \
  "to start over, remove $K/CURRENT or rerun with --checkpoint-restart"
mkdir "$K/ckpt-mine" && echo mine > "$K/ckpt-mine/f"
run "$BIN" restore "$C" --shards 2 --checkpoint "$K" --checkpoint-restart
if [ "$rc" = 0 ] && [ "$(grep '^  table' "$W/out")" = "$ref" ] && ! grep -q "resumed" "$W/err" &&
   [ -f "$K/ckpt-mine/f" ]; then
  ok "--checkpoint-restart: restored from the beginning, the right tables, the user's files kept"
else
  bad "--checkpoint-restart: exit $rc: $(cat "$W/out" "$W/err")"
fi
run "$BIN" restore "$C" --quiet --checkpoint-restart
expect "--checkpoint-restart without --checkpoint" 2 "--checkpoint-restart needs --checkpoint DIR"
for o in "--checkpoint-every 2" "--checkpoint-seconds 5"; do
  run "$BIN" restore "$C" --quiet $o
  expect "$o without --checkpoint (was ignored)" 2 "${o% *} needs --checkpoint DIR"
done

# ---- what a killed write leaves: a recorded checkpoint written as NAME.tmp-PID (the
# write renames it to NAME when complete) goes with the next prune, the user's own
# *.tmp-* entries stay; a failing restore removes the DIR it made, and only that
P=$W/killed
run "$BIN" restore "$C" --quiet --upto inc-002 --checkpoint "$P" --checkpoint-seconds 0
echo "ckpt-000009-0000000000000 $ID" >> "$P/CHECKPOINTS"
mkdir -p "$P/ckpt-000009-0000000000000.tmp-4242/data" "$P/ckpt-mine.tmp-1"
run "$BIN" restore "$C" --quiet --upto inc-002 --checkpoint "$P" --checkpoint-restart --checkpoint-seconds 0
if [ "$rc" = 0 ] && [ ! -e "$P/ckpt-000009-0000000000000.tmp-4242" ] && [ -d "$P/ckpt-mine.tmp-1" ] &&
   ! grep -q "ckpt-000009" "$P/CHECKPOINTS"; then
  ok "a killed write's temporary goes, the user's stays"
else
  bad "killed write: exit $rc $err: $(ls "$P"); $(cat "$P/CHECKPOINTS")"
fi
run "$BIN" restore "$C" --quiet --memory-limit 1000 --checkpoint "$W/newck"
if [ "$rc" = 4 ] && [ ! -e "$W/newck" ]; then ok "a failed restore leaves no checkpoint directory it made"
else bad "failed restore: exit $rc, $(ls -d "$W/newck" 2>&1)"; fi
run "$BIN" restore "$C" --quiet --memory-limit 1000 --checkpoint "$P"
[ "$rc" = 4 ] && [ -d "$P" ] && ok "... and keeps one it did not make" || bad "failed restore removed $P"

# ---- resumed: what progress, the summary and the statistics say
R=$W/resume
seg=$(ls "$C"/data/b000005-*/*.seg)
cp "$seg" "$W/seg.orig"
python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 0xFF; open(p, "wb").write(b)' "$seg"
run "$BIN" restore "$C" --quiet --shards 2 --checkpoint "$R" --checkpoint-seconds 0
expect "a restore failing at inc-004 with checkpoints" 3 "backup inc-004" "through backup inc-003"
cp "$W/seg.orig" "$seg"
set +e
# (a test build applies slowly here, so that progress reports come while the checkpoint
# loads: they must not print its backup as restored before it is)
IRS_FAULT_SLOW_APPLY_US=150000 \
  "$BIN" restore "$C" --shards 2 --checkpoint "$R" --stats-json "$W/resume.json" >"$W/resume.out" 2>"$W/resume.err"
rc=$?
set -e
progress=$(grep '^restored backup' "$W/resume.err" | sed 's/, [0-9.]* MB\/s$//' | paste -sd'|')
# as an uninterrupted restore counts them, from inc-003 on
want=$("$BIN" restore "$C" --shards 2 2>&1 >/dev/null | grep '^restored backup' | sed 's/, [0-9.]* MB\/s$//' |
	sed -n '/inc-003/,$p' | paste -sd'|')
case $want in "restored backup 4/9 inc-003: 3900 changes so far|"*"|restored backup 9/9 inc-008: 5400 changes so far") ;;
  *) bad "an uninterrupted restore's progress: $want" ;; esac
[ "$rc" = 0 ] && [ "$progress" = "$want" ] && ok "resumed: progress counts on from 4/9 with the chain's changes" ||
  bad "resumed: exit $rc, progress: $progress"
grep -q "^restored $C through inc-008: the checkpoint through inc-003 + 5 incrementals, 1500 changes, " "$W/resume.out" &&
  [ "$(grep '^  table' "$W/resume.out")" = "$ref" ] && ok "resumed: the summary counts the checkpoint as one" ||
  bad "resumed: summary $(cat "$W/resume.out")"
stats=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(d["resumed_from"], d["totals"]["changes"], *[b["name"] + ":" + b["kind"] for b in d["backups"]])' "$W/resume.json")
want="inc-003 1500 inc-003:checkpoint inc-004:incremental inc-005:incremental inc-006:incremental inc-007:incremental inc-008:incremental"
[ "$stats" = "$want" ] && ok "resumed: --stats-json says resumed_from and a checkpoint entry" || bad "resumed: stats $stats"

if [ $fails -ne 0 ]; then echo "$fails failure(s)"; exit 1; fi
echo "all ok"
