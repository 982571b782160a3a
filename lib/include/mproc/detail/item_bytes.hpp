// How a shared container stores one value: plain values (numbers, trivially
// copyable structs) as their bytes, anything else as its cereal encoding.
#pragma once

#include <mproc/detail/archive.hpp>
#include <mproc/error.hpp>

#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

namespace mproc::detail {

/// What a shared container may hold, checked with a sentence of ours.
template <class T>
constexpr bool storable_item = plain_item<T> || travelling_value<T>;

template <class T>
std::string item_bytes(const T& value) {
  if constexpr (!storable_item<T>) {
    return {};  // the container's static_assert said why
  } else if constexpr (plain_item<T>) {
    return std::string(reinterpret_cast<const char*>(&value), sizeof value);
  } else {
    return to_bytes(value);
  }
}

/// Errors: serialization_error for bytes that are not a T.
template <class T>
T item_from_bytes(std::string_view bytes) {
  if constexpr (!storable_item<T>) {
    return T{};  // the container's static_assert said why
  } else if constexpr (plain_item<T>) {
    if (bytes.size() != sizeof(T)) {
      throw serialization_error("a shared container item of " + std::to_string(bytes.size()) + " bytes is not a " +
                                boost::core::demangle(typeid(T).name()));
    }
    T value;
    std::memcpy(&value, bytes.data(), sizeof value);
    return value;
  } else {
    try {
      return from_bytes<T>(bytes);
    } catch (const cereal::Exception& e) {
      throw serialization_error("a shared container item is not a " + boost::core::demangle(typeid(T).name()) +
                                ": " + e.what());
    }
  }
}

}  // namespace mproc::detail
