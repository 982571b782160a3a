// What pool.hpp's templates and pool_core call: jobs' results, task heads,
// and the pool's life (made, given jobs, closed, joined, terminated). The
// engine behind it is described in pool_engine.hpp.
#include "pool_engine.hpp"

namespace mproc::detail {

// ---- what pool.hpp's templates call ----

void write_error(std::string& out, std::string_view text) { out.append(text); }

std::string_view chunk_bytes(job_state& job, std::size_t chunk) {
  std::unique_lock lock(job.mutex);
  job.wait_for_chunk(lock, [&] { return job.results[chunk].has_value() || job.errors[chunk] != nullptr; });
  if (job.errors[chunk]) std::rethrow_exception(job.errors[chunk]);
  return *job.results[chunk];  // set once, never changed: safe to read without the lock
}

bool wait_for_job(job_state& job, std::optional<std::chrono::nanoseconds> timeout) {
  std::unique_lock lock(job.mutex);
  if (!timeout) {
    job.changed.wait(lock, [&] { return job.settled(); });
    return true;
  }
  return job.changed.wait_for(lock, *timeout, [&] { return job.settled(); });
}

std::uint64_t when_job_done(job_state& job, std::function<void()> callback) {
  {
    std::scoped_lock lock(job.mutex);
    if (!job.complete()) {
      job.when_done.push_back({++job.last_callback_id, std::move(callback)});
      return job.last_callback_id;
    }
  }
  callback();
  return 0;
}

void forget_job_callback(job_state& job, std::uint64_t id) noexcept {
  if (id == 0) return;
  std::function<void()> dropped;  // destroyed after the lock: it may own the last handle on anything
  std::scoped_lock lock(job.mutex);
  auto found = std::find_if(job.when_done.begin(), job.when_done.end(), [&](const auto& c) { return c.id == id; });
  if (found == job.when_done.end()) return;  // run, or running now
  dropped = std::move(found->run);
  job.when_done.erase(found);
}

const std::string& task_head(std::uintptr_t entry, std::uintptr_t target) {
  static auto* guard = new std::mutex();  // never destroyed: tasks may be sent from exit handlers
  static auto* heads = new std::map<std::pair<std::uintptr_t, std::uintptr_t>, std::string>();
  std::scoped_lock lock(*guard);
  auto found = heads->find({entry, target});
  if (found != heads->end()) return found->second;
  std::string head;
  {
    byte_output_archive out(head);
    out(locate_code(entry), target != 0);
    if (target != 0) out(locate_code(target));
  }
  return heads->emplace(std::pair{entry, target}, std::move(head)).first->second;
}

std::shared_ptr<handle_outbox> encoding_outbox() { return std::make_shared<handle_outbox>(); }

void check_encoded(const handle_outbox& outbox) {
  if (!outbox.handles().empty()) {
    const_cast<handle_outbox&>(outbox).started(-1);
    throw serialization_error(
        "a connection cannot be a pool task's argument: pass it to the workers with mproc::initializer, or "
        "use a queue");
  }
}

std::size_t automatic_chunksize(std::size_t items, std::size_t workers) noexcept {
  const std::size_t parts = std::max<std::size_t>(workers, 1) * 4;
  return std::max<std::size_t>(1, items / parts + (items % parts != 0 ? 1 : 0));
}


namespace {

// The pools alive in this process. A program that calls exit() with a pool
// still alive (its destructor never runs) would otherwise leave the pool's
// threads replacing workers while the program ends: they are ended first.
struct live_pools {
  std::mutex mutex;
  std::set<pool_core*> pools;
  int owner = 0;  // the pid that registered the exit handler (forked children inherit both)
};

live_pools& pools_alive() {
  static auto* made = new live_pools();  // never destroyed: the exit handler uses it
  return *made;
}

void terminate_live_pools() {
  auto& live = pools_alive();
  // A forked child inherits this handler and its parent's pools, which are
  // not its own (and whose lock another thread may have held at the fork).
  if (live.owner != current_pid()) return;
  std::set<pool_core*> pools;
  {
    std::scoped_lock lock(live.mutex);
    pools.swap(live.pools);
  }
  for (auto* pool : pools) pool->terminate();
}

void register_live_pool(pool_core* pool) {
  auto& live = pools_alive();
  std::scoped_lock lock(live.mutex);
  if (live.owner != current_pid()) {  // first pool of this process (a forked child inherits a stale set)
    live.pools.clear();
    live.owner = current_pid();
    std::atexit(terminate_live_pools);
  }
  live.pools.insert(pool);
}

void forget_live_pool(pool_core* pool) {
  auto& live = pools_alive();
  std::scoped_lock lock(live.mutex);
  live.pools.erase(pool);
}

}  // namespace

std::shared_ptr<pool_core> make_local_pool(pool_options options) {
  return std::make_shared<local_pool>(std::move(options));
}

local_pool::local_pool(pool_options options) : state_(std::make_unique<state>()) {
  auto& st = *state_;
  st.gate->pool = &st;
  if (options.processes < 0 || static_cast<std::size_t>(options.processes) > state::max_processes) {
    throw error("a pool needs between 1 and " + std::to_string(state::max_processes) + " processes (0: cpu_count()), not " +
                std::to_string(options.processes));
  }
  if (options.stop_grace < std::chrono::nanoseconds{0}) {
    throw error("a pool's stop_grace cannot be negative (zero: a task asked to stop has its worker killed at once)");
  }
  st.size = options.processes == 0 ? cpu_count() : static_cast<std::size_t>(options.processes);
  st.options = std::move(options);
  st.stamps = shared_memory::create(sizeof(task_stamp) * st.size);
  st.slots.resize(st.size);
  try {
    for (std::size_t i = 0; i < st.size; ++i) {
      st.slots[i].tasks = byte_queue(0, state::ring_bytes);
      st.slots[i].tasks.set_inherited_by_fork(false);
      st.start_worker(i);
    }
  } catch (...) {
    for (auto& s : st.slots) {
      if (s.worker) {
        s.worker->kill();
        s.worker->join();
      }
    }
    throw;
  }
  st.result_thread = std::thread([&st] { st.run_results(); });
  st.watch_thread = std::thread([&st] { st.run_watch(); });
  register_live_pool(this);
}

local_pool::~local_pool() {
  {
    std::scoped_lock hold(state_->gate->mutex);
    state_->gate->pool = nullptr;
  }
  forget_live_pool(this);
  if (!state_->joined) terminate();
}

namespace {

std::shared_ptr<job_state> new_job(const std::vector<std::size_t>& chunk_items) {
  auto job = std::make_shared<job_state>();
  job->chunks = chunk_items.size();
  job->chunk_items = chunk_items;
  for (const std::size_t n : job->chunk_items) job->items += n;
  job->results.resize(job->chunks);
  job->errors.resize(job->chunks);
  return job;
}

}  // namespace

// Under the lock: throws (freeing what `outboxes` reserved) if the pool takes
// no more work.
void local_pool::state::check_open(bool continuing, const std::vector<std::shared_ptr<handle_outbox>>& outboxes) {
  const bool refused = closed && (!continuing || terminated || stopping || joined);
  if (!refused && broken.empty()) return;
  for (const auto& outbox : outboxes) outbox->started(-1);
  if (!refused) throw error(broken);
  throw closed_error(terminated ? "the pool was terminated: it takes no more tasks"
                                : "the pool is closed: it takes no more tasks");
}

// Under the lock: the job's chunks wait for a worker.
void local_pool::state::queue_job(const std::shared_ptr<job_state>& job, std::vector<std::string> chunks,
                                 std::optional<std::chrono::nanoseconds> timeout,
                                 std::shared_ptr<handle_outbox> outbox) {
  outboxes.emplace(job.get(), std::move(outbox));
  job->cancel = through_gate(gate, &state::cancel_job);
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    const std::uint64_t id = next_task++;
    tasks.emplace(id, task_record{job, i, std::move(chunks[i]), timeout ? timeout : options.task_timeout});
    pending.push_back(id);
  }
}

