// The shared map's (dict, set, namespace) operations on the store
// (shared_store.hpp): an open-addressing hash table of (hash, offset) cells.
#include "shared_store.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace mproc::detail {

using namespace store_format;

std::uint64_t* byte_container::store::find_cell(std::string_view key, std::uint64_t hash) {
  std::uint64_t* cells = &word(r.table);
  const std::uint64_t mask = r.slots - 1;
  for (std::uint64_t i = hash & mask;; i = (i + 1) & mask) {
    std::uint64_t* cell = cells + 2 * i;
    if (cell[1] == empty_cell) return nullptr;
    if (cell[1] != erased_cell && cell[0] == hash && key_of(cell[1]) == key) return cell;
  }
}

std::uint64_t* byte_container::store::free_cell(std::uint64_t table, std::uint64_t slots, std::uint64_t hash) {
  std::uint64_t* cells = &word(table);
  const std::uint64_t mask = slots - 1;
  for (std::uint64_t i = hash & mask;; i = (i + 1) & mask) {
    if (cells[2 * i + 1] <= erased_cell) return cells + 2 * i;
  }
}

void byte_container::store::set(std::string_view key, std::string_view value) {
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

std::optional<std::string> byte_container::store::take(std::string_view key) {
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

}  // namespace mproc::detail
