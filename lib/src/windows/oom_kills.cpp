// Windows keeps no OOM kill count: a process that runs out of memory fails its
// allocation (or ends with its own exception), and says so itself.
#include "../oom_kills.hpp"

namespace mproc::detail {

std::optional<oom_count> oom_count_of(int) { return std::nullopt; }
std::optional<std::uint64_t> oom_kills_in(const std::string&) { return std::nullopt; }

}  // namespace mproc::detail
