// What the tests of asynchronous waits share: running an io_context for a
// bounded time, telling a cancelled wait's error, awaiting many objects.
#pragma once

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <exception>
#include <stdexcept>

namespace mproc::test {

/// True if `failure` is the operation_aborted error of a cancelled wait.
inline bool was_cancelled(const std::exception_ptr& failure) {
  try {
    if (failure) std::rethrow_exception(failure);
  } catch (const boost::system::system_error& e) {
    return e.code() == boost::asio::error::operation_aborted;
  } catch (...) {
  }
  return false;
}

/// What a wait completed with, and whether it has: `handler()` records it.
struct completion {
  bool completed = false;
  std::exception_ptr failure;

  auto handler() {
    return [this](std::exception_ptr e, auto&&...) {
      failure = e;
      completed = true;
    };
  }
};

/// Runs `ctx` until `done` or 30 s; true if done (a bounded wait, never a hang).
template <class Done>
bool run_until(boost::asio::io_context& ctx, Done done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    ctx.run_for(std::chrono::milliseconds(50));
    if (ctx.stopped()) ctx.restart();
  }
  return done();
}

/// Starts a wait with `start(token)`, cancels it (`type`) once it is pending,
/// and says whether it then completed as cancelled (within 30 s).
template <class Start>
bool wait_cancelled(boost::asio::io_context& ctx, Start start, boost::asio::cancellation_type type) {
  boost::asio::cancellation_signal stop;
  std::exception_ptr failure;
  bool completed = false;
  start(boost::asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e, auto&&...) {
    failure = e;
    completed = true;
  }));
  ctx.poll();
  stop.emit(type);
  return run_until(ctx, [&] { return completed; }) && was_cancelled(failure);
}

/// Starts a wait with `start(handler)`, then runs `act` once it is pending;
/// what the wait failed with. A wait that succeeded, or did not complete
/// within 30 s, gives an exception saying so (never a null pointer).
template <class Start, class Act>
std::exception_ptr failure_after(boost::asio::io_context& ctx, Start start, Act act) {
  std::exception_ptr failure;
  bool completed = false;
  start([&](std::exception_ptr e, auto&&...) {
    failure = e;
    completed = true;
  });
  ctx.poll();
  act();
  if (!run_until(ctx, [&] { return completed; })) {
    return std::make_exception_ptr(std::runtime_error("the wait did not complete within 30 s"));
  }
  return failure ? failure : std::make_exception_ptr(std::logic_error("the wait completed without an error"));
}

/// Spawns one coroutine per object of `awaited` that adds what the object's
/// async_get gives to `sum` and counts itself in `finished`.
template <class Objects>
void sum_each_async_get(boost::asio::io_context& ctx, Objects& awaited, long long& sum, int& finished) {
  for (auto& each : awaited) {
    boost::asio::co_spawn(
        ctx,
        [&ctx, &sum, &finished, object = &each]() -> boost::asio::awaitable<void> {
          sum += co_await object->async_get(ctx, boost::asio::use_awaitable);
          ++finished;
        },
        boost::asio::detached);
  }
}

}  // namespace mproc::test
