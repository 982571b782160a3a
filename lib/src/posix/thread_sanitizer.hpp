// What ThreadSanitizer cannot see by itself, told to it: calls that compile to
// nothing in other builds.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define MPROC_THREAD_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MPROC_THREAD_SANITIZER 1
#endif
#endif

#ifdef MPROC_THREAD_SANITIZER
#include <sanitizer/tsan_interface.h>
#endif

namespace mproc::detail::tsan {

#ifdef MPROC_THREAD_SANITIZER
inline constexpr bool enabled = true;
// GCC 12's libtsan does not intercept pthread_mutex_clocklock: a lock taken
// with it is announced around the call, so that its unlock is not "of an
// unlocked mutex".
inline void before_lock(void* mutex) noexcept { __tsan_mutex_pre_lock(mutex, 0); }
inline void after_lock(void* mutex, bool taken) noexcept {
  __tsan_mutex_post_lock(mutex, taken ? 0 : __tsan_mutex_try_lock_failed, 0);
}
#else
inline constexpr bool enabled = false;
inline void before_lock(void*) noexcept {}
inline void after_lock(void*, bool) noexcept {}
#endif

}  // namespace mproc::detail::tsan
