// Runs what a test cannot do inside a test program.
//   spawn-without-init          start a spawn process without calling init():
//                               prints the error and exits 3
//   exit-with-children FILE     start a non-daemon child (writes FILE after
//                               300 ms) and a 30 s daemon, print the daemon's
//                               pid, and return from main at once
#include <mproc/process.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <string_view>
#include <thread>

namespace {

void sleep_then_write(std::string path) {
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::ofstream(path) << "non-daemon finished";
}

void sleep_long() { std::this_thread::sleep_for(std::chrono::seconds(30)); }

}  // namespace

int main(int argc, char** argv) {
  const std::string_view mode = argc > 1 ? argv[1] : "";
  if (mode == "spawn-without-init") {
    try {
      mproc::process p(sleep_long);
      p.start();
    } catch (const mproc::process_error& e) {
      std::cout << e.what() << std::endl;
      return 3;
    }
    return 4;
  }
  mproc::init(argc, argv);
  if (mode == "exit-with-children" && argc > 2) {
    mproc::process worker(sleep_then_write, std::string(argv[2]));
    mproc::process daemon(mproc::process_options{.daemon = true}, sleep_long);
    worker.start();
    daemon.start();
    std::cout << "daemon pid=" << daemon.pid() << std::endl;
    return 0;
  }
  std::cerr << "usage: mproc_test_helper spawn-without-init | exit-with-children FILE\n";
  return 2;
}
