// Shared buffers and spans: big arrays read and written in place by children
// and pool workers, under each start method, with nothing left behind.
#include "support/scratch.hpp"

#include <mproc/pool.hpp>
#include <mproc/process.hpp>
#include <mproc/shared_buffer.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

using mproc::test::with;

namespace {

bool exists_in_dev_shm(const std::string& name) { return mproc::test::shared_memory_exists(name); }

std::int64_t sum_of(mproc::shared_span<const std::int32_t> part) {
  return std::accumulate(part.begin(), part.end(), std::int64_t{0});
}

// Squares its slice of `from` into the same slice of `to`; where it started.
std::size_t square_into(std::tuple<mproc::shared_span<const std::int32_t>, mproc::shared_span<std::int64_t>> job) {
  auto [from, to] = job;
  for (std::size_t i = 0; i < from.size(); ++i) to[i] = std::int64_t{from[i]} * from[i];
  return from.offset();
}

void count_down(mproc::shared_buffer<std::int32_t> buffer, std::int32_t start) {
  for (std::size_t i = 0; i < buffer.size(); ++i) buffer[i] = start - static_cast<std::int32_t>(i);
}

void add_one_to(mproc::shared_span<std::int32_t> part) {
  for (auto& x : part) x += 1;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(surface)

BOOST_AUTO_TEST_CASE(a_buffer_holds_zeros_or_a_copy_of_a_range) {
  mproc::shared_buffer<double> zeros(1000);
  BOOST_TEST(zeros.size() == 1000u);
  BOOST_TEST(std::all_of(zeros.begin(), zeros.end(), [](double x) { return x == 0.0; }));
  const std::vector<int> values{5, 6, 7};
  mproc::shared_buffer<int> copy(mproc::from_range, values);
  BOOST_TEST(std::vector<int>(copy.begin(), copy.end()) == values);
  mproc::shared_buffer<long> widened(mproc::from_range, values);  // converted item by item
  BOOST_TEST(widened[2] == 7L);
  mproc::shared_buffer<int> none(0);
  BOOST_TEST(none.empty());
  BOOST_TEST(none.slices(4).empty());
}

BOOST_AUTO_TEST_CASE(slices_cover_the_buffer_and_subspans_are_checked) {
  mproc::shared_buffer<int> buffer(10);
  std::iota(buffer.begin(), buffer.end(), 0);
  const auto pieces = buffer.slices(3);
  BOOST_TEST_REQUIRE(pieces.size() == 4u);
  BOOST_TEST(pieces[3].size() == 1u);
  BOOST_TEST(pieces[3].offset() == 9u);
  BOOST_TEST(pieces[1][0] == 3);
  mproc::shared_span<const int> read_only = pieces[2];  // writable converts to read-only
  BOOST_TEST(read_only.data() == buffer.data() + 6);
  pieces[2][1] = 70;  // the same memory
  BOOST_TEST(buffer[7] == 70);
  BOOST_TEST(buffer.slice(2, 8).subspan(7, 1)[0] == 9);
  BOOST_CHECK_THROW(buffer.slice(2, 9), std::out_of_range);
  BOOST_CHECK_THROW(pieces[0].subspan(1, 3), std::out_of_range);
  BOOST_CHECK_THROW(buffer.slices(0), mproc::error);
  static_assert(!std::is_convertible_v<mproc::shared_span<const int>, mproc::shared_span<int>>,
                "a read-only span does not become writable");
}

BOOST_AUTO_TEST_CASE(a_span_that_does_not_fit_its_memory_is_refused_as_corrupt) {
  auto block = mproc::shared_memory::create(40);  // 10 items of 4 bytes
  BOOST_CHECK_NO_THROW(mproc::detail::check_shared_extent(block, 2, 8, 4));
  BOOST_CHECK_THROW(mproc::detail::check_shared_extent(block, 2, 9, 4), mproc::serialization_error);
  BOOST_CHECK_THROW(mproc::detail::check_shared_extent(block, 11, 0, 4), mproc::serialization_error);
  BOOST_CHECK_THROW(mproc::detail::check_shared_extent(block, 1, static_cast<std::size_t>(-1), 4),
                    mproc::serialization_error);
  BOOST_CHECK_THROW(mproc::shared_buffer<std::int64_t>(static_cast<std::size_t>(-1) / 4), mproc::error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(between_processes)

MPROC_TEST_EACH_METHOD(a_child_writes_the_buffer_the_parent_reads) {
  mproc::shared_buffer<std::int32_t> buffer(100000);
  mproc::process child(with(method), count_down, buffer, 100000);
  child.start();
  child.join();
  BOOST_TEST(child.exitcode().value() == 0);
  BOOST_TEST(buffer[0] == 100000);
  BOOST_TEST(buffer[99999] == 1);
}

MPROC_TEST_EACH_METHOD(pool_workers_read_and_write_slices_in_place) {
  const std::size_t n = 1 << 20;
  mproc::shared_buffer<std::int32_t> inputs(n);
  std::iota(inputs.begin(), inputs.end(), 0);
  mproc::shared_buffer<std::int64_t> squares(n);
  {
    mproc::pool workers(mproc::pool_options{.processes = 2, .method = method});
    const auto sums = workers.map(sum_of, inputs.slices(1 << 16));
    BOOST_TEST_REQUIRE(sums.size() == 16u);
    BOOST_TEST(std::accumulate(sums.begin(), sums.end(), std::int64_t{0}) == std::int64_t{n} * (n - 1) / 2);

    std::vector<std::tuple<mproc::shared_span<const std::int32_t>, mproc::shared_span<std::int64_t>>> jobs;
    const auto from = inputs.slices(100000);
    const auto to = squares.slices(100000);
    for (std::size_t i = 0; i < from.size(); ++i) jobs.emplace_back(from[i], to[i]);
    const auto starts = workers.map(square_into, jobs);
    BOOST_TEST(starts.back() == 1000000u);
    workers.map(add_one_to, inputs.slices(300000));  // writable slices, results void
  }
  BOOST_TEST(squares[3] == 9);
  BOOST_TEST(squares[n - 1] == std::int64_t{n - 1} * (n - 1));
  BOOST_TEST(inputs[0] == 1);
  BOOST_TEST(inputs[n - 1] == static_cast<std::int32_t>(n));
}

MPROC_TEST_EACH_METHOD(the_memory_goes_with_the_last_holder) {
  if (!mproc::test::posix_system) {
    return mproc::test::skip_case("Windows frees a section with its last handle: no name to look for");
  }
  std::string name;
  {
    mproc::shared_buffer<std::int32_t> buffer(4096);
    name = buffer.name();
    BOOST_TEST_REQUIRE(exists_in_dev_shm(name));
    mproc::process child(with(method), add_one_to, buffer.slice(0, 10));
    child.start();
    buffer.close();  // the child holds it from start(): it attaches even if we let go first
    child.join();
    BOOST_TEST(child.exitcode().value() == 0);
  }
  BOOST_TEST(!exists_in_dev_shm(name), name << " outlived its holders");
}

BOOST_AUTO_TEST_SUITE_END()
