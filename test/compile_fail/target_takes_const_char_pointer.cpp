// A string literal travels as std::string: a target taking const char* is refused.
#include <mproc/process.hpp>
void greet(const char*) {}
int main() {
  mproc::process p(greet, "world");
  p.start();
}
