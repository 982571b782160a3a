#!/usr/bin/env bash
# Installs what building mproc needs on Debian 12, if it is missing.
#   install-deps.sh            the Linux build
#   install-deps.sh windows    also the Windows cross build and Wine to run it
#   install-deps.sh fuzz       also clang and libFuzzer
set -euo pipefail
packages=(cmake ninja-build g++ libboost1.81-all-dev libcereal-dev libspdlog-dev python3 openmpi-bin libopenmpi-dev)
if [ "${1:-}" = windows ]; then
  packages+=(g++-mingw-w64-x86-64-posix wine64 wine)
fi
if [ "${1:-}" = fuzz ]; then
  packages+=(clang-14 libclang-rt-14-dev)
fi
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
