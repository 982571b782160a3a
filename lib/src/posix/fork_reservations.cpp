// A fork and the shared memory blocks this process uses (POSIX): the child
// is counted as a user of each from its first instruction, and no block joins
// or leaves the list while the slots are on their way to it.
#include "fork_reservations.hpp"

#include "../shared_blocks.hpp"
#include "resource_tracker.hpp"
#include "shared_memory_state.hpp"

#include <exception>
#include <new>

namespace mproc::detail {

fork_reservations::fork_reservations() : list_held_(blocks().mutex), holder_(std::this_thread::get_id()) {
  for (auto* state : blocks().states) {
    std::uint64_t word = 0;
    if (state->inherited_by_fork.load()) {
      word = new_reservation_word();
      try {
        state->claim(self(), word);
      } catch (const std::exception&) {
        word = 0;  // a full table: the child will not count as a user
      }
    }
    words_.push_back(word);
  }
}

fork_reservations::~fork_reservations() {
  if (!assigned_) assign_to_child(-1);
}

// The list is as it was when the slots were reserved: words_[i] is states[i]'s.
void fork_reservations::assign_to_child(int pid) noexcept {
  assigned_ = true;
  const auto child = identity_of(pid);
  const auto& states = blocks().states;
  for (std::size_t i = 0; i < states.size() && i < words_.size(); ++i) {
    if (words_[i] != 0) states[i]->hand_over(words_[i], child);
  }
  list_held_.unlock();
}

void fork_reservations::take_in_child() noexcept {
  block_registry& r = blocks();
  if (std::this_thread::get_id() == holder_) {
    list_held_.unlock();  // forked on the thread that holds it (its main thread): ours to unlock
  } else {
    // The thread that holds the list's lock is not in this process: a new lock.
    list_held_.release();
    new (&r.mutex) std::mutex();
  }
  reset_let_go_after_fork();
  // The slots held for us become ours now, not when the parent gets round to
  // it: a child that ends first would otherwise free nothing, and the block
  // would outlive its last user (the parent then sees us as a zombie). Blocks
  // with no slot for us (not inherited) leave the list: we have none to free.
  const identity me = self();
  std::size_t kept = 0;
  for (std::size_t i = 0; i < r.states.size() && i < words_.size(); ++i) {
    if (words_[i] == 0) continue;
    r.states[i]->hand_over(words_[i], me);
    r.states[kept++] = r.states[i];
  }
  r.states.resize(kept);  // shrinks in place: nothing allocated in a forked child
  assigned_ = true;
  reset_tracker_after_fork();
}

}  // namespace mproc::detail
