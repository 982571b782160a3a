// Asio-native waits on queues and synchronisation objects: queue async_get /
// async_put, event, semaphore, lock and barrier waits; values from other
// processes, cancellation that takes nothing, peers that die, and how many
// threads the waits take.
#include "support/async_support.hpp"
#include "support/scratch.hpp"

#include <mproc/process.hpp>
#include <mproc/queue.hpp>
#include <mproc/sync.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <mutex>
#include <cstdlib>
#include <optional>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using mproc::test::run_until;
using mproc::test::was_cancelled;
using mproc::test::with;

namespace {
void sleep_seconds(int seconds) { std::this_thread::sleep_for(std::chrono::seconds(seconds)); }
}  // namespace

BOOST_AUTO_TEST_SUITE(async_sync_and_queues)

namespace {
void set_when_told(mproc::event told, mproc::event flag) {
  told.wait();
  flag.set();
}
void put_numbers(mproc::queue<int> items, int count) {
  for (int i = 0; i < count; ++i) items.put(i);
}
void release_once(mproc::semaphore units) { units.release(); }
void hold_lock_until(mproc::lock held, mproc::event locked, mproc::event go) {
  held.lock();
  locked.set();
  go.wait();
  held.unlock();
}
void notify_when_told(mproc::condition ready, mproc::event told) {
  told.wait();
  std::lock_guard<mproc::condition> held(ready);
  ready.notify();
}
void pass_barrier_then_exit(mproc::barrier b) { std::exit(static_cast<int>(b.wait()) + 10); }
void hold_lock_for_ever(mproc::lock held, mproc::event locked) {
  held.lock();
  locked.set();
  sleep_seconds(60);
}
}  // namespace

MPROC_TEST_EACH_METHOD(a_lock_a_child_releases_is_acquired) {
  mproc::lock held;
  mproc::event locked;
  mproc::event go;
  mproc::process p(with(method), hold_lock_until, held, locked, go);
  p.start();
  BOOST_TEST(locked.wait(30s));
  asio::io_context ctx;
  bool acquired = false;
  held.async_acquire(ctx, [&](std::exception_ptr e) { acquired = !e; });
  ctx.poll();
  BOOST_TEST(!acquired);
  go.set();
  BOOST_TEST(run_until(ctx, [&] { return acquired; }));
  held.unlock();  // this thread ran the context: it holds the lock
  p.join();
}

MPROC_TEST_EACH_METHOD(a_lock_whose_holder_is_killed_is_taken_over) {
  mproc::lock held;
  mproc::event locked;
  mproc::process p(with(method), hold_lock_for_ever, held, locked);
  p.start();
  BOOST_TEST(locked.wait(30s));
  asio::io_context ctx;
  bool acquired = false;
  held.async_acquire(ctx, [&](std::exception_ptr e) { acquired = !e; });
  ctx.poll();
  p.kill();
  BOOST_TEST(run_until(ctx, [&] { return acquired; }));
  held.unlock();
  p.join();
}

BOOST_AUTO_TEST_CASE(a_cancelled_lock_wait_takes_nothing) {
  mproc::lock held;
  mproc::event locked;
  mproc::event go;
  mproc::process p(hold_lock_until, held, locked, go);
  p.start();
  BOOST_TEST(locked.wait(30s));
  asio::io_context ctx;
  asio::cancellation_signal stop;
  bool cancelled = false;
  held.async_acquire(ctx, asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e) { cancelled = was_cancelled(e); }));
  ctx.poll();
  stop.emit(asio::cancellation_type::terminal);
  BOOST_TEST(run_until(ctx, [&] { return cancelled; }));
  go.set();
  p.join();
  ctx.restart();
  ctx.run_for(200ms);
  BOOST_TEST(held.try_lock());  // nobody took it on our behalf
  held.unlock();
}

MPROC_TEST_EACH_METHOD(an_event_set_by_a_child_is_awaited) {
  mproc::event told;
  mproc::event flag;
  mproc::process p(with(method), set_when_told, told, flag);
  p.start();
  asio::io_context ctx;
  bool completed = false;
  std::exception_ptr failure;
  flag.async_wait(ctx, [&](std::exception_ptr e) {
    failure = e;
    completed = true;
  });
  ctx.poll();
  BOOST_TEST(!completed);
  told.set();
  BOOST_TEST(run_until(ctx, [&] { return completed; }));
  BOOST_TEST(!failure);
  p.join();
}

