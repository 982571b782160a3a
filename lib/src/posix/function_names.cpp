#include "../function_names.hpp"

// The compiled libboost_stacktrace_backtrace: libbacktrace reads the symbol
// tables and DWARF of the program, which dladdr() cannot (it sees only
// exported symbols, none of an executable's without -rdynamic).
#define BOOST_STACKTRACE_LINK
#include <boost/stacktrace/frame.hpp>

#include <map>
#include <mutex>

namespace mproc::detail {

std::string function_name(std::uintptr_t address) noexcept {
  // Reading the symbols costs milliseconds: each name is looked up once.
  static auto* guard = new std::mutex();  // never destroyed: a pool may fail tasks while the program exits
  static auto* known = new std::map<std::uintptr_t, std::string>();
  try {
    std::lock_guard lock(*guard);
    auto found = known->find(address);
    if (found != known->end()) return found->second;
    std::string name =
        boost::stacktrace::frame(reinterpret_cast<boost::stacktrace::frame::native_frame_ptr_t>(address)).name();
    return known->emplace(address, std::move(name)).first->second;
  } catch (...) {
    return {};
  }
}

}  // namespace mproc::detail
