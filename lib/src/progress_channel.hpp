// How a plain process's report_progress() reaches process_options::progress in
// its parent: a record pipe of the child's own ("done total\n", one write
// each), read on the parent's output thread.
#pragma once

#include "output_pipes.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace mproc::detail {

class line_reader;

using progress_callback = std::function<void(std::size_t done, std::size_t total)>;

/// The progress pipe of a child being started: made only when its parent
/// wants reports; closed unless taken.
class child_progress_channel {
 public:
  explicit child_progress_channel(bool wanted);
  ~child_progress_channel();
  child_progress_channel(const child_progress_channel&) = delete;
  child_progress_channel& operator=(const child_progress_channel&) = delete;

  /// -1 when not wanted.
  native_handle write_end() const noexcept { return ends_.write; }

  /// In the forked child: its reports go down this channel (or nowhere: a
  /// forked child never reports through its parent's own channel).
  void adopt_in_fork() noexcept;

  /// In the parent, once the child is started: the reader that calls
  /// `callback` (our copy of the write end closed), or null.
  std::shared_ptr<line_reader> start_reading(progress_callback callback, const std::string& child_name);

 private:
  output_pipe_ends ends_{};
};

/// In a spawn or forkserver child: its reports go down `channel` (taken).
void adopt_progress_channel(native_handle channel) noexcept;

/// A report of this process to its parent's process_options::progress; none
/// if its parent asked for none.
void report_to_parent(std::size_t done, std::size_t total) noexcept;

}  // namespace mproc::detail
