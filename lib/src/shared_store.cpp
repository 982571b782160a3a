// The engine of the shared containers: byte strings in one shared memory block
// that every process maps whole, changed under a robust lock in the block.
//
// Why not Boost.Interprocess containers (as before): a process killed in the
// middle of a change leaves their allocator and trees half-written, and
// nothing can repair that; and their heap cannot grow under processes that
// map it. So this is a small log-structured store written for the purpose:
//
// - Layout. A header page, then two halves of equal size, reserved (sparse:
//   memory is committed only as it is used). One half is active: items are
//   appended at its `tail` as records (lengths, key, value) and reached
//   through a table (a list: the items' offsets in order; a map: an
//   open-addressing hash table of (hash, offset) cells).
// - Changes are a few 8-byte words (the root's fields, a table cell). New
//   bytes are written past the tail first, where nobody looks; then the words
//   go to a journal, the journal is marked complete, the words are applied and
//   the mark cleared. A process killed before the mark changed nothing; after
//   it, the next holder of the lock (robust: it is handed over when its holder
//   dies) applies the journal again. So every change is whole or absent.
// - Growth commits more of the active half (doubling); replaced items become
//   garbage. When garbage outweighs what is live, or the half is used up, the
//   live items are copied compactly into the other half, the root switched to
//   it in one journalled change, and the old half's memory handed back. Every
//   process maps both halves from the start, so growing never remaps and
//   nobody can hold a stale view; the block's name and lifetime stay those of
//   a plain shared memory block (refcounted, known to the resource tracker).
#include <mproc/detail/byte_container.hpp>
#include <mproc/detail/handles.hpp>
#include <mproc/error.hpp>

#include "robust_mutex.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <new>
#include <stdexcept>

namespace mproc::detail {
namespace {

constexpr std::uint32_t store_magic = 0x4d505354u;  // "MPST"
constexpr std::uint64_t page = 4096;
constexpr std::uint64_t first_commit = 64 << 10;
constexpr std::uint64_t first_slots = 16;
constexpr std::uint64_t empty_cell = 0;   // a map cell never used
constexpr std::uint64_t erased_cell = 1;  // a map cell whose item was removed
constexpr std::size_t max_writes = 12;

struct journal {
  std::atomic<std::uint32_t> complete;  // 1: `writes` are a change to apply (again)
  std::uint32_t count;
  struct word {
    std::uint64_t at;  // offset from the block's start
    std::uint64_t value;
  } writes[max_writes];
};

// Changed only through the journal.
struct root {
  std::uint64_t active;  // the half in use, 0 or 1
  std::uint64_t tail;    // where the next record goes
  std::uint64_t live;    // bytes of the reachable records and the table
  std::uint64_t size;    // items
  std::uint64_t table;   // list: offsets of the items; map: (hash, offset) cells
  std::uint64_t slots;   // the table's cells
  std::uint64_t erased;  // map cells marked erased
};

struct layout {
  robust_mutex lock;
  std::atomic<std::uint32_t> magic;  // set last (for a reader of a core dump: nobody sees the block before)
  std::uint32_t kind;
  std::uint64_t half_bytes;
  std::uint64_t max_bytes;                  // of live bytes; 0: none
  std::atomic<std::uint64_t> committed[2];  // bytes of each half usable, from its start
  char noun[24];                            // "shared list", for messages
  journal log;
  root now;
};

constexpr std::uint64_t halves_start = (sizeof(layout) + page - 1) / page * page;

struct record_head {
  std::uint32_t key_bytes;
  std::uint32_t value_bytes;
};

constexpr std::uint64_t round8(std::uint64_t n) { return (n + 7) / 8 * 8; }
constexpr std::uint64_t round_page(std::uint64_t n) { return (n + page - 1) / page * page; }

std::uint64_t record_bytes(std::string_view key, std::string_view value) {
  constexpr std::uint64_t largest = 0xffffffffu;
  if (key.size() > largest || value.size() > largest) {
    throw error("an item of " + std::to_string(key.size() + value.size()) +
                " bytes is larger than a shared container holds (4 GiB)");
  }
  return round8(sizeof(record_head) + key.size() + value.size());
}

// FNV-1a: the same in every process, whatever the standard library (a
// std::hash may differ between a program's builds; a table outlives neither).
std::uint64_t hash_of(std::string_view bytes) {
  std::uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : bytes) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

std::atomic<void (*)(int)> probe_function{nullptr};

void probe(int point) {
  if (auto* f = probe_function.load(std::memory_order_relaxed)) f(point);
}

}  // namespace

void set_container_probe(void (*probe)(int point)) noexcept { probe_function.store(probe); }

// The container held: the lock taken (and a dead holder's change finished),
// and every part other processes committed made usable in this process.
struct byte_container::store {
  const byte_container& owner;
  std::byte* base;
  layout& l;
  root& r;

