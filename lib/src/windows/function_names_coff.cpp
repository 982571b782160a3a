#include "../function_names.hpp"

// A MinGW build's names: the COFF symbol table that its linker leaves in a
// program (unless stripped), read by hand, as no library in a MinGW build
// reads it. Boost.Stacktrace's Windows backend goes through DbgEng and DbgHelp,
// which want PDBs (an MSVC build's: function_names_pdb.cpp); Wine's DbgHelp
// reads GCC's DWARF 4 of -g builds only, without parameter types. The table
// lies in the file, past the sections, so it is read from the module's file.
#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include <windows.h>

namespace mproc::detail {
namespace {

struct coff_function {
  std::uintptr_t rva;
  std::string mangled;
};

// The functions of the module loaded at `base`, sorted by address.
std::vector<coff_function> read_functions(HMODULE module) {
  const auto* base = reinterpret_cast<const unsigned char*>(module);
  const auto* dos = reinterpret_cast<const IMAGE_DOS_HEADER*>(base);
  const auto* nt = reinterpret_cast<const IMAGE_NT_HEADERS*>(base + dos->e_lfanew);
  const IMAGE_FILE_HEADER& file = nt->FileHeader;
  if (file.PointerToSymbolTable == 0 || file.NumberOfSymbols == 0) return {};  // stripped
  const IMAGE_SECTION_HEADER* sections = IMAGE_FIRST_SECTION(nt);

  wchar_t path[MAX_PATH];
  const DWORD length = ::GetModuleFileNameW(module, path, MAX_PATH);
  if (length == 0 || length == MAX_PATH) return {};
  std::ifstream in(path, std::ios::binary);
  std::vector<IMAGE_SYMBOL> symbols(file.NumberOfSymbols);
  in.seekg(file.PointerToSymbolTable);
  in.read(reinterpret_cast<char*>(symbols.data()), static_cast<std::streamsize>(symbols.size() * sizeof(IMAGE_SYMBOL)));
  std::uint32_t strings_size = 0;  // the string table follows, its size first (the 4 bytes included)
  in.read(reinterpret_cast<char*>(&strings_size), sizeof strings_size);
  if (!in || strings_size < 4 || strings_size > (256u << 20)) return {};
  std::string strings(strings_size, '\0');
  in.read(strings.data() + 4, strings_size - 4);
  if (!in) return {};

  std::vector<coff_function> functions;
  for (std::size_t i = 0; i < symbols.size(); i += 1 + symbols[i].NumberOfAuxSymbols) {
    const IMAGE_SYMBOL& symbol = symbols[i];
    const bool code = symbol.Type == (IMAGE_SYM_DTYPE_FUNCTION << 4) &&
                      (symbol.StorageClass == IMAGE_SYM_CLASS_EXTERNAL || symbol.StorageClass == IMAGE_SYM_CLASS_STATIC);
    if (!code || symbol.SectionNumber <= 0 || symbol.SectionNumber > file.NumberOfSections) continue;
    std::string name;
    if (symbol.N.Name.Short != 0) {
      const auto* short_name = reinterpret_cast<const char*>(symbol.N.ShortName);
      name.assign(short_name, strnlen(short_name, 8));
    } else if (symbol.N.Name.Long < strings.size()) {
      name = strings.c_str() + symbol.N.Name.Long;
    }
    functions.push_back({sections[symbol.SectionNumber - 1].VirtualAddress + symbol.Value, std::move(name)});
  }
  std::sort(functions.begin(), functions.end(), [](const auto& a, const auto& b) { return a.rva < b.rva; });
  return functions;
}

std::string demangled(const std::string& mangled) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> name(abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status),
                                                   &std::free);
  return status == 0 ? std::string(name.get()) : mangled;  // a C function's name is not mangled
}

}  // namespace

std::string function_name(std::uintptr_t address) noexcept {
  // Reading a module's table costs milliseconds: each is read once.
  static auto* guard = new std::mutex();  // never destroyed: a pool may fail tasks while the program exits
  static auto* modules = new std::map<HMODULE, std::vector<coff_function>>();
  try {
    HMODULE module = nullptr;
    if (!::GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                              reinterpret_cast<LPCWSTR>(address), &module)) {
      return {};
    }
    std::lock_guard lock(*guard);
    auto found = modules->find(module);
    if (found == modules->end()) found = modules->emplace(module, read_functions(module)).first;
    const auto& functions = found->second;
    const std::uintptr_t rva = address - reinterpret_cast<std::uintptr_t>(module);
    auto after = std::upper_bound(functions.begin(), functions.end(), rva,
                                  [](std::uintptr_t value, const coff_function& f) { return value < f.rva; });
    if (after == functions.begin()) return {};
    return demangled(std::prev(after)->mangled);
  } catch (...) {
    return {};
  }
}

}  // namespace mproc::detail
