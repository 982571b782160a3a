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

#include <boost/core/demangle.hpp>

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
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <typeinfo>
#include <sstream>
#include <string_view>

namespace mproc::detail {

/// What decoding a message of N bytes may allocate at most: this many times N,
/// plus decode_allowance. An honest message needs far less (a vector of
/// std::optional<std::string> left empty takes 40 bytes a byte, the worst of
/// the usual shapes); a crafted one is refused before it allocates.
constexpr std::size_t decode_amplification = 64;
constexpr std::size_t decode_allowance = std::size_t{64} << 10;

/// cereal's binary input archive, but reading from bytes already received and
/// refusing any length larger than the bytes left. cereal's own archive trusts
/// a container's length and allocates it before reading: corrupt bytes could
/// make it allocate (and zero) gigabytes. And since an element can take far
/// more memory than bytes (a vector of empty std::optional<std::array<...>>),
/// every container and smart pointer is charged what it will allocate against
/// a budget of decode_amplification x the message, and refused past it.
/// Containers of empty types, whose elements take no bytes, cannot be read
/// back with this archive.
class bounded_input_archive
    : public cereal::InputArchive<bounded_input_archive, cereal::AllowEmptyClassElision> {
 public:
  explicit bounded_input_archive(std::string_view bytes)
      : cereal::InputArchive<bounded_input_archive, cereal::AllowEmptyClassElision>(this),
        bytes_(bytes),
        budget_(bytes.size() * decode_amplification + decode_allowance) {}

  /// Takes `count` x `each` bytes of memory from the budget. Errors:
  /// cereal::Exception past it.
  void charge(std::size_t count, std::size_t each) {
    if (each != 0 && count > budget_ / each) {
      throw cereal::Exception("the message asks for " + std::to_string(count) + " elements of " +
                              std::to_string(each) + " bytes: more memory than " +
                              std::to_string(decode_amplification) + " times its size");
    }
    budget_ -= count * each;
  }

  void loadBinary(void* data, std::size_t size) {
    if (size == 0) return;  // an empty container's data may be null: no memcpy
    if (size > bytes_.size()) {
      throw cereal::Exception("the message ends early: " + std::to_string(size) + " bytes wanted, " +
                              std::to_string(bytes_.size()) + " left");
    }
    std::memcpy(data, bytes_.data(), size);
    bytes_.remove_prefix(size);
  }

  /// The next `size` bytes, in place (no copy). Errors: cereal::Exception if
  /// the message has fewer.
  std::string_view take_bytes(std::size_t size) {
    if (size > bytes_.size()) {
      throw cereal::Exception("the message ends early: " + std::to_string(size) + " bytes wanted, " +
                              std::to_string(bytes_.size()) + " left");
    }
    const std::string_view taken = bytes_.substr(0, size);
    bytes_.remove_prefix(size);
    return taken;
  }

  std::size_t bytes_left() const noexcept { return bytes_.size(); }

 private:
  std::string_view bytes_;
  std::size_t budget_;
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

/// Numbers, enums and plain structs are their own bytes (as in cereal's binary
/// format), with no archive to build: the common case of small items (of a
/// queue, of a shared container), made as cheap as it gets.
template <class T>
concept plain_item = std::is_arithmetic_v<T> || std::is_enum_v<T> || plain_struct<T>;

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
  if (in.bytes_left() != 0) {  // a value of another type, most likely
    throw cereal::Exception(std::to_string(in.bytes_left()) + " of the message's " + std::to_string(bytes.size()) +
                            " bytes were left over: they are not one value of the type asked for");
  }
  return value;
}

/// A tag for T that travels before a value on a connection, so that reading
/// it as another type is an error, not a wrong value (an int read from a
/// std::string's bytes). The same program is at both ends: the same names.
template <class T>
std::uint32_t type_tag() {
  static const std::uint32_t tag = [] {
    std::uint32_t hash = 2166136261u;  // FNV-1a of the type's name
    for (const char* c = typeid(T).name(); *c != '\0'; ++c) hash = (hash ^ static_cast<unsigned char>(*c)) * 16777619u;
    return hash;
  }();
  return tag;
}

/// The bytes of `value` after its type's tag.
template <class T>
std::string to_tagged_bytes(const T& value) {
  const std::uint32_t tag = type_tag<T>();
  std::string bytes(reinterpret_cast<const char*>(&tag), sizeof tag);
  append_bytes(bytes, value);
  return bytes;
}

/// The value in `bytes` made by to_tagged_bytes<T>. Errors: cereal::Exception,
/// also for the bytes of another type.
template <class T>
T from_tagged_bytes(std::string_view bytes) {
  std::uint32_t tag = 0;
  if (bytes.size() < sizeof tag) throw cereal::Exception("the message is too short to hold a value");
  std::memcpy(&tag, bytes.data(), sizeof tag);
  if (tag != type_tag<T>()) {
    throw cereal::Exception("the message holds a value of another type than " +
                            boost::core::demangle(typeid(T).name()));
  }
  return from_bytes<T>(bytes.substr(sizeof tag));
}

/// A value that can travel to another process: cereal can write and read it, and
/// reading needs a default-constructed object to fill in.
template <class T>
concept wire_value = std::default_initializable<T> &&
                     cereal::traits::is_output_serializable<T, output_archive>::value &&
                     cereal::traits::is_input_serializable<T, input_archive>::value;

/// What an argument travels as: its decayed type, but a string literal or other
/// `const char*` / `char*` is copied into a std::string (a pointer means nothing
/// in another process), so `process p(greet, "world")` works for a target that
/// takes a std::string or std::string_view.
template <class A>
using travelling_t = std::conditional_t<std::is_same_v<std::decay_t<A>, const char*> ||
                                            std::is_same_v<std::decay_t<A>, char*>,
                                        std::string, std::decay_t<A>>;

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
std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>> CEREAL_LOAD_FUNCTION_NAME(
    mproc::detail::bounded_input_archive& archive, T& value) {
  archive.loadBinary(std::addressof(value), sizeof(value));
}

// A bool is one byte, 0 or 1: any other byte copied into a bool is undefined
// behaviour (found by fuzz_archive, through std::optional's flag).
inline void CEREAL_LOAD_FUNCTION_NAME(mproc::detail::bounded_input_archive& archive, bool& value) {
  std::uint8_t byte = 0;
  archive.loadBinary(&byte, 1);
  if (byte > 1) throw Exception("corrupt bool: byte " + std::to_string(byte) + " is neither 0 nor 1");
  value = byte == 1;
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

// ---- what containers and pointers allocate, charged before they do (see bounded_input_archive) ----

// Numbers are their bytes: the length is checked against the bytes left.
template <class T, class A>
  requires(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>)
void CEREAL_LOAD_FUNCTION_NAME(mproc::detail::bounded_input_archive& archive, std::vector<T, A>& vector) {
  size_type size = 0;
  archive(make_size_tag(size));
  if (size > archive.bytes_left() / sizeof(T)) {
    throw Exception("the message ends early: " + std::to_string(size) + " numbers of " + std::to_string(sizeof(T)) +
                    " bytes wanted, " + std::to_string(archive.bytes_left()) + " bytes left");
  }
  vector.resize(static_cast<std::size_t>(size));
  archive(binary_data(vector.data(), static_cast<std::size_t>(size) * sizeof(T)));
}

// Bytes are bytes: a std::vector<std::byte> travels as one block, not one
// enum at a time (which made a 1 GiB message take half a minute).
template <class A>
void CEREAL_LOAD_FUNCTION_NAME(mproc::detail::bounded_input_archive& archive, std::vector<std::byte, A>& vector) {
  size_type size = 0;
  archive(make_size_tag(size));
  vector.resize(static_cast<std::size_t>(size));  // the size tag checked it against the bytes left
  archive(binary_data(vector.data(), static_cast<std::size_t>(size)));
}

template <class T, class A>
  requires(!std::is_arithmetic_v<T> && !std::is_same_v<T, std::byte>)
void CEREAL_LOAD_FUNCTION_NAME(mproc::detail::bounded_input_archive& archive, std::vector<T, A>& vector) {
  size_type size = 0;
  archive(make_size_tag(size));
  archive.charge(static_cast<std::size_t>(size), sizeof(T));
  vector.resize(static_cast<std::size_t>(size));
  for (auto&& v : vector) archive(v);
}

template <class T, class A>
void CEREAL_LOAD_FUNCTION_NAME(mproc::detail::bounded_input_archive& archive, std::deque<T, A>& deque) {
  size_type size = 0;
  archive(make_size_tag(size));
  archive.charge(static_cast<std::size_t>(size), sizeof(T));
  deque.resize(static_cast<std::size_t>(size));
  for (auto&& v : deque) archive(v);
}

namespace mproc_detail {
constexpr std::size_t node_bytes = 32;  // a tree or list node's links, roughly

template <class SetT>
void load_set(mproc::detail::bounded_input_archive& archive, SetT& set) {
  size_type size = 0;
  archive(make_size_tag(size));
  archive.charge(static_cast<std::size_t>(size), sizeof(typename SetT::key_type) + node_bytes);
  set.clear();
  auto hint = set.begin();
  for (size_type i = 0; i < size; ++i) {
    typename SetT::key_type key;
    archive(key);
    hint = set.emplace_hint(hint, std::move(key));
  }
}
}  // namespace mproc_detail

template <class T, class A>
void CEREAL_LOAD_FUNCTION_NAME(mproc::detail::bounded_input_archive& archive, std::list<T, A>& list) {
  size_type size = 0;
  archive(make_size_tag(size));
  archive.charge(static_cast<std::size_t>(size), sizeof(T) + mproc_detail::node_bytes);
  list.resize(static_cast<std::size_t>(size));
  for (auto&& v : list) archive(v);
}

template <template <typename...> class Map, typename... Args, typename = typename Map<Args...>::mapped_type>
void CEREAL_LOAD_FUNCTION_NAME(mproc::detail::bounded_input_archive& archive, Map<Args...>& map) {
  size_type size = 0;
  archive(make_size_tag(size));
  archive.charge(static_cast<std::size_t>(size), sizeof(typename Map<Args...>::value_type) + mproc_detail::node_bytes);
  map.clear();
  auto hint = map.begin();
  for (std::size_t i = 0; i < size; ++i) {
    typename Map<Args...>::key_type key;
    typename Map<Args...>::mapped_type value;
    archive(make_map_item(key, value));
    hint = map.emplace_hint(hint, std::move(key), std::move(value));
  }
}

template <class K, class C, class A>
void CEREAL_LOAD_FUNCTION_NAME(mproc::detail::bounded_input_archive& archive, std::set<K, C, A>& set) {
  mproc_detail::load_set(archive, set);
}
template <class K, class C, class A>
void CEREAL_LOAD_FUNCTION_NAME(mproc::detail::bounded_input_archive& archive, std::multiset<K, C, A>& set) {
  mproc_detail::load_set(archive, set);
}
template <class K, class H, class E, class A>
void CEREAL_LOAD_FUNCTION_NAME(mproc::detail::bounded_input_archive& archive, std::unordered_set<K, H, E, A>& set) {
  mproc_detail::load_set(archive, set);
}
template <class K, class H, class E, class A>
void CEREAL_LOAD_FUNCTION_NAME(mproc::detail::bounded_input_archive& archive,
                               std::unordered_multiset<K, H, E, A>& set) {
  mproc_detail::load_set(archive, set);
}

// A pointer's object is charged whether or not the pointer is null: its size
// is known only here, before the bytes say.
template <class T, class D>
  requires(!std::is_array_v<T>)
void prologue(mproc::detail::bounded_input_archive& archive, const std::unique_ptr<T, D>&) {
  archive.charge(1, sizeof(T));
}
template <class T>
  requires(!std::is_array_v<T> && !std::is_void_v<T>)
void prologue(mproc::detail::bounded_input_archive& archive, const std::shared_ptr<T>&) {
  archive.charge(1, sizeof(T));
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

template <class A>
void CEREAL_SAVE_FUNCTION_NAME(mproc::detail::byte_output_archive& archive, const std::vector<std::byte, A>& vector) {
  archive(make_size_tag(static_cast<size_type>(vector.size())));
  archive(binary_data(vector.data(), vector.size()));
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
