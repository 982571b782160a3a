// What a fork must do for the shared memory blocks this process uses: see
// fork_reservations.cpp.
#pragma once

#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace mproc::detail {

/// A fork's share of the blocks this process uses. Made before the fork, it
/// holds a user slot in each for the child to come; after the fork the parent
/// gives those slots to the child, and the child takes them as its first act.
/// Until then no block may join or leave this process's list: one closed in
/// between would keep its slot in our name, and outlive its last user.
class fork_reservations {
 public:
  fork_reservations();
  /// Frees the slots if no child got them (the fork failed or threw).
  ~fork_reservations();
  fork_reservations(const fork_reservations&) = delete;
  fork_reservations& operator=(const fork_reservations&) = delete;

  /// In the parent; `pid` below 0: the fork failed, and the slots are freed.
  void assign_to_child(int pid) noexcept;
  /// In the child, first thing.
  void take_in_child() noexcept;

 private:
  std::unique_lock<std::mutex> list_held_;
  std::thread::id holder_;  // the thread that took it
  std::vector<std::uint64_t> words_;  // one per block in the list, in its order; 0: none reserved
  bool assigned_ = false;
};

}  // namespace mproc::detail
