// The three start methods: the same target under each, printing its pid and its
// parent's. spawn and fork children are children of this program; forkserver
// children are children of the fork server.
#include <mproc/mproc.hpp>

#include <iostream>

#include <unistd.h>

void report(std::string method) {
  std::cout << method << ": child pid " << ::getpid() << ", parent pid " << ::getppid() << std::endl;
}

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  std::cout << "main program pid " << ::getpid() << std::endl;
  for (auto method : mproc::all_start_methods()) {
    const std::string name(mproc::to_string(method));
    mproc::process p(mproc::process_options{.method = method}, report, name);
    p.start();
    p.join();
    std::cout << name << ": exit code " << p.exitcode().value() << std::endl;
  }
}
