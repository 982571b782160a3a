// A child of this process, waited for through its process handle.
#pragma once

#include "../child_handle.hpp"
#include "handle.hpp"

#include <mutex>

namespace mproc::detail::windows {

/// Exit codes that terminate() and kill() end a child with; read back as
/// -15 and -9, the codes a child ended by SIGTERM or SIGKILL has on POSIX
/// (Python does the same with its TERMINATE code).
inline constexpr DWORD signal_exit_base = 0x10000;
inline constexpr DWORD terminated_code = signal_exit_base + 15;
inline constexpr DWORD killed_code = signal_exit_base + 9;

/// A process's exit code as mproc reports it: -N for the codes above.
int decode_exit_code(DWORD code) noexcept;

class waited_child final : public child_handle {
 public:
  waited_child(unique_handle process, int pid) : process_(std::move(process)), pid_(pid) {}

  int pid() const noexcept override { return pid_; }
  int sentinel() const noexcept override { return from_handle(process_.get()); }
  std::optional<int> wait(std::optional<std::chrono::nanoseconds> timeout) override;
  void interrupt() override;  // windows/interrupt.cpp
  void terminate() override { end_with(terminated_code); }
  void kill() override { end_with(killed_code); }

 private:
  void end_with(DWORD code);

  unique_handle process_;
  int pid_;
};

}  // namespace mproc::detail::windows
