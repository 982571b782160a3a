// The resource tracker: removes the shared memory blocks of processes that
// died without closing them, once no live process uses them.
#pragma once

#include <string>

namespace mproc::detail {

/// Tells this process's tracker about a block it created (starting the
/// tracker on first use). Never throws: without a tracker, blocks are still
/// removed by their last user, only not after every user was killed.
void track_block(const std::string& name) noexcept;
/// The block's name is gone: the tracker may forget it.
void untrack_block(const std::string& name) noexcept;
/// In a forked child, first thing: the tracker's lock may have been held.
void reset_tracker_after_fork() noexcept;

}  // namespace mproc::detail
