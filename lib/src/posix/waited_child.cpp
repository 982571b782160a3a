#include "waited_child.hpp"

#include <mproc/error.hpp>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>
#include <csignal>
#include <thread>

#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace mproc::detail::posix {

int decode_wait_status(int status) noexcept {
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return WEXITSTATUS(status);
}

unique_fd open_pidfd(int pid) noexcept {
  // glibc 2.36 declares pidfd_open, but older ones do not: call it directly.
  return unique_fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
}

waited_child::waited_child(int pid) : pid_(pid), pidfd_(open_pidfd(pid)) {}

std::optional<int> waited_child::try_reap() {
  std::lock_guard lock(mutex_);
  if (code_) return code_;
  int status = 0;
  pid_t reaped;
  do {
    reaped = ::waitpid(pid_, &status, WNOHANG);
  } while (reaped < 0 && errno == EINTR);
  if (reaped == pid_) {
    code_ = decode_wait_status(status);
    core_.store(WIFSIGNALED(status) && WCOREDUMP(status));
  } else if (reaped < 0) {
    throw process_error("the exit status of process " + std::to_string(pid_) +
                        " was collected by other code (SIGCHLD set to SIG_IGN, or a waitpid(-1) "
                        "elsewhere in the program)");
  }
  return code_;
}

std::optional<int> waited_child::wait(std::optional<std::chrono::nanoseconds> timeout) {
  if (auto code = try_reap()) return code;
  if (timeout && *timeout <= std::chrono::nanoseconds{0}) return std::nullopt;
  if (pidfd_) {
    // A pidfd becomes readable when the child ends.
    wait_readable(pidfd_.get(), timeout);
    return try_reap();
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout.value_or(std::chrono::hours(24 * 365));
  auto pause = std::chrono::microseconds(200);
  for (;;) {
    if (auto code = try_reap()) return code;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(20));
  }
}

void waited_child::send(int signal) {
  std::lock_guard lock(mutex_);
  if (code_) return;  // reaped: the pid may already belong to another process
  // Through the pidfd where there is one: it cannot hit a recycled pid.
  if (pidfd_ && ::syscall(SYS_pidfd_send_signal, pidfd_.get(), signal, nullptr, 0) == 0) return;
  ::kill(pid_, signal);
}

void waited_child::interrupt() { send(SIGINT); }

void waited_child::terminate() { send(SIGTERM); }

void waited_child::kill() { send(SIGKILL); }

}  // namespace mproc::detail::posix

namespace mproc::detail {

bool ended_by_interrupt(int exit_code) { return exit_code == -SIGINT; }

std::string describe_end(int exit_code) {
  if (exit_code >= 0) return "exited with code " + std::to_string(exit_code);
  const char* name = ::sigabbrev_np(-exit_code);
  return "was killed by " + (name != nullptr ? "SIG" + std::string(name) : "signal " + std::to_string(-exit_code));
}

}  // namespace mproc::detail
