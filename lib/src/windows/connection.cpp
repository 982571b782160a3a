// Connections are both ends of a duplex named pipe with a unique name (an
// anonymous pipe goes one way only).
#include "../connection_state.hpp"

#include "handle.hpp"

#include <mproc/error.hpp>

#include <atomic>
#include <string>
#include <thread>

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

bool peer_gone(DWORD error) { return error == ERROR_BROKEN_PIPE || error == ERROR_NO_DATA || error == ERROR_PIPE_NOT_CONNECTED; }

}  // namespace

std::pair<native_handle, native_handle> make_connected_handles() {
  const std::wstring name = unique_pipe_name();
  windows::unique_handle server(::CreateNamedPipeW(
      name.c_str(), PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE,
      PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, pipe_buffer, pipe_buffer, 0,
      nullptr));
  if (!server) windows::throw_last_error("cannot make a pipe");
  windows::unique_handle client(
      ::CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING, 0, nullptr));
  if (!client) windows::throw_last_error("cannot connect a pipe");
  if (!::ConnectNamedPipe(server.get(), nullptr) && ::GetLastError() != ERROR_PIPE_CONNECTED) {
    windows::throw_last_error("cannot connect a pipe");
  }
  return {windows::from_handle(server.release()), windows::from_handle(client.release())};
}

bool write_message(native_handle handle, std::string_view head, std::string_view body) {
  for (std::string_view part : {head, body}) {
    while (!part.empty()) {
      DWORD written = 0;
      const DWORD chunk = static_cast<DWORD>(std::min<std::size_t>(part.size(), 1u << 30));
      if (!::WriteFile(windows::to_handle(handle), part.data(), chunk, &written, nullptr)) {
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
  if (!::ReadFile(windows::to_handle(handle), buffer, chunk, &got, nullptr)) {
    if (peer_gone(::GetLastError())) return 0;
    windows::throw_last_error("receive on a connection");
  }
  return got;
}

// Polled with PeekNamedPipe: a pipe handle opened for blocking reads has no
// readiness wait on Windows (that takes overlapped I/O on every operation).
// The pause grows from nothing to 1 ms, so a busy exchange stays fast and an
// idle wait costs little.
bool wait_readable(native_handle handle, std::optional<std::chrono::nanoseconds> timeout) {
  const auto deadline = timeout ? std::chrono::steady_clock::now() + *timeout
                                : std::chrono::steady_clock::time_point::max();
  for (int round = 0;; ++round) {
    DWORD available = 0;
    if (!::PeekNamedPipe(windows::to_handle(handle), nullptr, 0, nullptr, &available, nullptr)) {
      return true;  // the other end is gone: a read says so at once
    }
    if (available > 0) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (round < 50) {
      std::this_thread::yield();
    } else {
      ::Sleep(1);
    }
  }
}

}  // namespace mproc::detail
