// Pool figures beside Python's multiprocessing.Pool for the same work, in one
// run: map of x*x over 1,000,000 ints (automatic chunks), map with chunksize 1
// over 10,000 ints, the latency of apply_async(...).get() beside its floor (two
// futex hand-offs between processes), the speed-up of 8 equal CPU-bound tasks
// on 2 workers, a lazy imap over 100 M generated inputs (speed, peak memory),
// a 1 GiB shared_buffer handed to a worker beside a 1 GiB pipe send, and the
// start of pool(4) per start method beside Python's Pool(4).
//
//   bench_pool [--json] [--rounds N]
#include <mproc/mproc.hpp>

#include "pool_work.hpp"
#include "report.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <numeric>
#include <ranges>
#include <string>
#include <vector>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using bench::best_of;

using clock_type = std::chrono::steady_clock;

int square(int x) { return x * x; }

double seconds_since(clock_type::time_point begin) {
  return std::chrono::duration<double>(clock_type::now() - begin).count();
}

// --- the floor of a round trip: two futex hand-offs between processes -------

void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t seen) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, seen, nullptr, nullptr, 0);
}
void futex_wake(std::atomic<std::uint32_t>& word) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

// Waits until the word is `wanted`: sleeping on the futex at once, or (for
// the other floor) spinning.
void wait_for(std::atomic<std::uint32_t>& word, std::uint32_t wanted, bool spin) {
  for (std::uint32_t now; (now = word.load()) != wanted;) {
    if (spin) {
      __builtin_ia32_pause();
    } else {
      futex_wait(word, now);
    }
  }
}

// A forked child waits for the word to turn odd, makes it even, wakes the
// parent; the parent does the reverse. Each round trip is two hand-offs, each
// a store, a wake and a wait that sleeps: what a round trip between processes
// that do not burn a CPU while they wait costs. With `spin`, nobody sleeps:
// the cost of moving a cache line there and back.
double round_trip_us(int round_trips, bool spin) {
  auto block = mproc::shared_memory::create(64);
  auto& word = *new (block.bytes().data()) std::atomic<std::uint32_t>(0);
  const auto last = 2u * static_cast<std::uint32_t>(round_trips);
  const pid_t child = ::fork();
  if (child == 0) {
    for (std::uint32_t next = 1; next < last; next += 2) {
      wait_for(word, next, spin);
      word.store(next + 1);
      if (!spin) futex_wake(word);
    }
    ::_exit(0);
  }
  const auto begin = clock_type::now();
  for (std::uint32_t next = 1; next < last; next += 2) {
    word.store(next);
    if (!spin) futex_wake(word);
    wait_for(word, next + 1, spin);
  }
  const double us = std::chrono::duration<double, std::micro>(clock_type::now() - begin).count() / round_trips;
  ::waitpid(child, nullptr, 0);
  return us;
}

// --- memory -------------------------------------------------------------------

// Forgets this process's peak resident size, so that the next read of it is
// the peak of what follows (Linux: "5" to clear_refs).
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmHWM:")) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

// --- big data -------------------------------------------------------------------

constexpr std::size_t one_gib = std::size_t{1} << 30;

std::uint32_t first_and_last(mproc::shared_span<const std::byte> bytes) {
  return static_cast<std::uint32_t>(bytes[0]) + static_cast<std::uint32_t>(bytes[bytes.size() - 1]);
}

