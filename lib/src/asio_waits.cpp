// The compiled asynchronous waits behind the async_* calls that have no Asio
// I/O object to wait on: a pool's result (a callback the job runs when it is
// complete) and a change of a wake word in shared memory (queue items,
// semaphore units, an event's flag: the word watcher's threads sleep on it).
// No thread waits on behalf of one wait. Waits still pending when their
// io_context shuts down are dropped with it, so that nothing posts to a
// destroyed context later.
#include <mproc/detail/asio_waits.hpp>
#include <mproc/detail/pool_tasks.hpp>

#include "post_from_elsewhere.hpp"
#include "word_watcher.hpp"

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

class pending_waits;

// One pending wait: completed by whichever comes first, what it waits for, a
// cancellation or its context's shutdown; `finished` says one has.
struct pending_wait {
  virtual ~pending_wait() = default;
  /// Stops what would complete the wait (under no lock of ours).
  virtual void stop_waiting() noexcept = 0;

  std::mutex mutex;
  bool finished = false;
  async_executor work;  // tracked: the context's run() does not return while we wait
  async_handler<> done;
  pending_waits* registry = nullptr;
};

// The waits pending on one execution context (an Asio service of it).
class pending_waits final : public boost::asio::execution_context::service {
 public:
  static inline boost::asio::execution_context::id id;

  explicit pending_waits(boost::asio::execution_context& context) : service(context) {}

  void add(const std::shared_ptr<pending_wait>& wait) {
    std::scoped_lock lock(mutex_);
    waits_.insert(wait);
  }
  void remove(const std::shared_ptr<pending_wait>& wait) {
    std::scoped_lock lock(mutex_);
    waits_.erase(wait);
  }

 private:
  // The context is going away: its pending waits end without completing (as
  // Asio's own operations do), their handlers destroyed here.
  void shutdown() override {
    std::unordered_set<std::shared_ptr<pending_wait>> pending;
    {
      std::scoped_lock lock(mutex_);
      pending.swap(waits_);
    }
    for (const auto& wait : pending) {
      async_handler<> dropped;
      async_executor work;
      {
        std::scoped_lock lock(wait->mutex);
        if (wait->finished) continue;
        wait->finished = true;
        dropped.swap(wait->done);
        work = std::move(wait->work);
      }
      wait->stop_waiting();
    }
  }

  std::mutex mutex_;
  std::unordered_set<std::shared_ptr<pending_wait>> waits_;
};

void begin(const std::shared_ptr<pending_wait>& wait, const async_executor& executor, async_handler<>& done) {
  auto& context = boost::asio::query(executor, boost::asio::execution::context);
  wait->work = boost::asio::prefer(executor, boost::asio::execution::outstanding_work.tracked);
  wait->registry = &boost::asio::use_service<pending_waits>(context);
  wait->done.swap(done);
  wait->registry->add(wait);
}

}  // namespace

namespace {

// The completion: on the context's thread, `done(failure)` on the handler's
// own executor, looked up and used there, not shared with the thread that
// completes the wait (ThreadSanitizer cannot follow Asio's fenced reference
// counts). `io` is tracked: the context's run() goes on until it has run.
auto completion(async_executor io, async_handler<> done, std::exception_ptr failure) {
  return [done = std::move(done), io = std::move(io), failure]() mutable {
    auto slot = boost::asio::get_associated_cancellation_slot(done);
    if (slot.is_connected()) slot.clear();
    auto handler_executor = boost::asio::get_associated_executor(done, io);
    boost::asio::dispatch(handler_executor, [done = std::move(done), failure]() mutable { std::move(done)(failure); });
  };
}

}  // namespace

void post_completion(async_executor io, async_handler<> done, std::exception_ptr failure) {
  const auto target = untracked(io);
  boost::asio::post(target, completion(std::move(io), std::move(done), failure));
}

namespace {

// Completes the wait with `failure` (null: what it waited for is there),
// under its lock, which says it has not completed yet. Posted, never run here:
// this may be another thread, or the initiating call itself.
// `caller` says whether this is the context's thread (or the initiating call)
// or another thread (see post_from_elsewhere.hpp).
enum class caller { context, elsewhere };

void complete_locked(pending_wait& wait, const std::shared_ptr<pending_wait>& self, std::exception_ptr failure,
                     caller from) {
  wait.finished = true;
  // Under the wait's lock: the context cannot shut down between the caller's
  // check and this post (its shutdown takes this lock too).
  wait.registry->remove(self);
  if (from == caller::elsewhere) {
    const auto target = untracked(wait.work);  // before the work moves into the call
    post_from_elsewhere(target, posted_call(completion(std::move(wait.work), std::move(wait.done), failure)));
  } else {
    post_completion(std::move(wait.work), std::move(wait.done), failure);
  }
}

// Completes the wait unless it has completed; true if this call did.
bool finish(const std::shared_ptr<pending_wait>& wait, std::exception_ptr failure, caller from = caller::context) {
  std::scoped_lock lock(wait->mutex);
  if (wait->finished) return false;
  complete_locked(*wait, wait, failure, from);
  return true;
}

// Lets `done`'s cancellation slot (any cancellation type: giving up a wait
// changes nothing else) complete the wait.
template <class Wait>
void on_cancel(const std::shared_ptr<Wait>& wait, boost::asio::cancellation_slot slot, const char* what) {
  if (!slot.is_connected()) return;
  slot.assign([weak = std::weak_ptr<Wait>(wait), what](boost::asio::cancellation_type) {
    auto pending = weak.lock();
    if (pending && finish(pending, cancelled_wait(what))) pending->stop_waiting();
  });
}

// ---- a callback (a pool's result) ----

struct callback_wait final : pending_wait {
  callback_source source;
  std::uint64_t callback_id = 0;

