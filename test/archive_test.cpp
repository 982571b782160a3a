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

BOOST_AUTO_TEST_CASE(truncated_message_is_refused) {
  const std::string bytes = encode(std::vector<int>{1, 2, 3, 4});
  BOOST_CHECK_EXCEPTION(decode<std::vector<int>>(bytes.substr(0, bytes.size() - 2)), cereal::Exception,
                        [](const cereal::Exception& e) { return says(e, "ends early"); });
}
