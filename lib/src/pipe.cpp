#include <mproc/pipe.hpp>

#include "connection_state.hpp"
#include "launch.hpp"
#include "payload.hpp"

#include <algorithm>
#include <cstring>

namespace mproc {
namespace detail {

connection_state::~connection_state() {
  if (handle >= 0) close_handle(handle);
}

std::string frame_head(std::size_t body_size) {
  std::string head(frame_head_size, '\0');
  const std::uint32_t magic = frame_magic;
  const std::uint64_t size = body_size;
  std::memcpy(head.data(), &magic, sizeof magic);
  std::memcpy(head.data() + sizeof magic, &size, sizeof size);
  return head;
}

std::uint32_t send_handle(native_handle handle, const char* what) {
  handle_outbox* box = current_outbox();
  if (box == nullptr) {
    throw serialization_error(std::string(what) +
                              " can travel to another process only as an argument of a process or pool task");
  }
  return box->add(handle);
}

native_handle take_handle(std::uint32_t index, const char* what) {
  handle_inbox* box = current_inbox();
  if (box == nullptr) {
    throw serialization_error(std::string(what) + " can only be received as an argument of a process or pool task");
  }
  return box->take(index);
}

}  // namespace detail

namespace detail {
namespace {

// A message's buffer grows with the bytes that actually arrive, from this size:
// a corrupt length must not allocate what never comes.
constexpr std::size_t first_chunk = std::size_t{1} << 20;

}  // namespace

message_room room_for_more(connection_state& state) {
  received_part& head = state.head;
  if (head.filled < frame_head_size) {
    head.bytes.resize(frame_head_size);
    return {&head};
  }
  std::uint32_t magic = 0;
  std::uint64_t size = 0;
  std::memcpy(&magic, head.bytes.data(), sizeof magic);
  std::memcpy(&size, head.bytes.data() + sizeof magic, sizeof size);
  if (magic != frame_magic || size > max_payload_size) {
    state.broken = true;
    drop_message(state);
    throw serialization_error("corrupt bytes on the connection: not a message of mproc's");
  }
  received_part& body = state.body;
  const std::size_t had = body.filled;
  if (had == size) return {};
  if (body.bytes.size() == had) {  // the room is full: one more step of growth
    const std::uint64_t step = std::min<std::uint64_t>(size - had, std::max(first_chunk, had));
    body.bytes.resize(had + static_cast<std::size_t>(step));
  }
  return {&body};
}

std::optional<std::string> take_message(connection_state& state) {
  if (!room_for_more(state).empty()) return std::nullopt;
  std::string body = std::move(state.body.bytes);
  drop_message(state);
  return body;
}

void drop_message(connection_state& state) noexcept {
  state.head = {};
  state.body = {};
}

void keep_received(connection_state& state, const message_room& room, std::size_t got) {
  const bool nothing_yet = room.part == &state.head && state.head.filled == 0;
  room.received(got);
  if (got > 0) return;
  if (nothing_yet) throw eof_error("the other end of the connection is closed");
  state.broken = true;
  drop_message(state);
  throw eof_error("the other end of the connection closed in the middle of a message");
}

}  // namespace detail

namespace {

detail::connection_state& open_state(const std::shared_ptr<detail::connection_state>& state) {
  if (!state || state->handle < 0) throw closed_error("the connection is closed");
  return *state;
}

// Reads until the message being received is complete. What an asynchronous
// receive left off counts.
void read_message(detail::connection_state& state) {
  for (;;) {
    const detail::message_room room = detail::room_for_more(state);
    if (room.empty()) return;
    detail::keep_received(state, room, detail::read_some(state.handle, room.data(), room.size()));
  }
}

}  // namespace

void connection::send_message(std::string_view bytes) {
  auto& state = open_state(state_);
  if (!state.can_write) throw error("this end of the pipe can only receive");
  const std::string head = detail::frame_head(bytes.size());
  if (!detail::write_message(state.handle, head, bytes)) {
    throw eof_error("the other end of the connection is closed");
  }
}

std::string connection::recv_message() {
  auto& state = open_state(state_);
  check_receivable(state);
  read_message(state);
  return *detail::take_message(state);
}

void connection::check_receivable(const detail::connection_state& state) {
  if (!state.can_read) throw error("this end of the pipe can only send");
  if (state.broken) {
    throw serialization_error("the connection lost its place in the stream after a corrupt or cut message");
  }
}

void connection::send_bytes(std::span<const std::byte> bytes) {
  send_message(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::vector<std::byte> connection::recv_bytes() {
  const std::string bytes = recv_message();
  const auto* first = reinterpret_cast<const std::byte*>(bytes.data());
  return std::vector<std::byte>(first, first + bytes.size());
}

bool connection::poll() { return poll_for(std::chrono::nanoseconds{0}); }

bool connection::poll_for(std::chrono::nanoseconds timeout) {
  auto& state = open_state(state_);
  if (!state.can_read) throw error("this end of the pipe can only send");
  return detail::wait_readable(state.handle, std::max(timeout, std::chrono::nanoseconds{0}));
}

void connection::close() noexcept {
  if (state_ && state_->handle >= 0) {
    detail::close_handle(state_->handle);
    state_->handle = -1;
  }
}

bool connection::closed() const noexcept { return !state_ || state_->handle < 0; }
bool connection::readable() const noexcept { return state_ && state_->can_read; }
bool connection::writable() const noexcept { return state_ && state_->can_write; }

detail::native_handle connection::handle_for_transfer() const { return open_state(state_).handle; }

detail::native_handle connection::native_handle() const { return open_state(state_).handle; }

void connection::adopt(detail::native_handle handle, bool can_read, bool can_write) {
  state_ = std::make_shared<detail::connection_state>();
  state_->handle = handle;
  state_->can_read = can_read;
  state_->can_write = can_write;
}

std::pair<connection, connection> pipe(bool duplex) {
  const auto [first, second] = detail::make_connected_handles();
  connection a;
  connection b;
  a.adopt(first, true, duplex);
  b.adopt(second, duplex, true);
  return {std::move(a), std::move(b)};
}

}  // namespace mproc
