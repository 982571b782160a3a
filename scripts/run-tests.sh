#!/usr/bin/env bash
# Builds mproc and runs the whole test suite (one CTest entry per test case):
# on Linux, then the Windows build of the same suite under Wine.
#   PRESET=ci             Linux only, warnings are errors
#   PRESET=asan           Linux only, under ASan + UBSan
#   PRESET=tsan           Linux only, under ThreadSanitizer
#   PRESET=windows-cross  Windows only (MinGW-w64 cross build, run by Wine)
set -euo pipefail
cd "$(dirname "$0")/.."

run_preset() {
  local preset="$1"
  if [ "$preset" = windows-cross ]; then
    bash scripts/install-deps.sh windows
    # Wine's server and services up before Ninja or CTest runs a Windows program
    # (see scripts/wine-run.sh, CTest's emulator); stopped at the end, and waited
    # for: a server still going down when the next run starts makes that run's
    # programs bring up one of their own, under CTest.
    local prefix="$PWD/build/windows-cross/wine-prefix"
    bash scripts/wine-run.sh "$prefix" wineboot </dev/null >/dev/null 2>&1 || true
    trap "WINEPREFIX='$prefix' /usr/lib/wine/wineserver -k 2>/dev/null; WINEPREFIX='$prefix' /usr/lib/wine/wineserver -w 2>/dev/null || true" EXIT
  else
    bash scripts/install-deps.sh
  fi
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  ctest --preset "$preset"
}

if [ -n "${PRESET:-}" ]; then
  run_preset "$PRESET"
else
  run_preset default
  run_preset windows-cross
fi
