#include "../function_names.hpp"

// The compiled libboost_stacktrace_backtrace: libbacktrace reads the symbol
// tables and DWARF of the program, which dladdr() cannot (it sees only
// exported symbols, none of an executable's without -rdynamic).
#define BOOST_STACKTRACE_LINK
#include <boost/stacktrace/frame.hpp>

namespace mproc::detail {

std::string function_name(std::uintptr_t address) noexcept {
  try {
    return boost::stacktrace::frame(reinterpret_cast<boost::stacktrace::frame::native_frame_ptr_t>(address)).name();
  } catch (...) {
    return {};
  }
}

}  // namespace mproc::detail
