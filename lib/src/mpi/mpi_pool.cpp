// mproc::mpi::pool's engine on rank 0: one thread that hands task messages to
// the serving ranks (two each at most, by MPI_Isend: a blocking send of a
// message past the eager limit would wait for a rank that is itself waiting to
// send), takes their results and alive messages, and fails the tasks of a rank
// that falls silent, or of a task past its timeout.
#include <mproc/mpi/pool.hpp>

#include "mpi_wire.hpp"

#include "../chunk_end.hpp"
#include "../function_names.hpp"
#include "../pool_wire.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <condition_variable>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <thread>

namespace mproc::detail::mpi {
namespace {

using clock = std::chrono::steady_clock;

struct sent_task {
  std::string bytes;  // kept until the send is complete
  MPI_Request request = MPI_REQUEST_NULL;
};

struct rank_state {
  int rank = 0;
  int pid = 0;
  std::string host = "?";
  bool alive = true;
  std::map<std::uint64_t, sent_task> held;  // task ids sent, not answered yet
  std::deque<std::uint64_t> order;          // the same, as sent: a rank runs them in this order
  std::uint64_t overdue = 0;                // a task past its timeout it still runs: it gets no other
};

struct task_record {
  std::shared_ptr<job_state> job;
  std::size_t chunk = 0;
  std::string message;
  std::optional<std::chrono::nanoseconds> timeout;
  int rank = 0;  // 0: queued
  clock::time_point started;
  std::size_t deaths = 0;
};

constexpr std::size_t held_per_rank = 2;

class mpi_engine;

// What a job's cancel() reaches the engine through: cleared when the engine
// goes, so that a result kept after its pool cannot reach a dead one.
struct engine_gate {
  std::recursive_mutex mutex;  // a callback that a cancel runs may cancel another job
  mpi_engine* engine = nullptr;
};

class mpi_engine final : public pool_core {
 public:
  explicit mpi_engine(mproc::mpi::pool_options options) : options_(std::move(options)) {
    for (int rank = 1; rank < job_size(); ++rank) {
      ranks_.emplace_back();
      ranks_.back().rank = rank;
      ranks_.back().alive = !is_lost(rank);  // lost under an earlier pool
    }
    if (ranks_.empty()) throw error("an mproc::mpi::pool needs ranks to serve it: run the program under mpiexec -n 2 or more");
    gate_->engine = this;
    thread_ = std::thread([this] { run(); });
  }
  ~mpi_engine() override {
    {
      std::scoped_lock lock(mutex_);
      closed_ = true;
    }
    join();
    std::scoped_lock hold(gate_->mutex);
    gate_->engine = nullptr;
  }

  std::shared_ptr<job_state> submit(std::vector<std::string> chunks, std::vector<std::size_t> chunk_items,
                                    std::optional<std::chrono::nanoseconds> timeout,
                                    std::shared_ptr<handle_outbox> outbox, bool continuing) override {
    return submit_job(std::move(chunks), chunk_items, timeout, outbox, continuing, nullptr);
  }

  std::vector<std::shared_ptr<job_state>> submit_each_chunk(std::vector<std::string> chunks,
                                                            std::vector<std::size_t> chunk_items,
                                                            std::vector<std::shared_ptr<handle_outbox>> outboxes,
                                                            std::shared_ptr<progress_share> progress,
                                                            bool continuing) override {
    std::vector<std::shared_ptr<job_state>> jobs;
    for (std::size_t c = 0; c < chunks.size(); ++c) {
      std::vector<std::string> one;
      one.push_back(std::move(chunks[c]));
      jobs.push_back(submit_job(std::move(one), {chunk_items[c]}, std::nullopt, outboxes[c], continuing, progress));
    }
    return jobs;
  }