MPROC_TEST_EACH_METHOD(a_coroutine_consumes_a_childs_items_in_order) {
  mproc::queue<int> items;
  mproc::process p(with(method), put_numbers, items, 500);
  p.start();
  asio::io_context ctx;
  auto result = asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<int> {
        int in_order = 0;
        for (int i = 0; i < 500; ++i) in_order += (co_await items.async_get(ctx, asio::use_awaitable)) == i ? 1 : 0;
        co_return in_order;
      },
      asio::use_future);
  ctx.run();
  BOOST_TEST(result.get() == 500);
  p.join();
}

MPROC_TEST_EACH_METHOD(a_semaphore_released_by_a_child_is_acquired) {
  mproc::semaphore units(0);
  asio::io_context ctx;
  bool completed = false;
  units.async_acquire(ctx, [&](std::exception_ptr) { completed = true; });
  ctx.poll();
  BOOST_TEST(!completed);
  mproc::process p(with(method), release_once, units);
  p.start();
  BOOST_TEST(run_until(ctx, [&] { return completed; }));
  BOOST_TEST(units.value() == 0);
  p.join();
}

BOOST_AUTO_TEST_CASE(a_cancelled_queue_wait_takes_no_item) {
  mproc::queue<int> items;
  asio::io_context ctx;
  BOOST_TEST(mproc::test::wait_cancelled(
      ctx, [&](auto token) { items.async_get(ctx, std::move(token)); }, asio::cancellation_type::terminal));
  items.put(41);
  ctx.restart();
  ctx.run_for(200ms);  // a wait that went on regardless would take the item now
  BOOST_TEST(items.get(5s) == 41);
}

BOOST_AUTO_TEST_CASE(a_cancelled_semaphore_wait_takes_no_unit) {
  mproc::semaphore units(0);
  asio::io_context ctx;
  BOOST_TEST(mproc::test::wait_cancelled(
      ctx, [&](auto token) { units.async_acquire(ctx, std::move(token)); }, asio::cancellation_type::total));
  units.release();
  ctx.restart();
  ctx.run_for(200ms);
  BOOST_TEST(units.value() == 1);
}

BOOST_AUTO_TEST_CASE(a_cancelled_event_wait_changes_nothing) {
  mproc::event flag;
  asio::io_context ctx;
  BOOST_TEST(mproc::test::wait_cancelled(
      ctx, [&](auto token) { flag.async_wait(ctx, std::move(token)); }, asio::cancellation_type::terminal));
  BOOST_TEST(!flag.is_set());
  flag.set();
  mproc::test::completion later;
  flag.async_wait(ctx, later.handler());
  BOOST_TEST(run_until(ctx, [&] { return later.completed; }));
  BOOST_TEST(!later.failure);
  BOOST_TEST(flag.is_set());  // a wait takes nothing from an event
}

BOOST_AUTO_TEST_CASE(a_queue_shut_down_while_awaited_gives_closed_error) {
  mproc::queue<int> items;
  asio::io_context ctx;
  const auto failure = mproc::test::failure_after(
      ctx, [&](auto handler) { items.async_get(ctx, std::move(handler)); }, [&] { items.shutdown(); });
  BOOST_CHECK_THROW(std::rethrow_exception(failure), mproc::closed_error);
}

namespace {
void put_three_then_sleep(mproc::queue<int> items) {
  for (int i = 1; i <= 3; ++i) items.put(i);
  sleep_seconds(60);
}
}  // namespace

MPROC_TEST_EACH_METHOD(a_producer_killed_while_awaited_loses_no_item_and_the_queue_goes_on) {
  mproc::queue<int> items;
  mproc::process p(with(method), put_three_then_sleep, items);
  p.start();
  asio::io_context ctx;
  std::vector<int> got;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 4; ++i) got.push_back(co_await items.async_get(ctx, asio::use_awaitable));
      },
      asio::detached);
  BOOST_TEST(run_until(ctx, [&] { return got.size() == 3; }));
  ctx.poll();  // the fourth wait is pending when the producer dies
  p.kill();
  p.join();
  ctx.poll();
  BOOST_TEST(got.size() == 3u);
  items.put(4);  // the queue goes on: the waiting coroutine gets the next item
  BOOST_TEST(run_until(ctx, [&] { return got.size() == 4; }));
  BOOST_TEST((got == std::vector<int>{1, 2, 3, 4}));
}

