// The resource tracker: removes the shared memory blocks of processes that
// died without closing them, once no live process uses them.
#pragma once

#include <string>

namespace mproc::detail {

/// Tells this process's tracker about a block it is about to create (starting
/// the tracker on first use), before the name exists: a SIGKILL at any moment
/// of the creation leaves nothing the tracker does not know of. Until the
/// block is complete the tracker judges it by its creator (this process):
/// alive, it waits; dead, it removes the half-made name. Never throws: without
/// a tracker, blocks are still removed by their last user, only not after
/// every user was killed.
void track_block(const std::string& name) noexcept;
/// The block's name is gone: the tracker may forget it.
void untrack_block(const std::string& name) noexcept;
/// In a forked child, first thing: the tracker's lock may have been held.
void reset_tracker_after_fork() noexcept;

}  // namespace mproc::detail
