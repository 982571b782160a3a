// Starting this program again, with one inherited descriptor.
#pragma once

#include <string>

namespace mproc::detail::posix {

/// Runs this program's own binary with the single argument `marker`, on the
/// launcher thread. The child inherits `inherited_fd` (under the same number)
/// and stdio, and no other descriptor; it gets `death_signal` when this process
/// ends. Returns the child's pid. Throws process_error.
int spawn_self(const std::string& marker, int inherited_fd, int death_signal);

/// The path of this program's file (the child's argv[0], what `ps -f` shows).
std::string program_path();

}  // namespace mproc::detail::posix