  // Takes back the job's tasks no rank has been sent (they fail with
  // cancelled_error): true if that was all of them. A task a rank holds runs
  // on: MPI cannot stop it.
  bool take_back(job_state& job) {
    std::vector<chunk_end> ends;
    bool all = true;
    {
      std::scoped_lock lock(mutex_);
      const auto cancelled = std::make_exception_ptr(cancelled_error("the task was cancelled before it started"));
      for (auto it = tasks_.begin(); it != tasks_.end();) {
        if (it->second.job.get() != &job) {
          ++it;
        } else if (it->second.rank != 0) {
          all = false;
          ++it;
        } else {
          ends.push_back({it->second.job, it->second.chunk, std::nullopt, cancelled});
          std::erase(queue_, it->first);
          it = tasks_.erase(it);
        }
      }
      if (ends.empty()) return false;  // finished, or all sent
    }
    finish(ends);
    return all;
  }

  std::shared_ptr<job_state> submit_team(const std::string&, const void*, std::size_t, std::size_t, std::size_t,
                                         std::size_t, std::optional<std::chrono::nanoseconds>, bool,
                                         bool) override {
    throw error("an MPI pool takes no team jobs (they need memory shared by every worker)");
  }
  bool takes_team_jobs() const noexcept override { return false; }

  void close() override {
    std::scoped_lock lock(mutex_);
    closed_ = true;
  }
  void terminate() override {
    std::vector<chunk_end> ends;
    {
      std::scoped_lock lock(mutex_);
      closed_ = true;
      const auto failure = std::make_exception_ptr(closed_error("the pool was terminated before the task finished"));
      for (auto& [id, task] : tasks_) ends.push_back({task.job, task.chunk, std::nullopt, failure});
      tasks_.clear();
      queue_.clear();
    }
    finish(ends);
    join();
  }
  void join() override {
    std::unique_lock lock(mutex_);
    if (!closed_) throw error("join() on a pool that is running: close() or terminate() it first");
    idle_.wait(lock, [&] { return tasks_.empty(); });
    stopping_ = true;
    wake_.notify_all();
    lock.unlock();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  }

  std::size_t processes() const noexcept override {
    std::scoped_lock lock(mutex_);
    return static_cast<std::size_t>(std::count_if(ranks_.begin(), ranks_.end(), [](auto& r) { return r.alive; }));
  }
  std::vector<int> worker_pids() const override {
    std::scoped_lock lock(mutex_);
    std::vector<int> pids;
    for (const auto& r : ranks_) {
      if (r.alive) pids.push_back(r.pid);
    }
    return pids;
  }

 private:
  std::shared_ptr<job_state> submit_job(std::vector<std::string> chunks, const std::vector<std::size_t>& chunk_items,
                                        std::optional<std::chrono::nanoseconds> timeout,
                                        const std::shared_ptr<handle_outbox>& outbox, bool continuing,
                                        std::shared_ptr<progress_share> progress) {
    if (outbox && !outbox->handles().empty()) {
      throw serialization_error("a task's arguments hold a process-local object (a pipe, a queue, shared memory): "
                                "it cannot travel to an MPI rank");
    }
    auto job = std::make_shared<job_state>();
    job->chunks = chunk_items.size();
    job->chunk_items = chunk_items;
    for (std::size_t n : chunk_items) job->items += n;
    job->results.resize(job->chunks);
    job->errors.resize(job->chunks);
    job->progress = std::move(progress);
    job->cancel = [gate = gate_](job_state& cancelled) {
      std::scoped_lock hold(gate->mutex);
      return gate->engine != nullptr && gate->engine->take_back(cancelled);
    };
    std::scoped_lock lock(mutex_);
    check_open(continuing);
    for (std::size_t c = 0; c < chunks.size(); ++c) queue_task(job, c, std::move(chunks[c]), timeout);
    wake_.notify_all();
    return job;
  }

  void check_open(bool continuing) const {
    if (closed_ && !continuing) throw closed_error("the pool is closed: it takes no new tasks");
    if (stopping_) throw closed_error("the pool has ended: it takes no new tasks");
  }

  void queue_task(const std::shared_ptr<job_state>& job, std::size_t chunk, std::string message,
                  std::optional<std::chrono::nanoseconds> timeout) {
    // Ids never repeat in the process: a rank may answer a task that timed out
    // in an earlier pool, and that answer must not match a task of this one.
    static std::atomic<std::uint64_t> next_id{1};
    const std::uint64_t id = next_id++;
    write_at(message, 0, id);
    task_record& task = tasks_[id];
    task.job = job;
    task.chunk = chunk;
    task.message = std::move(message);
    task.timeout = timeout ? timeout : options_.task_timeout;
    queue_.push_back(id);
  }

