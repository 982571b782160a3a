// A pool worker's report of a task's exception, rebuilt in the parent.
#include "remote_failure.hpp"

#include <mproc/error.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto failure = mproc::detail::remote_failure(std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    std::rethrow_exception(failure);
  } catch (const mproc::remote_error& e) {  // every report is a remote_error, whatever its type
    [[maybe_unused]] const char* what = e.what();
    [[maybe_unused]] int pid = e.pid();
    return 0;
  } catch (...) {
  }
  __builtin_trap();  // anything else is a bug
}
