// Synchronisation objects between processes.
#include "support/scratch.hpp"

#include <mproc/process.hpp>
#include <mproc/shared.hpp>
#include <mproc/shared_memory.hpp>
#include <mproc/sync.hpp>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

using mproc::test::with;

namespace {

// Locks and unlocks `times` first: a thread that does that many in a row
// holds the lock's lease (lock_lease.hpp), so the final lock is by the lease.
void hold_lock_then_wait(mproc::mutex lock, mproc::event held, int times) {
  for (int i = 0; i < times; ++i) std::scoped_lock once(lock);
  lock.lock();
  held.set();
  std::this_thread::sleep_for(60s);  // until killed, holding the lock
}

// Adds 1 to `total` `times` under `lock`, read and written in two steps with
// a pause between: without mutual exclusion, increments are lost.
void add_under_lock(mproc::mutex lock, mproc::value<std::int64_t> total, int times) {
  for (int i = 0; i < times; ++i) {
    std::scoped_lock hold(lock);
    const std::int64_t seen = total.ref();
    for (int pause = 0; pause < 20; ++pause) std::atomic_signal_fence(std::memory_order_seq_cst);
    total.ref() = seen + 1;
    if (i % 997 == 0) std::this_thread::yield();  // lets the other side in, revoking a lease
  }
}

void lockstep(mproc::barrier synchronizer, mproc::shared_memory board, int me, int parties, int rounds) {
  auto* reached = reinterpret_cast<std::atomic<int>*>(board.bytes().data());
  auto* indices = reinterpret_cast<unsigned char*>(board.bytes().data() + 64 * sizeof(std::atomic<int>));
  for (int round = 1; round <= rounds; ++round) {
    reached[me].store(round);
    indices[(round - 1) * parties + me] = static_cast<unsigned char>(synchronizer.wait());
    for (int other = 0; other < parties; ++other) {
      const int seen = reached[other].load();
      if (seen < round || seen > round + 1) std::exit(3);  // someone ran ahead or fell behind
    }
  }
}

void wait_then_count(mproc::condition cond, mproc::semaphore woken) {
  std::unique_lock hold(cond);
  cond.wait();
  hold.unlock();
  woken.release();
}

void wait_at_barrier_expecting_broken(mproc::barrier b) {
  try {
    b.wait();
  } catch (const mproc::broken_barrier_error&) {
    std::exit(9);
  }
}

void set_after(mproc::event e, int milliseconds) {
  std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
  e.set();
}

void set_event(mproc::event e) { e.set(); }

// Made inside a spawned child's target (not a decoded argument), then shared
// with a forked grandchild: it must be one event, made at once.
void make_event_and_share_it_with_a_forked_child() {
  mproc::event made_here;
  mproc::process grandchild(mproc::process_options{.method = mproc::start_method::fork}, set_event, made_here);
  grandchild.start();
  grandchild.join();
  std::exit(made_here.wait(5s) ? 0 : 4);
}

// Waits with short timeouts, over and over: most waits end by timing out,
// the path where a process-shared pthread condition variable holds its
// internal lock. Killed in the middle of it.
void wait_briefly_for_ever(mproc::event e, mproc::semaphore s, mproc::condition c, mproc::barrier b) {
  for (;;) {
    e.wait(std::chrono::microseconds(200));
    if (s.try_acquire_for(std::chrono::microseconds(200))) s.release();
    {
      std::unique_lock hold(c);
      c.wait(std::chrono::microseconds(200));
    }
    try {
      b.wait(std::chrono::microseconds(200));
    } catch (const mproc::broken_barrier_error&) {
      b.reset();
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(waiters_killed_in_the_middle_of_a_wait_break_nothing) {
  mproc::event e;
  mproc::semaphore s(0);
  mproc::condition c;
  mproc::barrier b(5);
  for (int round = 0; round < 5; ++round) {
    std::vector<mproc::process> waiters;
    for (int i = 0; i < 3; ++i) waiters.emplace_back(wait_briefly_for_ever, e, s, c, b);
    for (auto& w : waiters) w.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + 37 * round));
    for (auto& w : waiters) w.kill();
    for (auto& w : waiters) w.join();
  }
  // Every object still works for the living.
  std::thread setter([&] {
    std::this_thread::sleep_for(50ms);
    e.set();
    s.release();
  });
  BOOST_TEST(e.wait(5s));
  BOOST_TEST(s.try_acquire_for(5s));
  setter.join();
  {
    std::unique_lock hold(c);
    std::thread notifier([&] {
      std::this_thread::sleep_for(50ms);
      std::unique_lock also(c);
      c.notify();
    });
    BOOST_TEST(c.wait(5s));
    hold.unlock();
    notifier.join();
  }
  mproc::barrier pair(2);
  std::thread other([&] { pair.wait(5s); });
  BOOST_TEST(pair.wait(5s) < 2u);
  other.join();
}

BOOST_AUTO_TEST_CASE(object_made_in_a_spawned_child_is_shared_with_its_forked_child,
                     *mproc::test::method_available(mproc::start_method::fork)) {
  mproc::process child(mproc::process_options{.method = mproc::start_method::spawn},
                       make_event_and_share_it_with_a_forked_child);
  child.start();
  child.join();
  BOOST_TEST(child.exitcode().value() == 0);
}

BOOST_AUTO_TEST_SUITE(locks)

BOOST_AUTO_TEST_CASE(mutex_is_lockable_and_owner_checked) {
  mproc::mutex m;
  {
    std::scoped_lock hold(m);
    std::thread other([&] { BOOST_TEST(!m.try_lock()); BOOST_CHECK_THROW(m.unlock(), mproc::error); });
    other.join();
    BOOST_CHECK_THROW(m.lock(), mproc::error);  // not recursive: a clear error, not a deadlock
  }
  BOOST_TEST(m.try_lock_for(10ms));
  m.unlock();
  BOOST_CHECK_THROW(m.unlock(), mproc::error);
}

BOOST_AUTO_TEST_CASE(rlock_nests_and_checks_its_owner) {
  mproc::rlock r;
  r.lock();
  r.lock();
  std::thread other([&] {
    BOOST_TEST(!r.try_lock());
    BOOST_CHECK_EXCEPTION(r.unlock(), mproc::error, [](const mproc::error& e) {
      return std::string(e.what()).find("does not hold") != std::string::npos;
    });
  });
  other.join();
  r.unlock();
  r.unlock();
  BOOST_CHECK_THROW(r.unlock(), mproc::error);
}

MPROC_TEST_EACH_METHOD(lock_whose_holder_is_killed_is_taken_over) {
  mproc::mutex lock;
  mproc::event held;
  for (const int times : {0, 1000}) {  // held by the robust mutex, then by a lease
    BOOST_TEST_CONTEXT("locked " << times << " times first") {
      mproc::event held;
      mproc::process holder(with(method), hold_lock_then_wait, lock, held, times);
      holder.start();
      BOOST_REQUIRE(held.wait(10s));
      BOOST_TEST(!lock.try_lock_for(100ms));  // held by the child
      holder.kill();
      holder.join();
      BOOST_TEST(lock.try_lock_for(5s));  // Python's Lock would stay locked forever here
      lock.unlock();
    }
  }
}

// A thread that locks many times in a row holds the lock by a lease: the same
// checks hold, and a lease revoked while the lock is held leaves it held.
BOOST_AUTO_TEST_CASE(a_lock_held_by_its_lease_is_still_owner_checked) {
  mproc::mutex m;
  for (int i = 0; i < 1000; ++i) std::scoped_lock once(m);
  m.lock();
  std::thread other([&] {
    BOOST_TEST(!m.try_lock());  // revokes the lease; the lock stays held
    BOOST_TEST(!m.try_lock_for(50ms));
    BOOST_CHECK_THROW(m.unlock(), mproc::error);
  });
  other.join();
  BOOST_CHECK_THROW(m.lock(), mproc::error);  // not a deadlock on the mutex the lease stood for
  BOOST_CHECK_THROW(m.try_lock(), mproc::error);
  m.unlock();
  BOOST_CHECK_THROW(m.unlock(), mproc::error);
  std::thread taker([&] {
    BOOST_TEST(m.try_lock_for(5s));
    m.unlock();
  });
  taker.join();
  for (int i = 0; i < 1000; ++i) std::scoped_lock once(m);  // the lease again, on a new slot
  BOOST_TEST(m.try_lock());
  BOOST_CHECK_THROW(m.try_lock(), mproc::error);
  BOOST_CHECK_THROW(m.lock(), mproc::error);
  BOOST_CHECK_THROW(m.try_lock_for(10ms), mproc::error);
  m.unlock();
}

MPROC_TEST_EACH_METHOD(locks_in_long_runs_exclude_each_other_between_processes) {
  mproc::mutex lock;
  mproc::value<std::int64_t> total;
  constexpr int times = 30000;
  std::vector<mproc::process> adders;
  for (int i = 0; i < 2; ++i) adders.emplace_back(with(method), add_under_lock, lock, total, times);
  for (auto& adder : adders) adder.start();
  add_under_lock(lock, total, times);
  for (auto& adder : adders) {
    adder.join();
    BOOST_TEST(adder.exitcode().value() == 0);
  }
  BOOST_TEST(total.ref() == 3 * times);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(semaphores_and_events)

BOOST_AUTO_TEST_CASE(semaphore_counts_and_times_out) {
  mproc::semaphore s(2);
  BOOST_TEST(s.try_acquire());
  BOOST_TEST(s.try_acquire());
  BOOST_TEST(s.value() == 0);
  const auto begin = std::chrono::steady_clock::now();
  BOOST_TEST(!s.try_acquire_for(100ms));
  BOOST_TEST((std::chrono::steady_clock::now() - begin >= 100ms));
  s.release(3);
  BOOST_TEST(s.value() == 3);
}

BOOST_AUTO_TEST_CASE(bounded_semaphore_refuses_release_past_its_bound) {
  mproc::bounded_semaphore s(1);
  BOOST_CHECK_THROW(s.release(), mproc::error);
  s.acquire();
  s.release();
  BOOST_CHECK_THROW(s.release(), mproc::error);
  BOOST_CHECK_THROW(mproc::semaphore(-1), mproc::error);
}

MPROC_TEST_EACH_METHOD(event_set_in_a_child_wakes_the_parent) {
  mproc::event e;
  BOOST_TEST(!e.is_set());
  BOOST_TEST(!e.wait(50ms));
  mproc::process setter(with(method), set_after, e, 100);
  setter.start();
  BOOST_TEST(e.wait(10s));
  BOOST_TEST(e.is_set());
  e.clear();
  BOOST_TEST(!e.is_set());
  setter.join();
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(conditions)

BOOST_AUTO_TEST_CASE(notify_n_wakes_exactly_n) {
  mproc::condition cond;
  mproc::semaphore woken(0);
  std::vector<mproc::process> waiters;
  for (int i = 0; i < 4; ++i) waiters.emplace_back(wait_then_count, cond, woken);
  for (auto& w : waiters) w.start();
  std::this_thread::sleep_for(500ms);  // all four are waiting
  {
    std::scoped_lock hold(cond);
    cond.notify(2);
  }
  BOOST_TEST(woken.try_acquire_for(10s));
  BOOST_TEST(woken.try_acquire_for(10s));
  BOOST_TEST(!woken.try_acquire_for(300ms));  // no third
  {
    std::scoped_lock hold(cond);
    cond.notify_all();
  }
  BOOST_TEST(woken.try_acquire_for(10s));
  BOOST_TEST(woken.try_acquire_for(10s));
  for (auto& w : waiters) w.join();
}

BOOST_AUTO_TEST_CASE(wait_for_a_predicate_with_timeout) {
  mproc::condition cond;
  std::unique_lock hold(cond);
  const auto begin = std::chrono::steady_clock::now();
  BOOST_TEST(!cond.wait_for([] { return false; }, 100ms));
  BOOST_TEST((std::chrono::steady_clock::now() - begin >= 100ms));
  BOOST_TEST(cond.wait_for([] { return true; }, 100ms));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(barriers)

MPROC_TEST_EACH_METHOD(five_processes_stay_in_lockstep_for_1000_passes) {
  constexpr int parties = 5;
  constexpr int rounds = 1000;
  mproc::barrier synchronizer(parties);
  auto board = mproc::shared_memory::create(64 * sizeof(std::atomic<int>) + rounds * parties);
  std::vector<mproc::process> all;
  for (int me = 0; me < parties; ++me) all.emplace_back(with(method), lockstep, synchronizer, board, me, parties, rounds);
  for (auto& p : all) p.start();
  for (auto& p : all) p.join();
  for (auto& p : all) BOOST_TEST(p.exitcode().value() == 0);
  const auto* indices = reinterpret_cast<const unsigned char*>(board.bytes().data() + 64 * sizeof(std::atomic<int>));
  int permutations = 0;
  for (int round = 0; round < rounds; ++round) {
    std::set<int> seen(indices + round * parties, indices + (round + 1) * parties);
    permutations += seen == std::set<int>{0, 1, 2, 3, 4} ? 1 : 0;
  }
  BOOST_TEST(permutations == rounds);
}

BOOST_AUTO_TEST_CASE(abort_breaks_every_waiter) {
  mproc::barrier b(3);
  mproc::process first(wait_at_barrier_expecting_broken, b);
  mproc::process second(wait_at_barrier_expecting_broken, b);
  first.start();
  second.start();
  BOOST_REQUIRE(mproc::test::eventually([&] { return b.n_waiting() == 2; }));
  b.abort();
  first.join();
  second.join();
  BOOST_TEST(first.exitcode().value() == 9);
  BOOST_TEST(second.exitcode().value() == 9);
  BOOST_TEST(b.broken());
  BOOST_CHECK_THROW(b.wait(), mproc::broken_barrier_error);
  b.reset();
  BOOST_TEST(!b.broken());
  BOOST_TEST(b.parties() == 3u);
}

BOOST_AUTO_TEST_CASE(reset_breaks_those_waiting_then_the_barrier_works) {
  mproc::barrier b(2);
  mproc::process waiting(wait_at_barrier_expecting_broken, b);
  waiting.start();
  BOOST_REQUIRE(mproc::test::eventually([&] { return b.n_waiting() == 1; }));
  b.reset();
  waiting.join();
  BOOST_TEST(waiting.exitcode().value() == 9);
  BOOST_TEST(!b.broken());
  mproc::process partner(wait_at_barrier_expecting_broken, b);
  partner.start();
  BOOST_TEST(b.wait() < 2u);  // an ordinary pass
  partner.join();
  BOOST_TEST(partner.exitcode().value() == 0);
}

BOOST_AUTO_TEST_CASE(timeout_breaks_the_barrier_for_all) {
  mproc::barrier b(3);
  mproc::process other(wait_at_barrier_expecting_broken, b);
  other.start();
  const auto begin = std::chrono::steady_clock::now();
  BOOST_CHECK_THROW(b.wait(200ms), mproc::broken_barrier_error);
  BOOST_TEST((std::chrono::steady_clock::now() - begin >= 200ms));
  other.join();
  BOOST_TEST(other.exitcode().value() == 9);
  BOOST_TEST(b.broken());
}

BOOST_AUTO_TEST_CASE(empty_handle_is_a_clear_error) {
  mproc::barrier none;
  BOOST_CHECK_THROW(none.wait(), mproc::closed_error);
}

BOOST_AUTO_TEST_SUITE_END()
