// How log records travel (see log.cpp): what a starting child is given, and
// what its parent reads.
#pragma once

#include "output_pipes.hpp"

#include <chrono>
#include <memory>

namespace mproc::detail {

class line_reader;

/// The record pipe a starting child gets. In the logging process, a pipe of
/// the child's own, read here once the child is started; in a process that
/// sends its records up, its own pipe, which its children share (each record
/// one whole write); nothing when logging is off.
class child_log_channel {
 public:
  child_log_channel();
  ~child_log_channel();
  child_log_channel(const child_log_channel&) = delete;
  child_log_channel& operator=(const child_log_channel&) = delete;

  /// -1 when logging is off.
  native_handle write_end() const noexcept;
  /// spdlog's number of the lowest level logged.
  int threshold() const noexcept { return threshold_; }

  /// In the forked child: its records go up this channel.
  void adopt_in_fork() noexcept;

  /// In the parent, once the child is started: the reader of its own pipe
  /// (our copy of the write end closed), or null.
  std::shared_ptr<line_reader> start_reading();

 private:
  output_pipe_ends made_{};
  native_handle shared_ = no_handle;
  int threshold_;
};

/// In a spawn or forkserver child: its records go up `channel` (taken).
void adopt_log_channel(native_handle channel, int threshold);

}  // namespace mproc::detail
