// Waiting in an Asio reactor for a child's end: a copy of its pidfd (or of
// the descriptor its end is reported on) in a stream_descriptor, readable then.
#pragma once

#include <mproc/detail/asio_waits.hpp>
#include <mproc/error.hpp>

#include <boost/asio/posix/stream_descriptor.hpp>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include <fcntl.h>

namespace mproc::detail {

class end_watch {
 public:
  /// Errors: process_error without a handle to watch (kernels before Linux
  /// 5.3 have no pidfd) or when it cannot be copied.
  end_watch(const async_executor& executor, int ended_handle) : descriptor_(executor) {
    if (ended_handle < 0) throw process_error("cannot wait asynchronously for a child without a pidfd (Linux 5.3 or later)");
    const int copy = ::fcntl(ended_handle, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) throw process_error(std::string("cannot copy a child's pidfd: ") + std::strerror(errno));
    descriptor_.assign(copy);
  }

  /// Completes `handler` with an error_code when the child has ended or the
  /// wait is cancelled (the descriptor's per-operation cancellation).
  template <class Handler>
  static void async_wait(const std::shared_ptr<end_watch>& watch, Handler&& handler) {
    watch->descriptor_.async_wait(boost::asio::posix::stream_descriptor::wait_read, std::forward<Handler>(handler));
  }

 private:
  boost::asio::posix::stream_descriptor descriptor_;
};

}  // namespace mproc::detail
