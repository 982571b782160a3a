// pthread's process-shared robust mutexes, as the synchronisation objects and
// the queue use them (their waits sleep on futex words: see futex.hpp). Boost's
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

/// Locks `mutex`; false when `timeout` ran out. A holder that died is taken
/// over (the mutex is made consistent again); `owner_died`, if given, says so.
bool lock_mutex(pthread_mutex_t& mutex, std::optional<nanoseconds> timeout, bool* owner_died = nullptr);
void unlock_mutex(pthread_mutex_t& mutex);

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
