// A queue's ring as a consumer reads it: records (length, flags, bytes) that
// another process wrote. One queue for the whole run; each input refills it.
#include <mproc/error.hpp>
#include <mproc/queue.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static mproc::detail::byte_queue ring(0, 64 * 1024);
  ring.load_ring_for_fuzzing(std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    // Every record is at least 8 bytes: the ring empties in a bounded number of gets.
    for (std::size_t i = 0; i <= size / 8; ++i) {
      if (!ring.get(std::chrono::nanoseconds{0})) break;
    }
  } catch (const mproc::error&) {
  }
  return 0;
}
