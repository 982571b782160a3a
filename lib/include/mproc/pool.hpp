// The process pool: Python's multiprocessing.Pool, which never hangs.
//
//   int square(int x) { return x * x; }
//
//   mproc::pool workers(4);                               // 0: cpu_count()
//   std::vector<int> squares = workers.map(square, inputs);
//   auto later = workers.apply_async(square, 7);          // async_result<int>
//   int fortynine = later.get();
//   for (int s : workers.imap_unordered(square, inputs)) ...
//
// Task functions are plain functions or captureless lambdas (as spawned
// process targets), their arguments and results anything cereal can encode.
// A task that throws fails with remote_error (the type and message); a worker
// that dies in the middle of a task fails that task with worker_lost_error, at
// once, and is replaced; a task over its timeout fails with timeout_error and
// its worker is killed and replaced, or with a stop_grace, asked to stop first
// (mproc::this_task::stop_requested()). Every other task goes on.
#pragma once

#include <mproc/async_result.hpp>
#include <mproc/detail/pool_core.hpp>
#include <mproc/detail/pool_jobs.hpp>
#include <mproc/detail/pool_tasks.hpp>
#include <mproc/detail/timeout.hpp>
#include <mproc/error.hpp>
#include <mproc/imap_result.hpp>
#include <mproc/process.hpp>
#include <mproc/start_method.hpp>
#include <mproc/this_task.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace mproc {

/// A function to run once in each worker before its first task, with its
/// arguments: `pool_options{.initializer = mproc::initializer(setup, 42)}`.
template <class F, class... Args>
detail::worker_factory initializer(F f, Args... args) {
  static_assert(detail::spawnable_target<F>, "an initializer is a plain function or a captureless lambda");
  static_assert(std::invocable<F&, detail::travelling_t<Args>&...>,
                "the initializer cannot be called with these arguments as they travel to the workers (a string "
                "literal travels as std::string)");
  (detail::check_task_argument<detail::travelling_t<Args>>(), ...);
  const detail::code_address at = [&] {
    if constexpr (std::is_pointer_v<F>) return detail::locate_code(reinterpret_cast<std::uintptr_t>(f));
    return detail::code_address{};
  }();
  return [at, ... stored = detail::travelling_t<Args>(std::move(args))](process_options options,
                                                                         detail::worker_links links) {
    return process(std::move(options), &detail::pool_worker_with<F, detail::travelling_t<Args>...>,
                   std::move(links), at, stored...);
  };
}

struct pool_options {
  /// Workers: 0 means cpu_count(). Negative or above 4096 is an error.
  int processes = 0;
  /// Runs once in each worker before any task (mproc::initializer).
  detail::worker_factory initializer{};
  /// A worker is replaced after this many tasks (chunks); 0: never.
  std::size_t maxtasksperchild = 0;
  /// A worker whose resident memory is above this many bytes after a task is
  /// replaced (billiard's max_memory_per_child, in bytes): a task that leaks
  /// or caches does not grow the pool for ever. 0: never.
  std::size_t max_memory_per_child = 0;
  /// A hard limit: a worker's memory cannot grow past this many bytes (POSIX:
  /// its address space, RLIMIT_AS, which counts mapped shared memory and
  /// thread stacks too; Windows: its committed memory, by a job object). A
  /// task whose allocation fails past it fails with memory_limit_error, and
  /// its worker is replaced. 0: none. Not under ASan or TSan, whose shadow
  /// memory alone passes any such limit.
  std::size_t memory_limit_per_child = 0;
  /// Unset: get_start_method().
  std::optional<start_method> method{};
  /// A task (a chunk of a map) running longer fails with timeout_error, and its
  /// worker is killed and replaced (after stop_grace, if set). Unset: no limit.
  /// apply_async may give its own.
  std::optional<std::chrono::nanoseconds> task_timeout{};
  /// How long a task asked to stop (past its task_timeout, or cancelled while it
  /// runs) has to return before its worker is killed and replaced. The task sees
  /// the request in mproc::this_task::stop_requested(). Zero: killed at once.
  std::chrono::nanoseconds stop_grace{0};
  /// A task whose worker died is run once more (on another worker) before it
  /// fails with worker_lost_error. Only for tasks that may run twice.
  bool retry_lost_tasks = false;
  /// With retry_lost_tasks: a lost task runs again until it has killed this
  /// many workers in a row, then fails with quarantined_error and is not run
  /// again. 0: it runs once more (2 deaths), then fails with worker_lost_error.
  std::size_t quarantine_after = 0;
  /// Called in the parent as a job moves: items done, and the job's total (for
  /// imap: the input range's size, 0 if it has none, as an endless one), as
  /// each chunk finishes and as its tasks report (mproc::report_progress; a
  /// call of one task reports in its own units). The count never goes back.
  /// From the pool's own thread: keep it short.
  std::function<void(std::size_t done, std::size_t total)> progress{};
  /// The workers' output, captured as a process's is (<mproc/output.hpp>):
  /// "[PoolWorker-2 4242] text", or lines to a handler. Captured, a lost
  /// task's worker_lost_error ends with the last lines its worker wrote to stderr.
  output_capture capture_output{};
};

