// Releases a held robust_mutex (robust_mutex.hpp, one per platform) at the end of a scope.
#pragma once

#include "robust_mutex.hpp"

namespace mproc::detail {

class unlocking {
 public:
  explicit unlocking(robust_mutex& mutex) noexcept : mutex_(mutex) {}
  ~unlocking() {
    try {
      unlock_mutex(mutex_);
    } catch (...) {  // only when this thread does not hold it, which a scope rules out
    }
  }
  unlocking(const unlocking&) = delete;
  unlocking& operator=(const unlocking&) = delete;

 private:
  robust_mutex& mutex_;
};

}  // namespace mproc::detail
