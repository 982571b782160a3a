// Asio-native pipes: connection::async_send / async_recv with values from
// other processes, big messages that take many reads and writes, cancellation
// that loses nothing, peers that die; and an io_context destroyed while waits
// of every kind are pending.
#include "support/async_support.hpp"
#include "support/scratch.hpp"
#include "connection_state.hpp"

#include <mproc/pipe.hpp>
#include <mproc/process.hpp>
#include <mproc/queue.hpp>
#include <mproc/sync.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using mproc::test::failure_after;
using mproc::test::run_until;
using mproc::test::was_cancelled;
using mproc::test::with;

BOOST_AUTO_TEST_SUITE(async_pipes)

namespace {
// Answers each number with the next one, and each text with its size, until 0.
void answer(mproc::connection end) {
  for (;;) {
    const int number = end.recv<int>();
    if (number == 0) return;
    end.send(number + 1);
    end.send(end.recv<std::string>().size());
  }
}
void sleep_holding(mproc::connection end) {
  (void)end;
  std::this_thread::sleep_for(60s);
}
std::string big_text(std::size_t size) {
  std::string text(size, '\0');
  for (std::size_t i = 0; i < size; ++i) text[i] = static_cast<char>('a' + i % 23);
  return text;
}
}  // namespace

MPROC_TEST_EACH_METHOD(a_coroutine_talks_to_a_child_with_small_and_big_messages) {
  auto [mine, theirs] = mproc::pipe();
  mproc::process p(with(method), answer, theirs);
  p.start();
  theirs.close();
  asio::io_context ctx;
  std::string log;
  bool done = false;
  asio::co_spawn(
      ctx,
      [&, end = mine]() mutable -> asio::awaitable<void> {
        for (int i = 1; i <= 3; ++i) {
          co_await end.async_send(ctx, i, asio::use_awaitable);
          log += std::to_string(co_await end.async_recv<int>(ctx, asio::use_awaitable)) + " ";
          // 8 MiB: many partial writes here and partial reads there
          co_await end.async_send(ctx, big_text(std::size_t{8} << 20), asio::use_awaitable);
          log += std::to_string(co_await end.async_recv<std::size_t>(ctx, asio::use_awaitable)) + " ";
        }
        co_await end.async_send(ctx, 0, asio::use_awaitable);
        done = true;
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  BOOST_TEST(run_until(ctx, [&] { return done; }));
  BOOST_TEST(log == "2 8388608 3 8388608 4 8388608 ");
  p.join();
  BOOST_TEST(p.exitcode().value_or(-1) == 0);
}

BOOST_AUTO_TEST_CASE(a_receive_cancelled_mid_message_loses_nothing) {
  auto [mine, theirs] = mproc::pipe();
  const std::string text = big_text(100000);
  const std::string body = mproc::detail::to_tagged_bytes(text);
  const std::string frame = mproc::detail::frame_head(body.size()) + body;
  const std::size_t half = frame.size() / 2;
  BOOST_REQUIRE(mproc::test::write_raw(theirs.native_handle(), frame.data(), half));
  asio::io_context ctx;
  BOOST_TEST(mproc::test::wait_cancelled(
      ctx, [&](auto handler) { mine.async_recv<std::string>(ctx, std::move(handler)); },
      asio::cancellation_type::terminal));
  // The next receive goes on where the cancelled one stopped: it had read half.
  BOOST_TEST(!mine.poll());
  BOOST_REQUIRE(mproc::test::write_raw(theirs.native_handle(), frame.data() + half, frame.size() - half));
  BOOST_TEST((mine.recv<std::string>() == text));
}

BOOST_AUTO_TEST_CASE(a_send_that_has_begun_is_not_cancelled_but_goes_whole) {
  auto [mine, theirs] = mproc::pipe();
  asio::io_context ctx;
  asio::cancellation_signal stop;
  std::exception_ptr failure;
  bool completed = false;
  const std::string text = big_text(std::size_t{4} << 20);
  mine.async_send(ctx, text, asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e) {
                    failure = e;
                    completed = true;
                  }));
  ctx.poll();  // the first part is written, the rest waits for room
  stop.emit(asio::cancellation_type::terminal);
  ctx.poll();
  BOOST_TEST(!completed);
  std::string got;
  std::thread reader([&, end = theirs]() mutable { got = end.recv<std::string>(); });
  BOOST_TEST(run_until(ctx, [&] { return completed; }));
  reader.join();
  BOOST_TEST(!failure);
  BOOST_TEST((got == text));
}

