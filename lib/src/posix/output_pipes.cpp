#include "../output_pipes.hpp"

#include "../launch.hpp"
#include "file_descriptor.hpp"

#include <cerrno>
#include <climits>
#include <cstdio>

#include <fcntl.h>
#include <unistd.h>

namespace mproc::detail {

output_pipe_ends make_output_pipe() {
  // Asio's connect_pipe makes its descriptors without O_CLOEXEC: a program
  // started meanwhile by another thread would hold the write end, and the
  // parent would not see the end of the child's output until it ends too.
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) posix::throw_errno("pipe2");
  return {ends[0], ends[1]};
}

output_pipe_ends make_record_pipe() {
  static_assert(max_record_write <= PIPE_BUF, "a record must be one atomic pipe write");
  return make_output_pipe();
}

bool write_record(native_handle write_end, std::string_view record) noexcept {
  for (;;) {
    const ssize_t written = ::write(write_end, record.data(), record.size());
    if (written >= 0) return static_cast<std::size_t>(written) == record.size();
    if (errno != EINTR) return false;
  }
}

boost::asio::readable_pipe::native_handle_type as_pipe_handle(native_handle read_end) noexcept { return read_end; }

void redirect_output(native_handle out, native_handle err) noexcept {
  std::fflush(stdout);
  std::fflush(stderr);
  ::dup2(out, STDOUT_FILENO);  // dup2's copy is inherited by what the child starts, as a stdout should be
  ::dup2(err, STDERR_FILENO);
  if (out > STDERR_FILENO) ::close(out);
  if (err > STDERR_FILENO) ::close(err);
  // With a buffer of its own: glibc keeps a used stream (a forked child's copy
  // of its parent's) fully buffered when asked for line buffering without one.
  static char buffer[BUFSIZ];
  std::setvbuf(stdout, buffer, _IOLBF, sizeof buffer);
}

child_output_pipes::~child_output_pipes() {
  close_write_ends();
  for (auto* end : {&out.read, &err.read}) {
    if (*end != no_handle) ::close(*end);
  }
}

void child_output_pipes::close_write_ends() noexcept {
  for (auto* end : {&out.write, &err.write}) {
    if (*end != no_handle) ::close(std::exchange(*end, no_handle));
  }
}

}  // namespace mproc::detail
