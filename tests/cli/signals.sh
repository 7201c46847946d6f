#!/usr/bin/env bash
# SIGINT/SIGTERM in the phases after the restore itself (tests/cli/cancel_limit.sh
# covers the restore): while exporting each kind of --out, while writing a checkpoint,
# `add -` waiting on an idle standard input or a FIFO without a writer, and `add` and
# `gen` while they commit; and every long command signalled at start-up.
#   bash signals.sh <increstore-binary> <source-dir>
#
# Every round must cancel: exit 5, exactly one line ("cancelled while writing OUT; it
# was left as it was"), no temporary file or directory left, and the output that was
# there before byte for byte the same (a new collection: not created). Also with two
# signals in a row (the second must not end the process half way).
#
# To signal while an export runs, the test build's export sleeps a little every 1024
# rows (IRS_FAULT_SLOW_EXPORT_US; `increstore --version` says "test hooks"); without
# the hooks the script reports itself skipped (exit 77).
set -euo pipefail
BIN=$1
"$BIN" --version | grep -q '^test hooks' || { echo "skipped: $BIN has no test hooks"; exit 77; }
. "$(dirname "$0")/lib.sh"
rounds=0
SECONDS=0

C=$W/c
"$BIN" gen "$C" --rows 60000 --incrementals 2 --changes 500 --tables 2 --seed 3 -q >/dev/null
export IRS_FAULT_SLOW_EXPORT_US=20000   # 30 pauses of 20 ms per table: the export lasts 0.6 s

# waits (up to 60 s) until the command succeeds; 1 when process pid ended first
wait_until() { # pid command...
  local pid=$1 i; shift
  for i in $(seq 6000); do
    if "$@"; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.01
  done
  return 1
}
# a file matching the pattern exists under dir (two levels at most)
has_file() { find "$1" -maxdepth 2 -name "$2" 2>/dev/null | grep -q .; }
wait_for() { wait_until "$3" has_file "$1" "$2"; } # dir pattern pid
# the paths of the glob pattern exist
exist() { compgen -G "$1" >/dev/null; }

# leftovers of an export: temporaries of the library (.tmp-PID) and of DIR/ (.part-PID)
leftovers() { find "$W" -name '*.tmp-*' -o -name '*.part-*' | grep -v '^$' || true; }

export_round() { # kind out signals... ; the old output is in $W/before (or none)
  local kind=$1 out=$2; shift 2
  local sigs="$*"
  rounds=$((rounds + 1))
  "$BIN" restore "$C" --quiet --shards 2 --table t1 --out "$out" 2>"$W/err" &
  local pid=$!
  if ! wait_for "$W" '*.tmp-*' $pid && ! wait_for "$W" '*.part-*' $pid; then
    set +e; wait $pid; local rc0=$?; set -e
    bad "$kind ($sigs): the export never started (exit $rc0): $(cat "$W/err")"; return
  fi
  for s in $sigs; do kill -s "$s" $pid 2>/dev/null || true; sleep 0.05; done
  set +e; wait $pid; local rc=$?; set -e
  local n; n=$(grep -c . "$W/err" || true)
  local left; left=$(leftovers)
  if [ $rc != 5 ] || [ "$n" != 1 ] || ! grep -q "^increstore: cancelled while writing .*; it was left as it was$" "$W/err"; then
    bad "$kind ($sigs): exit $rc, $n lines: $(cat "$W/err")"
  elif [ -n "$left" ]; then
    bad "$kind ($sigs): left behind: $left"
  elif [ -e "$W/before" ] && ! diff -r "$W/before" "$out" >/dev/null; then
    bad "$kind ($sigs): the old output changed"
  elif [ ! -e "$W/before" ] && [ -e "$out" ]; then
    bad "$kind ($sigs): $out was created"
  else
    ok "$kind ($sigs): exit 5, one line, nothing left behind, the old output intact"
  fi
}

# every kind with one signal and with two; TERM alone and INT twice for JSONL only
for sigs in INT "TERM INT"; do
  for ext in jsonl csv sqlite; do
    rm -rf "$W/before" "$W/out.$ext"
    printf 'the old %s output\n' "$ext" > "$W/out.$ext"
    cp "$W/out.$ext" "$W/before"
    export_round "$ext" "$W/out.$ext" $sigs
  done
  rm -rf "$W/before" "$W/outdir"
  mkdir -p "$W/outdir" && echo '{"old": 1}' > "$W/outdir/t1.jsonl"
  cp -r "$W/outdir" "$W/before"
  export_round "DIR/" "$W/outdir/" $sigs
  rm -rf "$W/before" "$W/newdir"
  export_round "DIR/ (new)" "$W/newdir/" $sigs
  rm -rf "$W/before" "$W/compacted"
  export_round "compacted collection" "$W/compacted" $sigs
