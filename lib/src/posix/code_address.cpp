// Code addresses as (module, offset): see mproc/detail/target.hpp.
// dl_iterate_phdr lists every loaded module with its load address and segments,
// so one walk both names the module of an address and checks that an address
// received from the parent lies in executable code.
#include <mproc/detail/target.hpp>
#include <mproc/error.hpp>

#include <link.h>

#include <sstream>

namespace mproc::detail {
namespace {

struct segment_search {
  // input: find the module of `address`, or (when `module` is set) the module named so
  std::uintptr_t address = 0;
  const std::string* module = nullptr;
  std::uint64_t offset = 0;
  // output
  bool module_found = false;
  bool in_code = false;
  std::string found_module;
  std::uintptr_t load_address = 0;
};

bool in_executable_segment(const dl_phdr_info& info, std::uintptr_t address) {
  for (int i = 0; i < info.dlpi_phnum; ++i) {
    const auto& segment = info.dlpi_phdr[i];
    if (segment.p_type != PT_LOAD || (segment.p_flags & PF_X) == 0) continue;
    const std::uintptr_t start = info.dlpi_addr + segment.p_vaddr;
    if (address >= start && address < start + segment.p_memsz) return true;
  }
  return false;
}

int visit(dl_phdr_info* info, std::size_t, void* data) {
  auto& search = *static_cast<segment_search*>(data);
  const std::string name = info->dlpi_name == nullptr ? "" : info->dlpi_name;
  if (search.module != nullptr) {
    if (name != *search.module) return 0;
    search.module_found = true;
    search.address = info->dlpi_addr + search.offset;
    search.in_code = in_executable_segment(*info, search.address);
    return 1;
  }
  if (!in_executable_segment(*info, search.address)) return 0;
  search.module_found = search.in_code = true;
  search.found_module = name;
  search.load_address = info->dlpi_addr;
  return 1;
}

std::string hex(std::uintptr_t value) {
  std::ostringstream out;
  out << std::hex << "0x" << value;
  return out.str();
}

}  // namespace

code_address locate_code(std::uintptr_t address) {
  segment_search search;
  search.address = address;
  dl_iterate_phdr(visit, &search);
  if (!search.in_code) throw process_error("address " + hex(address) + " is not code of a loaded module");
  return {search.found_module, address - search.load_address};
}

std::uintptr_t resolve_code(const code_address& code) {
  segment_search search;
  search.module = &code.module;
  search.offset = code.offset;
  dl_iterate_phdr(visit, &search);
  const std::string module = code.module.empty() ? "the main program" : "module " + code.module;
  if (!search.module_found) {
    throw process_error("the target's " + module + " is not loaded in the child");
  }
  if (!search.in_code) {
    throw process_error("offset " + hex(code.offset) + " is not code in " + module +
                        " of the child (is the child running a different build?)");
  }
  return search.address;
}

}  // namespace mproc::detail
