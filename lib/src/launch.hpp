// Starting children: one function per start method, implemented per platform.
#pragma once

#include "child_handle.hpp"

#include <mproc/detail/handles.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mproc::detail {

struct launch_request {
  /// The encoded child_payload (spawn and forkserver).
  std::string payload;
  /// What a forked child runs (fork); it ends the child and never returns.
  std::function<void()> run_in_fork;
  /// Handles that go with the payload (spawn and forkserver).
  std::vector<native_handle> handles;
  bool daemon = false;
};

/// What a spawned child was sent.
struct spawn_start {
  std::string payload;
  std::vector<native_handle> handles;
};

std::unique_ptr<child_handle> launch_spawn(const launch_request& request);
std::unique_ptr<child_handle> launch_fork(const launch_request& request);
std::unique_ptr<child_handle> launch_forkserver(const launch_request& request);

/// Writes out what the C and C++ standard streams hold, so that a child does not
/// print the parent's buffered output a second time.
void flush_standard_streams() noexcept;

/// This process's id.
int current_pid() noexcept;

/// This process's resident memory in bytes (Linux: its resident set; Windows:
/// its working set); 0 if the system does not say.
std::uint64_t resident_bytes() noexcept;

/// Caps the memory this process can have (POSIX: its address space,
/// RLIMIT_AS; Windows: its committed memory, through a job object): past it an
/// allocation fails (std::bad_alloc). False if the system refused.
bool limit_memory(std::uint64_t bytes) noexcept;

/// Reads what a spawned child was given; `channel` is the text after the marker
/// argument. Throws serialization_error, eof_error or process_error.
spawn_start read_spawn_start(const std::string& channel);

/// Closes a handle this process owns.
void close_handle(native_handle handle) noexcept;

/// Serves fork requests until the parent goes away; never returns.
[[noreturn]] void run_forkserver(const std::string& channel);

/// Gives a spawned child its program's name in process listings (ps, top):
/// it was started through /proc/self/exe, which the kernel would call "exe".
void show_program_name() noexcept;

/// In a spawned child: makes process::interrupt() from its parent, and a
/// console's Ctrl-C, act as SIGINT does on POSIX. POSIX: nothing to do.
/// Windows: see windows/interrupt.cpp.
void listen_for_interrupt() noexcept;

/// Ends this process at once with `code`, after flushing the standard streams.
[[noreturn]] void exit_now(int code) noexcept;

}  // namespace mproc::detail