done
for sigs in TERM "INT INT"; do
  rm -rf "$W/before" "$W/out.jsonl"
  export_round "jsonl" "$W/out.jsonl" $sigs
done

# a compacted collection signalled in the writer's commit (its longest step), not in
# the scan before it: the commit sleeps after each frame, the scan does not
rounds=$((rounds + 1))
rm -rf "$W/compacted"
IRS_FAULT_SLOW_EXPORT_US=0 IRS_FAULT_SLOW_COMMIT_US=50000 "$BIN" restore "$C" --quiet --shards 2 \
  --out "$W/compacted" 2>"$W/err" &
pid=$!
started=0
wait_until $pid exist "$W/compacted.tmp-*/data/b*" && started=1
kill -INT $pid 2>/dev/null || true
set +e; wait $pid; rc=$?; set -e
if [ $started = 1 ] && [ $rc = 5 ] &&
   [ "$(cat "$W/err")" = "increstore: cancelled while writing $W/compacted; it was left as it was" ] &&
   [ ! -e "$W/compacted" ] && [ -z "$(leftovers)" ]; then
  ok "compacted collection signalled in its commit: exit 5, nothing made"
else
  bad "compacted collection signalled in its commit: commit started $started, exit $rc: $(cat "$W/err"); left: $(leftovers) $(ls -d "$W/compacted" 2>/dev/null || true)"
fi

# a signal while a checkpoint is written: the partial checkpoint goes, CURRENT stays
CK=$W/ck
"$BIN" restore "$C" --quiet --upto inc-001 --checkpoint "$CK" --checkpoint-seconds 0
cur0=$(cat "$CK/CURRENT" 2>/dev/null || echo none)
rounds=$((rounds + 1))
"$BIN" restore "$C" --quiet --checkpoint-restart --checkpoint "$CK" --checkpoint-seconds 0 2>"$W/err" &
pid=$!
if wait_for "$CK" 'ckpt-*.tmp-*' $pid; then
  kill -INT $pid; sleep 0.05; kill -TERM $pid 2>/dev/null || true
fi
set +e; wait $pid; rc=$?; set -e
left=$(find "$CK" -name '*.tmp-*' | grep -v '^$' || true)
nck=$(ls "$CK" | grep -c '^ckpt-' || true)
if [ $rc = 5 ] && [ "$(grep -c . "$W/err")" = 1 ] &&
   grep -q "cancelled while writing $CK/ckpt-.*; the tables are as restored through backup full-000$" "$W/err" &&
   [ -z "$left" ] && [ "$nck" = 0 ] && [ ! -e "$CK/CURRENT" ]; then
  ok "checkpoint write: exit 5, one line, no partial checkpoint (previous CURRENT $cur0 discarded by --checkpoint-restart)"
else
  bad "checkpoint write: exit $rc, $(cat "$W/err"), left: $left, $nck ckpt entries, $(ls "$CK")"
fi

# `add` waiting for input that does not come, signalled (SIGINT, then SIGTERM): exit 5 at
# once, one line holding `want`, no backup NAME
# signals pid (a command left waiting for 0.3 s) with sig; sets rc to its exit code, or
# reports the label failed and returns 1 when it still runs 5 s later
signal_waiting() { # pid sig label
  local pid=$1 sig=$2 label=$3
  sleep 0.3
  kill -s "$sig" "$pid" || true
  for _ in $(seq 500); do kill -0 "$pid" 2>/dev/null || break; sleep 0.01; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid"; wait "$pid" 2>/dev/null || true
    bad "$label (SIG$sig): still waiting for input 5 s after the signal"
    return 1
  fi
  set +e; wait "$pid"; rc=$?; set -e
}
idle_add() { # label stdin want NAME add-args...
  local label=$1 in=$2 want=$3 name=$4; shift 4
  for sig in INT TERM; do
    rounds=$((rounds + 1))
    "$BIN" add "$C" "$@" --name "$name" 2>"$W/err" <"$in" &
    signal_waiting $! $sig "$label" || continue
    if [ $rc = 5 ] && [ "$(grep -c . "$W/err")" = 1 ] && grep -qF "$want" "$W/err" &&
       ! "$BIN" inspect "$C" | grep -q " $name "; then
      ok "$label (SIG$sig): exit 5 at once: $(cat "$W/err")"
    else
      bad "$label (SIG$sig): exit $rc: $(cat "$W/err")"
    fi
  done
}

