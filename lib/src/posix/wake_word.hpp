// Sleeping on a word in shared memory until another process changes it: on
// Linux, a futex. Unlike pthread's
// condition variables, a futex has no internal lock that a process killed in
// the middle of a wait could leave held: glibc's process-shared condition
// variables are broken for good by a waiter SIGKILLed at the wrong moment
// (seen in the queue tests under ASan), so waits between processes use these.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

#include "thread_sanitizer.hpp"

namespace mproc::detail {

/// Sleeps while `word` holds `expected`, at most `timeout`. False when the
/// timeout ran out; true when woken, or at once if the word had changed.
bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::optional<std::chrono::nanoseconds> timeout) noexcept;
/// Wakes every process sleeping on `word`.
void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept;

// Fences between a side that changes things often (a queue's producer, a
// lease's holder) and a side that rarely needs to see them at once (a
// sleeper, a lease's revoker). A full fence costs a busy queue a quarter of
// its speed, so on Linux the frequent side pays a compiler barrier only and
// the rare side a membarrier(2), which runs a full barrier on every CPU
// running a process registered for it. Off under ThreadSanitizer, which does
// not know membarrier; off where the kernel refuses it (then real fences).

/// Set once this process registered (registration survives fork).
extern std::atomic<bool> light_fences_on;
/// Registers this process, once: a system call that can wait for an RCU grace
/// period (8 ms measured, longer under load), so only a process that gains
/// from it asks: a queue side's lease holder, not every process at start-up.
bool use_light_fences() noexcept;
inline bool asymmetric_fences() noexcept { return light_fences_on.load(std::memory_order_relaxed); }
/// The frequent side's fence: between its store and its load of a Dekker pair.
inline void light_fence() noexcept {
  if (asymmetric_fences()) {
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
}
/// The rare side's: orders it against every light_fence() of every process.
void heavy_fence() noexcept;

/// A futex word and the number of processes asleep on it, so that a change
/// with nobody asleep costs no system call. Every wait between processes
/// (queue, semaphore, event, condition, barrier) sleeps on one of these.
struct wake_word {
  std::atomic<std::uint32_t> word;
  std::atomic<std::uint32_t> sleepers;
};

/// Call after making a change a sleeper may wait for. The fence pairs with
/// the one after the sleepers count in sleep_once(): either the sleeper sees
/// the change, or this sees the sleeper and bumps the word it sleeps on.
inline void wake_all(wake_word& w) noexcept {
  std::uint32_t sleepers;
  if constexpr (tsan::enabled) {
    sleepers = w.sleepers.fetch_add(0);  // the same order, in a form ThreadSanitizer knows (it ignores fences)
  } else {
    light_fence();  // no write: the line stays shared between the sides
    sleepers = w.sleepers.load(std::memory_order_relaxed);
  }
  if (sleepers == 0) return;
  w.word.fetch_add(1);
  futex_wake_all(w.word);
}

/// Sleeps on `w` unless ready(), at most `left`; what ready() says afterwards.
/// One sleep: callers loop, as a wake-up may be for another waiter.
template <class Ready>
bool sleep_once(wake_word& w, std::optional<std::chrono::nanoseconds> left, Ready ready) {
  w.sleepers.fetch_add(1);
  heavy_fence();  // wakers' fences are light
  const std::uint32_t seen = w.word.load(std::memory_order_acquire);
  if (ready()) {
    w.sleepers.fetch_sub(1);
    return true;
  }
  futex_wait(w.word, seen, left);
  w.sleepers.fetch_sub(1);
  return ready();
}

}  // namespace mproc::detail
