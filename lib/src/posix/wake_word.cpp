#include "wake_word.hpp"

#include <cerrno>
#include <climits>

#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace mproc::detail {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));

bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::optional<std::chrono::nanoseconds> timeout) noexcept {
  timespec relative{};
  if (timeout) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(*timeout);
    relative.tv_sec = static_cast<time_t>(seconds.count());
    relative.tv_nsec = static_cast<long>((*timeout - seconds).count());
  }
  // Not FUTEX_PRIVATE: the word is shared between processes.
  const long result = ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, expected,
                                timeout ? &relative : nullptr, nullptr, 0);
  return !(result == -1 && errno == ETIMEDOUT);
}

std::atomic<bool> light_fences_on{false};

bool use_light_fences() noexcept {
  if (light_fences_on.load(std::memory_order_relaxed)) return true;
  static const bool registered =
      !tsan::enabled && ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
  if (registered) light_fences_on.store(true);
  return registered;
}

// Called whatever this process's registration: a process whose own fences are
// real still has to order itself against those of processes whose are light.
void heavy_fence() noexcept {
  static const bool supported =
      (::syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0) & MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (supported) ::syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0);
}

void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace mproc::detail