  explicit store(const byte_container& container)
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
  ~store() { unlock_mutex(l.lock); }
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  static std::byte* checked_bytes(const byte_container& container) {
    if (container.block_.closed()) throw closed_error("the shared container is closed");
    if (!container.view_header_) {
      commit_data(container.block_, 0, halves_start);
      container.view_header_ = true;
    }
    return container.block_.bytes().data();
  }

  // --- words and records ---------------------------------------------------
  std::uint64_t& word(std::uint64_t at) { return *reinterpret_cast<std::uint64_t*>(base + at); }
  std::uint64_t offset_of(const void* p) const { return static_cast<std::uint64_t>(static_cast<const std::byte*>(p) - base); }
  record_head& head(std::uint64_t at) { return *reinterpret_cast<record_head*>(base + at); }
  std::string_view key_of(std::uint64_t at) {
    return {reinterpret_cast<const char*>(base + at + sizeof(record_head)), head(at).key_bytes};
  }
  std::string_view value_of(std::uint64_t at) {
    return {reinterpret_cast<const char*>(base + at + sizeof(record_head)) + head(at).key_bytes, head(at).value_bytes};
  }
  std::uint64_t size_of(std::uint64_t at) { return round8(sizeof(record_head) + head(at).key_bytes + head(at).value_bytes); }
  // Writes a record at `at` (past the tail: nobody reads there); its size.
  std::uint64_t write_record(std::uint64_t at, std::string_view key, std::string_view value) {
    const std::uint64_t bytes = record_bytes(key, value);
    head(at) = {static_cast<std::uint32_t>(key.size()), static_cast<std::uint32_t>(value.size())};
    // (an empty view's data may be null, which memcpy must not be given)
    if (!key.empty()) std::memcpy(base + at + sizeof(record_head), key.data(), key.size());
    if (!value.empty()) std::memcpy(base + at + sizeof(record_head) + key.size(), value.data(), value.size());
    return bytes;
  }
  std::uint64_t copy_record(std::uint64_t to, std::uint64_t from) {
    const std::uint64_t bytes = size_of(from);
    std::memcpy(base + to, base + from, bytes);
    return bytes;
  }

  bool is_map() const { return l.kind == static_cast<std::uint32_t>(kind::map); }
  std::uint64_t cell_bytes() const { return is_map() ? 16 : 8; }
  std::uint64_t table_bytes(std::uint64_t slots) const { return slots * cell_bytes(); }
  std::uint64_t* list_cells(std::uint64_t table) { return &word(table); }
  std::uint64_t& item_at(std::uint64_t index) { return list_cells(r.table)[index]; }

  // --- changes: a journal of words ----------------------------------------
  class change {
   public:
    explicit change(store& s) : s_(s) {}
    void set(std::uint64_t& field, std::uint64_t value) {
      s_.l.log.writes[count_++] = {s_.offset_of(&field), value};
    }
    void commit() {
      probe(1);
      s_.l.log.count = static_cast<std::uint32_t>(count_);
      s_.l.log.complete.store(1, std::memory_order_release);
      probe(2);
      s_.apply_journal();
    }

   private:
    store& s_;
    std::size_t count_ = 0;
  };

  void apply_journal() {
    const auto& log = l.log;
    const std::uint32_t count = std::min<std::uint32_t>(log.count, max_writes);
    for (std::uint32_t i = 0; i < count; ++i) {
      if (log.writes[i].at + 8 > owner.block_.size()) continue;  // never written by us: ignore
      word(log.writes[i].at) = log.writes[i].value;
      if (i == count / 2) probe(3);
    }
    l.log.complete.store(0, std::memory_order_release);
  }

