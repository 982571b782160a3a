#include "../output_pipes.hpp"

#include "handle.hpp"

#include <atomic>
#include <cstdio>
#include <string>

#include <fcntl.h>
#include <io.h>

namespace mproc::detail {

namespace {

// An anonymous pipe cannot be read with overlapped I/O, which Asio needs: a
// named pipe with a unique name, read end overlapped, write end not (the
// child's C runtime writes to it without an OVERLAPPED structure).
output_pipe_ends make_pipe(DWORD mode) {
  static std::atomic<unsigned long long> counter{0};
  const std::wstring name = L"\\\\.\\pipe\\mproc-output-" + std::to_wstring(::GetCurrentProcessId()) + L"-" +
                            std::to_wstring(++counter);
  windows::unique_handle read_end(::CreateNamedPipeW(
      name.c_str(), PIPE_ACCESS_INBOUND | FILE_FLAG_FIRST_PIPE_INSTANCE | FILE_FLAG_OVERLAPPED,
      mode | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, 64 * 1024, 64 * 1024, 0, nullptr));
  if (!read_end) windows::throw_last_error("cannot make a pipe for a child's output");
  windows::unique_handle write_end(
      ::CreateFileW(name.c_str(), GENERIC_WRITE, 0, nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!write_end) windows::throw_last_error("cannot open a pipe for a child's output");
  return {windows::from_handle(read_end.release()), windows::from_handle(write_end.release())};
}

}  // namespace

output_pipe_ends make_output_pipe() { return make_pipe(PIPE_TYPE_BYTE | PIPE_READMODE_BYTE); }

output_pipe_ends make_record_pipe() { return make_pipe(PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE); }

bool write_record(native_handle write_end, std::string_view record) noexcept {
  DWORD written = 0;
  return ::WriteFile(windows::to_handle(write_end), record.data(), static_cast<DWORD>(record.size()), &written,
                     nullptr) &&
         written == record.size();
}

boost::asio::readable_pipe::native_handle_type as_pipe_handle(native_handle read_end) noexcept {
  return windows::to_handle(read_end);
}

namespace {

void redirect(native_handle end, int fd, DWORD which, FILE* stream) {
  std::fflush(stream);
  const int opened = ::_open_osfhandle(reinterpret_cast<intptr_t>(windows::to_handle(end)), _O_WRONLY);
  if (opened < 0) return;
  ::_dup2(opened, fd);
  ::_close(opened);  // closes `end`; fd has a handle of its own
  ::SetStdHandle(which, reinterpret_cast<HANDLE>(::_get_osfhandle(fd)));
  // Windows' C runtime has no line buffering (_IOLBF is full buffering).
  std::setvbuf(stream, nullptr, _IONBF, 0);
}

}  // namespace

void redirect_output(native_handle out, native_handle err) noexcept {
  redirect(out, 1, STD_OUTPUT_HANDLE, stdout);
  redirect(err, 2, STD_ERROR_HANDLE, stderr);
}

child_output_pipes::~child_output_pipes() {
  close_write_ends();
  for (auto* end : {&out.read, &err.read}) {
    if (*end != no_handle) ::CloseHandle(windows::to_handle(*end));
  }
}

void child_output_pipes::close_write_ends() noexcept {
  for (auto* end : {&out.write, &err.write}) {
    if (*end != no_handle) ::CloseHandle(windows::to_handle(std::exchange(*end, no_handle)));
  }
}

}  // namespace mproc::detail
