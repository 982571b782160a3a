// Stopping work and replacing workers: a task past its timeout asked to stop
// (this_task::stop_requested()) before its worker is killed, cancel() of a task
// that a worker holds or runs, Ctrl-C of a program running a pool, and workers
// replaced when they hold too much memory, and tasks that keep killing their
// workers quarantined; a worker the OOM killer ended is said to be.
#include "support/scratch.hpp"

#include "child_handle.hpp"  // ended_by_interrupt
#include "launch.hpp"

#include <mproc/pool.hpp>
#include <mproc/shared.hpp>
#include <mproc/sync.hpp>
#include <mproc/this_task.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using mproc::test::read_file;
using mproc::test::write_file;

namespace {

int square(int x) { return x * x; }

// Works until asked to stop (for at most `ms`); says whether it was asked.
int until_stopped(int ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
    if (mproc::this_task::stop_requested()) return 1;
    std::this_thread::sleep_for(1ms);
  }
  return 0;
}

// Says it started, works until asked to stop, and says that it was asked.
int started_then_until_stopped(mproc::event started, mproc::event saw_stop) {
  started.set();
  if (until_stopped(20000) == 1) saw_stop.set();
  return mproc::test::this_pid();
}

int ignores_stop(mproc::event started) {
  started.set();
  std::this_thread::sleep_for(20s);
  return 0;
}

int count_run(mproc::atomic_value<int> runs) { return runs.fetch_add(1) + 1; }

int wait_for(mproc::event go) {
  go.wait(20s);
  return 7;
}

int slow_task(int x) {
  std::this_thread::sleep_for(30s);
  return x;
}

void sleep_long() { std::this_thread::sleep_for(30s); }

volatile std::sig_atomic_t interrupted = 0;
extern "C" void note_interrupt(int) { interrupted = 1; }

// What each of `results` failed with, a line each.
template <class Results>
std::string failures_of(Results& results) {
  std::string said;
  for (auto& result : results) {
    try {
      result.get();
      said += "no error\n";
    } catch (const std::exception& e) {
      said += std::string(e.what()) + "\n";
    }
  }
  return said;
}

// A program run from a terminal: a pool busy with long tasks (a map of plain
// values, which is a team job, and single tasks), a process, shared memory. It
// writes its children's pids to `path`.pids, then waits for its tasks; if it
// handles SIGINT, it writes what they failed with to `path` and returns.
void terminal_program(std::string path, int method_number, bool handles) {
  const auto method = static_cast<mproc::start_method>(method_number);
  mproc::test::become_terminal_program();
  mproc::value<int> shared(0);
  mproc::pool workers(mproc::pool_options{.processes = 2, .method = method});
  mproc::process sleeper(mproc::process_options{.method = method}, sleep_long);
  sleeper.start();
  if (handles) std::signal(SIGINT, note_interrupt);
  std::vector<mproc::async_result<std::vector<int>>> maps{
      workers.map_async(slow_task, std::vector<int>{1, 2, 3, 4}, 1)};
  std::vector<mproc::async_result<int>> singles;
  for (int i = 0; i < 4; ++i) singles.push_back(workers.apply_async(slow_task, i));
  std::string pids = std::to_string(sleeper.pid());
  for (int pid : workers.worker_pids()) pids += " " + std::to_string(pid);
  write_file(path + ".pids", pids);
  const std::string said = failures_of(maps) + failures_of(singles);
  write_file(path, said + "interrupted=" + std::to_string(interrupted));
}

std::vector<int> pids_in(const std::string& text) {
  std::vector<int> pids;
  std::istringstream words(text);
  for (int pid = 0; words >> pid;) pids.push_back(pid);
  return pids;
}