BOOST_AUTO_TEST_CASE(a_put_waits_for_room_and_a_cancelled_one_puts_nothing) {
  mproc::queue<int> items(1);
  items.put(1);
  asio::io_context ctx;
  bool put_done = false;
  items.async_put(ctx, 2, [&](std::exception_ptr e) { put_done = !e; });
  asio::cancellation_signal stop;
  bool cancelled = false;
  items.async_put(ctx, 3, asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e) { cancelled = was_cancelled(e); }));
  ctx.poll();
  stop.emit(asio::cancellation_type::terminal);
  BOOST_TEST(run_until(ctx, [&] { return cancelled; }));
  BOOST_TEST(!put_done);
  BOOST_TEST(items.get() == 1);
  BOOST_TEST(run_until(ctx, [&] { return put_done; }));
  BOOST_TEST(items.get(5s) == 2);
  BOOST_TEST(!items.try_get().has_value());
}

BOOST_AUTO_TEST_CASE(three_hundred_awaited_queues_take_few_threads) {
  std::vector<mproc::queue<int>> queues;
  for (int i = 0; i < 300; ++i) queues.emplace_back(0, 4096);
  asio::io_context ctx;
  ctx.poll();
  const int threads_before = mproc::test::thread_count();
  long long sum = 0;
  int finished = 0;
  mproc::test::sum_each_async_get(ctx, queues, sum, finished);
  ctx.poll();
  const int threads_waiting = mproc::test::thread_count();
  for (int i = 0; i < 300; ++i) queues[static_cast<std::size_t>(i)].put(i);
  BOOST_TEST(run_until(ctx, [&] { return finished == 300; }));
  BOOST_TEST(sum == 299LL * 300 / 2);
  BOOST_TEST(threads_waiting - threads_before <= 5, "threads before " << threads_before << ", waiting " << threads_waiting);
}

MPROC_TEST_EACH_METHOD(a_barrier_passes_with_a_blocking_party) {
  mproc::barrier b(2);
  mproc::process p(with(method), pass_barrier_then_exit, b);
  p.start();
  asio::io_context ctx;
  std::optional<std::size_t> index;
  b.async_wait(ctx, [&](std::exception_ptr e, std::size_t i) {
    if (!e) index = i;
  });
  BOOST_TEST(run_until(ctx, [&] { return index.has_value(); }));
  p.join();
  const int child_index = p.exitcode().value_or(0) - 10;
  BOOST_TEST(((index.value_or(9) == 0 && child_index == 1) || (index.value_or(9) == 1 && child_index == 0)),
             "indices " << index.value_or(9) << " and " << child_index);
}

BOOST_AUTO_TEST_CASE(a_barrier_wait_cancelled_before_it_trips_takes_its_arrival_back) {
  mproc::barrier b(2);
  asio::io_context ctx;
  asio::cancellation_signal stop;
  bool cancelled = false;
  b.async_wait(ctx, asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e, std::size_t) { cancelled = was_cancelled(e); }));
  ctx.poll();
  BOOST_TEST(b.n_waiting() == 1u);
  stop.emit(asio::cancellation_type::terminal);
  BOOST_TEST(run_until(ctx, [&] { return cancelled; }));
  BOOST_TEST(b.n_waiting() == 0u);
  BOOST_TEST(!b.broken());
  mproc::process p(pass_barrier_then_exit, b);  // two new parties pass it as if nobody had come
  p.start();
  const std::size_t mine = b.wait();
  p.join();
  BOOST_TEST(mine + static_cast<std::size_t>(p.exitcode().value_or(0) - 10) == 1u);
}

