// The bounded archive, read as several target types: any bytes either decode
// or throw, and never make the decoder allocate past its budget (64 x the
// input + 64 KiB; libFuzzer's -malloc_limit_mb catches more).
#include <mproc/detail/archive.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

namespace {

struct plain {
  double x;
  std::int32_t tag;
};

struct with_serialize {
  std::string name;
  std::vector<std::int64_t> values;
  std::optional<plain> where;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(name, values, where);
  }
};

template <class T>
void decode_as(std::string_view bytes) {
  try {
    [[maybe_unused]] T value = mproc::detail::from_bytes<T>(bytes);
  } catch (const std::exception&) {  // refused: the only other outcome allowed
  }
  try {
    [[maybe_unused]] T value = mproc::detail::from_tagged_bytes<T>(bytes);
  } catch (const std::exception&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the type, so that one corpus covers them all.
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 12) {
    case 0: decode_as<std::int32_t>(bytes); break;
    case 1: decode_as<std::string>(bytes); break;
    case 2: decode_as<std::vector<std::string>>(bytes); break;
    case 3: decode_as<std::vector<std::optional<std::array<std::uint64_t, 512>>>>(bytes); break;
    case 4: decode_as<std::map<std::string, std::vector<int>>>(bytes); break;
    case 5: decode_as<std::tuple<int, std::string, double>>(bytes); break;
    case 6: decode_as<std::vector<std::unique_ptr<std::optional<std::array<std::uint64_t, 64>>>>>(bytes); break;
    case 7: decode_as<std::variant<int, std::string, std::vector<double>>>(bytes); break;
    case 8: decode_as<std::vector<plain>>(bytes); break;
    case 9: decode_as<with_serialize>(bytes); break;
    case 10: decode_as<std::list<std::map<int, std::optional<std::string>>>>(bytes); break;
    default: decode_as<std::vector<std::shared_ptr<std::vector<std::uint64_t>>>>(bytes); break;
  }
  return 0;
}
