// The pool's local engine (local_pool, one of pool_core's two; the other is
// MPI's, lib/src/mpi/): the state a pool keeps in the parent, shared by the
// files that act on it. Each worker has a task queue of its own and all share
// one result queue (both mproc queues: byte rings in shared memory). The parent
// gives each worker at most `depth` tasks at a time, so it always knows which
// tasks a worker holds. Two threads of the pool run in the parent, the result
// thread (pool_results.cpp) and the watch thread (pool_watch.cpp). When a
// worker dies, what is still in its task queue was never taken: those tasks go
// to its replacement; the task it had taken fails (worker_lost_error or
// timeout_error), or runs again once if retry_lost_tasks is set
// (pool_deaths.cpp). Handing out tasks and finishing them: pool_dispatch.cpp;
// maps of plain values that workers claim from a shared arena: pool_team.cpp;
// what pool.hpp calls (through detail/pool_core.hpp): pool.cpp; the lazy
// imap's feed: pool_imap.cpp.
#pragma once

#include <mproc/pool.hpp>

#include "captured_output.hpp"
#include "chunk_end.hpp"
#include "child_handle.hpp"
#include "launch.hpp"
#include "oom_kills.hpp"
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

struct task_record {
  std::shared_ptr<job_state> job;
  std::size_t chunk = 0;
  std::string message;
  std::optional<std::chrono::nanoseconds> timeout;
  std::size_t deaths = 0;  // workers that died running it
  std::uint64_t team = 0;  // not 0: a worker's share of this team job
};

struct team_job {
  std::shared_ptr<job_state> job;
  shared_memory arena;
  std::string share;  // the message a worker gets for its share
  std::optional<std::chrono::nanoseconds> timeout;
  std::vector<std::exception_ptr> errors;  // each chunk's, once it failed
  std::map<std::uint64_t, std::size_t> deaths;  // workers that died running a chunk

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

// A finished team job's arena, for the next team job. Not reused while its
// results can still be read, nor while a worker may be in a share of the job:
// the worker reads the arena's layout as it goes, and a new job's layout would
// send it astray (it spun for ever on chunk indexes past the new job's end).
struct spare_arena {
  shared_memory arena;
  std::weak_ptr<job_state> job;
  std::set<std::uint64_t> shares_out;  // given to a worker, not ended yet
  bool reusable() const { return job.expired() && shares_out.empty(); }
};

// A stop the parent asked of the run a worker is in (pool_watch.cpp).
struct stop_request {
  std::uint64_t task = 0;
  std::uint64_t run = 0;
  std::int64_t kill_at = 0;  // steady clock: the worker is killed if the run goes on past it
};

struct slot_state {
  byte_queue tasks;
  std::optional<process> worker;
  std::uint64_t generation = 0;
  std::deque<std::uint64_t> held;  // task ids given, not yet finished
  std::uint64_t finished_since_start = 0;
  std::uint64_t timed_out_task = 0;  // killed for it (timeout or cancel)
  std::optional<stop_request> asked;
  std::optional<oom_count> oom;  // of the worker's memory cgroup, as it started
};


/// The local engine: worker processes on this machine (see pool_core).
class local_pool final : public pool_core {
 public:
  explicit local_pool(pool_options options);
  ~local_pool() override;
  local_pool(const local_pool&) = delete;
  local_pool& operator=(const local_pool&) = delete;

  std::shared_ptr<job_state> submit(std::vector<std::string> chunks, std::vector<std::size_t> chunk_items,
                                    std::optional<std::chrono::nanoseconds> timeout,
                                    std::shared_ptr<handle_outbox> outbox, bool continuing = false) override;
  std::vector<std::shared_ptr<job_state>> submit_each_chunk(std::vector<std::string> chunks,
                                                            std::vector<std::size_t> chunk_items,
                                                            std::vector<std::shared_ptr<handle_outbox>> outboxes,
                                                            std::shared_ptr<progress_share> progress,
                                                            bool continuing) override;
  void close() override;
  void terminate() override;
  void join() override;
  std::shared_ptr<job_state> submit_team(const std::string& head, const void* items, std::size_t count,
                                         std::size_t item_size, std::size_t result_size, std::size_t chunksize,
                                         std::optional<std::chrono::nanoseconds> timeout, bool window = false,
                                         bool continuing = false) override;
  bool takes_team_jobs() const noexcept override;
  std::size_t processes() const noexcept override;
  std::vector<int> worker_pids() const override;

  struct state;

 private:
  std::unique_ptr<state> state_;
};

// What a job's cancel() reaches the pool through: cleared when the pool goes,
// so that a result kept after its pool cannot reach a dead one. Recursive: a
// callback run by a cancel may cancel another job.
struct cancel_gate {
  std::recursive_mutex mutex;
  local_pool::state* pool = nullptr;
};

/// A job's cancel(): `take_back` called on the pool, if it is still there.
inline std::function<bool(job_state&)> through_gate(std::shared_ptr<cancel_gate> gate,
                                                    bool (local_pool::state::*take_back)(job_state&)) {
  return [gate = std::move(gate), take_back](job_state& job) {
    std::scoped_lock hold(gate->mutex);
    return gate->pool != nullptr && (gate->pool->*take_back)(job);
  };
}

struct local_pool::state {
  static constexpr std::size_t depth = 16;  // tasks a worker holds at most; an idle worker takes queued ones back
  static_assert(depth <= skip_slots, "each task a worker holds has a place in its stamp's skip list");
  static constexpr std::size_t max_processes = 4096;
  static constexpr std::size_t ring_bytes = std::size_t{4} << 20;
  // A pool gives up after this many workers in a row failed to start: ended
  // (exit code, crash) before their start-up was done. Workers killed from
  // outside (SIGKILL, SIGTERM) before it was done may be an OOM killer or a
  // chaos test, not a broken start-up: they count against a larger limit.
  static constexpr int startup_deaths_to_give_up = 3;
  static constexpr int startup_kills_to_give_up = 100;

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
  std::set<std::uint64_t> cancelled;  // cancelled after they went to a worker; their results are dropped
  std::unordered_map<job_state*, std::shared_ptr<handle_outbox>> outboxes;
  std::unordered_map<std::uint64_t, team_job> teams;
  std::vector<spare_arena> spare_arenas;
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


