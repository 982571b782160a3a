// The pool on MPI ranks: the chapter's pool demo (squares, starmap, apply_async
// with a callback, imap_unordered with progress) with mproc::mpi::pool, each
// result saying which rank on which host computed it. The main job runs it as
// `mpiexec -n 3 --enable-recovery distributed_pool`: rank 0 runs main(), ranks
// 1 and 2 serve its tasks inside the pool's constructor.
#include <mproc/init.hpp>
#include <mproc/mpi/pool.hpp>

#include <boost/asio/ip/host_name.hpp>
#include <fmt/format.h>

#include <iostream>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

namespace {

// Where a task ran: "rank 2 on vm".
std::string here() { return fmt::format("rank {} on {}", mproc::mpi::pool::rank(), boost::asio::ip::host_name()); }

std::string square_where(int x) { return fmt::format("{}^2 = {} ({})", x, x * x, here()); }
int function_square(int x) { return x * x; }
long power(long base, int exponent) {
  long result = 1;
  for (int i = 0; i < exponent; ++i) result *= base;
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  mproc::mpi::pool pool(argc, argv, mproc::mpi::pool_options{.progress = [](std::size_t done, std::size_t total) {
    if (total >= 20 && done % 5 == 0) std::cout << fmt::format("progress {}/{}", done, total) << std::endl;
  }});
  std::cout << "rank 0 on " << boost::asio::ip::host_name() << " runs the program; " << pool.processes()
            << " ranks serve its tasks" << std::endl;

  std::cout << "map(square_where, range(6)), chunksize 1:" << std::endl;
  std::vector<int> six(6);
  std::iota(six.begin(), six.end(), 0);
  for (const auto& line : pool.map(square_where, six, 1)) std::cout << "  " << line << std::endl;

  const std::vector<std::tuple<long, int>> pairs{{2, 8}, {3, 4}, {10, 3}};
  const auto powers = pool.starmap(power, pairs);
  std::cout << fmt::format("starmap(pow, [(2, 8), (3, 4), (10, 3)]) : [{}, {}, {}]", powers[0], powers[1], powers[2])
            << std::endl;

  auto later = pool.apply_async(function_square, 13);
  later.then([](int result) { std::cout << "apply_async callback got " << result << std::endl; });
  later.wait();

  std::vector<int> inputs(20);
  std::iota(inputs.begin(), inputs.end(), 0);
  long total = 0;
  for (int square : pool.imap_unordered(function_square, inputs)) total += square;
  std::cout << "imap_unordered(square, range(20)): sum " << total << std::endl;
}
