// Handles (POSIX file descriptors) that travel with a child's start message.
//
// While a call is encoded for a spawned or forkserver child, objects that own
// a descriptor (a connection, say) put it in the current outbox and write its
// index; the descriptors are sent after the message (SCM_RIGHTS). While the
// child decodes the call, they take theirs back from the inbox by index. Under
// fork nothing travels: the child has the parent's descriptors already.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace mproc::detail {

using native_handle = int;

class handle_outbox {
 public:
  /// Adds a handle to send; returns its index.
  std::uint32_t add(native_handle handle);
  const std::vector<native_handle>& handles() const noexcept { return handles_; }

  /// Asks to be told the child's pid once it is started (-1 if it could not be).
  void on_started(std::function<void(int pid)> callback) { started_.push_back(std::move(callback)); }
  void started(int pid) noexcept;

 private:
  std::vector<native_handle> handles_;
  std::vector<std::function<void(int)>> started_;
};

class handle_inbox {
 public:
  explicit handle_inbox(std::vector<native_handle> handles) : handles_(std::move(handles)) {}
  handle_inbox(const handle_inbox&) = delete;
  handle_inbox& operator=(const handle_inbox&) = delete;
  /// Closes the handles nobody took.
  ~handle_inbox();

  /// Takes the handle at `index`; throws serialization_error if there is none
  /// or it was taken already.
  native_handle take(std::uint32_t index);

 private:
  std::vector<native_handle> handles_;
};

/// The outbox of the call being encoded on this thread; nullptr when none is.
handle_outbox* current_outbox() noexcept;
/// The inbox of the call being decoded on this thread; nullptr when none is.
handle_inbox* current_inbox() noexcept;

/// Ends the decoding of a child's call on this thread: what the target makes
/// from here on is its own, not a placeholder for a decoded object.
void decoding_done() noexcept;

/// Makes `box` the current outbox (or inbox) of this thread for its lifetime.
class outbox_scope {
 public:
  explicit outbox_scope(handle_outbox& box) noexcept;
  ~outbox_scope();
  outbox_scope(const outbox_scope&) = delete;
  outbox_scope& operator=(const outbox_scope&) = delete;

 private:
  handle_outbox* previous_;
};

class inbox_scope {
 public:
  explicit inbox_scope(handle_inbox& box) noexcept;
  ~inbox_scope();
  inbox_scope(const inbox_scope&) = delete;
  inbox_scope& operator=(const inbox_scope&) = delete;

 private:
  handle_inbox* previous_;
};

}  // namespace mproc::detail
