#!/usr/bin/env bash
# Builds mproc and runs the whole test suite (one CTest entry per test case).
# PRESET=ci makes warnings errors; PRESET=asan runs it under ASan + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${PRESET:-default}"
bash scripts/install-deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
ctest --preset "$preset"
