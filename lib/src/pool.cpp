// The pool's engine. Each worker has a task queue of its own and all share one
// result queue (both mproc queues: byte rings in shared memory). The parent
// gives each worker at most `depth` tasks at a time, so it always knows which
// tasks a worker holds. Two threads of the pool run in the parent:
//  - the result thread takes results, and notices of dead workers, from the
//    result queue, finishes the tasks, and hands out the next ones;
//  - the watch thread polls the workers' sentinels (pidfds), and posts a
//    notice in the result queue the moment a worker ends, so that notices
//    come after every result that worker put. It also kills a worker whose
//    task ran over its time.
// When a worker dies, what is still in its task queue was never taken: those
// tasks go to its replacement. The task it had taken fails (worker_lost_error
// or timeout_error), or runs again once if retry_lost_tasks is set.
#include <mproc/pool.hpp>

#include "child_handle.hpp"
#include "launch.hpp"
#include "pool_wire.hpp"
#include "remote_failure.hpp"
#include "sentinel_wait.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <iostream>
#include <map>
#include <set>
#include <thread>
#include <unordered_map>

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

void when_job_done(job_state& job, std::function<void()> callback) {
  {
    std::scoped_lock lock(job.mutex);
    if (!job.complete()) {
      job.when_done.push_back(std::move(callback));
      return;
    }
  }
  callback();
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

// ---- the engine ----

namespace {

constexpr std::size_t depth = 16;  // tasks a worker holds at most; an idle worker takes queued ones back
constexpr std::size_t max_processes = 4096;
constexpr std::size_t ring_bytes = std::size_t{4} << 20;
// A pool gives up after this many workers in a row failed to start: ended
// (exit code, crash) before their start-up was done. Workers killed from
// outside (SIGKILL, SIGTERM) before it was done may be an OOM killer or a
// chaos test, not a broken start-up: they count against a larger limit.
constexpr int startup_deaths_to_give_up = 3;
constexpr int startup_kills_to_give_up = 100;

struct task_record {
  std::shared_ptr<job_state> job;
  std::size_t chunk = 0;
  std::string message;
  std::optional<std::chrono::nanoseconds> timeout;
  bool retried = false;
  std::uint64_t team = 0;  // not 0: a worker's share of this team job
};

struct team_job {
  std::shared_ptr<job_state> job;
  shared_memory arena;
  std::string share;  // the message a worker gets for its share
  std::optional<std::chrono::nanoseconds> timeout;
  std::vector<std::exception_ptr> errors;  // each chunk's, once it failed
  std::set<std::uint64_t> retried;        // chunks given back once after a death

  std::uint32_t tag = 0;  // in every state word of this job

  team_layout& layout() const { return *reinterpret_cast<team_layout*>(arena.bytes().data()); }
  chunk_word* states() const { return reinterpret_cast<chunk_word*>(arena.bytes().data() + layout().states_at); }
  std::uint32_t state(std::uint64_t chunk) const { return state_of(states()[chunk].load()); }
  void set_state(std::uint64_t chunk, std::uint32_t state) const { states()[chunk].store(word(tag, state)); }
  bool has_free_chunks() const {
    for (std::uint64_t c = 0; c < layout().chunks; ++c) {
      if (state(c) == 0 || state(c) == team_returned) return true;
    }
    return false;
  }
};

constexpr std::size_t align64(std::size_t n) { return (n + 63) & ~std::size_t{63}; }

struct slot_state {
  byte_queue tasks;
  std::optional<process> worker;
  std::uint64_t generation = 0;
  std::deque<std::uint64_t> held;  // task ids given, not yet finished
  std::uint64_t finished_since_start = 0;
  std::uint64_t timed_out_task = 0;
};

// A chunk's end, applied to its job outside the pool's lock.
struct chunk_end {
  std::shared_ptr<job_state> job;
  std::size_t chunk = 0;
  std::optional<std::string> result;
  std::exception_ptr failure;
};

std::exception_ptr failure_of(task_status status, std::string_view payload) {
  switch (status) {
    case task_status::raised:
      return remote_failure(payload);
    case task_status::unserialisable_result:
    case task_status::undecodable_task:
      return std::make_exception_ptr(serialization_error(std::string(payload)));
    case task_status::done:
      break;
  }
  return nullptr;
}

}  // namespace

// What a job's cancel() reaches the pool through: cleared when the pool goes,
// so that a result kept after its pool cannot reach a dead one. Recursive: a
// callback run by a cancel may cancel another job.
struct cancel_gate {
  std::recursive_mutex mutex;
  pool_core::state* pool = nullptr;
};

struct pool_core::state {
  pool_options options;
  std::shared_ptr<cancel_gate> gate = std::make_shared<cancel_gate>();
  std::size_t size = 0;
  byte_queue results{0, ring_bytes};
  shared_memory stamps;
  mutable std::mutex mutex;
  std::condition_variable all_finished;
  std::vector<slot_state> slots;
  std::unordered_map<std::uint64_t, task_record> tasks;  // given to the pool, not finished
  std::deque<std::uint64_t> pending;                     // not given to a worker yet
  std::unordered_map<job_state*, std::shared_ptr<handle_outbox>> outboxes;
  std::unordered_map<std::uint64_t, team_job> teams;
  std::vector<std::pair<shared_memory, std::weak_ptr<job_state>>> spare_arenas;
  std::uint64_t next_task = 1;
  std::uint64_t workers_started = 0;
  int startup_deaths = 0;
  int startup_kills = 0;
  std::string broken;  // why the pool gave up, if it did
  bool closed = false;
  bool stopping = false;
  bool terminated = false;
  bool joined = false;
  sentinel_wait watch_wait;
  std::thread result_thread;
  std::thread watch_thread;

  // -- workers --

  void start_worker(std::size_t slot) {
    worker_links links{slots[slot].tasks, results, stamps, static_cast<std::uint32_t>(slot),
                       options.maxtasksperchild};
    process_options how;
    how.name = "PoolWorker-" + std::to_string(++workers_started);
    how.daemon = true;
    how.method = options.method;
    process worker = options.initializer ? options.initializer(how, std::move(links))
                                         : process(how, &pool_worker, std::move(links));
    stamp_of(slot).ready.store(0);
    // Only this worker's fork takes its task queue along (see set_inherited_by_fork).
    slots[slot].tasks.set_inherited_by_fork(true);
    struct not_inherited_after {
      byte_queue& tasks;
      ~not_inherited_after() { tasks.set_inherited_by_fork(false); }
    } restore{slots[slot].tasks};
    worker.start();
    slots[slot].worker = std::move(worker);
    slots[slot].finished_since_start = 0;
    slots[slot].timed_out_task = 0;
    ++slots[slot].generation;
    watch_wait.wake();
  }

  task_stamp& stamp_of(std::size_t slot) const { return reinterpret_cast<task_stamp*>(stamps.bytes().data())[slot]; }

  // -- handing out tasks (under the lock) --

  bool give(std::size_t slot, std::uint64_t id) {
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

  void dispatch() {
    give_pending();
    if (pending.empty() && steal_for_idle()) give_pending();
  }

  void give_pending() {
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

  // A worker with nothing to do takes back a task queued behind a busy
  // worker's running one (the parent is a consumer of every task queue too),
  // as a shared queue would have given it: a long task does not hold up the
  // short ones queued after it.
  bool steal_for_idle() {
    bool stolen = false;
    for (auto& idle : slots) {
      if (!idle.worker || !idle.held.empty()) continue;
      for (auto& busy : slots) {
        if (&busy == &idle || busy.held.size() < 2) continue;
        const auto message = busy.tasks.get(std::chrono::nanoseconds{0});
        if (!message) continue;
        const auto id = read_at<std::uint64_t>(*message, 0);
        std::erase(busy.held, id);
        pending.push_front(id);
        stolen = true;
        break;
      }
    }
    return stolen;
  }

  // -- team jobs (under the lock) --

  shared_memory arena_for(std::size_t bytes) {
    for (auto it = spare_arenas.begin(); it != spare_arenas.end(); ++it) {
      const std::size_t size = it->first.size();
      if (it->second.expired() && size >= bytes && size <= 4 * bytes + (1 << 20)) {
        shared_memory reused = std::move(it->first);
        spare_arenas.erase(it);
        return reused;
      }
    }
    return shared_memory::create(bytes);
  }

  void give_share(std::uint64_t team, team_job& t, std::optional<std::size_t> slot) {
    const std::uint64_t id = next_task++;
    tasks.emplace(id, task_record{t.job, 0, t.share, t.timeout, false, team});
    if (!slot || !give(*slot, id)) pending.push_back(id);
  }

  // A team job is complete once no chunk is free or held by a live worker.
  void check_team(std::uint64_t team, std::vector<chunk_end>& ends) {
    auto found = teams.find(team);
    if (found == teams.end()) return;
    team_job& t = found->second;
    const std::uint64_t chunks = t.layout().chunks;
    for (std::uint64_t c = 0; c < chunks; ++c) {
      const std::uint32_t state = t.state(c);
      if (state != team_done && state != team_failed) return;
      // A chunk is marked failed before its error message comes (another
      // worker's end of share can come first): wait for the message.
      if (state == team_failed && !t.errors[c]) return;
    }
    for (std::uint64_t c = 0; c < chunks; ++c) {
      if (t.state(c) == team_done) {
        ends.push_back({t.job, c, std::string(), nullptr});
      } else {
        auto failure = t.errors[c] ? t.errors[c] : std::make_exception_ptr(error("the task failed"));
        ends.push_back({t.job, c, std::nullopt, failure});
      }
    }
    for (auto it = tasks.begin(); it != tasks.end();) {  // shares not run yet: nothing left for them
      it = it->second.team == team ? tasks.erase(it) : std::next(it);
    }
    if (spare_arenas.size() >= 2) spare_arenas.erase(spare_arenas.begin());
    spare_arenas.emplace_back(t.arena, t.job);  // reused once the results are read and gone
    teams.erase(found);
    if (tasks.empty()) all_finished.notify_all();
  }

  // The chunks a dead worker held fail (or are given back once); whatever is
  // free again goes to the worker that replaces it.
  void team_worker_died(std::uint64_t share, std::uint32_t slot, int pid, int code, const std::string& name,
                        bool timed_out) {
    auto record = tasks.find(share);
    if (record == tasks.end()) return;
    const std::uint64_t team = record->second.team;
    tasks.erase(record);
    auto found = teams.find(team);
    if (found == teams.end()) return;
    team_job& t = found->second;
    for (std::uint64_t c = 0; c < t.layout().chunks; ++c) {
      if (t.state(c) != slot + 1) continue;
      if (timed_out) {
        t.errors[c] = std::make_exception_ptr(timeout_error(
            "the task ran longer than its timeout; its worker (pid " + std::to_string(pid) + ") was killed and replaced"));
        t.set_state(c, team_failed);
      } else if (options.retry_lost_tasks && !t.retried.contains(c)) {
        // Marked as given back, not as free: workers claim such chunks before
        // any new one, so the retry runs now, not after all the others
        // (where the next kill would find it).
        t.retried.insert(c);
        t.layout().returned.fetch_add(1);
        t.set_state(c, team_returned);
      } else {
        t.errors[c] = std::make_exception_ptr(worker_lost_error(
            pid, code, "the pool worker " + name + " (pid " + std::to_string(pid) + ") running the task " +
                           describe_end(code)));
        t.set_state(c, team_failed);
      }
    }
  }

  // Every task not finished fails with `failure`: a team job's chunks, not
  // its shares. Under the lock.
  void fail_everything(const std::exception_ptr& failure, std::vector<chunk_end>& ends) {
    for (auto& [id, record] : tasks) {
      if (record.team == 0) ends.push_back({record.job, record.chunk, std::nullopt, failure});
    }
    for (auto& [id, team] : teams) {
      for (std::size_t c = 0; c < team.job->chunks; ++c) ends.push_back({team.job, c, std::nullopt, failure});
    }
    teams.clear();
    tasks.clear();
    pending.clear();
    for (auto& s : slots) s.held.clear();
    all_finished.notify_all();
  }

  // -- cancelling a job no worker has started --

  bool cancel_job(job_state& job) {
    std::vector<chunk_end> ends;
    {
      std::scoped_lock lock(mutex);
      std::set<std::uint64_t> ids;
      for (const auto& [id, record] : tasks) {
        if (record.job.get() != &job) continue;
        if (record.team != 0) return false;  // a team job's shares went out at once
        ids.insert(id);
      }
      // every chunk still known and none given out: none started, none finished
      if (ids.empty() || ids.size() != job.chunks) return false;
      std::size_t waiting = 0;
      for (const std::uint64_t id : pending) waiting += ids.count(id);
      if (waiting != ids.size()) return false;
      std::erase_if(pending, [&](std::uint64_t id) { return ids.count(id) != 0; });
      const auto cancelled = std::make_exception_ptr(cancelled_error("the task was cancelled before it started"));
      for (const std::uint64_t id : ids) ends.push_back(take_task(id, std::nullopt, cancelled));
    }
    finish(ends);
    return true;
  }

  // -- finishing chunks --

  chunk_end take_task(std::uint64_t id, std::optional<std::string> result, std::exception_ptr failure) {
    auto found = tasks.find(id);
    chunk_end end{found->second.job, found->second.chunk, std::move(result), std::move(failure)};
    tasks.erase(found);
    if (tasks.empty()) all_finished.notify_all();
    return end;
  }

  void finish(std::vector<chunk_end>& ends) {
    for (auto& end : ends) {
      job_state& job = *end.job;
      std::vector<std::function<void()>> callbacks;
      std::size_t done = 0;
      std::size_t total = 0;
      bool complete = false;
      bool wake = false;
      {
        std::scoped_lock lock(job.mutex);
        if (job.results[end.chunk] || job.errors[end.chunk]) continue;  // finished already
        done = job.items_done + job.chunk_items[end.chunk];
        total = job.items;
      }
      // Before the chunk counts as finished: whoever waits for the job sees
      // every progress call made by the time it returns.
      if (options.progress) guarded("the progress callback", [&] { options.progress(done, total); });
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
        complete = job.complete();
        wake = complete || job.chunk_waiters > 0;
        if (complete) callbacks.swap(job.when_done);
        job.running_callbacks = !callbacks.empty();
        job.callbacks_thread = std::this_thread::get_id();
      }
      if (wake) job.changed.notify_all();
      if (!callbacks.empty()) {
        for (auto& callback : callbacks) guarded("a result callback", callback);
        {
          std::scoped_lock lock(job.mutex);
          job.running_callbacks = false;
        }
        job.changed.notify_all();
      }
      if (complete) release_outbox(job);
    }
    ends.clear();
  }

  void release_outbox(job_state& job) {
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

  template <class F>
  static void guarded(const char* what, F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      std::cerr << "mproc pool: " << what << " threw: " << e.what() << std::endl;
    } catch (...) {
      std::cerr << "mproc pool: " << what << " threw" << std::endl;
    }
  }

  // -- the result thread --

  // The result thread: nothing may end it but the stop notice.
  void run_results() {
    for (;;) {
      try {
        if (!take_one_result()) return;
      } catch (const std::exception& e) {
        std::cerr << "mproc pool: the result thread met an error: " << e.what() << std::endl;
      }
    }
  }

  // False once the stop notice came.
  bool take_one_result() {
    std::string_view message;
    try {
      message = *results.get(std::nullopt);
    } catch (const std::exception& e) {
      std::cerr << "mproc pool: the result queue failed: " << e.what() << std::endl;
      return false;
    }
    const auto result = split_result(message);
    if (!result) {
      std::cerr << "mproc pool: a result message of " << message.size() << " bytes was dropped" << std::endl;
      return true;
    }
    if (result->kind == stop_notice) return false;
    std::vector<chunk_end> ends;
    if (result->kind == death_notice) {
      worker_died(result->slot, result->aux, ends);
    } else {
      task_done(result->task, result->aux, result->slot, static_cast<task_status>(result->kind), result->payload,
                ends);
    }
    finish(ends);
    return true;
  }

  void task_done(std::uint64_t id, std::uint64_t aux, std::uint32_t slot, task_status status,
                 std::string_view payload, std::vector<chunk_end>& ends) {
    std::optional<std::string> result;
    std::exception_ptr failure = failure_of(status, payload);
    if (!failure) result.emplace(payload);
    std::scoped_lock lock(mutex);
    auto record = tasks.find(id);
    const std::uint64_t team = record == tasks.end() ? 0 : record->second.team;
    if (team != 0 && aux != 0) {  // a chunk of a team job failed; the share goes on
      auto found = teams.find(team);
      if (found != teams.end() && aux - 1 < found->second.errors.size()) {
        found->second.errors[aux - 1] = failure;
        check_team(team, ends);  // it may have waited for this message alone
      }
      return;
    }
    if (slot < slots.size()) {
      auto& held = slots[slot].held;
      held.erase(std::remove(held.begin(), held.end(), id), held.end());
      ++slots[slot].finished_since_start;
    }
    startup_deaths = 0;
    startup_kills = 0;
    if (team != 0) {
      tasks.erase(record);
      // A share ends with chunks still free when its worker reached
      // maxtasksperchild: another worker takes them on.
      auto found = teams.find(team);
      if (found != teams.end() && found->second.has_free_chunks()) give_share(team, found->second, std::nullopt);
      check_team(team, ends);
    } else if (record != tasks.end()) {
      ends.push_back(take_task(id, std::move(result), failure));
    }
    dispatch();
  }

  void worker_died(std::uint32_t slot, std::uint64_t generation, std::vector<chunk_end>& ends) {
    std::unique_lock lock(mutex);
    if (slot >= slots.size() || slots[slot].generation != generation || !slots[slot].worker) return;
    if (stopping) return;  // join() and terminate() end the workers themselves
    auto& s = slots[slot];
    process dead = std::move(*s.worker);
    s.worker.reset();
    dead.join();
    const int code = dead.exitcode().value_or(-1);
    const int pid = dead.pid();
    // What is still in its queue was never taken; what it held besides, it had taken.
    std::vector<std::string> untaken;
    while (auto message = s.tasks.get(std::chrono::nanoseconds{0})) untaken.emplace_back(*message);
    std::set<std::uint64_t> still_queued;
    for (const auto& message : untaken) still_queued.insert(read_at<std::uint64_t>(message, 0));
    const bool took_any = s.finished_since_start > 0;
    const bool started_fine = stamp_of(slot).ready.load() != 0;
    bool lost_any = false;
    std::set<std::uint64_t> teams_touched;
    for (const std::uint64_t id : s.held) {
      if (still_queued.contains(id) || !tasks.contains(id)) continue;
      lost_any = true;
      auto& record = tasks.at(id);
      if (record.team != 0) {
        teams_touched.insert(record.team);
        team_worker_died(id, slot, pid, code, dead.name(), s.timed_out_task == id);
        continue;
      }
      if (s.timed_out_task == id) {
        const auto seconds = std::chrono::duration<double>(record.timeout.value_or(std::chrono::nanoseconds{0}));
        ends.push_back(take_task(id, std::nullopt, std::make_exception_ptr(timeout_error(
            "the task ran longer than its timeout of " + std::to_string(seconds.count()) + " s; its worker (pid " +
            std::to_string(pid) + ") was killed and replaced"))));
      } else if (options.retry_lost_tasks && !record.retried) {
        record.retried = true;
        pending.push_front(id);
      } else {
        ends.push_back(take_task(id, std::nullopt, std::make_exception_ptr(worker_lost_error(
            pid, code, "the pool worker " + dead.name() + " (pid " + std::to_string(pid) + ") running the task " +
                       describe_end(code)))));
      }
    }
    s.held.clear();
    for (const auto& message : untaken) s.held.push_back(read_at<std::uint64_t>(message, 0));
    // Workers that die before finishing anything, again and again, would be
    // replaced for ever: give up after a few and fail what is left.
    const bool failed_start = !took_any && !lost_any && !started_fine && code != 0;
    const bool killed = code == -9 || code == -15;
    startup_deaths = failed_start && !killed ? startup_deaths + 1 : (failed_start ? startup_deaths : 0);
    startup_kills = failed_start && killed ? startup_kills + 1 : (failed_start ? startup_kills : 0);
    if (startup_deaths >= startup_deaths_to_give_up || startup_kills >= startup_kills_to_give_up) {
      broken = "the pool's workers keep dying before they finish a task (the last " + describe_end(code) +
               "); is the initializer failing?";
      fail_everything(std::make_exception_ptr(worker_lost_error(pid, code, broken)), ends);
      return;
    }
    bool replaced = false;
    try {
      start_worker(slot);
      for (const auto& message : untaken) s.tasks.put(message, std::nullopt);
      replaced = true;
    } catch (const std::exception& e) {
      std::cerr << "mproc pool: cannot start a worker to replace " << dead.name() << ": " << e.what() << std::endl;
      for (const std::uint64_t id : s.held) pending.push_front(id);
      s.held.clear();
    }
    for (const std::uint64_t team : teams_touched) {
      auto found = teams.find(team);
      if (found == teams.end()) continue;
      if (found->second.has_free_chunks()) give_share(team, found->second, replaced ? std::optional<std::size_t>(slot) : std::nullopt);
      check_team(team, ends);
    }
    dispatch();
  }

  // -- the watch thread --

  void run_watch() {
    std::set<std::pair<std::size_t, std::uint64_t>> reported;
    for (;;) {
      std::vector<int> copies;
      std::vector<std::pair<std::size_t, std::uint64_t>> whose;
      auto wait = std::chrono::nanoseconds(std::chrono::seconds(1));
      {
        std::scoped_lock lock(mutex);
        if (stopping) break;
        auto* stamp = reinterpret_cast<task_stamp*>(stamps.bytes().data());
        const std::int64_t now = now_ns();
        for (std::size_t i = 0; i < slots.size(); ++i) {
          auto& s = slots[i];
          if (!s.worker || reported.contains({i, s.generation})) continue;
          copies.push_back(copy_sentinel(s.worker->sentinel()));
          whose.emplace_back(i, s.generation);
          const std::uint64_t running = stamp[i].task.load();
          auto record = tasks.find(running);
          if (running == 0 || record == tasks.end() || !record->second.timeout || s.timed_out_task != 0) continue;
          const std::int64_t left = stamp[i].started_ns.load() + record->second.timeout->count() - now;
          if (left <= 0) {
            s.timed_out_task = running;
            s.worker->kill();
          } else {
            wait = std::min(wait, std::chrono::nanoseconds(left));
          }
        }
      }
      const auto ready = watch_wait.wait(copies, wait);
      for (int copy : copies) close_sentinel_copy(copy);
      for (const std::size_t i : ready) {
        reported.insert(whose[i]);
        try {
          results.put(result_head(0, whose[i].second, static_cast<std::uint32_t>(whose[i].first), death_notice),
                      std::nullopt);
        } catch (const std::exception& e) {
          std::cerr << "mproc pool: cannot report a dead worker: " << e.what() << std::endl;
        }
      }
    }
  }

  void stop_threads() {
    {
      std::scoped_lock lock(mutex);
      stopping = true;
    }
    watch_wait.wake();
    if (watch_thread.joinable()) watch_thread.join();
    if (result_thread.joinable()) {
      results.put(result_head(0, 0, 0, stop_notice), std::nullopt);
      result_thread.join();
    }
  }
};

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

pool_core::pool_core(pool_options options) : state_(std::make_unique<state>()) {
  auto& st = *state_;
  st.gate->pool = &st;
  if (options.processes < 0 || static_cast<std::size_t>(options.processes) > max_processes) {
    throw error("a pool needs between 1 and " + std::to_string(max_processes) + " processes (0: cpu_count()), not " +
                std::to_string(options.processes));
  }
  st.size = options.processes == 0 ? cpu_count() : static_cast<std::size_t>(options.processes);
  st.options = std::move(options);
  st.stamps = shared_memory::create(sizeof(task_stamp) * st.size);
  st.slots.resize(st.size);
  try {
    for (std::size_t i = 0; i < st.size; ++i) {
      st.slots[i].tasks = byte_queue(0, ring_bytes);
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

pool_core::~pool_core() {
  {
    std::scoped_lock hold(state_->gate->mutex);
    state_->gate->pool = nullptr;
  }
  forget_live_pool(this);
  if (!state_->joined) terminate();
}

std::shared_ptr<job_state> pool_core::submit(std::vector<std::string> chunks, std::vector<std::size_t> chunk_items,
                                             std::optional<std::chrono::nanoseconds> timeout,
                                             std::shared_ptr<handle_outbox> outbox) {
  auto& st = *state_;
  auto job = std::make_shared<job_state>();
  job->chunks = chunks.size();
  job->chunk_items = std::move(chunk_items);
  for (const std::size_t n : job->chunk_items) job->items += n;
  job->results.resize(job->chunks);
  job->errors.resize(job->chunks);
  std::scoped_lock lock(st.mutex);
  if (st.closed) {
    outbox->started(-1);
    throw closed_error(st.terminated ? "the pool was terminated: it takes no more tasks"
                                     : "the pool is closed: it takes no more tasks");
  }
  if (!st.broken.empty()) {
    outbox->started(-1);
    throw error(st.broken);
  }
  if (job->chunks == 0) {
    outbox->started(-1);
    return job;
  }
  st.outboxes.emplace(job.get(), std::move(outbox));
  job->cancel = [gate = st.gate](job_state& cancelled) {
    std::scoped_lock hold(gate->mutex);
    return gate->pool != nullptr && gate->pool->cancel_job(cancelled);
  };
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    const std::uint64_t id = st.next_task++;
    st.tasks.emplace(id, task_record{job, i, std::move(chunks[i]), timeout ? timeout : st.options.task_timeout});
    st.pending.push_back(id);
  }
  st.dispatch();
  return job;
}

std::shared_ptr<job_state> pool_core::submit_team(const std::string& head, const void* items, std::size_t count,
                                                  std::size_t item_size, std::size_t result_size,
                                                  std::size_t chunksize, std::optional<std::chrono::nanoseconds> timeout) {
  auto& st = *state_;
  auto job = std::make_shared<job_state>();
  const std::size_t chunks = count == 0 ? 0 : (count + chunksize - 1) / chunksize;
  job->chunks = chunks;
  job->items = count;
  for (std::size_t c = 0; c < chunks; ++c) job->chunk_items.push_back(std::min(chunksize, count - c * chunksize));
  job->results.resize(chunks);
  job->errors.resize(chunks);
  std::scoped_lock lock(st.mutex);
  if (st.closed) {
    throw closed_error(st.terminated ? "the pool was terminated: it takes no more tasks"
                                     : "the pool is closed: it takes no more tasks");
  }
  if (!st.broken.empty()) throw error(st.broken);
  if (chunks == 0) return job;
  const std::size_t states_at = align64(sizeof(team_layout));
  const std::size_t items_at = align64(states_at + chunks * sizeof(chunk_word));
  const std::size_t results_at = align64(items_at + count * item_size);
  team_job team;
  team.arena = st.arena_for(results_at + count * result_size);
  std::byte* arena = team.arena.bytes().data();
  auto& layout = *new (arena) team_layout{};
  layout.chunks = chunks;
  layout.items = count;
  layout.chunksize = chunksize;
  layout.states_at = states_at;
  layout.items_at = items_at;
  layout.results_at = results_at;
  layout.item_size = item_size;
  layout.result_size = result_size;
  const std::uint64_t team_id = st.next_task++;
  team.tag = static_cast<std::uint32_t>(team_id);
  auto* states = reinterpret_cast<chunk_word*>(arena + states_at);
  for (std::size_t c = 0; c < chunks; ++c) new (&states[c]) chunk_word(word(team.tag, 0));
  std::memcpy(arena + items_at, items, count * item_size);
  job->arena = team.arena;
  job->results_at = results_at;
  team.job = job;
  team.timeout = timeout ? timeout : st.options.task_timeout;
  team.errors.resize(chunks);
  team.share = task_message_head(head, team.arena.name().size());
  team.share += team.arena.name();
  write_at(team.share, 8, team_kind);
  write_at(team.share, 12, team.tag);
  auto& stored = st.teams.emplace(team_id, std::move(team)).first->second;
  bool given = false;
  for (std::size_t slot = 0; slot < st.slots.size(); ++slot) {
    if (!st.slots[slot].worker) continue;  // being replaced: the others claim its part
    st.give_share(team_id, stored, slot);
    given = true;
  }
  if (!given) st.give_share(team_id, stored, std::nullopt);
  return job;
}

bool pool_core::takes_team_jobs() const noexcept { return !state_->options.progress; }

void pool_core::close() {
  std::scoped_lock lock(state_->mutex);
  state_->closed = true;
}

void pool_core::join() {
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

void pool_core::terminate() {
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

std::size_t pool_core::processes() const noexcept { return state_->size; }

std::vector<int> pool_core::worker_pids() const {
  std::scoped_lock lock(state_->mutex);
  std::vector<int> pids;
  for (const auto& s : state_->slots) {
    if (s.worker) pids.push_back(s.worker->pid());
  }
  return pids;
}

}  // namespace mproc::detail
