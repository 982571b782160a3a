// mproc::mpi::pool beside the local pool, in one run on one node: map of x*x
// over 1,000,000 ints, map with chunksize 1 over 10,000 ints, the latency of
// apply_async(...).get(), the speed-up of 8 equal CPU-bound tasks on 2 serving
// ranks, and the CPU an idle serving rank takes.
//
//   mpiexec -n 3 --enable-recovery bench_mpi_pool [--json] [--rounds N]
#include <mproc/mproc.hpp>
#include <mproc/mpi/pool.hpp>

#include "pool_work.hpp"
#include "report.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace {

using bench::best_of;

int square(int x) { return x * x; }

// CPU seconds a process on this node has used (utime + stime).
double cpu_seconds(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string field;
  for (int i = 1; i <= 13 && stat >> field; ++i) {
  }
  long user = 0;
  long system = 0;
  stat >> user >> system;
  return static_cast<double>(user + system) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  mproc::mpi::pool ranks(argc, argv);  // ranks 1..N-1 serve here, and end here
  const auto [json, rounds] = bench::parse_options(argc, argv, 5);
  bench::report report;
  mproc::pool local(2);

  std::vector<int> million(1'000'000);
  std::iota(million.begin(), million.end(), 0);
  std::vector<int> ten_thousand(10'000);
  std::iota(ten_thousand.begin(), ten_thousand.end(), 0);
  local.map(square, million);
  ranks.map(square, million);  // warm-up
  // A map of 1 M takes 1-3 ms: the best of more rounds (both the same), since
  // one rank preempted by the other two processes on 2 cores halves a round.
  const int map_rounds = 10 * rounds;
  report.add("local_map_1M_items_per_s", 1e6 / best_of(map_rounds, [&] { local.map(square, million); }), "1/s",
             "pool(2).map(x*x) over 1,000,000 ints");
  report.add("mpi_map_1M_items_per_s", 1e6 / best_of(map_rounds, [&] { ranks.map(square, million); }), "1/s",
             "mpi::pool (2 serving ranks).map(x*x) over 1,000,000 ints");
  report.add_ratio("map_1M_vs_local", "mpi_map_1M_items_per_s", "local_map_1M_items_per_s", "goal >= 0.5");
  report.add("local_map_chunk1_items_per_s", 1e4 / best_of(rounds, [&] { local.map(square, ten_thousand, 1); }),
             "1/s", "pool(2).map(x*x, chunksize=1) over 10,000 ints");
  report.add("mpi_map_chunk1_items_per_s", 1e4 / best_of(rounds, [&] { ranks.map(square, ten_thousand, 1); }),
             "1/s", "mpi::pool.map(x*x, chunksize=1) over 10,000 ints");

  constexpr int calls = 2000;
  auto round_trips = [&](auto& pool) {
    return best_of(rounds, [&] {
             for (int i = 0; i < calls; ++i) pool.apply_async(square, i).get();
           }) / calls * 1e6;
  };
  report.add("local_apply_async_get_us", round_trips(local), "us", "one apply_async(x*x).get() after another");
  report.add("mpi_apply_async_get_us", round_trips(ranks), "us", "the same on mpi::pool");
  report.add_ratio("apply_async_vs_local", "mpi_apply_async_get_us", "local_apply_async_get_us", "goal <= 3");

  const auto [sequential_s, parallel_s] = bench::sequential_and_mapped_s(ranks);
  report.add("cpu_sequential_s", sequential_s, "s", "8 equal CPU-bound tasks, one after the other");
  report.add("cpu_2_ranks_s", parallel_s, "s", "the same 8 tasks, mpi::pool.map on 2 serving ranks");
  report.add("cpu_speedup_2_ranks", sequential_s / parallel_s, "ratio", "goal >= 1.7");

  local.close();
  local.join();
  const auto pids = ranks.worker_pids();
  std::vector<double> before;
  for (int pid : pids) before.push_back(cpu_seconds(pid));
  constexpr double idle_s = 3.0;
  std::this_thread::sleep_for(std::chrono::duration<double>(idle_s));
  double most = 0;
  for (std::size_t i = 0; i < pids.size(); ++i) most = std::max(most, (cpu_seconds(pids[i]) - before[i]) / idle_s);
  report.add("idle_rank_cpu_percent", most * 100, "%", "the busiest serving rank while the pool waits 3 s; goal <= 5");
  report.print(json);
}