std::shared_ptr<job_state> local_pool::submit(std::vector<std::string> chunks, std::vector<std::size_t> chunk_items,
                                             std::optional<std::chrono::nanoseconds> timeout,
                                             std::shared_ptr<handle_outbox> outbox, bool continuing) {
  auto& st = *state_;
  auto job = new_job(chunk_items);
  // Its tasks' reports add up in items (those of a call of one task go straight to the callback).
  if (st.options.progress && job->items > 1) job->progress = std::make_shared<progress_share>(job->items);
  std::scoped_lock lock(st.mutex);
  st.check_open(continuing, {outbox});
  if (job->chunks == 0) {
    outbox->started(-1);
    return job;
  }
  st.queue_job(job, std::move(chunks), timeout, std::move(outbox));
  st.dispatch();
  return job;
}

std::vector<std::shared_ptr<job_state>> local_pool::submit_each_chunk(
    std::vector<std::string> chunks, std::vector<std::size_t> chunk_items,
    std::vector<std::shared_ptr<handle_outbox>> outboxes, std::shared_ptr<progress_share> progress, bool continuing) {
  auto& st = *state_;
  std::vector<std::shared_ptr<job_state>> jobs;
  for (const std::size_t n : chunk_items) {
    jobs.push_back(new_job({n}));
    jobs.back()->progress = progress;
  }
  std::scoped_lock lock(st.mutex);
  st.check_open(continuing, outboxes);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    std::vector<std::string> one;
    one.push_back(std::move(chunks[i]));
    st.queue_job(jobs[i], std::move(one), std::nullopt, std::move(outboxes[i]));
  }
  st.dispatch();
  return jobs;
}

