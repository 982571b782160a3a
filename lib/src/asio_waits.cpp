// Asynchronous waits on a pool's results: a callback registered with the job
// completes the waiting handler, so no thread waits on its behalf. Waits still
// pending when their io_context shuts down are dropped with it, so that a job
// finishing later does not post to a destroyed context.
#include <mproc/detail/asio_waits.hpp>
#include <mproc/detail/pool_tasks.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/system/system_error.hpp>

#include <mutex>
#include <unordered_set>
#include <utility>

// Boost 1.81's any_completion_handler recurses without end in its move
// assignment (it copies from an lvalue into its converting constructor): we
// swap handlers, never assign them.

namespace mproc::detail {

std::exception_ptr cancelled_wait(const char* what) {
  return std::make_exception_ptr(boost::system::system_error(boost::asio::error::operation_aborted, what));
}

namespace {

class pending_job_waits;

// One async_get: completed by whichever comes first, the job, a cancellation
// or its context's shutdown; `finished` says one has.
struct job_wait {
  std::mutex mutex;
  bool finished = false;
  std::shared_ptr<job_state> job;
  std::uint64_t callback_id = 0;
  async_executor work;  // tracked: the context's run() does not return while we wait
  async_handler<> done;
  pending_job_waits* registry = nullptr;
};

// The waits pending on one execution context (an Asio service of it).
class pending_job_waits final : public boost::asio::execution_context::service {
 public:
  static inline boost::asio::execution_context::id id;

  explicit pending_job_waits(boost::asio::execution_context& context) : service(context) {}

  void add(const std::shared_ptr<job_wait>& wait) {
    std::scoped_lock lock(mutex_);
    waits_.insert(wait);
  }
  void remove(const std::shared_ptr<job_wait>& wait) {
    std::scoped_lock lock(mutex_);
    waits_.erase(wait);
  }

 private:
  // The context is going away: its pending waits end without completing (as
  // Asio's own operations do), their handlers destroyed here.
  void shutdown() override {
    std::unordered_set<std::shared_ptr<job_wait>> pending;
    {
      std::scoped_lock lock(mutex_);
      pending.swap(waits_);
    }
    for (const auto& wait : pending) {
      std::uint64_t callback = 0;
      async_handler<> dropped;
      async_executor work;
      {
        std::scoped_lock lock(wait->mutex);
        if (wait->finished) continue;
        wait->finished = true;
        callback = std::exchange(wait->callback_id, 0);
        dropped.swap(wait->done);
        work = std::move(wait->work);
      }
      forget_job_callback(*wait->job, callback);
    }
  }

  std::mutex mutex_;
  std::unordered_set<std::shared_ptr<job_wait>> waits_;
};

// Completes the wait with `failure` (null: the job is complete) unless it has
// completed already. Posted, never run here: this may be the pool's thread, or
// the initiating call itself.
void finish(const std::shared_ptr<job_wait>& wait, std::exception_ptr failure) {
  std::uint64_t callback = 0;
  {
    std::scoped_lock lock(wait->mutex);
    if (wait->finished) return;
    wait->finished = true;
    callback = std::exchange(wait->callback_id, 0);
    // Under the wait's lock: the context cannot shut down between the check
    // above and this post (its shutdown takes this lock too).
    wait->registry->remove(wait);
    // Onto the context's thread first: the handler's own executor (a
    // coroutine's, a strand) is looked up and used there, not shared with
    // this thread (ThreadSanitizer cannot follow Asio's fenced reference counts).
    auto io = wait->work;
    boost::asio::post(io, [done = std::move(wait->done), work = std::move(wait->work), failure]() mutable {
      auto slot = boost::asio::get_associated_cancellation_slot(done);
      if (slot.is_connected()) slot.clear();
      auto handler_executor = boost::asio::get_associated_executor(done, work);
      boost::asio::dispatch(handler_executor, [done = std::move(done), failure]() mutable { std::move(done)(failure); });
    });
  }
  if (failure) forget_job_callback(*wait->job, callback);  // cancelled: the job goes on without us
}

}  // namespace

void async_wait_for_job(std::shared_ptr<job_state> job, async_executor executor, async_handler<> done) {
  auto& context = boost::asio::query(executor, boost::asio::execution::context);
  auto wait = std::make_shared<job_wait>();
  wait->job = std::move(job);
  wait->work = boost::asio::prefer(executor, boost::asio::execution::outstanding_work.tracked);
  wait->registry = &boost::asio::use_service<pending_job_waits>(context);
  auto slot = boost::asio::get_associated_cancellation_slot(done);
  wait->done.swap(done);
  wait->registry->add(wait);
  if (slot.is_connected()) {
    // Any cancellation type: giving up a wait on a result changes nothing else.
    slot.assign([weak = std::weak_ptr<job_wait>(wait)](boost::asio::cancellation_type) {
      if (auto pending = weak.lock()) finish(pending, cancelled_wait("the wait for a pool result was cancelled"));
    });
  }
  const std::uint64_t id = when_job_done(*wait->job, [weak = std::weak_ptr<job_wait>(wait)] {
    if (auto pending = weak.lock()) finish(pending, nullptr);
  });
  {
    std::scoped_lock lock(wait->mutex);
    if (!wait->finished) {
      wait->callback_id = id;
      return;
    }
  }
  forget_job_callback(*wait->job, id);  // cancelled meanwhile, from another thread
}

}  // namespace mproc::detail
