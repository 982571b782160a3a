// What a spawned or forkserver child decodes first: its start payload.
#include "payload.hpp"

#include <mproc/error.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    [[maybe_unused]] auto payload =
        mproc::detail::decode_payload(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const mproc::error&) {
  }
  return 0;
}
