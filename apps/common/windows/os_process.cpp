#include "common/os_process.hpp"

#include <cstdlib>

#include <windows.h>
#include <tlhelp32.h>

bool process_exists(int pid) {
  HANDLE process = ::OpenProcess(SYNCHRONIZE, FALSE, static_cast<DWORD>(pid));
  if (process == nullptr) return false;
  const bool running = ::WaitForSingleObject(process, 0) == WAIT_TIMEOUT;
  ::CloseHandle(process);
  return running;
}

int os_parent_pid() {
  HANDLE snapshot = ::CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  if (snapshot == INVALID_HANDLE_VALUE) return 0;
  PROCESSENTRY32 entry{};
  entry.dwSize = sizeof entry;
  int parent = 0;
  for (BOOL more = ::Process32First(snapshot, &entry); more; more = ::Process32Next(snapshot, &entry)) {
    if (entry.th32ProcessID == ::GetCurrentProcessId()) {
      parent = static_cast<int>(entry.th32ParentProcessID);
      break;
    }
  }
  ::CloseHandle(snapshot);
  return parent;
}

void kill_this_process() {
  ::TerminateProcess(::GetCurrentProcess(), 0x10000 + 9);
  std::abort();  // not reached
}
