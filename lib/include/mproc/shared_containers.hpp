// Shared containers: a list and a dict that several processes read and change.
//
//   mproc::shared_list<int> out_list;               // capacity: 1 MiB by default
//   mproc::process p(do_something, 1000, out_list);  // the child appends to it
//   std::vector<int> all = out_list.snapshot();
//
//   mproc::shared_dict<std::string, double> totals;
//   totals.set("north", 1.5);
//   std::optional<double> north = totals.get("north");
//
// Values are anything a process argument can be; they are stored serialised.
// The capacity, in bytes, is fixed when the container is made: an append past
// it throws mproc::error and changes nothing.
#pragma once

#include <mproc/detail/archive.hpp>
#include <mproc/shared_memory.hpp>
#include <mproc/sync.hpp>

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace mproc {

namespace detail {

/// The untyped containers behind shared_list and shared_dict: byte strings in
/// a Boost.Interprocess heap inside a shared memory block, under a robust lock.
class byte_container {
 public:
  byte_container() = default;  // a placeholder, for loading
  byte_container(bool is_map, std::size_t capacity);

  // list
  void push_back(const std::string& bytes);
  std::string at(std::size_t index) const;
  std::vector<std::string> items() const;
  // map
  void set(const std::string& key, const std::string& value);
  std::optional<std::string> find(const std::string& key) const;
  bool erase(const std::string& key);
  std::vector<std::pair<std::string, std::string>> entries() const;
  // both
  std::size_t size() const;
  void clear();

  template <class Archive>
  void serialize(Archive& archive) {
    archive(block_, lock_, is_map_);
  }

 private:
  struct access;
  shared_memory block_;
  mutable mutex lock_;
  bool is_map_ = false;
};

}  // namespace detail

/// A list in shared memory (Python's manager list, for values).
template <class T>
class shared_list {
 public:
  static constexpr std::size_t default_capacity = std::size_t{1} << 20;

  explicit shared_list(std::size_t capacity_bytes = default_capacity) : items_(false, capacity_bytes) {}

  /// Errors: mproc::error when the list is full; nothing is added then.
  void append(const T& value) { items_.push_back(detail::to_bytes(value)); }
  /// Errors: std::out_of_range.
  T operator[](std::size_t index) const { return detail::from_bytes<T>(items_.at(index)); }
  std::size_t size() const { return items_.size(); }
  bool empty() const { return size() == 0; }
  void clear() { items_.clear(); }
  /// Every element, copied at one moment.
  std::vector<T> snapshot() const {
    std::vector<T> all;
    for (const auto& bytes : items_.items()) all.push_back(detail::from_bytes<T>(bytes));
    return all;
  }

  template <class Archive>
  void serialize(Archive& archive) {
    archive(items_);
  }

 private:
  detail::byte_container items_;
};

/// A dict in shared memory (Python's manager dict, for values).
template <class K, class V>
class shared_dict {
 public:
  static constexpr std::size_t default_capacity = std::size_t{1} << 20;

  explicit shared_dict(std::size_t capacity_bytes = default_capacity) : entries_(true, capacity_bytes) {}

  /// Errors: mproc::error when the dict is full; nothing changes then.
  void set(const K& key, const V& value) { entries_.set(detail::to_bytes(key), detail::to_bytes(value)); }
  std::optional<V> get(const K& key) const {
    auto found = entries_.find(detail::to_bytes(key));
    if (!found) return std::nullopt;
    return detail::from_bytes<V>(*found);
  }
  bool contains(const K& key) const { return entries_.find(detail::to_bytes(key)).has_value(); }
  bool erase(const K& key) { return entries_.erase(detail::to_bytes(key)); }
  std::size_t size() const { return entries_.size(); }
  void clear() { entries_.clear(); }
  /// Every entry, copied at one moment.
  std::map<K, V> snapshot() const {
    std::map<K, V> all;
    for (const auto& [key, value] : entries_.entries()) {
      all.emplace(detail::from_bytes<K>(key), detail::from_bytes<V>(value));
    }
    return all;
  }

  template <class Archive>
  void serialize(Archive& archive) {
    archive(entries_);
  }

 private:
  detail::byte_container entries_;
};

}  // namespace mproc