  // --- space ---------------------------------------------------------------
  std::uint64_t half_start(std::uint64_t half) const { return halves_start + half * l.half_bytes; }

  void sync_view() {
    for (std::uint64_t half = 0; half < 2; ++half) {
      const std::uint64_t committed = l.committed[half].load();
      std::uint64_t& mine = owner.view_committed_[half];
      if (mine >= committed) continue;
      commit_data(owner.block_, half_start(half) + mine, committed - mine);
      mine = committed;
    }
  }

  // Makes [half's start, `end`) usable: doubling, so that growing by one
  // item at a time costs a commit now and then.
  void commit_to(std::uint64_t half, std::uint64_t end) {
    const std::uint64_t have = l.committed[half].load();
    const std::uint64_t wanted = end - half_start(half);
    if (wanted <= have) return;
    const std::uint64_t next = std::min(l.half_bytes, round_page(std::max({wanted, 2 * have, first_commit})));
    commit_data(owner.block_, half_start(half) + have, next - have);  // throws when memory is short: nothing changed
    owner.view_committed_[half] = std::max(owner.view_committed_[half], next);
    l.committed[half].store(next);
    probe(5);
  }

  [[noreturn]] void full(std::uint64_t need) {
    const std::string what(l.noun);
    if (l.max_bytes != 0 && r.live + need > l.max_bytes) {
      throw error("the " + what + " is full: it may hold " + std::to_string(l.max_bytes) + " bytes, holds " +
                  std::to_string(r.live) + " and needs " + std::to_string(need) + " more");
    }
    throw error("the " + what + " cannot grow past " + std::to_string(l.half_bytes) +
                " bytes (the shared memory this machine allows): it holds " + std::to_string(r.live) +
                " and needs " + std::to_string(need) + " more");
  }

