// What process starts and ends must tell the shared memory bookkeeping.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mproc::detail {

struct shared_memory_state;
class handle_outbox;

/// The outbox a block passed to a child goes in; throws closed_error for a
/// closed block and serialization_error outside a child's arguments.
handle_outbox* outbox_for_block(const std::shared_ptr<shared_memory_state>& state);

/// Before a fork: holds a user slot in every block this process uses, for the
/// child to come. After it, in the parent: gives those slots to the child.
std::vector<std::uint64_t> reserve_blocks_for_fork();
void assign_blocks_to_forked_child(const std::vector<std::uint64_t>& reservations, int pid);
/// In a forked child, first thing: also takes the slots reserved for it.
void reset_blocks_after_fork(const std::vector<std::uint64_t>& reservations) noexcept;
/// When a process ends: frees its slot in every block it still uses.
void release_blocks_at_exit() noexcept;
/// Removes the block called `name` if no live process uses it; true when the
/// name is gone. For the resource tracker, which never uses a block itself.
bool remove_if_unused(const std::string& name, int creator_pid, std::uint64_t creator_start) noexcept;

}  // namespace mproc::detail