  void finish(std::vector<chunk_end>& ends) {
    for (auto& end : ends) finish_chunk(end, options_.progress);
    ends.clear();
    std::scoped_lock lock(mutex_);
    if (tasks_.empty()) idle_.notify_all();
  }

  // The engine's thread: the only one that calls MPI on rank 0 while the pool lives.
  void run() {
    idle_backoff backoff(std::chrono::microseconds(1000));
    for (;;) {
      std::vector<chunk_end> ends;
      const bool moved = receive_all(ends);
      {
        std::unique_lock lock(mutex_);
        const bool sent = dispatch();
        check_silence(ends);
        check_timeouts(ends);
        if (stopping_ && tasks_.empty()) break;
        if (moved || sent || !ends.empty()) {
          backoff.active();
        } else if (const auto pause = backoff.next(); pause.count() == 0) {
          lock.unlock();
          std::this_thread::yield();
        } else {
          wake_.wait_for(lock, pause);  // a new task wakes it
        }
      }
      finish(ends);
    }
  }

  bool receive_all(std::vector<chunk_end>& ends) {
    bool moved = false;
    while (auto message = receive_any(MPI_ANY_SOURCE, MPI_ANY_TAG)) {
      moved = true;
      std::scoped_lock lock(mutex_);
      rank_state& from = ranks_[static_cast<std::size_t>(message->source - 1)];
      if (message->tag == hello_tag) {
        const auto space = message->bytes.find(' ');
        from.pid = std::atoi(message->bytes.substr(0, space).c_str());
        if (space != std::string::npos) from.host = message->bytes.substr(space + 1);
      } else if (message->tag == result_tag) {
        take_result(from, message->bytes, ends);
      }
    }
    return moved;
  }

  void take_result(rank_state& from, std::string_view bytes, std::vector<chunk_end>& ends) {
    const auto result = split_result(bytes);
    if (!result) return;
    auto sent = from.held.find(result->task);
    if (sent != from.held.end()) {
      MPI_Wait(&sent->second.request, MPI_STATUS_IGNORE);  // the rank has it: done
      from.held.erase(sent);
      std::erase(from.order, result->task);
    }
    if (from.overdue == result->task) from.overdue = 0;
    auto found = tasks_.find(result->task);
    if (found == tasks_.end()) return;  // failed already (timeout, terminate): dropped
    const auto status = static_cast<task_status>(result->kind);
    std::optional<std::string> value;
    std::exception_ptr failure = task_failure(status, result->payload);
    if (!failure) value.emplace(result->payload);
    ends.push_back({found->second.job, found->second.chunk, std::move(value), failure});
    tasks_.erase(found);
  }

  // Sends queued tasks to ranks with room; true if it sent any.
  bool dispatch() {
    bool sent_any = false;
    for (auto& r : ranks_) {
      while (r.alive && r.overdue == 0 && r.held.size() < held_per_rank && !queue_.empty()) {
        const std::uint64_t id = queue_.front();
        queue_.pop_front();
        auto found = tasks_.find(id);
        if (found == tasks_.end()) continue;
        task_record& task = found->second;
        task.rank = r.rank;
        task.started = clock::now();
        r.order.push_back(id);
        sent_task& sent = r.held[id];
        sent.bytes = task.message;
        MPI_Isend(sent.bytes.data(), static_cast<int>(sent.bytes.size()), MPI_BYTE, r.rank, task_tag,
                  job_comm(), &sent.request);
        sent_any = true;
      }
    }
    return sent_any;
  }

  // "the task square(int)", where the program's symbols tell the name.
  static std::string named(std::string_view message) {
    std::string name;
    try {
      const task_head_parts head = decode_task_head(split_task(message).head);
      if (head.target) name = function_name(resolve_code(*head.target));
    } catch (const std::exception&) {  // nameless, then
    }
    return name.empty() ? "the task" : "the task " + name;
  }

  std::string who(const rank_state& r) const {
    return "the MPI rank " + std::to_string(r.rank) + " on " + r.host + " (pid " + std::to_string(r.pid) + ")";
  }

