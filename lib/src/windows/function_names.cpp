#include "../function_names.hpp"

namespace mproc::detail {

// Boost.Stacktrace's Windows backend needs DbgHelp's COM interfaces, which the
// MinGW cross build lacks: a lost task is named by its chunk only there.
std::string function_name(std::uintptr_t) noexcept { return {}; }

}  // namespace mproc::detail
