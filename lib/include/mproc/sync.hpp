// Synchronisation between processes: Python's Lock, RLock, Semaphore,
// BoundedSemaphore, Event, Condition and Barrier.
//
//   mproc::mutex serializer;                 // Python's Lock (alias mproc::lock)
//   mproc::barrier synchronizer(2);
//   mproc::process p(work, synchronizer, serializer);   // the child shares both
//   ...
//   { std::scoped_lock hold(serializer); std::cout << "one at a time\n"; }
//
// Each object lives in a small shared memory block (see shared_memory.hpp for
// its lifetime) and travels to children as a process argument. Every wait has
// a timed form. A lock whose holder dies is released for the next locker
// (robust mutexes): unlike Python's, it never stays locked for good.
#pragma once

#include <mproc/detail/asio_waits.hpp>
#include <mproc/detail/timeout.hpp>
#include <mproc/error.hpp>
#include <mproc/shared_memory.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

namespace mproc {

namespace detail {

struct sync_cell;

/// What every synchronisation object has: a cell, shared by its copies, that
/// holds the shared memory block. The block is made at construction, except
/// for the placeholders a child default-constructs while decoding its
/// arguments, which load() replaces at once.
class sync_object {
 public:
  template <class Archive>
  void save(Archive& archive) const {
    archive(block());
  }
  template <class Archive>
  void load(Archive& archive) {
    shared_memory loaded;
    archive(loaded);
    adopt(std::move(loaded));
  }

 protected:
  sync_object() = default;  // an empty handle: only loading fills it
  sync_object(std::uint32_t kind, void (*initialize)(void* state, const std::int64_t* settings),
              std::int64_t first = 0, std::int64_t second = 0);
  /// The state, made on first use. Errors: closed_error for an empty handle.
  void* state() const { return made_ != nullptr ? made_ : make_state(); }

 private:
  void* make_state() const;
  const shared_memory& block() const;
  void adopt(shared_memory block);
  std::shared_ptr<sync_cell> cell_;
  void* made_ = nullptr;  // the state, once the constructor or load() has it: no call on the hot path
};

using nanoseconds = std::chrono::nanoseconds;
template <class Rep, class Period>
nanoseconds at_least(std::chrono::duration<Rep, Period> timeout) {
  return saturated(timeout);
}

}  // namespace detail

namespace detail {

/// A party's arrival at a barrier, for async_wait.
struct barrier_arrival {
  std::uint64_t generation = 0;
  std::size_t index = 0;
  bool tripped = false;  // this party was the last: the barrier passed at once
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

/// What mutex and recursive_mutex share: a Lockable robust pthread mutex.
class basic_lock : public sync_object {
 public:
  /// Waits for the lock. If its holder died holding it, takes it over.
  void lock();
  bool try_lock();
  template <class Rep, class Period>
  bool try_lock_for(std::chrono::duration<Rep, Period> timeout) {
    return lock_within(at_least(timeout));
  }
  /// Errors: mproc::error if this thread does not hold the lock.
  void unlock();

 protected:
  using sync_object::sync_object;

 private:
  bool lock_within(std::optional<nanoseconds> timeout);
};

}  // namespace detail

/// Python's Lock, as a Lockable mutex. Only the holder may unlock it, and
/// locking it again from the holding thread throws mproc::error.
class mutex : public detail::basic_lock {
 public:
  mutex();

  /// Takes the lock without blocking a thread (Asio): `token` completes on
  /// `where` (an executor or io_context) with `(std::exception_ptr)` once the
  /// thread running `where` holds it (a holder that died is taken over); that
  /// thread unlocks it. A cancelled wait has taken nothing. Not on rlock: its
  /// holder is a thread, and coroutines sharing one would all hold it.
  template <class ExecutorOrContext, class Token>
  auto async_acquire(ExecutorOrContext&& where, Token&& token) {
    return detail::async_attempt(
        detail::executor_of(where), released_word(), [self = *this]() mutable { return self.try_lock(); },
        "the wait for a lock was cancelled", std::forward<Token>(token));
  }

 private:
  detail::wake_word& released_word() const;
  friend class condition;
};
using lock = mutex;

/// Python's RLock: the holder may lock again; only the holder may unlock.
class recursive_mutex : public detail::basic_lock {
 public:
  recursive_mutex();
};
using rlock = recursive_mutex;

/// Python's Semaphore: acquire() waits while the counter is 0.
class semaphore : public detail::sync_object {
 public:
  explicit semaphore(std::int64_t value = 1);
  void acquire();
  bool try_acquire();
  template <class Rep, class Period>
  bool try_acquire_for(std::chrono::duration<Rep, Period> timeout) {
    return acquire_within(detail::at_least(timeout));
  }
  /// Takes a unit without blocking a thread (Asio): `token` completes on
  /// `where` (an executor or io_context) with `(std::exception_ptr)` once it
  /// has one. A cancelled wait has taken none.
  template <class ExecutorOrContext, class Token>
  auto async_acquire(ExecutorOrContext&& where, Token&& token) {
    return detail::async_attempt(
        detail::executor_of(where), changes_word(), [self = *this]() mutable { return self.try_acquire(); },
        "the wait for a semaphore was cancelled", std::forward<Token>(token));
  }
  void release(std::int64_t n = 1);
  std::int64_t value() const;

 protected:
  semaphore(std::int64_t value, std::int64_t bound);
  bool acquire_within(std::optional<detail::nanoseconds> timeout);

