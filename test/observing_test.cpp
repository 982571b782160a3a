// Seeing what children do: progress that a task reports from inside.
#include "support/scratch.hpp"

#include <mproc/pool.hpp>
#include <mproc/this_task.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstddef>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

int reports_progress(int steps) {
  for (int i = 1; i <= steps; ++i) {
    std::this_thread::sleep_for(20ms);
    mproc::report_progress(static_cast<std::size_t>(i), static_cast<std::size_t>(steps));
  }
  return steps;
}

// What a pool's progress callback was called with.
struct progress_calls {
  std::mutex mutex;
  std::vector<std::pair<std::size_t, std::size_t>> calls;

  std::function<void(std::size_t, std::size_t)> callback() {
    return [this](std::size_t done, std::size_t total) {
      std::scoped_lock lock(mutex);
      calls.emplace_back(done, total);
    };
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(progress_from_inside_a_task)

MPROC_TEST_EACH_METHOD(a_single_task_moves_the_progress_callback_as_it_reports) {
  progress_calls seen;
  mproc::pool workers(mproc::pool_options{.processes = 1, .method = method, .progress = seen.callback()});
  BOOST_TEST(workers.apply(reports_progress, 5) == 5);
  std::scoped_lock lock(seen.mutex);
  BOOST_TEST_REQUIRE(seen.calls.size() >= 4u);  // a report may be dropped, not most of them
  BOOST_TEST((seen.calls.back() == std::pair<std::size_t, std::size_t>{1, 1}));  // the task's end, in items
  std::size_t last = 0;
  for (std::size_t i = 0; i + 1 < seen.calls.size(); ++i) {
    BOOST_TEST(seen.calls[i].second == 5u);  // the task's own units
    BOOST_TEST(seen.calls[i].first > last);  // in order
    last = seen.calls[i].first;
  }
}

BOOST_AUTO_TEST_CASE(a_job_of_several_chunks_moves_as_its_chunks_finish) {
  progress_calls seen;
  mproc::pool workers(mproc::pool_options{.processes = 2, .progress = seen.callback()});
  BOOST_TEST((workers.map(reports_progress, std::vector<int>{3, 3, 3}, 1) == std::vector<int>{3, 3, 3}));
  std::scoped_lock lock(seen.mutex);
  BOOST_TEST_REQUIRE(seen.calls.size() == 3u);
  for (std::size_t i = 0; i < 3; ++i) BOOST_TEST((seen.calls[i] == std::pair<std::size_t, std::size_t>{i + 1, 3}));
}

BOOST_AUTO_TEST_CASE(report_progress_outside_a_task_does_nothing) {
  mproc::report_progress(1, 2);  // no pool, no task: nothing to tell, nothing thrown
  progress_calls seen;
  mproc::pool workers(mproc::pool_options{.processes = 1, .progress = seen.callback()});
  mproc::report_progress(1, 2);
  BOOST_TEST(workers.apply(reports_progress, 0) == 0);
  std::scoped_lock lock(seen.mutex);
  BOOST_TEST(seen.calls.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
