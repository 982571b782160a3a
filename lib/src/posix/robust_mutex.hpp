// pthread's process-shared robust mutexes and CLOCK_MONOTONIC condition
// variables, as the synchronisation objects and the queue use them. Boost's
// interprocess_mutex is not used: in 1.81 a holder's death leaves it unusable
// for good (pthread_mutex_consistent is never called).
#pragma once

#include <chrono>
#include <optional>

#include <pthread.h>
#include <time.h>

namespace mproc::detail {

using nanoseconds = std::chrono::nanoseconds;

void init_mutex(pthread_mutex_t& mutex, int type);
void init_cond(pthread_cond_t& cond);
timespec deadline_after(nanoseconds timeout);

/// Locks `mutex`; false when `timeout` ran out. A holder that died is taken
/// over (the mutex is made consistent again); `owner_died`, if given, says so.
bool lock_mutex(pthread_mutex_t& mutex, std::optional<nanoseconds> timeout, bool* owner_died = nullptr);
void unlock_mutex(pthread_mutex_t& mutex);

/// Waits on `cond`; false when `timeout` ran out. A mutex holder that died is
/// taken over as in lock_mutex().
bool wait_cond(pthread_cond_t& cond, pthread_mutex_t& mutex, std::optional<nanoseconds> timeout);

/// Waits on `cond` (holding `mutex`) until `ready()`; false if `timeout` ran
/// out first.
template <class Ready>
bool wait_until_ready(pthread_cond_t& cond, pthread_mutex_t& mutex, std::optional<nanoseconds> timeout,
                      Ready ready) {
  const auto deadline = std::chrono::steady_clock::now() + timeout.value_or(nanoseconds{0});
  while (!ready()) {
    std::optional<nanoseconds> left;
    if (timeout) {
      left = deadline - std::chrono::steady_clock::now();
      if (*left <= nanoseconds{0}) return false;
    }
    wait_cond(cond, mutex, left);
  }
  return true;
}

/// Holds a robust mutex for a scope.
class holding {
 public:
  explicit holding(pthread_mutex_t& mutex) : mutex_(mutex) { lock_mutex(mutex_, std::nullopt); }
  ~holding() { ::pthread_mutex_unlock(&mutex_); }
  holding(const holding&) = delete;
  holding& operator=(const holding&) = delete;

 private:
  pthread_mutex_t& mutex_;
};

}  // namespace mproc::detail