  // After this, `need` bytes fit at the tail. May compact (which moves every
  // record and the table: offsets read before are stale).
  void make_room(std::uint64_t need) {
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

  // Copies what is live (or nothing) into the other half, compactly, with
  // `need` bytes of room after it, and switches to it in one change.
  void compact(std::uint64_t need, bool keep_items) {
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
      for (std::uint64_t i = 0; i < size; ++i) records += size_of(item_at(i));
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
        cells[i] = tail;
        tail += copy_record(tail, item_at(i));
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

  // --- the map's table -----------------------------------------------------
  // The cell of `key`, or null.
  std::uint64_t* find_cell(std::string_view key, std::uint64_t hash) {
    std::uint64_t* cells = &word(r.table);
    const std::uint64_t mask = r.slots - 1;
    for (std::uint64_t i = hash & mask;; i = (i + 1) & mask) {
      std::uint64_t* cell = cells + 2 * i;
      if (cell[1] == empty_cell) return nullptr;
      if (cell[1] != erased_cell && cell[0] == hash && key_of(cell[1]) == key) return cell;
    }
  }
  // Where a new key with `hash` goes in `table` (never full: at most half used).
  std::uint64_t* free_cell(std::uint64_t table, std::uint64_t slots, std::uint64_t hash) {
    std::uint64_t* cells = &word(table);
    const std::uint64_t mask = slots - 1;
    for (std::uint64_t i = hash & mask;; i = (i + 1) & mask) {
      if (cells[2 * i + 1] <= erased_cell) return cells + 2 * i;
    }
  }
  bool table_too_full(std::uint64_t adding) const { return (r.size + r.erased + adding) * 2 > r.slots; }

  // --- operations ----------------------------------------------------------
  void append(const std::vector<std::string_view>& items) {
    std::uint64_t records = 0;
    for (auto item : items) records += record_bytes({}, item);
    const std::uint64_t count = items.size();
    const auto grown_slots = [&] { return std::bit_ceil(std::max(r.slots * 2, r.size + count)); };
    const auto need = [&] { return records + (r.size + count > r.slots ? table_bytes(grown_slots()) : 0); };
    const std::uint64_t first_need = need();
    make_room(first_need);
    if (need() > first_need) make_room(need());  // compacted into a table that is still too small
    std::uint64_t table = r.table;
    std::uint64_t slots = r.slots;
    std::uint64_t tail = r.tail;
    if (r.size + count > r.slots) {
      slots = grown_slots();
      table = tail;
      std::memcpy(base + table, base + r.table, table_bytes(r.size));
      tail += table_bytes(slots);
    }
    // Cells past `size` are unused: written directly, published by `size`.
    std::uint64_t* cells = list_cells(table);
    for (std::uint64_t i = 0; i < count; ++i) {
      cells[r.size + i] = tail;
      tail += write_record(tail, {}, items[i]);
    }
    change c(*this);
    if (table != r.table) {
      c.set(r.table, table);
      c.set(r.slots, slots);
    }
    c.set(r.size, r.size + count);
    c.set(r.live, r.live + records + table_bytes(slots) - table_bytes(r.slots));
    c.set(r.tail, tail);
    c.commit();
  }

  // Room for `count` items of `item_bytes` each: a table that large and the
  // memory committed, so that appending them neither regrows nor commits.
  void reserve(std::uint64_t count, std::uint64_t item_bytes) {
    const std::uint64_t records = count * round8(sizeof(record_head) + item_bytes);
    const std::uint64_t slots = std::bit_ceil(std::max(r.size + count, r.slots));
    const std::uint64_t table = slots > r.slots ? table_bytes(slots) : 0;
    make_room(table + records);
    commit_to(r.active, r.tail + table + records);
    if (slots <= r.slots) return;
    const std::uint64_t at = r.tail;
    std::memcpy(base + at, base + r.table, table_bytes(r.size));
    change c(*this);
    c.set(r.live, r.live + table_bytes(slots) - table_bytes(r.slots));
    c.set(r.table, at);
    c.set(r.slots, slots);
    c.set(r.tail, at + table_bytes(slots));
    c.commit();
  }

  void check_index(std::uint64_t index) {
    if (index >= r.size) {
      throw std::out_of_range("index " + std::to_string(index) + " of a " + std::string(l.noun) + " of " +
                              std::to_string(r.size));
    }
  }

  void assign(std::uint64_t index, std::string_view item) {
    check_index(index);
    const std::uint64_t bytes = record_bytes({}, item);
    make_room(bytes);
    const std::uint64_t at = r.tail;
    write_record(at, {}, item);
    change c(*this);
    c.set(r.live, r.live + bytes - size_of(item_at(index)));
    c.set(item_at(index), at);
    c.set(r.tail, at + bytes);
    c.commit();
  }

  // A new table for the list: items [0, size) with `item` put at `index`
  // (when given) or the item at `index` left out.
  void rebuild_list(std::uint64_t index, std::optional<std::string_view> item) {
    const std::uint64_t bytes = item ? record_bytes({}, *item) : 0;
    const std::uint64_t size = item ? r.size + 1 : r.size - 1;
    const std::uint64_t slots = std::max(first_slots, std::bit_ceil(std::max<std::uint64_t>(size, 1) * 2));
    const std::uint64_t removed = item ? 0 : size_of(item_at(index));
    make_room(bytes + table_bytes(slots));
    const std::uint64_t table = r.tail;
    std::uint64_t* cells = list_cells(table);
    std::uint64_t tail = table + table_bytes(slots);
    for (std::uint64_t i = 0, j = 0; i < r.size; ++i) {
      if (i == index && item) {
        cells[j++] = tail;
        tail += write_record(tail, {}, *item);
      }
      if (i != index || item) cells[j++] = item_at(i);
    }
    if (item && index == r.size) {
      cells[r.size] = tail;
      tail += write_record(tail, {}, *item);
    }
    change c(*this);
    c.set(r.live, r.live + bytes - removed + table_bytes(slots) - table_bytes(r.slots));
    c.set(r.table, table);
    c.set(r.slots, slots);
    c.set(r.size, size);
    c.set(r.tail, tail);
    c.commit();
  }

  std::string pop(std::uint64_t index) {
    check_index(index);
    std::string item(value_of(item_at(index)));
    if (index + 1 == r.size) {
      change c(*this);
      c.set(r.live, r.live - size_of(item_at(index)));
      c.set(r.size, r.size - 1);
      c.commit();
    } else {
      rebuild_list(index, std::nullopt);
    }
    return item;
  }

  void set(std::string_view key, std::string_view value) {
    const std::uint64_t bytes = record_bytes(key, value);
    const std::uint64_t hash = hash_of(key);
    if (std::uint64_t* cell = find_cell(key, hash)) {
      make_room(bytes);
      cell = find_cell(key, hash);  // compaction moves cells
      const std::uint64_t at = r.tail;
      write_record(at, key, value);
      change c(*this);
      c.set(r.live, r.live + bytes - size_of(cell[1]));
      c.set(cell[1], at);
      c.set(r.tail, at + bytes);
      c.commit();
      return;
    }
    const std::uint64_t grown = std::max(first_slots, std::bit_ceil((r.size + 1) * 4));
    make_room(bytes + (table_too_full(1) ? table_bytes(grown) : 0));
    std::uint64_t tail = r.tail;
    if (table_too_full(1)) {
      const std::uint64_t slots = std::max(first_slots, std::bit_ceil((r.size + 1) * 4));
      const std::uint64_t table = tail;
      std::memset(base + table, 0, table_bytes(slots));
      tail += table_bytes(slots);
      const std::uint64_t* cells = &word(r.table);
      for (std::uint64_t i = 0; i < r.slots; ++i) {
        if (cells[2 * i + 1] <= erased_cell) continue;
        std::uint64_t* cell = free_cell(table, slots, cells[2 * i]);
        cell[0] = cells[2 * i];
        cell[1] = cells[2 * i + 1];
      }
      std::uint64_t* cell = free_cell(table, slots, hash);
      cell[0] = hash;
      cell[1] = tail;
      tail += write_record(tail, key, value);
      change c(*this);
      c.set(r.live, r.live + bytes + table_bytes(slots) - table_bytes(r.slots));
      c.set(r.table, table);
      c.set(r.slots, slots);
      c.set(r.erased, 0);
      c.set(r.size, r.size + 1);
      c.set(r.tail, tail);
      c.commit();
      return;
    }
    std::uint64_t* cell = free_cell(r.table, r.slots, hash);
    write_record(tail, key, value);
    change c(*this);
    if (cell[1] == erased_cell) c.set(r.erased, r.erased - 1);
    c.set(cell[0], hash);
    c.set(cell[1], tail);
    c.set(r.live, r.live + bytes);
    c.set(r.size, r.size + 1);
    c.set(r.tail, tail + bytes);
    c.commit();
  }

  std::optional<std::string> take(std::string_view key) {
    std::uint64_t* cell = find_cell(key, hash_of(key));
    if (cell == nullptr) return std::nullopt;
    std::string value(value_of(cell[1]));
    change c(*this);
    c.set(r.live, r.live - size_of(cell[1]));
    c.set(cell[1], erased_cell);
    c.set(r.size, r.size - 1);
    c.set(r.erased, r.erased + 1);
    c.commit();
    return value;
  }
};

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

void byte_container::append(std::string_view item) {
  store s(*this);
  s.append({item});
}

void byte_container::extend(const std::vector<std::string>& items) {
  store s(*this);
  s.append(std::vector<std::string_view>(items.begin(), items.end()));
}

void byte_container::reserve(std::size_t count, std::size_t item_bytes) {
  store s(*this);
  s.reserve(count, item_bytes);
}

std::string byte_container::at(std::size_t index) const {
  store s(*this);
  s.check_index(index);
  return std::string(s.value_of(s.item_at(index)));
}

void byte_container::assign(std::size_t index, std::string_view item) {
  store s(*this);
  s.assign(index, item);
}

void byte_container::insert(std::size_t index, std::string_view item) {
  store s(*this);
  index = std::min<std::size_t>(index, s.r.size);  // as Python's list.insert
  if (index == s.r.size) {
    s.append({item});
  } else {
    s.rebuild_list(index, item);
  }
}

std::string byte_container::pop(std::optional<std::size_t> index) {
  store s(*this);
  if (s.r.size == 0) throw std::out_of_range("pop from an empty " + std::string(s.l.noun));
  return s.pop(index.value_or(s.r.size - 1));
}

std::vector<std::string> byte_container::items() const {
  store s(*this);
  std::vector<std::string> all;
  all.reserve(s.r.size);
  for (std::uint64_t i = 0; i < s.r.size; ++i) all.emplace_back(s.value_of(s.item_at(i)));
  return all;
}

void byte_container::visit(void (*each)(void* context, std::string_view item), void* context) const {
  store s(*this);
  for (std::uint64_t i = 0; i < s.r.size; ++i) each(context, s.value_of(s.item_at(i)));
}

namespace {

// The copy loop of copy_plain_items, for one item size: a memcpy of a
// constant size is a move, not a call per item.
template <std::size_t Bytes>
std::size_t copy_fixed(const std::byte* base, const std::uint64_t* cells, std::size_t n, std::byte* to,
                       std::size_t item_bytes) {
  const std::size_t each = Bytes == 0 ? item_bytes : Bytes;
  for (std::size_t i = 0; i < n; ++i) {
    record_head head;
    std::memcpy(&head, base + cells[i], sizeof head);
    if (head.value_bytes != each) return i;
    std::memcpy(to + i * each, base + cells[i] + sizeof(record_head), Bytes == 0 ? item_bytes : Bytes);
  }
  return n;
}

}  // namespace

std::size_t byte_container::copy_plain_items(void* out, std::size_t item_bytes, std::size_t count) const {
  store s(*this);
  auto* to = static_cast<std::byte*>(out);
  const std::size_t n = std::min<std::size_t>(count, s.r.size);
  const std::uint64_t* cells = s.list_cells(s.r.table);
  const std::size_t copied = item_bytes == 4   ? copy_fixed<4>(s.base, cells, n, to, item_bytes)
                             : item_bytes == 8 ? copy_fixed<8>(s.base, cells, n, to, item_bytes)
                             : item_bytes == 1 ? copy_fixed<1>(s.base, cells, n, to, item_bytes)
                             : item_bytes == 2 ? copy_fixed<2>(s.base, cells, n, to, item_bytes)
                             : item_bytes == 16 ? copy_fixed<16>(s.base, cells, n, to, item_bytes)
                                                : copy_fixed<0>(s.base, cells, n, to, item_bytes);
  if (copied != n) {
    throw serialization_error("item " + std::to_string(copied) + " of the " + std::string(s.l.noun) + " has " +
                              std::to_string(s.head(cells[copied]).value_bytes) + " bytes, not " +
                              std::to_string(item_bytes));
  }
  return n;
}

void byte_container::update_at(std::size_t index, const std::function<std::string(std::string_view)>& change) {
  store s(*this);
  const std::string item = at(index);  // a copy: `change` may change the container
  const std::string changed = change(item);
  s.assign(index, changed);
}

void byte_container::set(std::string_view key, std::string_view value) {
  store s(*this);
  s.set(key, value);
}

std::optional<std::string> byte_container::find(std::string_view key) const {
  store s(*this);
  const std::uint64_t* cell = s.find_cell(key, hash_of(key));
  if (cell == nullptr) return std::nullopt;
  return std::string(s.value_of(cell[1]));
}

std::string byte_container::set_default(std::string_view key, std::string_view value) {
  store s(*this);
  if (const std::uint64_t* cell = s.find_cell(key, hash_of(key))) return std::string(s.value_of(cell[1]));
  s.set(key, value);
  return std::string(value);
}

std::optional<std::string> byte_container::take(std::string_view key) {
  store s(*this);
  return s.take(key);
}

std::vector<std::pair<std::string, std::string>> byte_container::entries() const {
  store s(*this);
  std::vector<std::pair<std::string, std::string>> all;
  all.reserve(s.r.size);
  const std::uint64_t* cells = &s.word(s.r.table);
  for (std::uint64_t i = 0; i < s.r.slots; ++i) {
    if (cells[2 * i + 1] > erased_cell) all.emplace_back(s.key_of(cells[2 * i + 1]), s.value_of(cells[2 * i + 1]));
  }
  return all;
}

void byte_container::update_key(std::string_view key,
                                const std::function<std::string(std::optional<std::string_view>)>& change) {
  store s(*this);
  const std::optional<std::string> value = find(key);  // a copy: `change` may change the container
  const std::string changed = value ? change(std::string_view(*value)) : change(std::nullopt);
  s.set(key, changed);
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
