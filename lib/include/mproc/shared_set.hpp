// A set in shared memory, as Python 3.14's Manager().set().
//
//   mproc::shared_set<std::string> seen;
//   if (seen.add(url)) fetch(url);          // true: it was not there yet
//   seen.discard(url);
//   std::set<std::string> now = seen.snapshot();
#pragma once

#include <mproc/detail/byte_container.hpp>
#include <mproc/detail/item_bytes.hpp>

#include <cstddef>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace mproc {

template <class T>
class shared_set : public detail::shared_container<shared_set<T>> {
  using base = detail::shared_container<shared_set<T>>;
  using base::store_;

  static_assert(detail::storable_item<T>,
                "a shared_set item must be a number, a plain struct or a value with a cereal serialize()");

 public:
  /// An empty set; `max_bytes` (0: none) bounds what it may hold.
  explicit shared_set(std::size_t max_bytes = 0) : base(detail::byte_container::kind::map, max_bytes, "shared set") {}

  /// Adds `value`; true if it was not there. Errors: mproc::error when the set may not grow.
  bool add(const T& value) {
    const std::string bytes = detail::item_bytes(value);
    bool added = false;
    store_.update_key(bytes, [&](std::optional<std::string_view> was) {
      added = !was.has_value();
      return std::string();
    });
    return added;
  }
  /// Removes `value`; true if it was there.
  bool discard(const T& value) { return store_.take(detail::item_bytes(value)).has_value(); }
  bool contains(const T& value) const { return store_.find(detail::item_bytes(value)).has_value(); }
  std::size_t size() const { return store_.size(); }
  bool empty() const { return size() == 0; }
  void clear() { store_.clear(); }

  /// Every item, copied at one moment.
  std::set<T> snapshot() const {
    std::set<T> all;
    for (const auto& [key, nothing] : store_.entries()) all.insert(detail::item_from_bytes<T>(key));
    return all;
  }
};

}  // namespace mproc
