// What process starts and ends must tell the shared memory bookkeeping.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mproc::detail {

struct shared_memory_state;
class handle_outbox;

/// The outbox a block passed to a child goes in; throws closed_error for a
/// closed block and serialization_error outside a child's arguments.
handle_outbox* outbox_for_block(const std::shared_ptr<shared_memory_state>& state);

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
/// After a child of ours ended by a signal: removes the blocks this process
/// let go of (closed while others used them) whose remaining users are all dead.
void sweep_blocks_let_go() noexcept;
/// When a process ends: frees its slot in every block it still uses.
void release_blocks_at_exit() noexcept;
/// Removes the block called `name` if no live process uses it; true when the
/// name is gone. For the resource tracker, which never uses a block itself.
bool remove_if_unused(const std::string& name, int creator_pid, std::uint64_t creator_start) noexcept;

}  // namespace mproc::detail
