#include <mproc/mproc.hpp>

#include <iostream>

void child(int code) { std::exit(code); }

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  mproc::process p(child, 5);
  p.start();
  p.join();
  std::cout << "consumer child exit code " << p.exitcode().value() << std::endl;
  return p.exitcode() == 5 ? 0 : 1;
}
