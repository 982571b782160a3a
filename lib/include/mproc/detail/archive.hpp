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

#include <array>
#include <concepts>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

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

template <class T>
struct is_std_array : std::false_type {};
template <class T, std::size_t N>
struct is_std_array<std::array<T, N>> : std::true_type {};

/// A struct that travels as its bytes, with no serialize() of its own: a
/// trivially copyable aggregate. Both ends run the same binary, so the layout
/// is the same. A serialize() (member or not) of the user's still wins.
template <class T>
concept plain_struct =
    std::is_class_v<T> && std::is_trivially_copyable_v<T> && std::is_aggregate_v<T> && !is_std_array<T>::value &&
    !cereal::traits::has_member_serialize<T, output_archive>::value &&
    !cereal::traits::has_member_save<T, output_archive>::value &&
    !cereal::traits::has_member_versioned_serialize<T, output_archive>::value &&
    !cereal::traits::has_non_member_serialize<T, output_archive>::value &&
    !cereal::traits::has_non_member_versioned_serialize<T, output_archive>::value;

/// The binary archives mproc writes and reads with.
template <class A>
concept mproc_archive = std::same_as<A, output_archive> || std::same_as<A, cereal::BinaryInputArchive> ||
                        std::same_as<A, bounded_input_archive> || std::same_as<A, byte_output_archive>;

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

/// A value that travels, checked all the way down: cereal's own traits accept
/// any std::vector or std::tuple whatever their elements, and the error then
/// comes from deep inside cereal. This looks inside the standard containers.
template <class T>
struct travels_deeply : std::bool_constant<wire_value<T>> {};
template <class... T>
struct travels_deeply<std::tuple<T...>> : std::bool_constant<(travels_deeply<T>::value && ...)> {};
template <class A, class B>
struct travels_deeply<std::pair<A, B>> : std::bool_constant<travels_deeply<A>::value && travels_deeply<B>::value> {};
template <class... T>
struct travels_deeply<std::variant<T...>> : std::bool_constant<(travels_deeply<T>::value && ...)> {};
template <class T, std::size_t N>
struct travels_deeply<std::array<T, N>> : travels_deeply<T> {};
template <class T>
struct travels_deeply<std::optional<T>> : travels_deeply<T> {};
template <class T, class A>
struct travels_deeply<std::vector<T, A>> : travels_deeply<T> {};
template <class T, class A>
struct travels_deeply<std::deque<T, A>> : travels_deeply<T> {};
template <class T, class A>
struct travels_deeply<std::list<T, A>> : travels_deeply<T> {};
template <class T, class C, class A>
struct travels_deeply<std::set<T, C, A>> : travels_deeply<T> {};
template <class T, class H, class E, class A>
struct travels_deeply<std::unordered_set<T, H, E, A>> : travels_deeply<T> {};
template <class K, class V, class C, class A>
struct travels_deeply<std::map<K, V, C, A>>
    : std::bool_constant<travels_deeply<K>::value && travels_deeply<V>::value> {};
template <class K, class V, class H, class E, class A>
struct travels_deeply<std::unordered_map<K, V, H, E, A>>
    : std::bool_constant<travels_deeply<K>::value && travels_deeply<V>::value> {};

template <class T>
concept travelling_value = travels_deeply<std::remove_cv_t<T>>::value;

}  // namespace mproc::detail

namespace cereal {

template <class Archive, class T>
  requires mproc::detail::mproc_archive<Archive> && mproc::detail::plain_struct<T>
void CEREAL_SAVE_FUNCTION_NAME(Archive& archive, const T& value) {
  archive(binary_data(std::addressof(value), sizeof(T)));
}

template <class Archive, class T>
  requires mproc::detail::mproc_archive<Archive> && mproc::detail::plain_struct<T>
void CEREAL_LOAD_FUNCTION_NAME(Archive& archive, T& value) {
  archive(binary_data(std::addressof(value), sizeof(T)));
}

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