// Ctrl-C to the process group of a program running a pool: the program ends
// (by SIGINT, or on its own if it handles it) within 10 s, every process it
// started ends, and nothing of it is left in /dev/shm.
void ctrl_c_reaches_a_program(mproc::start_method method, bool handles) {
  mproc::test::adopt_orphans();  // the program's children, if it dies first
  mproc::test::scratch_dir dir;
  const std::string path = dir.file("program");
  // Spawned: the test's own children are the program alone (no fork server of its own).
  mproc::process program(mproc::process_options{.method = mproc::start_method::spawn}, terminal_program, path,
                         static_cast<int>(method), handles);
  program.start();
  BOOST_REQUIRE(mproc::test::eventually([&] { return !read_file(path + ".pids").empty(); }));
  const auto children = pids_in(read_file(path + ".pids"));
  std::this_thread::sleep_for(300ms);  // the workers take their tasks
  const auto start = std::chrono::steady_clock::now();
  mproc::test::interrupt_process_group(program.pid());
  BOOST_REQUIRE_MESSAGE(program.join(10s), "the program did not end within 10 s of Ctrl-C");
  BOOST_TEST_MESSAGE("ended in " << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
                                 << " s");
  if (handles) {
    BOOST_TEST(program.exitcode().value() == 0);
    const std::string said = read_file(path);
    BOOST_TEST(said.find("interrupted=1") != std::string::npos, said);
    BOOST_TEST(said.find("no error") == std::string::npos, said);
    BOOST_TEST(said.find("the pool was interrupted") != std::string::npos, said);
  } else {
    BOOST_TEST(mproc::detail::ended_by_interrupt(program.exitcode().value()), *program.exitcode());
  }
  for (int pid : children) {
    BOOST_TEST(mproc::test::eventually([&] { return !mproc::test::process_running(pid); }), "pid " << pid);
  }
  // No orphan: every process the program left (its children, its fork server,
  // its resource tracker) was given to this test, and ends; the test reaps them.
  BOOST_TEST(mproc::test::eventually([&] {
    for (int pid : mproc::test::zombie_children()) mproc::test::reap_adopted(pid);
    return mproc::test::children_of_this_process().empty();
  }));
  const std::string ours = "mproc_" + std::to_string(program.pid()) + "_";
  BOOST_TEST(mproc::test::eventually([&] {
    for (const auto& name : mproc::test::shared_memory_names()) {
      if (name.starts_with(ours)) return false;
    }
    return true;
  }), "a block of the program was left in /dev/shm");
}

// Keeps `mib` MiB more of written memory in the worker; says which worker it is.
int grow_by(int mib) {
  static std::vector<std::unique_ptr<char[]>> kept;
  const std::size_t bytes = static_cast<std::size_t>(mib) << 20;
  kept.push_back(std::make_unique<char[]>(bytes));
  std::memset(kept.back().get(), 1, bytes);
  return mproc::test::this_pid();
}

std::size_t resident_now(int) { return mproc::detail::resident_bytes(); }

int always_dies(mproc::atomic_value<int> runs) {
  runs.fetch_add(1);
  mproc::test::kill_this_process();
}

// Where the runs of item 7 are counted (a byte each), per test process.
std::filesystem::path runs_of_seven(int test_pid) {
  return std::filesystem::temp_directory_path() / ("mproc-stopping-test-" + std::to_string(test_pid) + "-seven");
}

int dies_at_seven(int x) {
  if (x == 7) {
    std::ofstream(runs_of_seven(mproc::test::parent_pid()), std::ios::app) << 'x';
    mproc::test::kill_this_process();
  }
  return x;
}

// Writes memory until something stops it (8 GiB at most).
int eat_memory(int) {
  std::vector<std::unique_ptr<char[]>> eaten;
  for (int i = 0; i < 8192; ++i) {
    eaten.push_back(std::make_unique<char[]>(std::size_t{1} << 20));
    std::memset(eaten.back().get(), 1, std::size_t{1} << 20);
  }
  return static_cast<int>(eaten.size());
}

// Runs a pool in the memory cgroup `cgroup` (its workers are in it too) and
// writes what a task that eats memory failed with.
void pool_in_cgroup(std::string cgroup, std::string path, int method) {
  mproc::test::enter_cgroup(cgroup);
  mproc::pool workers(mproc::pool_options{.processes = 1, .method = static_cast<mproc::start_method>(method)});
  try {
    workers.apply(eat_memory, 0);
    write_file(path, "no error");
  } catch (const mproc::worker_lost_error& e) {
    write_file(path, e.what());
  }
}

// Allocates and touches `mib` MiB; returns this worker's pid.
int allocates(std::size_t mib) {
  const std::vector<char> block(mib << 20, 1);  // touched: filled with ones
  return mproc::test::this_pid() + static_cast<int>(std::count(block.begin(), block.end(), 0));
}

