// What the async_* members of mproc's classes share: Asio's completion-token
// plumbing, and the compiled waits behind it. Every asynchronous operation of
// mproc completes with `void(std::exception_ptr, T...)`, so that the typed
// errors of the blocking calls (remote_error, worker_lost_error, ...) reach an
// awaiting coroutine as they are; a cancelled wait completes with a
// boost::system::system_error of asio::error::operation_aborted.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution_context.hpp>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace mproc::detail {

using async_executor = boost::asio::any_io_executor;
template <class... T>
using async_handler = boost::asio::any_completion_handler<void(std::exception_ptr, T...)>;

template <class T>
inline constexpr bool is_execution_context_v =
    std::is_convertible_v<std::remove_cvref_t<T>&, boost::asio::execution_context&>;
template <class T>
inline constexpr bool is_executor_v = boost::asio::execution::is_executor<std::remove_cvref_t<T>>::value ||
                                      boost::asio::is_executor<std::remove_cvref_t<T>>::value;

/// The executor that an async_* call's first argument names: an executor
/// itself, or an execution context's (an io_context's).
template <class ExecutorOrContext>
async_executor executor_of(ExecutorOrContext& where) {
  if constexpr (is_execution_context_v<ExecutorOrContext>) {
    return where.get_executor();
  } else if constexpr (is_executor_v<ExecutorOrContext>) {
    return async_executor(where);
  } else {
    static_assert(is_executor_v<ExecutorOrContext>,
                  "mproc: the first argument of an async_* call must be an Asio executor or an io_context");
    return async_executor();
  }
}

/// The same, of its own type: no type erasure until a wait needs it.
template <class ExecutorOrContext>
auto plain_executor_of(ExecutorOrContext& where) {
  if constexpr (is_execution_context_v<ExecutorOrContext>) {
    return where.get_executor();
  } else {
    return executor_of(where);
  }
}

/// A handler that calls `then(handler, args...)`: what a compiled wait
/// completes, turned into the user's completion. It keeps the handler's
/// associated executor, cancellation slot and allocator (see the associator
/// below), so a coroutine resumes where it awaited and can still cancel.
template <class Handler, class Then>
struct then_handler {
  Handler handler;
  Then then;

  template <class... Args>
  void operator()(Args&&... args) {
    std::move(then)(std::move(handler), std::forward<Args>(args)...);
  }
};

template <class Handler, class Then>
then_handler<std::decay_t<Handler>, std::decay_t<Then>> make_then_handler(Handler&& handler, Then&& then) {
  return {std::forward<Handler>(handler), std::forward<Then>(then)};
}

/// The exception a cancelled wait completes with.
std::exception_ptr cancelled_wait(const char* what);

struct job_state;
struct wake_word;

/// Completes `done` with `failure` (null: success) on its executor (or
/// `executor`), posted: never in this call.
void post_completion(async_executor executor, async_handler<> done, std::exception_ptr failure);

/// Something that runs a callback once, when what it stands for happens:
/// `watch(callback)` arranges that (from any thread) and returns an id for
/// `forget`, or runs it at once and returns 0 if it has happened already.
struct callback_source {
  std::function<std::uint64_t(std::function<void()>)> watch;
  std::function<void(std::uint64_t)> forget;
};

/// Completes `done` on its executor (or `executor`) once `source` calls back,
/// without a thread waiting. Cancellable (any cancellation type; `what` is
/// the error's text) through `done`'s cancellation slot; a wait pending when
/// its execution context is destroyed is dropped with it.
void async_wait_for_callback(callback_source source, async_executor executor, async_handler<> done,
                             const char* what);

/// Completes `done` on its executor (or `executor`) once `job` is complete,
/// without a thread waiting. Cancellable (any cancellation type) through
/// `done`'s cancellation slot; a wait pending when its execution context is
/// destroyed is dropped with it.
void async_wait_for_job(std::shared_ptr<job_state> job, async_executor executor, async_handler<> done);

/// Completes `done` once `attempt` (called on the executor's thread, and once
/// in this call) returns true, or with what it throws. Between attempts the
/// wait holds a place among `changes`' sleepers and a watcher thread of this
/// process sleeps on it for many waits at once (word_watcher.hpp); it looks
/// again when the word changes, and every 100 ms. Cancellable (any type, then
/// `what` is the error's text); `attempt` is not called after a cancellation,
/// so a cancelled wait has taken nothing. `attempt` must keep what `changes`
/// lives in alive. `undo`, if given, is asked at a cancellation to take back
/// what starting the wait did (a barrier's arrival); when it cannot (the
/// barrier has tripped), the wait is not cancelled but completes as usual.
void async_attempt_until(wake_word& changes, std::function<bool()> attempt, async_executor executor,
                         async_handler<> done, const char* what, std::function<bool()> undo = {});

/// An async_* call whose completion is `void(std::exception_ptr)`: `attempt`
/// until it succeeds, sleeping on `changes` between tries.
template <class Token>
auto async_attempt(async_executor executor, wake_word& changes, std::function<bool()> attempt, const char* what,
                   Token&& token) {
  return boost::asio::async_initiate<Token, void(std::exception_ptr)>(
      [&changes, what](auto handler, async_executor where, std::function<bool()> try_once) {
        async_attempt_until(changes, std::move(try_once), std::move(where), std::move(handler), what);
      },
      token, std::move(executor), std::move(attempt));
}

}  // namespace mproc::detail

template <template <class, class> class Associator, class Handler, class Then, class DefaultCandidate>
struct boost::asio::associator<Associator, mproc::detail::then_handler<Handler, Then>, DefaultCandidate>
    : Associator<Handler, DefaultCandidate> {
  static typename Associator<Handler, DefaultCandidate>::type get(
      const mproc::detail::then_handler<Handler, Then>& h) noexcept {
    return Associator<Handler, DefaultCandidate>::get(h.handler);
  }
  static auto get(const mproc::detail::then_handler<Handler, Then>& h, const DefaultCandidate& c) noexcept
      -> decltype(Associator<Handler, DefaultCandidate>::get(h.handler, c)) {
    return Associator<Handler, DefaultCandidate>::get(h.handler, c);
  }
};
