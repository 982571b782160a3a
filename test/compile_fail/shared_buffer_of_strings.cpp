// A shared buffer of a type whose bytes cannot be shared as they are: mproc's sentence.
#include <mproc/shared_buffer.hpp>
#include <string>
int main() {
  mproc::shared_buffer<std::string> names(4);
  return static_cast<int>(names.size());
}
