// The rest of Python's surface: connection.wait, get_context, the futures
// toolkit (as_completed, wait, cancel, a std::future view), starmap_async and
// arrays made from values.
#include "support/scratch.hpp"

#include <mproc/context.hpp>
#include <mproc/futures.hpp>
#include <mproc/pipe.hpp>
#include <mproc/pool.hpp>
#include <mproc/process.hpp>
#include <mproc/queue.hpp>
#include <mproc/shared.hpp>
#include <mproc/sync.hpp>
#include <mproc/wait.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <future>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <vector>

using namespace std::chrono_literals;
using mproc::test::with;

namespace {

void send_after(mproc::connection end, int ms, int value) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  end.send(value);
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

void put_after(mproc::queue<int> q, int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  q.put(7);
}

int sleep_then_return(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

int fail_now(int) { throw std::invalid_argument("no"); }
int seven_when_set(mproc::event go) {
  go.wait();
  return 7;
}
int square(int x) { return x * x; }
int add(int a, int b) { return a + b; }

int the_marker = 0;  // set by the parent: a forked worker sees it, a spawned one does not
std::tuple<int, int> marker_and_parent(int) { return {the_marker, mproc::test::parent_pid()}; }

int sum_of(mproc::array<int> values) {
  int sum = 0;
  for (std::size_t i = 0; i < values.size(); ++i) sum += values[i];
  return sum;
}

void report_sum(mproc::array<int> values, mproc::value<int> out) { out.set(sum_of(values)); }

}  // namespace

BOOST_AUTO_TEST_SUITE(waiting_for_objects)

MPROC_TEST_EACH_METHOD(wait_returns_the_connection_with_a_message) {
  auto [a_read, a_write] = mproc::pipe(false);
  auto [b_read, b_write] = mproc::pipe(false);
  mproc::process child(with(method), send_after, b_write, 100, 5);
  child.start();
  const auto ready = mproc::wait({a_read, b_read}, 10s);
  BOOST_TEST((ready == std::vector<std::size_t>{1}));
  BOOST_TEST(b_read.recv<int>() == 5);
  child.join();
}

MPROC_TEST_EACH_METHOD(wait_returns_the_process_that_ended) {
  auto [idle_read, idle_write] = mproc::pipe(false);
  mproc::process child(with(method), sleep_ms, 100);
  child.start();
  const auto ready = mproc::wait({idle_read, child}, 10s);
  BOOST_TEST((ready == std::vector<std::size_t>{1}));
  BOOST_TEST(!child.is_alive());
  child.join();
}

MPROC_TEST_EACH_METHOD(wait_returns_the_queue_with_an_item) {
  auto [idle_read, idle_write] = mproc::pipe(false);
  mproc::queue<int> q;
  mproc::process child(with(method), put_after, q, 100);
  child.start();
  const auto ready = mproc::wait({idle_read, q}, 10s);
  BOOST_TEST((ready == std::vector<std::size_t>{1}));
  BOOST_TEST(q.get() == 7);
  child.join();
}

BOOST_AUTO_TEST_CASE(wait_with_nothing_ready_times_out_empty) {
  auto [a_read, a_write] = mproc::pipe(false);
  mproc::queue<int> q;
  BOOST_TEST(mproc::wait({a_read, q}, 50ms).empty());
  BOOST_TEST(mproc::wait({a_read}, -5s).empty());  // a negative timeout does not wait
  a_write.send(1);
  BOOST_TEST((mproc::wait({a_read, q}, std::chrono::hours::max()) == std::vector<std::size_t>{0}));
}

BOOST_AUTO_TEST_CASE(wait_watches_more_than_64_objects) {
  std::vector<mproc::connection> readers;
  std::vector<mproc::connection> writers;
  for (int i = 0; i < 100; ++i) {
    auto [r, w] = mproc::pipe(false);
    readers.push_back(r);
    writers.push_back(w);
  }
  mproc::process child(send_after, writers[80], 100, 80);
  child.start();
  const auto ready = mproc::wait(readers, 10s);
  BOOST_TEST((ready == std::vector<std::size_t>{80}));
  BOOST_TEST(readers[80].recv<int>() == 80);
  child.join();
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(contexts)

MPROC_TEST_EACH_METHOD(a_context_starts_pools_and_processes_with_its_method) {
  const auto default_method = mproc::get_start_method();
  auto ctx = mproc::get_context(method);
  BOOST_TEST(ctx.get_start_method() == method);
  the_marker = 7;
  mproc::pool workers = ctx.pool(1);
  const auto [marker, parent] = workers.apply(marker_and_parent, 0);
  the_marker = 0;
  BOOST_TEST(marker == (method == mproc::start_method::fork ? 7 : 0));
  const bool child_of_ours = parent == mproc::test::this_pid();
  BOOST_TEST(child_of_ours == (method != mproc::start_method::forkserver));

  auto q = ctx.queue<int>();
  mproc::process p = ctx.process(put_after, q, 0);
  p.start();
  BOOST_TEST(q.get(10s) == 7);
  p.join();
  BOOST_TEST(mproc::get_start_method() == default_method);  // the program's default is untouched
}

BOOST_AUTO_TEST_CASE(a_context_for_a_method_the_platform_lacks_is_an_error) {
  for (auto method : {mproc::start_method::spawn, mproc::start_method::fork, mproc::start_method::forkserver}) {
    const auto methods = mproc::all_start_methods();
    if (std::find(methods.begin(), methods.end(), method) != methods.end()) {
      BOOST_TEST(mproc::get_context(method).get_start_method() == method);
    } else {
      BOOST_CHECK_THROW(mproc::get_context(method), mproc::process_error);
    }
  }
  BOOST_TEST(mproc::get_context().get_start_method() == mproc::get_start_method());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(futures)

MPROC_TEST_EACH_METHOD(as_completed_gives_results_as_they_finish) {
  mproc::pool workers(mproc::pool_options{.processes = 3, .method = method});
  std::vector<mproc::async_result<int>> results;
  for (int ms : {900, 0, 450}) results.push_back(workers.apply_async(sleep_then_return, ms));
  std::vector<int> order;
  for (auto& done : mproc::as_completed(results)) order.push_back(done.get());
  BOOST_TEST((order == std::vector<int>{0, 450, 900}));
}

BOOST_AUTO_TEST_CASE(as_completed_with_a_timeout_throws_when_it_runs_out) {
  mproc::pool workers(2);
  std::vector<mproc::async_result<int>> results{workers.apply_async(sleep_then_return, 0),
                                                workers.apply_async(sleep_then_return, 1500)};
  std::vector<int> got;
  BOOST_CHECK_THROW(
      {
        for (auto& done : mproc::as_completed(results, 300ms)) got.push_back(done.get());
      },
      mproc::timeout_error);
  BOOST_TEST((got == std::vector<int>{0}));
}

MPROC_TEST_EACH_METHOD(wait_returns_when_asked) {
  mproc::pool workers(mproc::pool_options{.processes = 2, .method = method});
  {
    std::vector<mproc::async_result<int>> results{workers.apply_async(sleep_then_return, 800),
                                                  workers.apply_async(sleep_then_return, 0)};
    auto [done, not_done] = mproc::wait(results, mproc::return_when::first_completed);
    BOOST_TEST_REQUIRE(done.size() == 1u);
    BOOST_TEST(done[0].get() == 0);
    BOOST_TEST(not_done.size() == 1u);
    auto all = mproc::wait(results);  // all_completed
    BOOST_TEST(all.done.size() == 2u);
    BOOST_TEST(all.not_done.empty());
  }
  {
    std::vector<mproc::async_result<int>> results{workers.apply_async(sleep_then_return, 800),
                                                  workers.apply_async(fail_now, 0)};
    auto [done, not_done] = mproc::wait(results, 10s, mproc::return_when::first_exception);
    BOOST_TEST_REQUIRE(done.size() == 1u);
    BOOST_TEST(!done[0].successful());
    BOOST_TEST(not_done.size() == 1u);
  }
  {
    std::vector<mproc::async_result<int>> results{workers.apply_async(sleep_then_return, 800)};
    auto [done, not_done] = mproc::wait(results, 50ms);
    BOOST_TEST(done.empty());
    BOOST_TEST(not_done.size() == 1u);
  }
}

// Polling a long job with short waits, as a GUI's loop does, must not pile a
// callback on the job per wait (Python removes its waiter too).
BOOST_AUTO_TEST_CASE(waits_that_give_up_leave_no_callbacks_behind) {
  mproc::pool workers(1);
  mproc::event go;
  std::vector<mproc::async_result<int>> results{workers.apply_async(seven_when_set, go)};  // runs until `go`
  auto& job = mproc::detail::result_access::job(results[0]);
  for (int i = 0; i < 500; ++i) {
    auto [done, not_done] = mproc::wait(results, 0ms, mproc::return_when::first_completed);
    BOOST_TEST_REQUIRE(not_done.size() == 1u);
  }
  BOOST_CHECK_THROW(
      {
        for (auto& done : mproc::as_completed(results, 10ms)) (void)done;
      },
      mproc::timeout_error);
  {
    std::scoped_lock lock(job.mutex);
    BOOST_TEST(job.when_done.size() == 0u, job.when_done.size() << " callbacks left on the job");
  }
  int later = 0;
  results[0].then([&](int value) { later = value; });  // a then() stays until it runs
  go.set();
  BOOST_TEST(results[0].get() == 7);
  BOOST_TEST(later == 7);
}

MPROC_TEST_EACH_METHOD(cancel_takes_back_a_task_not_started) {
  mproc::pool workers(mproc::pool_options{.processes = 1, .method = method});
  auto first = workers.apply_async(sleep_then_return, 300);
  std::vector<mproc::async_result<int>> fillers;
  for (int i = 0; i < 20; ++i) fillers.push_back(workers.apply_async(sleep_then_return, 1));  // the worker holds 16
  auto last = workers.apply_async(square, 5);
  BOOST_TEST(last.cancel());
  BOOST_TEST(last.cancelled());
  BOOST_CHECK_THROW(last.get(), mproc::cancelled_error);
  BOOST_TEST(!last.cancel());   // once
  BOOST_TEST(first.get() == 300);
  BOOST_TEST(!first.cancelled());
  for (auto& f : fillers) BOOST_TEST(f.get() == 1);
  BOOST_TEST(!fillers[0].cancel());  // finished
  BOOST_TEST(workers.apply(square, 6) == 36);
}

BOOST_AUTO_TEST_CASE(an_async_result_is_a_std_future_too) {
  mproc::pool workers(1);
  std::future<int> good = workers.apply_async(square, 7).as_future();
  std::future<int> bad = workers.apply_async(fail_now, 0).as_future();
  BOOST_TEST(good.get() == 49);
  BOOST_CHECK_THROW(bad.get(), std::invalid_argument);
  BOOST_TEST(!workers.apply_async(square, 2).exception());
  BOOST_CHECK_THROW(std::rethrow_exception(workers.apply_async(fail_now, 0).exception()), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(a_bounded_queue_tells_when_it_is_full) {
  mproc::queue<int> bounded(2);
  mproc::queue<int> unbounded;
  BOOST_TEST(!bounded.full());
  bounded.put(1);
  bounded.put(2);
  BOOST_TEST(bounded.full());
  BOOST_CHECK_THROW(bounded.put(3, 0s), mproc::queue_full);  // Python's put_nowait
  unbounded.put(1);
  BOOST_TEST(!unbounded.full());
}

MPROC_TEST_EACH_METHOD(starmap_async_is_starmap_later) {
  mproc::pool workers(mproc::pool_options{.processes = 2, .method = method});
  const std::vector<std::tuple<int, int>> pairs{{1, 2}, {3, 4}, {5, 6}};
  auto later = workers.starmap_async(add, pairs);
  BOOST_TEST((later.get(10s) == std::vector<int>{3, 7, 11}));
  BOOST_TEST(later.successful());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(arrays_from_values)

MPROC_TEST_EACH_METHOD(an_array_is_made_from_values_or_a_range) {
  mproc::array<int> listed{1, 2, 3};
  BOOST_TEST(listed.size() == 3u);
  BOOST_TEST((listed.to_vector() == std::vector<int>{1, 2, 3}));
  std::vector<int> source(100);
  std::iota(source.begin(), source.end(), 1);
  mproc::array<int> ranged(mproc::from_range, source);
  BOOST_TEST(ranged.size() == 100u);
  mproc::value<int> sum;
  mproc::process child(with(method), report_sum, ranged, sum);
  child.start();
  child.join();
  BOOST_TEST(sum.get() == 5050);
}

BOOST_AUTO_TEST_SUITE_END()
