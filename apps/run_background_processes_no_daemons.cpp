// The same two processes, neither a daemon: the main program returns at once,
// and exit waits for both to finish their counts.
#include "background_common.hpp"

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  mproc::process background_process(mproc::process_options{.name = "background_process"}, foo);
  mproc::process NO_background_process(mproc::process_options{.name = "NO_background_process"}, foo);
  background_process.set_daemon(false);
  NO_background_process.set_daemon(false);
  background_process.start();
  NO_background_process.start();
  std::cout << "main program returns; exit waits for its non-daemon children" << std::endl;
}