bool local_pool::takes_team_jobs() const noexcept { return !state_->options.progress; }

void local_pool::close() {
  std::scoped_lock lock(state_->mutex);
  state_->closed = true;
}

void local_pool::join() {
  auto& st = *state_;
  std::vector<process> workers;
  {
    std::unique_lock lock(st.mutex);
    if (!st.closed) throw error("join() needs close() or terminate() first");
    if (st.joined) return;
    st.all_finished.wait(lock, [&] { return st.tasks.empty(); });
  }
  st.stop_threads();
  {
    std::scoped_lock lock(st.mutex);
    for (auto& s : st.slots) {
      s.tasks.close();  // an idle worker's get() ends: it exits
      if (s.worker) workers.push_back(std::move(*s.worker));
      s.worker.reset();
    }
    st.joined = true;
  }
  for (auto& worker : workers) {
    if (!worker.join(std::chrono::seconds(5))) {
      worker.kill();
      worker.join();
    }
  }
}

void local_pool::terminate() {
  auto& st = *state_;
  std::vector<process> workers;
  std::vector<chunk_end> ends;
  {
    std::scoped_lock lock(st.mutex);
    if (st.joined) return;
    st.closed = st.terminated = true;
    st.fail_everything(std::make_exception_ptr(closed_error("the pool was terminated before the task finished")),
                       ends);
    for (auto& s : st.slots) {
      if (s.worker) workers.push_back(std::move(*s.worker));
      s.worker.reset();
    }
  }
  for (auto& worker : workers) worker.terminate();
  const auto grace_end = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  for (auto& worker : workers) {
    const auto left = grace_end - std::chrono::steady_clock::now();
    if (!worker.join(std::max(left, decltype(left)::zero()))) {
      worker.kill();
      worker.join();
    }
  }
  st.stop_threads();
  st.finish(ends);
  std::scoped_lock lock(st.mutex);
  st.joined = true;
}

std::size_t local_pool::processes() const noexcept { return state_->size; }

std::vector<int> local_pool::worker_pids() const {
  std::scoped_lock lock(state_->mutex);
  std::vector<int> pids;
  for (const auto& s : state_->slots) {
    if (s.worker) pids.push_back(s.worker->pid());
  }
  return pids;
}

}  // namespace mproc::detail
