// A queue side's lease: the right to put (or get) without taking the side's
// robust lock, held by one thread while it is the only one using that side.
//
// Why: a 1-to-1 queue paid a robust lock and unlock on each side per item,
// which capped it near a fifth of a plain shared-memory ring. A thread that
// took the lock many times in a row is granted the lease; while it holds it,
// each put marks itself busy (a store to its own word, a light fence) and
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
/// This thread's alone among every process's (a forked child's own): nonzero,
/// its low byte 0 (a lease's slot goes there).
std::uint64_t this_thread_token() noexcept;

/// Leases a side grants in its life: each holder marks itself busy in a word
/// of its own, so that a former holder backing off (it read the lease as its
/// own just before it was revoked) never clears the mark of the next one.
inline constexpr std::uint32_t lease_slots = 16;

/// In shared memory, on the lines its side writes.
struct side_lease {
  std::atomic<std::uint64_t> holder;  // the holder's token with its slot + 1 in the low byte; 0: none
  std::uint32_t grants;               // slots used so far
  std::uint32_t streak;               // calls in a row under the lock by streak_token
  std::uint64_t streak_token;
  lease_owner owner;                  // of the last holder
  std::atomic<std::uint32_t> busy[lease_slots];  // 1 while that slot's holder is inside a put (get)
};

/// Calls under the lock in a row after which a thread holds the lease.
inline constexpr std::uint32_t lease_after_calls = 64;
inline constexpr std::uint64_t lease_slot_bits = 0xFF;  // this_thread_token() leaves them 0

/// The holder's way in: the slot this thread holds `lease` by, having marked
/// itself busy there, or -1 (then it takes the lock). Leave with leaving_lease.
inline int enter_lease(side_lease& lease, std::uint64_t me) noexcept {
  const std::uint64_t word = lease.holder.load(std::memory_order_relaxed);
  if ((word & ~lease_slot_bits) != me) return -1;
  const auto slot = static_cast<int>(word & lease_slot_bits) - 1;
  lease.busy[slot].store(1, std::memory_order_relaxed);
  light_fence();  // pairs with revoke_lease()'s heavy fence
  if (lease.holder.load(std::memory_order_acquire) == word) return slot;
  lease.busy[slot].store(0, std::memory_order_release);
  return -1;
}

/// Leaves the lease at the end of a scope.
class leaving_lease {
 public:
  leaving_lease(side_lease& lease, int slot) noexcept : busy_(lease.busy[slot]) {}
  ~leaving_lease() { busy_.store(0, std::memory_order_release); }
  leaving_lease(const leaving_lease&) = delete;
  leaving_lease& operator=(const leaving_lease&) = delete;

 private:
  std::atomic<std::uint32_t>& busy_;
};

/// Under the side's lock: whether the last holder is inside a put (get) now.
template <class Lease>
bool lease_in_use(const Lease& lease) noexcept {
  return lease.grants > 0 && lease.busy[lease.grants - 1].load(std::memory_order_acquire) != 0;
}

/// How a revoker waits a moment for a holder inside a put (get): a queue's
/// holder stays there only while it waits for room or data, so naps of 1 ms do.
struct nap_briefly {
  template <class Busy>
  void operator()(const Busy&, std::chrono::nanoseconds) const {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
};

/// Under the side's lock: ends any lease and waits until its last holder is
/// not inside a put (get); earlier holders were waited for when theirs ended.
/// A holder found dead in there is recovered by `recover_dead`. False when
/// `deadline` passed first (the lease stays ended). `Lease` is a side_lease or
/// a lock's (lock_lease.hpp): the same fields, busy marks of another width.
/// `nap(busy, at_most)` waits up to `at_most` for the busy mark to clear; the
/// holder's process is looked at between naps.
template <class Clock, class Lease, class RecoverDead, class Nap = nap_briefly>
bool revoke_lease(Lease& lease, std::uint64_t me, std::optional<typename Clock::time_point> deadline,
                  RecoverDead recover_dead, Nap nap = {}) {
  const std::uint64_t word = lease.holder.load(std::memory_order_relaxed);
  if (word != 0) {
    lease.holder.store(0, std::memory_order_relaxed);
    if ((word & ~lease_slot_bits) == me) return true;  // not inside it: this thread is here
    heavy_fence();
  }
  if (lease.grants == 0) return true;
  auto& busy = lease.busy[lease.grants - 1];
  for (int i = 0;; ++i) {
    if (busy.load(std::memory_order_acquire) == 0) return true;
    if (i < 64) {
      std::this_thread::yield();
      continue;
    }
    if (!lease_owner_alive(lease.owner)) {
      recover_dead();
      busy.store(0, std::memory_order_release);
      return true;
    }
    std::chrono::nanoseconds at_most = std::chrono::milliseconds(10);
    if (deadline) {
      // Compared first: a try's deadline is time_point::min(), which no
      // subtraction may meet (it would overflow into a long wait).
      const auto now = Clock::now();
      if (now >= *deadline) return false;
      at_most = std::min(at_most, std::chrono::ceil<std::chrono::nanoseconds>(*deadline - now));
    }
    nap(busy, at_most);
  }
}

/// Under the side's lock, after a call made under it: a thread that made
/// lease_after_calls in a row is granted the lease, while slots last.
template <class Lease>
void count_locked_call(Lease& lease, std::uint64_t me) noexcept {
  if (lease.streak_token != me) {
    lease.streak_token = me;
    lease.streak = 0;
  }
  if (++lease.streak < lease_after_calls || lease.holder.load(std::memory_order_relaxed) != 0 ||
      lease.grants >= lease_slots || !use_light_fences()) {
    return;
  }
  const std::uint32_t slot = lease.grants++;
  lease.owner = this_lease_owner();
  lease.holder.store(me | (slot + 1), std::memory_order_release);
}

}  // namespace mproc::detail
