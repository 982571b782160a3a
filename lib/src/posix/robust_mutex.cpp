#include "robust_mutex.hpp"

#include "thread_sanitizer.hpp"

#include <mproc/error.hpp>

#include <cstring>
#include <string>

#include <time.h>

namespace mproc::detail {

void init_mutex(robust_mutex& mutex, lock_type type) {
  pthread_mutexattr_t attributes;
  ::pthread_mutexattr_init(&attributes);
  ::pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
  ::pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
  ::pthread_mutexattr_settype(&attributes, type == lock_type::recursive        ? PTHREAD_MUTEX_RECURSIVE
                                           : type == lock_type::error_checking ? PTHREAD_MUTEX_ERRORCHECK
                                                                               : PTHREAD_MUTEX_NORMAL);
  ::pthread_mutex_init(&mutex.native, &attributes);
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

bool lock_mutex(robust_mutex& mutex, std::optional<nanoseconds> timeout, bool* owner_died) {
  int result;
  if (timeout) {
    const timespec deadline = deadline_after(*timeout);
    tsan::before_lock(&mutex.native);
    result = ::pthread_mutex_clocklock(&mutex.native, CLOCK_MONOTONIC, &deadline);
    tsan::after_lock(&mutex.native, result == 0 || result == EOWNERDEAD);
  } else {
    result = ::pthread_mutex_lock(&mutex.native);
  }
  if (owner_died != nullptr) *owner_died = result == EOWNERDEAD;
  if (result == EOWNERDEAD) {
    ::pthread_mutex_consistent(&mutex.native);
    return true;
  }
  if (result == ETIMEDOUT) return false;
  if (result == EDEADLK) throw error("this thread holds the lock already (use recursive_mutex to lock again)");
  if (result != 0) throw error(std::string("cannot lock: ") + std::strerror(result));
  return true;
}

bool try_lock_mutex(robust_mutex& mutex, bool* owner_died) {
  const int result = ::pthread_mutex_trylock(&mutex.native);
  *owner_died = result == EOWNERDEAD;
  if (result == EOWNERDEAD) ::pthread_mutex_consistent(&mutex.native);
  return result == 0 || result == EOWNERDEAD;
}

void explain_unlock_failure(int result) {
  if (result == EPERM) throw error("cannot release a lock this thread does not hold");
  throw error(std::string("cannot unlock: ") + std::strerror(result));
}

}  // namespace mproc::detail
