// A daemon and a non-daemon process. The main program returns while the daemon
// is still printing: the daemon is terminated at exit, the non-daemon is joined.
// A third process watches the daemon's pid and says when it is gone.
#include "background_common.hpp"
#include "common/os_process.hpp"

void watch(int pid) {
  for (int i = 0; i < 1000 && process_exists(pid); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::cout << "watcher: background_process (pid " << pid << ") "
            << (process_exists(pid) ? "is STILL RUNNING" : "is gone: it ended with the main program")
            << std::endl;
}

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  mproc::process background_process(mproc::process_options{.name = "background_process"}, foo);
  mproc::process NO_background_process(mproc::process_options{.name = "NO_background_process"}, foo);
  background_process.set_daemon(true);
  NO_background_process.set_daemon(false);
  background_process.start();
  NO_background_process.start();
  mproc::process watcher(mproc::process_options{.name = "watcher"}, watch, background_process.pid());
  watcher.start();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  std::cout << "main program exits now; background_process is a daemon and still printing: "
            << std::boolalpha << background_process.is_alive() << std::endl;
}
