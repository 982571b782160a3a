// Shared memory blocks and who may remove their names.
//
// A block is a POSIX shared memory object (Boost.Interprocess) whose first page
// is a header: a robust process-shared mutex and a table of the processes that
// use the block, each as (pid, start time) so that a recycled pid never looks
// alive. Closing frees a process's slot; a dead user's slot is freed by the
// next process that looks (attach or close); the last user out removes the
// name. The mutex is pthread's own, robust: Boost 1.81's robust path never calls
// pthread_mutex_consistent, which leaves the mutex unusable for good after a
// holder dies.
#include <mproc/detail/handles.hpp>
#include <mproc/shared_memory.hpp>

#include "../launch.hpp"
#include "../shared_blocks.hpp"
#include "resource_tracker.hpp"
#include "shared_memory_state.hpp"

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <sstream>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace mproc::detail {
namespace bip = boost::interprocess;

namespace {

constexpr std::uint32_t segment_magic = 0x4d50534du;  // "MPSM"
// Enough for a pool of 4,096 workers, its parent and the children it starts
// while replacing some. The table is sparse in /dev/shm: only the pages of
// slots ever used are committed (`slots_committed`), so a block used by two
// processes costs one page of header, not 200 KiB.
constexpr std::size_t max_users = 8192;

}  // namespace

// Not in the anonymous namespace: segment_header, declared in a header, holds them.
struct user_slot {
  std::int32_t pid;            // 0: free
  std::uint32_t unused;
  std::uint64_t start_time;    // of that pid, in clock ticks since boot
  std::uint64_t reservation;   // not 0: held for a child that has not attached yet
};

// Declared in shared_memory_state.hpp.
struct segment_header {
  std::atomic<std::uint32_t> magic;  // set last, once the header is ready
  std::uint32_t unlinked;            // the name is gone: nobody may attach
  std::uint64_t size;                // the user's bytes
  pthread_mutex_t mutex;
  std::uint32_t slots_used;       // slots [0, slots_used) were taken once
  std::uint32_t slots_committed;  // slots whose pages are committed
  user_slot users[max_users];

  std::span<user_slot> used() noexcept { return {users, slots_used}; }
};

namespace {

constexpr std::size_t page_bytes = 4096;
constexpr std::size_t header_bytes = (sizeof(segment_header) + page_bytes - 1) / page_bytes * page_bytes;

// Slots whose bytes lie wholly within the header's first `bytes`.
constexpr std::uint32_t slots_within(std::size_t bytes) {
  return static_cast<std::uint32_t>(
      std::min(max_users, (bytes - offsetof(segment_header, users)) / sizeof(user_slot)));
}

// Commits [offset, offset + n) of an object sized sparse: a full /dev/shm is
// then a clear error here rather than a SIGBUS when the page is first written.
// File systems without fallocate commit on touch, as before.
void commit_pages(int fd, std::size_t offset, std::size_t n, const std::string& name) {
  if (n == 0) return;
  int result = EINTR;
  while (result == EINTR) {
    result = ::posix_fallocate(fd, static_cast<off_t>(offset), static_cast<off_t>(n));
  }
  if (result == 0 || result == EOPNOTSUPP || result == ENODEV) return;
  throw error("cannot commit " + std::to_string(n) + " bytes of shared memory '" + name +
              "': " + std::strerror(result) + (result == ENOSPC ? " (/dev/shm is full)" : ""));
}

void commit_pages(const std::string& name, std::size_t offset, std::size_t n) {
  bip::shared_memory_object object(bip::open_only, name.c_str(), bip::read_write);
  commit_pages(object.get_mapping_handle().handle, offset, n, name);
}

// Frees the pages of [offset, offset + n) whole within it; a file system
// that cannot punch holes keeps them (nothing is wrong, memory is not given back).
void release_pages(const std::string& name, std::size_t offset, std::size_t n) {
  const std::size_t from = (offset + page_bytes - 1) / page_bytes * page_bytes;
  const std::size_t to = (offset + n) / page_bytes * page_bytes;
  if (to <= from) return;
  bip::shared_memory_object object(bip::open_only, name.c_str(), bip::read_write);
  ::fallocate(object.get_mapping_handle().handle, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
              static_cast<off_t>(from), static_cast<off_t>(to - from));
}

// Field 22 of /proc/<pid>/stat; empty for a process that is gone or a zombie.
// Plain system calls and no allocation: the resource tracker calls it in a
// child forked from a process whose other threads may hold any lock.
std::optional<std::uint64_t> start_time_of(int pid) {
  char path[32];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char text[1024];
  const ssize_t length = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  if (length <= 0) return std::nullopt;
  text[length] = '\0';
  const char* field = std::strrchr(text, ')');  // the command name may hold anything but this
  if (field == nullptr) return std::nullopt;
  field += 2;  // field 3, the state
  if (*field == 'Z') return std::nullopt;
  for (int i = 3; i < 22; ++i) {
    field = std::strchr(field, ' ');
    if (field == nullptr) return std::nullopt;
    ++field;
  }
  return std::strtoull(field, nullptr, 10);
}

}  // namespace

identity self() {
  static thread_local identity cached;
  const int pid = current_pid();
  if (cached.pid != pid) cached = {pid, start_time_of(pid).value_or(0)};
  return cached;
}

bool still_running(const identity& who) noexcept {
  const auto start = start_time_of(who.pid);
  return start && *start == who.start_time;
}

namespace {

bool alive(const user_slot& slot) { return still_running({slot.pid, slot.start_time}); }

class header_lock {
 public:
  explicit header_lock(segment_header& header) : mutex_(header.mutex) {
    const int result = ::pthread_mutex_lock(&mutex_);
    // A holder died: every change under this lock is a single store, so what
    // it left is consistent.
    if (result == EOWNERDEAD) ::pthread_mutex_consistent(&mutex_);
  }
  ~header_lock() { ::pthread_mutex_unlock(&mutex_); }
  header_lock(const header_lock&) = delete;
  header_lock& operator=(const header_lock&) = delete;

 private:
  pthread_mutex_t& mutex_;
};

// Straight from the kernel each time: a generator's state would be copied into
// forked children, which would then make the same "random" names.
std::uint64_t random_word() {
  std::uint64_t word = 0;
  while (::getrandom(&word, sizeof word, 0) != static_cast<ssize_t>(sizeof word)) {
  }
  return word;
}

// The creator's pid, which helps to find who leaked a block, then 128 random
// bits, which nobody can guess.
std::string random_name() {
  std::ostringstream name;
  name << "mproc_" << current_pid() << '_' << std::hex << random_word() << random_word();
  return name.str();
}

// The blocks this process uses, so that a forked child can be counted for each
// and every user's slot is freed when a process ends without closing them.
std::atomic<block_registry*> registry_instance{nullptr};

}  // namespace

block_registry& blocks() {
  block_registry* current = registry_instance.load(std::memory_order_acquire);
  if (current == nullptr) {
    auto* made = new block_registry();  // never destroyed: exit handlers use it
    if (registry_instance.compare_exchange_strong(current, made)) return *made;
    delete made;
  }
  return *current;
}

namespace {

void forget(shared_memory_state* state) {
  std::lock_guard lock(blocks().mutex);
  std::erase(blocks().states, state);
}

}  // namespace

// Looks at /proc only when the table is full: a fork of a process using N
// blocks claims N slots, and a pool of N workers forks N times.
void shared_memory_state::claim(identity who, std::uint64_t reservation) {
  header_lock lock(*header);
  if (header->unlinked) throw not_found_error("shared memory '" + name + "' was unlinked");
  const user_slot mine{who.pid, 0, who.start_time, reservation};
  for (auto& slot : header->used()) {
    if (slot.pid == 0) {
      slot = mine;
      return;
    }
  }
  if (header->slots_used < max_users) {
    if (header->slots_used == header->slots_committed) {  // the next slot's page, and a few more
      const std::size_t from = offsetof(segment_header, users) + header->slots_used * sizeof(user_slot);
      const std::size_t to = std::min(header_bytes, (from / page_bytes + 4) * page_bytes);
      commit_pages(name, from / page_bytes * page_bytes, to - from / page_bytes * page_bytes);
      header->slots_committed = slots_within(to);
    }
    header->users[header->slots_used++] = mine;
    return;
  }
  for (auto& slot : header->used()) {
    if (!alive(slot)) {
      slot = mine;
      return;
    }
  }
  throw error("shared memory '" + name + "' is used by " + std::to_string(max_users) +
              " processes, the most it can count");
}

bool shared_memory_state::hand_over(std::uint64_t reservation, std::optional<identity> to) noexcept {
  header_lock lock(*header);
  for (auto& slot : header->used()) {
    if (slot.pid == 0 || slot.reservation != reservation) continue;
    slot = to ? user_slot{to->pid, 0, to->start_time, 0} : user_slot{0, 0, 0, 0};
    return true;
  }
  return false;
}

std::optional<identity> identity_of(int pid) {
  const auto start = pid > 0 ? start_time_of(pid) : std::nullopt;
  if (!start) return std::nullopt;
  return identity{pid, *start};
}

std::uint64_t new_reservation_word() { return random_word() | 1; }

namespace {

// The names this process let go of while another user remained: usually a
// child of ours, and a child that is killed cannot let go itself, so the name
// would wait for the tracker's sweep (after a second of quiet on its socket,
// or our end). A child of ours that ends by a signal makes us look again.
struct let_go_names {
  std::mutex mutex;
  std::deque<std::string> names;  // the newest last
};
constexpr std::size_t let_go_kept = 64;  // older ones are left to the tracker

let_go_names& let_go() {
  static auto* made = new let_go_names();  // never destroyed: exit handlers release blocks
  return *made;
}

void remember_let_go(const std::string& name) noexcept {
  try {
    auto& l = let_go();
    std::lock_guard lock(l.mutex);
    l.names.push_back(name);
    if (l.names.size() > let_go_kept) l.names.pop_front();
  } catch (const std::exception&) {
    // Out of memory: the tracker's sweep removes it in time.
  }
}

}  // namespace

// Frees `who`'s slot, then looks for one live user (freeing dead users' slots
// on the way): the first it meets is usually alive, so this reads /proc once.
void shared_memory_state::release(identity who) noexcept {
  bool others_use_it = false;
  {
    header_lock lock(*header);
    for (auto& slot : header->used()) {
      if (slot.pid == who.pid && slot.start_time == who.start_time && slot.reservation == 0) {
        slot.pid = 0;
        break;
      }
    }
    for (auto& slot : header->used()) {
      if (slot.pid == 0) continue;
      if (alive(slot)) {
        others_use_it = true;
        break;
      }
      slot.pid = 0;  // a user that died without closing
    }
    while (header->slots_used > 0 && header->users[header->slots_used - 1].pid == 0) --header->slots_used;
    if (others_use_it || header->unlinked) {
      if (others_use_it) remember_let_go(name);
      return;
    }
    header->unlinked = 1;
    bip::shared_memory_object::remove(name.c_str());
  }
  untrack_block(name);
}

void reset_let_go_after_fork() noexcept { new (&let_go().mutex) std::mutex(); }

void sweep_blocks_let_go() noexcept {
  auto& l = let_go();
  std::deque<std::string> names;
  {
    std::lock_guard lock(l.mutex);
    names.swap(l.names);
  }
  // Creator {0, 0}, a process that never runs: a name that is gone is gone for
  // good (the block was complete when we let go, and names are never reused).
  std::erase_if(names, [](const std::string& name) {
    // Most are gone already (their last user let go): one system call says so,
    // where Boost would throw. A pool calls this under its lock.
    const int fd = ::shm_open(name.c_str(), O_RDONLY, 0);
    if (fd < 0) return errno == ENOENT;
    ::close(fd);
    if (!remove_if_unused(name, 0, 0)) return false;
    untrack_block(name);
    return true;
  });
  try {
    std::lock_guard lock(l.mutex);
    l.names.insert(l.names.begin(), names.begin(), names.end());
    while (l.names.size() > let_go_kept) l.names.pop_front();
  } catch (const std::exception&) {
    // Out of memory: the tracker's sweep removes them in time.
  }
}

void shared_memory_state::close() noexcept {
  if (header == nullptr) return;
  forget(this);
  release(self());
  header = nullptr;
  data = nullptr;
  region = bip::mapped_region();
}

namespace {

std::shared_ptr<shared_memory_state> map_block(const std::string& name, bip::shared_memory_object& object) {
  auto state = std::make_shared<shared_memory_state>();
  state->name = name;
  state->region = bip::mapped_region(object, bip::read_write);
  state->header = static_cast<segment_header*>(state->region.get_address());
  state->data = static_cast<std::byte*>(state->region.get_address()) + header_bytes;
  return state;
}

void remember(const std::shared_ptr<shared_memory_state>& state) {
  std::lock_guard lock(blocks().mutex);
  blocks().states.push_back(state.get());
}

std::shared_ptr<shared_memory_state> open_block(const std::string& name, std::uint64_t reservation) {
  std::optional<bip::shared_memory_object> object;
  try {
    object.emplace(bip::open_only, name.c_str(), bip::read_write);
  } catch (const bip::interprocess_exception&) {
    throw not_found_error("no shared memory is called '" + name + "'");
  }
  bip::offset_t total = 0;
  object->get_size(total);
  // The creator sizes the object, then writes the header, magic last.
  for (int tries = 0; static_cast<std::size_t>(total) < header_bytes && tries < 1000; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    object->get_size(total);
  }
  if (static_cast<std::size_t>(total) < header_bytes) throw error("'" + name + "' is not shared memory of mproc's");
  auto state = map_block(name, *object);
  for (int tries = 0; state->header->magic.load(std::memory_order_acquire) != segment_magic; ++tries) {
    if (tries == 1000) {
      state->header = nullptr;  // not ours: nothing to release
      throw error("'" + name + "' is not shared memory of mproc's");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  state->size = static_cast<std::size_t>(state->header->size);
  const identity me = self();
  if (reservation == 0 || !state->hand_over(reservation, me)) {
    try {
      state->claim(me);
    } catch (...) {
      state->header = nullptr;
      throw;
    }
  }
  remember(state);
  return state;
}

}  // namespace

std::string reserve_for_child(const std::shared_ptr<shared_memory_state>& state) {
  handle_outbox* box = outbox_for_block(state);
  // Held in our name until the child is known, then in the child's: the block
  // cannot lose its last user between start() and the child's attach.
  const std::uint64_t reservation = new_reservation_word();
  state->claim(self(), reservation);
  // The slot keeps its reservation, for the child to adopt when it attaches.
  box->on_started([state, reservation](int pid) {
    header_lock lock(*state->header);
    for (auto& slot : state->header->used()) {
      if (slot.pid == 0 || slot.reservation != reservation) continue;
      const auto child = identity_of(pid);
      slot.pid = child ? child->pid : 0;  // 0: the child never started, or is already gone
      slot.start_time = child ? child->start_time : 0;
    }
  });
  return std::to_string(reservation);
}

std::shared_ptr<shared_memory_state> attach_reserved(const std::string& name, const std::string& reservation) {
  return open_block(name, std::stoull(reservation));
}

bool remove_if_unused(const std::string& name, int creator_pid, std::uint64_t creator_start) noexcept {
  try {
    // The tracker hears of a block before it exists: until it is complete,
    // its creator's life decides (alive: being made; dead: never will be).
    const bool creator_alive = alive(user_slot{creator_pid, 0, creator_start, 0});
    std::optional<bip::shared_memory_object> object;
    try {
      object.emplace(bip::open_only, name.c_str(), bip::read_write);
    } catch (const bip::interprocess_exception&) {
      return !creator_alive;  // not made yet, or gone already
    }
    bip::offset_t total = 0;
    object->get_size(total);
    bool complete = static_cast<std::size_t>(total) >= header_bytes;
    std::optional<bip::mapped_region> region;
    if (complete) {
      region.emplace(*object, bip::read_write);
      complete = static_cast<segment_header*>(region->get_address())->magic.load(std::memory_order_acquire) ==
                 segment_magic;
    }
    if (!complete) {
      if (creator_alive) return false;  // still being made
      bip::shared_memory_object::remove(name.c_str());  // half made by a process that died
      return true;
    }
    auto& header = *static_cast<segment_header*>(region->get_address());
    header_lock lock(header);
    bool any = false;
    for (auto& slot : header.used()) {
      if (slot.pid == 0) continue;
      if (alive(slot)) {
        any = true;
      } else {
        slot.pid = 0;
      }
    }
    if (any) return false;
    // Even if marked unlinked: its last user may have died between the mark
    // and the removal, and the name still leads to this very block.
    header.unlinked = 1;
    bip::shared_memory_object::remove(name.c_str());
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

void release_blocks_at_exit() noexcept {
  block_registry* r = registry_instance.load(std::memory_order_acquire);
  if (r == nullptr) return;  // the common case: touch nothing
  std::vector<shared_memory_state*> states;
  {
    std::lock_guard lock(r->mutex);
    states = r->states;
  }
  for (auto* state : states) state->close();
}

shared_memory create_block(const std::string& name, std::size_t size, commit data) {
  if (size == 0) throw error("shared memory of size 0 cannot be created");
  bip::permissions owner_only(0600);
  // Told first, so that no moment of the creation is unknown to the tracker.
  track_block(name);
  std::optional<bip::shared_memory_object> object;
  try {
    object.emplace(bip::create_only, name.c_str(), bip::read_write, owner_only);
  } catch (const bip::interprocess_exception& e) {
    untrack_block(name);  // someone else's name, or none: not ours to remove
    if (e.get_error_code() == bip::already_exists_error) {
      throw exists_error("shared memory called '" + name + "' exists already");
    }
    throw error("cannot create shared memory '" + name + "': " + e.what());
  }
  // Sized sparse (not Boost's truncate, which commits every byte), then what
  // is written at once committed: the header's first page, and the data
  // unless its user commits it as it goes (a queue's ring).
  try {
    const int fd = object->get_mapping_handle().handle;
    if (::ftruncate(fd, static_cast<off_t>(header_bytes + size)) != 0) {
      throw error("cannot size shared memory '" + name + "' to " + std::to_string(size) +
                  " bytes: " + std::strerror(errno));
    }
    commit_pages(fd, 0, page_bytes, name);
    if (data == commit::at_once) commit_pages(fd, header_bytes, size, name);
  } catch (...) {
    bip::shared_memory_object::remove(name.c_str());
    untrack_block(name);
    throw;
  }
  auto state = map_block(name, *object);
  auto& header = *state->header;
  header.size = size;
  pthread_mutexattr_t attributes;
  ::pthread_mutexattr_init(&attributes);
  ::pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
  ::pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
  ::pthread_mutex_init(&header.mutex, &attributes);
  ::pthread_mutexattr_destroy(&attributes);
  const identity me = self();
  header.slots_committed = slots_within(page_bytes);
  header.slots_used = 1;
  header.users[0] = {me.pid, 0, me.start_time, 0};
  header.magic.store(segment_magic, std::memory_order_release);
  state->size = size;
  remember(state);
  return shared_memory(std::move(state));
}

shared_memory create_block(std::size_t size, commit data) { return create_block(random_name(), size, data); }

void set_inherited_by_fork(const shared_memory& block, bool inherited) {
  if (block.state_) block.state_->inherited_by_fork.store(inherited);
}

void commit_data(const shared_memory& block, std::size_t offset, std::size_t n) {
  commit_pages(block.name(), header_bytes + offset, n);
}

bool release_data(const shared_memory& block, std::size_t offset, std::size_t n) {
  release_pages(block.name(), header_bytes + offset, n);
  return true;
}

std::size_t shared_memory_room() {
  struct statvfs fs{};
  if (::statvfs("/dev/shm", &fs) != 0) return std::size_t{1} << 34;  // 16 GiB, if /dev/shm cannot say
  return static_cast<std::size_t>(fs.f_blocks) * fs.f_frsize;
}

}  // namespace mproc::detail

namespace mproc {

shared_memory shared_memory::create(std::size_t size) { return create(detail::random_name(), size); }

shared_memory shared_memory::create(const std::string& name, std::size_t size) {
  return detail::create_block(name, size, detail::commit::at_once);
}

shared_memory shared_memory::attach(const std::string& name) { return shared_memory(detail::open_block(name, 0)); }

void shared_memory::unlink() {
  if (closed()) throw closed_error("the shared memory handle is closed");
  detail::header_lock lock(*state_->header);
  if (!state_->header->unlinked) {
    state_->header->unlinked = 1;
    boost::interprocess::shared_memory_object::remove(state_->name.c_str());
    detail::untrack_block(state_->name);
  }
}

}  // namespace mproc
