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

/// After a child of ours ended by a signal: removes the blocks this process
/// let go of (closed while others used them) whose remaining users are all dead.
void sweep_blocks_let_go() noexcept;
/// When a process ends: frees its slot in every block it still uses.
void release_blocks_at_exit() noexcept;
/// Removes the block called `name` if no live process uses it; true when the
/// name is gone. For the resource tracker, which never uses a block itself.
bool remove_if_unused(const std::string& name, int creator_pid, std::uint64_t creator_start) noexcept;

}  // namespace mproc::detail
