// An in-order imap of plain values in small chunks runs in windows of chunks
// that the workers claim in shared memory: its results and failures are those
// of the message path, and leaving it early takes back what no worker claimed.
#include "support/scratch.hpp"

#include <mproc/pool.hpp>
#include <mproc/shared.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

int square(int x) { return x * x; }

int fail_on_multiples_of_seven(int x) {
  if (x > 0 && x % 7 == 0) throw std::invalid_argument("a multiple of seven");
  return x;
}

// Each worker's handle on the count of calls of slow_square (set by the
// pool's initializer).
std::optional<mproc::atomic_value<int>> calls;
void count_calls_in(mproc::atomic_value<int> shared) { calls.emplace(shared); }

int slow_square(int x) {
  calls->fetch_add(1);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return x * x;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(imap_windows)

MPROC_TEST_EACH_METHOD(results_come_in_order_across_windows) {
  mproc::pool workers(mproc::pool_options{.processes = 2, .method = method});
  long long sum = 0;
  int next = 0;
  bool in_order = true;
  // A buffer of 10 chunks of 3: windows of 15 items, the last one short.
  for (int s : workers.imap(square, std::views::iota(0, 1000), 3, 10)) {
    in_order = in_order && s == next * next;
    sum += s;
    ++next;
  }
  BOOST_TEST(in_order);
  BOOST_TEST(next == 1000);
  BOOST_TEST(sum == 332833500LL);
}

BOOST_AUTO_TEST_CASE(a_failed_chunk_fails_its_items_alone) {
  mproc::pool workers(2);
  std::string seen;
  auto results = workers.imap(fail_on_multiples_of_seven, std::views::iota(0, 16), 2, 4);
  for (auto it = results.begin(); it != results.end(); ++it) {
    try {
      seen += std::to_string(*it) + " ";
    } catch (const mproc::remote_error& e) {
      BOOST_TEST(std::string(e.what()).find("a multiple of seven") != std::string::npos, e.what());
      seen += "x ";
    }
  }
  // Chunks of two: 7 fails {6, 7}, 14 fails {14, 15}.
  BOOST_TEST(seen == "0 1 2 3 4 5 x x 8 9 10 11 12 13 x x ");
}

BOOST_AUTO_TEST_CASE(leaving_early_takes_back_the_chunks_no_worker_claimed) {
  mproc::atomic_value<int> counted(0);
  {
    mproc::pool workers(
        mproc::pool_options{.processes = 2, .initializer = mproc::initializer(count_calls_in, counted)});
    {
      // Two windows of 10 items in the pool: the first is read whole (and a
      // third takes its place), then the loop is left while the second runs,
      // a chunk per worker at a time.
      auto results = workers.imap(slow_square, std::views::iota(0), 1, 20);
      for (int s : results) {
        BOOST_TEST(s == 0);
        break;
      }
    }
    BOOST_TEST(workers.apply(square, 6) == 36);  // the pool goes on
    workers.close();
    workers.join();
  }
  // 10 of the first window, and what the two workers had claimed of the
  // second; without the take-back, all 30 (checked: 30).
  BOOST_TEST(counted.load() >= 10);
  BOOST_TEST(counted.load() <= 16);
}

BOOST_AUTO_TEST_SUITE_END()
