// What is known of a process other than through its process object.
#pragma once

#include <string>

namespace mproc {

struct process_info {
  std::string name;
  int pid = 0;
  bool daemon = false;
};

}  // namespace mproc
