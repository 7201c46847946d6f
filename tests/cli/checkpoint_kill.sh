#!/usr/bin/env bash
# Resume after a crash: restore with --checkpoint, SIGKILL it at random moments (also
# while a checkpoint is being written), rerun with the same checkpoint directory until
# it finishes, and prove the result identical, row by row and by digest, to a restore
# that was never interrupted. Also: a checkpoint of another collection or target is
# refused with exit 2.
#   bash checkpoint_kill.sh <increstore-binary> <source-dir>
set -euo pipefail
BIN=$1
. "$(dirname "$0")/lib.sh"
"$BIN" gen "$W/c" --rows 8000 --incrementals 40 --changes 600 --seed 7 -q
"$BIN" restore "$W/c" --quiet --shards 3 --out "$W/ref.jsonl"
ref_digest=$("$BIN" restore "$W/c" --shards 3 2>/dev/null | sed -n 's/.*digest \([0-9a-f]*\).*/\1/p')
# How long an uninterrupted checkpointing restore takes here (sanitizer builds are far
# slower): the kills below land between 10% and 90% of it.
t0=$(date +%s%N)
"$BIN" restore "$W/c" --quiet --shards 3 --checkpoint "$W/ck0" --checkpoint-seconds 0
span_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
RANDOM=42
resumed=0
ROUNDS=10
for i in $(seq 1 $ROUNDS); do
  ck=$W/ck$i
  "$BIN" restore "$W/c" --quiet --shards 3 --checkpoint "$ck" --checkpoint-seconds 0 --out "$W/o$i.jsonl" &
  pid=$!
  ms=$(( span_ms / 10 + RANDOM % (span_ms * 8 / 10 + 1) ))
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # rerun (possibly killed again once more) until it completes
  for attempt in 1 2 3; do
    if [ "$attempt" = 1 ] && [ $((i % 3)) = 0 ]; then
      "$BIN" restore "$W/c" --quiet --shards 2 --checkpoint "$ck" --checkpoint-seconds 0 --out "$W/o$i.jsonl" &
      pid=$!; sleep "$(printf '%d.%03d' $((span_ms / 4000)) $((span_ms / 4 % 1000)))"
      kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
      continue
    fi
    "$BIN" restore "$W/c" --shards 2 --checkpoint "$ck" --checkpoint-seconds 0 \
      --out "$W/o$i.jsonl" > "$W/out$i" 2> "$W/err$i" && break
  done
  cmp -s "$W/ref.jsonl" "$W/o$i.jsonl" || { echo "FAIL run $i: result differs"; cat "$W/err$i"; exit 1; }
  grep -q "digest $ref_digest" "$W/out$i" || { echo "FAIL run $i: digest differs"; cat "$W/out$i"; exit 1; }
  grep -q "resumed from checkpoint" "$W/err$i" && resumed=$((resumed + 1))
done
echo "ok   $ROUNDS killed restores finished identical ($resumed resumed from a checkpoint; run span ${span_ms} ms)"
[ "$resumed" -ge 3 ] || { echo "FAIL: too few runs resumed ($resumed)"; exit 1; }

# refusals: another target, another collection
"$BIN" restore "$W/c" --quiet --upto inc-020 --checkpoint "$W/ckx" --checkpoint-seconds 0 --checkpoint-every 10
rc=$(code "$BIN" restore "$W/c" --quiet --checkpoint "$W/ckx")
[ "$rc" = 2 ] && grep -q "up to inc-020, not up to inc-040" "$W/err" || { echo "FAIL other target: $rc $(cat "$W/err")"; exit 1; }
"$BIN" gen "$W/d" --rows 100 --incrementals 40 --changes 10 --seed 8 -q
rc=$(code "$BIN" restore "$W/d" --quiet --upto inc-020 --checkpoint "$W/ckx")
[ "$rc" = 2 ] && grep -q "belongs to collection" "$W/err" || { echo "FAIL other collection: $rc $(cat "$W/err")"; exit 1; }
echo "ok   checkpoints of another target or collection are refused"
