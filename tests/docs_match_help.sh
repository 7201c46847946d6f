#!/usr/bin/env bash
# tests/docs_match_help.sh CLI SRC [MANPAGE]: the documentation says what the binary says.
#   - docs/cli.md: the block under the title is `CLI --help`, and the first block under
#     each "## increstore CMD" heading is `CLI CMD --help`, byte for byte; every command
#     the top --help lists has its section, and no other command has one.
#   - MANPAGE (the built increstore.1, rendered with groff): its DESCRIPTION is
#     `CLI --help` and its COMMANDS section holds every command's --help, line for line.
# Exits 1 naming the first difference (with a diff), 77 (skipped) for the man page part
# when no man page was built (help2man missing at configure time).
set -euo pipefail
CLI=$1 SRC=$2 MAN=${3:-}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export LC_ALL=C
commands=$("$CLI" --help | awk '/^commands:/ {f = 1; next} f && /^  [a-z]/ {print $1} f && /^$/ {exit}')
[ -n "$commands" ] || { echo "no commands listed by $CLI --help"; exit 1; }

# The first ``` block after the line matching $1 (an awk regex) in docs/cli.md.
md_block() {
	awk -v head="$1" '
		!found && $0 ~ head { found = 1; next }
		found && !inb && /^```/ { inb = 1; next }
		inb && /^```/ { exit }
		inb { print }' "$SRC/docs/cli.md"
}
fail=0
check() { # name, expected file, actual file
	if ! diff -u "$2" "$3" >"$W/diff"; then
		echo "$1 differs from the binary's --help:"
		head -n 40 "$W/diff"
		fail=1
	fi
}

"$CLI" --help >"$W/help"
md_block '^# increstore command reference' >"$W/md"
check "docs/cli.md (top)" "$W/help" "$W/md"
for cmd in $commands; do
	"$CLI" "$cmd" --help >"$W/help.$cmd"
	md_block "^## increstore $cmd\$" >"$W/md.$cmd"
	[ -s "$W/md.$cmd" ] || { echo "docs/cli.md has no section '## increstore $cmd'"; fail=1; continue; }
	check "docs/cli.md, increstore $cmd" "$W/help.$cmd" "$W/md.$cmd"
done
for doc in $(sed -n 's/^## increstore \([a-z-]*\)$/\1/p' "$SRC/docs/cli.md"); do
	grep -qx "$doc" <<<"$commands" || { echo "docs/cli.md documents '$doc', which --help does not list"; fail=1; }
done
[ $fail = 0 ] && echo "docs/cli.md: matches --help of increstore and its ${commands//$'\n'/, }"

if [ -z "$MAN" ]; then
	echo "man page: not built (help2man missing when configured): skipped"
	[ $fail = 0 ] && exit 77
	exit 1
fi
# Rendered without line filling limits; the verbatim blocks are indented 7 columns.
groff -man -Tascii -P-cbou -rLL=250n "$MAN" >"$W/man.txt"
man_section() { # the lines after the heading line $1 up to the next heading of its level
	awk -v head="$1" -v stop="$2" '
		f && ($0 ~ stop) { exit }
		f { print }
		$0 == head { f = 1 }' "$W/man.txt" | sed -e 's/^       //' -e 's/ *$//' | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
}
strip() { sed -e 's/ *$//' "$1" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'; }
man_section "DESCRIPTION" '^[A-Z]' >"$W/man.top"
strip "$W/help" >"$W/help.s"
check "man page DESCRIPTION" "$W/help.s" "$W/man.top"
for cmd in $commands; do
	man_section "   increstore $cmd" '^(   [a-z]|[A-Z])' | sed -e '1{/^$/d}' >"$W/man.$cmd"
	strip "$W/help.$cmd" >"$W/help.$cmd.s"
	[ -s "$W/man.$cmd" ] || { echo "man page has no 'increstore $cmd' subsection"; fail=1; continue; }
	check "man page, increstore $cmd" "$W/help.$cmd.s" "$W/man.$cmd"
done
[ $fail = 0 ] && echo "man page: matches --help of increstore and every command"
exit $fail
