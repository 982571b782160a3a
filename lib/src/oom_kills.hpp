// Whether the kernel's OOM killer ended a process. Linux counts such kills per
// memory cgroup ("oom_kill N": cgroup v2 memory.events, v1 memory.oom_control);
// a dead process has left its cgroup already, so a pool reads the count of
// each worker's cgroup while the worker lives (at its start), and again when it
// died by SIGKILL: a count that went up says the OOM killer killed in its
// cgroup. Nothing where the system keeps no such count (Windows, no cgroup).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace mproc::detail {

struct oom_count {
  std::string file;  // where the count is
  std::uint64_t kills = 0;
};

/// The OOM kill count of the memory cgroup process `pid` is in.
std::optional<oom_count> oom_count_of(int pid);
/// The count in `file` now.
std::optional<std::uint64_t> oom_kills_in(const std::string& file);

}  // namespace mproc::detail
