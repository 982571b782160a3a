#include "common/os_process.hpp"

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <string>

#include <unistd.h>

bool process_exists(int pid) {
  // /proc/<pid>/stat, state field: a zombie has ended and is only waiting to be reaped.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return false;
  const auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z';
}

int os_parent_pid() { return static_cast<int>(::getppid()); }

void kill_this_process() {
  ::raise(SIGKILL);
  std::abort();  // not reached
}
