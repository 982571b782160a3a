#include "../launch.hpp"
#include "fork_reservations.hpp"

#include "file_descriptor.hpp"
#include "launcher_thread.hpp"
#include "waited_child.hpp"

#include <cerrno>
#include <csignal>

#include <unistd.h>

namespace mproc::detail {

std::unique_ptr<child_handle> launch_fork(const launch_request& request) {
  flush_standard_streams();  // else the child would print the parent's buffer again
  posix::prepare_death_signal();
  const int parent = current_pid();
  fork_reservations reservations;  // the child uses every block we do
  int pid = -1;
  int error = 0;
  posix::run_on_launcher_thread([&] {
    pid = ::fork();
    if (pid == 0) {
      posix::set_death_signal(request.daemon ? SIGKILL : SIGTERM, parent);
      reservations.take_in_child();
      request.run_in_fork();  // ends the child
      exit_now(1);
    }
    error = errno;
  });
  reservations.assign_to_child(pid);
  if (pid < 0) {
    errno = error;
    posix::throw_errno("fork");
  }
  return std::make_unique<posix::waited_child>(pid);
}

}  // namespace mproc::detail
