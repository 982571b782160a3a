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
// its worker is killed and replaced. Every other task goes on.
#pragma once

#include <mproc/detail/timeout.hpp>
#include <mproc/detail/handles.hpp>
#include <mproc/detail/pool_tasks.hpp>
#include <mproc/error.hpp>
#include <mproc/process.hpp>
#include <mproc/queue.hpp>
#include <mproc/shared_memory.hpp>
#include <mproc/start_method.hpp>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

namespace mproc {

namespace detail {

/// What a worker process is given: its own task queue, the shared result
/// queue, the block where it stamps the task it runs, its slot, its task limit.
struct worker_links {
  byte_queue tasks;
  byte_queue results;
  shared_memory stamps;
  std::uint32_t slot = 0;
  std::uint64_t max_tasks = 0;

  template <class Archive>
  void serialize(Archive& archive) {
    archive(tasks, results, stamps, slot, max_tasks);
  }
};

/// The worker's loop: takes tasks until its queue is closed or it has run
/// max_tasks of them.
void run_worker(worker_links& links);
void pool_worker(worker_links links);

template <class F, class... Args>
void pool_worker_with(worker_links links, code_address initializer, Args... args) {
  F made{};
  if constexpr (std::is_pointer_v<F>) made = reinterpret_cast<F>(resolve_code(initializer));
  made(args...);
  run_worker(links);
}

using worker_factory = std::function<process(process_options, worker_links)>;

}  // namespace detail

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
  /// Unset: get_start_method().
  std::optional<start_method> method{};
  /// A task (a chunk of a map) running longer fails with timeout_error, and its
  /// worker is killed and replaced. Unset: no limit. apply_async may give its own.
  std::optional<std::chrono::nanoseconds> task_timeout{};
  /// A task whose worker died is run once more (on another worker) before it
  /// fails with worker_lost_error. Only for tasks that may run twice.
  bool retry_lost_tasks = false;
  /// Called in the parent as each chunk of a job finishes: items done, and the
  /// job's total. From the pool's own thread: keep it short.
  std::function<void(std::size_t done, std::size_t total)> progress{};
};

/// A per-call time limit for apply_async: pool.apply_async(mproc::task_timeout(2s), f, x).
struct task_timeout {
  template <class Rep, class Period>
  explicit task_timeout(std::chrono::duration<Rep, Period> limit)
      : value(detail::saturated(limit)) {}
  std::chrono::nanoseconds value;
};

namespace detail {

/// The engine behind pool: workers, their queues, dispatch, death and timeout
/// handling. Not a template.
class pool_core {
 public:
  explicit pool_core(pool_options options);
  ~pool_core();
  pool_core(const pool_core&) = delete;
  pool_core& operator=(const pool_core&) = delete;

  /// Queues a job of chunks (task messages) for the workers. `outbox` holds
  /// what encoding the arguments reserved (shared memory for the workers): it
  /// is told the job ended once it has. Errors: closed_error after close().
  /// `continuing`: more of a lazy imap's inputs, which close() does not stop
  /// (as Python's close() lets an imap given before it run to its end).
  std::shared_ptr<job_state> submit(std::vector<std::string> chunks, std::vector<std::size_t> chunk_items,
                                    std::optional<std::chrono::nanoseconds> timeout,
                                    std::shared_ptr<handle_outbox> outbox, bool continuing = false);
  /// Each chunk as a job of its own, all queued at once (a lazy imap's
  /// top-up: one lock and one dispatch); `continuing` as for submit().
  std::vector<std::shared_ptr<job_state>> submit_each_chunk(std::vector<std::string> chunks,
                                                            std::vector<std::size_t> chunk_items,
                                                            std::vector<std::shared_ptr<handle_outbox>> outboxes,
                                                            std::shared_ptr<progress_share> progress,
                                                            bool continuing);
  void close();
  void terminate();
  void join();
  /// A map of plain values as one team job (see team_layout).
  std::shared_ptr<job_state> submit_team(const std::string& head, const void* items, std::size_t count,
                                         std::size_t item_size, std::size_t result_size, std::size_t chunksize,
                                         std::optional<std::chrono::nanoseconds> timeout);
  /// False when chunks must be reported one by one (a progress callback).
  bool takes_team_jobs() const noexcept;
  std::size_t processes() const noexcept;
  /// The pids of the workers now.
  std::vector<int> worker_pids() const;

