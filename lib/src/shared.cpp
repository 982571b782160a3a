#include <mproc/detail/handles.hpp>
#include <mproc/error.hpp>
#include <mproc/shared.hpp>
#include <mproc/shared_buffer.hpp>

#include <string>

namespace mproc::detail {

bool decoding_arguments() noexcept { return current_inbox() != nullptr; }

shared_memory make_block_for(std::size_t bytes, commit data) {
  return decoding_arguments() ? shared_memory() : create_block(bytes, data);
}

void check_shared_extent(const shared_memory& block, std::size_t offset, std::size_t count, std::size_t item_bytes) {
  const std::size_t items = block.size() / item_bytes;
  if (offset > items || count > items - offset) {
    throw serialization_error("a shared buffer's span of " + std::to_string(count) + " items from item " +
                              std::to_string(offset) + " does not fit its memory of " + std::to_string(items) +
                              " items: the message is corrupt");
  }
}

}  // namespace mproc::detail
