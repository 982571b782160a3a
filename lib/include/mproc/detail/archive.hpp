// The wire format of values passed to other processes: cereal's binary archives.
// cereal is header-only (the Windows build links no compiled Boost or cereal
// library), fast, and covers the standard types.
#pragma once

#include <cereal/archives/binary.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/chrono.hpp>
#include <cereal/types/deque.hpp>
#include <cereal/types/list.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/memory.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/unordered_set.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>

#include <concepts>
#include <type_traits>

#include <cstddef>
#include <cstring>
#include <string>
#include <sstream>
#include <string_view>

namespace mproc::detail {

/// cereal's binary input archive, but reading from bytes already received and
/// refusing any length larger than the bytes left. cereal's own archive trusts
/// a container's length and allocates it before reading: corrupt bytes could
/// make it allocate (and zero) gigabytes. Containers of empty types, whose
/// elements take no bytes, cannot be read back with this archive.
class bounded_input_archive
    : public cereal::InputArchive<bounded_input_archive, cereal::AllowEmptyClassElision> {
 public:
  explicit bounded_input_archive(std::string_view bytes)
      : cereal::InputArchive<bounded_input_archive, cereal::AllowEmptyClassElision>(this), bytes_(bytes) {}

  void loadBinary(void* data, std::size_t size) {
    if (size == 0) return;  // an empty container's data may be null: no memcpy
    if (size > bytes_.size()) {
      throw cereal::Exception("the message ends early: " + std::to_string(size) + " bytes wanted, " +
                              std::to_string(bytes_.size()) + " left");
    }
    std::memcpy(data, bytes_.data(), size);
    bytes_.remove_prefix(size);
  }

  std::size_t bytes_left() const noexcept { return bytes_.size(); }

 private:
  std::string_view bytes_;
};

/// cereal's binary output archive, but appending to a string: the same bytes
/// without a std::ostream per value (which cost about 1 us per message).
class byte_output_archive : public cereal::OutputArchive<byte_output_archive, cereal::AllowEmptyClassElision> {
 public:
  explicit byte_output_archive(std::string& bytes)
      : cereal::OutputArchive<byte_output_archive, cereal::AllowEmptyClassElision>(this), bytes_(bytes) {}

  void saveBinary(const void* data, std::size_t size) { bytes_.append(static_cast<const char*>(data), size); }

 private:
  std::string& bytes_;
};

using output_archive = cereal::BinaryOutputArchive;
using input_archive = bounded_input_archive;

/// Appends the bytes of one value to `bytes`.
template <class T>
void append_bytes(std::string& bytes, const T& value) {
  byte_output_archive out(bytes);
  out(value);
}

/// The bytes of one value.
template <class T>
std::string to_bytes(const T& value) {
  std::string bytes;
  append_bytes(bytes, value);
  return bytes;
}

/// The value in `bytes`. Errors: cereal::Exception.
template <class T>
T from_bytes(std::string_view bytes) {
  input_archive in(bytes);
  T value{};
  in(value);
  return value;
}

/// A value that can travel to another process: cereal can write and read it, and
/// reading needs a default-constructed object to fill in.
template <class T>
concept wire_value = std::default_initializable<T> &&
                     cereal::traits::is_output_serializable<T, output_archive>::value &&
                     cereal::traits::is_input_serializable<T, input_archive>::value;

}  // namespace mproc::detail

namespace cereal {

template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_LOAD_FUNCTION_NAME(mproc::detail::bounded_input_archive& archive,
                                                                     T& value) {
  archive.loadBinary(std::addressof(value), sizeof(value));
}

template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(mproc::detail::bounded_input_archive& archive, NameValuePair<T>& pair) {
  archive(pair.value);
}

// Every element takes at least one byte, so no honest length exceeds the bytes left.
template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(mproc::detail::bounded_input_archive& archive, SizeTag<T>& tag) {
  archive(tag.size);
  if (static_cast<std::size_t>(tag.size) > archive.bytes_left()) {
    throw Exception("corrupt length " + std::to_string(tag.size) + ": only " +
                    std::to_string(archive.bytes_left()) + " bytes are left in the message");
  }
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(mproc::detail::bounded_input_archive& archive, BinaryData<T>& data) {
  archive.loadBinary(data.data, static_cast<std::size_t>(data.size));
}

template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_SAVE_FUNCTION_NAME(mproc::detail::byte_output_archive& archive,
                                                                     const T& value) {
  archive.saveBinary(std::addressof(value), sizeof(value));
}

template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(mproc::detail::byte_output_archive& archive, NameValuePair<T>& pair) {
  archive(pair.value);
}

template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(mproc::detail::byte_output_archive& archive, SizeTag<T>& tag) {
  archive(tag.size);
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(mproc::detail::byte_output_archive& archive, const BinaryData<T>& data) {
  archive.saveBinary(data.data, static_cast<std::size_t>(data.size));
}

namespace traits::detail {
template <>
struct get_output_from_input<mproc::detail::bounded_input_archive> {
  using type = BinaryOutputArchive;
};
template <>
struct get_input_from_output<mproc::detail::byte_output_archive> {
  using type = mproc::detail::bounded_input_archive;
};
}  // namespace traits::detail

}  // namespace cereal

CEREAL_REGISTER_ARCHIVE(mproc::detail::bounded_input_archive)
CEREAL_REGISTER_ARCHIVE(mproc::detail::byte_output_archive)