  struct state;  // in pool.cpp

 private:
  std::unique_ptr<state> state_;
};

/// What imap and imap_unordered feed a pool with: chunks made from the inputs
/// only as they are needed, at most `buffersize` of them in the pool at a time,
/// so that an endless input range works and memory stays flat. Each chunk is a
/// job of its own. Not a template: `next_chunk` (made by pool.hpp) reads the
/// inputs and encodes.
class imap_feed {
 public:
  /// Fills in the next chunk's task message, its item count and what encoding
  /// it reserved; false once the inputs are exhausted.
  using producer = std::function<bool(std::string& message, std::size_t& items,
                                      std::shared_ptr<handle_outbox>& outbox)>;
  /// `total_items`: the inputs' count for the progress callback, 0 if not known.
  imap_feed(std::shared_ptr<pool_core> pool, producer next_chunk, std::size_t buffersize, bool in_order,
            std::size_t total_items);
  /// Takes back the chunks no worker has started; those running finish unread.
  ~imap_feed();
  imap_feed(const imap_feed&) = delete;
  imap_feed& operator=(const imap_feed&) = delete;
  /// The next chunk to read, finished (in input order, or as chunks finish);
  /// null at the end. Errors: those of encoding, closed_error once the pool
  /// was joined or terminated.
  std::shared_ptr<job_state> next();

 private:
  struct finished_list;
  void top_up(bool continuing = true);
  std::shared_ptr<pool_core> pool_;
  producer next_chunk_;
  std::size_t buffersize_;
  bool in_order_;
  bool exhausted_ = false;
  std::deque<std::shared_ptr<job_state>> in_flight_;
  std::shared_ptr<finished_list> finished_;
  std::exception_ptr failure_;  // thrown once what is in the pool has been read
  std::shared_ptr<progress_share> progress_ = std::make_shared<progress_share>();
};

/// Encodes a job's chunks with `encode(items_begin, items_end)`; reservations
/// for shared memory among the arguments go to the returned outbox. Errors:
/// serialization_error, also for a connection among the arguments.
std::shared_ptr<handle_outbox> encoding_outbox();
void check_encoded(const handle_outbox& outbox);

/// How futures.hpp reaches an async_result's job.
struct result_access;

/// Python's choice for chunksize 0: about four chunks per worker.
std::size_t automatic_chunksize(std::size_t items, std::size_t workers) noexcept;

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
  /// Takes the task back if no worker has started it (nor any chunk of a map):
  /// true if it is cancelled, and get() then throws cancelled_error. False if
  /// it runs or has finished (concurrent.futures' Future.cancel()).
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

namespace detail {

/// A lazy map's inputs: the range (a view of it, owning an rvalue) and where
/// reading has got to. begin() is called once, so a range that can be read
/// only once works.
template <class View>
class input_source {
 public:
  explicit input_source(View view) : view_(std::move(view)) {}
  /// Up to `n` more inputs, as T.
  template <class T>
  std::vector<T> take(std::size_t n) {
    if (!at_) at_.emplace(std::ranges::begin(view_));
    std::vector<T> part;
    while (part.size() < n && *at_ != std::ranges::end(view_)) {
      part.push_back(static_cast<T>(**at_));
      ++*at_;
    }
    return part;
  }

