// Shared state: two processes run a CPU-bound do_something(1000, out_list),
// each appending to a list in shared memory, then the main program prints both
// lengths and the time. Then four processes add to one shared counter under its
// lock, and it ends at exactly 4 x N.
#include "common/do_something.hpp"

#include <mproc/mproc.hpp>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <mutex>

constexpr int increments = 25000;

void add_to(mproc::value<int> counter) {
  for (int i = 0; i < increments; ++i) {
    std::scoped_lock hold(counter.get_lock());
    counter.ref() += 1;
  }
}

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  const auto begin = std::chrono::steady_clock::now();
  mproc::shared_list<double> out_list1;
  mproc::shared_list<double> out_list2;
  mproc::process process_with_name(mproc::process_options{.name = "do_something process 1"}, do_something, 1000,
                                   out_list1);
  mproc::process process_with_default_name(do_something, 1000, out_list2);
  process_with_name.start();
  process_with_default_name.start();
  process_with_name.join();
  process_with_default_name.join();
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - begin;
  std::cout << "Process 1 (" << process_with_name.name() << ") output list length: " << out_list1.size() << std::endl;
  std::cout << "Process 2 (" << process_with_default_name.name() << ") output list length: " << out_list2.size()
            << std::endl;
  std::cout << "Total execution time: " << std::fixed << std::setprecision(2) << took.count() << " seconds"
            << std::endl;

  mproc::value<int> counter;
  std::vector<mproc::process> adders;
  for (int i = 0; i < 4; ++i) adders.emplace_back(add_to, counter);
  for (auto& p : adders) p.start();
  for (auto& p : adders) p.join();
  std::cout << "counter after 4 processes x " << increments << " locked increments: " << counter.get()
            << " (expected " << 4 * increments << ")" << std::endl;
}
