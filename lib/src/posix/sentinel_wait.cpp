// poll() over pidfds, and an eventfd to be woken.
#include "../sentinel_wait.hpp"

#include <mproc/error.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace mproc::detail {

sentinel_wait::sentinel_wait() : wake_handle_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (wake_handle_ < 0) throw error(std::string("cannot make an eventfd: ") + std::strerror(errno));
}

sentinel_wait::~sentinel_wait() { ::close(wake_handle_); }

std::vector<std::size_t> sentinel_wait::wait(const std::vector<int>& sentinels, std::chrono::nanoseconds timeout) {
  std::vector<pollfd> watched;
  watched.reserve(sentinels.size() + 1);
  for (int fd : sentinels) watched.push_back({fd, POLLIN, 0});
  watched.push_back({wake_handle_, POLLIN, 0});
  const auto milliseconds = std::chrono::ceil<std::chrono::milliseconds>(timeout).count();
  const int polled =
      ::poll(watched.data(), watched.size(), static_cast<int>(std::clamp<long long>(milliseconds, 0, 1 << 30)));
  std::vector<std::size_t> ready;
  if (polled <= 0) return ready;
  for (std::size_t i = 0; i < sentinels.size(); ++i) {
    if (watched[i].revents != 0) ready.push_back(i);
  }
  if (watched.back().revents != 0) {
    std::uint64_t count = 0;
    [[maybe_unused]] const ssize_t drained = ::read(wake_handle_, &count, sizeof count);
  }
  return ready;
}

void sentinel_wait::wake() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = ::write(wake_handle_, &one, sizeof one);
}

int copy_sentinel(int sentinel) noexcept { return sentinel < 0 ? -1 : ::fcntl(sentinel, F_DUPFD_CLOEXEC, 0); }

void close_sentinel_copy(int copy) noexcept {
  if (copy >= 0) ::close(copy);
}

}  // namespace mproc::detail
