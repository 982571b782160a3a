// The process pool: results, errors, dead workers, timeouts, shutdown.
#include "support/scratch.hpp"

#include <mproc/pool.hpp>
#include <mproc/shared.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <cstdlib>
#include <map>
#include <mutex>
#include <numeric>
#include <random>
#include <ranges>
#include <sstream>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <vector>


using namespace std::chrono_literals;

namespace {

int square(int x) { return x * x; }
long power(long base, long exponent) { return static_cast<long>(std::pow(base, exponent)); }
int my_pid(int) { return mproc::test::this_pid(); }
std::string my_name(int) { return mproc::current_process().name; }
bool am_daemon(int) { return mproc::current_process().daemon; }

int sleep_ms_then_return(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

int throw_on_seven(int x) {
  if (x == 7) throw std::invalid_argument("seven is not welcome");
  return x;
}

int end_badly(int how) {
  switch (how) {
    case 1: mproc::test::kill_this_process();
    case 2: std::abort();
    case 3: {
      volatile int* nowhere = nullptr;
      return *nowhere;
    }
    case 4: std::exit(3);
    default: break;
  }
  return how;
}

struct not_saveable {
  template <class Archive>
  void save(Archive&) const {
    throw std::runtime_error("cannot save this");
  }
  template <class Archive>
  void load(Archive&) {}
};
not_saveable unsaveable_result(int) { return {}; }

void failing_setup(int) { throw std::runtime_error("no setup for you"); }

int the_setting = 0;
void set_setting(int value) { the_setting = value; }
int read_setting(int) { return the_setting; }

void add_under_lock(mproc::value<int> total, int n) {
  for (int i = 0; i < n; ++i) {
    std::scoped_lock hold(total.get_lock());
    total.ref() += 1;
  }
}

// Dies the first time it runs for a given counter, succeeds the second time.
int die_once(mproc::atomic_value<int> runs) {
  if (runs.fetch_add(1) == 0) mproc::test::kill_this_process();
  return 42;
}

// Kills its worker the first time it runs for 5 (per test process): a folder,
// which only one process can create, remembers.
std::filesystem::path five_mark(int test_pid) {
  return std::filesystem::temp_directory_path() / ("mproc-pool-test-" + std::to_string(test_pid) + "-five");
}

int die_once_at_five(int x) {
  if (x == 5 && std::filesystem::create_directory(five_mark(mproc::test::parent_pid()))) {
    mproc::test::kill_this_process();
  }
  return x * x;
}

void forget_the_mark() {
  std::error_code ignored;
  std::filesystem::remove(five_mark(mproc::test::this_pid()), ignored);
}

void map_in_a_child() {
  mproc::pool inner(2);
  const auto squares = inner.map(square, std::vector<int>{1, 2, 3, 4});
  std::exit(squares == std::vector<int>{1, 4, 9, 16} ? 0 : 7);
}

std::vector<int> range(int n) {
  std::vector<int> all(static_cast<std::size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  return all;
}

std::vector<int> squares_of(int n) {
  std::vector<int> all;
  for (int i = 0; i < n; ++i) all.push_back(i * i);
  return all;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(results)

BOOST_AUTO_TEST_CASE(map_keeps_order_for_every_chunksize) {
  mproc::pool workers(2);
  for (std::size_t chunksize : {std::size_t{1}, std::size_t{20}, std::size_t{0}}) {
    BOOST_TEST(workers.map(square, range(500), chunksize) == squares_of(500), boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(map_of_nothing_is_empty_at_once) {
  mproc::pool workers(2);
  BOOST_TEST(workers.map(square, std::vector<int>{}).empty());
}

BOOST_AUTO_TEST_CASE(starmap_apply_and_apply_async) {
  mproc::pool workers(2);
  const std::vector<std::tuple<long, long>> pairs{{2, 3}, {3, 2}, {10, 0}};
  BOOST_TEST(workers.starmap(power, pairs) == (std::vector<long>{8, 9, 1}), boost::test_tools::per_element());
  BOOST_TEST(workers.apply(power, 2L, 10L) == 1024);
  auto later = workers.apply_async(square, 12);
  BOOST_TEST(later.get(10s) == 144);
  BOOST_TEST(later.ready());
  BOOST_TEST(later.successful());
}

BOOST_AUTO_TEST_CASE(async_result_waits_and_times_out) {
  mproc::pool workers(1);
  auto slow = workers.apply_async(sleep_ms_then_return, 400);
  BOOST_TEST(!slow.ready());
  BOOST_CHECK_THROW(slow.successful(), mproc::error);
  BOOST_CHECK_THROW(slow.get(50ms), mproc::timeout_error);
  BOOST_TEST(!slow.wait(10ms));
  BOOST_TEST(slow.get() == 400);
}

BOOST_AUTO_TEST_CASE(imap_in_order_and_imap_unordered_as_done) {
  mproc::pool workers(2);
  std::vector<int> in_order;
  for (int x : workers.imap(square, range(50))) in_order.push_back(x);
  BOOST_TEST(in_order == squares_of(50), boost::test_tools::per_element());
  std::vector<int> as_done;
  for (int x : workers.imap_unordered(sleep_ms_then_return, std::vector<int>{300, 10, 10})) as_done.push_back(x);
  BOOST_TEST(as_done.size() == 3u);
  BOOST_TEST(as_done.back() == 300);  // the slow one comes last
}

BOOST_AUTO_TEST_CASE(callbacks_are_called_exactly_once) {
  mproc::pool workers(2);
  std::atomic<int> successes{0};
  std::atomic<int> failures{0};
  std::atomic<int> value{0};
  auto good = workers.apply_async(square, 5);
  good.then([&](int r) { value = r; ++successes; }, [&](std::exception_ptr) { ++failures; });
  auto bad = workers.apply_async(throw_on_seven, 7);
  bad.then([&](int) { ++successes; }, [&](std::exception_ptr) { ++failures; });
  good.wait();
  bad.wait();
  good.then([&](int) { ++successes; });  // already done: called here, now
  BOOST_TEST(mproc::test::eventually([&] { return successes == 2 && failures == 1; }));
  std::this_thread::sleep_for(100ms);
  BOOST_TEST(successes == 2);
  BOOST_TEST(failures == 1);
  BOOST_TEST(value == 25);
}

// As in Python: the callback has run by the time wait() or get() returns, and
// a callback may itself wait for its result without blocking for good.
BOOST_AUTO_TEST_CASE(wait_returns_after_the_callbacks_ran) {
  mproc::pool workers(2);
  std::atomic<bool> called{false};
  auto result = workers.apply_async(square, 6);
  result.then([&](int) {
    std::this_thread::sleep_for(300ms);  // slow, so that a wait() that does not wait for it returns first
    called = true;
  });
  BOOST_TEST(result.get(10s) == 36);
  BOOST_TEST(called.load());
  std::atomic<int> seen_inside{0};
  auto again = workers.apply_async(square, 7);
  again.then([&](int) { seen_inside = again.get(5s); });
  again.wait();
  BOOST_TEST(seen_inside.load() == 49);
}

BOOST_AUTO_TEST_CASE(progress_reaches_the_total) {
  std::mutex guard;
  std::vector<std::pair<std::size_t, std::size_t>> seen;
  mproc::pool workers(mproc::pool_options{.processes = 2, .progress = [&](std::size_t done, std::size_t total) {
                                            std::scoped_lock hold(guard);
                                            seen.emplace_back(done, total);
                                          }});
  workers.map(square, range(100), 10);
  std::scoped_lock hold(guard);
  BOOST_TEST(seen.size() == 10u);
  BOOST_TEST((seen.back() == std::pair<std::size_t, std::size_t>{100, 100}));
  BOOST_TEST(std::is_sorted(seen.begin(), seen.end()));
}

BOOST_AUTO_TEST_CASE(shared_objects_travel_to_tasks) {
  mproc::pool workers(2);
  mproc::value<int> total;
  std::vector<mproc::async_result<void>> done;
  for (int i = 0; i < 8; ++i) done.push_back(workers.apply_async(add_under_lock, total, 100));
  for (auto& d : done) d.get();
  BOOST_TEST(total.get() == 800);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(workers)

BOOST_AUTO_TEST_CASE(pool_size_and_bad_sizes) {
  mproc::pool automatic(0);
  BOOST_TEST(automatic.processes() == mproc::cpu_count());
  BOOST_CHECK_THROW(mproc::pool(-1), mproc::error);
  BOOST_CHECK_THROW(mproc::pool(100000), mproc::error);
}

BOOST_AUTO_TEST_CASE(workers_are_named_daemons) {
  mproc::pool workers(2);
  for (const auto& name : workers.map(my_name, range(10), 1)) BOOST_TEST(name.starts_with("PoolWorker-"));
  for (bool daemon : workers.map(am_daemon, range(4), 1)) BOOST_TEST(daemon);
}

BOOST_AUTO_TEST_CASE(the_initializer_runs_before_any_task) {
  mproc::pool workers(mproc::pool_options{.processes = 2, .initializer = mproc::initializer(set_setting, 77)});
  for (int setting : workers.map(read_setting, range(20), 1)) BOOST_TEST(setting == 77);
}

BOOST_AUTO_TEST_CASE(maxtasksperchild_replaces_every_worker) {
  mproc::pool workers(mproc::pool_options{.processes = 2, .maxtasksperchild = 10});
  const auto pids = workers.map(my_pid, range(100), 1);
  std::map<int, int> tasks_of;
  for (int pid : pids) ++tasks_of[pid];
  BOOST_TEST(tasks_of.size() >= 10u);
  for (const auto& [pid, count] : tasks_of) BOOST_TEST(count <= 10);
}

MPROC_TEST_EACH_METHOD(map_inside_a_child_process_works) {
  mproc::process child(mproc::test::with(method), map_in_a_child);
  child.start();
  child.join();
  BOOST_TEST(child.exitcode().value() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(failures)

BOOST_AUTO_TEST_CASE(a_throwing_task_is_a_remote_error_with_type_and_message) {
  mproc::pool workers(2);
  try {
    workers.apply(throw_on_seven, 7);
    BOOST_FAIL("no error");
  } catch (const mproc::remote_error& e) {
    BOOST_TEST(e.type() == "std::invalid_argument");
    BOOST_TEST(std::string(e.what()).find("seven is not welcome") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(map_reports_the_error_and_the_other_tasks_finish) {
  mproc::pool workers(2);
  auto job = workers.map_async(throw_on_seven, range(20), 1);
  BOOST_CHECK_THROW(job.get(), mproc::remote_error);
  BOOST_TEST(!job.successful());
  std::vector<int> seen;
  for (int i = 0; i < 20; ++i) {
    if (i != 7) BOOST_TEST(workers.apply(throw_on_seven, i) == i);
  }
}

BOOST_AUTO_TEST_CASE(a_result_that_cannot_be_serialised_fails_its_task_only) {
  mproc::pool workers(1);
  const auto before = workers.worker_pids();
  BOOST_CHECK_THROW(workers.apply(unsaveable_result, 1), mproc::serialization_error);
  BOOST_TEST(workers.apply(square, 3) == 9);
  BOOST_TEST(workers.worker_pids() == before);  // the worker lives
}

MPROC_TEST_EACH_METHOD(a_worker_that_dies_fails_its_task_and_is_replaced) {
  mproc::pool workers(mproc::pool_options{.processes = 2, .method = method});
  using ending = std::pair<std::string, int>;  // what the error says, the exit code
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer turns a segfault into its report and exit code 1.
  const ending segfault{"code 1", 1};
#else
  // Windows reports an access violation as its exception code, said by name.
  const ending segfault = mproc::test::posix_system
                              ? ending{"SIGSEGV", -SIGSEGV}
                              : ending{"EXCEPTION_ACCESS_VIOLATION (0xC0000005)", int(0xC0000005u)};
#endif
  // abort() ends a Windows program with exit code 3.
  const ending aborted = mproc::test::posix_system ? ending{"SIGABRT", -SIGABRT} : ending{"code 3", 3};
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer reports a segfault itself (exit code 66) and runs a
  // forked child's inherited Boost.Test handler on abort(): only the endings
  // it leaves alone are checked in that build.
  const std::map<int, ending> endings{{1, {"SIGKILL", -9}}, {4, {"code 3", 3}}};
#else
  const std::map<int, ending> endings{{1, {"SIGKILL", -9}}, {2, aborted}, {3, segfault}, {4, {"code 3", 3}}};
#endif
  for (const auto& [how, expected] : endings) {
    auto others = workers.map_async(sleep_ms_then_return, std::vector<int>(10, 20), 1);
    try {
      workers.apply(end_badly, how);
      BOOST_FAIL("no error");
    } catch (const mproc::worker_lost_error& e) {
      BOOST_TEST(std::string(e.what()).find(expected.first) != std::string::npos, e.what());
      BOOST_TEST(e.pid() > 0);
      BOOST_TEST(e.exit_code() == expected.second);
    }
    BOOST_TEST(others.get(30s) == std::vector<int>(10, 20));  // every other task completed
  }
  BOOST_TEST(workers.map(square, range(10)) == squares_of(10));
  BOOST_TEST(workers.worker_pids().size() == 2u);
}

// Maps of plain values run as team jobs (chunks claimed in shared memory):
// the same guarantees hold there.
BOOST_AUTO_TEST_CASE(a_worker_lost_in_a_plain_map_fails_the_map_and_the_pool_goes_on) {
  forget_the_mark();
  mproc::pool workers(2);
  auto job = workers.map_async(die_once_at_five, range(20), 1);
  BOOST_CHECK_THROW(job.get(), mproc::worker_lost_error);
  BOOST_TEST(workers.map(die_once_at_five, range(20), 1) == squares_of(20), boost::test_tools::per_element());
  forget_the_mark();
}

BOOST_AUTO_TEST_CASE(a_chunk_lost_in_a_plain_map_runs_again_when_asked) {
  forget_the_mark();
  mproc::pool workers(mproc::pool_options{.processes = 2, .retry_lost_tasks = true});
  BOOST_TEST(workers.map(die_once_at_five, range(20), 1) == squares_of(20), boost::test_tools::per_element());
  forget_the_mark();
}

BOOST_AUTO_TEST_CASE(a_chunk_over_its_timeout_in_a_plain_map_fails_promptly) {
  mproc::pool workers(mproc::pool_options{.processes = 2, .task_timeout = std::chrono::milliseconds(300)});
  const auto start = std::chrono::steady_clock::now();
  BOOST_CHECK_THROW(workers.map(sleep_ms_then_return, std::vector<int>{10, 20000, 10}, 1), mproc::timeout_error);
  BOOST_TEST((std::chrono::steady_clock::now() - start < 5s));
  BOOST_TEST(workers.map(square, range(100)) == squares_of(100));
}

BOOST_AUTO_TEST_CASE(plain_maps_one_after_another_while_a_worker_is_busy) {
  // The busy worker takes its share of each map late, after the map has ended
  // and its shared memory went to the next map: late shares must claim nothing.
  mproc::pool workers(2);
  for (int round = 0; round < 5; ++round) {
    auto busy = workers.apply_async(sleep_ms_then_return, 100);
    for (int i = 0; i < 5; ++i) {
      BOOST_TEST(workers.map(square, range(2000), 100) == squares_of(2000), boost::test_tools::per_element());
    }
    BOOST_TEST(busy.get() == 100);
  }
}

// A share reads its job's layout as it goes (the chunk count, the counter), so
// a finished map's shared memory goes to the next map only once every share
// given out has ended. (It went at once: a worker caught in its share between
// two reads spun for ever on chunk indexes past the new map's end.)
BOOST_AUTO_TEST_CASE(a_finished_maps_shared_memory_waits_for_its_late_share,
                     *mproc::test::posix_only("counts blocks in /dev/shm")) {
  mproc::pool workers(2);
  const std::string ours = "mproc_" + std::to_string(mproc::test::this_pid()) + "_";
  auto blocks = [&] {
    return std::ranges::count_if(mproc::test::shared_memory_names(), [&](const auto& n) { return n.starts_with(ours); });
  };
  // The map's share waits behind it, for longer than two maps take: under ASan
  // on a loaded host they once took over a second, the share ended, and the
  // second map rightly reused the first one's block.
  const int busy_ms = mproc::test::under_sanitizer ? 5000 : 1500;
  auto busy = workers.apply_async(sleep_ms_then_return, busy_ms);
  BOOST_TEST(workers.map(square, range(2000), 100) == squares_of(2000), boost::test_tools::per_element());
  const auto before = blocks();
  BOOST_TEST(workers.map(square, range(2000), 100) == squares_of(2000), boost::test_tools::per_element());
  BOOST_TEST(blocks() == before + 1);  // its own block: the first map's is not free yet
  BOOST_TEST(busy.get() == busy_ms);
  BOOST_TEST(workers.map(square, range(2000), 100) == squares_of(2000), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_plain_map_with_a_throwing_task_reports_it) {
  mproc::pool workers(2);
  try {
    workers.map(throw_on_seven, range(20), 3);
    BOOST_FAIL("no error");
  } catch (const mproc::remote_error& e) {
    BOOST_TEST(e.type() == "std::invalid_argument");
  }
}

BOOST_AUTO_TEST_CASE(a_lost_task_runs_again_when_asked) {
  mproc::pool workers(mproc::pool_options{.processes = 2, .retry_lost_tasks = true});
  mproc::atomic_value<int> runs;
  BOOST_TEST(workers.apply(die_once, runs) == 42);
  BOOST_TEST(runs.load() == 2);
}

BOOST_AUTO_TEST_CASE(a_task_over_its_timeout_fails_and_its_worker_is_replaced) {
  mproc::pool workers(2);
  const auto start = std::chrono::steady_clock::now();
  auto late = workers.apply_async(mproc::task_timeout(300ms), sleep_ms_then_return, 20000);
  BOOST_CHECK_THROW(late.get(), mproc::timeout_error);
  BOOST_TEST((std::chrono::steady_clock::now() - start < 5s));
  BOOST_TEST(workers.apply_async(mproc::task_timeout(5s), square, 6).get() == 36);
  BOOST_TEST(workers.map(square, range(10)) == squares_of(10));
}

BOOST_AUTO_TEST_CASE(workers_killed_from_outside_lose_no_task) {
  mproc::pool workers(4);
  std::vector<mproc::async_result<int>> results;
  for (int i = 0; i < 200; ++i) results.push_back(workers.apply_async(sleep_ms_then_return, 5 + i % 20));
  std::mt19937 random(12345);
  for (int kill = 0; kill < 10; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + random() % 60));
    const auto pids = workers.worker_pids();
    if (!pids.empty()) mproc::test::kill_process(pids[random() % pids.size()]);
  }
  int succeeded = 0;
  int lost = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    try {
      BOOST_TEST(results[i].get(60s) == 5 + static_cast<int>(i) % 20);
      ++succeeded;
    } catch (const mproc::worker_lost_error&) {
      ++lost;
    }
  }
  BOOST_TEST(succeeded + lost == 200);
  BOOST_TEST(lost <= 10);
  BOOST_TEST(workers.map(square, range(100)) == squares_of(100));
}

BOOST_AUTO_TEST_CASE(workers_that_cannot_start_fail_the_tasks_instead_of_looping) {
  mproc::pool workers(mproc::pool_options{.processes = 2, .initializer = mproc::initializer(failing_setup, 1)});
  const auto start = std::chrono::steady_clock::now();
  // Workers that fail at once can make the pool give up before a call is
  // made: then the call itself throws why, else its task fails with it.
  try {
    workers.map_async(square, range(10)).get();
    BOOST_FAIL("no error");
  } catch (const mproc::error& e) {
    BOOST_TEST(std::string(e.what()).find("keep dying") != std::string::npos, e.what());
  }
  try {
    workers.apply(square, 2);
    BOOST_FAIL("no error");
  } catch (const mproc::error& e) {
    BOOST_TEST(std::string(e.what()).find("keep dying") != std::string::npos, e.what());
  }
  BOOST_TEST((std::chrono::steady_clock::now() - start < 20s));
  BOOST_CHECK_THROW(workers.apply(square, 2), mproc::error);  // the pool says why it gave up
}

BOOST_AUTO_TEST_CASE(terminate_returns_promptly_with_ten_thousand_long_tasks_pending) {
  mproc::pool workers(2);
  auto pending = workers.map_async(sleep_ms_then_return, std::vector<int>(10000, 10000), 1);
  std::this_thread::sleep_for(200ms);
  const auto start = std::chrono::steady_clock::now();
  workers.terminate();
  BOOST_TEST((std::chrono::steady_clock::now() - start < 3s));
  BOOST_CHECK_THROW(pending.get(1s), mproc::closed_error);
  workers.join();
  BOOST_CHECK_THROW(workers.apply(square, 1), mproc::closed_error);
}

BOOST_AUTO_TEST_CASE(close_refuses_tasks_and_join_needs_it) {
  mproc::pool workers(2);
  BOOST_CHECK_THROW(workers.join(), mproc::error);
  auto last = workers.apply_async(sleep_ms_then_return, 100);
  workers.close();
  BOOST_CHECK_THROW(workers.apply_async(square, 1), mproc::closed_error);
  workers.join();
  BOOST_TEST(last.get() == 100);  // what was given before close() finished
}

BOOST_AUTO_TEST_SUITE_END()

// --- lazy maps: inputs read as results are --------------------------------------

namespace {

// An input range that can be read once only: numbers from a stream.
std::vector<int> read_once_numbers(int n) {
  std::vector<int> all(static_cast<std::size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  return all;
}

// This process's resident memory now (Linux; 0 elsewhere).
std::size_t resident_bytes() {
  const std::string statm = mproc::test::read_file("/proc/self/statm");
  if (statm.empty()) return 0;
  const auto space = statm.find(' ');
  return std::stoull(statm.substr(space + 1)) * 4096;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lazy_maps)

MPROC_TEST_EACH_METHOD(an_endless_imap_can_be_left_and_the_pool_goes_on) {
  mproc::pool workers(mproc::pool_options{.processes = 2, .method = method});
  std::size_t seen = 0;
  long long sum = 0;
  for (int s : workers.imap(square, std::views::iota(0), 1)) {
    sum += s;
    if (++seen == 10000) break;
  }
  BOOST_TEST(seen == 10000u);
  BOOST_TEST(sum == 333283335000LL);  // the squares of 0..9999, in order
  BOOST_TEST(workers.map(square, range(100)) == squares_of(100));  // the pool is free for the next job
  std::set<int> unordered;
  for (int s : workers.imap_unordered(square, std::views::iota(0), 4)) {
    unordered.insert(s);
    if (unordered.size() == 1000) break;
  }
  BOOST_TEST(unordered.size() == 1000u);
  BOOST_TEST(workers.apply(square, 7) == 49);
}

BOOST_AUTO_TEST_CASE(an_input_range_read_once_works) {
  mproc::pool workers(2);
  std::istringstream text("1 2 3 4 5 6 7 8 9 10");
  std::vector<int> squares;
  for (int s : workers.imap(square, std::views::istream<int>(text), 3)) squares.push_back(s);
  BOOST_TEST(squares == (std::vector<int>{1, 4, 9, 16, 25, 36, 49, 64, 81, 100}));
  // An rvalue range is kept by the result.
  std::vector<int> got;
  for (int s : workers.imap(square, read_once_numbers(50))) got.push_back(s);
  BOOST_TEST(got == squares_of(50));
}

// 20 M inputs: read eagerly, their copy alone would take 80 MB, their messages
// and results as much again each.
BOOST_AUTO_TEST_CASE(a_long_imap_keeps_memory_flat, *mproc::test::posix_only("reads /proc/self/statm")) {
  mproc::pool workers(2);
  const std::size_t before = resident_bytes();
  std::size_t most = before;
  long long count = 0;
  auto inputs = std::views::iota(0, 20'000'000) | std::views::transform([](int i) { return i % 1000; });
  for (int s : workers.imap(square, inputs, 1000)) {
    if (s < 0) break;
    if (++count % 1'000'000 == 0) most = std::max(most, resident_bytes());
  }
  BOOST_TEST(count == 20'000'000);
// ASan keeps freed memory aside (256 MB of it) to catch uses after free, and
// ThreadSanitizer's shadow memory grows with what the program touches.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  BOOST_TEST(most - before < (std::size_t{64} << 20), "grew by " << (most - before) / 1048576 << " MiB");
#endif
}

BOOST_AUTO_TEST_CASE(the_progress_callback_counts_across_a_lazy_imap) {
  std::mutex guard;
  std::size_t most = 0;
  std::size_t total_seen = 0;
  mproc::pool workers(mproc::pool_options{.processes = 2, .progress = [&](std::size_t done, std::size_t total) {
                                            std::scoped_lock lock(guard);
                                            most = std::max(most, done);
                                            total_seen = total;
                                          }});
  long long sum = 0;
  for (int s : workers.imap_unordered(square, range(100), 3)) sum += s;
  BOOST_TEST(sum == 328350);
  std::scoped_lock lock(guard);
  BOOST_TEST(most == 100u);  // items, across the imap's chunks
  BOOST_TEST(total_seen == 100u);
}

BOOST_AUTO_TEST_CASE(an_imap_reads_on_after_close_and_stops_at_join) {
  mproc::pool workers(2);
  auto results = workers.imap(square, std::views::iota(0, 1000), 1, 4);  // a small buffer: most inputs unread
  auto endless = workers.imap(square, std::views::iota(0), 1, 4);
  workers.close();
  std::vector<int> got;
  for (int s : results) got.push_back(s);
  BOOST_TEST(got == squares_of(1000));  // read on after close(), as Python's imap
  BOOST_CHECK_THROW(workers.imap(square, std::views::iota(0), 1, 4), mproc::closed_error);  // a new one is refused
  workers.join();  // waits for what is in the pool, then ends the workers
  std::size_t read = 0;
  BOOST_CHECK_THROW(
      for (int s : endless) read += s >= 0 ? 1 : 0, mproc::closed_error);  // what was in the pool, then the error
  BOOST_TEST(read >= 2u);
}

BOOST_AUTO_TEST_SUITE_END()