/// A per-call time limit for apply_async: pool.apply_async(mproc::task_timeout(2s), f, x).
struct task_timeout {
  template <class Rep, class Period>
  explicit task_timeout(std::chrono::duration<Rep, Period> limit)
      : value(detail::saturated(limit)) {}
  std::chrono::nanoseconds value;
};

/// Python's multiprocessing.Pool. The destructor closes the pool and waits for
/// the work given to it (as `with Pool() as p:` does not: that terminates).
class pool {
 public:
  explicit pool(int processes = 0) : pool(pool_options{.processes = processes}) {}
  explicit pool(pool_options options) : pool(detail::make_local_pool(std::move(options))) {}
  ~pool() {
    if (core_) {
      close();
      join();
    }
  }
  pool(pool&&) noexcept = default;
  pool& operator=(pool&&) noexcept = delete;

  /// f(x) for each x of `inputs`, in order. Errors: the first error of a task
  /// (the others still run to the end); closed_error after close().
  template <class F, std::ranges::input_range Range>
  auto map(F f, const Range& inputs, std::size_t chunksize = 0) {
    return map_async(f, inputs, chunksize).get();
  }
  template <class F, std::ranges::input_range Range>
  auto map_async(F f, const Range& inputs, std::size_t chunksize = 0) {
    using T = detail::travelling_t<std::ranges::range_value_t<Range>>;
    using R = detail::stored_result<detail::task_result_t<F, T>>;
    return async_result<std::vector<R>>(submit_each<F, T, false>(f, inputs, chunksize, std::nullopt, true), true);
  }

  /// f(args...) for each tuple of `inputs`, in order.
  template <class F, std::ranges::input_range Range>
  auto starmap(F f, const Range& inputs, std::size_t chunksize = 0) {
    return starmap_async(f, inputs, chunksize).get();
  }
  template <class F, std::ranges::input_range Range>
  auto starmap_async(F f, const Range& inputs, std::size_t chunksize = 0) {
    using Tuple = std::ranges::range_value_t<Range>;
    using R = detail::stored_result<detail::star_result_t<F, Tuple>>;
    return async_result<std::vector<R>>(submit_each<F, Tuple, true>(f, inputs, chunksize, std::nullopt), true);
  }

  /// f(args...) in a worker; waits for it.
  template <class F, class... Args>
  auto apply(F f, Args&&... args) {
    return apply_async(f, std::forward<Args>(args)...).get();
  }
  template <class F, class... Args>
    requires(!std::is_same_v<std::decay_t<F>, task_timeout>)
  auto apply_async(F f, Args&&... args) {
    return apply_within(std::nullopt, f, std::forward<Args>(args)...);
  }
  /// The same, failing with timeout_error (and a new worker) after `limit`.
  template <class F, class... Args>
  auto apply_async(task_timeout limit, F f, Args&&... args) {
    return apply_within(limit.value, f, std::forward<Args>(args)...);
  }

