#include <mproc/start_method.hpp>

#include "../launch.hpp"

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <unistd.h>

namespace mproc {

std::vector<start_method> all_start_methods() {
  return {start_method::spawn, start_method::fork, start_method::forkserver};
}

namespace detail {

int current_pid() noexcept { return static_cast<int>(::getpid()); }

void flush_standard_streams() noexcept {
  try {
    std::cout.flush();
    std::cerr.flush();
    std::clog.flush();
  } catch (...) {  // a stream set to throw on failure must not stop the flush below
  }
  std::fflush(nullptr);
}

void exit_now(int code) noexcept {
  flush_standard_streams();
  // _Exit, not exit: a child must not run the atexit handlers and static
  // destructors it inherited from (or shares with) its parent.
  std::_Exit(code);
}

}  // namespace detail
}  // namespace mproc
