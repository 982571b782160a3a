// Named values of mixed types in shared memory, as Python's Manager().Namespace().
//
//   mproc::shared_namespace ns;
//   ns.set("x", 1);
//   ns.set("label", std::string("run 3"));
//   mproc::process p(work, ns);              // the child reads and sets them too
//   int x = ns.get<int>("x");                // mproc::error if absent or of another type
#pragma once

#include <mproc/detail/byte_container.hpp>
#include <mproc/detail/item_bytes.hpp>

#include <boost/core/demangle.hpp>

#include <cstddef>
#include <cstring>
#include <optional>
#include <string>
#include <typeinfo>
#include <vector>

namespace mproc {

class shared_namespace : public detail::shared_container<shared_namespace> {
 public:
  /// An empty namespace; `max_bytes` (0: none) bounds what it may hold.
  explicit shared_namespace(std::size_t max_bytes = 0)
      : shared_container(detail::byte_container::kind::map, max_bytes, "shared namespace") {}

  template <class T>
  void set(const std::string& name, const T& value) {
    static_assert(detail::storable_item<T>,
                  "a shared_namespace value must be a number, a plain struct or a value with a cereal serialize()");
    store_.set(name, type_name<T>() + '\0' + detail::item_bytes(value));
  }
  /// Errors: mproc::not_found_error when `name` is not set; mproc::error when it holds another type.
  template <class T>
  T get(const std::string& name) const {
    auto found = find<T>(name);
    if (!found) throw not_found_error("the shared namespace has no value called '" + name + "'");
    return *std::move(found);
  }
  /// The value of `name`, if set. Errors: mproc::error when it holds another type.
  template <class T>
  std::optional<T> find(const std::string& name) const {
    auto bytes = store_.find(name);
    if (!bytes) return std::nullopt;
    const auto end = bytes->find('\0');
    const std::string held = bytes->substr(0, end);
    if (held != type_name<T>()) {
      throw error("'" + name + "' in the shared namespace is of type " + held + ", not " + type_name<T>());
    }
    return detail::item_from_bytes<T>(std::string_view(*bytes).substr(end + 1));
  }
  bool contains(const std::string& name) const { return store_.find(name).has_value(); }
  bool erase(const std::string& name) { return store_.take(name).has_value(); }
  std::vector<std::string> names() const {
    std::vector<std::string> all;
    for (auto& [name, value] : store_.entries()) all.push_back(name);
    return all;
  }
  std::size_t size() const { return store_.size(); }

 private:
  template <class T>
  static std::string type_name() {
    return boost::core::demangle(typeid(T).name());
  }
};

}  // namespace mproc
