// A dict in shared memory that several processes read and change, as Python's
// Manager().dict(), with no server process and no capacity to choose.
//
//   mproc::shared_dict<std::string, int> counts;
//   counts["north"] = 1;                                        // d[k] = v
//   int n = counts["north"];                                    // std::out_of_range if absent
//   counts.update_item("north", [](int& v) { v += 1; });        // atomic read-modify-write
//   std::optional<int> south = counts.get("south");
//   for (auto& [key, value] : counts.items()) { ... }           // a consistent copy
//
// Keys and values are numbers and plain structs (stored as their bytes) or
// anything a process argument can be (stored serialised); keys are equal when
// their bytes are. Every change is whole or not at all, even for a process
// killed in its middle.
#pragma once

#include <mproc/detail/byte_container.hpp>
#include <mproc/detail/item_bytes.hpp>

#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace mproc {

template <class K, class V>
class shared_dict : public detail::shared_container<shared_dict<K, V>> {
  using base = detail::shared_container<shared_dict<K, V>>;
  using base::store_;

  static_assert(detail::storable_item<K>,
                "a shared_dict key must be a number, a plain struct or a value with a cereal serialize()");
  static_assert(detail::storable_item<V>,
                "a shared_dict value must be a number, a plain struct or a value with a cereal serialize()");

 public:
  /// What `dict[key]` gives: reads (std::out_of_range if absent) or sets it.
  class reference {
   public:
    operator V() const { return get(); }
    V get() const { return dict_.at(key_); }
    friend bool operator==(const reference& a, const V& b) { return a.get() == b; }
    reference& operator=(const V& value) {
      dict_.set(key_, value);
      return *this;
    }
    reference& operator=(const reference& other) { return *this = static_cast<V>(other); }

   private:
    friend class shared_dict;
    reference(shared_dict& dict, K key) : dict_(dict), key_(std::move(key)) {}
    shared_dict& dict_;
    K key_;
  };

  /// An empty dict; `max_bytes` (0: none) bounds what it may hold.
  explicit shared_dict(std::size_t max_bytes = 0)
      : base(detail::byte_container::kind::map, max_bytes, "shared dict") {}

  reference operator[](const K& key) { return reference(*this, key); }
  /// Errors: std::out_of_range when `key` is absent.
  V at(const K& key) const {
    auto found = get(key);
    if (!found) throw std::out_of_range("the shared dict has no such key");
    return *std::move(found);
  }
  std::optional<V> get(const K& key) const {
    auto found = store_.find(detail::item_bytes(key));
    if (!found) return std::nullopt;
    return detail::item_from_bytes<V>(*found);
  }
  V get(const K& key, const V& otherwise) const { return get(key).value_or(otherwise); }
  bool contains(const K& key) const { return store_.find(detail::item_bytes(key)).has_value(); }

  /// Errors: mproc::error when the dict may not grow (nothing changes then).
  void set(const K& key, const V& value) { store_.set(detail::item_bytes(key), detail::item_bytes(value)); }
  /// The value of `key`, after setting it to `value` if it had none.
  V setdefault(const K& key, const V& value) {
    return detail::item_from_bytes<V>(store_.set_default(detail::item_bytes(key), detail::item_bytes(value)));
  }
  /// Sets every entry of `entries` (a map, or a range of pairs).
  template <class R>
  void update(const R& entries) {
    std::scoped_lock hold(store_);
    for (const auto& [key, value] : entries) set(key, value);
  }
  /// Runs `change(value)` on the value of `key` (a V{} if absent) and stores
  /// the result, all under the dict's lock: 4 processes x 10,000
  /// `update_item(k, [](int& v) { v += 1; })` make exactly 40,000.
  template <class F>
  void update_item(const K& key, F&& change) {
    store_.update_key(detail::item_bytes(key), [&](std::optional<std::string_view> bytes) {
      V value = bytes ? detail::item_from_bytes<V>(*bytes) : V{};
      change(value);
      return detail::item_bytes(value);
    });
  }
  /// Removes `key`; false if it was absent.
  bool erase(const K& key) { return store_.take(detail::item_bytes(key)).has_value(); }
  /// Removes `key` and returns its value, if it had one.
  std::optional<V> pop(const K& key) {
    auto taken = store_.take(detail::item_bytes(key));
    if (!taken) return std::nullopt;
    return detail::item_from_bytes<V>(*taken);
  }

  std::size_t size() const { return store_.size(); }
  bool empty() const { return size() == 0; }
  void clear() { store_.clear(); }

  /// Copies made at one moment.
  std::vector<std::pair<K, V>> items() const {
    std::vector<std::pair<K, V>> all;
    for (const auto& [key, value] : store_.entries()) {
      all.emplace_back(detail::item_from_bytes<K>(key), detail::item_from_bytes<V>(value));
    }
    return all;
  }
  std::vector<K> keys() const {
    std::vector<K> all;
    for (const auto& [key, value] : store_.entries()) all.push_back(detail::item_from_bytes<K>(key));
    return all;
  }
  std::vector<V> values() const {
    std::vector<V> all;
    for (const auto& [key, value] : store_.entries()) all.push_back(detail::item_from_bytes<V>(value));
    return all;
  }
  /// Every entry, copied at one moment, in key order.
  std::map<K, V> snapshot() const {
    std::map<K, V> all;
    for (auto& [key, value] : items()) all.emplace(std::move(key), std::move(value));
    return all;
  }
};

}  // namespace mproc
