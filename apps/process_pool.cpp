// The process pool: the classic Pool(4).map(function_square, range(100)), then
// starmap, apply, apply_async with a callback, imap_unordered driving a
// progress bar, one long task moving a bar from inside (report_progress), and a
// task that kills its own worker: that one task is reported lost, at once, and
// every other task completes.
#include <mproc/mproc.hpp>

#include "common/os_process.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <mutex>
#include <numeric>
#include <sstream>
#include <thread>
#include <tuple>
#include <vector>

int function_square(int data) { return data * data; }

long power(long base, long exponent) { return static_cast<long>(std::pow(base, exponent)); }

int slow_square(int data) {
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return data * data;
}

// One long task that says how far it is: the pool's progress callback hears it.
int long_crunch(int steps) {
  for (int step = 1; step <= steps; ++step) {
    std::this_thread::sleep_for(std::chrono::milliseconds(15));
    mproc::report_progress(static_cast<std::size_t>(step), static_cast<std::size_t>(steps));
  }
  return steps;
}

int square_unless_five(int data) {
  if (data == 5) kill_this_process();  // the worker dies in the middle of this task
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return data * data;
}

template <class T>
std::string listed(const std::vector<T>& values) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < values.size(); ++i) out << (i ? ", " : "") << values[i];
  out << ']';
  return out.str();
}

// The pool calls it for every job; only the long ones get a bar. Drawn with
// {fmt} (which mproc has through spdlog): Debian 12 packages no C++
// progress-bar library (indicators, for one, is only in vcpkg), and a bar is
// one line redrawn after a carriage return.
void draw_progress(std::size_t done, std::size_t total) {
  if (total < 50) return;
  static std::mutex drawing;
  std::scoped_lock hold(drawing);
  constexpr std::size_t width = 40;
  const std::size_t filled = done * width / total;
  std::cout << fmt::format("\rprogress [{:#<{}}{:.<{}}] {}/{}", "", filled, "", width - filled, done, total)
            << (done == total ? "\n" : "") << std::flush;
}

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  std::vector<int> inputs(100);
  std::iota(inputs.begin(), inputs.end(), 0);

  {
    mproc::pool pool(4);
    const std::vector<int> pool_outputs = pool.map(function_square, inputs);
    pool.close();
    pool.join();
    std::cout << "Pool    : " << listed(pool_outputs) << std::endl;
  }

  mproc::pool pool(mproc::pool_options{.processes = 4, .progress = draw_progress});
  const std::vector<std::tuple<long, long>> pairs{{2, 8}, {3, 4}, {10, 3}};
  std::cout << "starmap(pow, [(2, 8), (3, 4), (10, 3)]) : " << listed(pool.starmap(power, pairs)) << std::endl;
  std::cout << "apply(function_square, 12) : " << pool.apply(function_square, 12) << std::endl;
  auto later = pool.apply_async(function_square, 13);
  later.then([](int result) { std::cout << "apply_async callback got " << result << std::endl; });
  later.wait();

  std::cout << "imap_unordered(slow_square, range(100)), as results arrive:" << std::endl;
  long total = 0;
  for (int square : pool.imap_unordered(slow_square, inputs)) total += square;
  std::cout << "sum of the squares: " << total << std::endl;

  std::cout << "apply(long_crunch, 60): one task moves the bar as it goes:" << std::endl;
  const int crunched = pool.apply(long_crunch, 60);
  std::cout << "long_crunch returned " << crunched << std::endl;

  std::cout << "ten tasks, one of which kills its own worker:" << std::endl;
  std::vector<mproc::async_result<int>> results;
  for (int i = 0; i < 10; ++i) results.push_back(pool.apply_async(square_unless_five, i));
  int completed = 0;
  for (int i = 0; i < 10; ++i) {
    try {
      const int square = results[i].get();
      std::cout << "  task " << i << ": " << square << std::endl;
      ++completed;
    } catch (const mproc::worker_lost_error& e) {
      std::cout << "  task " << i << ": lost: " << e.what() << std::endl;
    }
  }
  std::cout << completed << " of 10 tasks completed; the pool still has " << pool.worker_pids().size()
            << " workers" << std::endl;
}
