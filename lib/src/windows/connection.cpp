// Connections are both ends of a duplex named pipe with a unique name (an
// anonymous pipe goes one way only), opened for overlapped I/O so that an
// asynchronous receive or send is a real completion (connection_io.hpp).
// A blocking call is an overlapped one waited for at once, on an event of its
// thread's.
#include "../connection_state.hpp"

#include "handle.hpp"

#include <mproc/error.hpp>

#include <algorithm>
#include <atomic>
#include <string>

namespace mproc::detail {
namespace {

std::wstring unique_pipe_name() {
  static std::atomic<unsigned long long> counter{0};
  LARGE_INTEGER now{};
  ::QueryPerformanceCounter(&now);
  return L"\\\\.\\pipe\\mproc-" + std::to_wstring(::GetCurrentProcessId()) + L"-" + std::to_wstring(++counter) +
         L"-" + std::to_wstring(now.QuadPart);
}

constexpr DWORD pipe_buffer = 64 * 1024;

// The event a blocking call of this thread waits on.
HANDLE call_event() {
  thread_local windows::unique_handle event(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
  if (!event) windows::throw_last_error("cannot make an event for a pipe call");
  return event.get();
}

// Waits for an overlapped call that `started` (ReadFile's or WriteFile's
// result); false with GetLastError() set if it failed.
bool finish_call(HANDLE pipe, OVERLAPPED& overlapped, BOOL started, DWORD& transferred) {
  if (!started && ::GetLastError() != ERROR_IO_PENDING) return false;
  return ::GetOverlappedResult(pipe, &overlapped, &transferred, TRUE);
}

}  // namespace

bool peer_gone(unsigned long error) {
  return error == ERROR_BROKEN_PIPE || error == ERROR_NO_DATA || error == ERROR_PIPE_NOT_CONNECTED;
}

std::pair<native_handle, native_handle> make_connected_handles() {
  const std::wstring name = unique_pipe_name();
  windows::unique_handle server(::CreateNamedPipeW(
      name.c_str(), PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE | FILE_FLAG_OVERLAPPED,
      PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, pipe_buffer, pipe_buffer, 0,
      nullptr));
  if (!server) windows::throw_last_error("cannot make a pipe");
  windows::unique_handle client(
      ::CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, nullptr));
  if (!client) windows::throw_last_error("cannot connect a pipe");
  OVERLAPPED overlapped{};
  overlapped.hEvent = call_event();
  DWORD unused = 0;
  if (!::ConnectNamedPipe(server.get(), &overlapped) && ::GetLastError() != ERROR_PIPE_CONNECTED &&
      !finish_call(server.get(), overlapped, FALSE, unused)) {
    windows::throw_last_error("cannot connect a pipe");
  }
  return {windows::from_handle(server.release()), windows::from_handle(client.release())};
}

bool write_message(native_handle handle, std::string_view head, std::string_view body) {
  for (std::string_view part : {head, body}) {
    while (!part.empty()) {
      DWORD written = 0;
      const DWORD chunk = static_cast<DWORD>(std::min<std::size_t>(part.size(), 1u << 30));
      HANDLE pipe = windows::to_handle(handle);
      OVERLAPPED overlapped{};
      overlapped.hEvent = call_event();
      if (!finish_call(pipe, overlapped, ::WriteFile(pipe, part.data(), chunk, nullptr, &overlapped), written)) {
        if (peer_gone(::GetLastError())) return false;
        windows::throw_last_error("send on a connection");
      }
      part.remove_prefix(written);
    }
  }
  return true;
}

std::size_t read_some(native_handle handle, char* buffer, std::size_t size) {
  DWORD got = 0;
  const DWORD chunk = static_cast<DWORD>(std::min<std::size_t>(size, 1u << 30));
  HANDLE pipe = windows::to_handle(handle);
  OVERLAPPED overlapped{};
  overlapped.hEvent = call_event();
  if (!finish_call(pipe, overlapped, ::ReadFile(pipe, buffer, chunk, nullptr, &overlapped), got)) {
    if (peer_gone(::GetLastError())) return 0;
    windows::throw_last_error("receive on a connection");
  }
  return got;
}

// A zero-byte overlapped read completes when bytes are there (or the other
// end is gone) and takes none: the wait is the system's, not a poll.
bool wait_readable(native_handle handle, std::optional<std::chrono::nanoseconds> timeout) {
  HANDLE pipe = windows::to_handle(handle);
  DWORD available = 0;
  if (!::PeekNamedPipe(pipe, nullptr, 0, nullptr, &available, nullptr) || available > 0) return true;
  if (timeout && *timeout <= std::chrono::nanoseconds{0}) return false;
  OVERLAPPED overlapped{};
  overlapped.hEvent = call_event();
  if (!::ReadFile(pipe, nullptr, 0, nullptr, &overlapped) && ::GetLastError() != ERROR_IO_PENDING) {
    return true;  // failed at once (the other end is gone): a read says so
  }
  DWORD wait_ms = INFINITE;
  if (timeout) {
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(*timeout).count();
    wait_ms = static_cast<DWORD>(std::min<long long>(ms, INFINITE - 1));
  }
  const bool ready = ::WaitForSingleObject(overlapped.hEvent, wait_ms) == WAIT_OBJECT_0;
  if (!ready) ::CancelIoEx(pipe, &overlapped);
  DWORD unused = 0;
  ::GetOverlappedResult(pipe, &overlapped, &unused, TRUE);  // the system is done with `overlapped`
  return ready;
}

}  // namespace mproc::detail
