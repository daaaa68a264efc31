#!/usr/bin/env bash
# Checks that includes point downward only: core/base <- net, ws <- core <- core/cluster <- tools.
# A file may include its own layer or any layer below it, never one above.
set -u
rank() {
  case "$1" in
    core/base/*) echo 0 ;;
    net/* | ws/*) echo 1 ;;
    core/cluster/*) echo 3 ;;
    core/*) echo 2 ;;
    tools/*) echo 4 ;;
    *) echo 9 ;;
  esac
}
status=0
for file in $(git ls-files 'core/*.cc' 'core/*.h' 'net/*.cc' 'net/*.h' 'ws/*.cc' 'ws/*.h' 'tools/*.cc'); do
  own=$(rank "$file")
  while read -r included; do
    [ -n "$included" ] || continue
    theirs=$(rank "$included")
    [ "$theirs" = 9 ] && continue
    # net and ws are side by side: neither may include the other.
    if [ "$theirs" -gt "$own" ] || { [ "$own" = 1 ] && [ "$theirs" = 1 ] && [ "${file%%/*}" != "${included%%/*}" ]; }; then
      echo "include points upward or sideways: $file includes $included"
      status=1
    fi
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
done
[ $status = 0 ] && echo "includes: every include points downward"
exit $status
