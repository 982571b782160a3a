#!/usr/bin/env bash
# The main job: builds mproc and runs every concept app, in order.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default --target mproc_apps
while read -r app; do
  [ -n "$app" ] || continue
  echo
  echo "===== $app ====="
  if [ -x "build/default/apps/$app.launch" ]; then
    "build/default/apps/$app.launch" "build/default/apps/$app"  # an MPI app: through mpiexec
  else
    "build/default/apps/$app"
  fi
done < build/default/apps/apps.txt
