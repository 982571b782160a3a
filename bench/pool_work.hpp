// What both pool benchmarks use: a CPU-bound task, the best of N rounds, and
// the CPU-bound speed-up.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

namespace bench {

/// About 0.1 s of arithmetic the compiler cannot skip (a pool task).
inline std::uint64_t burn(int seed) {
  std::uint64_t x = static_cast<std::uint64_t>(seed) + 1;
  for (int i = 0; i < 60'000'000; ++i) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
  return x;
}

/// The shortest of `rounds` runs of `once`, in seconds.
template <class F>
double best_of(int rounds, F once) {
  double best = 1e300;
  for (int i = 0; i < rounds; ++i) {
    const auto begin = std::chrono::steady_clock::now();
    once();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count());
  }
  return best;
}

/// 8 equal CPU-bound tasks one after the other here, then as a map over
/// `workers` (chunks of one): the best of 2 runs each way, in seconds.
template <class Pool>
std::pair<double, double> sequential_and_mapped_s(Pool& workers) {
  const std::vector<int> eight{1, 2, 3, 4, 5, 6, 7, 8};
  volatile std::uint64_t sink = 0;  // the results are used: the work cannot be skipped
  const double sequential_s = best_of(2, [&] {
    for (int seed : eight) sink = sink + burn(seed);
  });
  const double mapped_s = best_of(2, [&] { workers.map(burn, eight, 1); });
  return {sequential_s, mapped_s};
}

}  // namespace bench
