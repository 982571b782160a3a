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
# Beside a test that starts a hundred processes, Wine now and then fails to
# start a program at all: it exits at once with nothing printed (a Boost.Test
# program always prints "Running ..." first). Only that is tried again, at
# most twice; anything that printed keeps its result. The output goes through
# files (printed after), which also keeps Wine's services off CTest's pipes.
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
# With MPROC_WINE_TERMINAL set, the program's input is a terminal (a pty of
# `script`'s): only then does Wine give a program a console, and Ctrl-C is a
# console's event on Windows.
run() {
  if [ -n "${MPROC_WINE_TERMINAL:-}" ]; then
    script -qec "$(printf '%q ' "$wine" "$@") >$(printf %q "$out") 2>$(printf %q "$err")" /dev/null \
      </dev/null >/dev/null
  else
    "$wine" "$@" >"$out" 2>"$err"
  fi
}
for attempt in 1 2 3; do
  status=0
  run "$@" || status=$?
  if [ "$status" -eq 0 ] || [ -s "$out" ] || [ -s "$err" ] || [ "$attempt" -eq 3 ]; then
    break
  fi
  echo "wine-run: $1 did not start (exit $status, no output): starting it again" >&2
done
cat "$out"
cat "$err" >&2
exit "$status"
