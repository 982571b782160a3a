// Spawning processes whose target lives in another translation unit
// (apps/common/my_func.cpp): all six start at once, then the main program joins
// them, so their lines may interleave.
#include "common/my_func.hpp"

#include <mproc/mproc.hpp>

#include <iostream>
#include <vector>

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  std::vector<mproc::process> processes;
  for (int i = 0; i < 6; ++i) processes.emplace_back(my_func, i);
  for (auto& process : processes) process.start();
  for (auto& process : processes) process.join();
  std::cout << "all " << processes.size() << " processes joined" << std::endl;
}
