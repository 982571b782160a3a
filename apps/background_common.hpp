// The target of both background examples: the process named
// background_process counts 0..19 slowly, any other counts 5..9 quickly.
#pragma once

#include <mproc/mproc.hpp>

#include <chrono>
#include <iostream>
#include <thread>

inline void foo() {
  const std::string name = mproc::current_process().name;
  std::cout << "Starting " << name << std::endl;
  const bool background = name == "background_process";
  const int first = background ? 0 : 5;
  const int last = background ? 20 : 10;
  for (int i = first; i < last; ++i) {
    std::cout << name << " ---> " << i << std::endl;
    std::this_thread::sleep_for(std::chrono::milliseconds(background ? 200 : 100));
  }
  std::cout << "Exiting " << name << std::endl;
}
