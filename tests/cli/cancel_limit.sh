#!/usr/bin/env bash
# SIGINT/SIGTERM during `increstore restore`, and --memory-limit, from the outside.
#   bash cancel_limit.sh <increstore-binary> <source-dir>
# A signal stops the restore at the next safe point: exit 5 (or 0 when it had already
# finished) and exactly one error line on stderr naming the last backup restored
# ("... restored through backup NAME" or "... the tables are empty"); NAME must be the
# backup of the last progress line. --memory-limit 1000 exits 4 with one line naming
# the memory limit; a huge limit changes nothing.
#
# The signal is sent after a random one of the first 30 progress lines (of 61), so that
# it lands in the restore (signals.sh sends one at start-up). At least 6 of the 8 rounds
# must really cancel. IRS_STRICT_LIMIT_ERRORS=0 turns a --memory-limit line
# that does not name the limit into a warning instead of a failure.
set -euo pipefail
BIN=$1
. "$(dirname "$0")/lib.sh"
STRICT=${IRS_STRICT_LIMIT_ERRORS:-1}
SECONDS=0

C=$W/c
"$BIN" gen "$C" --rows 40000 --incrementals 60 --changes 4000 --seed 7 --quiet >/dev/null

# progress lines ("restored backup i/N NAME: ...") are not errors
errors_of() { grep -v -E '^restored backup [0-9]+/[0-9]+ ' "$1" || true; }

cancelled=0
signal_round() { # signal round
  local sig=$1 round=$2
  local err="$W/stderr.$sig.$round"
  "$BIN" restore "$C" --shards $((1 + round % 4)) >/dev/null 2>"$err" &
  local pid=$!
  # wait for progress line k (1..30 of 61: at least 30 backups are left to cancel), max ~10 s
  local k=$((1 + RANDOM % 30)) i=0 n=0
  while [ "$n" -lt $k ] && [ $i -lt 2000 ] && kill -0 $pid 2>/dev/null; do
    sleep 0.005; i=$((i+1))
    n=$(grep -c '^restored backup ' "$err" 2>/dev/null || true); n=${n:-0}
  done
  kill -s "$sig" $pid 2>/dev/null || true
  set +e; wait $pid; local rc=$?; set -e
  local lines; lines=$(errors_of "$err")
  local n; n=$(printf '%s' "$lines" | grep -c . || true)
  local last; last=$(grep -E '^restored backup ' "$err" | tail -1 | sed -E 's/^restored backup [0-9]+\/[0-9]+ ([^:]*):.*/\1/')
  if [ $rc -eq 0 ]; then
    if [ "$n" -eq 0 ]; then ok "$sig round $round: finished first (exit 0)"; else bad "$sig round $round: exit 0 with errors: $lines"; fi
    return
  fi
  if [ $rc -ne 5 ]; then bad "$sig round $round: exit $rc, expected 5 (stderr: $lines)"; return; fi
  if [ "$n" -ne 1 ]; then bad "$sig round $round: $n error lines: $lines"; return; fi
  if printf '%s' "$lines" | grep -q 'the tables are empty$'; then
    if [ -n "$last" ]; then bad "$sig round $round: 'empty' but backup $last was reported restored"; else ok "$sig round $round: exit 5, tables empty"; fi
    return
  fi
  local through; through=$(printf '%s' "$lines" | sed -n -E 's/.*restored through backup ([^ ;]+)$/\1/p')
  if [ -z "$through" ]; then bad "$sig round $round: the line does not name a backup: $lines"; return; fi
  if [ "$through" != "$last" ]; then bad "$sig round $round: through $through but the last progress line is $last"; return; fi
  ok "$sig round $round: exit 5, restored through $through"
  cancelled=$((cancelled + 1))
}

for round in 1 2 3 4; do signal_round INT $round; done
for round in 1 2 3 4; do signal_round TERM $round; done
# a test of cancellation must cancel: most rounds did (a round may finish first when
# the machine is slow to deliver the signal)
if [ $cancelled -ge 6 ]; then ok "$cancelled of 8 rounds cancelled"; else bad "only $cancelled of 8 rounds cancelled"; fi

# --memory-limit far too small: exit 4, one line naming the limit
set +e; "$BIN" restore "$C" --memory-limit 1000 --quiet >/dev/null 2>"$W/lim"; rc=$?; set -e
n=$(grep -c . "$W/lim" || true)
if [ $rc -ne 4 ] || [ "$n" -ne 1 ]; then
  bad "--memory-limit 1000: exit $rc with $n lines: $(cat "$W/lim")"
elif ! grep -q -i 'memory.limit' "$W/lim"; then
  if [ "$STRICT" = 1 ]; then bad "--memory-limit 1000: the line does not name the memory limit: $(cat "$W/lim")"
  else echo "KNOWN BUG --memory-limit 1000: the line does not name the memory limit: $(cat "$W/lim")"; fi
else
  ok "--memory-limit 1000: exit 4: $(cat "$W/lim")"
fi

# a limit below what the base needs: exit 4, one line naming the limit
set +e; "$BIN" restore "$C" --memory-limit 2000000 --shards 2 --quiet >/dev/null 2>"$W/lim2"; rc=$?; set -e
n=$(grep -c . "$W/lim2" || true)
if [ $rc -ne 4 ] || [ "$n" -ne 1 ]; then
  bad "--memory-limit 2000000: exit $rc with $n lines: $(cat "$W/lim2")"
elif ! grep -q -i 'memory.limit' "$W/lim2"; then
  if [ "$STRICT" = 1 ]; then bad "--memory-limit 2000000: the line does not name the memory limit: $(cat "$W/lim2")"
  else echo "KNOWN BUG --memory-limit 2000000: the line does not name the memory limit: $(cat "$W/lim2")"; fi
else
  ok "--memory-limit 2000000: exit 4: $(cat "$W/lim2")"
fi

# a huge limit: the same result as none
set +e; "$BIN" restore "$C" --memory-limit 18446744073709551615 --quiet >/dev/null 2>"$W/lim3"; rc=$?; set -e
"$BIN" restore "$C" >"$W/out_nolim" 2>/dev/null
"$BIN" restore "$C" --memory-limit 18446744073709551615 >"$W/out_lim" 2>/dev/null
if [ $rc -eq 0 ] && [ ! -s "$W/lim3" ] && [ "$(grep '^  table' "$W/out_lim")" = "$(grep '^  table' "$W/out_nolim")" ]; then ok "huge --memory-limit: exit 0"; else bad "huge --memory-limit: exit $rc: $(cat "$W/lim3")"; fi

echo "($SECONDS s)"
if [ $fails -ne 0 ]; then echo "$fails failure(s)"; exit 1; fi
echo "all ok"
