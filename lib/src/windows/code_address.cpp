// Code addresses as (module, offset): see mproc/detail/target.hpp. A module is
// named by its file name, "" for the program itself; an address received from
// the parent must lie in an executable page of that module.
#include <mproc/detail/target.hpp>
#include <mproc/error.hpp>

#include <sstream>

#include <windows.h>

namespace mproc::detail {
namespace {

std::string hex(std::uintptr_t value) {
  std::ostringstream out;
  out << std::hex << "0x" << value;
  return out.str();
}

bool executable(std::uintptr_t address) {
  MEMORY_BASIC_INFORMATION info{};
  if (::VirtualQuery(reinterpret_cast<void*>(address), &info, sizeof info) == 0) return false;
  constexpr DWORD execute = PAGE_EXECUTE | PAGE_EXECUTE_READ | PAGE_EXECUTE_READWRITE | PAGE_EXECUTE_WRITECOPY;
  return info.State == MEM_COMMIT && (info.Protect & execute) != 0;
}

std::string module_file(HMODULE module) {
  char path[MAX_PATH * 2];
  const DWORD length = ::GetModuleFileNameA(module, path, sizeof path);
  const std::string full(path, length);
  const auto slash = full.find_last_of("\\/");
  return slash == std::string::npos ? full : full.substr(slash + 1);
}

}  // namespace

code_address locate_code(std::uintptr_t address) {
  HMODULE module = nullptr;
  if (!executable(address) ||
      !::GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                            reinterpret_cast<const char*>(address), &module)) {
    throw process_error("address " + hex(address) + " is not code of a loaded module");
  }
  const std::string name = module == ::GetModuleHandleA(nullptr) ? "" : module_file(module);
  return {name, address - reinterpret_cast<std::uintptr_t>(module)};
}

std::uintptr_t resolve_code(const code_address& code) {
  HMODULE module = ::GetModuleHandleA(code.module.empty() ? nullptr : code.module.c_str());
  const std::string what = code.module.empty() ? "the main program" : "module " + code.module;
  if (module == nullptr) throw process_error("the target's " + what + " is not loaded in the child");
  const std::uintptr_t address = reinterpret_cast<std::uintptr_t>(module) + code.offset;
  if (!executable(address)) {
    throw process_error("offset " + hex(code.offset) + " is not code in " + what +
                        " of the child (is the child running a different build?)");
  }
  return address;
}

}  // namespace mproc::detail