 private:
  detail::wake_word& changes_word() const;
};

/// Python's BoundedSemaphore: releasing above the first value throws mproc::error.
class bounded_semaphore : public semaphore {
 public:
  explicit bounded_semaphore(std::int64_t value = 1);
};

/// Python's Event: a flag that processes wait for.
class event : public detail::sync_object {
 public:
  event();
  void set();
  void clear();
  bool is_set() const;
  void wait();
  /// Waits for the flag without blocking a thread (Asio): `token` completes
  /// on `where` (an executor or io_context) with `(std::exception_ptr)`.
  template <class ExecutorOrContext, class Token>
  auto async_wait(ExecutorOrContext&& where, Token&& token) {
    return detail::async_attempt(
        detail::executor_of(where), changes_word(), [self = *this] { return self.is_set(); },
        "the wait for an event was cancelled", std::forward<Token>(token));
  }
  /// True if the flag was set within `timeout`.
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_within(detail::at_least(timeout));
  }

 private:
  bool wait_within(std::optional<detail::nanoseconds> timeout);
  detail::wake_word& changes_word() const;
};

/// Python's Condition over an mproc::mutex (its own unless one is given).
class condition : public detail::sync_object {
 public:
  explicit condition(mutex lock = mutex());
  void lock() { lock_.lock(); }
  void unlock() { lock_.unlock(); }
  bool try_lock() { return lock_.try_lock(); }

  /// Releases the lock, waits for a notification, takes the lock again. The
  /// caller must hold the lock (mproc::error otherwise).
  void wait();
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_within(detail::at_least(timeout));
  }
  /// Waits until `done()` holds, at most `timeout`; what done() last said.
  template <class Predicate, class Rep, class Period>
  bool wait_for(Predicate done, std::chrono::duration<Rep, Period> timeout) {
    const auto deadline = std::chrono::steady_clock::now() + detail::at_least(timeout);
    while (!done()) {
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= left.zero()) return done();
      wait_within(std::chrono::ceil<detail::nanoseconds>(left));
    }
    return true;
  }
  /// wait() without blocking a thread (Asio): releases the lock at once;
  /// `token` completes on `where` (an executor or io_context) with
  /// `(std::exception_ptr)` once notified and the lock is taken again, by the
  /// thread that runs `where`. Cancelled, it still takes the lock back first,
  /// as the blocking wait does, then completes as cancelled.
  template <class ExecutorOrContext, class Token>
  auto async_wait(ExecutorOrContext&& where, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::exception_ptr)>(
        [self = *this](auto handler, detail::async_executor executor) mutable {
          self.start_async_wait(std::move(executor), std::move(handler));
        },
        token, detail::executor_of(where));
  }
  /// Wakes `n` waiters (as many as wait, if fewer).
  void notify(std::size_t n = 1);
  void notify_all();

  template <class Archive>
  void save(Archive& archive) const {
    sync_object::save(archive);
    archive(lock_);
  }
  template <class Archive>
  void load(Archive& archive) {
    sync_object::load(archive);
    archive(lock_);
  }

 private:
  bool wait_within(std::optional<detail::nanoseconds> timeout);
  void start_async_wait(detail::async_executor executor, detail::async_handler<> done);
  mutex lock_;
};

/// Python's Barrier: parties wait until all have arrived.
class barrier : public detail::sync_object {
 public:
  /// `timeout` applies to every wait() that gives none.
  explicit barrier(std::size_t parties, std::optional<std::chrono::nanoseconds> timeout = std::nullopt);
  /// An empty handle, to be assigned to or received as a process argument.
  barrier() = default;

  /// Waits for all parties; returns a distinct index 0..parties-1 per party.
  /// Errors: broken_barrier_error if the barrier is or becomes broken (abort,
  /// reset while waiting, a timeout here or in another party).
  std::size_t wait();
  template <class Rep, class Period>
  std::size_t wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_within(detail::at_least(timeout));
  }
  /// Waits for all parties without blocking a thread (Asio): this party
  /// arrives now, and `token` completes on `where` (an executor or io_context)
  /// with `(std::exception_ptr, std::size_t index)`, the error being wait()'s.
  /// The barrier's timeout applies. Cancelled before the barrier trips, the
  /// arrival is taken back (as if this party never came); after, the wait
  /// completes as usual.
  template <class ExecutorOrContext, class Token>
  auto async_wait(ExecutorOrContext&& where, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::exception_ptr, std::size_t)>(
        [self = *this](auto handler, detail::async_executor executor) mutable {
          auto arrived = std::make_shared<detail::barrier_arrival>();
          std::exception_ptr refused;
          try {
            *arrived = self.arrive();
          } catch (...) {
            refused = std::current_exception();
          }
          detail::async_attempt_until(
              self.changes_word(),
              [self, arrived, refused]() mutable {
                if (refused) std::rethrow_exception(refused);
                return self.passed(*arrived);
              },
              std::move(executor),
              detail::make_then_handler(std::move(handler),
                                        [arrived](auto done, std::exception_ptr failure) mutable {
                                          std::move(done)(failure, arrived->index);
                                        }),
              "the wait at a barrier was cancelled",
              [self, arrived, refused]() mutable { return !refused && self.leave(*arrived); });
        },
        token, detail::executor_of(where));
  }
  /// Breaks the barrier: every waiter, now and later, gets broken_barrier_error.
  void abort();
  /// Back to empty and unbroken; parties waiting now get broken_barrier_error.
  void reset();
  bool broken() const;
  std::size_t parties() const;
  std::size_t n_waiting() const;

 private:
  std::size_t wait_within(std::optional<detail::nanoseconds> timeout);
  // The steps of async_wait. Errors: broken_barrier_error.
  detail::barrier_arrival arrive();
  bool passed(const detail::barrier_arrival& arrival);  // at its deadline, breaks the barrier
  bool leave(const detail::barrier_arrival& arrival);   // false once the barrier has tripped
  detail::wake_word& changes_word() const;
};

}  // namespace mproc
