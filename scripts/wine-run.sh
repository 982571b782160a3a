#!/usr/bin/env bash
# Runs a Windows program under Wine in the given prefix: wine-run.sh PREFIX PROGRAM ARGS...
# The first use starts a persistent wineserver and initialises the prefix, outside
# of CTest: a Wine started first by CTest makes CTest hang (see shared notes).
set -euo pipefail
export WINEPREFIX="$1"
shift
export WINEDEBUG=-all
wine=/usr/lib/wine/wine64
command -v "$wine" >/dev/null || wine=wine64
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  mkdir -p "$WINEPREFIX"
  "$wine" wineboot --init </dev/null >/dev/null 2>&1 || true
fi
exec "$wine" "$@"
