// Waiting in an Asio context for a child's end: a copy of its process handle
// in an object_handle, signalled then.
#pragma once

#include <mproc/detail/asio_waits.hpp>

#include "handle.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/windows/object_handle.hpp>

#include <memory>
#include <utility>

namespace mproc::detail {

class end_watch {
 public:
  end_watch(const async_executor& executor, int ended_handle) : handle_(executor) {
    HANDLE copy = nullptr;
    if (!::DuplicateHandle(::GetCurrentProcess(), windows::to_handle(ended_handle), ::GetCurrentProcess(), &copy,
                           SYNCHRONIZE, FALSE, 0)) {
      windows::throw_last_error("cannot copy a child's process handle");
    }
    handle_.assign(copy);
  }

  /// Completes `handler` with an error_code when the child has ended or the
  /// wait is cancelled. object_handle has no per-operation cancellation in
  /// Boost 1.81; each watch has one wait, so cancelling it is cancelling the handle.
  template <class Handler>
  static void async_wait(const std::shared_ptr<end_watch>& watch, Handler&& handler) {
    auto slot = boost::asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) {
      slot.assign([weak = std::weak_ptr<end_watch>(watch)](boost::asio::cancellation_type) {
        if (auto alive = weak.lock()) alive->handle_.cancel();
      });
    }
    watch->handle_.async_wait(std::forward<Handler>(handler));
  }

 private:
  boost::asio::windows::object_handle handle_;
};

}  // namespace mproc::detail
