// Asynchronous receives and sends on a connection's socket: what is there is
// read (or what fits is written) at once with MSG_DONTWAIT, which leaves the
// descriptor blocking for every other copy of it (O_NONBLOCK would change it
// in every process that shares it); readiness is awaited in the executor's
// reactor on a copy of the descriptor.
#pragma once

#include <mproc/detail/asio_waits.hpp>
#include <mproc/error.hpp>

#include "file_descriptor.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>

#include <cerrno>
#include <cstddef>
#include <optional>
#include <utility>

#include <fcntl.h>
#include <sys/socket.h>

namespace mproc::detail {

class connection_io {
 public:
  connection_io(const async_executor& executor, int handle) : handle_(handle), descriptor_(executor) {
    const int copy = ::fcntl(handle, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) posix::throw_errno("cannot copy a connection's descriptor");
    descriptor_.assign(copy);
  }

  /// Bytes read now (0: the other end is closed), or none when nothing is there.
  std::optional<std::size_t> read_now(char* buffer, std::size_t size) {
    for (;;) {
      const ssize_t n = ::recv(handle_, buffer, size, MSG_DONTWAIT);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return std::nullopt;
      if (errno == ECONNRESET) return 0;
      posix::throw_errno("receive on a connection");
    }
  }

  /// Bytes written now (0: the socket's buffer is full). Errors: eof_error.
  std::size_t write_now(const char* bytes, std::size_t size) {
    for (;;) {
      const ssize_t n = ::send(handle_, bytes, size, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      if (errno == EPIPE || errno == ECONNRESET) throw eof_error("the other end of the connection is closed");
      posix::throw_errno("send on a connection");
    }
  }
  /// A write that had to wait is not under way here: each write_now is whole.
  bool write_under_way() const noexcept { return false; }

  /// Completes `handler(error_code)` when read_now may find something
  /// (per-operation cancellation: nothing is read by the wait).
  template <class Handler>
  void async_wait_readable(Handler&& handler) {
    descriptor_.async_wait(boost::asio::posix::stream_descriptor::wait_read, std::forward<Handler>(handler));
  }
  /// Completes `handler(error_code)` when write_now may write more.
  template <class Handler>
  void async_wait_writable(Handler&& handler) {
    descriptor_.async_wait(boost::asio::posix::stream_descriptor::wait_write, std::forward<Handler>(handler));
  }

 private:
  int handle_;
  boost::asio::posix::stream_descriptor descriptor_;
};

}  // namespace mproc::detail
