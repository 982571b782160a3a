// The start methods (three on POSIX, spawn alone on Windows): the same target
// under each, printing its pid and its parent's as the system sees it. spawn
// and fork children are children of this program; forkserver children are
// children of the fork server.
#include <mproc/mproc.hpp>

#include "common/os_process.hpp"

#include <iostream>

void report(std::string method) {
  std::cout << method << ": child pid " << mproc::current_process().pid << ", parent pid " << os_parent_pid() << std::endl;
}

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  std::cout << "main program pid " << mproc::current_process().pid << std::endl;
  for (auto method : mproc::all_start_methods()) {
    const std::string name(mproc::to_string(method));
    mproc::process p(mproc::process_options{.method = method}, report, name);
    p.start();
    p.join();
    std::cout << name << ": exit code " << p.exitcode().value() << std::endl;
  }
}
