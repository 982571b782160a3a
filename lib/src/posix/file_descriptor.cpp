#include "file_descriptor.hpp"

#include "../payload.hpp"

#include <mproc/error.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <sys/socket.h>
#include <unistd.h>

namespace mproc::detail::posix {

void unique_fd::reset(int fd) noexcept {
  // Never retry close() on EINTR: on Linux the descriptor is already gone.
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

void throw_errno(const std::string& what) {
  throw process_error(what + ": " + std::strerror(errno));
}

std::pair<unique_fd, unique_fd> socket_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw_errno("socketpair");
  return {unique_fd(fds[0]), unique_fd(fds[1])};
}

bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    // send() with MSG_NOSIGNAL, so that a peer that died gives EPIPE, not SIGPIPE.
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE || errno == ECONNRESET) return false;
      throw_errno("write");
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool read_exact(int fd, void* buffer, std::size_t size) {
  auto* out = static_cast<char*>(buffer);
  while (size > 0) {
    const ssize_t n = ::read(fd, out, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ECONNRESET) return false;
      throw_errno("read");
    }
    if (n == 0) return false;
    out += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool write_frame(int fd, std::string_view bytes) {
  const std::uint32_t magic = frame_magic;
  const std::uint64_t size = bytes.size();
  char head[sizeof magic + sizeof size];
  std::memcpy(head, &magic, sizeof magic);
  std::memcpy(head + sizeof magic, &size, sizeof size);
  return write_all(fd, std::string_view(head, sizeof head)) && write_all(fd, bytes);
}

std::string read_frame(int fd) {
  std::uint32_t magic = 0;
  std::uint64_t size = 0;
  if (!read_exact(fd, &magic, sizeof magic)) throw eof_error("the sender closed the channel");
  if (magic != frame_magic) throw serialization_error("corrupt message: it does not start with mproc's frame mark");
  if (!read_exact(fd, &size, sizeof size)) throw eof_error("the sender closed the channel in a message");
  if (size > max_payload_size) throw serialization_error("corrupt message: length " + std::to_string(size));
  // Grown as the bytes arrive (doubling), not sized by the length: a forged
  // length costs no memory beyond what the sender really sent.
  std::string bytes;
  while (bytes.size() < size) {
    const std::size_t done = bytes.size();
    const std::size_t step = std::min<std::uint64_t>(size - done, std::max<std::size_t>(done, 1 << 20));
    bytes.resize(done + step);
    if (!read_exact(fd, bytes.data() + done, step)) throw eof_error("the sender closed the channel in a message");
  }
  return bytes;
}

}  // namespace mproc::detail::posix

#include <poll.h>

namespace mproc::detail::posix {

bool wait_readable(int fd, std::optional<std::chrono::nanoseconds> timeout) {
  using clock = std::chrono::steady_clock;
  const auto deadline = timeout ? clock::now() + *timeout : clock::time_point::max();
  for (;;) {
    int wait_ms = -1;
    if (timeout) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now());
      wait_ms = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 1 << 30));
    }
    pollfd entry{fd, POLLIN, 0};
    const int ready = ::poll(&entry, 1, wait_ms);
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) throw_errno("poll");
    if (timeout && clock::now() >= deadline) return false;
  }
}

}  // namespace mproc::detail::posix

namespace mproc::detail::posix {

namespace {

// SCM_RIGHTS carries at most 253 descriptors in one message (SCM_MAX_FD).
constexpr std::size_t batch_size = 250;

// One byte of data with room for a batch of descriptors: every message that
// passes descriptors has this shape.
struct fd_message {
  char byte = 'F';
  iovec data{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * batch_size)] = {};
  msghdr header{};

  explicit fd_message(std::size_t count) {
    header.msg_iov = &data;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = CMSG_SPACE(sizeof(int) * count);
  }
  fd_message(const fd_message&) = delete;
  fd_message& operator=(const fd_message&) = delete;
};

bool send_batch(int socket, const int* fds, std::size_t count) {
  fd_message message(count);
  cmsghdr* control = CMSG_FIRSTHDR(&message.header);
  control->cmsg_level = SOL_SOCKET;
  control->cmsg_type = SCM_RIGHTS;
  control->cmsg_len = CMSG_LEN(sizeof(int) * count);
  std::memcpy(CMSG_DATA(control), fds, sizeof(int) * count);
  for (;;) {
    if (::sendmsg(socket, &message.header, MSG_NOSIGNAL) == 1) return true;
    if (errno == EINTR) continue;
    if (errno == EPIPE || errno == ECONNRESET) return false;
    throw_errno("sendmsg");
  }
}

// Receives up to `count` descriptors into `out`; false on end of file.
bool receive_batch(int socket, std::size_t count, std::vector<int>& out) {
  fd_message message(count);
  ssize_t n;
  do {
    n = ::recvmsg(socket, &message.header, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno == ECONNRESET) return false;
  if (n < 0) throw_errno("recvmsg");
  if (n == 0) return false;
  cmsghdr* control = CMSG_FIRSTHDR(&message.header);
  if (control == nullptr || control->cmsg_type != SCM_RIGHTS || (message.header.msg_flags & MSG_CTRUNC) != 0) {
    throw serialization_error("corrupt message: the descriptors that should come with it did not");
  }
  const std::size_t received = (control->cmsg_len - CMSG_LEN(0)) / sizeof(int);
  const auto* first = reinterpret_cast<const int*>(CMSG_DATA(control));
  for (std::size_t i = 0; i < received; ++i) {
    int fd;
    std::memcpy(&fd, first + i, sizeof fd);
    out.push_back(fd);
  }
  return true;
}

}  // namespace

bool send_fd(int socket, int fd) { return send_batch(socket, &fd, 1); }

unique_fd receive_fd(int socket) {
  std::vector<int> fds;
  if (!receive_batch(socket, 1, fds) || fds.empty()) return {};
  return unique_fd(fds.front());
}

bool write_handles(int socket, const std::vector<int>& fds) {
  const auto count = static_cast<std::uint32_t>(fds.size());
  if (!write_all(socket, std::string_view(reinterpret_cast<const char*>(&count), sizeof count))) return false;
  for (std::size_t done = 0; done < fds.size(); done += batch_size) {
    if (!send_batch(socket, fds.data() + done, std::min(batch_size, fds.size() - done))) return false;
  }
  return true;
}

std::vector<int> read_handles(int socket) {
  std::uint32_t count = 0;
  if (!read_exact(socket, &count, sizeof count)) throw eof_error("the sender closed the channel");
  std::vector<int> fds;
  while (fds.size() < count) {
    const std::size_t before = fds.size();
    if (!receive_batch(socket, std::min<std::size_t>(batch_size, count - fds.size()), fds) || fds.size() == before) {
      for (int fd : fds) ::close(fd);
      throw eof_error("the sender closed the channel before sending its descriptors");
    }
  }
  return fds;
}

}  // namespace mproc::detail::posix
