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
  if (posix::write_frame(ours.get(), request.payload)) posix::write_handles(ours.get(), request.handles);
  return child;
}

spawn_start read_spawn_start(const std::string& channel) {
  posix::unique_fd fd(std::stoi(channel));
  spawn_start start;
  start.payload = posix::read_frame(fd.get());
  start.handles = posix::read_handles(fd.get());
  return start;
}

void close_handle(native_handle handle) noexcept { ::close(handle); }

}  // namespace mproc::detail
