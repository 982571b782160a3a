// Promises kept under attack: timeouts of any size, values of another type,
// decoders fed crafted bytes.
#include "support/scratch.hpp"

#include <mproc/pipe.hpp>
#include <mproc/pool.hpp>
#include <mproc/process.hpp>
#include <mproc/queue.hpp>
#include <mproc/sync.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <thread>

using namespace std::chrono_literals;
using mproc::test::with;

namespace {

constexpr auto forever = std::chrono::hours::max();

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
int sleep_then_return(int ms) {
  sleep_ms(ms);
  return ms;
}

template <class F>
double seconds_taken(F f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(timeouts)

// hours::max() in nanoseconds overflows: every wait returned at once.
BOOST_AUTO_TEST_CASE(a_huge_timeout_waits_as_long_as_it_takes) {
  mproc::process child(sleep_ms, 200);
  child.start();
  BOOST_TEST(child.join(forever));
  BOOST_TEST(child.join(std::chrono::duration<double>(1e300)));  // a floating one too

  mproc::queue<int> q;
  std::thread producer([&] {
    sleep_ms(200);
    q.put(5);
  });
  BOOST_TEST(q.get(forever) == 5);
  producer.join();

  mproc::event ready;
  std::thread setter([&] {
    sleep_ms(200);
    ready.set();
  });
  BOOST_TEST(ready.wait(forever));
  setter.join();

  mproc::lock held;
  mproc::event locked;
  std::thread holder([&] {
    held.lock();
    locked.set();
    sleep_ms(200);
    held.unlock();
  });
  locked.wait();
  BOOST_TEST(held.try_lock_for(forever));
  held.unlock();
  holder.join();

  mproc::pool workers(1);
  BOOST_TEST(workers.apply_async(sleep_then_return, 200).get(forever) == 200);
  BOOST_TEST(workers.apply_async(sleep_then_return, 200).wait(std::chrono::years(1000)));
}

BOOST_AUTO_TEST_CASE(a_negative_timeout_does_not_wait) {
  mproc::process child(sleep_ms, 2000);
  child.start();
  mproc::queue<int> q;
  mproc::event never;
  mproc::pool workers(1);
  auto slow = workers.apply_async(sleep_then_return, 1000);
  const double took = seconds_taken([&] {
    BOOST_TEST(!child.join(-1s));
    BOOST_TEST(!child.join(std::chrono::nanoseconds::min()));
    BOOST_CHECK_THROW(q.get(-1s), mproc::queue_empty);
    BOOST_CHECK_THROW(q.get(std::chrono::hours::min()), mproc::queue_empty);
    BOOST_TEST(!never.wait(-1s));
    BOOST_TEST(!slow.wait(-1s));
    BOOST_CHECK_THROW(slow.get(-1h), mproc::timeout_error);
  });
  BOOST_TEST(took < 0.5);
  child.terminate();
  child.join();
}

BOOST_AUTO_TEST_SUITE_END()
