// A lock in shared memory that survives its holder's death: pthread's
// process-shared robust mutex. The synchronisation objects and the queue use
// it (their waits sleep on wake words: see wake_word.hpp). Boost's
// interprocess_mutex is not used: in 1.81 a holder's death leaves it unusable
// for good (pthread_mutex_consistent is never called).
#pragma once

#include <cerrno>
#include <chrono>
#include <optional>

#include <pthread.h>

namespace mproc::detail {

using nanoseconds = std::chrono::nanoseconds;

struct robust_mutex {
  pthread_mutex_t native;
};

enum class lock_type { normal, error_checking, recursive };

void init_mutex(robust_mutex& mutex, lock_type type);

/// Locks `mutex`; false when `timeout` ran out. A holder that died is taken
/// over (every change made under these locks is whole before the unlock, so
/// what it guarded is consistent); `owner_died`, if given, says so.
bool lock_mutex(robust_mutex& mutex, std::optional<nanoseconds> timeout, bool* owner_died = nullptr);
/// Takes `mutex` if nobody holds it, or if its holder died (`owner_died` says so).
bool try_lock_mutex(robust_mutex& mutex, bool* owner_died);
/// Throws mproc::error when this thread does not hold `mutex`.
void explain_unlock_failure(int result);

/// Locks without limit: the uncontended case straight to pthread, inline.
inline void lock_mutex(robust_mutex& mutex) {
  const int result = ::pthread_mutex_lock(&mutex.native);
  if (result == 0) return;
  if (result == EOWNERDEAD) {  // taken over from a dead holder, as lock_mutex() does
    ::pthread_mutex_consistent(&mutex.native);
    return;
  }
  lock_mutex(mutex, std::nullopt);  // not taken: fails again, with the error explained
}

inline void unlock_mutex(robust_mutex& mutex) {
  const int result = ::pthread_mutex_unlock(&mutex.native);
  if (result != 0) explain_unlock_failure(result);
}

}  // namespace mproc::detail
