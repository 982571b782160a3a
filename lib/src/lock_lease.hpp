// A mutex's lease: the right to lock and unlock it without the robust pthread
// mutex, held by one thread while no other uses the lock (queue_lease.hpp says
// how leases work; this is the same protocol on a lock).
//
// Why: a robust pthread mutex costs two atomic read-modify-writes and a robust
// list update per lock and unlock (about 23 ns), so `value += 1` under its lock
// ran at a fifth of a plain increment's speed, 20x Python where the goal is
// 30x. A holder's lock here is a store, a compiler fence and a load; its unlock
// one store. Any other thread that locks takes the pthread mutex, revokes the
// lease and waits for the holder's unlock, so the two ways never overlap.
//
// The holder marks itself busy with its thread token, not 1, so that unlock()
// can tell a hold by lease from a hold of the pthread mutex after the lease was
// revoked in the middle of it. A holder thread that ends while holding keeps the
// lock held, as Python's Lock does; a holder process that dies is found by the
// revoker and the lock is taken over, as for the robust mutex.
#pragma once

#include "queue_lease.hpp"

#include <atomic>
#include <cstdint>

namespace mproc::detail {

/// In shared memory, beside the lock's robust mutex.
struct lock_lease {
  std::atomic<std::uint64_t> holder;  // the holder's token with its slot + 1 in the low byte; 0: none
  std::atomic<std::uint32_t> grants;  // slots used so far; read by unlock() outside the mutex
  std::uint32_t streak;               // locks in a row by streak_token
  std::uint64_t streak_token;
  lease_owner owner;                             // of the last holder
  std::atomic<std::uint64_t> busy[lease_slots];  // the holder's token while it holds the lock by its lease
};

enum class lease_lock { taken, not_by_lease, held_already };

/// The holder's lock: `taken` when this thread now holds the lock by its
/// lease; `not_by_lease` when it is not the holder or its lease was just
/// revoked (then it takes the mutex); `held_already` when it holds it by the lease.
inline lease_lock lock_by_lease(lock_lease& lease, std::uint64_t me) noexcept {
  const std::uint64_t word = lease.holder.load(std::memory_order_relaxed);
  if ((word & ~lease_slot_bits) != me) return lease_lock::not_by_lease;
  auto& busy = lease.busy[(word & lease_slot_bits) - 1];
  if (busy.load(std::memory_order_relaxed) == me) return lease_lock::held_already;
  busy.store(me, std::memory_order_relaxed);
  light_fence();  // pairs with revoke_lease()'s heavy fence
  if (lease.holder.load(std::memory_order_acquire) == word) return lease_lock::taken;
  busy.store(0, std::memory_order_release);
  return lease_lock::not_by_lease;
}

/// Whether this thread holds the lock by a lease (revoked since or not). The
/// revoker waits on the last slot only, and grants no new one until it is 0.
inline bool held_by_lease(const lock_lease& lease, std::uint64_t me) noexcept {
  const std::uint32_t grants = lease.grants.load(std::memory_order_relaxed);
  return grants > 0 && lease.busy[grants - 1].load(std::memory_order_relaxed) == me;
}

/// The holder's unlock: true when this thread held the lock by a lease and
/// has let it go (a revoker waiting for it goes on).
inline bool unlock_by_lease(lock_lease& lease, std::uint64_t me) noexcept {
  if (!held_by_lease(lease, me)) return false;
  lease.busy[lease.grants.load(std::memory_order_relaxed) - 1].store(0, std::memory_order_release);
  return true;
}

}  // namespace mproc::detail
