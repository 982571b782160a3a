// concurrent.futures' toolkit over pool results: as_completed, wait with
// return_when, and (in pool.hpp) async_result::cancel() and as_future().
//
//   std::vector<mproc::async_result<int>> results;
//   for (int x : inputs) results.push_back(workers.apply_async(square, x));
//   for (auto& done : mproc::as_completed(results)) std::cout << done.get() << '\n';
//
//   auto [done, not_done] = mproc::wait(results, 2s, mproc::return_when::first_completed);
#pragma once

#include <mproc/detail/timeout.hpp>
#include <mproc/error.hpp>
#include <mproc/pool.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace mproc {

/// When wait() returns (concurrent.futures' FIRST_COMPLETED, ...).
enum class return_when { first_completed, first_exception, all_completed };

/// What wait() found: the results done and those not done, each in the order given.
template <class R>
struct wait_result {
  std::vector<async_result<R>> done;
  std::vector<async_result<R>> not_done;
};

namespace detail {

/// The indices of results in the order they completed, told by their callbacks.
struct completion_log {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::size_t> finished;
  bool any_failed = false;
};

struct result_access {
  template <class R>
  static job_state& job(const async_result<R>& result) {
    return *result.job_;
  }
};

/// Tells its log when each result completes (now, for those complete
/// already). Its callbacks go with it: a wait that gives up leaves nothing on
/// the jobs, however often it is repeated.
class completion_watch {
 public:
  template <class R>
  explicit completion_watch(const std::vector<async_result<R>>& results) : log(std::make_shared<completion_log>()) {
    hooks_.reserve(results.size());
    for (std::size_t i = 0; i < results.size(); ++i) {
      job_state& job = result_access::job(results[i]);
      const std::uint64_t id = when_job_done(job, [log = log, i, &job] {
        bool failed = false;
        {
          std::scoped_lock lock(job.mutex);
          failed = job.first_error != nullptr;
        }
        std::scoped_lock lock(log->mutex);
        log->finished.push_back(i);
        log->any_failed = log->any_failed || failed;
        log->changed.notify_all();
      });
      hooks_.emplace_back(&job, id);
    }
  }
  ~completion_watch() {
    for (const auto& [job, id] : hooks_) forget_job_callback(*job, id);
  }
  completion_watch(completion_watch&& other) noexcept
      : log(std::move(other.log)), hooks_(std::exchange(other.hooks_, {})) {}
  completion_watch(const completion_watch&) = delete;
  completion_watch& operator=(const completion_watch&) = delete;
  completion_watch& operator=(completion_watch&&) = delete;

  std::shared_ptr<completion_log> log;

 private:
  std::vector<std::pair<job_state*, std::uint64_t>> hooks_;  // the results (kept alive by their owner) hold the jobs
};

using deadline = std::optional<std::chrono::steady_clock::time_point>;

template <class Rep, class Period>
deadline deadline_after(std::chrono::duration<Rep, Period> timeout) {
  const std::chrono::nanoseconds limit = saturated(timeout);
  if (limit == longest_wait) return std::nullopt;  // a century or more: no limit
  return std::chrono::steady_clock::now() + limit;
}

}  // namespace detail

/// The results in the order they complete, each as soon as it has. With a
/// timeout (counted from this call), moving past the last result that came
/// in time throws timeout_error, as Python's as_completed does.
template <class R>
class completion_range {
 public:
  class iterator {
   public:
    using value_type = async_result<R>;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(completion_range* owner) : owner_(owner) { advance(); }
    async_result<R>& operator*() const { return owner_->results_[index_]; }
    async_result<R>* operator->() const { return &owner_->results_[index_]; }
    iterator& operator++() {
      advance();
      return *this;
    }
    void operator++(int) { advance(); }
    bool operator==(std::default_sentinel_t) const { return owner_ == nullptr; }

   private:
    void advance() {
      if (owner_->taken_ == owner_->results_.size()) {
        owner_ = nullptr;
        return;
      }
      index_ = owner_->next();
    }
    completion_range* owner_ = nullptr;
    std::size_t index_ = 0;
  };

  completion_range(std::vector<async_result<R>> results, detail::deadline until)
      : results_(std::move(results)), watch_(results_), log_(watch_.log), until_(until) {}
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() { return {}; }

 private:
  std::size_t next() {
    std::unique_lock lock(log_->mutex);
    auto arrived = [&] { return log_->finished.size() > taken_; };
    if (!until_) {
      log_->changed.wait(lock, arrived);
    } else if (!log_->changed.wait_until(lock, *until_, arrived)) {
      throw timeout_error(std::to_string(results_.size() - taken_) + " of " + std::to_string(results_.size()) +
                          " results were not ready within the timeout of as_completed()");
    }
    return log_->finished[taken_++];
  }

  std::vector<async_result<R>> results_;
  detail::completion_watch watch_;  // after results_: gone before them
  std::shared_ptr<detail::completion_log> log_;
  detail::deadline until_;
  std::size_t taken_ = 0;
};

/// The results as they complete (concurrent.futures.as_completed).
template <class R>
completion_range<R> as_completed(const std::vector<async_result<R>>& results) {
  return completion_range<R>(results, std::nullopt);
}
/// The same; moving on after `timeout` (from now) throws timeout_error.
template <class R, class Rep, class Period>
completion_range<R> as_completed(const std::vector<async_result<R>>& results,
                                 std::chrono::duration<Rep, Period> timeout) {
  return completion_range<R>(results, detail::deadline_after(timeout));
}

namespace detail {

template <class R>
wait_result<R> wait_for_results(const std::vector<async_result<R>>& results, deadline until, return_when when) {
  completion_watch watch(results);
  const auto& log = watch.log;
  std::vector<bool> finished(results.size(), false);
  {
    std::unique_lock lock(log->mutex);
    auto enough = [&] {
      if (log->finished.size() == results.size()) return true;
      if (when == return_when::first_completed) return !log->finished.empty();
      if (when == return_when::first_exception) return log->any_failed;
      return false;
    };
    if (!until) {
      log->changed.wait(lock, enough);
    } else {
      log->changed.wait_until(lock, *until, enough);
    }
    for (const std::size_t i : log->finished) finished[i] = true;
  }
  wait_result<R> split;
  for (std::size_t i = 0; i < results.size(); ++i) (finished[i] ? split.done : split.not_done).push_back(results[i]);
  return split;
}

}  // namespace detail

/// Waits until `when` holds for `results` (concurrent.futures.wait); never throws
/// for a failed result: look at done[i].successful().
template <class R>
wait_result<R> wait(const std::vector<async_result<R>>& results, return_when when = return_when::all_completed) {
  return detail::wait_for_results(results, std::nullopt, when);
}
/// The same, at most `timeout`: what is not done by then is in not_done.
template <class R, class Rep, class Period>
wait_result<R> wait(const std::vector<async_result<R>>& results, std::chrono::duration<Rep, Period> timeout,
                    return_when when = return_when::all_completed) {
  return detail::wait_for_results(results, detail::deadline_after(timeout), when);
}

}  // namespace mproc
