// What a connection is made of, and the platform calls it needs.
#pragma once

#include <mproc/detail/handles.hpp>

#include <chrono>
#include <cstdint>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace mproc::detail {

/// Part of a message being received: its room so far, and how much of it holds
/// bytes that arrived (the rest is not given back between reads: resizing to
/// the bytes in hand made every read zero the whole room again, which made
/// receiving 1 GiB take minutes).
struct received_part {
  std::string bytes;
  std::size_t filled = 0;
};

struct connection_state {
  native_handle handle = -1;
  bool can_read = false;
  bool can_write = false;
  bool broken = false;  // a corrupt or cut frame was read: the stream lost its place
  // The message being received: what of its head and body has arrived. A
  // receive goes on from here, so what an asynchronous receive read before it
  // was cancelled is not lost. Reads stop at a message's end.
  received_part head;
  received_part body;

  connection_state() = default;
  connection_state(const connection_state&) = delete;
  connection_state& operator=(const connection_state&) = delete;
  ~connection_state();
};

/// The head of every message: frame_magic, then the body's size.
inline constexpr std::size_t frame_head_size = sizeof(std::uint32_t) + sizeof(std::uint64_t);

/// The head of a message of `body_size` bytes.
std::string frame_head(std::size_t body_size);
/// Where the next bytes of a message being received go: the end of its head
/// or of its body, grown for them.
struct message_room {
  received_part* part = nullptr;  // none: the message is complete

  bool empty() const noexcept { return part == nullptr; }
  char* data() const noexcept { return part->bytes.data() + part->filled; }
  std::size_t size() const noexcept { return part->bytes.size() - part->filled; }
  /// `got` bytes arrived in it.
  void received(std::size_t got) const noexcept { part->filled += got; }
};

/// Room for the next bytes of the message being received: its head first, then
/// its body, at most one step of growth at a time (a corrupt length must not
/// allocate what never comes). Throws serialization_error, and marks the
/// stream broken, on a corrupt head.
message_room room_for_more(connection_state& state);
/// Takes the message's body once it is complete.
std::optional<std::string> take_message(connection_state& state);
/// Forgets the message being received (a cut or corrupt one).
void drop_message(connection_state& state) noexcept;
/// Keeps the `got` bytes that arrived in `room`. 0 is the end of the stream:
/// eof_error, and if it cut a message, the stream is broken and the part gone.
void keep_received(connection_state& state, const message_room& room, std::size_t got);

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
