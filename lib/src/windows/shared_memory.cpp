// Shared memory blocks on Windows: native sections (Boost.Interprocess's
// windows_shared_memory), which Windows frees with their last handle, so a
// block goes when every process using it has closed it or died, with no
// bookkeeping of users and no resource tracker. The first page is a header:
// the size asked for and whether unlink() was called (a section's name cannot
// be removed while it is open, so unlink() only closes it to new attachers).
#include <mproc/detail/handles.hpp>
#include <mproc/shared_memory.hpp>

#include "../launch.hpp"
#include "../shared_blocks.hpp"
#include "handle.hpp"
#include "shared_memory_state.hpp"

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/windows_shared_memory.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

namespace mproc::detail {
namespace bip = boost::interprocess;

namespace {

constexpr std::uint32_t segment_magic = 0x4d50534du;  // "MPSM"

}  // namespace

// Declared in shared_memory_state.hpp.
struct segment_header {
  std::atomic<std::uint32_t> magic;     // set last, once the header is ready
  std::atomic<std::uint32_t> unlinked;  // nobody may attach
  std::uint64_t size;                   // the user's bytes
};

namespace {

constexpr std::size_t header_bytes = 4096;

// Commits [at, at + n) of this process's view of a SEC_RESERVE section (on a
// view of a committed section there is nothing to do, and it may fail).
bool commit_view(void* at, std::size_t n) { return ::VirtualAlloc(at, n, MEM_COMMIT, PAGE_READWRITE) != nullptr; }

std::string random_name() {
  std::random_device device;
  std::ostringstream name;
  name << "mproc_" << current_pid() << '_' << std::hex;
  for (int i = 0; i < 4; ++i) name << device();
  return name.str();
}

}  // namespace


namespace {

// Opens (or creates) the section in place, with `how`, and maps it.
template <class How>
std::shared_ptr<shared_memory_state> map_section(const std::string& name, How&& how) {
  auto state = std::make_shared<shared_memory_state>();
  state->name = name;
  how(state->section);
  state->region = bip::mapped_region(*state->section, bip::read_write);
  state->header = static_cast<segment_header*>(state->region.get_address());
  state->data = static_cast<std::byte*>(state->region.get_address()) + header_bytes;
  return state;
}

std::shared_ptr<shared_memory_state> open_block(const std::string& name) {
  auto state = map_section(name, [&](std::optional<bip::windows_shared_memory>& section) {
    try {
      section.emplace(bip::open_only, name.c_str(), bip::read_write);
    } catch (const bip::interprocess_exception&) {
      throw not_found_error("no shared memory is called '" + name + "'");
    }
    if (section->get_size() < static_cast<bip::offset_t>(header_bytes)) {
      throw error("'" + name + "' is not shared memory of mproc's");
    }
  });
  // The creator writes the header, magic last. A reserved section's header
  // page is committed in this view first (harmless on a committed one).
  commit_view(state->region.get_address(), header_bytes);
  for (int tries = 0; state->header->magic.load(std::memory_order_acquire) != segment_magic; ++tries) {
    if (tries == 1000) throw error("'" + name + "' is not shared memory of mproc's");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (state->header->unlinked.load() != 0) throw not_found_error("shared memory '" + name + "' was unlinked");
  state->size = static_cast<std::size_t>(state->header->size);
  return state;
}

}  // namespace

// A block passed to a child is kept alive for it: a copy of the section handle
// is held until the child is known, then moved into the child (which holds it
// until it ends). A pool task's arguments are told -1 when the task is done,
// which closes the copy.
std::string reserve_for_child(const std::shared_ptr<shared_memory_state>& state) {
  handle_outbox* box = outbox_for_block(state);
  auto keep = std::make_shared<windows::unique_handle>(
      windows::duplicate_into(::GetCurrentProcess(), state->section->get_mapping_handle().handle));
  box->on_started([keep](int pid) {
    if (pid <= 0 || !*keep) return;
    windows::unique_handle child(::OpenProcess(PROCESS_DUP_HANDLE, FALSE, static_cast<DWORD>(pid)));
    if (child) windows::duplicate_into(child.get(), keep->get());
  });
  return {};
}

std::shared_ptr<shared_memory_state> attach_reserved(const std::string& name, const std::string&) {
  return open_block(name);
}

// Windows closes every handle of an ending process, and the section with the last.
void release_blocks_at_exit() noexcept {}

// A section lives while a handle to it is open, and a killed process's handles close: nothing to sweep.
void sweep_blocks_let_go() noexcept {}

// Sections are committed whole at creation (their pages are touched lazily),
// but for `reserved` blocks, whose users commit what they use (SEC_RESERVE,
// which Boost's windows_shared_memory cannot ask for: made here, then opened).
shared_memory create_block(const std::string& name, std::size_t size, commit data) {
  if (size == 0) throw error("shared memory of size 0 cannot be created");
  std::optional<windows::unique_handle> reserved;
  if (data == commit::reserved) {
    const std::uint64_t bytes = header_bytes + static_cast<std::uint64_t>(size);
    HANDLE made = ::CreateFileMappingA(INVALID_HANDLE_VALUE, nullptr, PAGE_READWRITE | SEC_RESERVE,
                                       static_cast<DWORD>(bytes >> 32), static_cast<DWORD>(bytes), name.c_str());
    const DWORD code = ::GetLastError();
    if (made != nullptr) reserved.emplace(made);
    if (code == ERROR_ALREADY_EXISTS) throw exists_error("shared memory called '" + name + "' exists already");
    if (made == nullptr) {
      throw error("cannot reserve shared memory '" + name + "' of " + std::to_string(size) + " bytes: error " +
                  std::to_string(code));
    }
  }
  auto state = map_section(name, [&](std::optional<bip::windows_shared_memory>& section) {
    try {
      if (reserved) {
        section.emplace(bip::open_only, name.c_str(), bip::read_write);
      } else {
        section.emplace(bip::create_only, name.c_str(), bip::read_write, header_bytes + size);
      }
    } catch (const bip::interprocess_exception& e) {
      if (e.get_error_code() == bip::already_exists_error) {
        throw exists_error("shared memory called '" + name + "' exists already");
      }
      throw error("cannot create shared memory '" + name + "' of " + std::to_string(size) + " bytes: " + e.what());
    }
  });
  if (reserved) commit_view(state->region.get_address(), header_bytes);
  state->header->size = size;
  state->header->magic.store(segment_magic, std::memory_order_release);
  state->size = size;
  return shared_memory(std::move(state));
}

shared_memory create_block(std::size_t size, commit data) { return create_block(random_name(), size, data); }

void commit_data(const shared_memory& block, std::size_t offset, std::size_t n) {
  if (n == 0 || block.closed()) return;
  std::byte* at = block.bytes().data() + offset;
  MEMORY_BASIC_INFORMATION page{};
  if (::VirtualQuery(at, &page, sizeof page) != 0 && page.State == MEM_COMMIT && page.RegionSize >= n) return;
  if (!commit_view(at, n)) {
    throw error("cannot commit " + std::to_string(n) + " bytes of shared memory '" + block.name() + "': error " +
                std::to_string(::GetLastError()));
  }
}

bool release_data(const shared_memory&, std::size_t, std::size_t) { return false; }  // a mapped view cannot be decommitted

std::size_t shared_memory_room() {
  MEMORYSTATUSEX status{};
  status.dwLength = sizeof status;
  if (!::GlobalMemoryStatusEx(&status)) return std::size_t{1} << 34;
  return static_cast<std::size_t>(status.ullTotalPhys);
}

void set_inherited_by_fork(const shared_memory&, bool) {}  // no fork on Windows

}  // namespace mproc::detail

namespace mproc {

shared_memory shared_memory::create(std::size_t size) { return create(detail::random_name(), size); }

shared_memory shared_memory::create(const std::string& name, std::size_t size) {
  return detail::create_block(name, size, detail::commit::at_once);
}

shared_memory shared_memory::attach(const std::string& name) { return shared_memory(detail::open_block(name)); }

void shared_memory::unlink() {
  if (closed()) throw closed_error("the shared memory handle is closed");
  state_->header->unlinked.store(1);
}

}  // namespace mproc
