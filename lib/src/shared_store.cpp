// The shared containers' store: holding it (the lock, a dead holder's change
// finished), the journal, and space (growing, compacting). The format and the
// design are in shared_store.hpp.
#include "shared_store.hpp"

#include <mproc/detail/handles.hpp>

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>

namespace mproc::detail {

using namespace store_format;

namespace {

std::atomic<void (*)(int)> probe_function{nullptr};

}  // namespace

void store_format::probe(int point) {
  if (auto* f = probe_function.load(std::memory_order_relaxed)) f(point);
}

void set_container_probe(void (*probe)(int point)) noexcept { probe_function.store(probe); }

byte_container::store::store(const byte_container& container)
    : owner(container), base(checked_bytes(container)), l(*reinterpret_cast<layout*>(base)), r(l.now) {
  lock_mutex(l.lock, std::nullopt);
  // Complete only between a change's mark and its end, where no user code
  // runs: a holder died there. Its change is applied again, whole.
  if (l.log.complete.load(std::memory_order_acquire) != 0) apply_journal();
  try {
    sync_view();
  } catch (...) {
    unlock_mutex(l.lock);
    throw;
  }
}

byte_container::store::~store() { unlock_mutex(l.lock); }

std::byte* byte_container::store::checked_bytes(const byte_container& container) {
  if (container.block_.closed()) throw closed_error("the shared container is closed");
  if (!container.view_header_) {
    commit_data(container.block_, 0, halves_start);
    container.view_header_ = true;
  }
  return container.block_.bytes().data();
}

void byte_container::store::change::commit() {
  probe(1);
  s_.l.log.count = static_cast<std::uint32_t>(count_);
  s_.l.log.complete.store(1, std::memory_order_release);
  probe(2);
  s_.apply_journal();
}

void byte_container::store::apply_journal() {
  const auto& log = l.log;
  const std::uint32_t count = std::min<std::uint32_t>(log.count, max_writes);
  for (std::uint32_t i = 0; i < count; ++i) {
    if (log.writes[i].at + 8 > owner.block_.size()) continue;  // never written by us: ignore
    word(log.writes[i].at) = log.writes[i].value;
    if (i == count / 2) probe(3);
  }
  l.log.complete.store(0, std::memory_order_release);
}

void byte_container::store::sync_view() {
  for (std::uint64_t half = 0; half < 2; ++half) {
    const std::uint64_t committed = l.committed[half].load();
    std::uint64_t& mine = owner.view_committed_[half];
    if (mine >= committed) continue;
    commit_data(owner.block_, half_start(half) + mine, committed - mine);
    mine = committed;
  }
}

void byte_container::store::commit_to(std::uint64_t half, std::uint64_t end) {
  const std::uint64_t have = l.committed[half].load();
  const std::uint64_t wanted = end - half_start(half);
  if (wanted <= have) return;
  const std::uint64_t next = std::min(l.half_bytes, round_page(std::max({wanted, 2 * have, first_commit})));
  commit_data(owner.block_, half_start(half) + have, next - have);  // throws when memory is short: nothing changed
  owner.view_committed_[half] = std::max(owner.view_committed_[half], next);
  l.committed[half].store(next);
  probe(5);
}

void byte_container::store::full(std::uint64_t need) {
  const std::string what(l.noun);
  if (l.max_bytes != 0 && r.live + need > l.max_bytes) {
    throw error("the " + what + " is full: it may hold " + std::to_string(l.max_bytes) + " bytes, holds " +
                std::to_string(r.live) + " and needs " + std::to_string(need) + " more");
  }
  throw error("the " + what + " cannot grow past " + std::to_string(l.half_bytes) +
              " bytes (the shared memory this machine allows): it holds " + std::to_string(r.live) +
              " and needs " + std::to_string(need) + " more");
}

void byte_container::store::make_room(std::uint64_t need) {
  if (l.max_bytes != 0 && r.live + need > l.max_bytes) full(need);
  const std::uint64_t half = r.active;
  const std::uint64_t end = r.tail + need;
  if (end <= half_start(half) + l.committed[half].load()) return;
  const std::uint64_t garbage = r.tail - half_start(half) - r.live;
  if (garbage > r.live || end > half_start(half) + l.half_bytes) {
    compact(need, true);
    return;
  }
  commit_to(half, end);
}

void byte_container::store::compact(std::uint64_t need, bool keep_items) {
  const std::uint64_t from = r.active;
  const std::uint64_t to = 1 - from;
  const std::uint64_t size = keep_items ? r.size : 0;
  const std::uint64_t slots = std::max(first_slots, std::bit_ceil(std::max<std::uint64_t>(size, 1) * (is_map() ? 4 : 2)));
  std::uint64_t records = 0;  // summed, not taken from r.live: a wrong count must not write past the commit
  if (keep_items && is_map()) {
    const std::uint64_t* cells = &word(r.table);
    for (std::uint64_t i = 0; i < r.slots; ++i) {
      if (cells[2 * i + 1] > erased_cell) records += size_of(cells[2 * i + 1]);
    }
  } else if (keep_items) {
    for (std::uint64_t i = 0; i < size; ++i) records += list_record_bytes(item_at(i));
  }
  const std::uint64_t required = table_bytes(slots) + records + need;
  if (required > l.half_bytes) full(need);
  const std::uint64_t table = half_start(to);
  commit_to(to, table + required);
  std::memset(base + table, 0, table_bytes(slots));
  std::uint64_t tail = table + table_bytes(slots);
  if (keep_items && is_map()) {
    const std::uint64_t* cells = &word(r.table);
    for (std::uint64_t i = 0; i < r.slots; ++i) {
      if (cells[2 * i + 1] <= erased_cell) continue;
      std::uint64_t* cell = free_cell(table, slots, cells[2 * i]);
      cell[0] = cells[2 * i];
      cell[1] = tail;
      tail += copy_record(tail, cells[2 * i + 1]);
    }
  } else if (keep_items) {
    std::uint64_t* cells = list_cells(table);
    for (std::uint64_t i = 0; i < size; ++i) {
      const std::uint64_t cell = item_at(i);
      if (holds_inline(cell)) {
        cells[i] = cell;
      } else {
        cells[i] = tail;
        tail += copy_record(tail, cell);
      }
    }
  }
  probe(4);
  change c(*this);
  c.set(r.active, to);
  c.set(r.table, table);
  c.set(r.slots, slots);
  c.set(r.size, size);
  c.set(r.erased, 0);
  c.set(r.tail, tail);
  c.set(r.live, tail - table);
  c.commit();
  // The old half's memory goes back (nobody reads there: every reader holds
  // the lock); where it cannot (Windows), its pages stay committed for reuse.
  const std::uint64_t old = l.committed[from].exchange(0);
  if (!release_data(owner.block_, half_start(from), old)) l.committed[from].store(old);
}

byte_container::byte_container(kind what, std::size_t max_bytes, const char* noun) {
  if (current_inbox() != nullptr) return;  // a placeholder, being decoded
  const std::uint64_t half = max_bytes != 0 ? round_page(2 * static_cast<std::uint64_t>(max_bytes) + first_commit)
                                            : round_page(std::max<std::uint64_t>(shared_memory_room(), first_commit));
  block_ = create_block(halves_start + 2 * half, commit::reserved);
  const std::uint64_t first = std::min(half, first_commit);
  commit_data(block_, 0, halves_start + first);
  view_header_ = true;
  view_committed_[0] = first;
  auto* l = new (block_.bytes().data()) layout{};
  init_mutex(l->lock, lock_type::recursive);
  l->kind = static_cast<std::uint32_t>(what);
  l->half_bytes = half;
  l->max_bytes = max_bytes;
  l->committed[0].store(first);
  std::strncpy(l->noun, noun, sizeof l->noun - 1);
  auto& r = l->now;
  const std::uint64_t table_bytes = first_slots * (what == kind::map ? 16 : 8);
  r.table = halves_start;
  r.slots = first_slots;
  r.tail = halves_start + table_bytes;
  r.live = table_bytes;
  std::memset(block_.bytes().data() + halves_start, 0, table_bytes);
  l->magic.store(store_magic, std::memory_order_release);
}

std::size_t byte_container::size() const {
  store s(*this);
  return s.r.size;
}

void byte_container::clear() {
  store s(*this);
  s.compact(0, false);  // an empty table in the other half; this half's memory goes back
}

void byte_container::lock() const {
  store s(*this);
  lock_mutex(s.l.lock);  // held once more than `s` releases
}

void byte_container::unlock() const noexcept {
  if (block_.closed()) return;
  unlock_mutex(reinterpret_cast<layout*>(block_.bytes().data())->lock);
}

std::size_t byte_container::committed_bytes() const {
  store s(*this);
  return halves_start + s.l.committed[0].load() + s.l.committed[1].load();
}

}  // namespace mproc::detail
