// A result to come from a pool (Python's AsyncResult): get(), wait(), ready(),
// then(), cancel(), as_future(), and async_get() for Asio programs.
#pragma once

#include <mproc/detail/asio_waits.hpp>
#include <mproc/detail/pool_tasks.hpp>
#include <mproc/detail/timeout.hpp>
#include <mproc/error.hpp>

#include <chrono>
#include <cstring>
#include <exception>
#include <functional>
#include <future>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <vector>

namespace mproc {

namespace detail {
/// How futures.hpp reaches an async_result's job.
struct result_access;
}  // namespace detail

/// A result to come (Python's AsyncResult).
template <class R>
class async_result {
 public:
  /// Waits for the result. Errors: what the task failed with (remote_error,
  /// worker_lost_error, timeout_error, serialization_error, closed_error).
  R get() {
    wait();
    return value();
  }
  /// Errors: timeout_error if it is not ready within `timeout`, and those of get().
  template <class Rep, class Period>
  R get(std::chrono::duration<Rep, Period> timeout) {
    if (!wait(timeout)) throw timeout_error("the result was not ready within the timeout of get()");
    return value();
  }
  void wait() { detail::wait_for_job(*job_, std::nullopt); }
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) {
    return detail::wait_for_job(*job_, detail::saturated(timeout));
  }
  bool ready() const {
    std::scoped_lock lock(job_->mutex);
    return job_->settled();
  }
  /// Waits, then the exception the task failed with; null if it succeeded
  /// (concurrent.futures' Future.exception()).
  std::exception_ptr exception() {
    wait();
    std::scoped_lock lock(job_->mutex);
    return job_->first_error;
  }
  /// Cancels the task unless it has finished (nor any chunk of a map): true if
  /// it is cancelled, and get() then throws cancelled_error at once. A task not
  /// handed out is taken back, one a worker holds is skipped, one that runs is
  /// asked to stop (this_task::stop_requested()) and its worker replaced if it
  /// runs on past the pool's stop_grace. False once it has finished. A map of
  /// plain values cancels the chunks no worker claimed: true if that was all.
  bool cancel() { return job_->cancel && job_->cancel(*job_); }
  /// True once cancel() succeeded.
  bool cancelled() const {
    std::scoped_lock lock(job_->mutex);
    if (!job_->complete() || !job_->first_error) return false;
    try {
      std::rethrow_exception(job_->first_error);
    } catch (const cancelled_error&) {
      return true;
    } catch (...) {
      return false;
    }
  }
  /// A std::future of the result, for code that expects one.
  std::future<R> as_future() {
    auto promise = std::make_shared<std::promise<R>>();
    std::future<R> future = promise->get_future();
    auto on_error = [promise](std::exception_ptr failure) { promise->set_exception(failure); };
    if constexpr (std::is_void_v<R>) {
      then([promise] { promise->set_value(); }, on_error);
    } else {
      then([promise](R value) { promise->set_value(std::move(value)); }, on_error);
    }
    return future;
  }

  /// Waits for the result without blocking a thread (Asio): `token` (a
  /// callback, asio::use_awaitable, use_future, deferred, ...) completes on
  /// `where` (an executor or io_context) with `(std::exception_ptr, R)`: the
  /// same result, or the same typed error, as get(). Cancelling the wait
  /// (any cancellation type) leaves the task running and the result intact.
  template <class ExecutorOrContext, class Token>
  auto async_get(ExecutorOrContext&& where, Token&& token) {
    static_assert(std::is_void_v<R> || std::is_default_constructible_v<R>,
                  "mproc: async_get() needs a default-constructible result type (it completes with one on error)");
    using signature = std::conditional_t<std::is_void_v<R>, void(std::exception_ptr), void(std::exception_ptr, R)>;
    return boost::asio::async_initiate<Token, signature>(
        [self = *this](auto handler, detail::async_executor executor) mutable {
          auto job = self.job_;
          detail::async_wait_for_job(
              std::move(job), std::move(executor),
              detail::make_then_handler(std::move(handler), [self](auto done, std::exception_ptr failure) mutable {
                if constexpr (std::is_void_v<R>) {
                  if (!failure) {
                    try {
                      self.value();
                    } catch (...) {
                      failure = std::current_exception();
                    }
                  }
                  std::move(done)(failure);
                } else {
                  R result{};
                  if (!failure) {
                    try {
                      result = self.value();
                    } catch (...) {
                      failure = std::current_exception();
                    }
                  }
                  std::move(done)(failure, std::move(result));
                }
              }));
        },
        token, detail::executor_of(where));
  }

