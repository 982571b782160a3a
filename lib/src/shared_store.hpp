// The format of the shared containers' store, and `byte_container::store`, the
// container held. The engine of the shared containers: byte strings in one shared memory block
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
//   through a table (a list: the items' offsets in order, or an item of up
//   to 7 bytes itself; a map: an open-addressing hash table of (hash, offset)
//   cells).
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
//
// Where each part lives: this header (the block's format), shared_store.cpp
// (holding the lock, the journal, space: growing and compacting),
// shared_store_list.cpp (list operations), shared_store_map.cpp (the map's
// hash table and its operations).
#pragma once

#include <mproc/detail/byte_container.hpp>
#include <mproc/error.hpp>

#include "robust_mutex.hpp"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mproc::detail {
namespace store_format {


inline constexpr std::uint32_t store_magic = 0x4d505354u;  // "MPST"
inline constexpr std::uint64_t page = 4096;
inline constexpr std::uint64_t first_commit = 64 << 10;
inline constexpr std::uint64_t first_slots = 16;
inline constexpr std::uint64_t empty_cell = 0;   // a map cell never used
inline constexpr std::uint64_t erased_cell = 1;  // a map cell whose item was removed
inline constexpr std::size_t max_writes = 12;

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

inline constexpr std::uint64_t halves_start = (sizeof(layout) + page - 1) / page * page;

struct record_head {
  std::uint32_t key_bytes;
  std::uint32_t value_bytes;
};

// A list item of up to 7 bytes (an int, a float, a char) lives in its table
// cell, not in a record: the cell's first byte is (length << 1) | 1, the item
// follows it. A record's offset is a multiple of 8 below 2^56, so its cell's
// first byte is even in either byte order. A list of ints reads 8 bytes per item,
// not 24 (cell and record), and writes no record when an item is added.
inline constexpr std::size_t inline_item_max = 7;
inline bool holds_inline(const std::uint64_t& cell) { return (*reinterpret_cast<const unsigned char*>(&cell) & 1) != 0; }

constexpr std::uint64_t round8(std::uint64_t n) { return (n + 7) / 8 * 8; }
constexpr std::uint64_t round_page(std::uint64_t n) { return (n + page - 1) / page * page; }

inline std::uint64_t record_bytes(std::string_view key, std::string_view value) {
  constexpr std::uint64_t largest = 0xffffffffu;
  if (key.size() > largest || value.size() > largest) {
    throw error("an item of " + std::to_string(key.size() + value.size()) +
                " bytes is larger than a shared container holds (4 GiB)");
  }
  return round8(sizeof(record_head) + key.size() + value.size());
}

// FNV-1a: the same in every process, whatever the standard library (a
// std::hash may differ between a program's builds; a table outlives neither).
inline std::uint64_t hash_of(std::string_view bytes) {
  std::uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : bytes) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

/// Calls the test hook set by set_container_probe, if any.
void probe(int point);

}  // namespace store_format

// The container held: the lock taken (and a dead holder's change finished),
// and every part other processes committed made usable in this process.
struct byte_container::store {
  const byte_container& owner;
  std::byte* base;
  store_format::layout& l;
  store_format::root& r;

  explicit store(const byte_container& container);
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;
  static std::byte* checked_bytes(const byte_container& container);

  // --- words and records ------------------------------------------------------
  std::uint64_t& word(std::uint64_t at) { return *reinterpret_cast<std::uint64_t*>(base + at); }
  std::uint64_t offset_of(const void* p) const { return static_cast<std::uint64_t>(static_cast<const std::byte*>(p) - base); }
  store_format::record_head& head(std::uint64_t at) { return *reinterpret_cast<store_format::record_head*>(base + at); }
  std::string_view key_of(std::uint64_t at) {
    return {reinterpret_cast<const char*>(base + at + sizeof(store_format::record_head)), head(at).key_bytes};
  }
  std::string_view value_of(std::uint64_t at) {
    return {reinterpret_cast<const char*>(base + at + sizeof(store_format::record_head)) + head(at).key_bytes, head(at).value_bytes};
  }
  std::uint64_t size_of(std::uint64_t at) { return store_format::round8(sizeof(store_format::record_head) + head(at).key_bytes + head(at).value_bytes); }
  // Writes a record at `at` (past the tail: nobody reads there); its size.
  std::uint64_t write_record(std::uint64_t at, std::string_view key, std::string_view value) {
    const std::uint64_t bytes = store_format::record_bytes(key, value);
    head(at) = {static_cast<std::uint32_t>(key.size()), static_cast<std::uint32_t>(value.size())};
    // (an empty view's data may be null, which memcpy must not be given)
    if (!key.empty()) std::memcpy(base + at + sizeof(store_format::record_head), key.data(), key.size());
    if (!value.empty()) std::memcpy(base + at + sizeof(store_format::record_head) + key.size(), value.data(), value.size());
    return bytes;
  }
  std::uint64_t copy_record(std::uint64_t to, std::uint64_t from) {
    const std::uint64_t bytes = size_of(from);
    std::memcpy(base + to, base + from, bytes);
    return bytes;
  }