int dumps_core(std::string dir) { mproc::test::abort_with_core_in(dir); }

int dies_on_two(int x) {
  if (x == 2) mproc::test::kill_this_process();
  return x;
}

std::size_t dies_on_two_text(std::string text) { return static_cast<std::size_t>(dies_on_two(std::stoi(text))); }

// What a call that must fail with worker_lost_error says.
template <class Call>
std::string lost_because(Call call) {
  try {
    call();
  } catch (const mproc::worker_lost_error& e) {
    return e.what();
  }
  return "no worker_lost_error";
}

std::string what_of(mproc::async_result<int>& result) {
  try {
    result.get();
  } catch (const mproc::error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(soft_timeouts)

MPROC_TEST_EACH_METHOD(a_task_past_its_timeout_is_asked_to_stop_and_its_worker_goes_on) {
  mproc::pool workers(mproc::pool_options{.processes = 1, .method = method, .stop_grace = 10s});
  const auto before = workers.worker_pids();
  const auto start = std::chrono::steady_clock::now();
  auto late = workers.apply_async(mproc::task_timeout(300ms), until_stopped, 20000);
  BOOST_CHECK_THROW(late.get(), mproc::timeout_error);
  BOOST_TEST((std::chrono::steady_clock::now() - start < 5s));
  BOOST_TEST(what_of(late).find("asked to stop") != std::string::npos, what_of(late));
  BOOST_TEST(workers.apply(square, 6) == 36);
  BOOST_TEST(workers.worker_pids() == before);  // not replaced
}

MPROC_TEST_EACH_METHOD(a_task_that_does_not_stop_is_killed_after_the_grace) {
  mproc::pool workers(mproc::pool_options{.processes = 1, .method = method, .stop_grace = 300ms});
  const auto before = workers.worker_pids();
  mproc::event started;
  const auto start = std::chrono::steady_clock::now();
  auto late = workers.apply_async(mproc::task_timeout(300ms), ignores_stop, started);
  BOOST_CHECK_THROW(late.get(), mproc::timeout_error);
  BOOST_TEST((std::chrono::steady_clock::now() - start < 5s));
  BOOST_TEST(what_of(late).find("killed and replaced") != std::string::npos, what_of(late));
  BOOST_TEST(workers.apply(square, 6) == 36);
  BOOST_TEST(workers.worker_pids() != before);
}

BOOST_AUTO_TEST_CASE(a_chunk_of_a_plain_map_past_its_timeout_stops_and_the_others_finish) {
  // A map of plain values runs as a team job (chunks claimed from shared memory).
  mproc::pool workers(mproc::pool_options{.processes = 2, .task_timeout = 300ms, .stop_grace = 10s});
  const auto before = workers.worker_pids();
  auto job = workers.map_async(until_stopped, std::vector<int>{10, 20000, 10, 10}, 1);
  BOOST_CHECK_THROW(job.get(10s), mproc::timeout_error);
  try {
    job.get();
  } catch (const mproc::timeout_error& e) {
    BOOST_TEST(std::string(e.what()).find("asked to stop") != std::string::npos, e.what());
  }
  BOOST_TEST(workers.map(square, std::vector<int>{1, 2, 3}) == (std::vector<int>{1, 4, 9}));
  BOOST_TEST(workers.worker_pids() == before);
}

BOOST_AUTO_TEST_CASE(stop_is_not_requested_outside_a_task_nor_in_a_task_in_time) {
  BOOST_TEST(!mproc::this_task::stop_requested());
  mproc::pool workers(mproc::pool_options{.processes = 1, .stop_grace = 10s});
  BOOST_TEST(workers.apply_async(mproc::task_timeout(10s), until_stopped, 50).get() == 0);
  BOOST_CHECK_THROW(mproc::pool(mproc::pool_options{.processes = 1, .stop_grace = -1s}), mproc::error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cancelling_running_tasks)

MPROC_TEST_EACH_METHOD(cancel_asks_a_running_task_to_stop_and_its_worker_goes_on) {
  mproc::pool workers(mproc::pool_options{.processes = 1, .method = method, .stop_grace = 10s});
  const auto before = workers.worker_pids();
  mproc::event started;
  mproc::event saw_stop;
  auto running = workers.apply_async(started_then_until_stopped, started, saw_stop);
  BOOST_TEST_REQUIRE(started.wait(10s));
  BOOST_TEST(running.cancel());
  BOOST_TEST(!running.cancel());  // once
  BOOST_TEST(running.cancelled());
  BOOST_CHECK_THROW(running.get(0s), mproc::cancelled_error);  // at once, not when the task returns
  BOOST_TEST(saw_stop.wait(10s));
  BOOST_TEST(workers.apply(square, 5) == 25);
  BOOST_TEST(workers.worker_pids() == before);
}

MPROC_TEST_EACH_METHOD(cancel_without_a_grace_replaces_the_worker_of_a_running_task) {
  mproc::pool workers(mproc::pool_options{.processes = 1, .method = method});
  const auto before = workers.worker_pids();
  mproc::event started;
  auto running = workers.apply_async(ignores_stop, started);
  BOOST_TEST_REQUIRE(started.wait(10s));
  const auto start = std::chrono::steady_clock::now();
  BOOST_TEST(running.cancel());
  BOOST_CHECK_THROW(running.get(), mproc::cancelled_error);
  BOOST_TEST(workers.apply(square, 5) == 25);
  BOOST_TEST((std::chrono::steady_clock::now() - start < 5s));  // not the task's 20 s
  BOOST_TEST(workers.worker_pids() != before);
}

MPROC_TEST_EACH_METHOD(cancelled_tasks_a_worker_holds_but_has_not_started_never_run) {
  mproc::pool workers(mproc::pool_options{.processes = 1, .method = method});
  const auto before = workers.worker_pids();
  mproc::event go;
  mproc::atomic_value<int> runs;
  auto first = workers.apply_async(wait_for, go);
  std::vector<mproc::async_result<int>> queued;
  for (int i = 0; i < 5; ++i) queued.push_back(workers.apply_async(count_run, runs));  // the worker holds them
  for (auto& q : queued) BOOST_TEST(q.cancel());
  go.set();
  BOOST_TEST(first.get() == 7);
  for (auto& q : queued) BOOST_CHECK_THROW(q.get(), mproc::cancelled_error);
  BOOST_TEST(workers.apply(count_run, runs) == 1);  // the cancelled ones did not run
  BOOST_TEST(workers.worker_pids() == before);      // and no worker was killed for them
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ctrl_c)

#define MPROC_TEST_CTRL_C(name, handles)                                                                        \
  BOOST_AUTO_TEST_CASE(name##_spawn) {                                                                          \
    ctrl_c_reaches_a_program(mproc::start_method::spawn, handles);                                              \
  }                                                                                                             \
  BOOST_AUTO_TEST_CASE(name##_fork, *mproc::test::posix_only("fork")) {                                         \
    ctrl_c_reaches_a_program(mproc::start_method::fork, handles);                                               \
  }                                                                                                             \
  BOOST_AUTO_TEST_CASE(name##_forkserver, *mproc::test::posix_only("forkserver")) {                             \
    ctrl_c_reaches_a_program(mproc::start_method::forkserver, handles);                                         \
  }

MPROC_TEST_CTRL_C(ctrl_c_ends_a_program_running_a_pool_and_leaves_nothing, false)
MPROC_TEST_CTRL_C(ctrl_c_fails_the_pool_work_of_a_program_that_handles_it_at_once, true)

MPROC_TEST_EACH_METHOD(a_pool_whose_worker_is_ended_by_sigint_cancels_its_work_and_goes_on) {
  mproc::pool workers(mproc::pool_options{.processes = 2, .method = method});
  std::vector<mproc::async_result<int>> results;
  for (int i = 0; i < 6; ++i) results.push_back(workers.apply_async(slow_task, i));
  std::this_thread::sleep_for(300ms);  // both workers run a task
  const auto start = std::chrono::steady_clock::now();
  mproc::test::interrupt_process(workers.worker_pids().front());
  const std::string said = failures_of(results);
  BOOST_TEST((std::chrono::steady_clock::now() - start < 10s));  // not the tasks' 30 s
  BOOST_TEST(said.find("no error") == std::string::npos, said);
  BOOST_TEST(said.find("killed by SIGINT") != std::string::npos, said);
  BOOST_TEST(said.find("the pool was interrupted") != std::string::npos, said);
  BOOST_TEST(workers.apply(square, 3) == 9);  // the pool goes on
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(memory_per_child)

MPROC_TEST_EACH_METHOD(a_worker_holding_more_than_max_memory_per_child_after_a_task_is_replaced) {
  // A worker's own resident memory, and what 10 MiB more adds to it (more under
  // sanitizers, whose shadow grows too), from a worker started the same way.
  mproc::pool probe(mproc::pool_options{.processes = 1, .method = method});
  const std::size_t base = probe.apply(resident_now, 0);
  probe.apply(grow_by, 40);
  const std::size_t step = std::max<std::size_t>((probe.apply(resident_now, 0) - base) / 4, std::size_t{10} << 20);
  BOOST_TEST_REQUIRE(base > 0u);
  mproc::pool workers(mproc::pool_options{.processes = 1, .max_memory_per_child = base + 5 * step, .method = method});
  const int first = workers.apply(grow_by, 10);
  BOOST_TEST(workers.apply(grow_by, 10) == first);   // under the limit: the same worker
  BOOST_TEST(workers.apply(grow_by, 300) == first);  // 30 steps: past it after this task, which still finishes
  BOOST_TEST(workers.apply(grow_by, 10) != first);   // a new worker
  BOOST_TEST(workers.apply(square, 4) == 16);
}

MPROC_TEST_EACH_METHOD(a_task_past_the_hard_memory_limit_fails_with_memory_limit_error) {
  if (mproc::test::under_sanitizer) {
    return mproc::test::skip_case("a sanitizer's shadow memory passes any address-space limit");
  }
  if (!mproc::test::posix_system) {  // Windows' limit is a job object's, which Wine neither keeps nor enforces
    return mproc::test::skip_case("Wine does not enforce a job object's process memory limit");
  }
  constexpr std::size_t limit = std::size_t{1} << 30;
  mproc::pool workers(mproc::pool_options{.processes = 1, .memory_limit_per_child = limit, .method = method});
  const int first = workers.apply(allocates, 64);  // under the limit: runs
  BOOST_TEST(workers.apply(allocates, 64) == first);
  try {
    workers.apply(allocates, 2048);
    BOOST_FAIL("2 GiB in a worker limited to 1 GiB must fail");
  } catch (const mproc::memory_limit_error& e) {
    const std::string what = e.what();
    BOOST_TEST(what.find("passed the pool's memory_limit_per_child of 1024 MiB") != std::string::npos, what);
  }
  const int next = workers.apply(allocates, 64);
  BOOST_TEST(next != first);  // replaced after the task
  BOOST_TEST(workers.apply(allocates, 64) == next);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(quarantine)

MPROC_TEST_EACH_METHOD(a_task_that_keeps_killing_its_worker_is_quarantined) {
  mproc::pool workers(mproc::pool_options{.processes = 2, .method = method, .retry_lost_tasks = true,
                                          .quarantine_after = 3});
  mproc::atomic_value<int> runs(0);
  auto doomed = workers.apply_async(always_dies, runs);
  BOOST_CHECK_THROW(doomed.get(), mproc::quarantined_error);
  BOOST_TEST(runs.load() == 3);
  BOOST_TEST(what_of(doomed).find("killed its worker 3 times in a row") != std::string::npos, what_of(doomed));
  BOOST_TEST(workers.apply(square, 5) == 25);
}

BOOST_AUTO_TEST_CASE(a_chunk_of_a_plain_map_that_keeps_killing_its_worker_is_quarantined) {
  const auto counted = runs_of_seven(mproc::test::this_pid());
  std::filesystem::remove(counted);
  mproc::pool workers(mproc::pool_options{.processes = 2, .retry_lost_tasks = true, .quarantine_after = 4});
  std::vector<int> items(20);
  for (int i = 0; i < 20; ++i) items[static_cast<std::size_t>(i)] = i;
  BOOST_CHECK_THROW(workers.map(dies_at_seven, items, 1), mproc::quarantined_error);
  BOOST_TEST(std::filesystem::file_size(counted) == 4u);  // ran 4 times, not a 5th
  std::filesystem::remove(counted);
}

BOOST_AUTO_TEST_CASE(without_quarantine_a_lost_task_runs_once_more_as_before) {
  mproc::pool workers(mproc::pool_options{.processes = 2, .retry_lost_tasks = true});
  mproc::atomic_value<int> runs(0);
  auto doomed = workers.apply_async(always_dies, runs);
  BOOST_CHECK_THROW(doomed.get(), mproc::worker_lost_error);
  try {
    doomed.get();
  } catch (const mproc::quarantined_error&) {
    BOOST_ERROR("quarantined without quarantine_after");
  } catch (const mproc::worker_lost_error&) {
  }
  BOOST_TEST(runs.load() == 2);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(crash_forensics)

MPROC_TEST_EACH_METHOD(a_worker_the_oom_killer_ended_is_said_to_be) {
  if (!mproc::test::posix_system) return mproc::test::skip_case("Windows has no OOM killer");
  const auto cgroup = mproc::test::make_memory_cgroup(std::uint64_t{512} << 20);
  if (!cgroup) {
    return mproc::test::skip_case("this machine cannot make a memory cgroup: the OOM verdict is not checked here");
  }
  mproc::test::scratch_dir dir;
  const std::string path = dir.file("said");
  mproc::process program(mproc::process_options{.method = method}, pool_in_cgroup, *cgroup, path,
                         static_cast<int>(method));
  program.start();
  BOOST_TEST_REQUIRE(program.join(120s));
  const std::string said = read_file(path);
  BOOST_TEST(said.find("was killed by SIGKILL, by the kernel's OOM killer") != std::string::npos, said);
  BOOST_TEST(mproc::test::eventually([&] { return mproc::test::remove_cgroup(*cgroup); }));
}

MPROC_TEST_EACH_METHOD(a_worker_that_dumped_core_is_said_to_have) {
  if (!mproc::test::posix_system) return mproc::test::skip_case("core dumps are POSIX's");
  mproc::test::scratch_dir dir;
  mproc::pool workers(mproc::pool_options{.processes = 1, .method = method});
  auto dumped = workers.apply_async(dumps_core, dir.path());
  const std::string said = what_of(dumped);
  BOOST_TEST(said.find("was killed by SIGABRT") != std::string::npos, said);
  // The kernel may not dump (a core pattern it cannot follow): the message says what it did.
  bool core_file = false;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    core_file = core_file || entry.path().filename().string().rfind("core", 0) == 0;
  }
  BOOST_TEST_MESSAGE("a core file was " << (core_file ? "" : "not ") << "written");
  BOOST_TEST((said.find("(it dumped core)") != std::string::npos) == core_file, said);
}

MPROC_TEST_EACH_METHOD(a_lost_task_is_named_by_its_function_and_chunk) {
  mproc::pool workers(mproc::pool_options{.processes = 1, .method = method});
  // By name, from the program's symbols (here "(anonymous namespace)::dies_on_two(int)").
  const auto named = [](const std::string& function, const std::string& rest) { return "::" + function + " " + rest; };
  const std::string single = lost_because([&] { workers.apply(dies_on_two, 2); });
  BOOST_TEST(single.find(named("dies_on_two(int)", "was killed")) != std::string::npos, single);
  const std::string plain = lost_because([&] { workers.map(dies_on_two, std::vector<int>{0, 1, 2, 3}, 1); });
  BOOST_TEST(plain.find(named("dies_on_two(int)", "(chunk 3 of 4) was killed")) != std::string::npos, plain);
  const std::string encoded = lost_because([&] {
    workers.map(dies_on_two_text, std::vector<std::string>{"0", "1", "2", "3"}, 1);
  });
  BOOST_TEST(encoded.find(named("dies_on_two_text(std::__cxx11::basic_string<char, std::char_traits<char>, "
                                "std::allocator<char> >)",
                                "(chunk 3 of 4) was killed")) != std::string::npos,
             encoded);
}

BOOST_AUTO_TEST_CASE(a_worker_killed_by_someone_else_is_not_said_to_be_oom_killed) {
  mproc::pool workers(1);
  auto killed = workers.apply_async(slow_task, 0);
  std::this_thread::sleep_for(300ms);
  mproc::test::kill_process(workers.worker_pids().front());
  const std::string said = what_of(killed);
  BOOST_TEST(said.find("OOM") == std::string::npos, said);
  BOOST_TEST(said.find("running the task") != std::string::npos, said);
}

BOOST_AUTO_TEST_SUITE_END()

