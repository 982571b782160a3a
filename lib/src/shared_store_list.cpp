// The shared list's operations on the store (shared_store.hpp).
#include "shared_store.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>

namespace mproc::detail {

using namespace store_format;

void byte_container::store::append(const std::vector<std::string_view>& items) {
  std::uint64_t records = 0;
  for (auto item : items) records += list_item_bytes(item);
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
  for (std::uint64_t i = 0; i < count; ++i) cells[r.size + i] = new_list_cell(tail, items[i]);
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

void byte_container::store::reserve(std::uint64_t count, std::uint64_t item_bytes) {
  const std::uint64_t records = item_bytes <= inline_item_max ? 0 : count * round8(sizeof(record_head) + item_bytes);
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

void byte_container::store::check_index(std::uint64_t index) {
  if (index >= r.size) {
    throw std::out_of_range("index " + std::to_string(index) + " of a " + std::string(l.noun) + " of " +
                            std::to_string(r.size));
  }
}

void byte_container::store::assign(std::uint64_t index, std::string_view item) {
  check_index(index);
  const std::uint64_t bytes = list_item_bytes(item);
  make_room(bytes);
  std::uint64_t tail = r.tail;
  const std::uint64_t cell = new_list_cell(tail, item);
  change c(*this);
  c.set(r.live, r.live + bytes - list_record_bytes(item_at(index)));
  c.set(item_at(index), cell);
  c.set(r.tail, tail);
  c.commit();
}

void byte_container::store::rebuild_list(std::uint64_t index, std::optional<std::string_view> item) {
  const std::uint64_t bytes = item ? list_item_bytes(*item) : 0;
  const std::uint64_t size = item ? r.size + 1 : r.size - 1;
  const std::uint64_t slots = std::max(first_slots, std::bit_ceil(std::max<std::uint64_t>(size, 1) * 2));
  const std::uint64_t removed = item ? 0 : list_record_bytes(item_at(index));
  make_room(bytes + table_bytes(slots));
  const std::uint64_t table = r.tail;
  std::uint64_t* cells = list_cells(table);
  std::uint64_t tail = table + table_bytes(slots);
  for (std::uint64_t i = 0, j = 0; i < r.size; ++i) {
    if (i == index && item) cells[j++] = new_list_cell(tail, *item);
    if (i != index || item) cells[j++] = item_at(i);
  }
  if (item && index == r.size) cells[r.size] = new_list_cell(tail, *item);
  change c(*this);
  c.set(r.live, r.live + bytes - removed + table_bytes(slots) - table_bytes(r.slots));
  c.set(r.table, table);
  c.set(r.slots, slots);
  c.set(r.size, size);
  c.set(r.tail, tail);
  c.commit();
}

std::string byte_container::store::pop(std::uint64_t index) {
  check_index(index);
  std::string item(list_item(item_at(index)));
  if (index + 1 == r.size) {
    change c(*this);
    c.set(r.live, r.live - list_record_bytes(item_at(index)));
    c.set(r.size, r.size - 1);
    c.commit();
  } else {
    rebuild_list(index, std::nullopt);
  }
  return item;
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
  return std::string(s.list_item(s.item_at(index)));
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
  for (std::uint64_t i = 0; i < s.r.size; ++i) all.emplace_back(s.list_item(s.item_at(i)));
  return all;
}

void byte_container::visit(void (*each)(void* context, std::string_view item), void* context) const {
  store s(*this);
  for (std::uint64_t i = 0; i < s.r.size; ++i) each(context, s.list_item(s.item_at(i)));
}

namespace {

// The copy loops of copy_plain_items, for one item size: a memcpy of a
// constant size (Bytes; 0: any other) is a move, not a call per item. Each returns how many items
// were of that size (an item of another size ends the copy).
template <std::size_t Bytes>
std::size_t copy_inline(const std::uint64_t* cells, std::size_t n, std::byte* to, std::size_t item_bytes) {
  const std::size_t each = Bytes == 0 ? item_bytes : Bytes;
  const auto tag = static_cast<unsigned char>(each << 1 | 1);
  for (std::size_t i = 0; i < n; ++i) {
    const auto* cell = reinterpret_cast<const unsigned char*>(cells + i);
    if (cell[0] != tag) return i;
    std::memcpy(to + i * each, cell + 1, each);
  }
  return n;
}

template <std::size_t Bytes>
std::size_t copy_records(const std::byte* base, const std::uint64_t* cells, std::size_t n, std::byte* to,
                         std::size_t item_bytes) {
  const std::size_t each = Bytes == 0 ? item_bytes : Bytes;
  for (std::size_t i = 0; i < n; ++i) {
    if (holds_inline(cells[i])) return i;
    record_head head;
    std::memcpy(&head, base + cells[i], sizeof head);
    if (head.value_bytes != each) return i;
    std::memcpy(to + i * each, base + cells[i] + sizeof(record_head), each);
  }
  return n;
}

std::size_t copy_items(const std::byte* base, const std::uint64_t* cells, std::size_t n, std::byte* to,
                       std::size_t item_bytes) {
  switch (item_bytes) {
    case 1: return copy_inline<1>(cells, n, to, item_bytes);
    case 2: return copy_inline<2>(cells, n, to, item_bytes);
    case 4: return copy_inline<4>(cells, n, to, item_bytes);
    case 8: return copy_records<8>(base, cells, n, to, item_bytes);
    case 16: return copy_records<16>(base, cells, n, to, item_bytes);
    default:
      return item_bytes <= inline_item_max ? copy_inline<0>(cells, n, to, item_bytes)
                                           : copy_records<0>(base, cells, n, to, item_bytes);
  }
}

}  // namespace

std::size_t byte_container::copy_plain_items(void* out, std::size_t item_bytes, std::size_t count) const {
  store s(*this);
  const std::size_t n = std::min<std::size_t>(count, s.r.size);
  const std::uint64_t* cells = s.list_cells(s.r.table);
  const std::size_t copied = copy_items(s.base, cells, n, static_cast<std::byte*>(out), item_bytes);
  if (copied != n) {
    throw serialization_error("item " + std::to_string(copied) + " of the " + std::string(s.l.noun) + " has " +
                              std::to_string(s.list_item(cells[copied]).size()) + " bytes, not " +
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

}  // namespace mproc::detail