  void stop_waiting() noexcept override {
    std::uint64_t callback = 0;
    {
      std::scoped_lock lock(mutex);
      callback = std::exchange(callback_id, 0);
    }
    if (callback != 0) source.forget(callback);
  }
};

// ---- a wake word ----

// True when the wait is over: `attempt` succeeded, or threw (`failure`).
bool attempt_once(const std::function<bool()>& attempt, std::exception_ptr& failure) {
  try {
    return attempt();
  } catch (...) {
    failure = std::current_exception();
    return true;
  }
}

// Tries `attempt` on the context's thread; when it finds nothing, holds a
// place among the word's sleepers and lets a watcher thread sleep on it.
struct word_wait final : pending_wait, std::enable_shared_from_this<word_wait> {
  wake_word* changes = nullptr;
  std::function<bool()> attempt;
  std::function<bool()> undo;
  std::uint64_t watch_id = 0;

  void stop_waiting() noexcept override {
    std::uint64_t id = 0;
    {
      std::scoped_lock lock(mutex);
      id = std::exchange(watch_id, 0);
    }
    if (id != 0) unwatch_word(id);
  }

  // On the context's thread (or in the initiating call).
  void try_now() {
    {
      std::scoped_lock lock(mutex);
      if (finished) return;
    }
    // The hold first, then the look: a change after the look wakes the hold.
    word_hold hold = hold_word(*changes);
    std::exception_ptr failure;
    if (attempt_once(attempt, failure)) {
      release_word(hold);
      finish(shared_from_this(), failure);
      return;
    }
    std::scoped_lock lock(mutex);
    if (finished) {  // cancelled from another thread meanwhile
      release_word(hold);
      return;
    }
    // The watcher thread never holds this wait (the last reference must not
    // be dropped there, after the waiter has moved on): it posts a weak one,
    // with its own copy of the context's executor.
    watch_id = watch_word(hold, [weak = weak_from_this(), io = work] {
      post_from_elsewhere(io, posted_call([weak] {
        if (auto self = weak.lock()) self->try_again();
      }));
    });
  }

  // A watch fired: on the context's thread.
  void try_again() {
    {
      std::scoped_lock lock(mutex);
      if (finished) return;
      watch_id = 0;
    }
    try_now();
  }
};

}  // namespace

void async_wait_for_callback(callback_source source, async_executor executor, async_handler<> done,
                             const char* what) {
  auto wait = std::make_shared<callback_wait>();
  wait->source = std::move(source);
  auto slot = boost::asio::get_associated_cancellation_slot(done);
  begin(wait, executor, done);
  on_cancel(wait, slot, what);
  const std::uint64_t id = wait->source.watch([weak = std::weak_ptr<callback_wait>(wait)] {
    if (auto pending = weak.lock()) finish(pending, nullptr, caller::elsewhere);
  });
  {
    std::scoped_lock lock(wait->mutex);
    if (!wait->finished) {
      wait->callback_id = id;
      return;
    }
  }
  if (id != 0) wait->source.forget(id);  // cancelled meanwhile, from another thread
}

void async_wait_for_job(std::shared_ptr<job_state> job, async_executor executor, async_handler<> done) {
  callback_source source{[job](std::function<void()> callback) { return when_job_done(*job, std::move(callback)); },
                         [job](std::uint64_t id) { forget_job_callback(*job, id); }};
  async_wait_for_callback(std::move(source), std::move(executor), std::move(done),
                          "the wait for a pool result was cancelled");
}

void async_attempt_until(wake_word& changes, std::function<bool()> attempt, async_executor executor,
                         async_handler<> done, const char* what, std::function<bool()> undo) {
  // What is there now is taken at once, with no pending wait (a busy queue's
  // usual case); the completion is still posted, never run in this call.
  std::exception_ptr failure;
  if (attempt_once(attempt, failure)) {
    post_completion(std::move(executor), std::move(done), failure);
    return;
  }
  auto wait = std::make_shared<word_wait>();
  wait->changes = &changes;
  wait->attempt = std::move(attempt);
  wait->undo = std::move(undo);
  auto slot = boost::asio::get_associated_cancellation_slot(done);
  begin(wait, executor, done);
  if (!wait->undo) {
    on_cancel(wait, slot, what);
  } else if (slot.is_connected()) {
    // Cancelled only if what starting the wait did can be taken back; else
    // the next attempt completes it (it will succeed or fail at once).
    slot.assign([weak = std::weak_ptr<word_wait>(wait), what](boost::asio::cancellation_type) {
      auto pending = weak.lock();
      if (!pending) return;
      {
        std::scoped_lock lock(pending->mutex);
        if (pending->finished) return;
      }
      if (pending->undo()) {
        if (finish(pending, cancelled_wait(what))) pending->stop_waiting();
      } else {
        pending->try_now();
      }
    });
  }
  wait->try_now();
}

}  // namespace mproc::detail
