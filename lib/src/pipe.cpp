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

namespace {

constexpr std::size_t head_size = sizeof(std::uint32_t) + sizeof(std::uint64_t);
// A message's buffer grows with the bytes that actually arrive, from this size:
// a corrupt length must not allocate what never comes.
constexpr std::size_t first_chunk = std::size_t{1} << 20;

detail::connection_state& open_state(const std::shared_ptr<detail::connection_state>& state) {
  if (!state || state->handle < 0) throw closed_error("the connection is closed");
  return *state;
}

// Reads exactly `size` bytes; false at end of file before the first byte.
bool read_exactly(detail::connection_state& state, char* buffer, std::size_t size, bool mid_message) {
  std::size_t done = 0;
  while (done < size) {
    const std::size_t got = detail::read_some(state.handle, buffer + done, size - done);
    if (got == 0) {
      if (done == 0 && !mid_message) return false;
      state.broken = true;
      throw eof_error("the other end of the connection closed in the middle of a message");
    }
    done += got;
  }
  return true;
}

}  // namespace

void connection::send_message(std::string_view bytes) {
  auto& state = open_state(state_);
  if (!state.can_write) throw error("this end of the pipe can only receive");
  char head[head_size];
  const std::uint32_t magic = detail::frame_magic;
  const std::uint64_t size = bytes.size();
  std::memcpy(head, &magic, sizeof magic);
  std::memcpy(head + sizeof magic, &size, sizeof size);
  if (!detail::write_message(state.handle, std::string_view(head, head_size), bytes)) {
    throw eof_error("the other end of the connection is closed");
  }
}

std::string connection::recv_message() {
  auto& state = open_state(state_);
  if (!state.can_read) throw error("this end of the pipe can only send");
  if (state.broken) {
    throw serialization_error("the connection lost its place in the stream after a corrupt or cut message");
  }
  char head[head_size];
  if (!read_exactly(state, head, head_size, false)) throw eof_error("the other end of the connection is closed");
  std::uint32_t magic = 0;
  std::uint64_t size = 0;
  std::memcpy(&magic, head, sizeof magic);
  std::memcpy(&size, head + sizeof magic, sizeof size);
  if (magic != detail::frame_magic || size > detail::max_payload_size) {
    state.broken = true;
    throw serialization_error("corrupt bytes on the connection: not a message of mproc's");
  }
  std::string bytes;
  std::size_t done = 0;
  while (done < size) {
    bytes.resize(static_cast<std::size_t>(std::min<std::uint64_t>(size, std::max(first_chunk, 2 * bytes.size()))));
    read_exactly(state, bytes.data() + done, bytes.size() - done, true);
    done = bytes.size();
  }
  return bytes;
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
