// A child of this process, waited for through its pidfd and waitpid() on its
// own pid: no SIGCHLD handler and no waitpid(-1), so children that other code
// of the program starts are left alone.
#pragma once

#include "../child_handle.hpp"
#include "file_descriptor.hpp"

#include <atomic>
#include <mutex>

namespace mproc::detail::posix {

class waited_child final : public child_handle {
 public:
  explicit waited_child(int pid);

  int pid() const noexcept override { return pid_; }
  int sentinel() const noexcept override { return pidfd_ ? pidfd_.get() : -1; }
  std::optional<int> wait(std::optional<std::chrono::nanoseconds> timeout) override;
  bool dumped_core() const noexcept override { return core_.load(); }
  void interrupt() override;
  void terminate() override;
  void kill() override;

 private:
  std::optional<int> try_reap();
  void send(int signal);

  int pid_;
  unique_fd pidfd_;  // empty on kernels without pidfd_open (before Linux 5.3)
  std::mutex mutex_;
  std::optional<int> code_;
  std::atomic<bool> core_{false};
};

/// The exit code of a waitpid() status: the exit status, or -N for signal N.
int decode_wait_status(int status) noexcept;

/// A pidfd for `pid`, or an empty descriptor where the kernel has none.
unique_fd open_pidfd(int pid) noexcept;

}  // namespace mproc::detail::posix
