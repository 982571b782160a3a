// process::interrupt() on Windows, which has no signals between processes.
// Python leaves it undefined there; we give it POSIX's meaning. A spawned child
// creates an event named after its pid and waits on it in the system thread
// pool (no thread of its own); the parent sets the event, and the child then
// raises SIGINT in itself: a handler the program installed with std::signal
// runs (on a pool thread, as a console's Ctrl-C handler does), and without
// one the child ends with the code that reads as -2, as SIGINT's default does
// on POSIX. A child that has not created the event yet (it has not reached
// init()) is ended with that code by the parent, as a SIGINT would end a POSIX
// child that had not installed a handler yet.
//
// A console's Ctrl-C reaches a spawned child the same way, so that a pool's
// workers and the program's children end by Ctrl-C with the code any reader
// of ours knows (-2); Windows' own end for it is STATUS_CONTROL_C_EXIT, Wine's
// is code 0, which would read as a clean exit. Only mproc's children get this
// handler: the user's main program keeps the console's default.
#include "../launch.hpp"
#include "handle.hpp"
#include "waited_child.hpp"

#include <csignal>
#include <string>

#include <windows.h>

namespace mproc::detail {
namespace {

constexpr DWORD interrupted_code = windows::signal_exit_base + SIGINT;

std::wstring interrupt_event_name(int pid) { return L"Local\\mproc-interrupt-" + std::to_wstring(pid); }

// Does what SIGINT would do on POSIX: the program's handler, or nothing if it
// ignores SIGINT, or the end of this process with code -2.
void act_as_sigint() {
  using handler = void (*)(int);
  const handler installed = std::signal(SIGINT, SIG_DFL);
  if (installed == SIG_IGN) {
    std::signal(SIGINT, SIG_IGN);
    return;
  }
  if (installed == SIG_DFL || installed == SIG_ERR) {
    flush_standard_streams();
    ::TerminateProcess(::GetCurrentProcess(), interrupted_code);
    return;
  }
  std::signal(SIGINT, installed);
  std::raise(SIGINT);
}

void CALLBACK on_interrupt(void*, BOOLEAN) { act_as_sigint(); }

BOOL WINAPI on_console_event(DWORD event) {
  if (event != CTRL_C_EVENT) return FALSE;  // Ctrl-Break, closing: the console's default
  act_as_sigint();
  return TRUE;
}

}  // namespace

void listen_for_interrupt() noexcept {
  ::SetConsoleCtrlHandler(on_console_event, TRUE);
  // Auto-reset, and the wait is not one-shot: every interrupt() is delivered.
  // Both handles live as long as the child: they are not closed.
  HANDLE event = ::CreateEventW(nullptr, FALSE, FALSE, interrupt_event_name(current_pid()).c_str());
  if (event == nullptr) return;  // then interrupt() ends this child as SIGINT's default would
  HANDLE wait = nullptr;
  if (!::RegisterWaitForSingleObject(&wait, event, on_interrupt, nullptr, INFINITE, WT_EXECUTEDEFAULT)) {
    ::CloseHandle(event);
  }
}

}  // namespace mproc::detail

namespace mproc::detail::windows {

void waited_child::interrupt() {
  if (::WaitForSingleObject(process_.get(), 0) == WAIT_OBJECT_0) return;
  // The process handle keeps the pid from being reused while we hold it.
  HANDLE event = ::OpenEventW(EVENT_MODIFY_STATE, FALSE, interrupt_event_name(pid_).c_str());
  if (event == nullptr) {
    end_with(interrupted_code);
    return;
  }
  ::SetEvent(event);
  ::CloseHandle(event);
}

}  // namespace mproc::detail::windows
