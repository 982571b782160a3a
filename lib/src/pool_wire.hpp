// The pool's wire between the parent and its workers: the stamp where a
// worker says what it runs, result message heads, and a team job's chunk words.
#pragma once

#include <mproc/detail/pool_tasks.hpp>
#include <mproc/detail/target.hpp>
#include <mproc/error.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace mproc::detail {

constexpr std::size_t skip_slots = 16;  // as many as the tasks a worker holds (local_pool::state::depth)

// Where a worker says which task it runs, and since when (for timeouts), and
// where the parent asks it to stop one. Each task (each chunk of a team share)
// a worker starts has a run number of its own: a stop asked for one run never
// reaches the next. The worker writes the start time and task before the run
// number, so a reader that sees the same run number before and after reading
// them has a matching set.
struct task_stamp {
  std::atomic<std::uint64_t> task;        // 0: none
  std::atomic<std::int64_t> started_ns;   // steady clock, the same in every process
  std::atomic<std::uint64_t> ready;       // the worker's start-up (initializer) is done
  std::atomic<std::uint64_t> run;         // runs started in this slot, by all its workers
  std::atomic<std::uint64_t> stop;        // the run asked to stop (this_task::stop_requested()); 0: none
  std::atomic<std::uint64_t> skip[skip_slots];  // tasks cancelled before they started: not to be run; 0: free
};

constexpr std::size_t result_head_bytes = 24;  // [u64 task][u64 aux][u32 slot][u32 kind]
constexpr std::uint32_t death_notice = 100;    // aux: the worker's generation
constexpr std::uint32_t stop_notice = 101;
constexpr std::uint32_t progress_notice = 102;  // aux: done; payload: u64 total

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

template <class T>
T read_at(std::string_view bytes, std::size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

template <class T>
void write_at(std::string& bytes, std::size_t offset, T value) {
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}

inline std::string result_head(std::uint64_t task, std::uint64_t aux, std::uint32_t slot, std::uint32_t kind) {
  std::string head(result_head_bytes, '\0');
  write_at(head, 0, task);
  write_at(head, 8, aux);
  write_at(head, 16, slot);
  write_at(head, 20, kind);
  return head;
}

constexpr std::uint32_t team_kind = 1;  // in bytes 8..12 of a task message; the team's tag in 12..16

/// A task message: [u64 task][u32 kind][u32 team tag][u32 head length][head][body].
/// The body is the arguments, or for a team share the arena's name.
struct task_message_parts {
  std::uint64_t id = 0;
  std::uint32_t kind = 0;
  std::uint32_t tag = 0;
  std::string_view head;
  std::string_view body;
};

/// Throws serialization_error for a message too short for what it says it holds.
inline task_message_parts split_task(std::string_view task) {
  const std::size_t head_at = task_ids_bytes + sizeof(std::uint32_t);
  if (task.size() < head_at) throw serialization_error("the task message is cut short");
  const auto head_length = read_at<std::uint32_t>(task, task_ids_bytes);
  if (head_length > task.size() - head_at) throw serialization_error("the task message is cut short");
  return {read_at<std::uint64_t>(task, 0), read_at<std::uint32_t>(task, 8), read_at<std::uint32_t>(task, 12),
          task.substr(head_at, head_length), task.substr(head_at + head_length)};
}

/// What a task's head names: the entry that decodes and runs it, and the
/// user's function, as module-relative code addresses.
struct task_head_parts {
  code_address entry;
  std::optional<code_address> target;
};

/// Throws serialization_error for a head that does not decode (pool_worker.cpp).
task_head_parts decode_task_head(std::string_view head);

/// Runs a task message (not a team share) in this process, as a worker does:
/// its result message, for slot `slot` (pool_worker.cpp). For engines whose
/// workers are not the pool's own processes (MPI ranks). `out` is replaced
/// (its memory kept, for the next task).
void run_task_message(std::string_view message, std::uint32_t slot, std::string& out);

/// A result message: a result_head, then the payload.
struct result_message_parts {
  std::uint64_t task = 0;
  std::uint64_t aux = 0;
  std::uint32_t slot = 0;
  std::uint32_t kind = 0;
  std::string_view payload;
};

/// Nothing for a message shorter than its head.
inline std::optional<result_message_parts> split_result(std::string_view message) {
  if (message.size() < result_head_bytes) return std::nullopt;
  return result_message_parts{read_at<std::uint64_t>(message, 0), read_at<std::uint64_t>(message, 8),
                              read_at<std::uint32_t>(message, 16), read_at<std::uint32_t>(message, 20),
                              message.substr(result_head_bytes)};
}

// A chunk's state word: the team's tag above, the state below (0 free, slot + 1
// taken, team_done, team_failed). A share of a team job that has ended can reach
// a worker after its arena went to another job: its compare-and-swap expects
// its own team's tag, so it claims nothing there.
using chunk_word = std::atomic<std::uint64_t>;
constexpr std::uint64_t word(std::uint32_t tag, std::uint32_t state) { return (std::uint64_t{tag} << 32) | state; }
constexpr std::uint32_t state_of(std::uint64_t word) { return static_cast<std::uint32_t>(word); }

}  // namespace mproc::detail
