// Killing a process: its state before start, while running, after terminate()
// and after join(), then its exit code, -15 for SIGTERM.
#include <mproc/mproc.hpp>

#include <chrono>
#include <iostream>
#include <thread>

void foo() {
  std::cout << "Starting function" << std::endl;
  for (int i = 0; i < 10; ++i) {
    std::cout << "-->" << i << std::endl;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  std::cout << "Finished function" << std::endl;
}

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  mproc::process p(foo);
  std::cout << std::boolalpha;
  std::cout << "Process before execution: " << p << " " << p.is_alive() << std::endl;
  p.start();
  std::cout << "Process running: " << p << " " << p.is_alive() << std::endl;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  p.terminate();
  std::cout << "Process terminated: " << p << " " << p.is_alive() << std::endl;
  p.join();
  std::cout << "Process joined: " << p << " " << p.is_alive() << std::endl;
  std::cout << "Process exit code: " << p.exitcode().value() << std::endl;
}
