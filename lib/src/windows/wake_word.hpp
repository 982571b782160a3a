// Sleeping on a word in shared memory until another process changes it. Windows
// has no futex between processes (WaitOnAddress works within one process), so a
// sleeper waits on a named semaphore that belongs to the word: its name comes
// from a random id the first sleeper writes into the word's `id`. Sleepers hold
// the semaphore open only while they sleep: it goes when the last one wakes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

namespace mproc::detail {

struct wake_word {
  std::atomic<std::uint32_t> word;
  std::atomic<std::uint32_t> sleepers;
  std::atomic<std::uint64_t> id;  // names the semaphore; 0 until the first sleep
};

/// The semaphore of `w`, opened (or made) for one sleep; nullptr if it cannot be.
void* open_sleep_semaphore(wake_word& w) noexcept;
/// Waits on it at most `left` (empty: without limit), then closes it.
void sleep_on_semaphore(void* semaphore, std::optional<std::chrono::nanoseconds> left) noexcept;
/// Releases one permit per sleeper of `w`.
void wake_sleepers(wake_word& w) noexcept;

// Fences between a frequent and a rare side (see the POSIX wake_word.hpp):
// Windows has no barrier that reaches other processes' CPUs
// (FlushProcessWriteBuffers serves one process), so both are real fences.
inline bool asymmetric_fences() noexcept { return false; }
inline bool use_light_fences() noexcept { return false; }
inline void light_fence() noexcept { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void heavy_fence() noexcept { std::atomic_thread_fence(std::memory_order_seq_cst); }

/// Call after making a change a sleeper may wait for. The fence pairs with
/// the sleepers count in sleep_once(): either the sleeper sees the change, or
/// this sees the sleeper and gives it a permit.
inline void wake_all(wake_word& w) noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (w.sleepers.load(std::memory_order_relaxed) == 0) return;
  w.word.fetch_add(1);
  wake_sleepers(w);
}

/// Sleeps on `w` unless ready(), at most `left`; what ready() says afterwards.
/// One sleep: callers loop, as a wake-up may be for another waiter (or be a
/// permit left by a sleeper that timed out).
template <class Ready>
bool sleep_once(wake_word& w, std::optional<std::chrono::nanoseconds> left, Ready ready) {
  void* semaphore = open_sleep_semaphore(w);  // open before counted: a waker that counts us finds it
  w.sleepers.fetch_add(1);                    // a full fence
  if (ready()) {
    w.sleepers.fetch_sub(1);
    sleep_on_semaphore(semaphore, std::chrono::nanoseconds{0});
    return true;
  }
  sleep_on_semaphore(semaphore, left);
  w.sleepers.fetch_sub(1);
  return ready();
}

}  // namespace mproc::detail
