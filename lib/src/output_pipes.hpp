// The pipes a captured child writes its stdout and stderr to (platform code:
// posix/output_pipes.cpp, windows/output_pipes.cpp).
#pragma once

#include <mproc/detail/handles.hpp>

#include <boost/asio/readable_pipe.hpp>

#include <cstddef>
#include <string_view>
#include <utility>

namespace mproc::detail {

inline constexpr native_handle no_handle = -1;

struct output_pipe_ends {
  native_handle read = no_handle;   // the parent's, for an Asio reader (overlapped on Windows)
  native_handle write = no_handle;  // the child's stdout or stderr
};

/// A pipe whose ends no spawned child inherits: the write end travels with the
/// start message (or by fork). Throws process_error.
output_pipe_ends make_output_pipe();

/// A pipe that many processes write records to, each record with one write of
/// at most max_record_write bytes, which arrives whole: a POSIX pipe keeps
/// writes of up to PIPE_BUF (4096 on Linux) whole; on Windows the pipe is in
/// message mode. Throws process_error.
output_pipe_ends make_record_pipe();
inline constexpr std::size_t max_record_write = 4096;

/// Writes one record; false if the reader has gone.
bool write_record(native_handle write_end, std::string_view record) noexcept;

/// The read end as Asio's pipe takes it.
boost::asio::readable_pipe::native_handle_type as_pipe_handle(native_handle read_end) noexcept;

/// In a starting child, before it writes anything: makes the write ends its
/// stdout and stderr (taking them), stdout line buffered where the C library
/// can (so that a line is written when it ends, and is not lost in a buffer
/// if the child is killed).
void redirect_output(native_handle out, native_handle err) noexcept;

/// The two pipes of a child being started, closed unless taken.
struct child_output_pipes {
  output_pipe_ends out = make_output_pipe();
  output_pipe_ends err = make_output_pipe();

  child_output_pipes() = default;
  child_output_pipes(const child_output_pipes&) = delete;
  child_output_pipes& operator=(const child_output_pipes&) = delete;
  ~child_output_pipes();
  /// Closes the write ends: the child has its own copies once started.
  void close_write_ends() noexcept;
};

}  // namespace mproc::detail
