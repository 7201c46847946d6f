#!/usr/bin/env bash
# tests/soak.sh MINUTES [BINARY]: the soak/stress mode (not part of the default test
# run). Until MINUTES have passed it repeats, with a fresh seed each round:
#   1. gen a random chain (rows, incrementals, mix, key skew, several tables or fulls,
#      empty incrementals, NULLs, re-inserts, no-op erases chosen at random);
#   2. restore it uninterrupted with a random shard count (1..64) as the reference,
#      checking gen's expected state at every barrier;
#   3. verify --each against the SQLite oracle;
#   4. restore again with --checkpoint, SIGKILLed or SIGINTed at random moments and
#      resumed (a random shard count each time), until it completes; the result must be
#      identical to the reference export.
# It prints what it covered, and exits non-zero at the first failure, keeping the
# failing collection in the work directory.
set -euo pipefail
MIN=${1:-5}
BIN=${2:-build/dev/cli/increstore}
W=$(mktemp -d /tmp/irs-soak-XXXXXX)
END=$(( $(date +%s) + MIN * 60 ))
rounds=0 kills=0 sigints=0 resumes=0 restores=0
pick() { local a=("$@"); echo "${a[RANDOM % ${#a[@]}]}"; }
while [ "$(date +%s)" -lt "$END" ]; do
  rounds=$((rounds + 1)); seed=$((RANDOM * 32768 + RANDOM))
  C=$W/c; rm -rf "$C" "$W"/ck "$W"/*.jsonl "$W"/out
  incs=$((RANDOM % 25 + 2))
  args=(--rows $((RANDOM % 20000 + 10)) --incrementals "$incs" --changes $((RANDOM % 3000 + 1))
        --seed "$seed" --keys "$(pick uniform sequential zipf)" --tables "$(pick 1 1 2 3)"
        --fulls "$(pick 1 1 2)" --empty-every "$(pick 0 0 3 5)" --null-fraction "$(pick 0 0.1 0.3)"
        --reinserts "$(pick 0 0.2)" --noop-erases "$(pick 0 0.1)")
  [ "${args[15]}" = 0 ] && args=("${args[@]:0:14}" "${args[@]:16}")   # --empty-every 0 = off
  "$BIN" gen "$C" "${args[@]}" -q > /dev/null || { echo "gen failed: ${args[*]}"; exit 1; }
  mkdir -p "$W/out"
  s=$(pick 1 2 3 7 16 64)
  "$BIN" restore "$C" --quiet --shards "$s" --out "$W/out/" ; restores=$((restores + 1))
  "$BIN" verify "$C" --each --quiet > /dev/null || { echo "verify failed: ${args[*]}, kept $C"; exit 1; }
  mkdir -p "$W/res"
  for attempt in $(seq 1 20); do
    "$BIN" restore "$C" --shards "$(pick 1 2 5 9 32)" --checkpoint "$W/ck" --checkpoint-seconds 0 \
      --out "$W/res/" > /dev/null 2> "$W/err" &
    pid=$!
    sig=none
    if [ $((RANDOM % 3)) != 0 ]; then
      sleep "0.$(printf '%03d' $((RANDOM % 300)))"
      sig=$(pick KILL KILL INT); kill -s "$sig" "$pid" 2>/dev/null || true
    fi
    set +e; wait "$pid"; rc=$?; set -e
    # count a signal only when it hit a running restore: kill succeeds on a process
    # that already finished but was not reaped yet, whose exit status is then its own
    [ "$sig" = KILL ] && [ "$rc" = 137 ] && kills=$((kills + 1))
    [ "$sig" = INT ] && { [ "$rc" = 5 ] || [ "$rc" = 130 ]; } && sigints=$((sigints + 1))
    grep -q "resumed from checkpoint" "$W/err" && resumes=$((resumes + 1))
    [ "$rc" = 0 ] && break
    case $rc in 5|137|130) ;; *) echo "restore exited $rc: $(cat "$W/err"), kept $C"; exit 1 ;; esac
  done
  [ "$rc" = 0 ] || { echo "restore never completed, kept $C"; exit 1; }
  diff -r -x "*.tmp-*" "$W/out" "$W/res" > /dev/null || { echo "resumed result differs: ${args[*]}, kept $C"; exit 1; }
  rm -rf "$W/res"
done
echo "soak: $rounds rounds in $MIN min: $restores reference restores verified against SQLite at every barrier,"
echo "      $kills SIGKILLs and $sigints SIGINTs, $resumes resumes from checkpoints; all results identical"
rm -rf "$W"
