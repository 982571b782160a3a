// When a process was created: with its pid, it names one process for good
// (pids are reused), for the owners of robust mutexes and queue leases.
#pragma once

#include <cstdint>

#include <windows.h>

namespace mproc::detail::windows {

/// `process`'s creation time (a FILETIME as one number); 0 when unknown.
std::uint64_t creation_time(HANDLE process) noexcept;

}  // namespace mproc::detail::windows

namespace mproc::detail {

/// This process's creation time.
std::uint64_t this_process_start() noexcept;

}  // namespace mproc::detail
