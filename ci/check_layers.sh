#!/usr/bin/env bash
# ci/check_layers.sh: every #include points down the layers of docs/design.md section 2
#
#   cli/ -> engine/ -> shard/ -> format/ (and the generated proto/) -> common/ -> include/
#
# A file may include headers of its own folder and of the folders below it, never of
# a folder above. The CLI also sees at most one internal header (IRS_CLI_INTERNAL
# below) besides the public include/increstore.h and its own cli/*.h.
# Exits 1 naming every include that points up.
set -euo pipefail
cd "$(dirname "$0")/.."
IRS_CLI_INTERNAL=engine/cli_support.h
declare -A layer=([include]=0 [common]=1 [proto]=2 [format]=2 [shard]=3 [engine]=4 [cli]=5)
bad=0
for dir in common format shard engine cli; do
  for f in $(git ls-files "$dir/*.c" "$dir/*.h"); do
    from=${layer[$dir]}
    while IFS=: read -r line inc; do
      case $inc in
        */*) top=${inc%%/*} ;;
        increstore.h) top=include ;;
        *) top=$dir ;;
      esac
      [ -n "${layer[$top]+x}" ] || continue
      if [ "${layer[$top]}" -gt "$from" ]; then
        echo "$f:$line: includes $inc, a layer above $dir/"
        bad=1
      fi
      if [ "$dir" = cli ] && [ "$top" != cli ] && [ "$top" != include ] && [ "$inc" != "$IRS_CLI_INTERNAL" ]; then
        echo "$f:$line: the CLI includes $inc; it may use increstore.h and $IRS_CLI_INTERNAL only"
        bad=1
      fi
    done < <(grep -n '^#include "' "$f" | sed 's/^\([0-9]*\):#include "\([^"]*\)".*/\1:\2/')
  done
done
# The library speaks of its own API, never of the command line: no message of
# common/, format/, shard/ or engine/ names a flag ("--table"); the CLI words its own.
while IFS= read -r hit; do
  echo "$hit: a library message names a command-line flag"
  bad=1
done < <(git grep -nE '"[^"]*[ (]--[a-z][a-z-]+' -- 'common/*.c' 'format/*.c' 'shard/*.c' 'engine/*.c' || true)
[ $bad = 0 ] && echo "check_layers: every include points down; no library message names a flag"
exit $bad
