#include "process_start.hpp"

namespace mproc::detail::windows {

std::uint64_t creation_time(HANDLE process) noexcept {
  FILETIME created{}, exited{}, kernel{}, user{};
  if (!::GetProcessTimes(process, &created, &exited, &kernel, &user)) return 0;
  return (std::uint64_t{created.dwHighDateTime} << 32) | created.dwLowDateTime;
}

}  // namespace mproc::detail::windows

namespace mproc::detail {

std::uint64_t this_process_start() noexcept {
  static const std::uint64_t start = windows::creation_time(::GetCurrentProcess());
  return start;
}

}  // namespace mproc::detail
