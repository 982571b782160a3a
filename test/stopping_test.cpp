// Stopping work: a task past its timeout asked to stop (this_task::
// stop_requested()) before its worker is killed, and cancel() of a task that a
// worker holds or runs.
#include "support/scratch.hpp"

#include <mproc/pool.hpp>
#include <mproc/shared.hpp>
#include <mproc/sync.hpp>
#include <mproc/this_task.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

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
