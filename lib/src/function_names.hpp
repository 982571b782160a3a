// Names of functions, for people: "demo::crunch(int)".
#pragma once

#include <cstdint>
#include <string>

namespace mproc::detail {

/// The demangled name of the function at `address` in this process (POSIX:
/// from the program's symbols, through Boost.Stacktrace's libbacktrace
/// backend); empty when unknown (a stripped program; Windows).
std::string function_name(std::uintptr_t address) noexcept;

}  // namespace mproc::detail
