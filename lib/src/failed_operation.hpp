// An asynchronous operation that fails at once, posted (never inside the
// initiating call): what a composed operation completes with when it cannot
// start (a usage error, a handle that cannot be copied).
#pragma once

#include <boost/asio/post.hpp>

#include <exception>

namespace mproc::detail {

/// For boost::asio::async_compose; completes with `(failure, Values{}...)`.
template <class... Values>
struct failed_operation {
  std::exception_ptr failure;
  bool posted = false;

  template <class Self>
  void operator()(Self& self) {
    if (!posted) {
      posted = true;
      boost::asio::post(self.get_io_executor(), std::move(self));
      return;
    }
    self.complete(failure, Values{}...);
  }
};

}  // namespace mproc::detail
