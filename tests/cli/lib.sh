# tests/cli/lib.sh: what the CLI test scripts share; sourced after `set -euo pipefail`.
#   $W         a scratch directory, removed at exit
#   ok NAME    reports a check passed; bad NAME reports one failed and counts it in $fails
#   run CMD... runs CMD with its stdout in $W/out and its stderr in $W/err; sets rc (its
#              exit code), err (its stderr) and nlines (the lines of its stderr)
#   code CMD... the same files; prints CMD's exit code (for $(code ...))
#   check NAME EXPECTED ACTUAL  ok when the two strings are equal, else bad with both shown
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails+1)); }
run() { set +e; "$@" >"$W/out" 2>"$W/err"; rc=$?; set -e; err=$(cat "$W/err"); nlines=$(grep -c . "$W/err" || true); }
code() { set +e; "$@" >"$W/out" 2>"$W/err"; local rc=$?; set -e; echo $rc; }
check() {
	if [ "$2" != "$3" ]; then
		echo "FAIL $1"; echo "--- expected"; echo "$2"; echo "--- actual"; echo "$3"; fails=$((fails + 1))
	else
		echo "ok   $1"
	fi
}
