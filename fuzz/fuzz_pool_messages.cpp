// The pool's messages: a task as a worker reads it (its frame, and the head
// naming the code to run, resolved but never called), and a result or a death
// notice as the parent reads it (a raised exception rebuilt from its payload).
#include "pool_wire.hpp"
#include "remote_failure.hpp"

#include <mproc/error.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const auto task = mproc::detail::split_task(bytes);
    if (task.head.size() + task.body.size() + 20 != size) __builtin_trap();
    const auto head = mproc::detail::decode_task_head(task.head);
    [[maybe_unused]] const auto entry = mproc::detail::resolve_code(head.entry);
  } catch (const mproc::error&) {
  }
  if (const auto result = mproc::detail::split_result(bytes)) {
    if (result->kind == static_cast<std::uint32_t>(mproc::detail::task_status::raised)) {
      try {
        std::rethrow_exception(mproc::detail::remote_failure(result->payload));
      } catch (const mproc::remote_error&) {
      } catch (...) {
        __builtin_trap();  // a raised task is always a remote_error
      }
    }
  } else if (size >= mproc::detail::result_head_bytes) {
    __builtin_trap();
  }
  return 0;
}
