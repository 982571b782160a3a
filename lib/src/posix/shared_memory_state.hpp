// A shared memory block as this process holds it (POSIX): see shared_memory.cpp.
#pragma once

#include <boost/interprocess/mapped_region.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace mproc::detail {

/// A process as a block's user: its pid and start time (pids are recycled).
struct identity {
  int pid = 0;
  std::uint64_t start_time = 0;
};

/// This process, as block user tables and the tracker know it.
identity self();
/// False once that process has ended (or is a zombie).
bool still_running(const identity& who) noexcept;

struct segment_header;

struct shared_memory_state {
  std::string name;
  boost::interprocess::mapped_region region;
  segment_header* header = nullptr;
  std::byte* data = nullptr;
  std::size_t size = 0;
  std::atomic<bool> inherited_by_fork{true};

  ~shared_memory_state() { close(); }
  /// Ends this process's use: frees its slot and unmaps. For every handle copy.
  void close() noexcept;
  bool open() const noexcept { return header != nullptr; }
  void claim(identity who, std::uint64_t reservation = 0);
  void release(identity who) noexcept;
  /// Gives the slot held under `reservation` to `to` for good (nobody: frees
  /// it); false if no slot is held under it.
  bool hand_over(std::uint64_t reservation, std::optional<identity> to) noexcept;
};

/// The running process `pid` (nothing for one that is gone, a zombie, or pid <= 0).
std::optional<identity> identity_of(int pid);
/// A fresh word to reserve a slot under (never 0).
std::uint64_t new_reservation_word();

/// The blocks this process uses: a forked child counts for each, and exit
/// handlers free this process's slot in each.
struct block_registry {
  std::mutex mutex;
  std::vector<shared_memory_state*> states;
};
block_registry& blocks();
/// In a forked child: the names let go of (see sweep_blocks_let_go) get a new lock.
void reset_let_go_after_fork() noexcept;

}  // namespace mproc::detail
