// Windows pipes have no readiness to wait on without overlapped I/O, so the
// caller looks at each object itself; this only sleeps for the slice it gives.
#include "../wait_any.hpp"

#include <algorithm>
#include <thread>

namespace mproc::detail {

bool handles_can_be_polled() noexcept { return false; }

void wait_for_any_handle(const std::vector<native_handle>&, std::optional<std::chrono::nanoseconds> timeout) {
  std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(timeout.value_or(std::chrono::milliseconds(1)),
                                                                 std::chrono::milliseconds(1)));
}

}  // namespace mproc::detail
