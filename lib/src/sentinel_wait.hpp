// Waiting for any of several processes to end, through their sentinels, in a
// thread that other threads can wake.
#pragma once

#include <chrono>
#include <cstddef>
#include <vector>

namespace mproc::detail {

class sentinel_wait {
 public:
  sentinel_wait();
  ~sentinel_wait();
  sentinel_wait(const sentinel_wait&) = delete;
  sentinel_wait& operator=(const sentinel_wait&) = delete;

  /// The indices of `sentinels` that are ready (their process ended); waits
  /// at most `timeout`, or until wake().
  std::vector<std::size_t> wait(const std::vector<int>& sentinels, std::chrono::nanoseconds timeout);
  /// Ends a wait() now, or the next one at once.
  void wake() noexcept;

 private:
  int wake_handle_ = -1;
};

/// A copy of a sentinel that stays valid after its process object is closed;
/// -1 on failure. Close it with close_sentinel_copy.
int copy_sentinel(int sentinel) noexcept;
void close_sentinel_copy(int copy) noexcept;

}  // namespace mproc::detail
