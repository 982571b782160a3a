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

namespace mproc::detail {

using output_archive = cereal::BinaryOutputArchive;
using input_archive = cereal::BinaryInputArchive;

/// A value that can travel to another process: cereal can write and read it, and
/// reading needs a default-constructed object to fill in.
template <class T>
concept wire_value = std::default_initializable<T> &&
                     cereal::traits::is_output_serializable<T, output_archive>::value &&
                     cereal::traits::is_input_serializable<T, input_archive>::value;

}  // namespace mproc::detail
