// mproc::mpi::pool, run by CTest under mpiexec (3 ranks over shared memory, 4
// ranks over TCP; Open MPI's --enable-recovery, so that a rank may die) and
// alone, spawning its 2 ranks. Each case's first pool makes ranks 1..N-1
// serve, and end with the program.
#include "support/scratch.hpp"

#include <mproc/mpi/pool.hpp>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

using namespace std::chrono_literals;

namespace {

int square(int x) { return x * x; }
int twice(int x) { return 2 * x; }
float halve(double x) { return static_cast<float>(x / 2); }
int which_rank(int) { return mproc::mpi::pool::rank(); }
int power(int base, int exponent) {
  int result = 1;
  for (int i = 0; i < exponent; ++i) result *= base;
  return result;
}
int fails_on_three(int x) {
  if (x == 3) throw std::invalid_argument("three is not welcome");
  return x;
}
int sleeps(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
// Says it started (a file that rank 0's test waits for: the ranks share this
// machine), then sleeps.
int says_started_then_sleeps(std::string started, int ms) {
  mproc::test::write_file(started, "started");
  return sleeps(ms);
}
int dies_on_seven(int x) {
  if (x == 7) mproc::test::kill_this_process();
  std::this_thread::sleep_for(20ms);
  return x;
}
std::uint64_t sum_of_bytes(std::vector<std::uint8_t> bytes) {
  return std::accumulate(bytes.begin(), bytes.end(), std::uint64_t{0});
}

// Under mpiexec the job's ranks serve; run alone (the spawn setup), the first
// pool starts 2 serving ranks with MPI_Comm_spawn, as under mpiexec -n 3.
mproc::mpi::pool_options options(mproc::mpi::pool_options chosen = {}) {
  chosen.spawn_ranks = 2;
  return chosen;
}

std::vector<int> numbers(int n) {
  std::vector<int> out(static_cast<std::size_t>(n));
  std::iota(out.begin(), out.end(), 0);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(mpi_pool)

BOOST_AUTO_TEST_CASE(a_map_keeps_the_order_and_uses_every_rank) {
  mproc::mpi::pool workers(options());
  BOOST_TEST(workers.processes() == static_cast<std::size_t>(mproc::mpi::pool::size() - 1));
  const auto squares = workers.map(square, numbers(1000), 1);
  for (int i = 0; i < 1000; ++i) BOOST_TEST(squares[static_cast<std::size_t>(i)] == i * i);
  const auto ranks = workers.map(which_rank, numbers(200), 1);
  const std::set<int> seen(ranks.begin(), ranks.end());
  BOOST_TEST(seen.size() == workers.processes());
  BOOST_TEST(!seen.contains(0));
}

// Numbers to numbers go the short way (read and written in place on the
// ranks): sizes of argument and result differ here, and chunks are uneven.
BOOST_AUTO_TEST_CASE(numbers_of_one_type_map_to_another) {
  mproc::mpi::pool workers(options());
  std::vector<double> inputs(100'003);
  for (std::size_t i = 0; i < inputs.size(); ++i) inputs[i] = static_cast<double>(i);
  const std::vector<float> halves = workers.map(halve, inputs, 7'000);
  BOOST_TEST_REQUIRE(halves.size() == inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) BOOST_TEST_REQUIRE(halves[i] == static_cast<float>(inputs[i] / 2));
}

BOOST_AUTO_TEST_CASE(starmap_apply_and_a_callback_run_exactly_once) {
  mproc::mpi::pool workers(options());
  const std::vector<std::tuple<int, int>> pairs{{2, 8}, {3, 4}, {10, 3}};
  BOOST_TEST(workers.starmap(power, pairs) == (std::vector<int>{256, 81, 1000}));
  BOOST_TEST(workers.apply(square, 12) == 144);
  std::atomic<int> calls{0};
  std::atomic<int> got{0};
  auto later = workers.apply_async(square, 13);
  later.then([&](int value) {
    got = value;
    ++calls;
  });
  BOOST_TEST(later.get() == 169);
  BOOST_TEST(mproc::test::eventually([&] { return calls.load() == 1; }));
  std::this_thread::sleep_for(100ms);
  BOOST_TEST(calls.load() == 1);
  BOOST_TEST(got.load() == 169);
}

BOOST_AUTO_TEST_CASE(a_task_that_throws_fails_alone) {
  mproc::mpi::pool workers(options());
  auto results = workers.map_async(fails_on_three, numbers(10), 1);
  BOOST_CHECK_EXCEPTION(results.get(), mproc::remote_error, [](const mproc::remote_error& e) {
    return std::string(e.what()).find("three is not welcome") != std::string::npos;
  });
  BOOST_TEST(workers.apply(square, 5) == 25);
}

BOOST_AUTO_TEST_CASE(empty_inputs_give_empty_results) {
  mproc::mpi::pool workers(options());
  BOOST_TEST(workers.map(square, std::vector<int>{}).empty());
  int count = 0;
  for ([[maybe_unused]] int v : workers.imap_unordered(square, std::vector<int>{})) ++count;
  BOOST_TEST(count == 0);
}

BOOST_AUTO_TEST_CASE(items_of_64_mib_travel_both_ways) {
  mproc::mpi::pool workers(options());
  std::vector<std::uint8_t> big(std::size_t{64} << 20);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7);
  const std::uint64_t expected = std::accumulate(big.begin(), big.end(), std::uint64_t{0});
  BOOST_TEST(workers.apply(sum_of_bytes, big) == expected);
}

BOOST_AUTO_TEST_CASE(a_hundred_thousand_small_tasks) {
  mproc::mpi::pool workers(options());
  const auto doubled = workers.map(twice, numbers(100000));
  BOOST_TEST_REQUIRE(doubled.size() == 100000u);
  for (int i = 0; i < 100000; ++i) BOOST_TEST_REQUIRE(doubled[static_cast<std::size_t>(i)] == 2 * i);
  long long lazy = 0;
  for (int v : workers.imap_unordered(square, numbers(10000), 1)) lazy += v;
  long long expected = 0;
  for (int i = 0; i < 10000; ++i) expected += static_cast<long long>(i) * i;
  BOOST_TEST(lazy == expected);
}

BOOST_AUTO_TEST_CASE(a_task_past_its_timeout_fails_and_the_others_go_on) {
  mproc::mpi::pool workers(options());
  auto slow = workers.apply_async(mproc::task_timeout(300ms), sleeps, 3000);
  const auto start = std::chrono::steady_clock::now();
  BOOST_CHECK_THROW(slow.get(), mproc::timeout_error);
  BOOST_TEST((std::chrono::steady_clock::now() - start < 2s));
  BOOST_TEST(workers.apply(square, 6) == 36);  // on another rank
}

BOOST_AUTO_TEST_CASE(a_task_not_sent_yet_can_be_cancelled) {
  mproc::mpi::pool workers(options());
  const mproc::test::scratch_dir dir;
  const std::string started = dir.file("started");
  std::vector<mproc::async_result<int>> results;
  results.push_back(workers.apply_async(says_started_then_sleeps, started, 300));
  for (int i = 1; i < 12; ++i) results.push_back(workers.apply_async(sleeps, 300));
  BOOST_TEST(results.back().cancel());  // two per rank are sent at most: the last is still queued
  BOOST_CHECK_THROW(results.back().get(), mproc::cancelled_error);
  // Sent (even with the ranks still starting, as a loaded machine makes them):
  // once it runs, it runs to its end.
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  while (mproc::test::read_file(started).empty() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(5ms);
  }
  BOOST_TEST_REQUIRE(!mproc::test::read_file(started).empty());
  BOOST_TEST(!results.front().cancel());
  BOOST_TEST(results.front().get() == 300);
}

BOOST_AUTO_TEST_CASE(progress_moves_to_the_total) {
  std::vector<std::pair<std::size_t, std::size_t>> calls;
  std::mutex guard;
  mproc::mpi::pool workers(options({.progress = [&](std::size_t done, std::size_t total) {
    std::scoped_lock lock(guard);
    calls.emplace_back(done, total);
  }}));
  BOOST_TEST(workers.map(square, numbers(40), 4).size() == 40u);
  std::scoped_lock lock(guard);
  BOOST_TEST_REQUIRE(calls.size() == 10u);
  for (std::size_t i = 1; i < calls.size(); ++i) BOOST_TEST(calls[i].first > calls[i - 1].first);
  BOOST_TEST(calls.back().first == 40u);
  BOOST_TEST(calls.back().second == 40u);
}

// Rank 0 says it is alive between pools too: ranks that heard nothing from it
// for longer than the silence limit would end themselves.
BOOST_AUTO_TEST_CASE(ranks_outlive_a_pause_between_pools) {
  {
    mproc::mpi::pool workers(options({.silence_limit = 1000ms}));
    BOOST_TEST(workers.apply(square, 2) == 4);
  }
  std::this_thread::sleep_for(2500ms);
  mproc::mpi::pool workers(options({.silence_limit = 1000ms}));
  BOOST_TEST(workers.processes() == static_cast<std::size_t>(mproc::mpi::pool::size() - 1));
  const auto ranks = workers.map(which_rank, numbers(100), 1);
  BOOST_TEST(std::set<int>(ranks.begin(), ranks.end()).size() == workers.processes());
}

// A rank SIGKILLed in the middle of a map: its task fails with
// worker_lost_error naming the rank and host, within the silence limit and a
// little, and every other task completes.
BOOST_AUTO_TEST_CASE(a_rank_killed_in_a_map_fails_its_task_alone) {
  mproc::mpi::pool workers(options({.silence_limit = 2000ms}));
  const auto start = std::chrono::steady_clock::now();
  std::vector<mproc::async_result<int>> results;
  for (int i = 0; i < 40; ++i) results.push_back(workers.apply_async(dies_on_seven, i));
  int done = 0;
  std::string lost;
  for (auto& r : results) {
    try {
      r.get();
      ++done;
    } catch (const mproc::worker_lost_error& e) {
      lost += e.what();
    }
  }
  BOOST_TEST(done == 39);
  BOOST_TEST(lost.find("the MPI rank ") != std::string::npos, lost);
  BOOST_TEST(lost.find("running the task ") != std::string::npos, lost);
  BOOST_TEST(lost.find("dies_on_seven(int)") != std::string::npos, lost);
  BOOST_TEST((std::chrono::steady_clock::now() - start < 10s));
  BOOST_TEST(workers.processes() == static_cast<std::size_t>(mproc::mpi::pool::size() - 2));
  BOOST_TEST(workers.apply(square, 7) == 49);  // the pool goes on with the others
}

BOOST_AUTO_TEST_SUITE_END()
