// A shared memory block as this process holds it (POSIX): see shared_memory.cpp.
#pragma once

#include <boost/interprocess/mapped_region.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

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
};

}  // namespace mproc::detail
