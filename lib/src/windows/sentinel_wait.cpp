// WaitForMultipleObjects over process handles, and an event to be woken.
#include "../sentinel_wait.hpp"

#include "handle.hpp"

#include <mproc/error.hpp>

#include <algorithm>

namespace mproc::detail {
namespace {

DWORD milliseconds_of(std::chrono::nanoseconds timeout) {
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(timeout).count();
  return static_cast<DWORD>(std::clamp<long long>(ms, 0, INFINITE - 1));
}

}  // namespace

sentinel_wait::sentinel_wait() {
  HANDLE event = ::CreateEventW(nullptr, FALSE, FALSE, nullptr);
  if (event == nullptr) windows::throw_last_error("cannot make an event");
  wake_handle_ = windows::from_handle(event);
}

sentinel_wait::~sentinel_wait() { ::CloseHandle(windows::to_handle(wake_handle_)); }

std::vector<std::size_t> sentinel_wait::wait(const std::vector<int>& sentinels, std::chrono::nanoseconds timeout) {
  HANDLE wake = windows::to_handle(wake_handle_);
  if (sentinels.size() < MAXIMUM_WAIT_OBJECTS) {
    std::vector<HANDLE> handles;
    for (int sentinel : sentinels) handles.push_back(windows::to_handle(sentinel));
    handles.push_back(wake);
    ::WaitForMultipleObjects(static_cast<DWORD>(handles.size()), handles.data(), FALSE, milliseconds_of(timeout));
  } else {
    // More than one wait can watch: look at each, then sleep a little on the
    // wake event. Only for pools of 64 workers and more.
    const auto slice = std::min<std::chrono::nanoseconds>(timeout, std::chrono::milliseconds(10));
    bool any = false;
    for (int sentinel : sentinels) any = any || ::WaitForSingleObject(windows::to_handle(sentinel), 0) == WAIT_OBJECT_0;
    if (!any) ::WaitForSingleObject(wake, milliseconds_of(slice));
  }
  std::vector<std::size_t> ready;
  for (std::size_t i = 0; i < sentinels.size(); ++i) {
    if (::WaitForSingleObject(windows::to_handle(sentinels[i]), 0) == WAIT_OBJECT_0) ready.push_back(i);
  }
  return ready;
}

void sentinel_wait::wake() noexcept { ::SetEvent(windows::to_handle(wake_handle_)); }

int copy_sentinel(int sentinel) noexcept {
  if (sentinel == -1) return -1;
  HANDLE copy = windows::duplicate_into(::GetCurrentProcess(), windows::to_handle(sentinel));
  return copy == nullptr ? -1 : windows::from_handle(copy);
}

void close_sentinel_copy(int copy) noexcept {
  if (copy != -1) ::CloseHandle(windows::to_handle(copy));
}

}  // namespace mproc::detail
