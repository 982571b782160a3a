// process::async_join: a composed Asio operation that waits for the child's
// end in the executor's reactor (end_watch, per platform), then reads its exit
// code, which is immediate by then.
#include <mproc/process.hpp>

#include "end_watch.hpp"
#include "failed_operation.hpp"
#include "runtime.hpp"

#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>

namespace mproc {
namespace {

struct join_operation {
  std::shared_ptr<detail::started_child> child;
  std::shared_ptr<detail::end_watch> watch;
  bool waiting = false;

  template <class Self>
  void operator()(Self& self, boost::system::error_code ec = {}) {
    if (!waiting) {
      waiting = true;
      // Any cancellation type: giving up this wait changes nothing else.
      self.reset_cancellation_state(boost::asio::enable_total_cancellation());
      detail::end_watch::async_wait(watch, std::move(self));
      return;
    }
    watch.reset();
    if (ec) {
      self.complete(detail::cancelled_wait("the wait for a child's end was cancelled; the child goes on"), 0);
      return;
    }
    std::exception_ptr failure;
    int code = 0;
    try {
      code = child->handle->wait(std::nullopt).value_or(0);
      detail::runtime::get().reap_finished();
    } catch (...) {
      failure = std::current_exception();
    }
    self.complete(failure, code);
  }
};


}  // namespace

void process::start_async_join(detail::async_executor executor, detail::async_handler<int> handler) {
  using signature = void(std::exception_ptr, int);
  std::exception_ptr failure;
  std::shared_ptr<detail::started_child> child;
  std::shared_ptr<detail::end_watch> watch;
  try {
    child = child_to_join();
    watch = std::make_shared<detail::end_watch>(executor, child->handle->ended_handle());
  } catch (...) {
    failure = std::current_exception();
  }
  // async_compose takes the handler by reference and moves it on.
  if (failure) {
    boost::asio::async_compose<detail::async_handler<int>, signature>(detail::failed_operation<int>{failure}, handler, executor);
    return;
  }
  boost::asio::async_compose<detail::async_handler<int>, signature>(
      join_operation{std::move(child), std::move(watch)}, handler, executor);
}

}  // namespace mproc
