// A list in shared memory that several processes read and change, as Python's
// Manager().list(), with no server process and no capacity to choose.
//
//   mproc::shared_list<int> out_list;                 // grows as items are added
//   mproc::process p(do_something, 1000, out_list);   // the child appends to it
//   out_list[0] = 7;                                    // l[i] = x
//   int first = out_list[0];
//   out_list.update(0, [](int& v) { v += 1; });        // read, change, write: one step
//   for (int x : out_list.snapshot()) { ... }          // a consistent copy
//
// Items are numbers and plain structs (stored as their bytes) or anything a
// process argument can be (stored serialised). Every change is whole or not at
// all, even for a process killed in its middle.
#pragma once

#include <mproc/detail/byte_container.hpp>
#include <mproc/detail/item_bytes.hpp>

#include <cstddef>
#include <mutex>
#include <optional>
#include <ranges>
#include <string>
#include <vector>

namespace mproc {

template <class T>
class shared_list : public detail::shared_container<shared_list<T>> {
  using base = detail::shared_container<shared_list<T>>;
  using base::store_;

  static_assert(detail::storable_item<T>,
                "a shared_list item must be a number, a plain struct or a value with a cereal serialize()");

 public:
  /// What `list[i]` gives: reads and writes item i of the shared list.
  class reference {
   public:
    operator T() const { return get(); }
    T get() const { return list_.at(index_); }
    friend bool operator==(const reference& a, const T& b) { return a.get() == b; }
    reference& operator=(const T& value) {
      list_.store_.assign(index_, detail::item_bytes(value));
      return *this;
    }
    reference& operator=(const reference& other) { return *this = static_cast<T>(other); }

   private:
    friend class shared_list;
    reference(shared_list& list, std::size_t index) : list_(list), index_(index) {}
    shared_list& list_;
    std::size_t index_;
  };

  /// An empty list; `max_bytes` (0: none) bounds what it may hold.
  explicit shared_list(std::size_t max_bytes = 0) : base(detail::byte_container::kind::list, max_bytes, "shared list") {}

  /// Errors (all of them, here and below): std::out_of_range for an index past
  /// the end; mproc::error when the list may not grow (nothing changes then).
  reference operator[](std::size_t index) { return reference(*this, index); }
  T operator[](std::size_t index) const { return at(index); }
  T at(std::size_t index) const { return detail::item_from_bytes<T>(store_.at(index)); }

  void append(const T& value) { store_.append(detail::item_bytes(value)); }
  void push_back(const T& value) { append(value); }
  /// Appends every item of `values` in one step.
  template <std::ranges::input_range R>
  void extend(R&& values) {
    std::vector<std::string> all;
    for (const auto& value : values) all.push_back(detail::item_bytes(static_cast<const T&>(value)));
    store_.extend(all);
  }
  /// Makes room for `count` items (of `item_bytes` each; a plain T's size by
  /// default) in one step, as std::vector::reserve: appending them then
  /// neither moves the list's table nor commits memory.
  void reserve(std::size_t count, std::size_t item_bytes = detail::plain_item<T> ? sizeof(T) : 16) {
    store_.reserve(count, item_bytes);
  }
  /// Puts `value` before item `index` (at the end for an index past it, as Python).
  void insert(std::size_t index, const T& value) { store_.insert(index, detail::item_bytes(value)); }
  /// Removes and returns the last item, or item `index`.
  T pop() { return detail::item_from_bytes<T>(store_.pop(std::nullopt)); }
  T pop(std::size_t index) { return detail::item_from_bytes<T>(store_.pop(index)); }
  void erase(std::size_t index) { store_.pop(index); }

  std::size_t size() const { return store_.size(); }
  bool empty() const { return size() == 0; }
  void clear() { store_.clear(); }

  /// Every item, copied at one moment.
  std::vector<T> snapshot() const {
    std::scoped_lock hold(store_);
    std::vector<T> all;
    if constexpr (detail::plain_item<T>) {
      all.resize(store_.size());
      all.resize(store_.copy_plain_items(all.data(), sizeof(T), all.size()));
    } else {
      all.reserve(store_.size());
      store_.visit([](void* to, std::string_view bytes) {
        static_cast<std::vector<T>*>(to)->push_back(detail::item_from_bytes<T>(bytes));
      }, &all);
    }
    return all;
  }
  /// The first index holding `value`, if any.
  std::optional<std::size_t> index(const T& value) const {
    const std::string wanted = detail::item_bytes(value);
    const auto all = store_.items();
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (all[i] == wanted) return i;
    }
    return std::nullopt;
  }
  std::size_t count(const T& value) const {
    const std::string wanted = detail::item_bytes(value);
    std::size_t n = 0;
    for (const auto& bytes : store_.items()) n += bytes == wanted ? 1 : 0;
    return n;
  }

  /// Runs `change(item)` on item `index` and stores the result, all under the
  /// list's lock: `l.update(0, [](int& v) { v += 1; })` from 4 processes
  /// loses no increment.
  template <class F>
  void update(std::size_t index, F&& change) {
    store_.update_at(index, [&](std::string_view bytes) {
      T value = detail::item_from_bytes<T>(bytes);
      change(value);
      return detail::item_bytes(value);
    });
  }
};

}  // namespace mproc
