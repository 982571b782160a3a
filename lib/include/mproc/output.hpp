// Seeing what children write: their standard output and error, captured line
// by line and tagged with who wrote them, or handed to a callback.
//
//   mproc::process p({.capture_output = true}, work);   // "[Process-1 4242] hello"
//   mproc::pool workers({.processes = 4, .capture_output = true});
//   mproc::process q({.capture_output = [](const mproc::process_info& who, mproc::output_stream stream,
//                                          std::string_view line) { log(who.name, line); }}, work);
//
// Off by default: children write to the parent's streams directly, as in Python.
#pragma once

#include <mproc/process_info.hpp>

#include <concepts>
#include <cstddef>
#include <functional>
#include <string_view>
#include <utility>

namespace mproc {

/// Which of a child's standard streams a line came from.
enum class output_stream { out, err };

/// Receives one line a child wrote, without its line end ("\n" or "\r\n").
/// Called on mproc's output thread, one line at a time, in the order each
/// stream wrote them; it should return soon (lines wait meanwhile) and must not
/// join a process whose output is captured.
using output_handler = std::function<void(const process_info& who, output_stream stream, std::string_view line)>;

/// Lines longer than this are delivered in pieces of this size, so that a
/// child writing without line ends cannot make its parent buffer without bound.
inline constexpr std::size_t max_output_line = 64 * 1024;

/// Whether and where a child's output goes (process_options::capture_output,
/// pool_options::capture_output).
///
/// Captured, a child's stdout and stderr are pipes to its parent, which reads
/// them on a thread of its own and writes each line whole (never mixed with
/// another child's line) to its own stdout or stderr, prefixed with the
/// child's name and pid: "[PoolWorker-2 4242] text". With a handler, lines go
/// to the handler instead. What a child wrote before it was killed is still
/// delivered, and join() returns once its lines are. In the child, stdout is
/// line buffered (unbuffered on Windows, which has no line buffering), so that
/// a line is written when it ends.
class output_capture {
 public:
  /// Not captured: the child writes to its parent's streams.
  output_capture() = default;
  /// Captured and tagged when `tagged` is true.
  output_capture(bool tagged) : captured_(tagged) {}  // NOLINT: `.capture_output = true` reads best
  /// Captured, lines to `handler`.
  template <class F>
    requires std::invocable<F&, const process_info&, output_stream, std::string_view>
  output_capture(F handler) : captured_(true), handler_(std::move(handler)) {}  // NOLINT: as above

  bool captured() const noexcept { return captured_; }
  /// Empty when lines are written tagged to the parent's streams.
  const output_handler& handler() const noexcept { return handler_; }

 private:
  bool captured_ = false;
  output_handler handler_;
};

}  // namespace mproc