void receive_and_answer(mproc::connection end) {
  const auto bytes = end.recv<std::vector<std::byte>>();
  end.send(bytes.size());
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
  // imap of plain values in small chunks goes in windows that the workers
  // claim in shared memory; imap_unordered sends a task message and a result
  // message per chunk, what any other type costs.
  auto imap_seconds = [&](auto results_of) {
    return best_of(rounds, [&] {
      long sum = 0;
      for (int square_of : results_of()) sum += square_of;
      if (sum == 0) std::cout << "";
    });
  };
  report.add("imap_chunk1_items_per_s", 1e4 / imap_seconds([&] { return pool.imap(square, ten_thousand, 1); }), "1/s",
             "pool(2).imap(x*x, chunksize=1) over 10,000 ints; goal >= 3e6");
  report.add("imap_unordered_chunk1_items_per_s",
             1e4 / imap_seconds([&] { return pool.imap_unordered(square, ten_thousand, 1); }), "1/s",
             "pool(2).imap_unordered(x*x, chunksize=1): a message per item");

  const int calls = 2000;
  const double apply_s = best_of(rounds, [&] {
    for (int i = 0; i < calls; ++i) pool.apply_async(square, i).get();
  });
  report.add("apply_async_get_us", apply_s / calls * 1e6, "us", "one apply_async(x*x).get() after another");

  // Two futex hand-offs between processes: the floor of a round trip, taken
  // as apply_async's is (the best of `rounds` runs of `calls`): one long run
  // swung 4.7-43 us here with where the scheduler put the two processes.
  double floor_us = round_trip_us(calls, false);
  for (int i = 1; i < rounds; ++i) floor_us = std::min(floor_us, round_trip_us(calls, false));
  report.add("futex_round_trip_us", floor_us, "us", "floor: two futex hand-offs between two processes, both sleeping");
  report.add("spin_round_trip_us", round_trip_us(200000, true), "us",
             "a cache line there and back between two spinning processes");
  report.add_ratio("apply_async_vs_floor", "apply_async_get_us", "futex_round_trip_us", "goal <= 2");

  // A lazy imap over 100 M generated inputs: the parent's memory stays flat.
  {
    const int n = 100'000'000;
    reset_peak_rss();
    const double rss_before = peak_rss_mib();
    const auto begin = clock_type::now();
    std::int64_t sum = 0;
    for (int square_of : pool.imap(square, std::views::iota(0, n), 10'000)) sum += square_of;
    const double s = seconds_since(begin);
    if (sum == 0) std::cout << "";
    report.add("imap_generator_100M_items_per_s", n / s, "1/s",
               "pool(2).imap(x*x, iota(0, 100 M), chunksize 10,000): inputs read as results are");
    report.add("imap_generator_100M_peak_rss_mib", peak_rss_mib(), "MiB",
               "the parent's peak resident memory during it (" + std::to_string(static_cast<int>(rss_before)) +
                   " MiB before); goal <= 64");
  }

  // 1 GiB to a worker: a shared_buffer (its name travels) beside a pipe send.
  {
    mproc::shared_buffer<std::byte> big(one_gib);
    std::memset(big.data(), 1, one_gib);
    const double shared_s = best_of(rounds, [&] { (void)pool.apply(first_and_last, big); });
    report.add("shared_buffer_1GiB_to_worker_ms", shared_s * 1e3, "ms",
               "pool.apply(f, shared_buffer of 1 GiB): f reads its first and last byte; goal <= 100");
    big.close();
    std::vector<std::byte> bytes(one_gib, std::byte{1});
    auto [here, there] = mproc::pipe();
    mproc::process child(receive_and_answer, there);
    child.start();
    there.close();
    const auto begin = clock_type::now();
    here.send(bytes);
    (void)here.recv<std::size_t>();
    report.add("pipe_1GiB_to_child_ms", seconds_since(begin) * 1e3, "ms", "mproc::pipe send of 1 GiB, received whole");
    child.join();
  }
  report.add_ratio("pipe_1GiB_vs_shared_buffer", "pipe_1GiB_to_child_ms", "shared_buffer_1GiB_to_worker_ms");

  // pool(4) made and ready: four tasks of chunksize 1 answered (closing and
  // joining it is not counted).
  for (const auto method : mproc::all_start_methods()) {
    const std::string name(mproc::to_string(method));
    std::vector<double> times;
    for (int i = 0; i < std::max(3, rounds / 2); ++i) {
      const auto begin = clock_type::now();
      mproc::pool four(mproc::pool_options{.processes = 4, .method = method});
      four.map(square, std::vector<int>{1, 2, 3, 4}, 1);
      times.push_back(seconds_since(begin));
    }
    report.add("pool4_start_ms_" + name, *std::min_element(times.begin(), times.end()) * 1e3, "ms",
               "pool(4) made, and 4 tasks of one item answered");
  }

  const auto [sequential_s, parallel_s] = bench::sequential_and_mapped_s(pool);
  report.add("cpu_sequential_s", sequential_s, "s", "8 equal CPU-bound tasks, one after the other");
  report.add("cpu_2_workers_s", parallel_s, "s", "the same 8 tasks, pool(2).map");
  report.add("cpu_speedup_2_workers", sequential_s / parallel_s, "ratio", "goal >= 1.7");

  const std::string python = bench::capture("command -v python3 >/dev/null && python3 " MPROC_BENCH_PYTHON_DIR
                                            "/bench_pool.py " + std::to_string(rounds));
  if (python.empty() && !json) std::cout << "python3 not found: Python's figures are left out\n";
  for (const auto& [name, value] : bench::parse_flat_json(python)) {
    report.add(name, value, name.ends_with("_per_s") ? "1/s" : name.find("_ms") != std::string::npos ? "ms" : "us",
               name.starts_with("python_pool4") ? "multiprocessing Pool(4)" : "multiprocessing.Pool(2)");
  }
  report.add_ratio("map_1M_vs_python", "map_1M_items_per_s", "python_map_1M_items_per_s", "goal >= 50");
  report.add_ratio("map_chunk1_vs_python", "map_chunk1_items_per_s", "python_map_chunk1_items_per_s", "goal >= 100");
  report.add_ratio("imap_chunk1_vs_python_map_chunk1", "imap_chunk1_items_per_s", "python_map_chunk1_items_per_s");
  report.add_ratio("apply_async_python_vs_ours", "python_apply_async_get_us", "apply_async_get_us", "goal >= 15");
  for (const auto method : mproc::all_start_methods()) {
    const std::string name(mproc::to_string(method));
    report.add_ratio("pool4_start_python_vs_ours_" + name, "python_pool4_start_ms_" + name, "pool4_start_ms_" + name);
  }
  report.print(json);
}
