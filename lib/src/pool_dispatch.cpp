// Handing tasks to workers (at most `depth` each, an idle worker taking back
// what waits behind a busy one), cancelling a job none of whose chunks finished, and
// finishing chunks: results, progress and callbacks.
#include "pool_engine.hpp"

namespace mproc::detail {

bool local_pool::state::give(std::size_t slot, std::uint64_t id) {
  auto& record = tasks.at(id);
  write_at(record.message, 0, id);
  auto& s = slots[slot];
  if (record.message.size() <= ring_bytes / 8) {
    if (!s.tasks.put(record.message, std::chrono::nanoseconds{0})) return false;
  } else {  // streams while the (idle) worker reads it; give up if it dies meanwhile
    while (!s.tasks.put(record.message, std::chrono::milliseconds(100))) {
      if (!s.worker || !s.worker->is_alive()) return false;
    }
  }
  s.held.push_back(id);
  return true;
}

void local_pool::state::dispatch() {
  give_pending();
  if (pending.empty() && steal_for_idle()) give_pending();
}

void local_pool::state::give_pending() {
  while (!pending.empty()) {
    const std::uint64_t id = pending.front();
    auto record = tasks.find(id);
    if (record == tasks.end()) {  // a share of a team job that ended meanwhile
      pending.pop_front();
      continue;
    }
    const bool large = record->second.message.size() > ring_bytes / 8;
    std::size_t best = slots.size();
    for (std::size_t i = 0; i < slots.size(); ++i) {
      const auto& s = slots[i];
      if (!s.worker || s.held.size() >= (large ? 1 : depth)) continue;
      if (best == slots.size() || s.held.size() < slots[best].held.size()) best = i;
    }
    if (best == slots.size() || !give(best, id)) return;
    pending.pop_front();
  }
}

bool local_pool::state::steal_for_idle() {
  bool stolen = false;
  for (auto& idle : slots) {
    if (!idle.worker || !idle.held.empty()) continue;
    for (auto& busy : slots) {
      if (&busy == &idle || busy.held.size() < 2) continue;
      const auto message = busy.tasks.get(std::chrono::nanoseconds{0});
      if (!message) continue;
      const auto id = read_at<std::uint64_t>(*message, 0);
      std::erase(busy.held, id);
      if (cancelled.contains(id)) {  // never to run; its job has failed already
        forget_skip(static_cast<std::size_t>(&busy - slots.data()), id);
        take_task(id, std::nullopt, nullptr);
        continue;
      }
      pending.push_front(id);
      stolen = true;
      break;
    }
  }
  return stolen;
}

bool local_pool::state::cancel_job(job_state& job) {
  std::vector<chunk_end> ends;
  {
    std::scoped_lock lock(mutex);
    std::set<std::uint64_t> ids;
    for (const auto& [id, record] : tasks) {
      if (record.job.get() != &job) continue;
      if (record.team != 0) return false;  // a team job's shares went out at once
      if (cancelled.contains(id)) return false;  // cancelled already
      ids.insert(id);
    }
    // every chunk still known: none finished
    if (ids.empty() || ids.size() != job.chunks) return false;
    std::set<std::uint64_t> waiting;
    for (const std::uint64_t id : pending) {
      if (ids.contains(id)) waiting.insert(id);
    }
    std::erase_if(pending, [&](std::uint64_t id) { return waiting.contains(id); });
    const auto not_started = std::make_exception_ptr(cancelled_error("the task was cancelled before it started"));
    for (const std::uint64_t id : waiting) ends.push_back(take_task(id, std::nullopt, not_started));
    // The others went to a worker: skipped if it has not started them, asked
    // to stop if it has (pool_watch.cpp). Their chunks fail now; what the
    // worker sends later is dropped.
    const auto went_out = std::make_exception_ptr(cancelled_error(
        "the task was cancelled after it went to a worker: it is skipped, or asked to stop "
        "(mproc::this_task::stop_requested()) and its worker replaced if it runs on past the pool's stop_grace"));
    for (std::size_t slot = 0; slot < slots.size(); ++slot) {
      for (const std::uint64_t id : slots[slot].held) {
        if (!ids.contains(id) || waiting.contains(id)) continue;
        cancelled.insert(id);
        skip_task(slot, id);
        const auto& record = tasks.at(id);
        ends.push_back({record.job, record.chunk, std::nullopt, went_out});
      }
    }
    watch_wait.wake();
  }
  finish(ends);
  return true;
}

void local_pool::state::skip_task(std::size_t slot, std::uint64_t id) {
  for (auto& entry : stamp_of(slot).skip) {
    std::uint64_t free = 0;
    if (entry.compare_exchange_strong(free, id)) return;
  }
  // All taken (cannot be: a worker holds at most depth tasks): the watch asks it to stop when it starts.
}

void local_pool::state::forget_skip(std::size_t slot, std::uint64_t id) {
  if (!cancelled.contains(id)) return;
  for (auto& entry : stamp_of(slot).skip) {
    std::uint64_t mine = id;
    entry.compare_exchange_strong(mine, 0);
  }
}

chunk_end local_pool::state::take_task(std::uint64_t id, std::optional<std::string> result, std::exception_ptr failure) {
  auto found = tasks.find(id);
  chunk_end end{found->second.job, found->second.chunk, std::move(result), std::move(failure)};
  tasks.erase(found);
  cancelled.erase(id);
  if (tasks.empty()) all_finished.notify_all();
  return end;
}

namespace {

// After a chunk (or a run of them) counted as finished under the job's lock:
// wakes its waiters and runs the callbacks taken (the job's, once complete).
void after_finishing(job_state& job, bool wake, std::vector<job_state::callback>& callbacks) {
  if (wake) job.changed.notify_all();
  if (callbacks.empty()) return;
  for (auto& callback : callbacks) guarded("a result callback", callback.run);
  {
    std::scoped_lock lock(job.mutex);
    job.running_callbacks = false;
  }
  job.changed.notify_all();
}

// Under the job's lock, after its chunks counted: what after_finishing needs.
bool settle(job_state& job, bool& wake, std::vector<job_state::callback>& callbacks) {
  const bool complete = job.complete();
  wake = complete || job.chunk_waiters > 0;
  if (complete) callbacks.swap(job.when_done);
  job.running_callbacks = !callbacks.empty();
  job.callbacks_thread = std::this_thread::get_id();
  return complete;
}

// A run of a team job's chunks that succeeded, with no progress to report.
bool finish_run(chunk_end& end) {
  job_state& job = *end.job;
  std::vector<job_state::callback> callbacks;
  bool wake = false;
  bool complete = false;
  {
    std::scoped_lock lock(job.mutex);
    for (std::size_t c = end.chunk; c < end.through; ++c) {
      if (job.results[c] || job.errors[c]) continue;  // finished already
      job.results[c] = std::string();
      ++job.finished;
      job.items_done += job.chunk_items[c];
      job.completion_order.push_back(c);
    }
    complete = settle(job, wake, callbacks);
  }
  after_finishing(job, wake, callbacks);
  return complete;
}

}  // namespace

bool finish_chunk(chunk_end& end, const progress_callback& progress) {
  if (end.through > end.chunk + 1) {
    if (!progress && !end.job->progress) return finish_run(end);
    bool complete = false;  // progress is told chunk by chunk
    for (std::size_t c = end.chunk; c < end.through; ++c) {
      chunk_end one{end.job, c, std::string(), nullptr};
      complete = finish_chunk(one, progress) || complete;
    }
    return complete;
  }
  job_state& job = *end.job;
  std::vector<job_state::callback> callbacks;
  std::size_t done = 0;
  std::size_t total = 0;
  bool complete = false;
  bool wake = false;
  bool moved = true;
  {
    std::scoped_lock lock(job.mutex);
    if (job.results[end.chunk] || job.errors[end.chunk]) return false;  // finished already
    done = job.items_done + job.chunk_items[end.chunk];
    total = job.items;
    if (job.progress) {
      const auto count = job.progress->chunk_finished(&job, end.chunk, job.chunk_items[end.chunk]);
      moved = count.has_value();  // its tasks' reports may have told it all
      done = count.value_or(0);
      total = job.progress->total;
    }
  }
  // Before the chunk counts as finished: whoever waits for the job sees
  // every progress call made by the time it returns.
  if (progress && moved) guarded("the progress callback", [&] { progress(done, total); });
  {
    std::scoped_lock lock(job.mutex);
    if (end.failure) {
      job.errors[end.chunk] = end.failure;
      if (!job.first_error) job.first_error = end.failure;
    } else {
      job.results[end.chunk] = std::move(end.result);
    }
    ++job.finished;
    job.items_done += job.chunk_items[end.chunk];
    job.completion_order.push_back(end.chunk);
    complete = settle(job, wake, callbacks);
  }
  after_finishing(job, wake, callbacks);
  return complete;
}

void local_pool::state::finish(std::vector<chunk_end>& ends) {
  for (auto& end : ends) {
    if (finish_chunk(end, options.progress)) release_outbox(*end.job);
  }
  ends.clear();
}

void local_pool::state::release_outbox(job_state& job) {
  std::shared_ptr<handle_outbox> outbox;
  {
    std::scoped_lock lock(mutex);
    auto found = outboxes.find(&job);
    if (found == outboxes.end()) return;
    outbox = std::move(found->second);
    outboxes.erase(found);
  }
  outbox->started(-1);  // frees what the encoding reserved in shared memory
}

std::optional<std::size_t> progress_share::chunk_finished(const void* job, std::size_t chunk, std::size_t items) {
  std::scoped_lock lock(mutex_);
  if (auto found = reported_.find({job, chunk}); found != reported_.end()) {
    running_ -= found->second;
    reported_.erase(found);
  }
  finished_ += items;
  return show();
}

std::optional<std::size_t> progress_share::chunk_reported(const void* job, std::size_t chunk, std::size_t items,
                                                          std::size_t done, std::size_t of) {
  std::scoped_lock lock(mutex_);
  const auto worth = of == 0 ? std::size_t{0}
                             : static_cast<std::size_t>(static_cast<long double>(items) * std::min(done, of) / of);
  auto& before = reported_[{job, chunk}];
  running_ = running_ - before + worth;
  before = worth;
  return show();
}

std::optional<std::size_t> progress_share::show() {
  if (finished_ + running_ <= shown_) return std::nullopt;
  shown_ = finished_ + running_;
  return shown_;
}

}  // namespace mproc::detail
