// The lazy feed of imap and imap_unordered: chunks made from the inputs as the
// results are read, at most `buffersize` in the pool at a time, each a job of
// its own (so a chunk's end, cancel and failure are a job's); or, for an
// in-order imap of plain values, windows of chunks, each a team job.
#include "pool_engine.hpp"

#include <map>

namespace mproc::detail {

// The chunks of an imap_unordered that finished, in the order they did, and
// the callbacks of asynchronous waits for the next one.
struct imap_feed::finished_list {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<job_state*> jobs;
  std::uint64_t last_id = 0;
  std::map<std::uint64_t, std::function<void()>> watchers;

  void add(job_state* done) {
    std::map<std::uint64_t, std::function<void()>> woken;
    {
      std::scoped_lock lock(mutex);
      jobs.push_back(done);
      woken.swap(watchers);
    }
    changed.notify_all();
    for (auto& [id, callback] : woken) callback();
  }
  // Runs `callback` when a chunk is there (at once, returning 0, if one is).
  std::uint64_t watch(std::function<void()> callback) {
    {
      std::scoped_lock lock(mutex);
      if (jobs.empty()) {
        watchers.emplace(++last_id, std::move(callback));
        return last_id;
      }
    }
    callback();
    return 0;
  }
  void forget(std::uint64_t id) {
    std::scoped_lock lock(mutex);
    watchers.erase(id);
  }
};

imap_feed::imap_feed(std::shared_ptr<pool_core> pool, producer next_chunk, std::size_t buffersize, bool in_order,
                     std::size_t total_items)
    : pool_(std::move(pool)),
      next_chunk_(std::move(next_chunk)),
      buffersize_(std::max<std::size_t>(buffersize, 1)),
      in_order_(in_order),
      finished_(std::make_shared<finished_list>()) {
  progress_->total = total_items;
  top_up(false);  // the pool starts at once, and a closed pool refuses the imap now, as Python's does
}

imap_feed::imap_feed(std::shared_ptr<pool_core> pool, window_producer next_window, std::size_t windows)
    : pool_(std::move(pool)),
      next_window_(std::move(next_window)),
      buffersize_(std::max<std::size_t>(windows, 1)),
      in_order_(true),
      finished_(std::make_shared<finished_list>()) {
  top_up(false);
}

imap_feed::~imap_feed() {
  for (auto& job : in_flight_) {
    if (job->cancel) job->cancel(*job);  // false for a chunk a worker has: it finishes unread
  }
}

// Refills the pool once half the buffer is used up, in one submission: a
// submission per chunk read would cost a lock and a dispatch per item. What
// fails here (an input that cannot be encoded, a pool joined meanwhile) is
// thrown once the chunks already in the pool have been read: none is lost.
void imap_feed::top_up(bool continuing) {
  if (next_window_) return top_up_windows(continuing);
  if (continuing && (exhausted_ || in_flight_.size() > buffersize_ / 2)) return;
  std::vector<std::string> chunks;
  std::vector<std::size_t> sizes;
  std::vector<std::shared_ptr<handle_outbox>> outboxes;
  std::vector<std::shared_ptr<job_state>> jobs;
  try {
    while (in_flight_.size() + chunks.size() < buffersize_) {
      std::string message;
      std::size_t items = 0;
      std::shared_ptr<handle_outbox> outbox;
      if (!next_chunk_(message, items, outbox)) {
        exhausted_ = true;
        break;
      }
      chunks.push_back(std::move(message));
      sizes.push_back(items);
      outboxes.push_back(std::move(outbox));
    }
    if (chunks.empty() && continuing) return;
    jobs = pool_->submit_each_chunk(std::move(chunks), std::move(sizes), outboxes, progress_, continuing);
  } catch (...) {
    for (const auto& made : outboxes) {
      if (made) made->started(-1);  // a second time is harmless
    }
    if (!continuing) throw;
    failure_ = std::current_exception();
    exhausted_ = true;
    return;
  }
  for (auto& job : jobs) {
    if (!in_order_) {
      when_job_done(*job, [finished = finished_, done = job.get()] { finished->add(done); });
    }
    in_flight_.push_back(std::move(job));
  }
}

// Windows are submitted one by one as the oldest is read: each is a single
// submission already.
void imap_feed::top_up_windows(bool continuing) {
  try {
    while (!exhausted_ && in_flight_.size() < buffersize_) {
      auto window = next_window_(continuing);
      if (!window) {
        exhausted_ = true;
        break;
      }
      in_flight_.push_back(std::move(window));
    }
  } catch (...) {
    if (!continuing) throw;
    failure_ = std::current_exception();
    exhausted_ = true;
  }
}

std::shared_ptr<job_state> imap_feed::next() {
  top_up();
  if (in_flight_.empty()) {
    if (failure_) std::rethrow_exception(failure_);
    return nullptr;
  }
  std::shared_ptr<job_state> job;
  if (in_order_) {
    job = std::move(in_flight_.front());
    in_flight_.pop_front();
  } else {
    job_state* done = nullptr;
    {
      std::unique_lock lock(finished_->mutex);
      finished_->changed.wait(lock, [&] { return !finished_->jobs.empty(); });
      done = finished_->jobs.front();
      finished_->jobs.pop_front();
    }
    auto found = std::find_if(in_flight_.begin(), in_flight_.end(), [&](const auto& j) { return j.get() == done; });
    job = std::move(*found);
    in_flight_.erase(found);
  }
  top_up();  // the pool works on while this chunk is read
  return job;
}

void imap_feed::async_wait_next(async_executor executor, async_handler<> done) {
  top_up();
  if (in_flight_.empty()) return post_completion(std::move(executor), std::move(done), nullptr);
  if (in_order_) return async_wait_for_job(in_flight_.front(), std::move(executor), std::move(done));
  callback_source source{[finished = finished_](std::function<void()> callback) { return finished->watch(std::move(callback)); },
                         [finished = finished_](std::uint64_t id) { finished->forget(id); }};
  async_wait_for_callback(std::move(source), std::move(executor), std::move(done),
                          "the wait for the next result of imap_unordered was cancelled");
}

}  // namespace mproc::detail
