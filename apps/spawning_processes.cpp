// Spawning a process: for i in 0..5 a new process runs my_func(i), and the main
// program joins it before starting the next.
#include <mproc/mproc.hpp>

#include <iostream>

void my_func(int i) {
  std::cout << "calling my_func from process n°: " << i << std::endl;
  for (int j = 0; j < i; ++j) std::cout << "output from my_func is: " << j << std::endl;
}

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  for (int i = 0; i < 6; ++i) {
    mproc::process process(my_func, i);
    process.start();
    process.join();
  }
}
