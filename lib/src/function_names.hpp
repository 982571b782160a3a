// Names of functions, for people: "demo::crunch(int)".
#pragma once

#include <cstdint>
#include <string>

namespace mproc::detail {

/// The demangled name of the function at `address` in this process, from the
/// program's symbols (POSIX: through Boost.Stacktrace's libbacktrace backend;
/// Windows: the COFF symbol table MinGW leaves); empty when unknown (a
/// stripped program).
std::string function_name(std::uintptr_t address) noexcept;

}  // namespace mproc::detail
