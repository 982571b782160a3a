// A shared memory block as this process holds it (Windows): see shared_memory.cpp.
#pragma once

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/windows_shared_memory.hpp>

#include <cstddef>
#include <optional>
#include <string>

namespace mproc::detail {

struct segment_header;

struct shared_memory_state {
  std::string name;
  std::optional<boost::interprocess::windows_shared_memory> section;  // never moved: Boost's move reads an unset member
  boost::interprocess::mapped_region region;
  segment_header* header = nullptr;
  std::byte* data = nullptr;
  std::size_t size = 0;

  void close() noexcept {
    header = nullptr;
    data = nullptr;
    region = boost::interprocess::mapped_region();
    section.reset();
  }
  bool open() const noexcept { return header != nullptr; }
};

}  // namespace mproc::detail
