// What the tests of asynchronous waits share: running an io_context for a
// bounded time, and telling a cancelled wait's error.
#pragma once

#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <exception>

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

}  // namespace mproc::test
