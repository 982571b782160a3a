// The OOM kill counts of cgroups v2 and v1 (see oom_kills.hpp). Read by hand:
// a few lines of two proc files, which no library we use reads.
#include "../oom_kills.hpp"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace mproc::detail {
namespace {

// The cgroup `pid` is in, for the unified hierarchy ("0::/path") or the v1
// memory controller ("N:memory:/path").
std::optional<std::string> cgroup_path(int pid, bool unified) {
  std::ifstream lines("/proc/" + std::to_string(pid) + "/cgroup");
  for (std::string line; std::getline(lines, line);) {
    const auto first = line.find(':');
    const auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const bool wanted = unified ? controllers.empty() && line.starts_with("0:") : controllers == "memory";
    if (wanted) return line.substr(second + 1);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::uint64_t> oom_kills_in(const std::string& file) {
  std::ifstream lines(file);
  for (std::string key; lines >> key;) {
    std::uint64_t value = 0;
    if (!(lines >> value)) return std::nullopt;
    if (key == "oom_kill") return value;
  }
  return std::nullopt;
}

std::optional<oom_count> oom_count_of(int pid) {
  namespace fs = std::filesystem;
  std::error_code ignored;
  std::vector<std::string> files;
  if (const auto path = cgroup_path(pid, true)) {
    const bool only_v2 = fs::exists("/sys/fs/cgroup/cgroup.controllers", ignored);
    const fs::path root = only_v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
    files.push_back((root / fs::path(*path).relative_path() / "memory.events").string());
  }
  if (const auto path = cgroup_path(pid, false)) {
    const fs::path v1 = fs::path("/sys/fs/cgroup/memory") / fs::path(*path).relative_path();
    files.push_back((v1 / "memory.oom_control").string());
  }
  for (const auto& file : files) {
    if (const auto kills = oom_kills_in(file)) return oom_count{file, *kills};
  }
  return std::nullopt;
}

}  // namespace mproc::detail
