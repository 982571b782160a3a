// Handing a call to an executor's context from a thread that is not the
// context's: a pool's result thread, a word watcher. Asio's own post() from
// such a thread wakes a context sleeping in its reactor while it still holds
// the context's lock (epoll_ctl under the scheduler mutex), so on a shared CPU
// the woken thread runs, blocks on that lock, and the poster must run again
// before it can go on: three switches for one wake; and it signals the
// context after unlocking it, when the context may be gone (a thread_pool
// destroyed as soon as the call ran). POSIX contexts therefore get their calls
// through a doorbell of their own (an eventfd rung with no lock held, before
// the call can run); Windows' completion port has no such lock, and posts.
#pragma once

#include <mproc/detail/asio_waits.hpp>

#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>

#include <memory>
#include <utility>

namespace mproc::detail {

/// A move-only call (it may own a completion handler).
class posted_call {
 public:
  template <class F>
  explicit posted_call(F f) : call_(std::make_unique<model<F>>(std::move(f))) {}
  void operator()() { call_->run(); }

 private:
  struct base {
    virtual ~base() = default;
    virtual void run() = 0;
  };
  template <class F>
  struct model final : base {
    F f;
    explicit model(F g) : f(std::move(g)) {}
    void run() override { f(); }
  };
  std::unique_ptr<base> call_;
};

/// `io` without a count of work: posting through a tracked copy that is then
/// dropped could end the context's last work from this thread, and stopping
/// the context here would wake its thread a second time.
inline async_executor untracked(const async_executor& io) {
  return boost::asio::prefer(io, boost::asio::execution::outstanding_work.untracked);
}

/// Runs `call` on `io`'s context, never in this call. The call is dropped,
/// unrun, if the context has shut down; it should hold what keeps the
/// context's run() going (a tracked executor) until it has run.
void post_from_elsewhere(const async_executor& io, posted_call call);

}  // namespace mproc::detail