  /// Errors: mproc::error if not ready yet (as Python's ValueError).
  bool successful() const {
    std::scoped_lock lock(job_->mutex);
    if (!job_->complete()) throw error("successful() asked of a result that is not ready");
    return job_->first_error == nullptr;
  }
  /// Calls `on_success(result)` or `on_error(exception)` exactly once, from the
  /// pool's thread when the result arrives, or now if it has. As in Python,
  /// wait() and get() return only once the callbacks have run.
  template <class Success>
  async_result& then(Success on_success, std::function<void(std::exception_ptr)> on_error = {}) {
    detail::when_job_done(*job_, [self = *this, on_success, on_error]() mutable {
      std::exception_ptr failure;
      try {
        if constexpr (std::is_void_v<R>) {
          self.value();
          on_success();
        } else {
          on_success(self.value());
        }
        return;
      } catch (...) {
        failure = std::current_exception();
      }
      if (on_error) on_error(failure);
    });
    return *this;
  }

  explicit async_result(std::shared_ptr<detail::job_state> job, bool whole_vector = false)
      : job_(std::move(job)), whole_vector_(whole_vector) {}

 private:
  R value() {
    {
      std::scoped_lock lock(job_->mutex);
      if (job_->first_error) std::rethrow_exception(job_->first_error);
    }
    if constexpr (std::is_void_v<R>) {
      return;
    } else if constexpr (detail::is_std_vector<R>::value) {
      if (whole_vector_) return gather<typename R::value_type>();
      return std::move(detail::chunk_results<R>(*job_, 0).front());
    } else {
      return std::move(detail::chunk_results<R>(*job_, 0).front());
    }
  }
  template <class T>
  std::vector<T> gather() {
    std::vector<T> all;
    if constexpr (detail::plain_value<T>) {
      if (!job_->arena.closed()) {  // a team job: the results are in the arena, in order
        all.resize(job_->items);
        std::memcpy(all.data(), job_->arena.bytes().data() + job_->results_at, job_->items * sizeof(T));
        return all;
      }
    }
    if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {  // each chunk: its length, its numbers
      all.resize(job_->items);
      std::size_t at = 0;
      for (std::size_t chunk = 0; chunk < job_->chunks; ++chunk) {
        const std::string_view bytes = detail::chunk_bytes(*job_, chunk);
        std::uint64_t count = 0;
        if (bytes.size() >= sizeof count) std::memcpy(&count, bytes.data(), sizeof count);
        if (bytes.size() != sizeof count + count * sizeof(T) || at + count > all.size()) {
          throw serialization_error("a task's results do not match the task");
        }
        std::memcpy(all.data() + at, bytes.data() + sizeof count, count * sizeof(T));
        at += count;
      }
      return all;
    }
    all.reserve(job_->items);
    for (std::size_t chunk = 0; chunk < job_->chunks; ++chunk) {
      auto part = detail::chunk_results<T>(*job_, chunk);
      std::move(part.begin(), part.end(), std::back_inserter(all));
    }
    return all;
  }

  friend struct detail::result_access;
  std::shared_ptr<detail::job_state> job_;
  bool whole_vector_ = false;
};

}  // namespace mproc
