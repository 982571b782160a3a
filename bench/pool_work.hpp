// What both pool benchmarks use: a CPU-bound task, and the best of N rounds.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

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

}  // namespace bench
