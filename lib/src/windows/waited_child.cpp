#include "waited_child.hpp"

#include <mproc/error.hpp>

#include <algorithm>
#include <csignal>
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

namespace {

// The exception codes a crashed Windows program ends with, by the names its
// users know (winnt.h; the last three are NTSTATUS values from ntstatus.h,
// which MinGW's windows.h does not include).
const char* exception_name(DWORD code) noexcept {
  switch (code) {
    case EXCEPTION_ACCESS_VIOLATION: return "EXCEPTION_ACCESS_VIOLATION";
    case EXCEPTION_ARRAY_BOUNDS_EXCEEDED: return "EXCEPTION_ARRAY_BOUNDS_EXCEEDED";
    case EXCEPTION_BREAKPOINT: return "EXCEPTION_BREAKPOINT";
    case EXCEPTION_DATATYPE_MISALIGNMENT: return "EXCEPTION_DATATYPE_MISALIGNMENT";
    case EXCEPTION_FLT_DENORMAL_OPERAND: return "EXCEPTION_FLT_DENORMAL_OPERAND";
    case EXCEPTION_FLT_DIVIDE_BY_ZERO: return "EXCEPTION_FLT_DIVIDE_BY_ZERO";
    case EXCEPTION_FLT_INEXACT_RESULT: return "EXCEPTION_FLT_INEXACT_RESULT";
    case EXCEPTION_FLT_INVALID_OPERATION: return "EXCEPTION_FLT_INVALID_OPERATION";
    case EXCEPTION_FLT_OVERFLOW: return "EXCEPTION_FLT_OVERFLOW";
    case EXCEPTION_FLT_STACK_CHECK: return "EXCEPTION_FLT_STACK_CHECK";
    case EXCEPTION_FLT_UNDERFLOW: return "EXCEPTION_FLT_UNDERFLOW";
    case EXCEPTION_ILLEGAL_INSTRUCTION: return "EXCEPTION_ILLEGAL_INSTRUCTION";
    case EXCEPTION_IN_PAGE_ERROR: return "EXCEPTION_IN_PAGE_ERROR";
    case EXCEPTION_INT_DIVIDE_BY_ZERO: return "EXCEPTION_INT_DIVIDE_BY_ZERO";
    case EXCEPTION_INT_OVERFLOW: return "EXCEPTION_INT_OVERFLOW";
    case EXCEPTION_INVALID_DISPOSITION: return "EXCEPTION_INVALID_DISPOSITION";
    case EXCEPTION_NONCONTINUABLE_EXCEPTION: return "EXCEPTION_NONCONTINUABLE_EXCEPTION";
    case EXCEPTION_PRIV_INSTRUCTION: return "EXCEPTION_PRIV_INSTRUCTION";
    case EXCEPTION_SINGLE_STEP: return "EXCEPTION_SINGLE_STEP";
    case EXCEPTION_STACK_OVERFLOW: return "EXCEPTION_STACK_OVERFLOW";
    case 0xC000013Au: return "STATUS_CONTROL_C_EXIT";
    case 0xC0000374u: return "STATUS_HEAP_CORRUPTION";
    case 0xC0000409u: return "STATUS_STACK_BUFFER_OVERRUN";
    default: return nullptr;
  }
}

}  // namespace

bool ended_by_interrupt(int exit_code) {
  return exit_code == -SIGINT || static_cast<unsigned>(exit_code) == 0xC000013Au;  // STATUS_CONTROL_C_EXIT
}

std::string describe_end(int exit_code) {
  static constexpr const char* names[] = {nullptr, "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT",
                                          "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2",
                                          "SIGPIPE", "SIGALRM", "SIGTERM"};
  if (exit_code >= 0) return "exited with code " + std::to_string(exit_code);
  if (exit_code >= -15) return std::string("was killed by ") + names[-exit_code];
  if (exit_code >= -64) return "was killed by signal " + std::to_string(-exit_code);
  char text[32];
  std::snprintf(text, sizeof text, "0x%08X", static_cast<unsigned>(exit_code));
  const char* name = exception_name(static_cast<DWORD>(exit_code));
  if (name == nullptr) return std::string("ended with exception ") + text;
  return std::string("ended with exception ") + name + " (" + text + ")";
}

}  // namespace mproc::detail
