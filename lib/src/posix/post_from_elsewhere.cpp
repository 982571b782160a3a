// POSIX: the calls from other threads to an io_context or a thread_pool (or a
// strand on one) go through the context's doorbell, an eventfd that the
// context's reactor awaits while calls are queued (and only then: an armed
// wait would keep run() from returning). The eventfd is rung after the queue's
// lock is let go, so the woken context thread finds nothing held; and the
// ringing thread is done with the context before a call can run (the context
// sees a call only once it is rung), so a context destroyed as soon as the
// call has run is never touched afterwards. Asio's own post() from another
// thread signals the context after unlocking it, so a context destroyed by
// then (a thread_pool joined and destroyed once its handler ran) was signalled
// after its end. Other contexts (system_context, users' own) get Asio's post().
#include "../post_from_elsewhere.hpp"

#include "file_descriptor.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <mutex>
#include <optional>
#include <vector>

#include <sys/eventfd.h>
#include <unistd.h>

namespace mproc::detail {
namespace {

// `Context`: an io_context or a thread_pool, whose reactor awaits the eventfd.
template <class Context>
class doorbell final : public boost::asio::execution_context::service {
 public:
  static inline boost::asio::execution_context::id id;

  explicit doorbell(boost::asio::execution_context& context)
      : service(context), bell_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (bell_fd_ < 0) posix::throw_errno("cannot make an eventfd for an Asio context's calls from other threads");
    try {
      bell_.emplace(static_cast<Context&>(context).get_executor());  // made for a Context only (post_through_doorbell)
      bell_->assign(bell_fd_);
    } catch (...) {
      ::close(bell_fd_);
      throw;
    }
  }
  // The eventfd outlives the context's shutdown: a thread that found the
  // context running may still ring it then.
  ~doorbell() override { ::close(bell_fd_); }
  doorbell(const doorbell&) = delete;
  doorbell& operator=(const doorbell&) = delete;

  // After shutdown, `call` is dropped, unrun, as the context's own queue drops its own.
  void post(posted_call call) {
    enqueue([&] { calls_.push_back(std::move(call)); });
  }

 private:
  // Queues what `insert` adds; unless the wait is armed already (armed_ while
  // calls are queued: rung, not yet answered), arms it and rings.
  template <class Insert>
  void enqueue(Insert insert) {
    {
      std::scoped_lock lock(mutex_);
      if (shut_down_) return;
      insert();
      if (armed_ || calls_.empty()) return;
      arm();
    }
    ring();  // armed before the ring: the ring's edge always finds the wait
  }

  void arm() {
    armed_ = true;
    bell_->async_wait(boost::asio::posix::stream_descriptor::wait_read, [this](boost::system::error_code failed) {
      if (!failed) answer();
    });
  }

  // On the context's thread. The eventfd is emptied before the calls are
  // taken: a ring after that empties nothing and finds the wait armed again
  // (by whoever queues the next call).
  void answer() {
    std::vector<posted_call> calls;
    {
      std::scoped_lock lock(mutex_);
      armed_ = false;
      std::uint64_t rings = 0;
      while (::read(bell_fd_, &rings, sizeof rings) < 0 && errno == EINTR) {
      }
      calls.swap(calls_);
    }
    for (std::size_t i = 0; i < calls.size(); ++i) {
      try {
        calls[i]();
      } catch (...) {  // out of run() (Asio's executors hold a handler's own exception back): the rest stay queued
        queue_again(calls, i + 1);
        throw;
      }
    }
  }

  void queue_again(std::vector<posted_call>& calls, std::size_t from) {
    enqueue([&] {  // before any queued since: they came later
      calls_.insert(calls_.begin(), std::make_move_iterator(calls.begin() + static_cast<std::ptrdiff_t>(from)),
                    std::make_move_iterator(calls.end()));
    });
  }

  void ring() const {
    const std::uint64_t one = 1;
    while (::write(bell_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }

  void shutdown() override {
    std::vector<posted_call> dropped;
    std::scoped_lock lock(mutex_);
    shut_down_ = true;
    dropped.swap(calls_);
    // Out of the reactor, the eventfd kept open; the pending wait is
    // destroyed, unrun, by the scheduler's own shutdown.
    bell_->release();
    bell_.reset();
  }

  int bell_fd_;
  std::optional<boost::asio::posix::stream_descriptor> bell_;
  std::mutex mutex_;
  std::vector<posted_call> calls_;
  bool armed_ = false;
  bool shut_down_ = false;
};

template <class Context>
void post_through_doorbell(Context& context, posted_call call) {
  boost::asio::use_service<doorbell<Context>>(context).post(std::move(call));
}

}  // namespace

void post_from_elsewhere(const async_executor& io, posted_call call) {
  using io_executor = boost::asio::io_context::executor_type;
  using pool_executor = boost::asio::thread_pool::executor_type;
  const auto target = untracked(io);
  // Any thread of the context is where a call to the context's own executor runs.
  if (const auto* plain = target.target<io_executor>()) return post_through_doorbell(plain->context(), std::move(call));
  if (const auto* plain = target.target<pool_executor>()) return post_through_doorbell(plain->context(), std::move(call));
  // A strand's call goes onto the strand from the context's thread.
  auto onto_strand = [&] {
    return posted_call([target, call = std::move(call)]() mutable { boost::asio::dispatch(target, std::move(call)); });
  };
  if (const auto* strand = target.target<boost::asio::strand<io_executor>>()) {
    return post_through_doorbell(strand->get_inner_executor().context(), onto_strand());
  }
  if (const auto* strand = target.target<boost::asio::strand<pool_executor>>()) {
    return post_through_doorbell(strand->get_inner_executor().context(), onto_strand());
  }
  boost::asio::post(target, std::move(call));  // contexts with no reactor of ours: system_context, users' own
}

}  // namespace mproc::detail
