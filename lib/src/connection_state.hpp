// What a connection is made of, and the platform calls it needs.
#pragma once

#include <mproc/detail/handles.hpp>

#include <chrono>
#include <optional>
#include <string_view>
#include <utility>

namespace mproc::detail {

struct connection_state {
  native_handle handle = -1;
  bool can_read = false;
  bool can_write = false;
  bool broken = false;  // a corrupt or cut frame was read: the stream lost its place

  connection_state() = default;
  connection_state(const connection_state&) = delete;
  connection_state& operator=(const connection_state&) = delete;
  ~connection_state();
};

/// Two connected handles.
std::pair<native_handle, native_handle> make_connected_handles();
/// Writes `head` then `body` as one unit where the platform allows; false if the
/// other end is gone.
bool write_message(native_handle handle, std::string_view head, std::string_view body);
/// Reads up to `size` bytes; 0 at end of file.
std::size_t read_some(native_handle handle, char* buffer, std::size_t size);
/// Waits at most `timeout` (empty: without limit) for the handle to be readable.
bool wait_readable(native_handle handle, std::optional<std::chrono::nanoseconds> timeout);

}  // namespace mproc::detail
