#!/usr/bin/env bash
# Builds the libFuzzer targets (preset `fuzz`) and runs each for a bounded
# time on a copy of its seed corpus in fuzz/corpus/<target>. A crash, a leak,
# a timeout or an allocation over the limits fails the run (exit non-zero).
#   FUZZ_SECONDS=30   time per target
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh fuzz
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
seconds="${FUZZ_SECONDS:-30}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0
for target in fuzz_archive fuzz_connection fuzz_start_message fuzz_task_failure fuzz_pool_messages \
    fuzz_queue_records fuzz_forkserver_request; do
  seeds="fuzz/corpus/${target#fuzz_}"
  corpus="$work/$target"
  mkdir -p "$corpus"
  cp -r "$seeds/." "$corpus/" 2>/dev/null || true
  echo "== $target: ${seconds} s =="
  # -malloc_limit_mb: no single allocation over 256 MiB (the decoders' budget
  # is 64 x an input of at most 64 KiB); -rss_limit_mb: the whole process.
  if ! "build/fuzz/fuzz/$target" "$corpus" -max_total_time="$seconds" -max_len=65536 \
      -rss_limit_mb=2048 -malloc_limit_mb=256 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$work/$target-" >"$work/$target.log" 2>&1; then
    failed=1
    echo "$target FAILED:"
    tail -n 40 "$work/$target.log"
    for artifact in "$work/$target"-*; do
      [ -e "$artifact" ] && echo "input kept as $artifact" && cp "$artifact" "fuzz/corpus/${target#fuzz_}/" || true
    done
  fi
  grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)" "$work/$target.log" || true
done
if [ "$failed" -ne 0 ]; then
  echo "fuzzing found problems (inputs copied into fuzz/corpus/)"
  exit 1
fi
echo "fuzzing: no crash, leak or over-allocation"