 private:
  View view_;
  std::optional<std::ranges::iterator_t<View>> at_;
};

}  // namespace detail

/// The lazy results of imap and imap_unordered: an input range whose items are
/// the results, waited for one by one. Dereferencing a failed task's result
/// throws what it failed with.
template <class R>
class imap_result {
 public:
  class iterator {
   public:
    using value_type = R;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(imap_result* owner) : owner_(owner) { advance(); }
    /// Errors: what the item's task failed with (the iterator can still go on).
    R& operator*() const {
      if (owner_->current_error_) std::rethrow_exception(owner_->current_error_);
      return owner_->current_[index_];
    }
    iterator& operator++() {
      ++index_;
      advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const { return owner_ == nullptr; }

   private:
    void advance() {
      while (owner_ != nullptr && index_ >= owner_->current_count_) {
        index_ = 0;
        if (!owner_->next_chunk()) owner_ = nullptr;
      }
    }
    imap_result* owner_ = nullptr;
    std::size_t index_ = 0;
  };

  explicit imap_result(std::unique_ptr<detail::imap_feed> feed) : feed_(std::move(feed)) {}
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() { return {}; }

 private:
  bool next_chunk() {
    if (!feed_) return false;
    const auto job = feed_->next();
    if (!job) return false;
    current_error_ = nullptr;
    current_.clear();
    try {
      current_ = detail::chunk_results<R>(*job, 0);
    } catch (...) {  // each item of a failed chunk throws when it is read
      current_error_ = std::current_exception();
    }
    current_count_ = current_error_ ? job->chunk_items[0] : current_.size();
    return true;
  }
  std::unique_ptr<detail::imap_feed> feed_;  // null: a static_assert said why
  std::vector<R> current_;
  std::exception_ptr current_error_;
  std::size_t current_count_ = 0;
};

/// Python's multiprocessing.Pool. The destructor closes the pool and waits for
/// the work given to it (as `with Pool() as p:` does not: that terminates).
class pool {
 public:
  explicit pool(int processes = 0) : pool(pool_options{.processes = processes}) {}
  explicit pool(pool_options options) : core_(std::make_shared<detail::pool_core>(std::move(options))) {}
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
  /// with at most `buffersize` chunks in the pool at a time (0: 64 per worker).
  /// Leaving the loop early stops reading the inputs and takes back the chunks
  /// not started. The range is kept (moved in if it is an rvalue) until the
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
      std::size_t total = 0;  // for the progress callback: not known for an unsized range
      if constexpr (std::ranges::sized_range<Range>) total = static_cast<std::size_t>(std::ranges::size(inputs));
      auto source = std::make_shared<detail::input_source<std::views::all_t<Range>>>(
          std::views::all(std::forward<Range>(inputs)));
      const std::string& head =
          detail::task_head(reinterpret_cast<std::uintptr_t>(&detail::map_entry<F, T>), detail::target_address(f));
      chunksize = std::max<std::size_t>(chunksize, 1);
      auto next_chunk = [source, &head, chunksize](std::string& message, std::size_t& items,
                                                   std::shared_ptr<detail::handle_outbox>& outbox) {
        std::vector<T> part = source->template take<T>(chunksize);
        if (part.empty()) return false;
        outbox = detail::encoding_outbox();
        {
          detail::outbox_scope scope(*outbox);
          message = encode_chunk(head, part, *outbox);
        }
        detail::check_encoded(*outbox);
        items = part.size();
        return true;
      };
      return imap_result<R>(std::make_unique<detail::imap_feed>(
          core_, std::move(next_chunk), buffersize == 0 ? 64 * processes() : buffersize, in_order, total));
    }
  }

  // A chunk's task message; what encoding reserved is freed if it fails.
  template <class Item>
  static std::string encode_chunk(const std::string& head, const std::vector<Item>& part,
                                  detail::handle_outbox& outbox) {
    try {
      return detail::task_message(head, part);
    } catch (const serialization_error&) {
      outbox.started(-1);
      throw;
    } catch (const std::exception& e) {
      outbox.started(-1);
      throw serialization_error(std::string("a task's arguments cannot be serialised: ") + e.what());
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
      return submit_checked<F, Item, Star>(f, inputs, chunksize, timeout, whole);
    }
  }

