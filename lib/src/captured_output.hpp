// A captured child's output as its parent reads it: lines delivered, tagged or
// to a handler, by one thread of the parent's (its "output thread", an Asio
// context) for every captured child.
#pragma once

#include "output_pipes.hpp"
#include "output_thread.hpp"

#include <mproc/output.hpp>
#include <mproc/process.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace mproc::detail {

class captured_output;

/// Starts reading a started child's pipes (taking their read ends).
std::shared_ptr<captured_output> read_child_output(child_output_pipes& pipes, process_info who,
                                                   const output_capture& capture);

/// Waits at most `at_most` until every line the child wrote has been delivered
/// (both pipes at their end: the child and whatever it started that shares its
/// streams have ended). Returns at once on the output thread itself.
void wait_delivered(captured_output& output, std::chrono::nanoseconds at_most);

/// The last lines (at most `count`) the child wrote to stderr, oldest first.
std::vector<std::string> last_error_lines(const captured_output& output, std::size_t count);

/// The last lines (at most `count`) a started process's child wrote to stderr;
/// none unless its output is captured.
std::vector<std::string> last_error_lines_of(const process& p, std::size_t count);

}  // namespace mproc::detail
