#include <mproc/detail/handles.hpp>
#include <mproc/error.hpp>

#include "launch.hpp"

#include <string>

namespace mproc::detail {
namespace {

thread_local handle_outbox* outbox = nullptr;
thread_local handle_inbox* inbox = nullptr;

}  // namespace

std::uint32_t handle_outbox::add(native_handle handle) {
  handles_.push_back(handle);
  return static_cast<std::uint32_t>(handles_.size() - 1);
}

void handle_outbox::started(int pid) noexcept {
  for (auto& callback : started_) {
    try {
      callback(pid);
    } catch (...) {  // a failed bookkeeping step must not undo the start
    }
  }
  started_.clear();
}

handle_inbox::~handle_inbox() {
  for (native_handle handle : handles_) {
    if (handle >= 0) close_handle(handle);
  }
}

native_handle handle_inbox::take(std::uint32_t index) {
  if (index >= handles_.size() || handles_[index] < 0) {
    throw serialization_error("the start message names handle " + std::to_string(index) + " of " +
                              std::to_string(handles_.size()) + ", which did not come with it");
  }
  const native_handle taken = handles_[index];
  handles_[index] = -1;
  return taken;
}

handle_outbox* current_outbox() noexcept { return outbox; }
void decoding_done() noexcept { inbox = nullptr; }
handle_inbox* current_inbox() noexcept { return inbox; }

outbox_scope::outbox_scope(handle_outbox& box) noexcept : previous_(outbox) { outbox = &box; }
outbox_scope::~outbox_scope() { outbox = previous_; }

inbox_scope::inbox_scope(handle_inbox& box) noexcept : previous_(inbox) { inbox = &box; }
inbox_scope::~inbox_scope() { inbox = previous_; }

}  // namespace mproc::detail
