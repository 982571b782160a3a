// Owned POSIX file descriptors and whole-message I/O on them.
#pragma once

#include <cstdint>
#include <vector>
#include <string>
#include <string_view>
#include <utility>

namespace mproc::detail::posix {

/// Owns one file descriptor and closes it once.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~unique_fd() { reset(); }

  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept;
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

/// A connected pair of Unix stream sockets, both close-on-exec.
std::pair<unique_fd, unique_fd> socket_pair();

/// Writes all of `bytes`. Returns false if the peer has gone (EPIPE, no SIGPIPE).
bool write_all(int fd, std::string_view bytes);
/// Reads exactly `size` bytes; false on end of file before that.
bool read_exact(int fd, void* buffer, std::size_t size);

/// One message: magic, length, bytes.
bool write_frame(int fd, std::string_view bytes);
/// Throws serialization_error on a bad frame, eof_error on end of file.
std::string read_frame(int fd);

/// Throws process_error with `what` and the text of errno.
[[noreturn]] void throw_errno(const std::string& what);

}  // namespace mproc::detail::posix

#include <chrono>
#include <optional>

namespace mproc::detail::posix {

/// Waits until `fd` is readable (or closed by its peer); false when `timeout`
/// ran out first. An empty timeout waits without limit.
bool wait_readable(int fd, std::optional<std::chrono::nanoseconds> timeout);

}  // namespace mproc::detail::posix

namespace mproc::detail::posix {

/// Sends one descriptor over a Unix socket (SCM_RIGHTS). False if the peer is gone.
bool send_fd(int socket, int fd);
/// Receives one descriptor; an empty one on end of file.
unique_fd receive_fd(int socket);

/// Sends a count, then the descriptors (in batches that SCM_RIGHTS allows).
/// False if the peer is gone.
bool write_handles(int socket, const std::vector<int>& fds);
/// Receives what write_handles() sent. Throws eof_error or serialization_error.
std::vector<int> read_handles(int socket);

}  // namespace mproc::detail::posix
