#include "word_watch.hpp"

#include <cerrno>
#include <climits>
#include <ctime>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace mproc::detail {

word_hold hold_word(wake_word& w) noexcept {
  w.sleepers.fetch_add(1);
  heavy_fence();  // as in sleep_once(): wakers' fences are light
  return {&w, w.word.load(std::memory_order_acquire)};
}

void release_word(word_hold& hold) noexcept {
  if (hold.word == nullptr) return;
  // Never below 0: a queue resets its count when a sleeper died holding its lock.
  std::uint32_t count = hold.word->sleepers.load();
  while (count > 0 && !hold.word->sleepers.compare_exchange_weak(count, count - 1)) {
  }
  hold.word = nullptr;
}

void watcher_bell::ring() noexcept {
  word_.fetch_add(1);
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word_), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

std::vector<std::size_t> sleep_on_words(const std::vector<const word_hold*>& holds, watcher_bell& bell,
                                        std::uint32_t bell_seen, std::optional<std::chrono::milliseconds> timeout) {
  std::vector<futex_waitv> waiters(holds.size() + 1);
  waiters[0] = {bell_seen, reinterpret_cast<std::uintptr_t>(&bell.word_), FUTEX_32 | FUTEX_PRIVATE_FLAG, 0};
  for (std::size_t i = 0; i < holds.size(); ++i) {
    // Not private: the words are in shared memory, woken by other processes.
    waiters[i + 1] = {holds[i]->seen, reinterpret_cast<std::uintptr_t>(&holds[i]->word->word), FUTEX_32, 0};
  }
  timespec deadline{};
  if (timeout) {
    ::clock_gettime(CLOCK_MONOTONIC, &deadline);
    const auto ms = timeout->count();
    deadline.tv_sec += static_cast<time_t>(ms / 1000);
    deadline.tv_nsec += static_cast<long>(ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec += 1;
      deadline.tv_nsec -= 1000000000L;
    }
  }
  const long woken = ::syscall(SYS_futex_waitv, waiters.data(), static_cast<unsigned>(waiters.size()), 0,
                               timeout ? &deadline : nullptr, CLOCK_MONOTONIC);
  if (woken == -1 && errno == ENOSYS) {
    // A kernel before 5.16: look again every 5 ms (the list's owner rings too).
    timespec slice{0, 5000000L};
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&bell.word_), FUTEX_WAIT_PRIVATE, bell_seen, &slice,
              nullptr, 0);
  }
  std::vector<std::size_t> changed;
  for (std::size_t i = 0; i < holds.size(); ++i) {
    if (holds[i]->word->word.load(std::memory_order_acquire) != holds[i]->seen) changed.push_back(i);
  }
  return changed;
}

}  // namespace mproc::detail
