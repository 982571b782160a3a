#include "common/my_func.hpp"

#include <iostream>

void my_func(int i) {
  std::cout << "calling my_func from process n°: " << i << std::endl;
  for (int j = 0; j < i; ++j) std::cout << "output from my_func is: " << j << std::endl;
}
