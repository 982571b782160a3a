#include "waited_child.hpp"

#include <mproc/error.hpp>

#include <algorithm>
#include <cstdio>
#include <string>

namespace mproc::detail::windows {

int decode_exit_code(DWORD code) noexcept {
  if (code > signal_exit_base && code < signal_exit_base + 65) return -static_cast<int>(code - signal_exit_base);
  return static_cast<int>(code);  // an exception code (0xC0000005, say) is negative here
}

std::optional<int> waited_child::wait(std::optional<std::chrono::nanoseconds> timeout) {
  DWORD milliseconds = INFINITE;
  if (timeout) {
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(*timeout).count();
    milliseconds = static_cast<DWORD>(std::clamp<long long>(ms, 0, INFINITE - 1));
  }
  const DWORD waited = ::WaitForSingleObject(process_.get(), milliseconds);
  if (waited == WAIT_TIMEOUT) return std::nullopt;
  if (waited != WAIT_OBJECT_0) throw_last_error("cannot wait for process " + std::to_string(pid_));
  DWORD code = 0;
  if (!::GetExitCodeProcess(process_.get(), &code)) {
    throw_last_error("cannot read the exit code of process " + std::to_string(pid_));
  }
  return decode_exit_code(code);
}

void waited_child::end_with(DWORD code) {
  // The handle keeps the process object, so this cannot hit a recycled pid;
  // a process that has ended already refuses, which is no error here.
  if (::WaitForSingleObject(process_.get(), 0) == WAIT_OBJECT_0) return;
  ::TerminateProcess(process_.get(), code);
}

}  // namespace mproc::detail::windows

namespace mproc::detail {

std::string describe_end(int exit_code) {
  static constexpr const char* names[] = {nullptr, "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT",
                                          "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2",
                                          "SIGPIPE", "SIGALRM", "SIGTERM"};
  if (exit_code >= 0) return "exited with code " + std::to_string(exit_code);
  if (exit_code >= -15) return std::string("was killed by ") + names[-exit_code];
  if (exit_code >= -64) return "was killed by signal " + std::to_string(-exit_code);
  char text[32];
  std::snprintf(text, sizeof text, "0x%08X", static_cast<unsigned>(exit_code));
  return std::string("ended with exception ") + text;
}

}  // namespace mproc::detail