  /// Lazy map: results in order, each as soon as it and those before it are
  /// in. The inputs are read as the results are: any input range works, one
  /// that can be read only once or an endless one (`std::views::iota(0)`),
  /// with at most `buffersize` chunks in the pool at a time (0: 64 per worker;
  /// for plain values, also at least 8,192 items). Plain values in and out, in
  /// chunks of fewer than 1,024, go in two windows of half the buffer that the
  /// workers claim in shared memory, each read once it is whole. Leaving the loop early stops reading the
  /// inputs and takes back the chunks not started. The range is kept (moved in if it is an rvalue) until the
  /// result is gone. After close() the inputs are still read; after join() or
  /// terminate(), reading on throws closed_error.
  template <class F, std::ranges::input_range Range>
  auto imap(F f, Range&& inputs, std::size_t chunksize = 1, std::size_t buffersize = 0) {
    return lazy_map<F>(f, std::forward<Range>(inputs), chunksize, buffersize, true);
  }
  /// Lazy map: results as they finish, in any order (inputs read as imap's).
  template <class F, std::ranges::input_range Range>
  auto imap_unordered(F f, Range&& inputs, std::size_t chunksize = 1, std::size_t buffersize = 0) {
    return lazy_map<F>(f, std::forward<Range>(inputs), chunksize, buffersize, false);
  }

  /// No more tasks; those given run to the end.
  void close() { core_->close(); }
  /// Ends now: workers get SIGTERM, then SIGKILL after a short grace; results
  /// not in yet fail with closed_error. Bounded time, always.
  void terminate() { core_->terminate(); }
  /// Waits for the workers to end. Errors: mproc::error unless closed or terminated.
  void join() { core_->join(); }

  std::size_t processes() const noexcept { return core_->processes(); }
  std::vector<int> worker_pids() const { return core_->worker_pids(); }

 protected:
  /// A pool on another engine (mproc::mpi::pool: MPI ranks).
  explicit pool(std::shared_ptr<detail::pool_core> core) : core_(std::move(core)) {}

 private:
  template <class F>
  static void check_function() {
    static_assert(detail::spawnable_target<F>,
                  "a pool task is a plain function or a captureless lambda (workers run it by address)");
  }

  template <class F, class Range>
  auto lazy_map(F f, Range&& inputs, std::size_t chunksize, std::size_t buffersize, bool in_order) {
    using T = detail::travelling_t<std::ranges::range_value_t<Range>>;
    using R = detail::stored_result<detail::task_result_t<F, T>>;
    check_function<F>();
    if constexpr (!detail::check_task_argument<T>() || !detail::task_travels<F, T, false>()) {
      return imap_result<R>(nullptr);  // a static_assert said why; nothing below is instantiated
    } else {
      return imap_result<R>(detail::lazy_feed<F, T>(core_, f, std::forward<Range>(inputs), chunksize,
                                                    buffersize, in_order));
    }
  }

  // `whole`: the results are wanted all at once (map), not chunk by chunk (imap).
  template <class F, class Item, bool Star, std::ranges::input_range Range>
  std::shared_ptr<detail::job_state> submit_each(F f, const Range& inputs, std::size_t chunksize,
                                                 std::optional<std::chrono::nanoseconds> timeout,
                                                 bool whole = false) {
    check_function<F>();
    if constexpr (!detail::check_task_argument<Item>() || !detail::task_travels<F, Item, Star>()) {
      return nullptr;  // a static_assert said why; nothing below is instantiated
    } else {
      return detail::submit_map<F, Item, Star>(*core_, f, inputs, chunksize, timeout, whole);
    }
  }

  template <class F, class... Args>
  auto apply_within(std::optional<std::chrono::nanoseconds> timeout, F f, Args&&... args) {
    static_assert(std::invocable<F&, detail::travelling_t<Args>&...>,
                  "the task cannot be called with these arguments as they travel to a worker (a string literal "
                  "travels as std::string: take std::string or std::string_view)");
    using Tuple = std::tuple<detail::travelling_t<Args>...>;
    using R = detail::star_result_t<F, Tuple>;
    if constexpr (!(detail::check_task_argument<detail::travelling_t<Args>>() && ...)) {
      return async_result<R>(nullptr);  // the static_assert said why
    } else {
      return apply_checked<R, Tuple>(timeout, f, std::forward<Args>(args)...);
    }
  }

  template <class R, class Tuple, class F, class... Args>
  async_result<R> apply_checked(std::optional<std::chrono::nanoseconds> timeout, F f, Args&&... args) {
    std::vector<Tuple> one;
    one.emplace_back(std::forward<Args>(args)...);
    return async_result<R>(submit_each<F, Tuple, true>(f, one, 1, timeout));
  }

  std::shared_ptr<detail::pool_core> core_;  // shared with lazy imaps, which feed it
};

}  // namespace mproc
