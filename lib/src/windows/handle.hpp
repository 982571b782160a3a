// Windows handles as mproc's native_handle (an int): 64-bit Windows keeps
// handle values in 32 bits so that they can be passed to 32-bit processes,
// and documents HandleToLong/LongToHandle for exactly this.
#pragma once

#include <mproc/detail/handles.hpp>

#include <string>
#include <utility>

#include <windows.h>

namespace mproc::detail::windows {

inline HANDLE to_handle(native_handle handle) noexcept { return LongToHandle(handle); }
inline native_handle from_handle(HANDLE handle) noexcept { return HandleToLong(handle); }

/// The text of a Windows error code, for people.
std::string error_text(DWORD code);
/// Throws mproc::error for what failed, with GetLastError()'s text.
[[noreturn]] void throw_last_error(const std::string& what);

/// Owns a handle: closed at the end of scope.
class unique_handle {
 public:
  unique_handle() = default;
  explicit unique_handle(HANDLE handle) noexcept : handle_(handle == INVALID_HANDLE_VALUE ? nullptr : handle) {}
  unique_handle(unique_handle&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  unique_handle& operator=(unique_handle&& other) noexcept {
    reset(std::exchange(other.handle_, nullptr));
    return *this;
  }
  ~unique_handle() { reset(); }

  HANDLE get() const noexcept { return handle_; }
  HANDLE release() noexcept { return std::exchange(handle_, nullptr); }
  void reset(HANDLE handle = nullptr) noexcept {
    if (handle_ != nullptr) ::CloseHandle(handle_);
    handle_ = handle;
  }
  explicit operator bool() const noexcept { return handle_ != nullptr; }

 private:
  HANDLE handle_ = nullptr;
};

/// A copy of `handle` in `target` (a process handle with PROCESS_DUP_HANDLE);
/// nullptr on failure.
HANDLE duplicate_into(HANDLE target, HANDLE handle) noexcept;

}  // namespace mproc::detail::windows
