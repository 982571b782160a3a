// What a shared memory handle says of its block, the same on every platform:
// each platform's shared_memory_state has the name, the bytes and open().
#include <mproc/shared_memory.hpp>

#include "shared_blocks.hpp"
#include "shared_memory_state.hpp"

#include <mproc/detail/handles.hpp>

namespace mproc {
namespace detail {

handle_outbox* outbox_for_block(const std::shared_ptr<shared_memory_state>& state) {
  if (!state || !state->open()) throw closed_error("the shared memory handle is closed");
  handle_outbox* box = current_outbox();
  if (box == nullptr) {
    throw serialization_error("shared memory can travel to another process only as an argument of a process "
                              "or pool task (or by its name, with shared_memory::attach)");
  }
  return box;
}

}  // namespace detail

std::span<std::byte> shared_memory::bytes() const noexcept {
  return closed() ? std::span<std::byte>() : std::span<std::byte>(state_->data, state_->size);
}

std::size_t shared_memory::size() const noexcept { return closed() ? 0 : state_->size; }

bool shared_memory::closed() const noexcept { return !state_ || !state_->open(); }

const std::string& shared_memory::name() const noexcept {
  static const std::string none;
  return state_ ? state_->name : none;
}

void shared_memory::close() noexcept {
  if (state_) state_->close();
}

}  // namespace mproc
