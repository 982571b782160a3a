// Who holds a queue side's lease (queue_lease.hpp), on POSIX.
#include "../queue_lease.hpp"

#include "shared_memory_state.hpp"

#include <pthread.h>

namespace mproc::detail {

namespace {

thread_local std::uint64_t token = 0;
std::atomic<std::uint64_t> threads_seen{0};

std::uint64_t mixed(std::uint64_t x) noexcept {  // splitmix64's finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

lease_owner this_lease_owner() noexcept {
  const identity me = self();
  return {me.pid, me.start_time};
}

bool lease_owner_alive(const lease_owner& owner) noexcept {
  return still_running({static_cast<int>(owner.pid), owner.start_time});
}

std::uint64_t this_thread_token() noexcept {
  if (token != 0) return token;
  // A forked child is another holder than the thread it was forked from.
  static const int reset_in_children = ::pthread_atfork(nullptr, nullptr, [] { token = 0; });
  (void)reset_in_children;
  const identity me = self();
  const std::uint64_t seed = (std::uint64_t(me.pid) << 40) ^ me.start_time ^ (threads_seen.fetch_add(1) << 20);
  token = (mixed(seed) & ~lease_slot_bits) | (lease_slot_bits + 1);
  return token;
}

}  // namespace mproc::detail
