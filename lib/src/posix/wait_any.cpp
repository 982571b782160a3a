// poll() over connections' descriptors and processes' pidfds.
#include "../wait_any.hpp"

#include <algorithm>
#include <cerrno>

#include <poll.h>

namespace mproc::detail {

bool handles_can_be_polled() noexcept { return true; }

void wait_for_any_handle(const std::vector<native_handle>& handles, std::optional<std::chrono::nanoseconds> timeout) {
  std::vector<pollfd> watched;
  for (const native_handle fd : handles) {
    if (fd >= 0) watched.push_back({fd, POLLIN, 0});
  }
  // poll() counts whole milliseconds in an int: longer waits are done in parts.
  const auto milliseconds = timeout ? std::chrono::ceil<std::chrono::milliseconds>(*timeout).count() : -1;
  const int wait_ms = milliseconds < 0 ? -1 : static_cast<int>(std::min<long long>(milliseconds, 1 << 30));
  ::poll(watched.data(), watched.size(), wait_ms);  // EINTR: the caller looks again
}

}  // namespace mproc::detail
