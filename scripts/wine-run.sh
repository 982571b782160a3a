#!/usr/bin/env bash
# Runs a Windows program under Wine in the given prefix: wine-run.sh PREFIX PROGRAM ARGS...
set -euo pipefail
export WINEPREFIX="$1"
shift
export WINEDEBUG=-all
wine=/usr/lib/wine/wine64
command -v "$wine" >/dev/null || wine=wine64
mkdir -p "$WINEPREFIX"
# A persistent server and Wine's services, started here with no pipe of the
# caller's: those that a program run by Ninja or CTest brings up keep its output
# pipe open, and Ninja or CTest waits for good. (wineserver -p exits with 2 at
# once when a server runs already.)
if /usr/lib/wine/wineserver -p </dev/null >/dev/null 2>&1 || [ ! -f "$WINEPREFIX/system.reg" ]; then
  "$wine" wineboot --init </dev/null >/dev/null 2>&1 || true
fi
exec "$wine" "$@"