BOOST_AUTO_TEST_CASE(a_barrier_whose_other_party_was_killed_breaks_at_its_timeout) {
  mproc::barrier b(2, std::chrono::milliseconds(300));
  mproc::process p(sleep_seconds, 60);  // the other party, killed before it arrives
  p.start();
  p.kill();
  p.join();
  asio::io_context ctx;
  std::exception_ptr failure;
  bool completed = false;
  b.async_wait(ctx, [&](std::exception_ptr e, std::size_t) {
    failure = e;
    completed = true;
  });
  BOOST_TEST(run_until(ctx, [&] { return completed; }));
  BOOST_CHECK_THROW(std::rethrow_exception(failure), mproc::broken_barrier_error);
  BOOST_TEST(b.broken());
}

BOOST_AUTO_TEST_CASE(an_aborted_barrier_ends_the_wait_with_broken_barrier_error) {
  mproc::barrier b(3);
  asio::io_context ctx;
  const auto failure =
      mproc::test::failure_after(ctx, [&](auto handler) { b.async_wait(ctx, std::move(handler)); }, [&] { b.abort(); });
  BOOST_CHECK_THROW(std::rethrow_exception(failure), mproc::broken_barrier_error);
}

MPROC_TEST_EACH_METHOD(a_condition_a_child_notifies_is_awaited_and_the_lock_taken_back) {
  mproc::condition ready;
  mproc::event told;
  mproc::process p(with(method), notify_when_told, ready, told);
  p.start();
  asio::io_context ctx;
  mproc::test::completion wait;
  ready.lock();
  ready.async_wait(ctx, wait.handler());
  ctx.poll();
  BOOST_TEST(!wait.completed);
  told.set();  // the child can take the lock: the wait let it go
  BOOST_TEST(run_until(ctx, [&] { return wait.completed; }));
  BOOST_TEST(!wait.failure);
  BOOST_CHECK_NO_THROW(ready.unlock());  // this thread ran the context: it holds the lock again
  p.join();
  BOOST_TEST(p.exitcode().value_or(-1) == 0);
}

namespace {
void notify_and_die_holding_the_lock(mproc::condition ready, mproc::event told, mproc::event notified) {
  told.wait();
  ready.lock();
  ready.notify();
  notified.set();
  sleep_seconds(60);  // killed here, holding the lock
}
}  // namespace

MPROC_TEST_EACH_METHOD(a_condition_whose_notifier_dies_holding_the_lock_takes_the_lock_over) {
  mproc::condition ready;
  mproc::event told;
  mproc::event notified;
  mproc::process p(with(method), notify_and_die_holding_the_lock, ready, told, notified);
  p.start();
  asio::io_context ctx;
  mproc::test::completion wait;
  ready.lock();
  ready.async_wait(ctx, wait.handler());
  ctx.poll();
  told.set();
  BOOST_TEST(notified.wait(30s));
  ctx.poll();
  BOOST_TEST(!wait.completed);  // notified, but the lock is the child's
  p.kill();
  p.join();
  BOOST_TEST(run_until(ctx, [&] { return wait.completed; }));
  BOOST_TEST(!wait.failure);
  BOOST_CHECK_NO_THROW(ready.unlock());
}

BOOST_AUTO_TEST_CASE(a_cancelled_condition_wait_holds_the_lock_again) {
  mproc::condition ready;
  asio::io_context ctx;
  ready.lock();
  BOOST_TEST(mproc::test::wait_cancelled(
      ctx, [&](auto handler) { ready.async_wait(ctx, std::move(handler)); }, asio::cancellation_type::terminal));
  BOOST_CHECK_NO_THROW(ready.unlock());
  BOOST_TEST(ready.try_lock());  // and let it go once
  ready.unlock();
}

BOOST_AUTO_TEST_CASE(a_condition_wait_without_the_lock_is_an_error) {
  mproc::condition ready;
  asio::io_context ctx;
  std::exception_ptr failure;
  ready.async_wait(ctx, [&](std::exception_ptr e) { failure = e; });
  BOOST_TEST(run_until(ctx, [&] { return failure != nullptr; }));
  BOOST_CHECK_THROW(std::rethrow_exception(failure), mproc::error);
  BOOST_TEST(ready.try_lock());
  ready.unlock();
}

BOOST_AUTO_TEST_SUITE_END()
