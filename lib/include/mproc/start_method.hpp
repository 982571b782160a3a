// How a new process is made: spawn (a fresh run of this program), fork (a copy of
// the parent) or forkserver (a fork of a small server process started once).
#pragma once

#include <ostream>
#include <string_view>
#include <vector>

namespace mproc {

enum class start_method { spawn, fork, forkserver };

/// "spawn", "fork" or "forkserver".
std::string_view to_string(start_method method) noexcept;

/// Writes the method's name ("spawn", "fork", "forkserver").
inline std::ostream& operator<<(std::ostream& out, start_method method) { return out << to_string(method); }

/// The methods this platform supports, default first: {spawn, fork, forkserver}
/// on POSIX, {spawn} on Windows.
std::vector<start_method> all_start_methods();

/// Sets the method used by processes that do not choose one themselves.
/// Throws process_error for a method this platform does not support.
void set_start_method(start_method method);

/// The method used by processes that do not choose one themselves (spawn unless
/// set_start_method() said otherwise).
start_method get_start_method() noexcept;

}  // namespace mproc