# `add -` on an idle standard input (a FIFO held open that nobody writes to)
mkfifo "$W/fifo"
exec 8<>"$W/fifo"   # held open for writing: the input never ends by itself
idle_add "add -" "$W/fifo" "no backup was added: <stdin>: cancelled while waiting for input" idle \
  --incremental t1=-
exec 8>&-
# `add FIFO` that no writer ever opens: its open must not block (a signal there ended
# the process, exit 130/143 without a message)
mkfifo "$W/nowriter"
idle_add "add FIFO without a writer" /dev/null \
  "no backup was added: $W/nowriter: cancelled while waiting for input" nowriter \
  --incremental "t1=$W/nowriter"
# `gen --schema FIFO` that no writer opens (the handlers are installed before the schema
# is read, and read() restarts after them: it waited on, through SIGINT and SIGTERM)
for sig in INT TERM; do
  rounds=$((rounds + 1))
  "$BIN" gen "$W/gfifo" --schema "$W/nowriter" --rows 10 --incrementals 1 --changes 1 2>"$W/err" &
  signal_waiting $! $sig "gen --schema FIFO" || continue
  if [ $rc = 5 ] && [ "$(cat "$W/err")" = "increstore: $W/nowriter: cancelled while waiting for input" ] &&
     [ ! -e "$W/gfifo" ]; then
    ok "gen --schema FIFO without a writer (SIG$sig): exit 5 at once, no collection"
  else
    bad "gen --schema FIFO without a writer (SIG$sig): exit $rc: $(cat "$W/err")"
  fi
done

# `add` signalled while it commits (after reading its input): the commit stops, the
# collection stays as it was (the MANIFEST byte for byte, no new data, no tmp-*).
# The test build's commit sleeps after each frame (IRS_FAULT_SLOW_COMMIT_US).
python3 -c 'import json
for i in range(40000): print(json.dumps({"op": "upsert", "row": {"id": i, "c1_int64": -i}}))' >"$W/changes.jsonl"
cp "$C/MANIFEST" "$W/MANIFEST.before"
ls "$C/data" >"$W/data.before"
new_data() { ls "$C/data" | grep -vxF -f "$W/data.before" | grep -q .; }
for sig in INT TERM; do
  rounds=$((rounds + 1))
  IRS_FAULT_SLOW_COMMIT_US=50000 "$BIN" add "$C" --incremental t1="$W/changes.jsonl" --name late \
    2>"$W/err" >/dev/null &
  pid=$!
  started=0   # once the commit made the new backup's data directory
  wait_until $pid new_data && started=1
  kill -s $sig $pid 2>/dev/null || true
  set +e; wait $pid; rc=$?; set -e
  left=$(ls "$C" | grep '^tmp-' || true; ls "$C/data" | grep -vxF -f "$W/data.before" || true)
  if [ $started = 1 ] && [ $rc = 5 ] && [ "$(grep -c . "$W/err")" = 1 ] &&
     grep -q "^increstore: $C: backup late: cancelled before its commit; the collection was left as it was$" "$W/err" &&
     cmp -s "$C/MANIFEST" "$W/MANIFEST.before" && [ -z "$left" ]; then
    ok "add while committing (SIG$sig): exit 5, nothing added: $(cat "$W/err")"
  else
    bad "add while committing (SIG$sig): commit started $started, exit $rc: $(cat "$W/err"); left: $left"
  fi
done

# `gen` signalled while it commits its first backup leaves no collection (the next gen
# to DIR must work); signalled in its second, it keeps the first
for at in 1 2; do
  rounds=$((rounds + 1))
  G=$W/g$at
  IRS_FAULT_SLOW_COMMIT_US=50000 "$BIN" gen "$G" --rows 20000 --incrementals 1 --changes 20000 \
    --batch-rows 1000 -q 2>"$W/err" >/dev/null &
  pid=$!
  started=0
  wait_until $pid exist "$G/data/b00000$at-*" && started=1
  kill -s INT $pid 2>/dev/null || true
  set +e; wait $pid; rc=$?; set -e
  if [ $at = 1 ]; then
    state=$(ls -A "$G" 2>/dev/null || echo gone)
    want=gone
  else
    state=$("$BIN" inspect "$G" | awk '$2 == "full" || $2 == "incremental" {print $3}' | tr '\n' ' ')
    want="full-000 "
  fi
  if [ $started = 1 ] && [ $rc = 5 ] && [ "$(cat "$W/err")" = "increstore: gen: cancelled" ] &&
     [ "$state" = "$want" ]; then
    ok "gen signalled in the commit of backup $at: exit 5, left: $state"
  else
    bad "gen signalled in the commit of backup $at: commit started $started, exit $rc: $(cat "$W/err"); left: $state (want $want)"
  fi
