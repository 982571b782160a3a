#!/usr/bin/env bash
# Runs a Windows program under Wine in the given prefix: wine-run.sh PREFIX PROGRAM ARGS...
set -euo pipefail
export WINEPREFIX="$1"
shift
export WINEDEBUG=-all
wine=/usr/lib/wine/wine64
command -v "$wine" >/dev/null || wine=wine64
mkdir -p "$WINEPREFIX"
# A persistent server, started here with no pipe of the caller's: a server that
# a program started by make, Ninja or CTest brings up keeps their output pipe
# open. (It returns at once when one runs already.)
/usr/lib/wine/wineserver -p </dev/null >/dev/null 2>&1 || true
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  "$wine" wineboot --init </dev/null >/dev/null 2>&1 || true
fi
exec "$wine" "$@"
