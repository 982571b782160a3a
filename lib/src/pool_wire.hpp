// The pool's wire between the parent and its workers: the stamp where a
// worker says what it runs, result message heads, and a team job's chunk words.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace mproc::detail {

// Where a worker says which task it runs, and since when (for timeouts).
struct task_stamp {
  std::atomic<std::uint64_t> task;        // 0: none
  std::atomic<std::int64_t> started_ns;   // steady clock, the same in every process
  std::atomic<std::uint64_t> ready;       // the worker's start-up (initializer) is done
};

constexpr std::size_t result_head_bytes = 24;  // [u64 task][u64 aux][u32 slot][u32 kind]
constexpr std::uint32_t death_notice = 100;    // aux: the worker's generation
constexpr std::uint32_t stop_notice = 101;

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

// A chunk's state word: the team's tag above, the state below (0 free, slot + 1
// taken, team_done, team_failed). A share of a team job that has ended can reach
// a worker after its arena went to another job: its compare-and-swap expects
// its own team's tag, so it claims nothing there.
using chunk_word = std::atomic<std::uint64_t>;
constexpr std::uint64_t word(std::uint32_t tag, std::uint32_t state) { return (std::uint64_t{tag} << 32) | state; }
constexpr std::uint32_t state_of(std::uint64_t word) { return static_cast<std::uint32_t>(word); }

}  // namespace mproc::detail
