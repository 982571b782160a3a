// A started child as the platform sees it: how to wait for it and how to end it.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace mproc::detail {

class child_handle {
 public:
  virtual ~child_handle() = default;

  virtual int pid() const noexcept = 0;

  /// A handle that becomes ready (readable, on POSIX: a pidfd) when the child
  /// ends; -1 where the platform has none.
  virtual int sentinel() const noexcept = 0;

  /// A handle that becomes ready (readable) once wait() would return at
  /// once; -1 where there is none. The sentinel, unless the end is reported
  /// by someone else (a forkserver child's).
  virtual int ended_handle() const noexcept { return sentinel(); }

  /// Waits at most `timeout` (empty: without limit) for the child to end and
  /// returns its exit code (-N for signal N) once it has. Safe from any thread.
  virtual std::optional<int> wait(std::optional<std::chrono::nanoseconds> timeout) = 0;

  /// Whether the child dumped core as it ended (POSIX: WCOREDUMP), once
  /// wait() has returned its code; false where the system does not say.
  virtual bool dumped_core() const noexcept { return false; }
  /// SIGINT on POSIX (Windows: see process::interrupt); no effect once the
  /// child has ended.
  virtual void interrupt() = 0;
  /// SIGTERM on POSIX; no effect once the child has ended.
  virtual void terminate() = 0;
  /// SIGKILL on POSIX; no effect once the child has ended.
  virtual void kill() = 0;
};

/// How a process with this exit code ended, for people: "exited with code 3",
/// "was killed by SIGKILL".
std::string describe_end(int exit_code);
/// Whether a process with this exit code was ended as Ctrl-C ends one: SIGINT
/// (Windows: also STATUS_CONTROL_C_EXIT, a console's Ctrl-C).
bool ended_by_interrupt(int exit_code);

}  // namespace mproc::detail
