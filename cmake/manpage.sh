#!/usr/bin/env bash
# cmake/manpage.sh CLI OUT: writes the man page increstore(1) to OUT and OUT.gz.
# help2man makes it from `CLI --help` (the DESCRIPTION, verbatim) and the version
# `CLI --version` names; a COMMANDS section holds every command's `CLI COMMAND --help`
# verbatim (the commands are the ones the top --help lists), so the page says exactly
# what the binary says.
# tests/docs_match_help.sh checks the result against the binary.
set -euo pipefail
cli=$1 out=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Text as roff: a backslash is \e, and a line starting with . or ' is not a request.
roff() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }
commands=$("$cli" --help | awk '/^commands:/ {f = 1; next} f && /^  [a-z]/ {print $1} f && /^$/ {exit}')
[ -n "$commands" ] || { echo "manpage.sh: no commands in $cli --help" >&2; exit 1; }
{
	echo "[SYNOPSIS]"
	echo ".B increstore"
	echo "COMMAND [ARGS...]"
	echo ".br"
	echo ".B increstore"
	echo "COMMAND --help"
	echo ".br"
	echo ".B increstore"
	echo "--version"
	echo "[=DESCRIPTION]"
	echo ".nf"
	"$cli" --help | roff
	echo ".fi"
	echo "[COMMANDS]"
	echo "Each command's own --help, as the binary prints it."
	for cmd in $commands; do
		echo ".SS \"increstore $cmd\""
		echo ".nf"
		"$cli" "$cmd" --help | roff
		echo ".fi"
	done
	echo "[SEE ALSO]"
	echo "The full reference, with the output formats, is docs/cli.md in the source;"
	echo "the library's API is in increstore.h."
} >"$tmp/commands.h2m"
version=$("$cli" --version | head -n 1)
help2man --no-info --section=1 --include="$tmp/commands.h2m" --version-string="${version##* }" \
	--name="restore backup collections into in-memory tables" "$cli" >"$tmp/increstore.1"
mv "$tmp/increstore.1" "$out"
gzip -9n <"$out" >"$out.gz"