BOOST_AUTO_TEST_CASE(a_receive_cancelled_before_any_byte_takes_nothing) {
  auto [mine, theirs] = mproc::pipe();
  asio::io_context ctx;
  BOOST_TEST(mproc::test::wait_cancelled(
      ctx, [&](auto handler) { mine.async_recv<int>(ctx, std::move(handler)); }, asio::cancellation_type::total));
  theirs.send(7);
  BOOST_TEST(mine.recv<int>() == 7);
}

MPROC_TEST_EACH_METHOD(a_killed_peer_ends_the_receive_with_eof_error) {
  auto [mine, theirs] = mproc::pipe();
  mproc::process p(with(method), sleep_holding, theirs);
  p.start();
  theirs.close();
  asio::io_context ctx;
  const auto failure = failure_after(
      ctx, [&](auto handler) { mine.async_recv<int>(ctx, std::move(handler)); }, [&] { p.kill(); });
  BOOST_CHECK_THROW(std::rethrow_exception(failure), mproc::eof_error);
  p.join();
}

BOOST_AUTO_TEST_CASE(misuse_completes_with_the_blocking_calls_errors) {
  auto [reader, writer] = mproc::pipe(false);
  asio::io_context ctx;
  std::exception_ptr send_failure;
  std::exception_ptr wrong_type;
  std::exception_ptr closed;
  reader.async_send(ctx, 1, [&](std::exception_ptr e) { send_failure = e; });
  writer.send(std::string("not a number"));
  reader.async_recv<int>(ctx, [&](std::exception_ptr e, int) { wrong_type = e; });
  mproc::connection never_opened;
  never_opened.async_recv<int>(ctx, [&](std::exception_ptr e, int) { closed = e; });
  BOOST_TEST(run_until(ctx, [&] { return send_failure && wrong_type && closed; }));
  BOOST_CHECK_THROW(std::rethrow_exception(send_failure), mproc::error);
  BOOST_CHECK_THROW(std::rethrow_exception(wrong_type), mproc::serialization_error);
  BOOST_CHECK_THROW(std::rethrow_exception(closed), mproc::closed_error);
}

BOOST_AUTO_TEST_CASE(an_io_context_destroyed_with_waits_of_every_kind_pending_drops_them) {
  auto [mine, theirs] = mproc::pipe();
  mproc::queue<int> items;
  mproc::lock held;
  mproc::event flag;
  mproc::semaphore units(0);
  held.lock();
  auto calls = std::make_shared<int>(0);
  {
    asio::io_context ctx;
    mine.async_recv<int>(ctx, [calls](std::exception_ptr, int) { ++*calls; });
    items.async_get(ctx, [calls](std::exception_ptr, int) { ++*calls; });
    flag.async_wait(ctx, [calls](std::exception_ptr) { ++*calls; });
    units.async_acquire(ctx, [calls](std::exception_ptr) { ++*calls; });
    std::thread([&, other = held]() mutable {  // another thread: a lock is not reentrant
      other.async_acquire(ctx, [calls](std::exception_ptr) { ++*calls; });
    }).join();
    ctx.poll();
  }  // destroyed with five waits pending
  BOOST_TEST(*calls == 0);
  BOOST_TEST(calls.use_count() == 1);  // every handler is gone
  // The objects are as they were: nothing was taken on the dropped waits' behalf.
  items.put(1);
  theirs.send(2);
  flag.set();
  units.release();
  held.unlock();
  BOOST_TEST(items.get(5s) == 1);
  BOOST_TEST(mine.recv<int>() == 2);
  BOOST_TEST(flag.is_set());
  BOOST_TEST(units.try_acquire_for(5s));
  BOOST_TEST(held.try_lock_for(5s));
  held.unlock();
}

BOOST_AUTO_TEST_SUITE_END()
