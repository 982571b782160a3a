#include "../function_names.hpp"

// An MSVC build's names are in its PDB, which DbgHelp reads (MinGW builds use
// function_names_coff.cpp). DbgHelp is single-threaded: every call holds the lock.
#include <map>
#include <mutex>

#include <windows.h>
#include <dbghelp.h>

namespace mproc::detail {

std::string function_name(std::uintptr_t address) noexcept {
  static auto* guard = new std::mutex();  // never destroyed: a pool may fail tasks while the program exits
  static auto* known = new std::map<std::uintptr_t, std::string>();
  static bool ready = false;
  try {
    std::lock_guard lock(*guard);
    auto found = known->find(address);
    if (found != known->end()) return found->second;
    if (!ready) {
      ::SymSetOptions(::SymGetOptions() | SYMOPT_UNDNAME | SYMOPT_DEFERRED_LOADS);
      ready = ::SymInitialize(::GetCurrentProcess(), nullptr, TRUE) != FALSE;
    }
    std::string name;
    alignas(SYMBOL_INFO) char storage[sizeof(SYMBOL_INFO) + MAX_SYM_NAME];
    auto* symbol = reinterpret_cast<SYMBOL_INFO*>(storage);
    symbol->SizeOfStruct = sizeof(SYMBOL_INFO);
    symbol->MaxNameLen = MAX_SYM_NAME;
    DWORD64 displacement = 0;
    if (ready && ::SymFromAddr(::GetCurrentProcess(), address, &displacement, symbol)) name = symbol->Name;
    return known->emplace(address, std::move(name)).first->second;
  } catch (...) {
    return {};
  }
}

}  // namespace mproc::detail
