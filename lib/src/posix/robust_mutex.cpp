#include "robust_mutex.hpp"

#include <mproc/error.hpp>

#include <cerrno>
#include <cstring>
#include <string>

namespace mproc::detail {

void init_mutex(pthread_mutex_t& mutex, int type) {
  pthread_mutexattr_t attributes;
  ::pthread_mutexattr_init(&attributes);
  ::pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
  ::pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
  ::pthread_mutexattr_settype(&attributes, type);
  ::pthread_mutex_init(&mutex, &attributes);
  ::pthread_mutexattr_destroy(&attributes);
}

namespace {

timespec deadline_after(nanoseconds timeout) {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const auto total = std::chrono::seconds(now.tv_sec) + nanoseconds(now.tv_nsec) + timeout;
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(total);
  return {static_cast<time_t>(seconds.count()), static_cast<long>((total - seconds).count())};
}

}  // namespace

// Locks `mutex`; false when `timeout` ran out. A holder that died leaves the
// state it guarded consistent here (every change under these locks is whole
// before the unlock), so the lock is made consistent and taken over.
bool lock_mutex(pthread_mutex_t& mutex, std::optional<nanoseconds> timeout, bool* owner_died) {
  int result;
  if (timeout) {
    const timespec deadline = deadline_after(*timeout);
    result = ::pthread_mutex_clocklock(&mutex, CLOCK_MONOTONIC, &deadline);
  } else {
    result = ::pthread_mutex_lock(&mutex);
  }
  if (owner_died != nullptr) *owner_died = result == EOWNERDEAD;
  if (result == EOWNERDEAD) {
    ::pthread_mutex_consistent(&mutex);
    return true;
  }
  if (result == ETIMEDOUT) return false;
  if (result == EDEADLK) throw error("this thread holds the lock already (use recursive_mutex to lock again)");
  if (result != 0) throw error(std::string("cannot lock: ") + std::strerror(result));
  return true;
}

void unlock_mutex(pthread_mutex_t& mutex) {
  const int result = ::pthread_mutex_unlock(&mutex);
  if (result == EPERM) throw error("cannot release a lock this thread does not hold");
  if (result != 0) throw error(std::string("cannot unlock: ") + std::strerror(result));
}

}  // namespace mproc::detail