  // --- list cells: an item inline, or the offset of its record ---------------
  // The item of a list cell (a view of `cell` itself when it holds it inline).
  std::string_view list_item(const std::uint64_t& cell) {
    if (!store_format::holds_inline(cell)) return value_of(cell);
    const auto* bytes = reinterpret_cast<const unsigned char*>(&cell);
    return {reinterpret_cast<const char*>(bytes + 1), static_cast<std::size_t>(bytes[0] >> 1)};
  }
  std::uint64_t list_record_bytes(std::uint64_t cell) { return store_format::holds_inline(cell) ? 0 : size_of(cell); }
  static std::uint64_t list_item_bytes(std::string_view item) {
    return item.size() <= store_format::inline_item_max ? 0 : store_format::record_bytes({}, item);
  }
  // The cell for `item`: the item itself, or the offset of its record, which
  // is written at `tail` (moved past it).
  std::uint64_t new_list_cell(std::uint64_t& tail, std::string_view item) {
    if (item.size() > store_format::inline_item_max) {
      const std::uint64_t at = tail;
      tail += write_record(at, {}, item);
      return at;
    }
    unsigned char bytes[8] = {static_cast<unsigned char>(item.size() << 1 | 1)};
    if (!item.empty()) std::memcpy(bytes + 1, item.data(), item.size());
    std::uint64_t cell = 0;
    std::memcpy(&cell, bytes, sizeof cell);
    return cell;
  }

  bool is_map() const { return l.kind == static_cast<std::uint32_t>(kind::map); }
  std::uint64_t cell_bytes() const { return is_map() ? 16 : 8; }
  std::uint64_t table_bytes(std::uint64_t slots) const { return slots * cell_bytes(); }
  std::uint64_t* list_cells(std::uint64_t table) { return &word(table); }
  std::uint64_t& item_at(std::uint64_t index) { return list_cells(r.table)[index]; }

  // --- changes: a journal of words (shared_store.cpp) ------------------------
  class change {
   public:
    explicit change(store& s) : s_(s) {}
    void set(std::uint64_t& field, std::uint64_t value) {
      s_.l.log.writes[count_++] = {s_.offset_of(&field), value};
    }
    void commit();

   private:
    store& s_;
    std::size_t count_ = 0;
  };
  void apply_journal();

  // --- space (shared_store.cpp) ----------------------------------------------
  std::uint64_t half_start(std::uint64_t half) const { return store_format::halves_start + half * l.half_bytes; }
  void sync_view();
  // Makes [half's start, `end`) usable: doubling, so that growing by one
  // item at a time costs a commit now and then.
  void commit_to(std::uint64_t half, std::uint64_t end);
  [[noreturn]] void full(std::uint64_t need);
  // After this, `need` bytes fit at the tail. May compact (which moves every
  // record and the table: offsets read before are stale).
  void make_room(std::uint64_t need);
  // Copies what is live (or nothing) into the other half, compactly, with
  // `need` bytes of room after it, and switches to it in one change.
  void compact(std::uint64_t need, bool keep_items);

  // --- the list (shared_store_list.cpp) --------------------------------------
  void append(const std::vector<std::string_view>& items);
  // Room for `count` items of `item_bytes` each: a table that large and the
  // memory committed, so that appending them neither regrows nor commits.
  void reserve(std::uint64_t count, std::uint64_t item_bytes);
  void check_index(std::uint64_t index);
  void assign(std::uint64_t index, std::string_view item);
  // A new table for the list: items [0, size) with `item` put at `index`
  // (when given) or the item at `index` left out.
  void rebuild_list(std::uint64_t index, std::optional<std::string_view> item);
  std::string pop(std::uint64_t index);

  // --- the map (shared_store_map.cpp) ----------------------------------------
  // The cell of `key`, or null.
  std::uint64_t* find_cell(std::string_view key, std::uint64_t hash);
  // Where a new key with `hash` goes in `table` (never full: at most half used).
  std::uint64_t* free_cell(std::uint64_t table, std::uint64_t slots, std::uint64_t hash);
  bool table_too_full(std::uint64_t adding) const { return (r.size + r.erased + adding) * 2 > r.slots; }
  void set(std::string_view key, std::string_view value);
  std::optional<std::string> take(std::string_view key);
};

}  // namespace mproc::detail
