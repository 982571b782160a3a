#include "../launch.hpp"

#include "file_descriptor.hpp"
#include "spawn_self.hpp"
#include "waited_child.hpp"

#include <csignal>

namespace mproc::detail {

std::unique_ptr<child_handle> launch_spawn(const launch_request& request) {
  auto [ours, theirs] = posix::socket_pair();
  const int pid = posix::spawn_self("--mproc-spawn=" + std::to_string(theirs.get()), theirs.get(),
                                    request.daemon ? SIGKILL : SIGTERM);
  theirs.reset();
  auto child = std::make_unique<posix::waited_child>(pid);
  // A child that died before reading shows in its exit code; nothing to do here.
  posix::write_frame(ours.get(), request.payload);
  return child;
}

std::string read_spawn_payload(const std::string& channel) {
  posix::unique_fd fd(std::stoi(channel));
  return posix::read_frame(fd.get());
}

}  // namespace mproc::detail