  void check_silence(std::vector<chunk_end>& ends) {
    const auto now = clock::now();
    for (auto& r : ranks_) {
      if (!r.alive || now - heard_from(r.rank) < options_.silence_limit) continue;
      r.alive = false;
      mark_lost(r.rank);
      const double seconds = std::chrono::duration<double>(now - heard_from(r.rank)).count();
      for (auto& [id, sent] : r.held) {
        MPI_Cancel(&sent.request);
        MPI_Request_free(&sent.request);
        static auto* abandoned = new std::list<std::string>();  // MPI may still read them: kept for ever
        abandoned->push_back(std::move(sent.bytes));
      }
      // The first task sent is the one it ran; the others waited: they go back
      // to the queue, at its head, as if never sent.
      for (auto it = r.order.rbegin(); it != r.order.rend(); ++it) {
        auto found = tasks_.find(*it);
        if (found == tasks_.end()) continue;
        task_record& task = found->second;
        const bool ran = *it == r.order.front();
        if (!ran || (options_.retry_lost_tasks && ++task.deaths < 2)) {
          task.rank = 0;
          queue_.push_front(*it);
          continue;
        }
        char silence[32];
        std::snprintf(silence, sizeof silence, "%.1f", seconds);
        const std::string said = who(r) + " running " + named(task.message) + " was lost: not heard from for " +
                                 silence + " s (it died, or its machine or network did)";
        ends.push_back({task.job, task.chunk, std::nullopt,
                        std::make_exception_ptr(worker_lost_error(r.pid, -1, said))});
        tasks_.erase(found);
      }
      r.order.clear();
      r.held.clear();
    }
    if (std::none_of(ranks_.begin(), ranks_.end(), [](auto& r) { return r.alive; })) {
      const auto failure = std::make_exception_ptr(worker_lost_error(0, -1, "no MPI rank is left to run the task"));
      for (std::uint64_t id : queue_) {
        auto found = tasks_.find(id);
        if (found == tasks_.end()) continue;
        ends.push_back({found->second.job, found->second.chunk, std::nullopt, failure});
        tasks_.erase(found);
      }
      queue_.clear();
    }
  }

  void check_timeouts(std::vector<chunk_end>& ends) {
    const auto now = clock::now();
    for (auto it = tasks_.begin(); it != tasks_.end();) {
      task_record& task = it->second;
      if (task.rank == 0 || !task.timeout || now - task.started < *task.timeout) {
        ++it;
        continue;
      }
      rank_state& r = ranks_[static_cast<std::size_t>(task.rank - 1)];
      r.overdue = it->first;  // it runs on: the rank gets no other task until it answers
      ends.push_back({task.job, task.chunk, std::nullopt,
                      std::make_exception_ptr(timeout_error(
                          "the task ran longer than its timeout on " + who(r) +
                          " (MPI cannot replace a rank: it takes no other task until this one returns)"))});
      it = tasks_.erase(it);
    }
  }

  mproc::mpi::pool_options options_;
  std::shared_ptr<engine_gate> gate_ = std::make_shared<engine_gate>();
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::vector<rank_state> ranks_;
  std::map<std::uint64_t, task_record> tasks_;
  std::deque<std::uint64_t> queue_;
  bool closed_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

std::shared_ptr<pool_core> make_pool(int* argc, char*** argv, mproc::mpi::pool_options options) {
  const int spawn = options.spawn_ranks > 0 ? options.spawn_ranks
                                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  start_mpi(argc, argv, spawn);
  if (job_rank() != 0) serve_tasks(options.silence_limit);
  return std::make_shared<mpi_engine>(std::move(options));
}

}  // namespace
}  // namespace mproc::detail::mpi

namespace mproc::mpi {

pool::pool(int& argc, char**& argv, pool_options options)
    : mproc::pool(detail::mpi::make_pool(&argc, &argv, std::move(options))) {}
pool::pool(pool_options options) : mproc::pool(detail::mpi::make_pool(nullptr, nullptr, std::move(options))) {}

int pool::rank() { return detail::mpi::job_rank(); }
int pool::size() { return detail::mpi::job_size(); }

}  // namespace mproc::mpi
