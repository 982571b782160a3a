// Pool figures beside Python's multiprocessing.Pool for the same work, in one
// run: map of x*x over 1,000,000 ints (automatic chunks), map with chunksize 1
// over 10,000 ints, the latency of apply_async(...).get(), and the speed-up of
// 8 equal CPU-bound tasks on 2 workers over running them one after the other.
//
//   bench_pool [--json] [--rounds N]
#include <mproc/mproc.hpp>

#include "report.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

int square(int x) { return x * x; }

// About 0.1 s of arithmetic the compiler cannot skip.
std::uint64_t burn(int seed) {
  std::uint64_t x = static_cast<std::uint64_t>(seed) + 1;
  for (int i = 0; i < 60'000'000; ++i) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
  return x;
}

double seconds_since(clock_type::time_point begin) {
  return std::chrono::duration<double>(clock_type::now() - begin).count();
}

template <class F>
double best_of(int rounds, F once) {
  std::vector<double> times;
  for (int i = 0; i < rounds; ++i) {
    const auto begin = clock_type::now();
    once();
    times.push_back(seconds_since(begin));
  }
  return *std::min_element(times.begin(), times.end());
}

}  // namespace

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  const auto [json, rounds] = bench::parse_options(argc, argv, 9);
  bench::report report;
  mproc::pool pool(2);
  pool.map(square, std::vector<int>(1000, 1));  // warm-up

  std::vector<int> million(1'000'000);
  std::iota(million.begin(), million.end(), 0);
  const double map_s = best_of(rounds, [&] { pool.map(square, million); });
  report.add("map_1M_items_per_s", 1e6 / map_s, "1/s", "pool(2).map(x*x) over 1,000,000 ints, automatic chunks");

  std::vector<int> ten_thousand(10'000);
  std::iota(ten_thousand.begin(), ten_thousand.end(), 0);
  const double chunk1_s = best_of(rounds, [&] { pool.map(square, ten_thousand, 1); });
  report.add("map_chunk1_items_per_s", 1e4 / chunk1_s, "1/s", "pool(2).map(x*x, chunksize=1) over 10,000 ints");
  // imap never takes the shared-memory path of a map of numbers: one task
  // message and one result message per chunk, what any other type costs.
  const double imap_s = best_of(rounds, [&] {
    long sum = 0;
    for (int square_of : pool.imap(square, ten_thousand, 1)) sum += square_of;
    if (sum == 0) std::cout << "";
  });
  report.add("imap_chunk1_items_per_s", 1e4 / imap_s, "1/s", "pool(2).imap(x*x, chunksize=1): a message per item");

  const int calls = 2000;
  const double apply_s = best_of(rounds, [&] {
    for (int i = 0; i < calls; ++i) pool.apply_async(square, i).get();
  });
  report.add("apply_async_get_us", apply_s / calls * 1e6, "us", "one apply_async(x*x).get() after another");

  const std::vector<int> eight{1, 2, 3, 4, 5, 6, 7, 8};
  volatile std::uint64_t sink = 0;  // the results are used: the work cannot be skipped
  const double sequential_s = best_of(2, [&] {
    for (int seed : eight) sink = sink + burn(seed);
  });
  const double parallel_s = best_of(2, [&] { pool.map(burn, eight, 1); });
  report.add("cpu_sequential_s", sequential_s, "s", "8 equal CPU-bound tasks, one after the other");
  report.add("cpu_2_workers_s", parallel_s, "s", "the same 8 tasks, pool(2).map");
  report.add("cpu_speedup_2_workers", sequential_s / parallel_s, "ratio", "goal >= 1.7");

  const std::string python = bench::capture("command -v python3 >/dev/null && python3 " MPROC_BENCH_PYTHON_DIR
                                            "/bench_pool.py " + std::to_string(rounds));
  if (python.empty() && !json) std::cout << "python3 not found: Python's figures are left out\n";
  for (const auto& [name, value] : bench::parse_flat_json(python)) {
    report.add(name, value, name.ends_with("_per_s") ? "1/s" : "us", "multiprocessing.Pool(2)");
  }
  report.add_ratio("map_1M_vs_python", "map_1M_items_per_s", "python_map_1M_items_per_s", "goal >= 50");
  report.add_ratio("map_chunk1_vs_python", "map_chunk1_items_per_s", "python_map_chunk1_items_per_s", "goal >= 100");
  report.add_ratio("imap_chunk1_vs_python_map_chunk1", "imap_chunk1_items_per_s", "python_map_chunk1_items_per_s");
  report.add_ratio("apply_async_python_vs_ours", "python_apply_async_get_us", "apply_async_get_us", "goal >= 15");
  report.print(json);
}
