// A queue side's lease: the right to put (or get) without taking the side's
// robust lock, held by one thread while it is the only one using that side.
//
// Why: a 1-to-1 queue paid a robust lock and unlock on each side per item,
// which capped it near a fifth of a plain shared-memory ring. A thread that
// took the lock many times in a row is granted the lease; while it holds it,
// each put marks itself busy (a store to its own line, a light fence) and
// looks that the lease is still its own. Another thread that takes the lock
// revokes the lease (a heavy fence, see wake_word.hpp) and waits for the
// holder to leave the put it may be in; a holder that died in there is found
// by its process's pid and start time, and what it left is recovered as for a
// lock whose owner died. Either the holder sees the revocation or the revoker
// sees it busy: the two fences make a Dekker pair.
//
// Leases are granted only where fences can be light (Linux): elsewhere the
// holder's fence would cost what the lock did.
#pragma once

#include "wake_word.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <thread>

namespace mproc::detail {

/// The process of a lease's holder, told apart from a later one with its pid.
struct lease_owner {
  std::int64_t pid = 0;
  std::uint64_t start_time = 0;
};
lease_owner this_lease_owner() noexcept;
/// False once that process has ended (a zombie counts as ended).
bool lease_owner_alive(const lease_owner& owner) noexcept;
/// Nonzero, this thread's alone among every process's (a forked child's own).
std::uint64_t this_thread_token() noexcept;

/// In shared memory, on the lines its side writes.
struct side_lease {
  std::atomic<std::uint64_t> holder;  // this_thread_token() of the holder; 0: none
  std::atomic<std::uint32_t> busy;    // 1 while a holder is inside a put (get)
  std::uint32_t streak;               // calls in a row under the lock by streak_token
  std::uint64_t streak_token;
  lease_owner owner;                  // of the last holder
};

/// Calls under the lock in a row after which a thread holds the lease.
inline constexpr std::uint32_t lease_after_calls = 64;

/// The holder's way in: true when this thread holds `lease` and may go on
/// without the lock until leave_lease().
inline bool enter_lease(side_lease& lease, std::uint64_t me) noexcept {
  if (lease.holder.load(std::memory_order_relaxed) != me) return false;
  lease.busy.store(1, std::memory_order_relaxed);
  light_fence();  // pairs with revoke_lease()'s heavy fence
  if (lease.holder.load(std::memory_order_acquire) == me) return true;
  lease.busy.store(0, std::memory_order_release);
  return false;
}

inline void leave_lease(side_lease& lease) noexcept { lease.busy.store(0, std::memory_order_release); }

/// Leaves the lease at the end of a scope.
class leaving_lease {
 public:
  explicit leaving_lease(side_lease& lease) noexcept : lease_(lease) {}
  ~leaving_lease() { leave_lease(lease_); }
  leaving_lease(const leaving_lease&) = delete;
  leaving_lease& operator=(const leaving_lease&) = delete;

 private:
  side_lease& lease_;
};

/// Under the side's lock: ends any lease and waits until no holder is inside
/// a put (get). A holder found dead in there is recovered by `recover_dead`.
/// False when `deadline` passed first (the lease stays ended).
template <class Clock, class RecoverDead>
bool revoke_lease(side_lease& lease, std::uint64_t me, std::optional<typename Clock::time_point> deadline,
                  RecoverDead recover_dead) {
  const std::uint64_t holder = lease.holder.load(std::memory_order_relaxed);
  if (holder != 0) {
    lease.holder.store(0, std::memory_order_relaxed);
    if (holder == me) return true;  // not inside it: this thread is here
    heavy_fence();
  }
  for (int i = 0;; ++i) {
    if (lease.busy.load(std::memory_order_acquire) == 0) return true;
    if (i < 64) {
      std::this_thread::yield();
      continue;
    }
    if (!lease_owner_alive(lease.owner)) {
      recover_dead();
      lease.busy.store(0, std::memory_order_release);
      return true;
    }
    if (deadline && Clock::now() >= *deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a holder waits for room or data: rare
  }
}

/// Under the side's lock, after a call made under it: a thread that made
/// lease_after_calls in a row is granted the lease.
inline void count_locked_call(side_lease& lease, std::uint64_t me) noexcept {
  if (!asymmetric_fences()) return;
  if (lease.streak_token != me) {
    lease.streak_token = me;
    lease.streak = 0;
  }
  if (++lease.streak < lease_after_calls || lease.holder.load(std::memory_order_relaxed) != 0) return;
  lease.owner = this_lease_owner();
  lease.holder.store(me, std::memory_order_release);
}

}  // namespace mproc::detail
