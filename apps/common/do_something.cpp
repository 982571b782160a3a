#include "common/do_something.hpp"

#include <random>

void do_something(int count, mproc::shared_list<double> out_list) {
  std::mt19937_64 generator(std::random_device{}());
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  for (int i = 0; i < count; ++i) {
    double x = uniform(generator);
    for (int step = 0; step < 200000; ++step) x = x * 0.999999 + 0.000001;  // the work
    out_list.append(x);
  }
}
