// The wire format: values round-trip, and corrupt bytes are refused with a clear
// error before anything large is allocated.
#include "support/scratch.hpp"

#include <mproc/detail/archive.hpp>

#include <boost/test/unit_test.hpp>

#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

template <class... T>
std::string encode(const T&... values) {
  std::ostringstream bytes;
  {
    mproc::detail::output_archive out(bytes);
    out(values...);
  }
  return bytes.str();
}

template <class T>
T decode(const std::string& bytes) {
  mproc::detail::input_archive in(bytes);
  T value{};
  in(value);
  return value;
}

bool says(const cereal::Exception& e, const std::string& words) {
  return std::string(e.what()).find(words) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(standard_values_round_trip) {
  const std::map<std::string, std::vector<double>> table{{"a", {1.5, 2.5}}, {"empty", {}}};
  BOOST_TEST((decode<std::map<std::string, std::vector<double>>>(encode(table)) == table));
  BOOST_TEST(decode<std::string>(encode(std::string(100000, 'x'))) == std::string(100000, 'x'));
  BOOST_TEST(decode<std::string>(encode(std::string())).empty());
}

BOOST_AUTO_TEST_CASE(corrupt_lengths_are_refused_before_allocating) {
  for (const std::uint64_t length : {std::uint64_t{1} << 40, std::uint64_t{1} << 33, std::uint64_t{64}}) {
    const std::string bytes = encode(length) + "short";
    BOOST_CHECK_EXCEPTION(decode<std::string>(bytes), cereal::Exception,
                          [](const cereal::Exception& e) { return says(e, "corrupt length"); });
    BOOST_CHECK_EXCEPTION(decode<std::vector<int>>(bytes), cereal::Exception,
                          [](const cereal::Exception& e) { return says(e, "corrupt length"); });
    BOOST_CHECK_EXCEPTION((decode<std::map<int, int>>(bytes)), cereal::Exception,
                          [](const cereal::Exception& e) { return says(e, "corrupt length"); });
  }
}

// A vector of std::byte is its length, then its bytes (copied as one block:
// bench_pool's pipe_1GiB_to_child_ms shows the speed).
BOOST_AUTO_TEST_CASE(byte_vectors_round_trip_and_refuse_corrupt_lengths) {
  std::vector<std::byte> bytes(100000);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>(i * 7);
  const std::string message = encode(bytes);
  BOOST_TEST(message.size() == sizeof(std::uint64_t) + bytes.size());
  BOOST_TEST((decode<std::vector<std::byte>>(message) == bytes));
  BOOST_TEST(decode<std::vector<std::byte>>(encode(std::vector<std::byte>{})).empty());
  BOOST_CHECK_EXCEPTION(decode<std::vector<std::byte>>(encode(std::uint64_t{1} << 40) + "short"), cereal::Exception,
                        [](const cereal::Exception& e) { return says(e, "corrupt length"); });
}

BOOST_AUTO_TEST_CASE(truncated_message_is_refused) {
  const std::string bytes = encode(std::vector<int>{1, 2, 3, 4});
  BOOST_CHECK_EXCEPTION(decode<std::vector<int>>(bytes.substr(0, bytes.size() - 2)), cereal::Exception,
                        [](const cereal::Exception& e) { return says(e, "ends early"); });
}
