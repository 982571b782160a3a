// A process defined by subclassing: my_process overrides run(). One line,
// MPROC_REGISTER_PROCESS, lets a spawned child rebuild it.
#include <mproc/mproc.hpp>

#include <iostream>

class my_process : public mproc::process {
 protected:
  void run() override { std::cout << "called run method by " << name() << std::endl; }
};

MPROC_REGISTER_PROCESS(my_process);

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  for (int i = 0; i < 10; ++i) {
    my_process process;
    process.start();
    process.join();
  }
}
