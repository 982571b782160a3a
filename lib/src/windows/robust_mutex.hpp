// A lock in shared memory that survives its holder's death, for the
// synchronisation objects and the queue. Windows has no such thing that lives
// in shared memory (a named kernel mutex is robust, but costs a system call per
// lock; Boost.Interprocess's Windows mutex spins and never learns that its
// holder died), so this is a word that holds the holder's process and thread,
// and the holder's start time so that a recycled pid is not taken for it.
// A waiter that finds the holder's process gone takes the lock over.
#pragma once

#include "process_start.hpp"
#include "wake_word.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

namespace mproc::detail {

using nanoseconds = std::chrono::nanoseconds;

struct robust_mutex {
  std::atomic<std::uint64_t> owner;        // (pid << 32) | thread id of the holder; 0: free
  std::atomic<std::uint64_t> owner_start;  // the holder's process creation time; 0 while being written
  std::uint32_t depth;                     // for recursive locks
  std::uint32_t type;                      // a lock_type
  wake_word released;
};

enum class lock_type { normal, error_checking, recursive };

void init_mutex(robust_mutex& mutex, lock_type type);

/// Locks `mutex`; false when `timeout` ran out. A holder that died is taken
/// over (every change made under these locks is whole before the unlock, so
/// what it guarded is consistent); `owner_died`, if given, says so.
bool lock_mutex(robust_mutex& mutex, std::optional<nanoseconds> timeout, bool* owner_died = nullptr);
/// Takes `mutex` if nobody holds it, or if its holder died (`owner_died` says so).
bool try_lock_mutex(robust_mutex& mutex, bool* owner_died);
void unlock_mutex(robust_mutex& mutex);

/// This thread as a holder: (pid << 32) | thread id.
std::uint64_t this_thread_owner() noexcept;

/// Locks without limit; the uncontended case inline.
inline void lock_mutex(robust_mutex& mutex) {
  std::uint64_t expected = 0;
  if (mutex.owner.compare_exchange_strong(expected, this_thread_owner())) {
    mutex.owner_start.store(this_process_start());
    mutex.depth = 1;
    return;
  }
  lock_mutex(mutex, std::nullopt);
}

}  // namespace mproc::detail
