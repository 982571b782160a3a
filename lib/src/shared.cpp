#include <mproc/detail/handles.hpp>
#include <mproc/shared.hpp>

namespace mproc::detail {

bool decoding_arguments() noexcept { return current_inbox() != nullptr; }

shared_memory make_block_for(std::size_t bytes, commit data) {
  return decoding_arguments() ? shared_memory() : create_block(bytes, data);
}

}  // namespace mproc::detail
