// The engine behind mproc::pool as the public header sees it: the workers'
// links and loop, and pool_core, the interface of the engines (not templates:
// the local one is built in lib/src/pool*.cpp, whose map is
// lib/src/pool_engine.hpp; MPI's in lib/src/mpi/).
#pragma once

#include <mproc/detail/handles.hpp>
#include <mproc/detail/pool_tasks.hpp>
#include <mproc/process.hpp>
#include <mproc/queue.hpp>
#include <mproc/shared_memory.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace mproc {

struct pool_options;

namespace detail {

/// What a worker process is given: its own task queue, the shared result
/// queue, the block where it stamps the task it runs, its slot, its task limit.
struct worker_links {
  byte_queue tasks;
  byte_queue results;
  shared_memory stamps;
  std::uint32_t slot = 0;
  std::uint64_t max_tasks = 0;
  std::uint64_t max_memory = 0;  // bytes resident after a task past which the worker ends; 0: no limit
  std::uint64_t memory_limit = 0;  // bytes the worker may have at all (limit_memory); 0: no limit

  template <class Archive>
  void serialize(Archive& archive) {
    archive(tasks, results, stamps, slot, max_tasks, max_memory, memory_limit);
  }
};

/// The worker's loop: takes tasks until its queue is closed or it has run
/// max_tasks of them.
void run_worker(worker_links& links);
void pool_worker(worker_links links);
/// Before the initializer: a handler of SIGINT that a forked worker copied from
/// the program goes back to the default action (an ignored SIGINT stays
/// ignored), so that Ctrl-C ends the workers as it would spawned ones.
void begin_worker();

template <class F, class... Args>
void pool_worker_with(worker_links links, code_address initializer, Args... args) {
  begin_worker();
  F made{};
  if constexpr (std::is_pointer_v<F>) made = reinterpret_cast<F>(resolve_code(initializer));
  made(args...);
  run_worker(links);
}

using worker_factory = std::function<process(process_options, worker_links)>;

/// The engine behind pool: where its jobs run. The local engine (workers on
/// this machine: make_local_pool) and mproc::mpi's (MPI ranks) share the
/// front end in <mproc/pool.hpp>. Not a template.
class pool_core {
 public:
  virtual ~pool_core() = default;

  /// Queues a job of chunks (task messages) for the workers. `outbox` holds
  /// what encoding the arguments reserved (shared memory for the workers): it
  /// is told the job ended once it has. Errors: closed_error after close().
  /// `continuing`: more of a lazy imap's inputs, which close() does not stop
  /// (as Python's close() lets an imap given before it run to its end).
  virtual std::shared_ptr<job_state> submit(std::vector<std::string> chunks, std::vector<std::size_t> chunk_items,
                                            std::optional<std::chrono::nanoseconds> timeout,
                                            std::shared_ptr<handle_outbox> outbox, bool continuing = false) = 0;
  /// Each chunk as a job of its own, all queued at once (a lazy imap's
  /// top-up: one lock and one dispatch); `continuing` as for submit().
  virtual std::vector<std::shared_ptr<job_state>> submit_each_chunk(
      std::vector<std::string> chunks, std::vector<std::size_t> chunk_items,
      std::vector<std::shared_ptr<handle_outbox>> outboxes, std::shared_ptr<progress_share> progress,
      bool continuing) = 0;
  virtual void close() = 0;
  virtual void terminate() = 0;
  virtual void join() = 0;
  /// A map of plain values as one team job (see team_layout), only where
  /// takes_team_jobs(). `window`: a lazy imap's window of its inputs
  /// (`continuing` as for submit()), whose job's cancel takes back the chunks
  /// no worker has claimed.
  virtual std::shared_ptr<job_state> submit_team(const std::string& head, const void* items, std::size_t count,
                                                 std::size_t item_size, std::size_t result_size,
                                                 std::size_t chunksize,
                                                 std::optional<std::chrono::nanoseconds> timeout,
                                                 bool window = false, bool continuing = false) = 0;
  /// False when chunks must go one by one (a progress callback; no shared memory).
  virtual bool takes_team_jobs() const noexcept = 0;
  virtual std::size_t processes() const noexcept = 0;
  /// The pids of the workers now.
  virtual std::vector<int> worker_pids() const = 0;
};

/// The local engine: worker processes on this machine, their queues, dispatch,
/// death and timeout handling (lib/src/pool_engine.hpp).
std::shared_ptr<pool_core> make_local_pool(pool_options options);

/// Encodes a job's chunks with `encode(items_begin, items_end)`; reservations
/// for shared memory among the arguments go to the returned outbox. Errors:
/// serialization_error, also for a connection among the arguments.
std::shared_ptr<handle_outbox> encoding_outbox();
void check_encoded(const handle_outbox& outbox);

/// Python's choice for chunksize 0: about four chunks per worker.
std::size_t automatic_chunksize(std::size_t items, std::size_t workers) noexcept;

}  // namespace detail
}  // namespace mproc