done

# `gen` signalled while its writer spills buffered changes (a small --writer-memory; the
# test build's spill sleeps once it has sorted them): the spill stops, and the message
# is gen's own, not the writer's naming the backup twice
for i in 1 2; do
  rounds=$((rounds + 1))
  G=$W/gs$i
  IRS_FAULT_SLOW_COMMIT_US=50000 "$BIN" gen "$G" --rows 200000 --incrementals 0 --changes 0 \
    --writer-memory 256K -q 2>"$W/err" >/dev/null &
  pid=$!
  started=0   # once the first spill made the writer's temporary directory
  wait_until $pid exist "$G/tmp-*" && started=1
  kill -s INT $pid 2>/dev/null || true
  set +e; wait $pid; rc=$?; set -e
  state=$(ls -A "$G" 2>/dev/null || echo gone)
  if [ $started = 1 ] && [ $rc = 5 ] && [ "$(cat "$W/err")" = "increstore: gen: cancelled" ] &&
     [ "$state" = gone ]; then
    ok "gen signalled while spilling: exit 5, no collection left"
  else
    bad "gen signalled while spilling: spill started $started, exit $rc: $(cat "$W/err"); left: $state"
  fi
done

# a signal before the command has done anything (IRS_FAULT_SIGNAL_AT_START: main()
# raises SIGINT right after installing the handlers): every command that can run long
# cancels (exit 5, one line) and leaves what it would have written as it was
startup_round() { # label expected-line command...
  local label=$1 want=$2; shift 2
  rounds=$((rounds + 1))
  local before; before=$(cd "$W" && find . -path ./err -prune -o -print | sort; cat "$C/MANIFEST" | cksum)
  set +e; IRS_FAULT_SIGNAL_AT_START=1 "$BIN" "$@" >/dev/null 2>"$W/err" </dev/null; local rc=$?; set -e
  local after; after=$(cd "$W" && find . -path ./err -prune -o -print | sort; cat "$C/MANIFEST" | cksum)
  if [ $rc != 5 ] || [ "$(grep -c . "$W/err")" != 1 ] || ! grep -q -- "$want" "$W/err"; then
    bad "$label signalled at start-up: exit $rc, expected 5 and '$want': $(cat "$W/err")"
  elif [ "$before" != "$after" ]; then
    bad "$label signalled at start-up: files changed: $(diff <(echo "$before") <(echo "$after") || true)"
  else
    ok "$label signalled at start-up: exit 5, nothing written"
  fi
}
rm -rf "$W/before" "$W"/out.* "$W/outdir" "$W/newdir" "$W/compacted" "$W"/gs*
printf '{"op": "erase", "key": {"id": 1}}\n' > "$W/changes.jsonl"
startup_round restore "cancelled before backup full-000; the tables are empty$" \
  restore "$C" --table t1 --out "$W/out.jsonl"
startup_round verify "cancelled before backup full-000; the tables are empty$" verify "$C"
startup_round diff "cancelled before comparing backup full-000 with inc-002$" \
  diff "$C" --from full-000 --table t1 --out "$W/diff.jsonl"
startup_round "diff of a backup with itself" "cancelled before comparing backup inc-001 with inc-001$" \
  diff "$C" --from inc-001 --to inc-001 --table t1 --out "$W/diff.jsonl"
startup_round gen "^increstore: gen: cancelled$" gen "$W/g" --rows 10 --incrementals 1 --changes 5
startup_round "add FILE" "no backup was added: .*changes.jsonl:1: cancelled$" \
  add "$C" --incremental "t1=$W/changes.jsonl"
startup_round import-ydb "cancelled: no collection was created$" import-ydb "$W" "$W/y"

echo "($rounds rounds, $SECONDS s)"
if [ $fails -ne 0 ]; then echo "$fails failure(s)"; exit 1; fi
echo "all ok"
