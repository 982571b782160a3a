// An async_* call whose first argument is neither an executor nor an
// io_context: mproc's sentence.
#include <mproc/process.hpp>
int main() {
  mproc::process p;
  p.async_join(42, [](std::exception_ptr, int) {});
}