  template <class F, class Item, bool Star, std::ranges::input_range Range>
  std::shared_ptr<detail::job_state> submit_checked(F f, const Range& inputs, std::size_t chunksize,
                                                    std::optional<std::chrono::nanoseconds> timeout, bool whole) {
    if constexpr (!Star && std::ranges::contiguous_range<Range> && std::ranges::sized_range<Range> &&
                  detail::plain_value<Item>) {
      using R = std::invoke_result_t<F&, Item&>;
      if constexpr (detail::plain_value<R>) {
        if (whole && core_->takes_team_jobs()) {
          const std::size_t count = std::ranges::size(inputs);
          const std::string& head = detail::task_head(
              reinterpret_cast<std::uintptr_t>(&detail::team_chunk_for<F, Item, R>), detail::target_address(f));
          return core_->submit_team(head, std::ranges::data(inputs), count, sizeof(Item), sizeof(R),
                                    chunksize == 0 ? detail::automatic_chunksize(count, processes()) : chunksize,
                                    timeout);
        }
      }
    }
    if constexpr (!Star && std::is_arithmetic_v<Item> && !std::is_same_v<Item, bool> &&
                  std::ranges::contiguous_range<Range> &&
                  std::ranges::sized_range<Range>) {
      return submit_numbers<F, Item>(f, std::ranges::data(inputs), std::ranges::size(inputs), chunksize, timeout);
    }
    std::vector<Item> all(std::ranges::begin(inputs), std::ranges::end(inputs));
    if (chunksize == 0) chunksize = detail::automatic_chunksize(all.size(), processes());
    std::uintptr_t entry = 0;
    if constexpr (Star) {
      entry = reinterpret_cast<std::uintptr_t>(&detail::star_entry<F, Item>);
    } else {
      entry = reinterpret_cast<std::uintptr_t>(&detail::map_entry<F, Item>);
    }
    const std::string& head = detail::task_head(entry, detail::target_address(f));
    auto outbox = detail::encoding_outbox();
    std::vector<std::string> chunks;
    std::vector<std::size_t> sizes;
    {
      detail::outbox_scope scope(*outbox);
      std::vector<Item> part;
      for (std::size_t at = 0; at < all.size(); at += chunksize) {
        const std::size_t end = std::min(all.size(), at + chunksize);
        part.assign(std::make_move_iterator(all.begin() + at), std::make_move_iterator(all.begin() + end));
        chunks.push_back(encode_chunk(head, part, *outbox));
        sizes.push_back(end - at);
      }
    }
    detail::check_encoded(*outbox);
    return core_->submit(std::move(chunks), std::move(sizes), timeout, std::move(outbox));
  }

  // map over numbers in contiguous memory: each chunk is written straight from
  // the caller's range, no copy of it made first.
  template <class F, class Item>
  std::shared_ptr<detail::job_state> submit_numbers(F f, const Item* items, std::size_t count, std::size_t chunksize,
                                                    std::optional<std::chrono::nanoseconds> timeout) {
    if (chunksize == 0) chunksize = detail::automatic_chunksize(count, processes());
    const std::string& head =
        detail::task_head(reinterpret_cast<std::uintptr_t>(&detail::map_entry<F, Item>), detail::target_address(f));
    std::vector<std::string> chunks;
    std::vector<std::size_t> sizes;
    chunks.reserve(count / chunksize + 1);
    for (std::size_t at = 0; at < count; at += chunksize) {
      const std::size_t n = std::min(count - at, chunksize);
      chunks.push_back(detail::task_message_of_numbers(head, items + at, n));
      sizes.push_back(n);
    }
    return core_->submit(std::move(chunks), std::move(sizes), timeout, detail::encoding_outbox());
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
