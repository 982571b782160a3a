// Connections are Unix stream sockets, simplex ones too: a write to a pipe
// whose reader is gone raises SIGPIPE, which kills the writer unless the whole
// program ignores it, and MSG_NOSIGNAL exists only for sockets. They are plain
// descriptors rather than Asio sockets because an Asio socket registers with
// its io_context's epoll instance, which a forked child shares with its parent.
#include "../connection_state.hpp"

#include "file_descriptor.hpp"

#include <cerrno>

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace mproc::detail {

std::pair<native_handle, native_handle> make_connected_handles() {
  auto [a, b] = posix::socket_pair();
  return {a.release(), b.release()};
}

bool write_message(native_handle handle, std::string_view head, std::string_view body) {
  iovec parts[2] = {{const_cast<char*>(head.data()), head.size()}, {const_cast<char*>(body.data()), body.size()}};
  msghdr message{};
  message.msg_iov = parts;
  message.msg_iovlen = 2;
  std::size_t left = head.size() + body.size();
  while (left > 0) {
    const ssize_t n = ::sendmsg(handle, &message, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE || errno == ECONNRESET) return false;
      posix::throw_errno("send on a connection");
    }
    left -= static_cast<std::size_t>(n);
    // Skip what was written; the rest goes in the next call.
    auto written = static_cast<std::size_t>(n);
    while (written > 0 && message.msg_iovlen > 0) {
      iovec& first = message.msg_iov[0];
      const std::size_t step = std::min(written, first.iov_len);
      first.iov_base = static_cast<char*>(first.iov_base) + step;
      first.iov_len -= step;
      written -= step;
      if (first.iov_len == 0) {
        ++message.msg_iov;
        --message.msg_iovlen;
      }
    }
  }
  return true;
}

std::size_t read_some(native_handle handle, char* buffer, std::size_t size) {
  for (;;) {
    const ssize_t n = ::read(handle, buffer, size);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno == ECONNRESET) return 0;
    posix::throw_errno("receive on a connection");
  }
}

bool wait_readable(native_handle handle, std::optional<std::chrono::nanoseconds> timeout) {
  return posix::wait_readable(handle, timeout);
}

}  // namespace mproc::detail
