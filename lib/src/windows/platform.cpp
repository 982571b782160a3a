#include <mproc/start_method.hpp>

#include "../launch.hpp"

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <windows.h>
// after windows.h
#include <psapi.h>

namespace mproc {

// Windows has no fork: spawn is its only start method, as in Python.
std::vector<start_method> all_start_methods() { return {start_method::spawn}; }

namespace detail {

int current_pid() noexcept { return static_cast<int>(::GetCurrentProcessId()); }

std::uint64_t resident_bytes() noexcept {
  PROCESS_MEMORY_COUNTERS counters{};
  counters.cb = sizeof counters;
  if (!::K32GetProcessMemoryInfo(::GetCurrentProcess(), &counters, sizeof counters)) return 0;
  return counters.WorkingSetSize;
}

bool limit_memory(std::uint64_t bytes) noexcept {
  // A job of its own (jobs nest since Windows 8: it stays in its parent's too).
  HANDLE job = ::CreateJobObjectW(nullptr, nullptr);  // kept for the process's life
  if (job == nullptr) return false;
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits{};
  limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_PROCESS_MEMORY;
  limits.ProcessMemoryLimit = static_cast<SIZE_T>(bytes);
  return ::SetInformationJobObject(job, JobObjectExtendedLimitInformation, &limits, sizeof limits) &&
         ::AssignProcessToJobObject(job, ::GetCurrentProcess());
}

void flush_standard_streams() noexcept {
  try {
    std::cout.flush();
    std::cerr.flush();
    std::clog.flush();
  } catch (...) {  // a stream set to throw on failure must not stop the flush below
  }
  std::fflush(stdout);
  std::fflush(stderr);
}

// A Windows child runs the program's own .exe: it already shows its name.
void show_program_name() noexcept {}

void exit_now(int code) noexcept {
  flush_standard_streams();
  // Not exit(): a child must not run the atexit handlers and static
  // destructors of the program it shares with its parent (Python's os._exit).
  std::_Exit(code);
}

}  // namespace detail
}  // namespace mproc
