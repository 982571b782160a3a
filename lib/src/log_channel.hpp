// How log records travel: a record pipe from every descendant of the logging
// process up to it (see log.cpp); what starting a child passes on.
#pragma once

#include <mproc/detail/handles.hpp>

#include <chrono>
#include <cstdint>

namespace mproc::detail {

/// What a child is started with: the channel's write end (the child gets a
/// copy) and the lowest level that goes anywhere; `channel` is -1 when
/// logging is off.
struct log_inheritance {
  native_handle channel = -1;
  int threshold = 6;  // spdlog's level numbers; 6 is off
};
log_inheritance log_for_children() noexcept;

/// In a spawn or forkserver child: its records go up `channel` (taken).
void adopt_log_channel(native_handle channel, int threshold);

/// In a forked child, before anything else logs: its records go up the
/// channel it inherited, if any, and spdlog's default logger forwards there.
void begin_forked_child_logging() noexcept;

/// In the logging process: waits at most `at_most` until every record that
/// was in the channel is written (children's records sent before they ended
/// are then out). Nothing to do elsewhere.
void sync_log_records(std::chrono::nanoseconds at_most);

}  // namespace mproc::detail
