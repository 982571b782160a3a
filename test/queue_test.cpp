// Queues, in one process and between processes.
#include "support/scratch.hpp"

#include <mproc/process.hpp>
#include <mproc/queue.hpp>
#include <mproc/sync.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <numeric>
#include <thread>
#include <vector>

#if !defined(_WIN32)
#include <sys/wait.h>
#include <unistd.h>
#endif

using namespace std::chrono_literals;

using mproc::test::with;
using bytes = std::vector<std::uint8_t>;

namespace {

constexpr std::size_t small_ring = 64 * 1024;

bytes pattern(std::size_t size, std::uint8_t seed) {
  bytes b(size);
  for (std::size_t i = 0; i < size; ++i) b[i] = static_cast<std::uint8_t>(i * 131 + seed);
  return b;
}

template <class F>
double seconds_taken(F f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct refuses_to_be_saved {
  int value = 0;
  template <class Archive>
  void save(Archive&) const {
    throw std::runtime_error("this item cannot be saved");
  }
  template <class Archive>
  void load(Archive&) {}
};

void put_range(mproc::queue<std::int64_t> q, std::int64_t producer, std::int64_t count) {
  for (std::int64_t i = 0; i < count; ++i) q.put(producer * 1'000'000 + i);
}

// Takes items until the queue is closed; passes each on to `seen`, and exits 5
// if the items of one producer came out of order.
void take_all(mproc::queue<std::int64_t> q, mproc::queue<std::int64_t> seen) {
  std::map<std::int64_t, std::int64_t> last_of;
  for (;;) {
    std::int64_t item;
    try {
      item = q.get();
    } catch (const mproc::closed_error&) {
      break;
    }
    const auto producer = item / 1'000'000;
    if (last_of.contains(producer) && last_of[producer] >= item) std::exit(5);
    last_of[producer] = item;
    seen.put(item);
  }
  seen.put(-1);
}

void echo_big(mproc::queue<bytes> in, mproc::queue<bytes> out) { out.put(in.get()); }

// `started` is set first: under a sanitizer a child takes a while to start, and
// the tests must act once it is in put() or get(), not after a guessed delay.
void put_big_then_small(mproc::queue<bytes> q, std::size_t size, mproc::event started) {
  const bytes big = pattern(size, 1);
  started.set();
  q.put(big);
  q.put(bytes{7});
}

void get_one(mproc::queue<bytes> q, mproc::event started) {
  started.set();
  q.get();
}

// Puts `count` items (a thread that puts many in a row holds the put side
// alone: no lock per item), says so, then puts one more into the full queue:
// it waits for room there until killed.
void fill_then_wait_for_room(mproc::queue<std::int64_t> q, std::int64_t count, mproc::event full) {
  for (std::int64_t i = 0; i < count; ++i) q.put(i);
  full.set();
  q.put(-1);
}

// The same on the get side: takes `count` items, then waits in get() for one
// that does not come.
void empty_then_wait_for_data(mproc::queue<std::int64_t> q, std::int64_t count, mproc::event emptied) {
  for (std::int64_t i = 0; i < count; ++i) q.get();
  emptied.set();
  q.get();
}

void consume_and_mark_done(mproc::joinable_queue<int> q, int count) {
  for (int i = 0; i < count; ++i) {
    q.get();
    std::this_thread::sleep_for(2ms);
    q.task_done();
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(queue_in_one_process)

BOOST_AUTO_TEST_CASE(items_come_out_in_order) {
  mproc::queue<std::int64_t> q;
  BOOST_TEST(q.empty());
  for (std::int64_t i = 0; i < 10'000; ++i) q.put(i);
  BOOST_TEST(q.size() == 10'000u);
  for (std::int64_t i = 0; i < 10'000; ++i) BOOST_TEST_REQUIRE(q.get() == i);
  BOOST_TEST(q.empty());
  BOOST_TEST(!q.try_get().has_value());
}

BOOST_AUTO_TEST_CASE(strings_and_structures_travel_whole) {
  mproc::queue<std::pair<std::string, std::vector<int>>> q;
  q.put({"", {}});
  q.put({"hello", {1, 2, 3}});
  BOOST_TEST(q.get().first.empty());
  const auto second = q.get();
  BOOST_TEST(second.first == "hello");
  BOOST_TEST(second.second == (std::vector<int>{1, 2, 3}));
}

BOOST_AUTO_TEST_CASE(get_with_timeout_waits_at_least_its_timeout) {
  mproc::queue<int> q;
  const double taken = seconds_taken([&] { BOOST_CHECK_THROW(q.get(150ms), mproc::queue_empty); });
  BOOST_TEST(taken >= 0.150);
  BOOST_TEST(taken < 5.0);
}

BOOST_AUTO_TEST_CASE(put_on_a_full_queue_times_out_and_keeps_the_queue) {
  mproc::queue<int> q(2);
  BOOST_TEST(q.maxsize() == 2u);
  q.put(1);
  q.put(2);
  const double taken = seconds_taken([&] { BOOST_CHECK_THROW(q.put(3, 150ms), mproc::queue_full); });
  BOOST_TEST(taken >= 0.150);
  BOOST_TEST(q.size() == 2u);
  BOOST_TEST(q.get() == 1);
  q.put(3, 1s);
  BOOST_TEST(q.get() == 2);
  BOOST_TEST(q.get() == 3);
}

BOOST_AUTO_TEST_CASE(maxsize_zero_is_bounded_by_the_ring) {
  mproc::queue<std::int64_t> q(0, 4096);
  std::int64_t put = 0;
  try {
    for (;; ++put) q.put(put, 20ms);
  } catch (const mproc::queue_full&) {
  }
  BOOST_TEST(put > 100);  // 16-byte records in 4 KiB
  BOOST_TEST(put < 4096 / 16);
  for (std::int64_t i = 0; i < put; ++i) BOOST_TEST_REQUIRE(q.get() == i);
}

BOOST_AUTO_TEST_CASE(a_ring_too_small_is_an_error) { BOOST_CHECK_THROW(mproc::queue<int>(0, 100), mproc::error); }

BOOST_AUTO_TEST_CASE(shutdown_refuses_puts_and_ends_gets_once_empty) {
  mproc::queue<int> q;
  q.put(1);
  q.put(2);
  q.shutdown();
  BOOST_TEST(q.closed());
  BOOST_CHECK_THROW(q.put(3), mproc::closed_error);
  BOOST_TEST(q.get() == 1);  // what was put stays there to be taken
  BOOST_TEST(q.get() == 2);
  BOOST_CHECK_THROW(q.get(), mproc::closed_error);
  BOOST_CHECK_THROW(q.get(1s), mproc::closed_error);
}

BOOST_AUTO_TEST_CASE(shutdown_wakes_a_waiting_consumer) {
  mproc::queue<int> q;
  std::atomic<bool> got_closed{false};
  std::thread consumer([&] {
    try {
      q.get();
    } catch (const mproc::closed_error&) {
      got_closed = true;
    }
  });
  std::this_thread::sleep_for(200ms);
  q.shutdown();
  consumer.join();
  BOOST_TEST(got_closed.load());
}

BOOST_AUTO_TEST_CASE(an_item_that_cannot_be_saved_throws_and_the_queue_goes_on) {
  mproc::queue<refuses_to_be_saved> q;
  BOOST_CHECK_THROW(q.put(refuses_to_be_saved{}), mproc::serialization_error);
  BOOST_TEST(q.empty());
  mproc::queue<int> other;
  other.put(4);
  BOOST_TEST(other.get() == 4);
}

BOOST_AUTO_TEST_CASE(items_larger_than_the_ring_stream_through_it) {
  mproc::queue<bytes> q(0, small_ring);
  const bytes big = pattern(3 * 1024 * 1024, 9);
  std::thread producer([&] {
    q.put(big);
    q.put(bytes{1, 2});
  });
  BOOST_TEST((q.get() == big));
  BOOST_TEST((q.get() == bytes{1, 2}));
  producer.join();
}

BOOST_AUTO_TEST_CASE(a_large_put_that_times_out_leaves_no_partial_item) {
  mproc::queue<bytes> q(0, small_ring);
  BOOST_CHECK_THROW(q.put(pattern(1024 * 1024, 3), 100ms), mproc::queue_full);
  BOOST_TEST(q.empty());
  std::thread producer([&] { q.put(bytes{42}); });
  BOOST_TEST((q.get(5s) == bytes{42}));
  producer.join();
  BOOST_CHECK_THROW(q.get(50ms), mproc::queue_empty);
}

BOOST_AUTO_TEST_CASE(joinable_queue_counts_unfinished_items) {
  mproc::joinable_queue<int> q;
  BOOST_TEST(q.join(10ms));
  q.put(1);
  q.put(2);
  BOOST_TEST(!q.join(50ms));
  q.get();
  q.task_done();
  BOOST_TEST(!q.join(10ms));
  q.get();
  q.task_done();
  BOOST_TEST(q.join(10ms));
  BOOST_CHECK_THROW(q.task_done(), mproc::error);
}

// A thread that made many gets in a row holds the get side's lease; while it
// waits inside a get, another thread's try_get() ends at once with nothing
// (a pool's steal is such a try, made under the pool's lock).
BOOST_AUTO_TEST_CASE(a_try_does_not_wait_for_a_get_under_a_lease) {
  mproc::queue<int> q;
  mproc::event waiting;
  int got = 0;  // checked after the join: Boost.Test's checks are for one thread
  std::thread holder([&] {
    for (int i = 0; i < 200; ++i) q.put(i);
    for (int i = 0; i < 200; ++i) q.get();
    waiting.set();
    got = q.get(20s);  // inside its get, by the lease, until the item comes
  });
  BOOST_REQUIRE(waiting.wait(10s));
  std::this_thread::sleep_for(50ms);
  const auto begin = std::chrono::steady_clock::now();
  BOOST_TEST(!q.try_get().has_value());
  BOOST_TEST((std::chrono::steady_clock::now() - begin < 5s));
  q.put(7);
  holder.join();
  BOOST_TEST(got == 7);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(queue_between_processes)

MPROC_TEST_EACH_METHOD(two_producers_three_consumers_deliver_every_item_once) {
  constexpr std::int64_t per_producer = 5000;
  mproc::queue<std::int64_t> work(100);
  mproc::queue<std::int64_t> seen;
  std::vector<mproc::process> producers;
  std::vector<mproc::process> consumers;
  for (int c = 0; c < 3; ++c) consumers.emplace_back(with(method), take_all, work, seen);
  for (int p = 0; p < 2; ++p) producers.emplace_back(with(method), put_range, work, std::int64_t{p + 1}, per_producer);
  for (auto& c : consumers) c.start();
  for (auto& p : producers) p.start();
  std::vector<std::int64_t> all;
  int ended = 0;
  bool producers_done = false;
  while (ended < 3) {
    const auto item = seen.get(60s);
    if (item < 0) {
      ++ended;
    } else {
      all.push_back(item);
    }
    if (!producers_done && all.size() == 2 * per_producer) {
      for (auto& p : producers) p.join();
      producers_done = true;
      work.shutdown();
    }
  }
  for (auto& p : producers) BOOST_TEST(p.exitcode().value() == 0);
  for (auto& c : consumers) {
    c.join();
    BOOST_TEST(c.exitcode().value() == 0);  // 5: one producer's items out of order
  }
  std::sort(all.begin(), all.end());
  std::vector<std::int64_t> expected;
  for (std::int64_t p = 1; p <= 2; ++p) {
    for (std::int64_t i = 0; i < per_producer; ++i) expected.push_back(p * 1'000'000 + i);
  }
  BOOST_TEST(all == expected, boost::test_tools::per_element());
}

MPROC_TEST_EACH_METHOD(a_64_mib_item_goes_to_a_child_and_back) {
  mproc::queue<bytes> to_child;
  mproc::queue<bytes> from_child;
  mproc::process child(with(method), echo_big, to_child, from_child);
  child.start();
  const bytes big = pattern(64 * 1024 * 1024, 5);
  to_child.put(big);
  const bytes back = from_child.get(60s);
  BOOST_TEST(back.size() == big.size());
  BOOST_TEST((back == big));
  child.join();
  BOOST_TEST(child.exitcode().value() == 0);
}

MPROC_TEST_EACH_METHOD(a_producer_killed_in_the_middle_of_an_item_leaves_nothing_behind) {
  mproc::queue<bytes> q(0, small_ring);
  mproc::event started;
  mproc::process producer(with(method), put_big_then_small, q, std::size_t{8 * 1024 * 1024}, started);
  producer.start();
  BOOST_TEST_REQUIRE(started.wait(60s));
  std::this_thread::sleep_for(300ms);  // it has filled the ring and waits for room
  producer.kill();
  producer.join();
  // The consumer reads the partial item, finds its producer dead, drops it.
  BOOST_CHECK_THROW(q.get(1s), mproc::queue_empty);
  BOOST_TEST(q.empty());
  q.put(bytes{8});
  BOOST_TEST((q.get(5s) == bytes{8}));
}

MPROC_TEST_EACH_METHOD(a_producer_killed_in_the_middle_of_an_item_is_found_by_the_next_producer) {
  mproc::queue<bytes> q(0, small_ring);
  mproc::event started;
  mproc::process producer(with(method), put_big_then_small, q, std::size_t{8 * 1024 * 1024}, started);
  producer.start();
  BOOST_TEST_REQUIRE(started.wait(60s));
  std::this_thread::sleep_for(300ms);
  producer.kill();
  producer.join();
  std::thread next_producer([&] { q.put(bytes{9}); });  // takes over the put lock, ends the partial item
  BOOST_TEST((q.get(5s) == bytes{9}));
  next_producer.join();
}

// One try of the test below: a consumer is killed while it waits for the rest
// of a big item. False when it had not begun its get by then (the sleep was too
// short for a loaded host): the next get then rightly takes the whole item.
static bool kill_a_consumer_in_the_middle_of_an_item(mproc::start_method method, std::chrono::milliseconds settle) {
  constexpr std::size_t big_size = 8 * 1024 * 1024;
  mproc::queue<bytes> q(0, small_ring);
  mproc::event started;
  mproc::process producer(with(method), put_big_then_small, q, big_size, started);
  producer.start();
  BOOST_TEST_REQUIRE(started.wait(60s));
  std::this_thread::sleep_for(300ms);  // the ring is full of the first part
  mproc::test::suspend_process(producer.pid());
  mproc::event consuming;
  mproc::process consumer(with(method), get_one, q, consuming);
  consumer.start();
  BOOST_TEST_REQUIRE(consuming.wait(60s));
  std::this_thread::sleep_for(settle);  // it has read the ring and waits for the rest
  consumer.kill();
  consumer.join();
  mproc::test::resume_process(producer.pid());
  // The next consumer skips the rest of the item the dead one had begun.
  const bytes next = q.get(20s);
  const bool caught_in_the_middle = next != pattern(big_size, 1);
  if (caught_in_the_middle) {
    BOOST_TEST((next == bytes{7}));
  } else {
    BOOST_TEST((q.get(20s) == bytes{7}));
  }
  producer.join();
  BOOST_TEST(producer.exitcode().value() == 0);
  return caught_in_the_middle;
}

MPROC_TEST_EACH_METHOD(a_consumer_killed_in_the_middle_of_an_item_does_not_stall_the_queue) {
  bool caught = false;
  for (int attempt = 1; attempt <= 4 && !caught; ++attempt) {
    caught = kill_a_consumer_in_the_middle_of_an_item(method, attempt * 500ms);
  }
  BOOST_TEST(caught, "the consumer was never killed in the middle of an item (4 tries)");
}

MPROC_TEST_EACH_METHOD(a_producer_killed_while_putting_alone_is_found_by_the_next_producer) {
  mproc::queue<std::int64_t> q(100);
  mproc::event full;
  mproc::process producer(with(method), fill_then_wait_for_room, q, std::int64_t{100}, full);
  producer.start();
  BOOST_TEST_REQUIRE(full.wait(60s));
  std::this_thread::sleep_for(300ms);  // it waits for room, inside a put made without the lock
  producer.kill();
  producer.join();
  BOOST_TEST(q.get(5s) == 0);
  q.put(1000, 5s);  // queue_full if the dead producer's put were taken for a live one
  for (std::int64_t i = 1; i < 100; ++i) BOOST_TEST_REQUIRE(q.get(5s) == i);
  BOOST_TEST(q.get(5s) == 1000);
  BOOST_TEST(q.empty());
}

MPROC_TEST_EACH_METHOD(a_consumer_killed_while_getting_alone_is_found_by_the_next_consumer) {
  mproc::queue<std::int64_t> q;
  for (std::int64_t i = 0; i < 100; ++i) q.put(i);
  mproc::event emptied;
  mproc::process consumer(with(method), empty_then_wait_for_data, q, std::int64_t{100}, emptied);
  consumer.start();
  BOOST_TEST_REQUIRE(emptied.wait(60s));
  std::this_thread::sleep_for(300ms);  // asleep in a get made without the lock
  consumer.kill();
  consumer.join();
  q.put(7);
  BOOST_TEST(q.get(5s) == 7);  // queue_empty if the dead consumer's get were taken for a live one
  BOOST_TEST(q.empty());
}

MPROC_TEST_EACH_METHOD(join_waits_for_a_child_to_mark_every_item_done) {
  mproc::joinable_queue<int> q;
  for (int i = 0; i < 20; ++i) q.put(i);
  mproc::process consumer(with(method), consume_and_mark_done, q, 20);
  consumer.start();
  BOOST_TEST(q.join(30s));
  BOOST_TEST(q.empty());
  consumer.join();
  BOOST_TEST(consumer.exitcode().value() == 0);
}


#if !defined(_WIN32)
// A thread that puts alone is known by a token; a child forked by it (a plain
// fork(), not mproc's) is another producer and must not put as if it held
// the side too: items of both would be written over each other.
BOOST_AUTO_TEST_CASE(a_child_forked_by_a_thread_putting_alone_puts_beside_it) {
  constexpr std::int64_t per_producer = 20000;
  mproc::queue<std::int64_t> q;
  for (std::int64_t i = 0; i < 100; ++i) q.put(3 * 1'000'000 + i);  // this thread now puts alone
  const pid_t child = ::fork();
  if (child == 0) {
    put_range(q, 2, per_producer);
    ::_exit(0);
  }
  BOOST_TEST_REQUIRE(child > 0);
  put_range(q, 1, per_producer);
  int status = 0;
  ::waitpid(child, &status, 0);
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  std::map<std::int64_t, std::int64_t> next_of{{1, 0}, {2, 0}, {3, 0}};
  std::size_t taken = 0;
  while (auto item = q.try_get()) {
    const std::int64_t producer = *item / 1'000'000;
    BOOST_TEST_REQUIRE(next_of.contains(producer));
    BOOST_TEST_REQUIRE(*item % 1'000'000 == next_of[producer]);  // each producer's items whole and in order
    ++next_of[producer];
    ++taken;
  }
  BOOST_TEST(taken == 2 * per_producer + 100);
}
#endif

BOOST_AUTO_TEST_SUITE_END()
