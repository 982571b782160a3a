// Naming processes: one process gets a name, the other keeps its default one;
// each prints its own name, which it learns from current_process().
#include <mproc/mproc.hpp>

#include <chrono>
#include <iostream>
#include <thread>

void my_func() {
  const std::string name = mproc::current_process().name;
  std::cout << "Starting " << name << std::endl;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::cout << "Exiting " << name << std::endl;
}

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  mproc::process process_with_name(mproc::process_options{.name = "my_func process"}, my_func);
  mproc::process process_with_default_name(my_func);
  process_with_name.start();
  process_with_default_name.start();
  process_with_name.join();
  process_with_default_name.join();
}
