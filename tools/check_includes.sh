#!/usr/bin/env bash
# Checks that includes point downward only (docs/ARCHITECTURE.md, "The engine's pieces"):
#   core/base <- net, ws <- core pieces (writer, room, rooms, router, parsers, ledger, ...)
#   <- the seam and its users (room_sync, local_sync, member_input and its member_seats.cc)
#   <- the loop adapter (shard, server) | the cluster (core/cluster/), side by side <- tools.
# A file may include its own layer or any layer below it, never one above or beside it; and no
# deployment-mode branch (`clustered`) may appear in core/ outside core/cluster/.
set -u
rank() {
  case "$1" in
    core/base/*) echo 0 ;;
    net/* | ws/*) echo 1 ;;
    core/cluster/*) echo 4 ;;
    core/shard* | core/server.*) echo 4 ;;
    core/room_sync.h | core/local_sync.* | core/member_input.* | core/member_seats.*) echo 3 ;;
    core/*) echo 2 ;;
    tools/*) echo 5 ;;
    *) echo 9 ;;
  esac
}
# Files of one rank that must not include each other: net | ws, and shard/server | cluster.
side() {
  case "$1" in
    net/*) echo net ;;
    ws/*) echo ws ;;
    core/cluster/*) echo cluster ;;
    core/shard* | core/server.*) echo engine ;;
    *) echo "" ;;
  esac
}
status=0
for file in $(git ls-files 'core/*.cc' 'core/*.h' 'net/*.cc' 'net/*.h' 'ws/*.cc' 'ws/*.h' 'tools/*.cc'); do
  own=$(rank "$file")
  while read -r included; do
    [ -n "$included" ] || continue
    theirs=$(rank "$included")
    [ "$theirs" = 9 ] && continue
    mine=$(side "$file")
    other=$(side "$included")
    if [ "$theirs" -gt "$own" ] ||
      { [ "$own" = "$theirs" ] && [ -n "$mine" ] && [ -n "$other" ] && [ "$mine" != "$other" ]; }; then
      echo "include points upward or sideways: $file includes $included"
      status=1
    fi
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
done
if git grep -n 'clustered' -- 'core/*.cc' 'core/*.h' ':!core/cluster/' >/dev/null; then
  echo "a deployment-mode branch outside core/cluster/:"
  git grep -n 'clustered' -- 'core/*.cc' 'core/*.h' ':!core/cluster/'
  status=1
fi
[ $status = 0 ] && echo "includes: every include points downward; no mode branch outside core/cluster/"
exit $status
