// Shared values and arrays between processes.
#include "support/scratch.hpp"

#include <mproc/process.hpp>
#include <mproc/shared.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <mutex>

namespace {

constexpr int increments = 10000;

void add_under_lock(mproc::value<int> counter) {
  for (int i = 0; i < increments; ++i) {
    std::scoped_lock hold(counter.get_lock());
    counter.ref() += 1;
  }
}

void add_atomically(mproc::atomic_value<std::int64_t> counter) {
  for (int i = 0; i < increments; ++i) counter.fetch_add(1);
}

void fill(mproc::array<double> values) {
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>(i) * 0.5;
}

}  // namespace

MPROC_TEST_EACH_METHOD(four_processes_count_to_exactly_four_n_under_the_lock) {
  mproc::value<int> counter;
  BOOST_TEST(counter.get() == 0);  // zero-initialised
  std::vector<mproc::process> adders;
  for (int i = 0; i < 4; ++i) adders.emplace_back(mproc::process_options{.method = method}, add_under_lock, counter);
  for (auto& p : adders) p.start();
  for (auto& p : adders) p.join();
  BOOST_TEST(counter.get() == 4 * increments);
}

MPROC_TEST_EACH_METHOD(atomic_value_counts_without_a_lock) {
  mproc::atomic_value<std::int64_t> counter;
  std::vector<mproc::process> adders;
  for (int i = 0; i < 4; ++i) adders.emplace_back(mproc::process_options{.method = method}, add_atomically, counter);
  for (auto& p : adders) p.start();
  for (auto& p : adders) p.join();
  BOOST_TEST(counter.load() == 4 * increments);
}

MPROC_TEST_EACH_METHOD(array_filled_by_a_child) {
  mproc::array<double> values(1000);
  BOOST_TEST(values.size() == 1000u);
  BOOST_TEST(values[999] == 0.0);
  mproc::process child(mproc::process_options{.method = method}, fill, values);
  child.start();
  child.join();
  const auto copy = values.to_vector();
  BOOST_TEST(copy.size() == 1000u);
  BOOST_TEST(copy[999] == 499.5);
}

BOOST_AUTO_TEST_CASE(value_set_and_get) {
  struct point {
    int x;
    int y;
  };
  mproc::value<point> p(point{1, 2});
  BOOST_TEST(p.get().y == 2);
  p.set(point{3, 4});
  BOOST_TEST(p.get().x == 3);
}