  task_stamp& stamp_of(std::size_t slot) const { return reinterpret_cast<task_stamp*>(stamps.bytes().data())[slot]; }

  // -- pool.cpp --
  void check_open(bool continuing, const std::vector<std::shared_ptr<handle_outbox>>& outboxes);
  void queue_job(const std::shared_ptr<job_state>& job, std::vector<std::string> chunks,
                 std::optional<std::chrono::nanoseconds> timeout, std::shared_ptr<handle_outbox> outbox);

  // -- pool_deaths.cpp --
  // What a task lost with its worker becomes after its `deaths`-th death:
  // nothing if it runs again (retry_lost_tasks), else its failure.
  struct lost_task {
    std::string_view message;
    std::size_t chunk;
    std::size_t chunks;
    // "the task demo::crunch(int) (chunk 3 of 4)": its function's name where
    // the program's symbols tell it, its chunk when its job has several. Only
    // for a failure: naming reads the program's symbols.
    std::string named() const;
  };
  std::exception_ptr lost_failure(std::size_t deaths, bool interrupted, int pid, int code,
                                  const std::string& worker, const lost_task& task, const std::string& ending) const;
  // How a worker ended, for people: describe_end, and whether the OOM killer did it.
  std::string ending_of(slot_state& s, int code);
  // " (it dumped core)", and "; the last lines it wrote to stderr: ..." when
  // its output was captured.
  static std::string what_it_left(const process& dead);
  void start_worker(std::size_t slot);
  void worker_died(std::uint32_t slot, std::uint64_t generation, std::vector<chunk_end>& ends);
  // Every task not finished fails with `failure`: a team job's chunks, not
  // its shares. Under the lock.
  void fail_everything(const std::exception_ptr& failure, std::vector<chunk_end>& ends);
  // A worker ended by SIGINT (Ctrl-C reached the process group): as Python's
  // KeyboardInterrupt would, the pool's work stops. Every task not finished
  // fails with `why` and is cancelled as cancel() does; the pool goes on.
  void cancel_unfinished(const std::exception_ptr& why, std::vector<chunk_end>& ends);

  // -- pool_dispatch.cpp --
  bool give(std::size_t slot, std::uint64_t id);
  void dispatch();
  void give_pending();
  // A worker with nothing to do takes back a task queued behind a busy
  // worker's running one (the parent is a consumer of every task queue too),
  // as a shared queue would have given it: a long task does not hold up the
  // short ones queued after it.
  bool steal_for_idle();
  bool cancel_job(job_state& job);
  // A task given to `slot` and cancelled: skipped if the worker has not started it.
  void skip_task(std::size_t slot, std::uint64_t id);
  void forget_skip(std::size_t slot, std::uint64_t id);
  bool take_back_team_chunks(job_state& job);
  chunk_end take_task(std::uint64_t id, std::optional<std::string> result, std::exception_ptr failure);
  void finish(std::vector<chunk_end>& ends);
  void release_outbox(job_state& job);

  // -- pool_team.cpp --
  shared_memory arena_for(std::size_t bytes);
  void give_share(std::uint64_t team, team_job& t, std::optional<std::size_t> slot);
  // A team job is complete once no chunk is free or held by a live worker.
  void check_team(std::uint64_t team, std::vector<chunk_end>& ends);
  void share_ended(std::uint64_t id);
  // The chunks a dead worker held fail (or are given back once); whatever is
  // free again goes to the worker that replaces it.
  void team_worker_died(std::uint64_t share, std::uint32_t slot, int pid, int code, const std::string& name,
                        const std::string& ending, bool timed_out);

  // -- pool_results.cpp --
  // The result thread: nothing may end it but the stop notice.
  void run_results();
  // False once the stop notice came.
  bool take_one_result();
  void task_done(std::uint64_t id, std::uint64_t aux, std::uint32_t slot, task_status status,
                 std::string_view payload, std::vector<chunk_end>& ends);
  // A task's report_progress(): the progress callback, for a job of one chunk.
  void task_progress(std::uint64_t id, std::uint64_t done, std::string_view payload);
  // Why a task that was asked to stop fails. Under the lock.
  std::exception_ptr stopped_failure(std::uint64_t id) const;

  // -- pool_watch.cpp --
  void run_watch();
  // Asks a task over its time or cancelled to stop, or kills its worker (at
  // once without a stop_grace, or when the grace is over). How soon to look again.
  std::chrono::nanoseconds watch_slot(std::size_t slot, std::int64_t now);
  std::chrono::nanoseconds ask_to_stop(std::size_t slot, std::uint64_t task, std::uint64_t run, std::int64_t now);
  void stop_threads();

};

}  // namespace mproc::detail
