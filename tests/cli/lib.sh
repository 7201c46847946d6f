# tests/cli/lib.sh: what the CLI test scripts share; sourced after `set -euo pipefail`.
#   $W         a scratch directory, removed at exit
#   ok NAME    reports a check passed; bad NAME reports one failed and counts it in $fails
#   run CMD... runs CMD with its stdout in $W/out and its stderr in $W/err; sets rc (its
#              exit code), err (its stderr) and nlines (the lines of its stderr)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails+1)); }
run() { set +e; "$@" >"$W/out" 2>"$W/err"; rc=$?; set -e; err=$(cat "$W/err"); nlines=$(grep -c . "$W/err" || true); }
